// NTS-KE records (RFC 8915 §4): the type-length-value messages a client and server exchange over
// TLS, with an incremental reader for records that arrive split across TCP reads. Pure: bytes in,
// records or a reason out; decoding never throws, and every size is bounded.

/** Record types of RFC 8915 §4.1 (IANA "Network Time Security Key Establishment Record Types"). */
export const KeRecordType = {
  END_OF_MESSAGE: 0,
  NEXT_PROTOCOL: 1,
  ERROR: 2,
  WARNING: 3,
  AEAD_ALGORITHM: 4,
  NEW_COOKIE: 5,
  SERVER: 6,
  PORT: 7,
} as const;

/** Error codes of the Error record (RFC 8915 §4.1.3). */
export const KeErrorCode = {
  UNRECOGNIZED_CRITICAL_RECORD: 0,
  BAD_REQUEST: 1,
  INTERNAL_SERVER_ERROR: 2,
} as const;

/** Protocol id of NTPv4 in the Next Protocol record (RFC 8915 §7.7). */
export const NTS_PROTOCOL_NTPV4 = 0;

/** The ALPN protocol name of NTS-KE (RFC 8915 §4). */
export const NTS_KE_ALPN = "ntske/1";

/** The TCP port of NTS-KE (RFC 8915 §4). */
export const NTS_KE_DEFAULT_PORT = 4460;

/** The TLS exporter label for the NTS keys (RFC 8915 §5.1). */
export const NTS_EXPORTER_LABEL = "EXPORTER-network-time-security";

/** Length of the record header: critical bit and type (16 bits), body length (16 bits). */
export const KE_RECORD_HEADER_LEN = 4;

/** One record: the critical bit, the 15-bit type and the body. */
export interface KeRecord {
  readonly critical: boolean;
  readonly type: number;
  readonly body: Uint8Array;
}

/** Bounds on what a reader accepts from the other side. */
export interface KeReadLimits {
  /** Largest body of one record (a cookie, a server name). */
  readonly maxBodyBytes: number;
  /** Largest whole message, End of Message included. */
  readonly maxMessageBytes: number;
  /** Most records in one message. */
  readonly maxRecords: number;
}

/**
 * Default bounds: a response of 8 cookies from real servers is 1–2 KB; a request is tens of
 * bytes. Anything far beyond that is refused rather than buffered.
 */
export const DEFAULT_KE_READ_LIMITS: KeReadLimits = {
  maxBodyBytes: 1024,
  maxMessageBytes: 16384,
  maxRecords: 64,
};

/** Encodes one record. Throws a RangeError for a type or body that cannot be written. */
export function encodeRecord(r: KeRecord): Uint8Array {
  if (!Number.isInteger(r.type) || r.type < 0 || r.type > 0x7fff) {
    throw new RangeError(`NTS-KE record type ${r.type} is not 0–32767`);
  }
  if (r.body.length > 0xffff) throw new RangeError("NTS-KE record body longer than 65535 bytes");
  const out = new Uint8Array(KE_RECORD_HEADER_LEN + r.body.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, (r.critical ? 0x8000 : 0) | r.type);
  v.setUint16(2, r.body.length);
  out.set(r.body, KE_RECORD_HEADER_LEN);
  return out;
}

/** Encodes records back to back into one message. */
export function encodeRecords(records: readonly KeRecord[]): Uint8Array {
  const parts = records.map(encodeRecord);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A body made of 16-bit big-endian numbers (protocol ids, AEAD ids, a code, a port). */
export function u16Body(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x));
  return out;
}

/** The 16-bit numbers of a body, or null when its length is odd. */
export function readU16Body(body: Uint8Array): number[] | null {
  if (body.length % 2 !== 0) return null;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: number[] = [];
  for (let i = 0; i < body.length; i += 2) out.push(v.getUint16(i));
  return out;
}

/** The End of Message record (always critical, empty). */
export function endOfMessage(): KeRecord {
  return { critical: true, type: KeRecordType.END_OF_MESSAGE, body: new Uint8Array(0) };
}

/** What the reader has after a chunk. */
export type KeReadResult =
  /** More bytes are needed. */
  | { status: "more" }
  /** End of Message arrived: the records before it, and how many bytes followed it. */
  | { status: "done"; records: KeRecord[]; trailingBytes: number }
  /** The message broke a rule or a bound; the reader accepts nothing more. */
  | { status: "error"; reason: string };

/**
 * Reads one NTS-KE message from chunks as they arrive (a record may be split anywhere, even inside
 * its header). Bodies are copied out, so the caller may reuse its read buffer.
 */
export class KeRecordReader {
  readonly #limits: KeReadLimits;
  readonly #header = new Uint8Array(KE_RECORD_HEADER_LEN);
  #headerHave = 0;
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  #critical = false;
  #type = 0;
  #total = 0;
  #records: KeRecord[] = [];
  #final: KeReadResult | null = null;

  /** A reader with `limits` (default {@link DEFAULT_KE_READ_LIMITS}). */
  constructor(limits: KeReadLimits = DEFAULT_KE_READ_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes taken so far (End of Message included, trailing bytes not). */
  get bytesRead(): number {
    return this.#total;
  }

  /** Takes the next chunk. After "done" or "error" the same answer is given again. */
  push(chunk: Uint8Array): KeReadResult {
    if (this.#final !== null) {
      if (this.#final.status === "done") {
        this.#final = { ...this.#final, trailingBytes: this.#final.trailingBytes + chunk.length };
      }
      return this.#final;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.#body === null) {
        const take = Math.min(KE_RECORD_HEADER_LEN - this.#headerHave, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerHave);
        this.#headerHave += take;
        at += take;
        if (this.#headerHave < KE_RECORD_HEADER_LEN) break;
        const word = (this.#header[0]! << 8) | this.#header[1]!;
        const length = (this.#header[2]! << 8) | this.#header[3]!;
        this.#critical = (word & 0x8000) !== 0;
        this.#type = word & 0x7fff;
        this.#headerHave = 0;
        if (length > this.#limits.maxBodyBytes) {
          return this.#fail(
            `record type ${this.#type} has a ${length}-byte body (limit ${this.#limits.maxBodyBytes})`,
          );
        }
        if (this.#total + KE_RECORD_HEADER_LEN + length > this.#limits.maxMessageBytes) {
          return this.#fail(`message longer than ${this.#limits.maxMessageBytes} bytes`);
        }
        if (this.#records.length >= this.#limits.maxRecords) {
          return this.#fail(`more than ${this.#limits.maxRecords} records`);
        }
        this.#total += KE_RECORD_HEADER_LEN;
        this.#body = new Uint8Array(length);
        this.#bodyHave = 0;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyHave, chunk.length - at);
      body.set(chunk.subarray(at, at + take), this.#bodyHave);
      this.#bodyHave += take;
      at += take;
      this.#total += take;
      if (this.#bodyHave < body.length) break;
      this.#body = null;
      if (this.#type === KeRecordType.END_OF_MESSAGE) {
        if (body.length !== 0) return this.#fail("End of Message record with a body");
        this.#final = { status: "done", records: this.#records, trailingBytes: chunk.length - at };
        return this.#final;
      }
      this.#records.push({ critical: this.#critical, type: this.#type, body });
    }
    return { status: "more" };
  }

  /** Whether a record has started but not finished (a connection closed here was cut short). */
  get midRecord(): boolean {
    return this.#headerHave > 0 || this.#body !== null;
  }

  #fail(reason: string): KeReadResult {
    this.#final = { status: "error", reason };
    return this.#final;
  }
}

/** Reads a whole message at once (for tests and tools); "more" means it was cut short. */
export function decodeRecords(
  bytes: Uint8Array,
  limits: KeReadLimits = DEFAULT_KE_READ_LIMITS,
): KeReadResult {
  return new KeRecordReader(limits).push(bytes);
}
