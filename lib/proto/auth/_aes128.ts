// AES-128 encryption (FIPS 197) and AES-CMAC (RFC 4493) in plain TypeScript, for the pure Crypto
// implementation. Table-driven (the S-box folded into four 256-word round tables); the tables are
// derived at load time from the field arithmetic rather than written out.
//
// Table lookups indexed by secret bytes can leak through cache timing to a local attacker; the
// daemon uses node:crypto (AES-NI) instead, this one serves the simulator and tests.

import { cmacDouble } from "../crypto.ts";

/** Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
}

/** The S-box and the four encryption round tables. */
const SBOX = new Uint8Array(256);
const TE0 = new Int32Array(256);
const TE1 = new Int32Array(256);
const TE2 = new Int32Array(256);
const TE3 = new Int32Array(256);

(function buildTables(): void {
  // Walk the multiplicative group with generator 3: p runs through 3^i, q through 3^-i, so q is
  // p's inverse at every step.
  let p = 1, q = 1;
  do {
    p = p ^ xtime(p); // p · 3
    q ^= q << 1; // q / 3: multiply by the inverse of 3 (0xf6), done as three shifts
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    // Affine transform of the inverse.
    const r = (x: number, n: number) => ((x << n) | (x >>> (8 - n))) & 0xff;
    SBOX[p] = q ^ r(q, 1) ^ r(q, 2) ^ r(q, 3) ^ r(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let x = 0; x < 256; x++) {
    const s = SBOX[x]!;
    const s2 = xtime(s);
    const s3 = s2 ^ s;
    // One column of MixColumns applied to (s, 0, 0, 0): (2s, s, s, 3s), big-endian.
    const t = (s2 << 24) | (s << 16) | (s << 8) | s3;
    TE0[x] = t;
    TE1[x] = (t >>> 8) | (t << 24);
    TE2[x] = (t >>> 16) | (t << 16);
    TE3[x] = (t >>> 24) | (t << 8);
  }
})();

/** The AES-128 S-box (exported for tests). */
export const AES_SBOX: Readonly<Uint8Array> = SBOX;

/** AES-128 with an expanded key: encrypts 16-byte blocks in place or to another buffer. */
export class Aes128 {
  readonly #rk = new Int32Array(44);

  /** Expands a 16-byte key (FIPS 197 §5.2). */
  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError(`AES-128 needs a 16-byte key, not ${key.length}`);
    const rk = this.#rk;
    for (let i = 0; i < 4; i++) {
      rk[i] = (key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) |
        key[4 * i + 3]!;
    }
    let rcon = 1;
    for (let i = 4; i < 44; i++) {
      let t = rk[i - 1]!;
      if (i % 4 === 0) {
        // RotWord then SubWord, then the round constant in the top byte.
        t = (SBOX[(t >>> 16) & 0xff]! << 24) | (SBOX[(t >>> 8) & 0xff]! << 16) |
          (SBOX[t & 0xff]! << 8) | SBOX[t >>> 24]!;
        t ^= rcon << 24;
        rcon = xtime(rcon);
      }
      rk[i] = rk[i - 4]! ^ t;
    }
  }

  /** Encrypts the block `input[inAt, inAt+16)` into `out[outAt, outAt+16)` (may be the same). */
  encryptBlock(input: Uint8Array, inAt: number, out: Uint8Array, outAt: number): void {
    // Straight-line code with no closures: a function object per call would allocate per packet.
    const rk = this.#rk;
    const i = inAt;
    let s0 = ((input[i]! << 24) | (input[i + 1]! << 16) | (input[i + 2]! << 8) | input[i + 3]!) ^
      rk[0]!;
    let s1 = ((input[i + 4]! << 24) | (input[i + 5]! << 16) | (input[i + 6]! << 8) |
      input[i + 7]!) ^ rk[1]!;
    let s2 = ((input[i + 8]! << 24) | (input[i + 9]! << 16) | (input[i + 10]! << 8) |
      input[i + 11]!) ^ rk[2]!;
    let s3 = ((input[i + 12]! << 24) | (input[i + 13]! << 16) | (input[i + 14]! << 8) |
      input[i + 15]!) ^ rk[3]!;
    let r = 4;
    for (let round = 1; round < 10; round++, r += 4) {
      const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^
        TE3[s3 & 0xff]! ^ rk[r]!;
      const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^
        TE3[s0 & 0xff]! ^ rk[r + 1]!;
      const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^
        TE3[s1 & 0xff]! ^ rk[r + 2]!;
      const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^
        TE3[s2 & 0xff]! ^ rk[r + 3]!;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
    }
    // Last round: SubBytes and ShiftRows, no MixColumns.
    const o0 = ((SBOX[s0 >>> 24]! << 24) | (SBOX[(s1 >>> 16) & 0xff]! << 16) |
      (SBOX[(s2 >>> 8) & 0xff]! << 8) | SBOX[s3 & 0xff]!) ^ rk[40]!;
    const o1 = ((SBOX[s1 >>> 24]! << 24) | (SBOX[(s2 >>> 16) & 0xff]! << 16) |
      (SBOX[(s3 >>> 8) & 0xff]! << 8) | SBOX[s0 & 0xff]!) ^ rk[41]!;
    const o2 = ((SBOX[s2 >>> 24]! << 24) | (SBOX[(s3 >>> 16) & 0xff]! << 16) |
      (SBOX[(s0 >>> 8) & 0xff]! << 8) | SBOX[s1 & 0xff]!) ^ rk[42]!;
    const o3 = ((SBOX[s3 >>> 24]! << 24) | (SBOX[(s0 >>> 16) & 0xff]! << 16) |
      (SBOX[(s1 >>> 8) & 0xff]! << 8) | SBOX[s2 & 0xff]!) ^ rk[43]!;
    const o = outAt;
    out[o] = o0 >>> 24;
    out[o + 1] = (o0 >>> 16) & 0xff;
    out[o + 2] = (o0 >>> 8) & 0xff;
    out[o + 3] = o0 & 0xff;
    out[o + 4] = o1 >>> 24;
    out[o + 5] = (o1 >>> 16) & 0xff;
    out[o + 6] = (o1 >>> 8) & 0xff;
    out[o + 7] = o1 & 0xff;
    out[o + 8] = o2 >>> 24;
    out[o + 9] = (o2 >>> 16) & 0xff;
    out[o + 10] = (o2 >>> 8) & 0xff;
    out[o + 11] = o2 & 0xff;
    out[o + 12] = o3 >>> 24;
    out[o + 13] = (o3 >>> 16) & 0xff;
    out[o + 14] = (o3 >>> 8) & 0xff;
    out[o + 15] = o3 & 0xff;
  }
}

/** RFC 4493 §2.3's subkey doubling, re-exported for this folder's tests. */
export { cmacDouble };

/** AES-CMAC (RFC 4493) with one key; computing a tag allocates nothing. */
export class AesCmac {
  readonly #aes: Aes128;
  readonly #k1 = new Uint8Array(16);
  readonly #k2 = new Uint8Array(16);
  readonly #x = new Uint8Array(16);

  /** Prepares `key` (16 bytes): the cipher and the two subkeys. */
  constructor(key: Uint8Array) {
    this.#aes = new Aes128(key);
    const l = new Uint8Array(16);
    this.#aes.encryptBlock(l, 0, l, 0);
    cmacDouble(l, this.#k1);
    cmacDouble(this.#k1, this.#k2);
  }

  /** Writes the first `length` bytes (≤ 16) of CMAC(key, data[start, end)) to `out` at `outAt`. */
  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outAt: number,
    length = 16,
  ): void {
    const x = this.#x;
    x.fill(0);
    const len = end - start;
    // Every block but the last goes through CBC as it is; the last is completed (K1) or padded
    // with 10* (K2), which also covers the empty message.
    const full = len > 0 && len % 16 === 0;
    const lastAt = start + (len === 0 ? 0 : full ? len - 16 : len - (len % 16));
    for (let at = start; at < lastAt; at += 16) {
      for (let k = 0; k < 16; k++) x[k] = x[k]! ^ data[at + k]!;
      this.#aes.encryptBlock(x, 0, x, 0);
    }
    const sub = full ? this.#k1 : this.#k2;
    const rest = end - lastAt;
    for (let k = 0; k < 16; k++) {
      const m = k < rest ? data[lastAt + k]! : k === rest ? 0x80 : 0;
      x[k] = x[k]! ^ m ^ sub[k]!;
    }
    this.#aes.encryptBlock(x, 0, x, 0);
    for (let k = 0; k < length; k++) out[outAt + k] = x[k]!;
  }
}
