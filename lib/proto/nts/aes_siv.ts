// AES-SIV (RFC 5297) on two injected primitives, AES-128-CMAC under K1 and AES-128-CTR under K2,
// so the same construction runs on node:crypto in the daemon and on the plain TypeScript AES in
// the simulator and tests. AEAD_AES_SIV_CMAC_256 (RFC 5297 §6.1, the AEAD NTS requires: RFC 8915
// §5.1) takes a 32-byte key split into K1 ‖ K2 and passes the associated data and the nonce as the
// two S2V header components, in that order, before the plaintext. SivContext is the re-keyable,
// offset-based form the NTS server uses (new C2S and S2C keys per request, nothing allocated): the
// daemon's comes from libcrypto (ffi/libcrypto_siv.ts), any other Crypto gets one over AesSiv.

import {
  type AeadAlgorithm,
  type AeadContext,
  cmacDouble,
  constantTimeEqual,
  type Crypto,
} from "../crypto.ts";
import type { MacContext } from "../crypto.ts";

/** Length of the synthetic IV (the tag), which SIV puts in front of the ciphertext. */
export const SIV_TAG_LEN = 16;
/** Key length of AEAD_AES_SIV_CMAC_256: K1 (CMAC) ‖ K2 (CTR), 16 bytes each. */
export const AES_SIV_CMAC_256_KEY_LEN = 32;

/**
 * AES-128 in counter mode with a 128-bit big-endian counter starting at `iv`: writes
 * `input[start, end)` XOR keystream to `out` at `outOffset` (may be the same bytes).
 */
export type AesCtr = (
  iv: Uint8Array,
  input: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  outOffset: number,
) => void;

/** XORs `b[bAt, bAt+16)` into `a[aAt, aAt+16)`. */
function xor16(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): void {
  for (let k = 0; k < 16; k++) a[aAt + k] = a[aAt + k]! ^ b[bAt + k]!;
}

/**
 * AES-SIV with 128-bit AES (AEAD_AES_SIV_CMAC_256 when used through {@link seal}/{@link open}).
 * Keys are prepared once by the caller; this class only holds scratch buffers, so one instance
 * must not be used by two callers at once (the core is single-threaded).
 *
 * @example
 * ```ts
 * const aead = new PureCrypto().aeadContext("AEAD_AES_SIV_CMAC_256", key32)!;
 * const sealed = aead.seal(nonce, plaintext, associatedData); // tag ‖ ciphertext
 * ```
 */
export class AesSiv implements AeadContext {
  readonly algorithm: AeadAlgorithm = "AEAD_AES_SIV_CMAC_256";
  readonly #cmac: MacContext;
  readonly #ctr: AesCtr;
  // One backing buffer for the five blocks: an NTS server prepares two keys per request, so
  // preparing one should allocate little.
  readonly #blocks = new Uint8Array(96);
  /** CMAC(K1, 0^128), the S2V starting value, computed once. */
  readonly #d0 = this.#blocks.subarray(0, 16);
  readonly #d = this.#blocks.subarray(16, 32);
  readonly #t = this.#blocks.subarray(32, 48);
  readonly #v = this.#blocks.subarray(48, 64);
  readonly #q = this.#blocks.subarray(64, 80);
  /** Plaintexts of 16 bytes or more, with D folded into their end (grown on demand). */
  #scratch: Uint8Array | null = null;

  /** `cmac` is AES-128-CMAC under K1, `ctr` AES-128-CTR under K2. */
  constructor(cmac: MacContext, ctr: AesCtr) {
    this.#cmac = cmac;
    this.#ctr = ctr;
    const zero = this.#blocks.subarray(80, 96);
    cmac.compute(zero, 0, 16, this.#d0, 0, 16);
  }

  /** S2V (RFC 5297 §2.4) of the header components and the plaintext `p[start, end)`, to #v. */
  #s2v(headers: readonly Uint8Array[], p: Uint8Array, start: number, end: number): void {
    const d = this.#d, t = this.#t;
    d.set(this.#d0);
    for (const h of headers) {
      cmacDouble(d, t);
      this.#cmac.compute(h, 0, h.length, d, 0, 16);
      xor16(d, 0, t, 0);
    }
    const n = end - start;
    if (n >= 16) {
      if (this.#scratch === null || this.#scratch.length < n) {
        this.#scratch = new Uint8Array(Math.max(256, 2 * n));
      }
      const s = this.#scratch;
      s.set(p.subarray(start, end));
      xor16(s, n - 16, d, 0);
      this.#cmac.compute(s, 0, n, this.#v, 0, 16);
    } else {
      cmacDouble(d, t);
      for (let k = 0; k < n; k++) t[k] = t[k]! ^ p[start + k]!;
      t[n] = t[n]! ^ 0x80;
      this.#cmac.compute(t, 0, 16, this.#v, 0, 16);
    }
  }

  /** The counter block from the IV: bits 63 and 31 cleared (RFC 5297 §2.6). */
  #counter(v: Uint8Array, at: number): Uint8Array {
    const q = this.#q;
    for (let k = 0; k < 16; k++) q[k] = v[at + k]!;
    q[8] = q[8]! & 0x7f;
    q[12] = q[12]! & 0x7f;
    return q;
  }

  /** SIV-encrypts with any list of header components: returns V ‖ C (RFC 5297 §2.6). */
  sealWithHeaders(headers: readonly Uint8Array[], plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(SIV_TAG_LEN + plaintext.length);
    this.sealInto(headers, plaintext, 0, plaintext.length, out, 0);
    return out;
  }

  /**
   * SIV-encrypts `p[start, end)` and writes V ‖ C (16 + end − start bytes) to `out` at
   * `outOffset`; `out` must not overlap the plaintext.
   */
  sealInto(
    headers: readonly Uint8Array[],
    p: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
  ): void {
    this.#s2v(headers, p, start, end);
    out.set(this.#v, outOffset);
    this.#ctr(this.#counter(this.#v, 0), p, start, end, out, outOffset + SIV_TAG_LEN);
  }

  /** SIV-decrypts V ‖ C with any list of header components; null when V does not verify. */
  openWithHeaders(headers: readonly Uint8Array[], sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < SIV_TAG_LEN) return null;
    const p = new Uint8Array(sealed.length - SIV_TAG_LEN);
    this.#ctr(this.#counter(sealed, 0), sealed, SIV_TAG_LEN, sealed.length, p, 0);
    this.#s2v(headers, p, 0, p.length);
    if (!constantTimeEqual(this.#v, 0, sealed, 0, SIV_TAG_LEN)) {
      p.fill(0);
      return null;
    }
    return p;
  }

  /** AEAD encryption (RFC 5116): S2V over (associated data, nonce, plaintext); tag ‖ ciphertext. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
    return this.sealWithHeaders([associatedData, nonce], plaintext);
  }

  /** AEAD decryption: the plaintext, or null when the tag does not verify. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, associatedData: Uint8Array): Uint8Array | null {
    return this.openWithHeaders([associatedData, nonce], ciphertext);
  }
}

/**
 * Increments a 16-byte big-endian counter in place (mod 2^128), for CTR implementations that
 * build their own counter blocks.
 */
export function incrementCounter128(block: Uint8Array, at: number): void {
  for (let k = at + 15; k >= at; k--) {
    const v = (block[k]! + 1) & 0xff;
    block[k] = v;
    if (v !== 0) return;
  }
}

/**
 * Writes the CTR counter blocks for `padded` bytes (a multiple of 16) to `blocks`: the 16-byte
 * `iv`, then each block one more than the one before it.
 */
export function fillCounterBlocks(iv: Uint8Array, blocks: Uint8Array, padded: number): void {
  for (let k = 0; k < 16; k++) blocks[k] = iv[k]!;
  for (let at = 16; at < padded; at += 16) {
    blocks.copyWithin(at, at - 16, at);
    incrementCounter128(blocks, at);
  }
}

/**
 * AEAD_AES_SIV_CMAC_256 whose key can be replaced, working on the caller's buffers at offsets:
 * what an NTS server needs, with new C2S and S2C keys for every request and nothing to allocate
 * per request. The associated data and the nonce are S2V's two header components, in that order.
 * One context serves one caller at a time.
 */
export interface SivContext {
  /** Loads the 32-byte key at `key[at, at+32)` (K1 ‖ K2). */
  setKey(key: Uint8Array, at: number): void;
  /**
   * Seals `p[pStart, pEnd)` with the associated data `ad[adStart, adEnd)` and the nonce
   * `nonce[nStart, nEnd)`; writes V ‖ C (16 + pEnd − pStart bytes) to `out` at `outAt`, which must
   * not overlap the inputs. False when there is no key or the cipher failed.
   */
  seal(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    p: Uint8Array,
    pStart: number,
    pEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean;
  /**
   * Opens V ‖ C at `c[cStart, cEnd)`: writes the plaintext (cEnd − cStart − 16 bytes) to `out`
   * at `outAt` (not overlapping the inputs) and returns true when V verifies; false otherwise,
   * with the plaintext bytes zeroed.
   */
  open(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    c: Uint8Array,
    cStart: number,
    cEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean;
  /**
   * Optional (the libcrypto context has it): takes the first `count` 16-byte blocks of
   * `random` as the next nonces {@link drawNonce} hands out, with their CMACs under this key
   * worked out ahead in one call; a seal() with such a nonce skips that step. False when it
   * cannot (no key, or the cipher failed).
   */
  prepareNonces?(random: Uint8Array, count: number): boolean;
  /** Optional: writes the next prepared nonce (16 bytes) at `out[at]`; false when none is left. */
  drawNonce?(out: Uint8Array, at: number): boolean;
}

/** A {@link Crypto} that also offers {@link SivContext}s (the daemon's libcrypto one does). */
export interface SivProvider {
  /** A new context without a key. */
  sivContext(): SivContext;
}

/** A {@link SivContext} on any {@link Crypto}'s aeadContext(): it allocates, but works everywhere. */
class AeadSivContext implements SivContext {
  readonly #crypto: Crypto;
  #aead: AeadContext | null = null;

  constructor(crypto: Crypto) {
    this.#crypto = crypto;
  }

  setKey(key: Uint8Array, at: number): void {
    this.#aead = this.#crypto.aeadContext(
      "AEAD_AES_SIV_CMAC_256",
      key.slice(at, at + AES_SIV_CMAC_256_KEY_LEN),
    );
  }

  seal(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    p: Uint8Array,
    pStart: number,
    pEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    if (this.#aead === null) return false;
    const sealed = this.#aead.seal(
      nonce.subarray(nStart, nEnd),
      p.subarray(pStart, pEnd),
      ad.subarray(adStart, adEnd),
    );
    out.set(sealed, outAt);
    return true;
  }

  open(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    c: Uint8Array,
    cStart: number,
    cEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    const n = cEnd - cStart - SIV_TAG_LEN;
    if (n < 0) return false;
    const p = this.#aead?.open(
      nonce.subarray(nStart, nEnd),
      c.subarray(cStart, cEnd),
      ad.subarray(adStart, adEnd),
    ) ?? null;
    if (p === null) {
      out.fill(0, outAt, outAt + n);
      return false;
    }
    out.set(p, outAt);
    return true;
  }
}

/**
 * A new {@link SivContext} from `crypto`: its own when it is a {@link SivProvider} (libcrypto in
 * the daemon), otherwise one over its aeadContext().
 */
export function sivContextOf(crypto: Crypto): SivContext {
  const provider = crypto as Crypto & Partial<SivProvider>;
  return typeof provider.sivContext === "function"
    ? provider.sivContext()
    : new AeadSivContext(crypto);
}
