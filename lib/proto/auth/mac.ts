// The symmetric-key MAC on NTP packets (RFC 5905 §7.3 and Appendix A.2, RFC 8573, ntpd 4.2.8):
// after the header and any extension fields come a 4-byte key id and the digest of everything
// before it. A key id alone (4 bytes, id 0) is a crypto-NAK: "your MAC did not verify".
//
// Signing writes into the packet buffer in place, after the transmit timestamp is final (the MAC
// covers it). Verification computes into a buffer owned by the verifier and compares in constant
// time. Neither allocates.

import { KEY_ID_LEN } from "../constants.ts";
import { constantTimeEqual } from "../crypto.ts";
import type { IpWords } from "../ip.ts";
import type { KeyStore, StoredKey } from "./key_store.ts";

/** Why a packet with a MAC was not authenticated, as stable codes for counters and logs. */
export const AUTH_FAILURES = [
  "truncated_mac", // shorter than the key's digest (or a key id with no digest but id ≠ 0)
  "unknown_key", // no key with this id
  "untrusted_key", // the key exists but is not trusted
  "address_excluded", // the key's address list (keys file, fourth field) excludes the sender
  "bad_mac", // the digest does not match (or has a length the key never produces)
] as const;

/** One reason a MAC was refused. */
export type AuthFailure = typeof AUTH_FAILURES[number];

/**
 * What {@link MacVerifier.verify} decided: "ok", "crypto_nak" (the peer says our MAC failed; not
 * itself authentic, so it must never change state beyond what an unauthenticated packet may), or
 * why it failed.
 */
export type MacVerdict = "ok" | "crypto_nak" | AuthFailure;

/** Longest digest Horae accepts (SHA-256 in full, as chrony sends it in NTPv3 packets). */
export const MAX_DIGEST_LEN = 32;

/** The key id of the MAC at `macOffset` (the caller has checked that 4 bytes are there). */
export function macKeyId(data: Uint8Array, macOffset: number): number {
  return ((data[macOffset]! << 24) | (data[macOffset + 1]! << 16) | (data[macOffset + 2]! << 8) |
    data[macOffset + 3]!) >>> 0;
}

function putKeyId(buf: Uint8Array, at: number, keyId: number): void {
  buf[at] = keyId >>> 24;
  buf[at + 1] = (keyId >>> 16) & 0xff;
  buf[at + 2] = (keyId >>> 8) & 0xff;
  buf[at + 3] = keyId & 0xff;
}

/**
 * The digest length to send with `key` in a packet of `version`: the full length in versions 1–3,
 * at most 20 bytes in version 4 (ntpd; chrony does the same). A reply should rather mirror the
 * length of the request it answers (chrony's NTPv3 requests carry full SHA-256 digests).
 */
export function digestLengthFor(key: StoredKey, version: number): number {
  return version >= 4 ? key.v4DigestLength : key.outputLength;
}

/**
 * Signs the packet in `buf[0, macOffset)` with `key`: writes the key id at `macOffset` and the
 * first `digestLength` bytes of the MAC after it. Call it after every byte before `macOffset`
 * (the transmit timestamp included) is final. Returns the packet's new length. Throws a
 * RangeError when `buf` is too short or the length is one the key cannot produce (a caller bug,
 * never input).
 */
export function signPacket(
  buf: Uint8Array,
  macOffset: number,
  key: StoredKey,
  digestLength: number = key.v4DigestLength,
): number {
  const end = macOffset + KEY_ID_LEN + digestLength;
  if (!key.acceptsDigestLength(digestLength)) {
    throw new RangeError(`a ${key.algorithm} MAC has no ${digestLength}-byte form`);
  }
  if ((macOffset & 3) !== 0 || macOffset < 0 || end > buf.length) {
    throw new RangeError(`no room for a ${end - macOffset}-byte MAC at ${macOffset}`);
  }
  putKeyId(buf, macOffset, key.id);
  key.mac.compute(buf, 0, macOffset, buf, macOffset + KEY_ID_LEN, digestLength);
  return end;
}

/**
 * The packet `data` with a MAC under `key` appended, its digest as long as `version` sends
 * ({@link digestLengthFor}): a new buffer, `data` is left as it is.
 */
export function withMac(data: Uint8Array, key: StoredKey, version: number): Uint8Array {
  const d = digestLengthFor(key, version);
  const out = new Uint8Array(data.length + KEY_ID_LEN + d);
  out.set(data);
  signPacket(out, data.length, key, d);
  return out;
}

/** Writes a crypto-NAK (a zero key id alone) at `macOffset`; returns the packet's new length. */
export function writeCryptoNak(buf: Uint8Array, macOffset: number): number {
  if ((macOffset & 3) !== 0 || macOffset < 0 || macOffset + KEY_ID_LEN > buf.length) {
    throw new RangeError(`no room for a crypto-NAK at ${macOffset}`);
  }
  putKeyId(buf, macOffset, 0);
  return macOffset + KEY_ID_LEN;
}

/** True when the `length`-byte packet ends in a crypto-NAK at `macOffset`. */
export function isCryptoNak(data: Uint8Array, length: number, macOffset: number): boolean {
  return macOffset >= 0 && length - macOffset === KEY_ID_LEN && macKeyId(data, macOffset) === 0;
}

/**
 * Verifies MACs against a {@link KeyStore}, counting each failure by reason. One per thread: it
 * owns the buffer it computes into.
 *
 * @example
 * ```ts
 * const verifier = new MacVerifier(store);
 * const verdict = verifier.verify(datagram, datagram.length, 48, sender);
 * if (verdict !== "ok") drop(verdict);
 * ```
 */
export class MacVerifier {
  /** The keys it checks against (replace with {@link setStore} after a reload). */
  #store: KeyStore;
  readonly #digest = new Uint8Array(MAX_DIGEST_LEN);
  readonly #failures = new Float64Array(AUTH_FAILURES.length);
  /** Key id of the last verified MAC (0 when none): the association and the reply use it. */
  lastKeyId = 0;

  constructor(store: KeyStore) {
    this.#store = store;
  }

  /** Uses a new key list from now on (keys file reloaded). */
  setStore(store: KeyStore): void {
    this.#store = store;
  }

  /** The key list in use. */
  get store(): KeyStore {
    return this.#store;
  }

  /**
   * Judges the MAC at `macOffset` of the `length`-byte packet in `data`, sent from `from` (null
   * when unknown: a key with an address list then refuses). Order: form, key id, trust, address,
   * then the digest, so that a packet that can be refused cheaply costs no MAC computation.
   * Failures are counted; "ok" sets {@link lastKeyId}.
   */
  verify(data: Uint8Array, length: number, macOffset: number, from: IpWords | null): MacVerdict {
    const verdict = this.#judge(data, length, macOffset, from);
    if (verdict !== "ok" && verdict !== "crypto_nak") {
      this.#failures[AUTH_FAILURES.indexOf(verdict)]!++;
    }
    return verdict;
  }

  #judge(data: Uint8Array, length: number, macOffset: number, from: IpWords | null): MacVerdict {
    this.lastKeyId = 0;
    const digestLength = length - macOffset - KEY_ID_LEN;
    if (macOffset < 0 || digestLength < 0 || length > data.length) return "truncated_mac";
    const keyId = macKeyId(data, macOffset);
    if (digestLength === 0) return keyId === 0 ? "crypto_nak" : "truncated_mac";
    const key = this.#store.get(keyId);
    if (key === undefined) return "unknown_key";
    if (!key.trusted) return "untrusted_key";
    if (!key.allows(from)) return "address_excluded";
    if (!key.acceptsDigestLength(digestLength)) {
      return digestLength < key.v4DigestLength ? "truncated_mac" : "bad_mac";
    }
    const mine = this.#digest;
    key.mac.compute(data, 0, macOffset, mine, 0, digestLength);
    if (!constantTimeEqual(mine, 0, data, macOffset + KEY_ID_LEN, digestLength)) return "bad_mac";
    this.lastKeyId = keyId;
    return "ok";
  }

  /** How many packets failed for `reason` since this verifier was made. */
  failures(reason: AuthFailure): number {
    return this.#failures[AUTH_FAILURES.indexOf(reason)]!;
  }
}
