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
 * Reads the NTS fields of a packet strictly: RFC 7822 framing for every outer field (≥ 16 bytes,
 * a multiple of 4, inside the packet), at most one unique identifier (32–256 bytes, before the
 * authenticator), exactly one authenticator with nonce and ciphertext lengths that fit and zero
 * padding, and nothing after the authenticator. `isRequest`: exactly one cookie, and every
 * placeholder as long as it. A reply carries no cookie outside the authenticator. Unknown field
 * types before the authenticator are authenticated but otherwise ignored (RFC 7822). Never throws.
 */
export function readNtsFields(bytes: Uint8Array, isRequest: boolean): ReadNtsFields {
  let uniqueId: Uint8Array | null = null;
  const cookies: Uint8Array[] = [];
  const placeholderLengths: number[] = [];
  let at = HEADER_LEN, count = 0;
  while (at < bytes.length) {
    if (++count > MAX_NTS_FIELDS) return { ok: false, reason: "nts_field_count" };
    if (at + 4 > bytes.length) return { ok: false, reason: "nts_field_length" };
    const type = u16(bytes, at), len = u16(bytes, at + 2);
    if (len < 16 || (len & 3) !== 0 || at + len > bytes.length) {
      return { ok: false, reason: "nts_field_length" };
    }
    const body = bytes.subarray(at + 4, at + len);
    switch (type) {
      case EF_UNIQUE_ID:
        if (uniqueId !== null || body.length < UNIQUE_ID_LEN || body.length > MAX_UNIQUE_ID_LEN) {
          return { ok: false, reason: "nts_unique_id" };
        }
        uniqueId = body;
        break;
      case EF_COOKIE:
        if (!isRequest || cookies.length > 0 || body.length > MAX_COOKIE_LEN) {
          return { ok: false, reason: "nts_cookie" };
        }
        cookies.push(body);
        break;
      case EF_COOKIE_PLACEHOLDER:
        if (!isRequest || body.length > MAX_COOKIE_LEN) return { ok: false, reason: "nts_cookie" };
        placeholderLengths.push(body.length);
        break;
      case EF_AUTHENTICATOR: {
        // Body: nonce length, ciphertext length, nonce and ciphertext each padded to 4, padding.
        // COMPAT: nothing may follow the authenticator. RFC 8915 leaves room for unauthenticated
        // fields after it, which receivers must not act on; no implementation sends any today
        // (chrony, NTPsec and ntpd-rs put the authenticator last), so refusing them is safe and
        // keeps a request's bytes all covered by the tag.
        if (at + len !== bytes.length) return { ok: false, reason: "nts_authenticator" };
        if (uniqueId === null) return { ok: false, reason: "nts_unique_id" };
        if (isRequest) {
          if (cookies.length !== 1) return { ok: false, reason: "nts_cookie" };
          const c = cookies[0]!.length;
          if (placeholderLengths.some((p) => p !== c)) return { ok: false, reason: "nts_cookie" };
        }
        const nonceLen = u16(body, 0), ctLen = u16(body, 2);
        const noncePadded = (nonceLen + 3) & ~3, ctPadded = (ctLen + 3) & ~3;
        if (
          nonceLen < NTS_NONCE_LEN || ctLen < SIV_TAG_LEN ||
          4 + noncePadded + ctPadded > body.length ||
          !allZero(body, 4 + nonceLen, 4 + noncePadded) ||
          !allZero(body, 4 + noncePadded + ctLen, body.length)
        ) {
          return { ok: false, reason: "nts_authenticator" };
        }
        return {
          ok: true,
          fields: {
            uniqueId,
            cookies,
            placeholderLengths,
            authStart: at,
            nonce: body.subarray(4, 4 + nonceLen),
            ciphertext: body.subarray(4 + noncePadded, 4 + noncePadded + ctLen),
          },
        };
      }
      default:
        break; // RFC 7822: a field of unknown type is skipped
    }
    at += len;
  }
  return { ok: false, reason: uniqueId === null ? "nts_unique_id" : "nts_authenticator" };
}

/**
 * Reads the extension fields inside a decrypted authenticator (RFC 8915 §5.6: a run of whole
 * fields): the cookies among them, or null when the run is malformed (a field shorter than 4
 * bytes, not a multiple of 4, overrunning, too many, or a cookie too long).
 */
export function readEncryptedCookies(plain: Uint8Array): Uint8Array[] | null {
  const cookies: Uint8Array[] = [];
  let at = 0, count = 0;
  while (at < plain.length) {
    if (++count > MAX_NTS_FIELDS || at + 4 > plain.length) return null;
    const type = u16(plain, at), len = u16(plain, at + 2);
    if (len < 4 || (len & 3) !== 0 || at + len > plain.length) return null;
    if (type === EF_COOKIE) {
      if (len - 4 > MAX_COOKIE_LEN || len === 4) return null;
      cookies.push(plain.slice(at + 4, at + len));
    }
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
