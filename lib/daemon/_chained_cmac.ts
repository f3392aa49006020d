// AES-128-CMAC (RFC 4493) on one long-lived AES-128-CBC cipher, the part the node:crypto and the
// libcrypto MACs share. CMAC is CBC-MAC over the message whose last block has a subkey XORed in
// (§2.4). Instead of a fresh cipher (and zero IV) per message, the first block of each message is
// XORed with the cipher's chaining value (the last ciphertext block it produced), which cancels
// it: a tag costs one native call and no cipher set-up.

import { cmacDouble } from "../proto/crypto.ts";

/** The length of a message of `length` bytes once CMAC has padded it (a whole number of blocks). */
export function cmacPaddedLength(length: number): number {
  return length > 0 && length % 16 === 0 ? length : length + 16 - (length % 16);
}

/** The subkeys and the cipher's chaining value; the cipher itself belongs to the caller. */
export class ChainedCmac {
  readonly #k1 = new Uint8Array(16);
  readonly #k2 = new Uint8Array(16);
  /** The CBC cipher's chaining value: the last ciphertext block it returned (the IV at first). */
  readonly #chain = new Uint8Array(16);

  /** `l` is AES(K, 0^128); `chain` the cipher's chaining value now (its IV, or its last block). */
  constructor(l: Uint8Array, chain: Uint8Array) {
    cmacDouble(l, this.#k1);
    cmacDouble(this.#k1, this.#k2);
    this.#chain.set(chain);
  }

  /**
   * Writes `data[start, end)` to `input` padded (10*), with its subkey XORed into the last block
   * and the chaining value into the first; returns the padded length, the bytes to encrypt.
   * `input` must hold at least {@link cmacPaddedLength} bytes.
   */
  prepare(data: Uint8Array, start: number, end: number, input: Uint8Array): number {
    const len = end - start;
    const full = len > 0 && len % 16 === 0;
    const padded = cmacPaddedLength(len);
    // Byte by byte: a subarray per call would be the only allocation.
    for (let k = 0; k < len; k++) input[k] = data[start + k]!;
    if (!full) {
      input[len] = 0x80;
      for (let k = len + 1; k < padded; k++) input[k] = 0;
    }
    const sub = full ? this.#k1 : this.#k2;
    const last = padded - 16;
    for (let k = 0; k < 16; k++) input[last + k] = input[last + k]! ^ sub[k]!;
    const chain = this.#chain;
    for (let k = 0; k < 16; k++) input[k] = input[k]! ^ chain[k]!;
    return padded;
  }

  /**
   * Takes the cipher's output for the `padded` bytes `prepare` gave: keeps its last block as the
   * chaining value and writes the first `outLength` bytes of it (the tag) to `out` at `outOffset`.
   */
  finish(
    cipherText: Uint8Array,
    padded: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    const chain = this.#chain;
    for (let k = 0; k < 16; k++) chain[k] = cipherText[padded - 16 + k]!;
    for (let k = 0; k < outLength; k++) out[outOffset + k] = chain[k]!;
  }
}
