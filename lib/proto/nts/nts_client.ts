// The NTP client's side of NTS (RFC 8915 §5.7): the keys and cookies one NTS-KE exchange gave
// an association, requests carrying a fresh unique identifier, one cookie, placeholders to refill
// the cookie supply and an authenticator under the C2S key, and replies checked (unique
// identifier, authenticator under the S2C key) before anything in them is believed. New cookies
// come back encrypted in each reply. When the cookies run out, or the server sends an NTS NAK,
// the association needs NTS-KE again: `needsKe` turns true and the listener is told.

import type { AeadContext, Crypto } from "../crypto.ts";
import type { Rng } from "../rng.ts";
import {
  authenticatorLength,
  EF_COOKIE,
  EF_COOKIE_PLACEHOLDER,
  EF_UNIQUE_ID,
  fieldLength,
  NTS_NONCE_LEN,
  readEncryptedCookies,
  readNtsFields,
  REFID_NTSN,
  UNIQUE_ID_LEN,
  writeAuthenticator,
  writeField,
} from "./extension_fields.ts";
import { AEAD_AES_SIV_CMAC_256, type NtsKeResult } from "./ke_result.ts";

/** Cookies an association tries to hold (RFC 8915 §4.1.6: servers send 8). */
export const NTS_MAX_COOKIES = 8;

/** How a reply was judged by {@link NtsClient.checkReply}. */
export type NtsReplyVerdict =
  | "ok" // authentic: its timestamps may be used, its cookies were stored
  | "nak" // an NTS NAK for the request in flight: the cookies are dropped, NTS-KE is needed
  | "nts_unexpected" // no request in flight (or already answered), or no keys
  | "nts_malformed" // NTS fields missing or broken
  | "nts_unique_id" // the unique identifier is not the request's
  | "nts_bad_auth"; // the authenticator does not verify under the S2C key

/** NTS state for ntpq and the status file. */
export interface NtsClientSnapshot {
  /** Cookies held now. */
  cookies: number;
  /** The negotiated AEAD id (0 before NTS-KE). */
  aeadId: number;
  /** When the last NTS-KE succeeded (Unix seconds; null: never). */
  lastKeUnixSec: number | null;
  /** Successful NTS-KE exchanges. */
  keCount: number;
  /** Failed NTS-KE attempts (reported by the KE client). */
  keFailures: number;
  /** NTS NAKs received. */
  naks: number;
  /** Replies refused: bad authenticator, wrong unique identifier or malformed fields. */
  authFailures: number;
  /** True when NTS-KE must run before the next request can go out. */
  needsKe: boolean;
  /** The NTP server and port the last NTS-KE named ("" before). */
  ntpServer: string;
  ntpPort: number;
}

/**
 * One association's NTS client state.
 *
 * @example
 * ```ts
 * const nts = new NtsClient(crypto, rng);
 * nts.install(keResult, nowUnixSec);
 * const request = nts.protect(header48); // null when there is no cookie: run NTS-KE
 * // ... on the reply:
 * if (nts.checkReply(reply) === "ok") useTimestamps(reply);
 * ```
 */
export class NtsClient {
  readonly #crypto: Crypto;
  readonly #rng: Rng;
  #c2s: AeadContext | null = null;
  #s2c: AeadContext | null = null;
  #aeadId = 0;
  #cookies: Uint8Array[] = [];
  #uniqueId: Uint8Array | null = null;
  #lastKeUnixSec: number | null = null;
  #keCount = 0;
  #keFailures = 0;
  #naks = 0;
  #authFailures = 0;
  #nak = false;
  #ntpServer = "";
  #ntpPort = 0;
  #listener: (() => void) | null = null;

  /** `rng` draws unique identifiers and nonces (the daemon's comes from the OS CSPRNG). */
  constructor(crypto: Crypto, rng: Rng) {
    this.#crypto = crypto;
    this.#rng = rng;
  }

  /**
   * Called (by the daemon's KE client) whenever `needsKe` turns true: the cookies ran out, or a
   * NAK came. The core itself does no I/O; this is the hook through which it asks.
   */
  onNeedKe(listener: (() => void) | null): void {
    this.#listener = listener;
  }

  /**
   * Takes the result of an NTS-KE exchange: its keys and cookies replace any held. False (and
   * nothing changes but the failure count) when the AEAD is not one this client runs.
   */
  install(ke: NtsKeResult, nowUnixSec: number): boolean {
    if (ke.aeadId !== AEAD_AES_SIV_CMAC_256 || ke.cookies.length === 0) {
      this.#keFailures++;
      return false;
    }
    let c2s: AeadContext | null, s2c: AeadContext | null;
    try {
      c2s = this.#crypto.aeadContext("AEAD_AES_SIV_CMAC_256", ke.c2sKey);
      s2c = this.#crypto.aeadContext("AEAD_AES_SIV_CMAC_256", ke.s2cKey);
    } catch {
      c2s = s2c = null;
    }
    if (c2s === null || s2c === null) {
      this.#keFailures++;
      return false;
    }
    this.#c2s = c2s;
    this.#s2c = s2c;
    this.#aeadId = ke.aeadId;
    this.#cookies = ke.cookies.slice(0, NTS_MAX_COOKIES).map((c) => c.slice());
    this.#uniqueId = null;
    this.#nak = false;
    this.#lastKeUnixSec = nowUnixSec;
    this.#keCount++;
    this.#ntpServer = ke.ntpServer;
    this.#ntpPort = ke.ntpPort;
    return true;
  }

  /** The KE client reports a failed NTS-KE attempt (counted, shown by ntpq). */
  noteKeFailure(): void {
    this.#keFailures++;
  }

  /** True when no request can go out before NTS-KE runs again. */
  get needsKe(): boolean {
    return this.#c2s === null || this.#nak || this.#cookies.length === 0;
  }

  /** Cookies held now. */
  get cookieCount(): number {
    return this.#cookies.length;
  }

  /**
   * The request: `header` (48 bytes, transmit timestamp final) followed by a fresh unique
   * identifier, one cookie (spent now), placeholders asking for enough cookies to hold
   * {@link NTS_MAX_COOKIES} again, and the authenticator over all of it. Null when NTS-KE is
   * needed first (the listener is told).
   */
  protect(header: Uint8Array): Uint8Array | null {
    const c2s = this.#c2s;
    if (this.needsKe || c2s === null) {
      this.#listener?.();
      return null;
    }
    const cookie = this.#cookies.shift()!;
    const placeholders = Math.max(0, NTS_MAX_COOKIES - this.#cookies.length - 1);
    const uid = new Uint8Array(UNIQUE_ID_LEN);
    this.#fill(uid);
    const nonce = new Uint8Array(NTS_NONCE_LEN);
    this.#fill(nonce);
    const authStart = 48 + fieldLength(UNIQUE_ID_LEN) +
      (1 + placeholders) * fieldLength(cookie.length);
    const out = new Uint8Array(authStart + authenticatorLength(0));
    out.set(header.subarray(0, 48));
    let at = writeField(out, 48, EF_UNIQUE_ID, uid);
    at = writeField(out, at, EF_COOKIE, cookie);
    for (let k = 0; k < placeholders; k++) {
      at = writeField(out, at, EF_COOKIE_PLACEHOLDER, null, cookie.length);
    }
    const sealed = c2s.seal(nonce, new Uint8Array(0), out.subarray(0, at));
    writeAuthenticator(out, at, nonce, sealed);
    this.#uniqueId = uid;
    if (this.#cookies.length === 0) this.#listener?.(); // the last one: fetch more meanwhile
    return out;
  }

  #fill(b: Uint8Array): void {
    for (let k = 0; k < b.length; k++) {
      if ((k & 3) === 0) {
        const r = this.#rng.nextU32();
        for (let j = 0; j < 4 && k + j < b.length; j++) b[k + j] = (r >>> (8 * j)) & 0xff;
      }
    }
  }

  /**
   * Judges a mode 4 reply to the request in flight (whose origin timestamp the caller checks:
   * the unique identifier here, the origin there). An authentic reply's cookies are stored and
   * the request is consumed (a second copy is "nts_unexpected"). A NAK (stratum 0, kiss NTSN)
   * with the request's unique identifier drops the cookies; the caller checks its origin first.
   * Never throws.
   */
  checkReply(data: Uint8Array, originMatches: boolean): NtsReplyVerdict {
    const uid = this.#uniqueId;
    if (uid === null || this.#s2c === null) return "nts_unexpected";
    if (data.length >= 48 && data[1] === 0 && readU32(data, 12) === REFID_NTSN) {
      // A NAK is unauthenticated (RFC 8915 §5.7): it only counts with our unique identifier and
      // origin, so an off-path sender cannot make us drop the cookies.
      if (!originMatches || !nakCarries(data, uid)) return "nts_unique_id";
      this.#uniqueId = null;
      this.#naks++;
      this.#nak = true;
      this.#cookies = [];
      this.#listener?.();
      return "nak";
    }
    const r = readNtsFields(data, false);
    if (!r.ok) return this.#fail("nts_malformed");
    const f = r.fields;
    if (!sameBytes(f.uniqueId, uid)) return this.#fail("nts_unique_id");
    const plain = this.#s2c.open(f.nonce, f.ciphertext, data.subarray(0, f.authStart));
    if (plain === null) return this.#fail("nts_bad_auth");
    const cookies = readEncryptedCookies(plain);
    if (cookies === null) return this.#fail("nts_malformed");
    if (!originMatches) return "nts_unexpected";
    this.#uniqueId = null;
    for (const c of cookies) {
      if (this.#cookies.length < NTS_MAX_COOKIES) this.#cookies.push(c);
    }
    return "ok";
  }

  #fail(v: NtsReplyVerdict): NtsReplyVerdict {
    this.#authFailures++;
    return v;
  }

  /** The state for ntpq and the status file. */
  snapshot(): NtsClientSnapshot {
    return {
      cookies: this.#cookies.length,
      aeadId: this.#aeadId,
      lastKeUnixSec: this.#lastKeUnixSec,
      keCount: this.#keCount,
      keFailures: this.#keFailures,
      naks: this.#naks,
      authFailures: this.#authFailures,
      needsKe: this.needsKe,
      ntpServer: this.#ntpServer,
      ntpPort: this.#ntpPort,
    };
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let k = 0; k < a.length; k++) d |= a[k]! ^ b[k]!;
  return d === 0;
}

/** True when a NAK's extension fields (walked boundedly) include the unique identifier `uid`. */
function nakCarries(data: Uint8Array, uid: Uint8Array): boolean {
  let at = 48;
  for (let n = 0; n < 32 && at + 4 <= data.length; n++) {
    const type = (data[at]! << 8) | data[at + 1]!, len = (data[at + 2]! << 8) | data[at + 3]!;
    if (len < 4 || (len & 3) !== 0 || at + len > data.length) return false;
    if (type === EF_UNIQUE_ID) return sameBytes(data.subarray(at + 4, at + len), uid);
    at += len;
  }
  return false;
}
