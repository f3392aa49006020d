// NTP packet codec: the RFC 5905 §7.3 header for versions 1–4, RFC 7822 extension fields and the
// symmetric-key MAC trailer of ntpd 4.2.x (MD5, SHA-1, crypto-NAK; the full SHA-256 digest that
// chronyd 4.x sends in NTPv3 packets). Decoding never throws.

import {
  CRYPTO_NAK_LEN,
  KEY_ID_LEN,
  LEN_PKT_NOMAC,
  MAX_EXTENSION_LEN,
  MD5_DIGEST_LEN,
  MIN_EXTENSION_LEN,
  MODE_ACTIVE,
  MODE_BROADCAST,
  MODE_CLIENT,
  MODE_CONTROL,
  MODE_PASSIVE,
  MODE_PRIVATE,
  MODE_SERVER,
  SHA1_DIGEST_LEN,
} from "./constants.ts";
import type { LeapIndicator, Mode } from "./constants.ts";
import type { NtpTimestamp } from "./ntp_time.ts";
import { shortToSec } from "./ntp_time.ts";

export { LeapIndicator, Mode } from "./constants.ts";

/** An RFC 7822 extension field: a 16-bit type and its value, padding included. */
export interface ExtensionField {
  /** Field type (16 bits). */
  type: number;
  /**
   * The value that follows the 4-byte type/length header, padding included, so the field's
   * length on the wire is `4 + body.length` (a multiple of 4, at least 16).
   */
  body: Uint8Array;
}

/**
 * The symmetric-key MAC trailer: a key id and a digest (16: MD5 or AES-CMAC, 20: SHA-1 or a cut
 * SHA-256, 32: a full SHA-256 in versions 1–3, 0: crypto-NAK).
 */
export interface Mac {
  /** Key identifier (32 bits); 0 in a crypto-NAK. */
  keyId: number;
  /** The digest bytes: 16, 20, 32 (versions 1–3 only) or 0 (crypto-NAK: the key id alone). */
  digest: Uint8Array;
}

/**
 * A full SHA-256 digest. chronyd 4.x signs with a SHA-256 key in NTPv3 packets carrying all 32
 * bytes (84-byte packets); in version 4 the same length could be an extension field (RFC 7822
 * §7.5), so it is a MAC in versions 1–3 only.
 */
const SHA256_DIGEST_LEN = 32;

/**
 * One NTP packet of modes 0–5 (RFC 5905 §7.3). Raw wire values are kept exactly so that encoding
 * a decoded packet gives back the same bytes; helpers convert them (`rootDelaySec`, `refidToString`,
 * `fromTimestamp` in ntp_time.ts for timestamps).
 */
export interface NtpPacket {
  /** Leap indicator (2 bits). */
  leap: LeapIndicator;
  /** Version number (3 bits); the decoder accepts 1–4. */
  version: number;
  /** Association mode (3 bits); modes 6 and 7 have other layouts and are not NtpPackets. */
  mode: Mode;
  /** Stratum (0 = unspecified or kiss-o'-death, 1 = primary, 2–15 secondary, 16 unsynchronised). */
  stratum: number;
  /** Poll interval as a signed log2 of seconds. */
  pollLog2: number;
  /** Clock precision as a signed log2 of seconds. */
  precisionLog2: number;
  /** Root delay in NTP short format (unsigned 16.16 seconds), raw. */
  rootDelayShort: number;
  /** Root dispersion in NTP short format (unsigned 16.16 seconds), raw. */
  rootDispersionShort: number;
  /** Reference id, raw 32 bits (see `refidToString`, `kissCode`). */
  refid: number;
  /** Reference timestamp (raw 64-bit wire value). */
  referenceTimestamp: NtpTimestamp;
  /** Origin timestamp (raw 64-bit wire value). */
  originTimestamp: NtpTimestamp;
  /** Receive timestamp (raw 64-bit wire value). */
  receiveTimestamp: NtpTimestamp;
  /** Transmit timestamp (raw 64-bit wire value). */
  transmitTimestamp: NtpTimestamp;
  /** Extension fields in wire order (version 4 only; empty otherwise). */
  extensions: ExtensionField[];
  /** MAC trailer, or null when the packet carries none. */
  mac: Mac | null;
}

/** Every reason `decodePacket` can give, as stable codes for counters and logs. */
export const DECODE_ERRORS = [
  "too_short", // fewer than 48 bytes (or empty)
  "bad_length", // total length not a multiple of 4
  "bad_version", // version 0 or 5–7
  "bad_extension", // an extension field's length is < 16, not a multiple of 4 or overruns the packet
  "bad_mac_length", // what follows the header and extension fields is not a MAC (4, 20, 24 or
  // 36 bytes; 36 in versions 1–3 only)
  "mode6", // a control message (ntpq): different layout, decode with the mode 6 codec
  "mode7", // a private message (ntpdc): different layout, decode with the mode 7 codec
] as const;

/** A stable reason code for a packet that `decodePacket` did not accept. */
export type DecodeError = typeof DECODE_ERRORS[number];

/** The result of `decodePacket`: the packet, or the reason it was rejected. */
export type DecodeResult =
  | { ok: true; packet: NtpPacket }
  | { ok: false; reason: DecodeError };

/**
 * True when `n` bytes after the header/extensions form a MAC trailer in a packet of `version`:
 * 4, 20 or 24 bytes, and 36 (a full SHA-256) in versions 1–3.
 */
function isMacTrailerLength(n: number, version: number): boolean {
  return n === CRYPTO_NAK_LEN || n === KEY_ID_LEN + MD5_DIGEST_LEN ||
    n === KEY_ID_LEN + SHA1_DIGEST_LEN || (n === KEY_ID_LEN + SHA256_DIGEST_LEN && version < 4);
}

/**
 * Checks the first byte and the length of a datagram: the part of validation that needs no
 * parsing. Shared by `decodePacket` and `PacketPeek` so they always agree.
 */
function checkFrame(bytes: Uint8Array, length: number): DecodeError | null {
  if (length < 1) return "too_short";
  const b0 = bytes[0]!;
  const mode = b0 & 7;
  // Control and private messages are routed by mode before anything else: their headers are
  // shorter than 48 bytes and their versions follow their own rules.
  if (mode === MODE_CONTROL) return "mode6";
  if (mode === MODE_PRIVATE) return "mode7";
  const version = (b0 >> 3) & 7;
  if (version < 1 || version > 4) return "bad_version";
  if (length < LEN_PKT_NOMAC) return "too_short";
  if ((length & 3) !== 0) return "bad_length";
  return null;
}

/**
 * Decodes an NTP datagram of modes 0–5 into an `NtpPacket`. Never throws: anything malformed
 * becomes `{ok: false, reason}`.
 *
 * Rules: at least 48 bytes and a multiple of 4; version 1–4. After the header, a remainder of 4
 * (crypto-NAK), 20 (MD5, AES-CMAC) or 24 bytes (SHA-1, SHA-256 cut to 20) is a MAC, and in
 * versions 1–3 also 36 bytes (a full SHA-256, as chronyd sends it). Otherwise, in version 4 only, extension
 * fields follow (RFC 7822: length ≥ 16, a multiple of 4, inside the packet) until what is left is
 * empty or a MAC. Versions 1–3 allow only a MAC. Modes 6 and 7 are reported as "mode6"/"mode7"
 * for the daemon to route to their own codecs. Byte arrays in the result are copies, so the input
 * buffer may be reused at once.
 *
 * @example
 * ```ts
 * const r = decodePacket(datagram);
 * if (r.ok) console.log(r.packet.transmitTimestamp);
 * else counters[r.reason]++;
 * ```
 */
export function decodePacket(bytes: Uint8Array): DecodeResult {
  const length = bytes.length;
  const frameError = checkFrame(bytes, length);
  if (frameError !== null) return { ok: false, reason: frameError };
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const b0 = bytes[0]!;
  const version = (b0 >> 3) & 7;

  const extensions: ExtensionField[] = [];
  let offset = LEN_PKT_NOMAC;
  let rest = length - offset;
  if (rest !== 0 && !isMacTrailerLength(rest, version)) {
    if (version !== 4) return { ok: false, reason: "bad_mac_length" };
    while (rest !== 0 && !isMacTrailerLength(rest, version)) {
      if (rest < MIN_EXTENSION_LEN) return { ok: false, reason: "bad_mac_length" };
      const type = view.getUint16(offset, false);
      const fieldLength = view.getUint16(offset + 2, false);
      if (fieldLength < MIN_EXTENSION_LEN || (fieldLength & 3) !== 0 || fieldLength > rest) {
        return { ok: false, reason: "bad_extension" };
      }
      extensions.push({ type, body: bytes.slice(offset + 4, offset + fieldLength) });
      offset += fieldLength;
      rest -= fieldLength;
    }
  }
  const mac = rest === 0 ? null : {
    keyId: view.getUint32(offset, false),
    digest: bytes.slice(offset + KEY_ID_LEN, length),
  };

  return {
    ok: true,
    packet: {
      leap: (b0 >> 6) as LeapIndicator,
      version,
      mode: (b0 & 7) as Mode,
      stratum: bytes[1]!,
      pollLog2: view.getInt8(2),
      precisionLog2: view.getInt8(3),
      rootDelayShort: view.getUint32(4, false),
      rootDispersionShort: view.getUint32(8, false),
      refid: view.getUint32(12, false),
      referenceTimestamp: view.getBigUint64(16, false),
      originTimestamp: view.getBigUint64(24, false),
      receiveTimestamp: view.getBigUint64(32, false),
      transmitTimestamp: view.getBigUint64(40, false),
      extensions,
      mac,
    },
  };
}

/**
 * Why `p` cannot be encoded so that `decodePacket` reads it back identically, or null when it can.
 * Checks field ranges, extension field sizes (RFC 7822) and that extension fields and MAC cannot be
 * confused on decoding (a 16 or 20-byte last field before a crypto-NAK, or a 20 or 24-byte last
 * field without MAC, would read back as a MAC).
 */
export function checkEncodable(p: NtpPacket): string | null {
  if (!isUint(p.leap, 3)) return "leap must be 0–3";
  if (!isUint(p.version, 7)) return "version must be 0–7";
  if (!isUint(p.mode, 7)) return "mode must be 0–7";
  if (!isUint(p.stratum, 255)) return "stratum must be 0–255";
  if (!isInt8(p.pollLog2)) return "pollLog2 must be −128–127";
  if (!isInt8(p.precisionLog2)) return "precisionLog2 must be −128–127";
  if (!isUint(p.rootDelayShort, 0xffffffff)) return "rootDelayShort must be a u32";
  if (!isUint(p.rootDispersionShort, 0xffffffff)) return "rootDispersionShort must be a u32";
  if (!isUint(p.refid, 0xffffffff)) return "refid must be a u32";
  if (
    !isU64(p.referenceTimestamp) || !isU64(p.originTimestamp) || !isU64(p.receiveTimestamp) ||
    !isU64(p.transmitTimestamp)
  ) return "timestamps must be 64-bit unsigned bigints";
  const macLength = p.mac === null ? 0 : KEY_ID_LEN + p.mac.digest.length;
  if (p.mac !== null) {
    if (!isUint(p.mac.keyId, 0xffffffff)) return "mac.keyId must be a u32";
    if (!isMacTrailerLength(macLength, p.version)) {
      return "mac.digest must be 0, 16 or 20 bytes (or 32 in versions 1–3)";
    }
  }
  if (p.extensions.length > 0) {
    if (p.version !== 4) return "extension fields need version 4";
    // Walk as the decoder will: before each field, what remains must not look like a MAC.
    let rest = macLength;
    for (const ef of p.extensions) rest += 4 + ef.body.length;
    for (const ef of p.extensions) {
      const fieldLength = 4 + ef.body.length;
      if (!isUint(ef.type, 0xffff)) return "extension type must be a u16";
      if (fieldLength < MIN_EXTENSION_LEN || fieldLength > MAX_EXTENSION_LEN) {
        return "extension field length must be 16–65532 bytes";
      }
      if ((fieldLength & 3) !== 0) return "extension field length must be a multiple of 4";
      if (isMacTrailerLength(rest, p.version)) return "extension fields would decode as a MAC";
      rest -= fieldLength;
    }
  }
  return null;
}

/** Number of bytes `encodePacket(p)` produces. */
export function encodedLength(p: NtpPacket): number {
  let length = LEN_PKT_NOMAC;
  for (const ef of p.extensions) length += 4 + ef.body.length;
  if (p.mac !== null) length += KEY_ID_LEN + p.mac.digest.length;
  return length;
}

/**
 * Encodes `p` into `buf` at `offset` and returns the number of bytes written: the form of
 * `encodePacket` for the server's hot path, writing into a reused (e.g. sendmmsg) buffer. Throws a RangeError when `p` fails
 * `checkEncodable` or `buf` is too small (both are programming errors, not bad input).
 */
export function encodePacketInto(p: NtpPacket, buf: Uint8Array, offset = 0): number {
  const problem = checkEncodable(p);
  if (problem !== null) throw new RangeError(`encodePacket: ${problem}`);
  const length = encodedLength(p);
  if (offset < 0 || offset + length > buf.length) {
    throw new RangeError(`encodePacket: needs ${length} bytes at offset ${offset}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  view.setUint8(0, (p.leap << 6) | (p.version << 3) | p.mode);
  view.setUint8(1, p.stratum);
  view.setInt8(2, p.pollLog2);
  view.setInt8(3, p.precisionLog2);
  view.setUint32(4, p.rootDelayShort, false);
  view.setUint32(8, p.rootDispersionShort, false);
  view.setUint32(12, p.refid, false);
  view.setBigUint64(16, p.referenceTimestamp, false);
  view.setBigUint64(24, p.originTimestamp, false);
  view.setBigUint64(32, p.receiveTimestamp, false);
  view.setBigUint64(40, p.transmitTimestamp, false);
  let at = LEN_PKT_NOMAC;
  for (const ef of p.extensions) {
    view.setUint16(at, ef.type, false);
    view.setUint16(at + 2, 4 + ef.body.length, false);
    buf.set(ef.body, offset + at + 4);
    at += 4 + ef.body.length;
  }
  if (p.mac !== null) {
    view.setUint32(at, p.mac.keyId, false);
    buf.set(p.mac.digest, offset + at + KEY_ID_LEN);
  }
  return length;
}

/**
 * Encodes `p` to a new byte array. `decodePacket(encodePacket(p))` gives back `p`, and
 * `encodePacket(decodePacket(b).packet)` gives back `b`. Throws a RangeError when `p` fails
 * `checkEncodable`.
 */
export function encodePacket(p: NtpPacket): Uint8Array {
  const buf = new Uint8Array(encodedLength(p));
  encodePacketInto(p, buf);
  return buf;
}

/**
 * A client (mode 3) request that tells nothing of the client's own state: leap 3 (not
 * synchronised), stratum 0, zero root values, refid and timestamps, except `transmitTimestamp`,
 * which the server echoes as the origin. No MAC: a signed request gets one appended.
 */
export function encodeClientRequest(r: {
  version: number;
  pollLog2: number;
  precisionLog2: number;
  transmitTimestamp: NtpTimestamp;
}): Uint8Array {
  return encodePacket({
    leap: 3,
    version: r.version,
    mode: MODE_CLIENT,
    stratum: 0,
    pollLog2: r.pollLog2,
    precisionLog2: r.precisionLog2,
    rootDelayShort: 0,
    rootDispersionShort: 0,
    refid: 0,
    referenceTimestamp: 0n,
    originTimestamp: 0n,
    receiveTimestamp: 0n,
    transmitTimestamp: r.transmitTimestamp,
    extensions: [],
    mac: null,
  });
}

/** Root delay of `p` in seconds. */
export function rootDelaySec(p: NtpPacket): number {
  return shortToSec(p.rootDelayShort);
}

/** Root dispersion of `p` in seconds. */
export function rootDispersionSec(p: NtpPacket): number {
  return shortToSec(p.rootDispersionShort);
}

/** True when `p` is a crypto-NAK: its MAC is a zero key id without digest. */
export function isCryptoNak(p: NtpPacket): boolean {
  return p.mac !== null && p.mac.keyId === 0 && p.mac.digest.length === 0;
}

/**
 * The refid as ASCII (RFC 5905 §7.3: stratum 0 kiss codes and stratum 1 source names such as
 * "GPS"): trailing NUL bytes are dropped and any other byte outside printable ASCII becomes ".".
 */
export function refidToAscii(refid: number): string {
  let end = 4;
  while (end > 0 && ((refid >>> (8 * (4 - end))) & 0xff) === 0) end--;
  let s = "";
  for (let i = 0; i < end; i++) {
    const c = (refid >>> (24 - 8 * i)) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
  }
  return s;
}

/** The refid as a dotted IPv4 address (stratum ≥ 2: the upstream server's address). */
export function refidToIpv4(refid: number): string {
  return `${refid >>> 24}.${(refid >>> 16) & 0xff}.${(refid >>> 8) & 0xff}.${refid & 0xff}`;
}

/**
 * The refid rendered as ntpq shows it: ASCII for stratum 0 and 1, dotted IPv4 otherwise (for IPv6
 * upstreams the refid is a hash and still shown dotted).
 */
export function refidToString(refid: number, stratum: number): string {
  return stratum <= 1 ? refidToAscii(refid) : refidToIpv4(refid);
}

/** Packs up to 4 ASCII characters into a refid (NUL padded), or null if `s` does not fit. */
export function refidFromAscii(s: string): number | null {
  if (s.length > 4) return null;
  let refid = 0;
  for (let i = 0; i < 4; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c > 0x7f) return null;
    refid = refid * 256 + c;
  }
  return refid;
}

/** Parses a dotted IPv4 address into a refid, or null if it is not one. */
export function refidFromIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return null;
  let refid = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    refid = refid * 256 + octet;
  }
  return refid;
}

/**
 * The kiss code of a kiss-o'-death packet (RFC 5905 §7.4): when the stratum is 0 and the mode is
 * one a server or peer answers with (symmetric active or passive, server, broadcast), the refid's
 * ASCII text, e.g. "RATE", "DENY", "RSTR", "INIT". Null for other packets or when the refid is not
 * printable ASCII. See `KISS_CODES` in constants.ts for the known codes.
 */
export function kissCode(p: NtpPacket): string | null {
  if (p.stratum !== 0) return null;
  if (
    p.mode !== MODE_SERVER && p.mode !== MODE_ACTIVE && p.mode !== MODE_PASSIVE &&
    p.mode !== MODE_BROADCAST
  ) return null;
  const code = refidToAscii(p.refid);
  return code.length === 0 || code.includes(".") ? null : code;
}

/**
 * Allocation-free reader of the fields a server needs, for the hot path. One instance is reused
 * for every datagram: `read()` runs the same checks as `decodePacket` except the extension field
 * walk, then the getters read straight from the buffer (no object, no bigint). A request whose
 * trailer is not a plain MAC (`hasExtensions`) goes to the full `decodePacket`.
 *
 * @example
 * ```ts
 * const peek = new PacketPeek();
 * if (peek.read(buf, n) === "ok" && peek.mode === Mode.Client && !peek.hasExtensions) {
 *   peek.copyTransmit(reply, 24); // the client's transmit becomes the reply's origin timestamp
 * }
 * ```
 */
export class PacketPeek {
  #bytes: Uint8Array = new Uint8Array(LEN_PKT_NOMAC);
  #length = 0;
  #macOffset = -1;
  #hasExtensions = false;

  /**
   * Checks `bytes[0..length)` and remembers it (the buffer is not copied: use the getters before
   * reusing it). Returns "ok" or the `decodePacket` reason; a malformed extension field is not
   * detected here (it shows as `hasExtensions`), everything else gives the same answer.
   */
  read(bytes: Uint8Array, length: number = bytes.length): "ok" | DecodeError {
    const n = Math.min(length, bytes.length);
    this.#bytes = bytes;
    this.#length = n;
    this.#macOffset = -1;
    this.#hasExtensions = false;
    const frameError = checkFrame(bytes, n);
    if (frameError !== null) return frameError;
    const rest = n - LEN_PKT_NOMAC;
    if (rest === 0) return "ok";
    if (isMacTrailerLength(rest, (bytes[0]! >> 3) & 7)) {
      this.#macOffset = LEN_PKT_NOMAC;
      return "ok";
    }
    if (this.version !== 4) return "bad_mac_length";
    if (rest < MIN_EXTENSION_LEN) return "bad_mac_length";
    this.#hasExtensions = true;
    return "ok";
  }

  /** Length of the datagram last read. */
  get length(): number {
    return this.#length;
  }

  /** Leap indicator. */
  get leap(): LeapIndicator {
    return (this.#bytes[0]! >> 6) as LeapIndicator;
  }

  /** Version number. */
  get version(): number {
    return (this.#bytes[0]! >> 3) & 7;
  }

  /** Mode. */
  get mode(): Mode {
    return (this.#bytes[0]! & 7) as Mode;
  }

  /** Stratum. */
  get stratum(): number {
    return this.#bytes[1]!;
  }

  /** Poll exponent (signed). */
  get pollLog2(): number {
    return (this.#bytes[2]! << 24) >> 24;
  }

  /** True when extension fields follow the header (decode fully to read or verify them). */
  get hasExtensions(): boolean {
    return this.#hasExtensions;
  }

  /** Offset of the MAC's key id when the header is followed by a MAC alone, else −1. */
  get macOffset(): number {
    return this.#macOffset;
  }

  /** Key id of that MAC, or −1 when there is none (or the packet has extension fields). */
  get keyId(): number {
    return this.#macOffset < 0 ? -1 : this.#u32(this.#macOffset);
  }

  /** Whole seconds (high 32 bits) of the transmit timestamp. */
  get transmitSeconds(): number {
    return this.#u32(40);
  }

  /** Fraction (low 32 bits) of the transmit timestamp. */
  get transmitFraction(): number {
    return this.#u32(44);
  }

  /** The transmit timestamp as a bigint (allocates; prefer `copyTransmit` on the hot path). */
  transmitTimestamp(): NtpTimestamp {
    return (BigInt(this.#u32(40)) << 32n) | BigInt(this.#u32(44));
  }

  /** Copies the 8 transmit timestamp bytes to `dest` at `offset` (e.g. 24: a reply's origin). */
  copyTransmit(dest: Uint8Array, offset: number): void {
    // Byte by byte: a subarray view per packet would be the hot path's only allocation.
    const b = this.#bytes;
    for (let i = 0; i < 8; i++) dest[offset + i] = b[40 + i]!;
  }

  #u32(at: number): number {
    const b = this.#bytes;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

function isU64(v: bigint): boolean {
  return typeof v === "bigint" && v >= 0n && v <= 0xffff_ffff_ffff_ffffn;
}

function isInt8(v: number): boolean {
  return Number.isInteger(v) && v >= -128 && v <= 127;
}
