// NTS extension fields (RFC 8915 §5.3–5.7) in NTPv4 packets (RFC 7822 framing): reading them
// strictly and boundedly from untrusted bytes, and writing them. Types: Unique Identifier 0x0104,
// NTS Cookie 0x0204, NTS Cookie Placeholder 0x0304, NTS Authenticator and Encrypted Extension
// Fields 0x0404. The authenticator's associated data is the packet from its first byte to the
// start of the authenticator field; its plaintext is a run of further extension fields.

import { SIV_TAG_LEN } from "./aes_siv.ts";

/** Extension field types (RFC 8915 §7.5 registry entries). */
export const EF_UNIQUE_ID = 0x0104;
export const EF_COOKIE = 0x0204;
export const EF_COOKIE_PLACEHOLDER = 0x0304;
export const EF_AUTHENTICATOR = 0x0404;

/** The NTS NAK kiss code "NTSN" as a reference id (RFC 8915 §5.7). */
export const REFID_NTSN = 0x4e54534e;

/** Unique identifier length Horae sends; RFC 8915 §5.3 asks for at least 32 bytes. */
export const UNIQUE_ID_LEN = 32;
/** Longest unique identifier accepted (it is echoed; nothing needs more). */
export const MAX_UNIQUE_ID_LEN = 256;
/** Nonce length Horae sends in authenticators (AES-SIV takes any; §5.6 asks for ≥ 16). */
export const NTS_NONCE_LEN = 16;
/** Most extension fields read from one packet, outside and inside the authenticator. */
export const MAX_NTS_FIELDS = 32;
/** Longest cookie accepted (chrony's and Horae's are around 100 bytes). */
export const MAX_COOKIE_LEN = 512;

const HEADER_LEN = 48;

/** Why a packet's NTS fields were refused. */
export type NtsFieldError =
  | "nts_field_length" // a field's length is < 4 (inside) / < 16 (outside), not a multiple of 4, or overruns
  | "nts_field_count" // more than MAX_NTS_FIELDS
  | "nts_unique_id" // no unique id, two, or one of the wrong length
  | "nts_cookie" // no cookie (request), two, one too long, or a placeholder of another size
  | "nts_authenticator"; // none, two, bad nonce/ciphertext lengths, non-zero padding, or not last

/** The NTS fields of one packet, as offsets into it. */
export interface NtsFields {
  /** The unique identifier's body (a view into the packet). */
  uniqueId: Uint8Array;
  /** The cookies before the authenticator (views; a request has exactly one). */
  cookies: Uint8Array[];
  /** Body lengths of the cookie placeholders before the authenticator. */
  placeholderLengths: number[];
  /** Where the authenticator field starts: the end of the associated data. */
  authStart: number;
  /** The authenticator's nonce (a view). */
  nonce: Uint8Array;
  /** The authenticator's ciphertext, tag included (a view). */
  ciphertext: Uint8Array;
}

/** Result of {@link readNtsFields}. */
export type ReadNtsFields = { ok: true; fields: NtsFields } | { ok: false; reason: NtsFieldError };

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function allZero(b: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] !== 0) return false;
  return true;
}

/**
 * True when `bytes` (an NTPv4 packet of mode 3 or 4) has an NTS unique identifier or
 * authenticator among its outer extension fields: it is meant as NTS. Walks the fields without
 * judging them (cheap); {@link readNtsFields} then judges.
 */
export function looksLikeNts(bytes: Uint8Array): boolean {
  let at = HEADER_LEN, count = 0;
  while (at + 4 <= bytes.length && count++ < MAX_NTS_FIELDS) {
    const type = u16(bytes, at), len = u16(bytes, at + 2);
    if (type === EF_UNIQUE_ID || type === EF_AUTHENTICATOR) return true;
    if (len < 4) return false;
    at += len;
  }
  return false;
}

/**
 * Where a packet's NTS fields are, as offsets into it: what {@link scanNtsFields} fills in, one
 * object reused for every packet (the server allocates nothing per request).
 */
export class NtsFieldOffsets {
  /** The unique identifier's body. */
  uniqueIdStart = 0;
  uniqueIdEnd = 0;
  /** The cookie's body (requests: exactly one). */
  cookieStart = 0;
  cookieEnd = 0;
  /** How many cookie placeholders (each as long as the cookie) came before the authenticator. */
  placeholders = 0;
  /** Where the authenticator field starts: the end of the associated data. */
  authStart = 0;
  /** The authenticator's nonce. */
  nonceStart = 0;
  nonceEnd = 0;
  /** The authenticator's ciphertext, tag included. */
  ciphertextStart = 0;
  ciphertextEnd = 0;
}

/**
 * Reads the NTS fields of a packet strictly into `into`: RFC 7822 framing for every outer field
 * (≥ 16 bytes, a multiple of 4, inside the packet), at most one unique identifier (32–256 bytes,
 * before the authenticator), exactly one authenticator with nonce and ciphertext lengths that fit
 * and zero padding, and nothing after the authenticator. `isRequest`: exactly one cookie, and
 * every placeholder as long as it. A reply carries no cookie outside the authenticator. Unknown
 * field types before the authenticator are authenticated but otherwise ignored (RFC 7822).
 * Returns null when the fields are good, or why not. Never throws; allocates nothing.
 */
export function scanNtsFields(
  bytes: Uint8Array,
  isRequest: boolean,
  into: NtsFieldOffsets,
): NtsFieldError | null {
  let uniqueIdStart = -1, uniqueIdEnd = -1, cookieStart = -1, cookieEnd = -1;
  let placeholders = 0, placeholderLength = -1, placeholdersMixed = false;
  let at = HEADER_LEN, count = 0;
  while (at < bytes.length) {
    if (++count > MAX_NTS_FIELDS) return "nts_field_count";
    if (at + 4 > bytes.length) return "nts_field_length";
    const type = u16(bytes, at), len = u16(bytes, at + 2);
    if (len < 16 || (len & 3) !== 0 || at + len > bytes.length) return "nts_field_length";
    const bodyLength = len - 4;
    switch (type) {
      case EF_UNIQUE_ID:
        if (
          uniqueIdStart >= 0 || bodyLength < UNIQUE_ID_LEN || bodyLength > MAX_UNIQUE_ID_LEN
        ) return "nts_unique_id";
        uniqueIdStart = at + 4;
        uniqueIdEnd = at + len;
        break;
      case EF_COOKIE:
        if (!isRequest || cookieStart >= 0 || bodyLength > MAX_COOKIE_LEN) return "nts_cookie";
        cookieStart = at + 4;
        cookieEnd = at + len;
        break;
      case EF_COOKIE_PLACEHOLDER:
        if (!isRequest || bodyLength > MAX_COOKIE_LEN) return "nts_cookie";
        if (placeholders++ === 0) placeholderLength = bodyLength;
        else if (bodyLength !== placeholderLength) placeholdersMixed = true;
        break;
      case EF_AUTHENTICATOR: {
        // Body: nonce length, ciphertext length, nonce and ciphertext each padded to 4, padding.
        // COMPAT: nothing may follow the authenticator. RFC 8915 leaves room for unauthenticated
        // fields after it, which receivers must not act on; no implementation sends any today
        // (chrony, NTPsec and ntpd-rs put the authenticator last), so refusing them is safe and
        // keeps a request's bytes all covered by the tag.
        if (at + len !== bytes.length) return "nts_authenticator";
        if (uniqueIdStart < 0) return "nts_unique_id";
        if (isRequest) {
          if (cookieStart < 0) return "nts_cookie";
          if (
            placeholders > 0 && (placeholdersMixed || placeholderLength !== cookieEnd - cookieStart)
          ) return "nts_cookie";
        }
        const body = at + 4, end = at + len;
        const nonceLen = u16(bytes, body), ctLen = u16(bytes, body + 2);
        const noncePadded = (nonceLen + 3) & ~3, ctPadded = (ctLen + 3) & ~3;
        if (
          nonceLen < NTS_NONCE_LEN || ctLen < SIV_TAG_LEN ||
          body + 4 + noncePadded + ctPadded > end ||
          !allZero(bytes, body + 4 + nonceLen, body + 4 + noncePadded) ||
          !allZero(bytes, body + 4 + noncePadded + ctLen, end)
        ) return "nts_authenticator";
        into.uniqueIdStart = uniqueIdStart;
        into.uniqueIdEnd = uniqueIdEnd;
        into.cookieStart = cookieStart < 0 ? 0 : cookieStart;
        into.cookieEnd = cookieEnd < 0 ? 0 : cookieEnd;
        into.placeholders = placeholders;
        into.authStart = at;
        into.nonceStart = body + 4;
        into.nonceEnd = body + 4 + nonceLen;
        into.ciphertextStart = body + 4 + noncePadded;
        into.ciphertextEnd = body + 4 + noncePadded + ctLen;
        return null;
      }
      default:
        break; // RFC 7822: a field of unknown type is skipped
    }
    at += len;
  }
  return uniqueIdStart < 0 ? "nts_unique_id" : "nts_authenticator";
}

/**
 * Reads the NTS fields of a packet strictly (the rules of {@link scanNtsFields}), as views into
 * it. Never throws.
 */
export function readNtsFields(bytes: Uint8Array, isRequest: boolean): ReadNtsFields {
  const o = new NtsFieldOffsets();
  const reason = scanNtsFields(bytes, isRequest, o);
  if (reason !== null) return { ok: false, reason };
  const cookies = isRequest ? [bytes.subarray(o.cookieStart, o.cookieEnd)] : [];
  return {
    ok: true,
    fields: {
      uniqueId: bytes.subarray(o.uniqueIdStart, o.uniqueIdEnd),
      cookies,
      placeholderLengths: new Array<number>(o.placeholders).fill(o.cookieEnd - o.cookieStart),
      authStart: o.authStart,
      nonce: bytes.subarray(o.nonceStart, o.nonceEnd),
      ciphertext: bytes.subarray(o.ciphertextStart, o.ciphertextEnd),
    },
  };
}

/**
 * True when `plain[start, end)`, a decrypted authenticator's contents (RFC 8915 §5.6), is a run of
 * whole extension fields: none shorter than 4 bytes, not a multiple of 4 or overrunning, at most
 * {@link MAX_NTS_FIELDS}, and every cookie among them 1 to {@link MAX_COOKIE_LEN} bytes.
 */
export function encryptedFieldsValid(plain: Uint8Array, start: number, end: number): boolean {
  let at = start, count = 0;
  while (at < end) {
    if (++count > MAX_NTS_FIELDS || at + 4 > end) return false;
    const type = u16(plain, at), len = u16(plain, at + 2);
    if (len < 4 || (len & 3) !== 0 || at + len > end) return false;
    if (type === EF_COOKIE && (len - 4 > MAX_COOKIE_LEN || len === 4)) return false;
    at += len;
  }
  return true;
}

/**
 * Reads the extension fields inside a decrypted authenticator (RFC 8915 §5.6: a run of whole
 * fields): the cookies among them, or null when the run is malformed (a field shorter than 4
 * bytes, not a multiple of 4, overrunning, too many, or a cookie too long).
 */
export function readEncryptedCookies(plain: Uint8Array): Uint8Array[] | null {
  if (!encryptedFieldsValid(plain, 0, plain.length)) return null;
  const cookies: Uint8Array[] = [];
  for (let at = 0; at < plain.length;) {
    const type = u16(plain, at), len = u16(plain, at + 2);
    if (type === EF_COOKIE) cookies.push(plain.slice(at + 4, at + len));
    at += len;
  }
  return cookies;
}

/** Bytes an extension field with a body of `bodyLength` takes (header and padding to 4). */
export function fieldLength(bodyLength: number): number {
  return 4 + ((bodyLength + 3) & ~3);
}

/**
 * Writes one extension field at `at` (type, length, body, zero padding to 4); returns the
 * offset after it. `body` null writes `bodyLength` zero bytes (a placeholder).
 */
export function writeField(
  out: Uint8Array,
  at: number,
  type: number,
  body: Uint8Array | null,
  bodyLength = body?.length ?? 0,
): number {
  const len = fieldLength(bodyLength);
  out[at] = type >>> 8;
  out[at + 1] = type & 0xff;
  out[at + 2] = len >>> 8;
  out[at + 3] = len & 0xff;
  if (body !== null) out.set(body, at + 4);
  out.fill(0, at + 4 + (body === null ? 0 : body.length), at + len);
  return at + len;
}

/** Length of an authenticator field with a {@link NTS_NONCE_LEN} nonce and `plainLength` bytes sealed. */
export function authenticatorLength(plainLength: number): number {
  return 4 + 4 + NTS_NONCE_LEN + ((SIV_TAG_LEN + plainLength + 3) & ~3);
}

/**
 * Writes an authenticator field at `at`, which must be the end of the associated data
 * (`out[0, at)`): `seal(nonce, plaintext, ad)` gives tag ‖ ciphertext. Returns the end offset.
 */
export function writeAuthenticator(
  out: Uint8Array,
  at: number,
  nonce: Uint8Array,
  sealed: Uint8Array,
): number {
  const noncePadded = (nonce.length + 3) & ~3, ctPadded = (sealed.length + 3) & ~3;
  const len = 4 + 4 + noncePadded + ctPadded;
  out[at] = EF_AUTHENTICATOR >>> 8;
  out[at + 1] = EF_AUTHENTICATOR & 0xff;
  out[at + 2] = len >>> 8;
  out[at + 3] = len & 0xff;
  out[at + 4] = nonce.length >>> 8;
  out[at + 5] = nonce.length & 0xff;
  out[at + 6] = sealed.length >>> 8;
  out[at + 7] = sealed.length & 0xff;
  out.fill(0, at + 8, at + len);
  out.set(nonce, at + 8);
  out.set(sealed, at + 8 + noncePadded);
  return at + len;
}
