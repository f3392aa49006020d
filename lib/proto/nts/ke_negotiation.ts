// NTS-KE negotiation (RFC 8915 §4.1): the client's request, the server's judgement of a request
// and its answer, and the client's reading of that answer. Pure: records in, records or a verdict
// out; the TLS session, keys and cookies are the daemon's (lib/daemon/nts_ke_*.ts).

import {
  endOfMessage,
  KeErrorCode,
  type KeRecord,
  KeRecordType,
  NTS_PROTOCOL_NTPV4,
  readU16Body,
  u16Body,
} from "./ke_records.ts";

/** Longest server name accepted in a Server record (a DNS name is at most 253 characters). */
export const MAX_KE_SERVER_NAME = 253;

/** What a client asks for. */
export interface KeRequestOptions {
  /** AEAD ids in the client's order of preference. */
  readonly aeadIds: readonly number[];
}

/** The records of a client's request: NTPv4, the AEADs offered, End of Message. */
export function buildKeRequest(opts: KeRequestOptions): KeRecord[] {
  return [
    {
      critical: true,
      type: KeRecordType.NEXT_PROTOCOL,
      body: u16Body([NTS_PROTOCOL_NTPV4]),
    },
    { critical: false, type: KeRecordType.AEAD_ALGORITHM, body: u16Body(opts.aeadIds) },
    endOfMessage(),
  ];
}

/** Why a KE response was not usable (a counter name each). */
export type KeFailure =
  /** The server sent an Error record. */
  | "server_error"
  /** A record broke RFC 8915's rules (duplicates, bad lengths, unknown critical records). */
  | "malformed"
  /** The server did not agree to NTPv4. */
  | "no_protocol"
  /** The server chose no AEAD, or one that was not offered. */
  | "bad_aead"
  /** No cookie came back. */
  | "no_cookies";

/** The client's reading of a response. */
export type KeResponseResult =
  | {
    ok: true;
    aeadId: number;
    cookies: Uint8Array[];
    /** From a Server record; null when there was none (use the KE server's name). */
    ntpServer: string | null;
    /** From a Port record; null when there was none (port 123). */
    ntpPort: number | null;
    /** Warning codes the server sent. */
    warnings: number[];
  }
  | { ok: false; failure: KeFailure; reason: string };

function fail(failure: KeFailure, reason: string): KeResponseResult {
  return { ok: false, failure, reason };
}

/** Reads a server's response to a request that offered `offeredAeads`. */
export function interpretKeResponse(
  records: readonly KeRecord[],
  offeredAeads: readonly number[],
): KeResponseResult {
  let protocols: number[] | null = null;
  let aeads: number[] | null = null;
  let server: string | null = null;
  let port: number | null = null;
  const cookies: Uint8Array[] = [];
  const warnings: number[] = [];
  for (const r of records) {
    switch (r.type) {
      case KeRecordType.NEXT_PROTOCOL: {
        if (protocols !== null) return fail("malformed", "two Next Protocol records");
        protocols = readU16Body(r.body);
        if (protocols === null) return fail("malformed", "Next Protocol record of odd length");
        break;
      }
      case KeRecordType.ERROR: {
        const code = readU16Body(r.body);
        return fail(
          "server_error",
          code !== null && code.length === 1
            ? `server sent error ${code[0]} (${errorName(code[0]!)})`
            : "server sent a malformed Error record",
        );
      }
      case KeRecordType.WARNING: {
        const code = readU16Body(r.body);
        if (code === null || code.length !== 1) {
          return fail("malformed", "malformed Warning record");
        }
        warnings.push(code[0]!);
        break;
      }
      case KeRecordType.AEAD_ALGORITHM: {
        if (aeads !== null) return fail("malformed", "two AEAD Algorithm records");
        aeads = readU16Body(r.body);
        if (aeads === null) return fail("malformed", "AEAD Algorithm record of odd length");
        break;
      }
      case KeRecordType.NEW_COOKIE:
        if (r.body.length === 0) return fail("malformed", "empty cookie");
        cookies.push(r.body);
        break;
      case KeRecordType.SERVER: {
        if (server !== null) return fail("malformed", "two Server records");
        const name = asciiName(r.body);
        if (name === null) return fail("malformed", "Server record is not a printable name");
        server = name;
        break;
      }
      case KeRecordType.PORT: {
        if (port !== null) return fail("malformed", "two Port records");
        const p = readU16Body(r.body);
        if (p === null || p.length !== 1) return fail("malformed", "Port record is not 2 bytes");
        port = p[0]!;
        break;
      }
      default:
        if (r.critical) return fail("malformed", `unrecognised critical record type ${r.type}`);
    }
  }
  if (protocols === null || protocols.length !== 1 || protocols[0] !== NTS_PROTOCOL_NTPV4) {
    return fail(
      "no_protocol",
      protocols === null
        ? "no Next Protocol record"
        : `server chose protocols [${protocols.join(", ")}], not NTPv4`,
    );
  }
  if (aeads === null || aeads.length !== 1 || !offeredAeads.includes(aeads[0]!)) {
    return fail(
      "bad_aead",
      aeads === null
        ? "no AEAD Algorithm record"
        : `server chose AEAD [${aeads.join(", ")}]; offered [${offeredAeads.join(", ")}]`,
    );
  }
  if (cookies.length === 0) return fail("no_cookies", "no cookies in the response");
  return { ok: true, aeadId: aeads[0]!, cookies, ntpServer: server, ntpPort: port, warnings };
}

/** What a server supports. */
export interface KeServerPolicy {
  /** AEAD ids the server can use. The client's order of preference decides among them. */
  readonly aeadIds: readonly number[];
}

/** The server's judgement of a request. */
export type KeRequestVerdict =
  /** Go ahead with this AEAD: export keys, make cookies, answer with {@link buildKeResponse}. */
  | { kind: "accept"; aeadId: number }
  /** NTPv4 was not offered: answer with an empty Next Protocol record ({@link buildKeRefusal}). */
  | { kind: "no_protocol" }
  /** No offered AEAD is supported: answer NTPv4 with an empty AEAD record. */
  | { kind: "no_aead"; offered: number[] }
  /** A broken request: answer with an Error record. */
  | { kind: "error"; code: number; reason: string };

/** Judges a client's request (the records before End of Message). */
export function judgeKeRequest(
  records: readonly KeRecord[],
  policy: KeServerPolicy,
): KeRequestVerdict {
  let protocols: number[] | null = null;
  let aeads: number[] | null = null;
  const bad = (reason: string): KeRequestVerdict => ({
    kind: "error",
    code: KeErrorCode.BAD_REQUEST,
    reason,
  });
  for (const r of records) {
    switch (r.type) {
      case KeRecordType.NEXT_PROTOCOL:
        if (protocols !== null) return bad("two Next Protocol records");
        if (!r.critical) return bad("Next Protocol record without the critical bit");
        protocols = readU16Body(r.body);
        if (protocols === null) return bad("Next Protocol record of odd length");
        break;
      case KeRecordType.AEAD_ALGORITHM:
        if (aeads !== null) return bad("two AEAD Algorithm records");
        aeads = readU16Body(r.body);
        if (aeads === null) return bad("AEAD Algorithm record of odd length");
        break;
      case KeRecordType.ERROR:
      case KeRecordType.WARNING:
        return bad("a client sent an Error or Warning record");
      case KeRecordType.NEW_COOKIE:
        // Clients must not send cookies (RFC 8915 §4.1.6); a server ignores them.
        break;
      case KeRecordType.SERVER:
      case KeRecordType.PORT:
        // A client's wish for an NTP server; Horae always names its own.
        if (r.type === KeRecordType.PORT && r.body.length !== 2) {
          return bad("Port record is not 2 bytes");
        }
        break;
      default:
        if (r.critical) {
          return {
            kind: "error",
            code: KeErrorCode.UNRECOGNIZED_CRITICAL_RECORD,
            reason: `unrecognised critical record type ${r.type}`,
          };
        }
    }
  }
  if (protocols === null) return bad("no Next Protocol record");
  if (!protocols.includes(NTS_PROTOCOL_NTPV4)) return { kind: "no_protocol" };
  if (aeads === null) return bad("NTPv4 offered without an AEAD Algorithm record");
  const chosen = aeads.find((a) => policy.aeadIds.includes(a));
  if (chosen === undefined) return { kind: "no_aead", offered: aeads };
  return { kind: "accept", aeadId: chosen };
}

/** What a server's positive answer carries. */
export interface KeResponseOptions {
  readonly aeadId: number;
  readonly cookies: readonly Uint8Array[];
  /** NTP server name or address to announce; null: none (the client uses the KE server's). */
  readonly server: string | null;
  /** NTP port to announce; null: none (the client uses 123). */
  readonly port: number | null;
}

/** The records of a positive answer. */
export function buildKeResponse(opts: KeResponseOptions): KeRecord[] {
  const out: KeRecord[] = [
    { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([NTS_PROTOCOL_NTPV4]) },
    { critical: true, type: KeRecordType.AEAD_ALGORITHM, body: u16Body([opts.aeadId]) },
  ];
  if (opts.server !== null) {
    out.push({
      critical: true,
      type: KeRecordType.SERVER,
      body: new TextEncoder().encode(opts.server),
    });
  }
  if (opts.port !== null) {
    out.push({ critical: true, type: KeRecordType.PORT, body: u16Body([opts.port]) });
  }
  for (const c of opts.cookies) {
    out.push({ critical: false, type: KeRecordType.NEW_COOKIE, body: c });
  }
  out.push(endOfMessage());
  return out;
}

/** The records of a negative answer to a request that was not accepted. */
export function buildKeRefusal(verdict: Exclude<KeRequestVerdict, { kind: "accept" }>): KeRecord[] {
  switch (verdict.kind) {
    case "no_protocol":
      return [
        { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: new Uint8Array(0) },
        endOfMessage(),
      ];
    case "no_aead":
      return [
        { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([NTS_PROTOCOL_NTPV4]) },
        { critical: true, type: KeRecordType.AEAD_ALGORITHM, body: new Uint8Array(0) },
        endOfMessage(),
      ];
    case "error":
      return keErrorRecords(verdict.code);
  }
}

/** An Error record and End of Message. */
export function keErrorRecords(code: number): KeRecord[] {
  return [{ critical: true, type: KeRecordType.ERROR, body: u16Body([code]) }, endOfMessage()];
}

/** The name of an Error code. */
export function errorName(code: number): string {
  switch (code) {
    case KeErrorCode.UNRECOGNIZED_CRITICAL_RECORD:
      return "unrecognized critical record";
    case KeErrorCode.BAD_REQUEST:
      return "bad request";
    case KeErrorCode.INTERNAL_SERVER_ERROR:
      return "internal server error";
    default:
      return "unknown";
  }
}

/** A Server record's body as a name: printable ASCII, 1–253 bytes; else null. */
function asciiName(body: Uint8Array): string | null {
  if (body.length === 0 || body.length > MAX_KE_SERVER_NAME) return null;
  for (const b of body) if (b <= 0x20 || b >= 0x7f) return null;
  return String.fromCharCode(...body);
}

/**
 * The exporter context of RFC 8915 §5.1: protocol id NTPv4 (two bytes), the AEAD id (two bytes)
 * and 0x00 for the client-to-server key or 0x01 for the server-to-client key.
 */
export function exporterContext(aeadId: number, direction: "c2s" | "s2c"): Uint8Array {
  return new Uint8Array([
    NTS_PROTOCOL_NTPV4 >> 8,
    NTS_PROTOCOL_NTPV4 & 0xff,
    (aeadId >> 8) & 0xff,
    aeadId & 0xff,
    direction === "c2s" ? 0 : 1,
  ]);
}

/** Key length in bytes of an AEAD the KE knows (RFC 5297 §6, RFC 8452), or null. */
export function aeadKeyLength(aeadId: number): number | null {
  switch (aeadId) {
    case 15: // AEAD_AES_SIV_CMAC_256
      return 32;
    case 30: // AEAD_AES_128_GCM_SIV
      return 16;
    default:
      return null;
  }
}
