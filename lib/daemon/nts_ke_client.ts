// NTS-KE client (RFC 8915 §4): a TLS 1.3 connection with ALPN "ntske/1" to a KE server, its
// certificate checked against the system's store or `nts ca FILE` (SNI and the host check use the
// configured name; an address literal is checked against the certificate's IP addresses), one
// request, one response read record by record, and the two keys exported from the session.
// Every exchange is bounded by one deadline.

import { TlsContext, type TlsVersionName } from "../../ffi/libssl.ts";
import { TlsStream } from "../net/tls_stream.ts";
import {
  DEFAULT_KE_READ_LIMITS,
  encodeRecords,
  KeRecordReader,
  NTS_EXPORTER_LABEL,
  NTS_KE_ALPN,
} from "../proto/nts/ke_records.ts";
import {
  aeadKeyLength,
  buildKeRequest,
  exporterContext,
  interpretKeResponse,
  type KeFailure,
} from "../proto/nts/ke_negotiation.ts";
import {
  AEAD_AES_SIV_CMAC_256,
  NTS_DEFAULT_NTP_PORT,
  type NtsKeResult,
} from "../proto/nts/ke_result.ts";

/** Seconds an exchange may take, connection to End of Message (chronyd and NTPsec use ~5–15). */
export const DEFAULT_NTS_KE_TIMEOUT_SEC = 10;

/** How a KE client connects and what it trusts. */
export interface NtsKeClientOptions {
  /** Trusted certificates (`nts ca FILE`); null: the system's store. */
  readonly caFile: string | null;
  /** AEAD ids offered, preferred first. */
  readonly aeadIds: readonly number[];
  readonly minTls: TlsVersionName;
  readonly maxTls: TlsVersionName;
  readonly timeoutSec: number;
}

/** Defaults: the system store, AES-SIV-CMAC-256, TLS 1.3 only. */
export const DEFAULT_NTS_KE_CLIENT_OPTIONS: NtsKeClientOptions = {
  caFile: null,
  aeadIds: [AEAD_AES_SIV_CMAC_256],
  minTls: "TLS1.3",
  maxTls: "TLS1.3",
  timeoutSec: DEFAULT_NTS_KE_TIMEOUT_SEC,
};

/** Why an exchange failed (the counter it goes to). */
export type NtsKeClientFailure =
  | "connect"
  | "timeout"
  | "tls"
  | "certificate"
  | "alpn"
  | "exporter"
  | "truncated"
  | "too_long"
  | KeFailure;

/** One exchange's outcome. */
export type NtsKeOutcome =
  | { ok: true; result: NtsKeResult; warnings: number[]; elapsedMs: number }
  | { ok: false; failure: NtsKeClientFailure; reason: string; elapsedMs: number };

/** Where to go for one exchange. */
export interface NtsKeTarget {
  /** The name as configured: SNI, the certificate check and the default NTP server. */
  readonly host: string;
  /** The address to connect to (resolved from `host`); default `host`. */
  readonly address?: string;
  /** KE port (4460). */
  readonly port: number;
}

/** Counters of a KE client, for `query` and the status file. */
export interface NtsKeClientCounters {
  attempts: number;
  successes: number;
  failures: Partial<Record<NtsKeClientFailure, number>>;
}

/** Runs NTS-KE exchanges with one TLS configuration, and counts them. */
export class NtsKeClient {
  readonly #opts: NtsKeClientOptions;
  #context: TlsContext | null = null;
  readonly counters: NtsKeClientCounters = { attempts: 0, successes: 0, failures: {} };

  /** A client; the TLS context is built at the first exchange (or by {@link prepare}). */
  constructor(opts: Partial<NtsKeClientOptions> = {}) {
    this.#opts = { ...DEFAULT_NTS_KE_CLIENT_OPTIONS, ...opts };
  }

  /** Builds the TLS context now, to report a bad CA file at start: null, or why not. */
  prepare(): string | null {
    if (this.#context !== null) return null;
    const c = TlsContext.create({
      role: "client",
      alpn: NTS_KE_ALPN,
      minVersion: this.#opts.minTls,
      maxVersion: this.#opts.maxTls,
      caFile: this.#opts.caFile,
    });
    if (!c.ok) return c.reason;
    this.#context = c.context;
    return null;
  }

  /** One exchange with `target`. Never throws. */
  async exchange(target: NtsKeTarget): Promise<NtsKeOutcome> {
    this.counters.attempts++;
    const started = performance.now();
    const out = await this.#exchange(target, started);
    if (out.ok) {
      this.counters.successes++;
    } else {
      this.counters.failures[out.failure] = (this.counters.failures[out.failure] ?? 0) + 1;
    }
    return out;
  }

  async #exchange(target: NtsKeTarget, started: number): Promise<NtsKeOutcome> {
    const elapsed = () => Math.round(performance.now() - started);
    const failed = (failure: NtsKeClientFailure, reason: string): NtsKeOutcome => ({
      ok: false,
      failure,
      reason: `NTS-KE ${target.host}:${target.port}: ${reason}`,
      elapsedMs: elapsed(),
    });
    const prep = this.prepare();
    if (prep !== null) return failed("tls", prep);
    const context = this.#context as TlsContext;
    let timedOut = false;
    let stream: TlsStream | null = null;
    let conn: Deno.TcpConn | null = null;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
      stream?.abort();
      try {
        conn?.close();
      } catch {
        // closed already
      }
    }, this.#opts.timeoutSec * 1000);
    try {
      const address = target.address ?? target.host;
      try {
        const c = await Deno.connect({
          hostname: address,
          port: target.port,
          transport: "tcp",
          signal: abort.signal,
        });
        if (timedOut) {
          c.close();
          return failed("timeout", `no connection within ${this.#opts.timeoutSec} s`);
        }
        conn = c;
      } catch (e) {
        return failed(timedOut ? "timeout" : "connect", `connect: ${(e as Error).message}`);
      }
      let session;
      try {
        session = context.session(target.host);
      } catch (e) {
        conn.close();
        return failed("tls", (e as Error).message);
      }
      stream = new TlsStream(conn, session);
      const hs = await stream.handshake();
      if (!hs.ok) {
        if (timedOut) return failed("timeout", `no handshake within ${this.#opts.timeoutSec} s`);
        const cert = /certificate/i.test(hs.reason);
        return failed(cert ? "certificate" : "tls", hs.reason);
      }
      if (session.alpn() !== NTS_KE_ALPN) {
        return failed("alpn", `server did not agree to ALPN ${NTS_KE_ALPN}`);
      }
      const request = encodeRecords(buildKeRequest({ aeadIds: this.#opts.aeadIds }));
      const w = await stream.write(request);
      if (!w.ok) return failed(timedOut ? "timeout" : "tls", w.reason);
      const reader = new KeRecordReader(DEFAULT_KE_READ_LIMITS);
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await stream.read(buf);
        if (typeof n === "object") return failed(timedOut ? "timeout" : "tls", n.reason);
        if (n === "eof") {
          if (timedOut) return failed("timeout", `no response within ${this.#opts.timeoutSec} s`);
          return failed("truncated", "connection closed before End of Message");
        }
        const r = reader.push(buf.subarray(0, n));
        if (r.status === "more") continue;
        if (r.status === "error") return failed("too_long", r.reason);
        const resp = interpretKeResponse(r.records, this.#opts.aeadIds);
        if (!resp.ok) return failed(resp.failure, resp.reason);
        const keyLength = aeadKeyLength(resp.aeadId) ?? 32;
        const c2sKey = session.exportKeyingMaterial(
          NTS_EXPORTER_LABEL,
          exporterContext(resp.aeadId, "c2s"),
          keyLength,
        );
        const s2cKey = session.exportKeyingMaterial(
          NTS_EXPORTER_LABEL,
          exporterContext(resp.aeadId, "s2c"),
          keyLength,
        );
        if (c2sKey === null || s2cKey === null) return failed("exporter", "key export failed");
        return {
          ok: true,
          result: {
            aeadId: resp.aeadId,
            c2sKey,
            s2cKey,
            cookies: resp.cookies,
            ntpServer: resp.ntpServer ?? target.host,
            ntpPort: resp.ntpPort ?? NTS_DEFAULT_NTP_PORT,
          },
          warnings: resp.warnings,
          elapsedMs: elapsed(),
        };
      }
    } finally {
      clearTimeout(timer);
      if (stream !== null) await stream.close();
      else {
        try {
          conn?.close();
        } catch {
          // closed already
        }
      }
    }
  }

  /** Frees the TLS context (no exchange may be running). */
  close(): void {
    this.#context?.close();
    this.#context = null;
  }
}
