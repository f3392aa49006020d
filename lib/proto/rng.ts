// Injected randomness for the protocol core: an Rng interface and a seeded xoshiro128** generator,
// so the daemon (seeded from the OS: lib/daemon/crypto_rng.ts) and the simulator (seeded by
// --seed) run the same code.

/** A source of uniform random numbers. */
export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  nextU32(): number;
  /** A uniform float in [0, 1). */
  nextFloat(): number;
}

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32: fast, 2^128 − 1 period. */
export class SeededRng implements Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** Creates a generator from any 32-bit seed; equal seeds give equal streams. */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    this.#s2 = (this.#s2 ^ this.#s0) >>> 0;
    this.#s3 = (this.#s3 ^ this.#s1) >>> 0;
    this.#s1 = (this.#s1 ^ this.#s2) >>> 0;
    this.#s0 = (this.#s0 ^ this.#s3) >>> 0;
    this.#s2 = (this.#s2 ^ t) >>> 0;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return float53(this);
  }
}

/** A standard normal deviate (Box–Muller, one value per call). */
export function normal(rng: Rng): number {
  let u = rng.nextFloat();
  while (u <= 0) u = rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** An exponential deviate with mean 1. */
export function exponential(rng: Rng): number {
  let u = rng.nextFloat();
  while (u <= 0) u = rng.nextFloat();
  return -Math.log(u);
}

/**
 * A uniform float in [0, 1) with 53 random bits from two 32-bit draws (27 from the first, 26
 * from the second), for any Rng.
 */
export function float53(rng: Rng): number {
  const hi = rng.nextU32() >>> 5;
  const lo = rng.nextU32() >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
