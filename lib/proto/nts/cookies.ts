// NTS server cookies (RFC 8915 §6): the server keeps no per-client state; each cookie carries the
// client's AEAD id and its C2S and S2C keys, encrypted and authenticated under a server master
// key. Format (the one §6 suggests): key id (4 bytes, big-endian) ‖ nonce (16) ‖
// AES-SIV-CMAC-256(master key, nonce, plaintext = AEAD id (2) ‖ 0x0000 ‖ C2S ‖ S2C, associated
// data = key id). The two zero bytes make the cookie a multiple of 4 bytes long, so the padding
// of the cookie extension field (which the client sends back whole) is never part of it. Master keys rotate (lib/proto/nts/cookie_keys.ts); every key still on the list opens its
// cookies, so a cookie stays good for as long as its key is kept.
//
// The NTS-KE server calls makeCookie() for the cookies it sends; the NTP server path calls
// openCookie() on each request and makeCookie() for the fresh cookies in the reply.

import type { Crypto } from "../crypto.ts";
import type { Rng } from "../rng.ts";
import { AES_SIV_CMAC_256_KEY_LEN, SIV_TAG_LEN, type SivContext, sivContextOf } from "./aes_siv.ts";
import { AEAD_AES_SIV_CMAC_256 } from "./ke_result.ts";

/** Bytes of a cookie's key id. */
export const COOKIE_KEY_ID_LEN = 4;
/** Bytes of a cookie's nonce. */
export const COOKIE_NONCE_LEN = 16;
/** Bytes in a cookie around the two keys: key id, nonce, SIV tag, AEAD id and two zero bytes. */
export const COOKIE_OVERHEAD = COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN + SIV_TAG_LEN + 4;

/** The key length of each AEAD algorithm the server can put in a cookie (C2S and S2C alike). */
export const NTS_AEAD_KEY_LEN: Readonly<Record<number, number>> = {
  [AEAD_AES_SIV_CMAC_256]: AES_SIV_CMAC_256_KEY_LEN,
};

/** The longest AEAD key any supported algorithm has. */
const MAX_AEAD_KEY_LEN = AES_SIV_CMAC_256_KEY_LEN;

/**
 * Room for any cookie's plaintext {@link NtsServerKeys.openCookieInto} may write: the longest
 * cookie accepted (512 bytes) less its key id, nonce and tag.
 */
export const MAX_COOKIE_PLAINTEXT = 512 - COOKIE_KEY_ID_LEN - COOKIE_NONCE_LEN - SIV_TAG_LEN;

/** Length of a cookie carrying keys for `aeadId` (104 bytes for AES-SIV-CMAC-256). */
export function cookieLength(aeadId: number): number {
  return COOKIE_OVERHEAD + 2 * (NTS_AEAD_KEY_LEN[aeadId] ?? 0);
}

/** One server master key: its 32-bit id (in every cookie made under it) and 32 key bytes. */
export interface NtsMasterKey {
  /** The key id, 0 to 2^32 − 1, unique among the keys kept. */
  readonly id: number;
  /** 32 random bytes (AES-SIV-CMAC-256). */
  readonly key: Uint8Array;
}

/** What a good cookie holds. */
export interface CookieContents {
  /** The AEAD algorithm the client negotiated. */
  readonly aeadId: number;
  /** The client-to-server key. */
  readonly c2s: Uint8Array;
  /** The server-to-client key. */
  readonly s2c: Uint8Array;
}

/** Cookie nonces a master key's context prepares at a time (one cipher call for all). */
const PREPARED_NONCES = 64;

/** Why a cookie could not be opened (each a counted drop, answered with an NTS NAK). */
export type CookieRejectReason =
  | "cookie_length" // too short, or the keys' length does not match the AEAD id inside
  | "cookie_key_unknown" // made under a key that is no longer (or never was) kept
  | "cookie_tag" // does not authenticate under the key it names: forged or damaged
  | "cookie_aead"; // the AEAD id inside is not one this server supports

/** The result of {@link NtsServerKeys.openCookie}. */
export type OpenCookieResult =
  | { ok: true; cookie: CookieContents; keyId: number }
  | { ok: false; reason: CookieRejectReason };

/**
 * The server's master keys and the cookies made and opened under them. Keys come from the cookie
 * key file (lib/daemon/nts_cookie_keys.ts); {@link setKeys} replaces them whenever that file
 * changes (rotation, or another instance sharing it rotated).
 *
 * @example
 * ```ts
 * const jar = new NtsServerKeys(crypto, rng);
 * jar.setKeys([{ id: 20425, key: key32 }], 20425);
 * const cookie = jar.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
 * const opened = jar.openCookie(cookie); // { ok: true, cookie: { aeadId, c2s, s2c }, keyId }
 * ```
 */
export class NtsServerKeys {
  readonly #crypto: Crypto;
  readonly #rng: Rng;
  #byId = new Map<number, SivContext>();
  #currentId = -1;
  #current: SivContext | null = null;
  /** A cookie's plaintext (AEAD id, 0x0000, C2S, S2C) on its way in or out; zeroed after use. */
  readonly #plain = new Uint8Array(new ArrayBuffer(MAX_COOKIE_PLAINTEXT));
  /** #plain as 32-bit words, for the key moves and clears (byte order does not matter). */
  readonly #plain32 = new Int32Array(this.#plain.buffer);
  /** The keys array makeCookieInto() was last given at offset 0 of its buffer, and its words. */
  #keysArray: Uint8Array | null = null;
  #keys32: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** Random bytes for a master key's prepared cookie nonces (zeroed once handed over). */
  readonly #random = new Uint8Array(16 * PREPARED_NONCES);
  /** C2S ‖ S2C for {@link makeCookie}. */
  readonly #keys = new Uint8Array(2 * MAX_AEAD_KEY_LEN);

  /** `rng` draws the cookie nonces (the daemon's comes from the OS CSPRNG). */
  constructor(crypto: Crypto, rng: Rng) {
    this.#crypto = crypto;
    this.#rng = rng;
  }

  /**
   * Replaces the master keys: every key in `keys` opens cookies, and new cookies are made under
   * the one with id `currentId`. Throws a RangeError when that id is not in `keys`, a key is not
   * 32 bytes or an id repeats (the key file loader checks all that first).
   */
  setKeys(keys: readonly NtsMasterKey[], currentId: number): void {
    const byId = new Map<number, SivContext>();
    const probe = new Uint8Array(SIV_TAG_LEN);
    for (const k of keys) {
      if (byId.has(k.id)) throw new RangeError(`NTS cookie key id ${k.id} appears twice`);
      if (k.key.length !== AES_SIV_CMAC_256_KEY_LEN) {
        throw new RangeError(`NTS cookie key ${k.id} is ${k.key.length} bytes, not 32`);
      }
      // One context per master key, keyed once: its key schedule stays loaded.
      const ctx = sivContextOf(this.#crypto);
      ctx.setKey(k.key, 0);
      if (!ctx.seal(probe, 0, 0, probe, 0, 0, probe, 0, 0, probe, 0)) {
        throw new RangeError(`${this.#crypto.name} has no AES-SIV-CMAC-256`);
      }
      byId.set(k.id, ctx);
    }
    const current = byId.get(currentId);
    if (current === undefined) throw new RangeError(`NTS cookie key ${currentId} is not loaded`);
    this.#byId = byId;
    this.#currentId = currentId;
    this.#current = current;
  }

  /** True once keys are loaded: cookies can be made. */
  get ready(): boolean {
    return this.#current !== null;
  }

  /** The id new cookies are made under (-1 before {@link setKeys}). */
  get currentKeyId(): number {
    return this.#currentId;
  }

  /** The ids of the keys that open cookies, in no particular order. */
  get keyIds(): number[] {
    return [...this.#byId.keys()];
  }

  /** True when `aeadId` is an AEAD this server can put in a cookie. */
  static supports(aeadId: number): boolean {
    return NTS_AEAD_KEY_LEN[aeadId] !== undefined;
  }

  /**
   * A fresh cookie carrying `aeadId`, `c2s` and `s2c` under the current master key. Throws a
   * RangeError when no keys are loaded, or the AEAD is unsupported or the keys have the wrong
   * length (the caller negotiated them: that is a bug, not bad input).
   */
  makeCookie(aeadId: number, c2s: Uint8Array, s2c: Uint8Array): Uint8Array {
    if (this.#current === null) throw new RangeError("no NTS cookie keys are loaded");
    const keyLen = NTS_AEAD_KEY_LEN[aeadId];
    if (keyLen === undefined) throw new RangeError(`AEAD ${aeadId} is not supported in cookies`);
    if (c2s.length !== keyLen || s2c.length !== keyLen) {
      throw new RangeError(`AEAD ${aeadId} keys are ${keyLen} bytes`);
    }
    const keys = this.#keys;
    keys.set(c2s, 0);
    keys.set(s2c, keyLen);
    const out = new Uint8Array(cookieLength(aeadId));
    const n = this.makeCookieInto(aeadId, keys, 0, out, 0);
    keys.fill(0);
    if (n === 0) throw new RangeError(`${this.#crypto.name} failed to seal a cookie`);
    return out;
  }

  /**
   * Writes a fresh cookie for `aeadId` (supported) whose C2S ‖ S2C keys are at `keys[keysAt, …)`
   * to `out` at `outAt`, under the current master key; returns its length, or 0 when there are no
   * keys, the AEAD is not supported, `out` is too short or the cipher failed. Allocates nothing.
   */
  makeCookieInto(
    aeadId: number,
    keys: Uint8Array,
    keysAt: number,
    out: Uint8Array,
    outAt: number,
  ): number {
    const aead = this.#current;
    const keyLen = NTS_AEAD_KEY_LEN[aeadId];
    if (aead === null || keyLen === undefined) return 0;
    const length = COOKIE_OVERHEAD + 2 * keyLen;
    if (outAt < 0 || outAt + length > out.length || keysAt + 2 * keyLen > keys.length) return 0;
    const plain = this.#plain;
    plain[0] = aeadId >>> 8;
    plain[1] = aeadId & 0xff;
    plain[2] = 0;
    plain[3] = 0;
    const plain32 = this.#plain32;
    if (((keysAt | keyLen) & 3) === 0 && keys.byteOffset === 0) {
      // The NTS server's key store, 32 bits at a time (its view made once, not per cookie).
      if (keys !== this.#keysArray) {
        this.#keysArray = keys;
        this.#keys32 = new Int32Array(keys.buffer, 0, keys.length >> 2);
      }
      const keys32 = this.#keys32, from = keysAt >> 2;
      for (let k = 0; k < keyLen >> 1; k++) plain32[1 + k] = keys32[from + k]!;
    } else for (let k = 0; k < 2 * keyLen; k++) plain[4 + k] = keys[keysAt + k]!;
    const id = this.#currentId;
    out[outAt] = id >>> 24;
    out[outAt + 1] = (id >>> 16) & 0xff;
    out[outAt + 2] = (id >>> 8) & 0xff;
    out[outAt + 3] = id & 0xff;
    const nonceAt = outAt + COOKIE_KEY_ID_LEN, sealedAt = nonceAt + COOKIE_NONCE_LEN;
    if (aead.drawNonce === undefined || !this.#drawNonce(aead, out, nonceAt)) {
      const rng = this.#rng;
      for (let k = nonceAt; k < sealedAt; k += 4) {
        const r = rng.nextU32();
        out[k] = r >>> 24;
        out[k + 1] = (r >>> 16) & 0xff;
        out[k + 2] = (r >>> 8) & 0xff;
        out[k + 3] = r & 0xff;
      }
    }
    const ok = aead.seal(
      out,
      outAt,
      nonceAt,
      out,
      nonceAt,
      sealedAt,
      plain,
      0,
      4 + 2 * keyLen,
      out,
      sealedAt,
    );
    // Cleared without fill() (a runtime call), 32 bits at a time.
    const used = 4 + 2 * keyLen;
    for (let k = 0; k < used >> 2; k++) plain32[k] = 0;
    for (let k = used & ~3; k < used; k++) plain[k] = 0;
    return ok ? length : 0;
  }

  /**
   * A cookie nonce from the master key's prepared ones (RFC 8915 §5.7 asks only that cookies
   * be unlinkable: the nonce is fresh random bytes either way), refilled
   * {@link PREPARED_NONCES} at a time from the Rng; false when the context cannot prepare.
   */
  #drawNonce(aead: SivContext, out: Uint8Array, at: number): boolean {
    if (aead.drawNonce!(out, at)) return true;
    // The Rng's words in the order and byte order the one-at-a-time path writes them, so a
    // server's cookies are the same whichever crypto it runs (tests compare them byte for byte).
    const random = this.#random, rng = this.#rng;
    for (let k = 0; k < random.length; k += 4) {
      const r = rng.nextU32();
      random[k] = r >>> 24;
      random[k + 1] = (r >>> 16) & 0xff;
      random[k + 2] = (r >>> 8) & 0xff;
      random[k + 3] = r & 0xff;
    }
    const ok = aead.prepareNonces!(random, PREPARED_NONCES) && aead.drawNonce!(out, at);
    random.fill(0);
    return ok;
  }

  /**
   * Opens the cookie at `bytes[start, end)` into `out` (at least {@link MAX_COOKIE_PLAINTEXT}
   * bytes): the AEAD id (2 bytes, big-endian), two zero bytes, then C2S ‖ S2C. Null when it
   * opened, or why not. Never throws; allocates nothing.
   */
  openCookieInto(
    bytes: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
  ): CookieRejectReason | null {
    const n = end - start;
    if (n < COOKIE_OVERHEAD || end > bytes.length || n - 36 > out.length) return "cookie_length";
    const keyId = ((bytes[start]! << 24) | (bytes[start + 1]! << 16) | (bytes[start + 2]! << 8) |
      bytes[start + 3]!) >>> 0;
    const aead = this.#byId.get(keyId);
    if (aead === undefined) return "cookie_key_unknown";
    const nonceAt = start + COOKIE_KEY_ID_LEN, sealedAt = nonceAt + COOKIE_NONCE_LEN;
    if (!aead.open(bytes, start, nonceAt, bytes, nonceAt, sealedAt, bytes, sealedAt, end, out, 0)) {
      return "cookie_tag";
    }
    const plainLength = n - COOKIE_KEY_ID_LEN - COOKIE_NONCE_LEN - SIV_TAG_LEN;
    const aeadId = (out[0]! << 8) | out[1]!;
    const keyLen = NTS_AEAD_KEY_LEN[aeadId];
    let reason: CookieRejectReason | null = null;
    if (keyLen === undefined) reason = "cookie_aead";
    else if (plainLength !== 4 + 2 * keyLen || out[2] !== 0 || out[3] !== 0) {
      reason = "cookie_length";
    }
    if (reason !== null) out.fill(0, 0, plainLength);
    return reason;
  }

  /** Opens a cookie a client sent: its keys, or why not. Never throws. */
  openCookie(bytes: Uint8Array): OpenCookieResult {
    const plain = this.#plain;
    const reason = this.openCookieInto(bytes, 0, bytes.length, plain);
    if (reason !== null) return { ok: false, reason };
    const aeadId = (plain[0]! << 8) | plain[1]!;
    const keyLen = NTS_AEAD_KEY_LEN[aeadId]!;
    const keyId = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    const cookie = {
      aeadId,
      c2s: plain.slice(4, 4 + keyLen),
      s2c: plain.slice(4 + keyLen, 4 + 2 * keyLen),
    };
    plain.fill(0, 0, 4 + 2 * keyLen);
    return { ok: true, keyId, cookie };
  }
}

/** The same class under the name the NTS-KE side may know it by. */
export { NtsServerKeys as CookieJar };
