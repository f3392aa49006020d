// The Merkle–Damgård frame shared by MD5, SHA-1 and SHA-256: 64-byte blocks, a pending-bytes
// buffer, and the final padding (0x80, zeros, the message length in bits). Subclasses supply the
// compression function and the byte order. Nothing is allocated after construction.

/** A streaming hash over 64-byte blocks: `reset`, any number of `update`s, then `finish`. */
export abstract class BlockHash {
  /** Bytes of output. */
  readonly outputLength: number;
  readonly #littleEndian: boolean;
  readonly #buf = new Uint8Array(64);
  #bufLen = 0;
  #total = 0;

  protected constructor(outputLength: number, littleEndian: boolean) {
    this.outputLength = outputLength;
    this.#littleEndian = littleEndian;
  }

  /** Sets the chaining state to the algorithm's initial value. */
  protected abstract initState(): void;
  /** Compresses the 64-byte block at `data[at]` into the state. */
  protected abstract compress(data: Uint8Array, at: number): void;
  /** Writes the first `length` bytes of the state (the digest) to `out` at `offset`. */
  protected abstract writeState(out: Uint8Array, offset: number, length: number): void;

  /** Starts a new message. */
  reset(): void {
    this.initState();
    this.#bufLen = 0;
    this.#total = 0;
  }

  /** Adds `data[start, end)` to the message. */
  update(data: Uint8Array, start: number, end: number): void {
    this.#total += end - start;
    let at = start;
    if (this.#bufLen > 0) {
      const buf = this.#buf;
      let n = this.#bufLen;
      // Byte copies rather than set(subarray()): a view per call would allocate per packet.
      while (n < 64 && at < end) buf[n++] = data[at++]!;
      this.#bufLen = n;
      if (n < 64) return;
      this.compress(this.#buf, 0);
      this.#bufLen = 0;
    }
    for (; end - at >= 64; at += 64) this.compress(data, at);
    const buf = this.#buf;
    let n = 0;
    while (at < end) buf[n++] = data[at++]!;
    this.#bufLen = n;
  }

  /**
   * Pads the message and writes the first `length` bytes (default: all) of the digest to `out` at
   * `offset`. Call `reset` before hashing another message.
   */
  finish(out: Uint8Array, offset: number, length: number = this.outputLength): void {
    const buf = this.#buf;
    let n = this.#bufLen;
    buf[n++] = 0x80;
    if (n > 56) {
      buf.fill(0, n, 64);
      this.compress(buf, 0);
      n = 0;
    }
    buf.fill(0, n, 56);
    // The length in bits as 64 bits (messages here stay far below 2^53 bits).
    const bits = this.#total * 8;
    const lo = bits >>> 0;
    const hi = Math.floor(bits / 2 ** 32) >>> 0;
    for (let k = 0; k < 4; k++) {
      if (this.#littleEndian) {
        buf[56 + k] = (lo >>> (8 * k)) & 0xff;
        buf[60 + k] = (hi >>> (8 * k)) & 0xff;
      } else {
        buf[63 - k] = (lo >>> (8 * k)) & 0xff;
        buf[59 - k] = (hi >>> (8 * k)) & 0xff;
      }
    }
    this.compress(buf, 0);
    this.writeState(out, offset, length);
  }
}

/** Reads a big-endian 32-bit word. */
export function readBe32(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

/** Writes the first `length` bytes of big-endian words `h` to `out` at `offset`. */
export function writeBeWords(h: Int32Array, out: Uint8Array, offset: number, length: number): void {
  for (let k = 0; k < length; k++) out[offset + k] = (h[k >> 2]! >>> (24 - 8 * (k & 3))) & 0xff;
}
