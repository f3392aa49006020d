// MD5 (RFC 1321) in plain TypeScript, for the pure Crypto implementation (simulator, tests). MD5
// is broken for collisions; NTP keeps it as a key-prefix MAC (RFC 8573 deprecates it).

import { BlockHash } from "./_block_hash.ts";

/** Additive constants, RFC 1321 §3.4: the integer part of 2^32 · |sin(i + 1)|. */
const T = Int32Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32),
);

/** Left-rotation amounts: four per round, round r uses S[4r .. 4r+3] in turn. */
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** A streaming MD5. */
export class Md5 extends BlockHash {
  readonly #h = new Int32Array(4);
  readonly #x = new Int32Array(16);

  constructor() {
    super(16, true);
    this.reset();
  }

  protected override initState(): void {
    const h = this.#h;
    h[0] = 0x67452301;
    h[1] = 0xefcdab89;
    h[2] = 0x98badcfe;
    h[3] = 0x10325476;
  }

  protected override writeState(out: Uint8Array, offset: number, length: number): void {
    const h = this.#h;
    for (let k = 0; k < length; k++) out[offset + k] = (h[k >> 2]! >>> (8 * (k & 3))) & 0xff;
  }

  protected override compress(data: Uint8Array, at: number): void {
    const x = this.#x;
    for (let k = 0; k < 16; k++) {
      const p = at + 4 * k;
      x[k] = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24);
    }
    const h = this.#h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!;
    // The four rounds differ in their function and message order; one loop each keeps the
    // round's choice out of the inner loop.
    for (let i = 0; i < 16; i++) {
      const t = (a + ((b & c) | (~b & d)) + T[i]! + x[i]!) | 0;
      const s = S[i & 3]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    for (let i = 16; i < 32; i++) {
      const t = (a + ((d & b) | (~d & c)) + T[i]! + x[(5 * i + 1) & 15]!) | 0;
      const s = S[4 + (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    for (let i = 32; i < 48; i++) {
      const t = (a + (b ^ c ^ d) + T[i]! + x[(3 * i + 5) & 15]!) | 0;
      const s = S[8 + (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    for (let i = 48; i < 64; i++) {
      const t = (a + (c ^ (b | ~d)) + T[i]! + x[(7 * i) & 15]!) | 0;
      const s = S[12 + (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
  }
}
