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

import type { Crypto } from "../crypto.ts";
import type { Rng } from "../rng.ts";
import { SIV_TAG_LEN, type SivContext, sivContextOf } from "./aes_siv.ts";
import {
  COOKIE_KEY_ID_LEN,
  COOKIE_NONCE_LEN,
  cookieLength,
  MAX_COOKIE_PLAINTEXT,
  type NtsServerKeys,
} from "./cookies.ts";
import {
  authenticatorLength,
  EF_AUTHENTICATOR,
  EF_COOKIE,
  EF_UNIQUE_ID,
  encryptedFieldsValid,
  fieldLength,
  NTS_NONCE_LEN,
  NtsFieldOffsets,
  scanNtsFields,
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

/**
 * Remembers cookie tags in two generations of open-addressed tables, so memory stays fixed
 * (16 bytes per entry) and nothing is allocated per request. A tag is kept as its first 8 bytes:
 * a replay repeats all 16, and two different cookies share 64 bits of an AES-SIV tag with
 * probability 2^-64 per pair, far below anything that could drop an honest request.
 *
 * The two generations share one array, slot by slot (current and previous side by side in 16
 * bytes), so a lookup in both usually costs one cache miss rather than one per table. Each
 * generation probes linearly in its own half of each slot; a rotation clears the older halves.
 */
class SeenCookies {
  readonly #size: number;
  readonly #mask: number;
  /** Slot i: words 4i, 4i+1 for generation 0 and 4i+2, 4i+3 for generation 1. */
  readonly #table: Uint32Array;
  /** Word offset (0 or 2) of the current generation within a slot. */
  #current = 0;
  #count = 0;

  constructor(size: number) {
    this.#size = size;
    let slots = 16;
    while (slots < 2 * size) slots *= 2; // load ≤ 1/2: short probes
    this.#mask = slots - 1;
    this.#table = new Uint32Array(4 * slots);
  }

  /**
   * Reads the slot where the tag at `b[at, at+8)` would be, and returns a word of it: called
   * before the request's AEAD work, so that the table's cache miss (the table is megabytes)
   * overlaps that work instead of stalling {@link seen} after it. The value means nothing.
   */
  touch(b: Uint8Array, at: number): number {
    const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
    return this.#table[4 * ((lo ^ Math.imul(hi, 0x9e3779b1)) & this.#mask)]!;
  }

  /** True when the tag at `b[at, at+8)` was seen; records it otherwise. */
  seen(b: Uint8Array, at: number): boolean {
    // (0, 0) marks an empty slot: the one tag prefix that maps to it is stored as (0, 1).
    const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    let lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
    if (hi === 0 && lo === 0) lo = 1;
    const t = this.#table, mask = this.#mask;
    const home = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask;
    // Both generations probe from the same slot; the previous one is looked up first while
    // that slot's cache line is loaded, then the current one, which also finds the free slot.
    const previous = 2 - this.#current;
    for (let i = home;; i = (i + 1) & mask) {
      const h = t[4 * i + previous]!, l = t[4 * i + previous + 1]!;
      if (h === hi && l === lo) return true;
      if (h === 0 && l === 0) break;
    }
    let current = this.#current;
    let i = home;
    for (;; i = (i + 1) & mask) {
      const h = t[4 * i + current]!, l = t[4 * i + current + 1]!;
      if (h === hi && l === lo) return true;
      if (h === 0 && l === 0) break;
    }
    if (this.#count >= this.#size) {
      // Full: the current generation becomes the previous one, and the tag starts the new one
      // (emptied by the rotation, so its home slot is free).
      this.#rotate();
      current = this.#current;
      i = home;
    }
    t[4 * i + current] = hi;
    t[4 * i + current + 1] = lo;
    this.#count++;
    return false;
  }

  /** The current generation becomes the previous one; the older one is cleared for reuse. */
  #rotate(): void {
    const t = this.#table, older = 2 - this.#current;
    for (let w = older; w < t.length; w += 4) t[w] = t[w + 1] = 0;
    this.#current = older;
    this.#count = 0;
  }
}

/** Most replies left unsealed at once (a transport's batch is far smaller); a power of two. */
const MAX_UNSEALED = 4096;
/** Bytes kept per unsealed reply: C2S ‖ S2C (the longest supported keys). */
const UNSEALED_KEYS = 64;

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
  readonly #rng: Rng;
  readonly #seen: SeenCookies | null;
  /** This server's AES-SIV context, re-keyed with each request's C2S, then each reply's S2C key. */
  readonly #siv: SivContext;
  readonly #fields = new NtsFieldOffsets();
  /** The opened cookie: AEAD id, 0x0000, C2S ‖ S2C (zeroed once copied). */
  readonly #cookie = new Uint8Array(new ArrayBuffer(MAX_COOKIE_PLAINTEXT));
  /** #cookie as 32-bit words (byte order does not matter for moves and clears). */
  readonly #cookie32 = new Int32Array(this.#cookie.buffer);
  /** The request's decrypted authenticator contents, and a reply's cookies before the seal. */
  #scratch = new Uint8Array(2048);
  // The request being answered (set by check, used by writeReply and writeNak).
  #aeadId = 0;
  #uniqueIdStart = 0;
  #uniqueIdEnd = 0;
  #cookiesToSend = 0;
  #pending = false;
  /** The replay table's word read ahead by check() (kept so the read is not optimised away). */
  #touched = 0;
  /**
   * Replies written and not yet sealed, in a ring indexed by ticket. A batching transport
   * answers a whole batch before it stamps and finalizes any of them, so each reply carries its
   * ticket (in its nonce's place until the seal) to find its keys again. A ticket overwritten
   * before its finalize (a transport that dropped the reply) is simply forgotten.
   */
  readonly #ticketOf = new Uint32Array(MAX_UNSEALED);
  readonly #aeadOf = new Uint16Array(MAX_UNSEALED);
  readonly #cookiesOf = new Uint8Array(MAX_UNSEALED);
  readonly #keysOf = new Uint8Array(MAX_UNSEALED * UNSEALED_KEYS);
  readonly #keysOf32 = new Int32Array(this.#keysOf.buffer);
  #nextTicket = 1;

  /** `keys` are shared with the NTS-KE server; `rng` draws nonces. */
  constructor(keys: NtsServerKeys, crypto: Crypto, rng: Rng, options: NtsServerOptions = {}) {
    this.#keys = keys;
    this.#rng = rng;
    this.#siv = sivContextOf(crypto);
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
    this.#uniqueIdEnd = this.#uniqueIdStart = 0;
    const f = this.#fields;
    if (scanNtsFields(request, true, f) !== null) return "nts_malformed";
    this.#uniqueIdStart = f.uniqueIdStart;
    this.#uniqueIdEnd = f.uniqueIdEnd;
    const tagAt = f.cookieStart + COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN;
    const seen = this.#seen;
    if (seen !== null && tagAt + 8 <= f.cookieEnd) this.#touched = seen.touch(request, tagAt);
    const cookie = this.#cookie;
    const refused = this.#keys.openCookieInto(request, f.cookieStart, f.cookieEnd, cookie);
    if (refused !== null) return refused === "cookie_aead" ? "nts_wrong_aead" : "nts_bad_cookie";
    // The only AEAD a cookie can carry here is AES-SIV-CMAC-256 (openCookieInto checked it).
    const aeadId = (cookie[0]! << 8) | cookie[1]!;
    const siv = this.#siv;
    siv.setKey(cookie, 4); // C2S
    const plainLength = f.ciphertextEnd - f.ciphertextStart - SIV_TAG_LEN;
    if (this.#scratch.length < plainLength) this.#scratch = new Uint8Array(2 * plainLength);
    const plain = this.#scratch;
    const authentic = siv.open(
      request,
      0,
      f.authStart,
      request,
      f.nonceStart,
      f.nonceEnd,
      request,
      f.ciphertextStart,
      f.ciphertextEnd,
      plain,
      0,
    );
    if (!authentic) {
      cookie.fill(0, 0, 4 + UNSEALED_KEYS);
      return "nts_bad_auth";
    }
    // Whatever the client encrypted must be well-formed fields; Horae asks for nothing inside.
    if (!encryptedFieldsValid(plain, 0, plainLength)) {
      cookie.fill(0, 0, 4 + UNSEALED_KEYS);
      return "nts_malformed";
    }
    if (seen !== null && seen.seen(request, tagAt)) {
      cookie.fill(0, 0, 4 + UNSEALED_KEYS);
      return "nts_cookie_reuse";
    }
    this.#aeadId = aeadId;
    this.#cookiesToSend = 1 + f.placeholders;
    this.#pending = true;
    return "ok";
  }

  /**
   * After {@link check} said "ok" and the server wrote the reply header to `out[0, headerLen)`:
   * appends the unique identifier and room for the authenticator with as many fresh cookies as
   * the request asked for and its size allows, and returns the reply's length (0 without a
   * checked request). The cookies and the seal are written by {@link finalize}.
   */
  writeReply(request: Uint8Array, out: Uint8Array, headerLen: number): number {
    if (!this.#pending) return 0;
    this.#pending = false;
    const cookie = this.#cookie;
    const uidLength = this.#uniqueIdEnd - this.#uniqueIdStart;
    const at = headerLen + fieldLength(uidLength);
    const one = fieldLength(cookieLength(this.#aeadId));
    const limit = Math.min(request.length, out.length);
    let n = this.#cookiesToSend;
    while (n > 0 && at + authenticatorLength(n * one) > limit) n--;
    if (at + authenticatorLength(0) > limit) {
      cookie.fill(0, 0, 4 + UNSEALED_KEYS);
      return 0;
    }
    writeUniqueId(out, headerLen, request, this.#uniqueIdStart, this.#uniqueIdEnd);
    // The ticket in the nonce's place (bytes 8–11 of the field) until finalize seals the reply.
    // Only the field's first 24 bytes are cleared here: finalize writes every byte after them
    // (or zeroes the whole field when it cannot seal), and a reply is never sent unfinalized.
    const ticket = this.#nextTicket;
    this.#nextTicket = (ticket % 0xffffffff) + 1;
    const end = at + authenticatorLength(n * one);
    for (let k = at; k < at + 24; k++) out[k] = 0;
    out[at + 8] = ticket >>> 24;
    out[at + 9] = (ticket >>> 16) & 0xff;
    out[at + 10] = (ticket >>> 8) & 0xff;
    out[at + 11] = ticket & 0xff;
    const slot = ticket & (MAX_UNSEALED - 1);
    this.#ticketOf[slot] = ticket;
    this.#aeadOf[slot] = this.#aeadId;
    this.#cookiesOf[slot] = n;
    // Moved, not copied, 32 bits at a time: the opened cookie's keys (and its AEAD id) are
    // cleared as they go (a loop: the typed array fill() is a runtime call, several of which
    // per request showed in the profile).
    const keys32 = this.#keysOf32, cookie32 = this.#cookie32;
    const base32 = slot * (UNSEALED_KEYS >> 2);
    for (let k = 0; k < UNSEALED_KEYS >> 2; k++) {
      keys32[base32 + k] = cookie32[1 + k]!;
      cookie32[1 + k] = 0;
    }
    cookie32[0] = 0;
    return end;
  }

  /**
   * Writes the NTS NAK's extension field: the request's unique identifier after the kiss
   * header at `out[0, headerLen)` (RFC 8915 §5.7: a NAK carries it, unauthenticated). Returns
   * the length, or `headerLen` when the request had no readable unique identifier.
   */
  writeNak(request: Uint8Array, out: Uint8Array, headerLen: number): number {
    this.#pending = false;
    const uidLength = this.#uniqueIdEnd - this.#uniqueIdStart;
    const end = headerLen + fieldLength(uidLength);
    if (uidLength === 0 || end > request.length || end > out.length) return headerLen;
    const start = this.#uniqueIdStart;
    this.#uniqueIdEnd = this.#uniqueIdStart = 0;
    return writeUniqueId(out, headerLen, request, start, start + uidLength);
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
    const slot = ticket & (MAX_UNSEALED - 1);
    const known = ticket !== 0 && this.#ticketOf[slot] === ticket;
    const aeadId = this.#aeadOf[slot]!, n = this.#cookiesOf[slot]!;
    const one = fieldLength(cookieLength(aeadId));
    const plainLength = n * one;
    if (!known || at + authenticatorLength(plainLength) !== length) {
      buffer.fill(0, at, length);
      return;
    }
    this.#ticketOf[slot] = 0;
    const keys = this.#keysOf, base = slot * UNSEALED_KEYS;
    if (this.#scratch.length < plainLength) this.#scratch = new Uint8Array(2 * plainLength);
    const plain = this.#scratch;
    let ok = true;
    for (let k = 0, p = 0; ok && k < n; k++, p += one) {
      plain[p] = EF_COOKIE >>> 8;
      plain[p + 1] = EF_COOKIE & 0xff;
      plain[p + 2] = one >>> 8;
      plain[p + 3] = one & 0xff;
      const len = this.#keys.makeCookieInto(aeadId, keys, base, plain, p + 4);
      ok = len > 0;
      for (let j = p + 4 + len; j < p + one; j++) plain[j] = 0;
    }
    // Authenticator: type, length, nonce length, ciphertext length, nonce, tag ‖ ciphertext.
    const sealedLength = SIV_TAG_LEN + plainLength;
    const fieldLen = length - at;
    buffer[at] = EF_AUTHENTICATOR >>> 8;
    buffer[at + 1] = EF_AUTHENTICATOR & 0xff;
    buffer[at + 2] = fieldLen >>> 8;
    buffer[at + 3] = fieldLen & 0xff;
    buffer[at + 4] = 0;
    buffer[at + 5] = NTS_NONCE_LEN;
    buffer[at + 6] = sealedLength >>> 8;
    buffer[at + 7] = sealedLength & 0xff;
    const rng = this.#rng;
    for (let k = at + 8; k < at + 8 + NTS_NONCE_LEN; k += 4) {
      const r = rng.nextU32();
      buffer[k] = r >>> 24;
      buffer[k + 1] = (r >>> 16) & 0xff;
      buffer[k + 2] = (r >>> 8) & 0xff;
      buffer[k + 3] = r & 0xff;
    }
    const nonceAt = at + 8, sealedAt = nonceAt + NTS_NONCE_LEN;
    const siv = this.#siv;
    if (ok) {
      siv.setKey(keys, base + UNSEALED_KEYS / 2); // S2C
      ok = siv.seal(
        buffer,
        0,
        at,
        buffer,
        nonceAt,
        sealedAt,
        plain,
        0,
        plainLength,
        buffer,
        sealedAt,
      );
    }
    const keys32 = this.#keysOf32;
    for (let k = base >> 2; k < (base + UNSEALED_KEYS) >> 2; k++) keys32[k] = 0;
    if (!ok) buffer.fill(0, at, length);
    else for (let k = sealedAt + sealedLength; k < length; k++) buffer[k] = 0;
  }
}

/** Writes the unique identifier field with the body `request[start, end)` at `at`; the end. */
function writeUniqueId(
  out: Uint8Array,
  at: number,
  request: Uint8Array,
  start: number,
  end: number,
): number {
  const len = fieldLength(end - start);
  out[at] = EF_UNIQUE_ID >>> 8;
  out[at + 1] = EF_UNIQUE_ID & 0xff;
  out[at + 2] = len >>> 8;
  out[at + 3] = len & 0xff;
  for (let k = start, j = at + 4; k < end; k++, j++) out[j] = request[k]!;
  for (let j = at + 4 + end - start; j < at + len; j++) out[j] = 0;
  return at + len;
}
