// SHA-1 (FIPS 180-4 §6.1) in plain TypeScript, for the pure Crypto implementation. Collisions are
// practical, but NTP's key-prefix MAC needs second-preimage resistance, which SHA-1 still has.

import { BlockHash, readBe32, writeBeWords } from "./_block_hash.ts";

/** A streaming SHA-1. */
export class Sha1 extends BlockHash {
  readonly #h = new Int32Array(5);
  readonly #w = new Int32Array(80);

  constructor() {
    super(20, false);
    this.reset();
  }

  protected override initState(): void {
    const h = this.#h;
    h[0] = 0x67452301;
    h[1] = 0xefcdab89;
    h[2] = 0x98badcfe;
    h[3] = 0x10325476;
    h[4] = 0xc3d2e1f0;
  }

  protected override writeState(out: Uint8Array, offset: number, length: number): void {
    writeBeWords(this.#h, out, offset, length);
  }

  protected override compress(data: Uint8Array, at: number): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) w[t] = readBe32(data, at + 4 * t);
    for (let t = 16; t < 80; t++) {
      const v = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (v << 1) | (v >>> 31);
    }
    const h = this.#h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!;
    // One loop per group of 20 steps: each has its own function and constant.
    for (let t = 0; t < 20; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (let t = 20; t < 40; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (let t = 40; t < 60; t++) {
      const f = (b & c) | (b & d) | (c & d);
      const tmp = (((a << 5) | (a >>> 27)) + f + e + (0x8f1bbcdc | 0) + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (let t = 60; t < 80; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
  }
}
