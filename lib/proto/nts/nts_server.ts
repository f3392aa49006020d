// The NTP server's side of NTS (RFC 8915 §5.7): an NTS-protected client request is read, its
// cookie opened with the server's master keys, its authenticator checked with the C2S key, and
// the reply carries the unique identifier back and, sealed under the S2C key, fresh cookies (one
// for the cookie spent plus one per placeholder, as many as fit in the request's size: a reply is
// never longer than its request, so NTS amplifies nothing). A cookie that cannot be opened gets
// an NTS NAK (kiss code NTSN) so the client knows to run NTS-KE again.
//
// Replay: RFC 8915 puts replay protection on the client (the unique identifier, §5.3); a server
// stays stateless. This one also remembers the last cookies it accepted (a bounded set, per
// instance) and drops a request that spends one again: a replayed request then costs no reply
// and is counted. A client never reuses a cookie (§5.7), so nothing honest is dropped; instances
// behind one name do not share the set, and there the client's unique identifier still protects.

import type { AeadContext, Crypto } from "../crypto.ts";
import type { Rng } from "../rng.ts";
import { SIV_TAG_LEN } from "./aes_siv.ts";
import {
  COOKIE_KEY_ID_LEN,
  COOKIE_NONCE_LEN,
  cookieLength,
  type NtsServerKeys,
} from "./cookies.ts";
import {
  authenticatorLength,
  EF_COOKIE,
  EF_UNIQUE_ID,
  fieldLength,
  NTS_NONCE_LEN,
  readEncryptedCookies,
  readNtsFields,
  writeAuthenticator,
  writeField,
} from "./extension_fields.ts";

/** How an NTS request was judged (each but "ok" is a counted drop; the "nak" ones get a NAK). */
export type NtsRequestVerdict =
  | "ok" // answer it with writeReply(), sealed by finalize()
  | "nts_malformed" // NTS fields that break RFC 8915 §5 framing or counts: dropped
  | "nts_bad_cookie" // a cookie no kept key opens (or no keys yet): NAK
  | "nts_wrong_aead" // a cookie for an AEAD this server does not run: NAK
  | "nts_bad_auth" // the authenticator does not verify under the cookie's C2S key: dropped
  | "nts_cookie_reuse"; // a cookie accepted before, spent again: dropped

/** Options of {@link NtsServer}. */
export interface NtsServerOptions {
  /** How many recently accepted cookies to remember for reuse detection (0: none); default 65536. */
  reuseWindow?: number;
}

/** Remembers cookie tags in two generations, so memory stays within 2 × `size` entries. */
class SeenCookies {
  readonly #size: number;
  #current = new Set<string>();
  #previous = new Set<string>();

  constructor(size: number) {
    this.#size = size;
  }

  /** True when `tag` was seen; records it otherwise. */
  seen(tag: Uint8Array): boolean {
    let k = "";
    for (let i = 0; i < tag.length; i += 2) k += String.fromCharCode((tag[i]! << 8) | tag[i + 1]!);
    if (this.#current.has(k) || this.#previous.has(k)) return true;
    if (this.#current.size >= this.#size) {
      this.#previous = this.#current;
      this.#current = new Set();
    }
    this.#current.add(k);
    return false;
  }
}

/** A reply waiting for its seal: what its cookies carry and how many. */
interface Unsealed {
  aeadId: number;
  c2s: Uint8Array;
  s2c: Uint8Array;
  cookies: number;
}

/** Most replies left unsealed at once (a transport's batch is far smaller). */
const MAX_UNSEALED = 4096;

/**
 * One thread's NTS request handling: {@link check} and {@link writeReply} for each request in
 * turn, then {@link finalize} for each reply once its transmit time is stamped (a batching
 * transport finalizes a whole batch after answering it). It has the packet path's ReplyFinalizer
 * shape without importing it (the packet path imports this file).
 *
 * @example
 * ```ts
 * const nts = new NtsServer(keys, crypto, rng);
 * if (nts.check(request) === "ok") {
 *   const len = nts.writeReply(request, slot.buffer, 48); // after the 48-byte header
 *   // ... the transport stamps the transmit time, then calls nts.finalize(buffer, len)
 * }
 * ```
 */
export class NtsServer {
  readonly #keys: NtsServerKeys;
  readonly #crypto: Crypto;
  readonly #rng: Rng;
  readonly #seen: SeenCookies | null;
  // The request being answered (set by check, used by writeReply and finalize).
  #aeadId = 0;
  #c2s: Uint8Array = new Uint8Array(0);
  #s2c: Uint8Array = new Uint8Array(0);
  #uniqueId: Uint8Array = new Uint8Array(0);
  #cookiesToSend = 0;
  #nonce = new Uint8Array(NTS_NONCE_LEN);
  #pending = false;
  /**
   * Replies written and not yet sealed, by ticket. A batching transport answers a whole batch
   * before it stamps and finalizes any of them, so each reply carries its ticket (in its nonce's
   * place until the seal) to find its keys again.
   */
  readonly #unsealed = new Map<number, Unsealed>();
  #nextTicket = 1;

  /** `keys` are shared with the NTS-KE server; `rng` draws nonces. */
  constructor(keys: NtsServerKeys, crypto: Crypto, rng: Rng, options: NtsServerOptions = {}) {
    this.#keys = keys;
    this.#crypto = crypto;
    this.#rng = rng;
    const w = options.reuseWindow ?? 65536;
    this.#seen = w > 0 ? new SeenCookies(w) : null;
  }

  /** The master keys (the daemon replaces them through this object on rotation). */
  get keys(): NtsServerKeys {
    return this.#keys;
  }

  /** Judges an NTS-protected client request (mode 3 with NTS fields). Never throws. */
  check(request: Uint8Array): NtsRequestVerdict {
    this.#pending = false;
    this.#uniqueId = new Uint8Array(0);
    const r = readNtsFields(request, true);
    if (!r.ok) return "nts_malformed";
    const f = r.fields;
    this.#uniqueId = f.uniqueId;
    const opened = this.#keys.openCookie(f.cookies[0]!);
    if (!opened.ok) return opened.reason === "cookie_aead" ? "nts_wrong_aead" : "nts_bad_cookie";
    const { aeadId, c2s, s2c } = opened.cookie;
    const c2sAead = this.#aead(c2s);
    if (c2sAead === null) return "nts_wrong_aead";
    const plain = c2sAead.open(f.nonce, f.ciphertext, request.subarray(0, f.authStart));
    if (plain === null) return "nts_bad_auth";
    // Whatever the client encrypted must be well-formed fields; Horae asks for nothing inside.
    if (readEncryptedCookies(plain) === null) return "nts_malformed";
    const cookie = f.cookies[0]!;
    const tag = cookie.subarray(
      COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN,
      COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN + SIV_TAG_LEN,
    );
    if (this.#seen !== null && this.#seen.seen(tag)) return "nts_cookie_reuse";
    this.#aeadId = aeadId;
    this.#c2s = c2s;
    this.#s2c = s2c;
    this.#cookiesToSend = 1 + f.placeholderLengths.length;
    this.#pending = true;
    return "ok";
  }

  #aead(key: Uint8Array): AeadContext | null {
    try {
      return this.#crypto.aeadContext("AEAD_AES_SIV_CMAC_256", key);
    } catch {
      return null;
    }
  }

  /**
   * After {@link check} said "ok" and the server wrote the reply header to `out[0, headerLen)`:
   * appends the unique identifier and room for the authenticator with as many fresh cookies as
   * the request asked for and its size allows, and returns the reply's length (0 without a
   * checked request). The cookies and the seal are written by {@link finalize}.
   */
  writeReply(request: Uint8Array, out: Uint8Array, headerLen: number): number {
    if (!this.#pending) return 0;
    const at = writeField(out, headerLen, EF_UNIQUE_ID, this.#uniqueId);
    const one = fieldLength(cookieLength(this.#aeadId));
    const limit = Math.min(request.length, out.length);
    let n = this.#cookiesToSend;
    while (n > 0 && at + authenticatorLength(n * one) > limit) n--;
    if (at + authenticatorLength(0) > limit) {
      this.#pending = false;
      return 0;
    }
    this.#pending = false;
    // The ticket in the nonce's place (bytes 8–11 of the field) until finalize seals the reply.
    const ticket = this.#nextTicket;
    this.#nextTicket = (ticket % 0xffffffff) + 1;
    const end = at + authenticatorLength(n * one);
    out.fill(0, at, end);
    out[at + 8] = ticket >>> 24;
    out[at + 9] = (ticket >>> 16) & 0xff;
    out[at + 10] = (ticket >>> 8) & 0xff;
    out[at + 11] = ticket & 0xff;
    if (this.#unsealed.size >= MAX_UNSEALED) {
      // Never finalized (a transport that dropped the reply): forget the oldest.
      const [oldest, u] = this.#unsealed.entries().next().value as [number, Unsealed];
      u.c2s.fill(0);
      u.s2c.fill(0);
      this.#unsealed.delete(oldest);
    }
    this.#unsealed.set(ticket, {
      aeadId: this.#aeadId,
      c2s: this.#c2s,
      s2c: this.#s2c,
      cookies: n,
    });
    return end;
  }

  /**
   * Writes the NTS NAK's extension field: the request's unique identifier after the kiss
   * header at `out[0, headerLen)` (RFC 8915 §5.7: a NAK carries it, unauthenticated). Returns
   * the length, or `headerLen` when the request had no readable unique identifier.
   */
  writeNak(request: Uint8Array, out: Uint8Array, headerLen: number): number {
    this.#pending = false;
    const uid = this.#uniqueId;
    const end = headerLen + fieldLength(uid.length);
    if (uid.length === 0 || end > request.length || end > out.length) return headerLen;
    this.#uniqueId = new Uint8Array(0);
    return writeField(out, headerLen, EF_UNIQUE_ID, uid);
  }

  /**
   * Seals a reply {@link writeReply} wrote, after its transmit stamp: fresh cookies under the
   * S2C key, the packet up to the authenticator as associated data. The reply is found again by
   * its ticket; one without a ticket this server knows gets a zero authenticator, which no
   * client accepts.
   */
  finalize(buffer: Uint8Array, length: number): void {
    if (length < 52 || ((buffer[48]! << 8) | buffer[49]!) !== EF_UNIQUE_ID) return;
    const at = 48 + ((buffer[50]! << 8) | buffer[51]!);
    if (at + authenticatorLength(0) > length) return;
    const ticket = ((buffer[at + 8]! << 24) | (buffer[at + 9]! << 16) | (buffer[at + 10]! << 8) |
      buffer[at + 11]!) >>> 0;
    const u = this.#unsealed.get(ticket);
    this.#unsealed.delete(ticket);
    const one = u === undefined ? 0 : fieldLength(cookieLength(u.aeadId));
    const s2c = u === undefined ? null : this.#aead(u.s2c);
    if (u === undefined || s2c === null || at + authenticatorLength(u.cookies * one) !== length) {
      buffer.fill(0, at, length);
      return;
    }
    const plain = new Uint8Array(u.cookies * one);
    for (let k = 0, p = 0; k < u.cookies; k++) {
      p = writeField(plain, p, EF_COOKIE, this.#keys.makeCookie(u.aeadId, u.c2s, u.s2c));
    }
    const nonce = this.#nonce;
    const view = new DataView(nonce.buffer);
    for (let k = 0; k < NTS_NONCE_LEN; k += 4) view.setUint32(k, this.#rng.nextU32());
    const sealed = s2c.seal(nonce, plain, buffer.subarray(0, at));
    writeAuthenticator(buffer, at, nonce, sealed);
    u.c2s.fill(0);
    u.s2c.fill(0);
  }
}
