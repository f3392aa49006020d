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

import type { AeadContext, Crypto } from "../crypto.ts";
import type { Rng } from "../rng.ts";
import { AES_SIV_CMAC_256_KEY_LEN, SIV_TAG_LEN } from "./aes_siv.ts";
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
  #byId = new Map<number, AeadContext>();
  #currentId = -1;
  #current: AeadContext | null = null;
  readonly #idBytes = new Uint8Array(COOKIE_KEY_ID_LEN);

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
    const byId = new Map<number, AeadContext>();
    for (const k of keys) {
      if (byId.has(k.id)) throw new RangeError(`NTS cookie key id ${k.id} appears twice`);
      const ctx = this.#crypto.aeadContext("AEAD_AES_SIV_CMAC_256", k.key);
      if (ctx === null) throw new RangeError(`${this.#crypto.name} has no AES-SIV-CMAC-256`);
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
    const aead = this.#current;
    if (aead === null) throw new RangeError("no NTS cookie keys are loaded");
    const keyLen = NTS_AEAD_KEY_LEN[aeadId];
    if (keyLen === undefined) throw new RangeError(`AEAD ${aeadId} is not supported in cookies`);
    if (c2s.length !== keyLen || s2c.length !== keyLen) {
      throw new RangeError(`AEAD ${aeadId} keys are ${keyLen} bytes`);
    }
    const plain = new Uint8Array(4 + 2 * keyLen);
    plain[0] = aeadId >>> 8;
    plain[1] = aeadId & 0xff;
    plain.set(c2s, 4);
    plain.set(s2c, 4 + keyLen);
    const out = new Uint8Array(COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN + SIV_TAG_LEN + plain.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.#currentId >>> 0);
    for (let k = 0; k < COOKIE_NONCE_LEN; k += 4) view.setUint32(4 + k, this.#rng.nextU32());
    const nonce = out.subarray(4, 4 + COOKIE_NONCE_LEN);
    out.set(aead.seal(nonce, plain, out.subarray(0, 4)), 4 + COOKIE_NONCE_LEN);
    plain.fill(0);
    return out;
  }

  /** Opens a cookie a client sent: its keys, or why not. Never throws. */
  openCookie(bytes: Uint8Array): OpenCookieResult {
    if (bytes.length < COOKIE_OVERHEAD) return { ok: false, reason: "cookie_length" };
    const keyId = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    const aead = this.#byId.get(keyId);
    if (aead === undefined) return { ok: false, reason: "cookie_key_unknown" };
    const id = this.#idBytes;
    for (let k = 0; k < 4; k++) id[k] = bytes[k]!;
    const plain = aead.open(
      bytes.subarray(4, 4 + COOKIE_NONCE_LEN),
      bytes.subarray(4 + COOKIE_NONCE_LEN),
      id,
    );
    if (plain === null) return { ok: false, reason: "cookie_tag" };
    const aeadId = (plain[0]! << 8) | plain[1]!;
    const keyLen = NTS_AEAD_KEY_LEN[aeadId];
    if (keyLen === undefined) return { ok: false, reason: "cookie_aead" };
    if (plain.length !== 4 + 2 * keyLen || plain[2] !== 0 || plain[3] !== 0) {
      return { ok: false, reason: "cookie_length" };
    }
    return {
      ok: true,
      keyId,
      cookie: {
        aeadId,
        c2s: plain.slice(4, 4 + keyLen),
        s2c: plain.slice(4 + keyLen, 4 + 2 * keyLen),
      },
    };
  }
}

/** The same class under the name the NTS-KE side may know it by. */
export { NtsServerKeys as CookieJar };
