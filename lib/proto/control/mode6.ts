// The NTP control message (mode 6) codec, RFC 9327 §2–§3 as ntpd 4.2.x and NTPsec speak it: the
// 12-byte header, the data area of at most 468 bytes per datagram, padding, where the MAC of an
// authenticated message sits, fragmentation of long answers and their reassembly by a client.
// Shared by the daemon's control server and `horae query`; no I/O.

import { KEY_ID_LEN, MODE_CONTROL } from "../constants.ts";

/** Length of the control header, bytes. */
export const CTL_HEADER_LEN = 12;
/** Largest data area of one control datagram (one fragment), bytes. */
export const CTL_MAX_DATA_LEN = 468;
/** Response bit of the second header byte. */
export const CTL_RESPONSE = 0x80;
/** Error bit of the second header byte. */
export const CTL_ERROR = 0x40;
/** More bit: further fragments follow. */
export const CTL_MORE = 0x20;
/** Opcode bits of the second header byte. */
export const CTL_OP_MASK = 0x1f;
/** The MAC of an authenticated control message starts on a multiple of 8 bytes. */
export const CTL_MAC_ALIGN = 8;
/** Shortest digest a MAC may carry (MD5 and AES-CMAC), bytes. */
export const CTL_MIN_DIGEST_LEN = 16;
/** Longest digest a MAC may carry (SHA-256 in full), bytes. */
export const CTL_MAX_DIGEST_LEN = 32;
/** Fragments a client accepts for one answer (NTPsec's ntpq asks for at most 32). */
export const CTL_MAX_FRAGMENTS = 32;

/** Control opcodes (RFC 9327 §2; ntpd's CTL_OP_*). */
export const CtlOp = {
  UNSPEC: 0,
  READSTAT: 1,
  READVAR: 2,
  WRITEVAR: 3,
  READCLOCK: 4,
  WRITECLOCK: 5,
  SETTRAP: 6,
  ASYNCMSG: 7,
  CONFIGURE: 8,
  SAVECONFIG: 9,
  READ_MRU: 10,
  READ_ORDLIST_A: 11,
  REQ_NONCE: 12,
  UNSETTRAP: 31,
} as const;

/** Error codes carried in the high byte of the status word of an error response. */
export const CtlErr = {
  UNSPEC: 0,
  PERMISSION: 1,
  BADFMT: 2,
  BADOP: 3,
  BADASSOC: 4,
  UNKNOWNVAR: 5,
  BADVALUE: 6,
  RESTRICT: 7,
} as const;

/** The messages ntpq prints for each error code. */
export const CTL_ERROR_TEXT: readonly string[] = [
  "unspecified error",
  "permission denied",
  "bad format",
  "bad opcode",
  "unknown association",
  "unknown variable",
  "bad value",
  "access denied",
];

/** The fields of a control header. */
export interface ControlHeader {
  /** NTP version (1–4). */
  version: number;
  /** The R bit: this is a response. */
  response: boolean;
  /** The E bit: the response is an error (its code in the status word's high byte). */
  error: boolean;
  /** The M bit: more fragments follow. */
  more: boolean;
  /** Opcode (5 bits). */
  opcode: number;
  /** Sequence number the response echoes. */
  sequence: number;
  /** Status word (system, peer or clock status; an error code in an error response). */
  status: number;
  /** Association id (0: the system). */
  associd: number;
  /** Offset of this fragment's data in the whole answer. */
  offset: number;
  /** Data bytes in this datagram. */
  count: number;
}

/** A decoded control message. */
export interface ControlMessage extends ControlHeader {
  /** The data area (`count` bytes; a view into the datagram). */
  data: Uint8Array;
  /** Where the MAC starts (the key id), or −1 when the message carries none. */
  macOffset: number;
  /** Key id of the MAC (0 without one). */
  keyId: number;
}

/** Why a datagram is not a control message. */
export type ControlDecodeError =
  | "too_short"
  | "bad_mode"
  | "bad_version"
  | "bad_count"
  | "bad_offset";

/** Result of {@link decodeControl}: never throws. */
export type ControlDecodeResult =
  | { ok: true; message: ControlMessage }
  | { ok: false; reason: ControlDecodeError };

/** Bytes from the start of a message to its MAC when it carries `count` data bytes. */
export function controlMacOffset(count: number): number {
  const end = CTL_HEADER_LEN + count;
  return Math.ceil(end / CTL_MAC_ALIGN) * CTL_MAC_ALIGN;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/**
 * Decodes a control datagram. A MAC is recognised as ntpd does: after the data padded to a
 * multiple of 8 bytes, a key id and a digest of 16 to 32 bytes, the whole a multiple of 4 bytes
 * long; anything shorter after the data is padding.
 */
export function decodeControl(bytes: Uint8Array): ControlDecodeResult {
  const n = bytes.length;
  if (n < CTL_HEADER_LEN) return { ok: false, reason: "too_short" };
  const b0 = bytes[0]!;
  if ((b0 & 7) !== MODE_CONTROL) return { ok: false, reason: "bad_mode" };
  const version = (b0 >> 3) & 7;
  if (version < 1 || version > 4) return { ok: false, reason: "bad_version" };
  const b1 = bytes[1]!;
  const count = u16(bytes, 10);
  const offset = u16(bytes, 8);
  if (count > CTL_MAX_DATA_LEN || CTL_HEADER_LEN + count > n) {
    return { ok: false, reason: "bad_count" };
  }
  if (offset + count > 0xffff) return { ok: false, reason: "bad_offset" };
  let macOffset = -1;
  let keyId = 0;
  const macAt = controlMacOffset(count);
  const macLen = n - macAt;
  if (
    (n & 3) === 0 && macLen >= KEY_ID_LEN + CTL_MIN_DIGEST_LEN &&
    macLen <= KEY_ID_LEN + CTL_MAX_DIGEST_LEN
  ) {
    macOffset = macAt;
    keyId = ((bytes[macAt]! << 24) | (bytes[macAt + 1]! << 16) | (bytes[macAt + 2]! << 8) |
      bytes[macAt + 3]!) >>> 0;
  }
  return {
    ok: true,
    message: {
      version,
      response: (b1 & CTL_RESPONSE) !== 0,
      error: (b1 & CTL_ERROR) !== 0,
      more: (b1 & CTL_MORE) !== 0,
      opcode: b1 & CTL_OP_MASK,
      sequence: u16(bytes, 2),
      status: u16(bytes, 4),
      associd: u16(bytes, 6),
      offset,
      count,
      data: bytes.subarray(CTL_HEADER_LEN, CTL_HEADER_LEN + count),
      macOffset,
      keyId,
    },
  };
}

/** Writes a header into `out` at 0 (count from `h.count`). */
export function writeControlHeader(out: Uint8Array, h: ControlHeader): void {
  out[0] = ((h.version & 7) << 3) | MODE_CONTROL;
  out[1] = (h.response ? CTL_RESPONSE : 0) | (h.error ? CTL_ERROR : 0) | (h.more ? CTL_MORE : 0) |
    (h.opcode & CTL_OP_MASK);
  put16(out, 2, h.sequence);
  put16(out, 4, h.status);
  put16(out, 6, h.associd);
  put16(out, 8, h.offset);
  put16(out, 10, h.count);
}

/**
 * One control datagram: the header, `data`, zero padding to a multiple of 4 bytes, and room
 * for `macRoom` more bytes after the data padded to 8 (for a MAC the caller writes; 0: none).
 * `h.count` is taken from `data`.
 */
export function encodeControl(
  h: Omit<ControlHeader, "count">,
  data: Uint8Array = new Uint8Array(0),
  macRoom = 0,
): Uint8Array {
  if (data.length > CTL_MAX_DATA_LEN) {
    throw new RangeError(`control data of ${data.length} bytes exceeds ${CTL_MAX_DATA_LEN}`);
  }
  const end = CTL_HEADER_LEN + data.length;
  const len = macRoom > 0 ? controlMacOffset(data.length) + macRoom : (end + 3) & ~3;
  const out = new Uint8Array(len);
  writeControlHeader(out, { ...h, count: data.length });
  out.set(data, CTL_HEADER_LEN);
  return out;
}

/** What identifies an answer: the request's version, opcode, sequence and association. */
export interface AnswerTo {
  version: number;
  opcode: number;
  sequence: number;
  associd: number;
}

/**
 * The datagrams of an answer: `data` cut into fragments of at most `fragmentLen` bytes (each a
 * multiple of 4 except the last), the M bit on all but the last, each with its offset. An empty
 * answer is one datagram with no data. `macRoom` reserves room for a MAC in every fragment.
 */
export function fragmentAnswer(
  to: AnswerTo,
  status: number,
  data: Uint8Array,
  fragmentLen = CTL_MAX_DATA_LEN,
  macRoom = 0,
): Uint8Array[] {
  const size = Math.max(4, Math.min(CTL_MAX_DATA_LEN, fragmentLen)) & ~3;
  const out: Uint8Array[] = [];
  let offset = 0;
  do {
    const chunk = data.subarray(offset, Math.min(data.length, offset + size));
    const more = offset + chunk.length < data.length;
    out.push(encodeControl(
      {
        version: to.version,
        response: true,
        error: false,
        more,
        opcode: to.opcode,
        sequence: to.sequence,
        status,
        associd: to.associd,
        offset,
      },
      chunk,
      macRoom,
    ));
    offset += chunk.length;
  } while (offset < data.length);
  return out;
}

/** An error response: 12 bytes, the E bit, the code in the status word's high byte. */
export function errorAnswer(to: AnswerTo, code: number): Uint8Array {
  return encodeControl({
    version: to.version,
    response: true,
    error: true,
    more: false,
    opcode: to.opcode,
    sequence: to.sequence,
    status: (code & 0xff) << 8,
    associd: to.associd,
    offset: 0,
  });
}

/** Result of feeding a datagram to a {@link Reassembler}. */
export type ReassemblyStep =
  /** Not for this request (other sequence, opcode, a request, garbage): ignored. */
  | "ignored"
  /** A fragment was kept; more are missing. */
  | "incomplete"
  /** Every fragment is in: {@link Reassembler.data} is the answer. */
  | "complete"
  /** The server answered with an error: {@link Reassembler.errorCode}. */
  | "error"
  /** Fragments contradict each other (overlap, a second last fragment, too many). */
  | "bad";

/**
 * Puts the fragments of one answer back together, in whatever order they arrive, checking that
 * they belong to the request (sequence and opcode), do not overlap, and leave no hole.
 */
export class Reassembler {
  readonly #sequence: number;
  readonly #opcode: number;
  readonly #fragments: { offset: number; data: Uint8Array }[] = [];
  #end = -1;
  #status = 0;
  #associd = 0;
  #errorCode = -1;
  #data: Uint8Array | null = null;

  /** Waits for the answer to the request with `sequence` and `opcode`. */
  constructor(sequence: number, opcode: number) {
    this.#sequence = sequence;
    this.#opcode = opcode;
  }

  /** Takes one received datagram. */
  add(bytes: Uint8Array): ReassemblyStep {
    if (this.#data !== null) return "complete";
    const r = decodeControl(bytes);
    if (!r.ok) return "ignored";
    const m = r.message;
    if (!m.response || m.sequence !== this.#sequence || m.opcode !== this.#opcode) {
      return "ignored";
    }
    if (m.error) {
      this.#errorCode = (m.status >> 8) & 0xff;
      this.#status = m.status;
      this.#associd = m.associd;
      return "error";
    }
    if (m.count === 0 && m.more) return "bad";
    if (!m.more) {
      if (this.#end >= 0 && this.#end !== m.offset + m.count) return "bad";
      this.#end = m.offset + m.count;
      this.#status = m.status;
      this.#associd = m.associd;
    }
    const frags = this.#fragments;
    for (const f of frags) {
      if (f.offset === m.offset && f.data.length === m.count) return "incomplete"; // a duplicate
      if (m.offset < f.offset + f.data.length && f.offset < m.offset + m.count) return "bad";
    }
    if (this.#end >= 0 && m.offset + m.count > this.#end) return "bad";
    if (frags.length >= CTL_MAX_FRAGMENTS) return "bad";
    frags.push({ offset: m.offset, data: m.data.slice() });
    frags.sort((a, b) => a.offset - b.offset);
    if (this.#end < 0) return "incomplete";
    let at = 0;
    for (const f of frags) {
      if (f.offset !== at) return "incomplete";
      at += f.data.length;
    }
    if (at !== this.#end) return "incomplete";
    const out = new Uint8Array(at);
    for (const f of frags) out.set(f.data, f.offset);
    this.#data = out;
    return "complete";
  }

  /** The reassembled data (null until complete). */
  get data(): Uint8Array | null {
    return this.#data;
  }

  /** Status word of the last fragment (or of the error). */
  get status(): number {
    return this.#status;
  }

  /** Association id of the last fragment (or of the error). */
  get associd(): number {
    return this.#associd;
  }

  /** The server's error code, or −1. */
  get errorCode(): number {
    return this.#errorCode;
  }

  /** Fragments received so far. */
  get fragments(): number {
    return this.#fragments.length;
  }
}
