// SHA-256 (FIPS 180-4 §6.2) in plain TypeScript, for the pure Crypto implementation.

import { BlockHash, readBe32, writeBeWords } from "./_block_hash.ts";

/** The first `n` primes. */
function primes(n: number): number[] {
  const out: number[] = [];
  for (let c = 2; out.length < n; c++) {
    if (out.every((p) => c % p !== 0)) out.push(c);
  }
  return out;
}

/** The first 32 bits of the fractional part of `x` (FIPS 180-4 §4.2.2, §5.3.3). */
function frac32(x: number): number {
  return Math.floor((x - Math.floor(x)) * 2 ** 32) | 0;
}

const PRIMES = primes(64);
/** Round constants: fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from(PRIMES, (p) => frac32(Math.cbrt(p)));
/** Initial hash value: fractional parts of the square roots of the first 8 primes. */
const H0 = Int32Array.from(PRIMES.slice(0, 8), (p) => frac32(Math.sqrt(p)));

/** A streaming SHA-256. */
export class Sha256 extends BlockHash {
  readonly #h = new Int32Array(8);
  readonly #w = new Int32Array(64);

  constructor() {
    super(32, false);
    this.reset();
  }

  protected override initState(): void {
    this.#h.set(H0);
  }

  protected override writeState(out: Uint8Array, offset: number, length: number): void {
    writeBeWords(this.#h, out, offset, length);
  }

  protected override compress(data: Uint8Array, at: number): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) w[t] = readBe32(data, at + 4 * t);
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!, y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    const h = this.#h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!;
    let e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + hh) | 0;
  }
}
