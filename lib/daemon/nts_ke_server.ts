// NTS-KE server (RFC 8915 §4): accepts TLS 1.3 connections with ALPN "ntske/1" on TCP (port 4460
// by default), reads one request record by record, negotiates NTPv4, the AEAD, the NTP server and
// port, exports the two keys and answers with 8 cookies made under the server's master keys
// (lib/proto/nts/cookies.ts). The TLS work runs over memory BIOs (lib/net/tls_stream.ts), so a
// slow or hostile client only ever holds a pending read; each connection has a deadline, the
// number in progress is capped, in all and per client address (connections beyond either are
// closed at once, so one address cannot hold every slot), and every refusal is counted.

import { TlsContext, type TlsVersionName } from "../../ffi/libssl.ts";
import type { Logger } from "../log/logger.ts";
import { TlsStream } from "../net/tls_stream.ts";
import {
  aeadKeyLength,
  buildKeRefusal,
  buildKeResponse,
  exporterContext,
  judgeKeRequest,
  keErrorRecords,
} from "../proto/nts/ke_negotiation.ts";
import {
  encodeRecords,
  KeErrorCode,
  KeRecordReader,
  NTS_EXPORTER_LABEL,
  NTS_KE_ALPN,
  NTS_KE_DEFAULT_PORT,
} from "../proto/nts/ke_records.ts";
import { AEAD_AES_SIV_CMAC_256, NTS_DEFAULT_NTP_PORT } from "../proto/nts/ke_result.ts";

/** Cookies handed out per exchange (RFC 8915 §4.1.6 suggests 8). */
export const NTS_KE_COOKIES = 8;

/** Makes cookies (lib/proto/nts/cookies.ts NtsServerKeys). */
export interface CookieMaker {
  /** True once master keys are loaded. */
  readonly ready: boolean;
  makeCookie(aeadId: number, c2s: Uint8Array, s2c: Uint8Array): Uint8Array;
}

/** The KE server's settings (`nts cert`, `nts key`, `nts port`, `nts mintls`/`maxtls`). */
export interface NtsKeServerOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** Addresses to listen on (each with `port`). */
  readonly addresses: readonly string[];
  readonly port: number;
  readonly minTls: TlsVersionName;
  readonly maxTls: TlsVersionName;
  /** AEAD ids the server accepts. */
  readonly aeadIds: readonly number[];
  /** NTP server name/address to announce; null: none (clients use the KE server's name). */
  readonly ntpServer: string | null;
  /** NTP port to announce when it is not 123; null: none. */
  readonly ntpPort: number | null;
  /** Seconds a connection may take from accept to the end of the answer. */
  readonly timeoutSec: number;
  /** Most connections in progress at once; more are closed at accept. */
  readonly maxConnections: number;
  /**
   * Most connections in progress at once from one client (an IPv4 address, an IPv6 /64); more are
   * closed at accept.
   */
  readonly maxPerAddress: number;
  /**
   * Whether a client may connect at all (the daemon's restrict list: `ignore` and `noserve`);
   * absent: everyone. Refused connections are closed at accept and counted.
   */
  readonly admit?: (address: string, port: number) => boolean;
  /**
   * Handshakes one client (as {@link maxPerAddress} counts them) may start: a burst of
   * `burst`, then `perSec` a second. Each costs the main thread about 0.6 ms of CPU; without a
   * rate one address could run them back to back. More are closed at accept.
   */
  readonly rate: { burst: number; perSec: number };
}

/** Defaults beside the certificate and key. */
export const DEFAULT_NTS_KE_SERVER_OPTIONS = {
  addresses: ["0.0.0.0"],
  port: NTS_KE_DEFAULT_PORT,
  minTls: "TLS1.3",
  maxTls: "TLS1.3",
  aeadIds: [AEAD_AES_SIV_CMAC_256],
  ntpServer: null,
  ntpPort: null,
  timeoutSec: 5,
  maxConnections: 64,
  maxPerAddress: 32,
  rate: { burst: 256, perSec: 4 },
} as const satisfies Partial<NtsKeServerOptions>;

/** Counters for `query`, the status file and tests. */
export interface NtsKeServerCounters {
  /** Connections accepted. */
  connections: number;
  /** Exchanges answered with cookies. */
  served: number;
  /**
   * Connections closed at accept because {@link NtsKeServerOptions.maxConnections} were open, or
   * {@link NtsKeServerOptions.maxPerAddress} from the same address.
   */
  busy: number;
  /** Connections that ran past their deadline. */
  timeouts: number;
  /** Connections closed at accept because {@link NtsKeServerOptions.admit} refused the client. */
  refused: number;
  /** Connections closed at accept because the client was over {@link NtsKeServerOptions.rate}. */
  rateLimited: number;
  /** Failed handshakes (bad ALPN, TLS version, a client that gave up). */
  tlsFailures: number;
  /** Requests over the record or size limits, or cut short. */
  malformed: number;
  /** Requests answered with an Error record (bad request, unrecognised critical record). */
  errors: number;
  /** Requests that offered no AEAD the server supports. */
  noAead: number;
  /** Requests that did not offer NTPv4. */
  noProtocol: number;
  /** Answers refused because no cookie keys were loaded, or key export failed. */
  internalErrors: number;
  /** Most connections seen in progress at once. */
  peakConnections: number;
}

function zeroCounters(): NtsKeServerCounters {
  return {
    connections: 0,
    served: 0,
    busy: 0,
    refused: 0,
    rateLimited: 0,
    timeouts: 0,
    tlsFailures: 0,
    malformed: 0,
    errors: 0,
    noAead: 0,
    noProtocol: 0,
    internalErrors: 0,
    peakConnections: 0,
  };
}

/** An NTS-KE server. */
export class NtsKeServer {
  readonly #opts: NtsKeServerOptions;
  readonly #cookies: CookieMaker;
  readonly #log: Logger;
  #context: TlsContext | null = null;
  #listeners: Deno.TcpListener[] = [];
  #active = new Set<TlsStream | Deno.Conn>();
  /** Connections in progress per client address. */
  #perAddress = new Map<string, number>();
  #rate: HandshakeRate;
  #loops: Promise<void>[] = [];
  #stopped = false;
  readonly counters: NtsKeServerCounters = zeroCounters();

  /** A server; nothing is opened before {@link start}. */
  constructor(opts: NtsKeServerOptions, cookies: CookieMaker, log: Logger) {
    this.#opts = opts;
    this.#rate = new HandshakeRate(opts.rate.burst, opts.rate.perSec);
    this.#cookies = cookies;
    this.#log = log;
  }

  /** The ports listened on (one per address; useful with port 0 in tests). */
  get ports(): number[] {
    return this.#listeners.map((l) => (l.addr as Deno.NetAddr).port);
  }

  /** Connections in progress. */
  get active(): number {
    return this.#active.size;
  }

  /**
   * Loads the certificate and key and starts listening. Null, or why the server cannot run (the
   * daemon reports it and keeps serving plain NTP).
   */
  start(): string | null {
    const c = TlsContext.create({
      role: "server",
      alpn: NTS_KE_ALPN,
      minVersion: this.#opts.minTls,
      maxVersion: this.#opts.maxTls,
      certFile: this.#opts.certFile,
      keyFile: this.#opts.keyFile,
    });
    if (!c.ok) return c.reason;
    this.#context = c.context;
    for (const hostname of this.#opts.addresses) {
      try {
        const l = Deno.listen({ hostname, port: this.#opts.port, transport: "tcp" });
        this.#listeners.push(l);
      } catch (e) {
        this.stop();
        return `cannot listen on ${hostname} port ${this.#opts.port}: ${(e as Error).message}`;
      }
    }
    this.#loops = this.#listeners.map((l) => this.#acceptLoop(l));
    return null;
  }

  async #acceptLoop(l: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (this.#stopped) return;
        // Out of descriptors and the like: say so and go on after a moment.
        this.#log.warn(`NTS-KE accept: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#stopped) {
        conn.close();
        return;
      }
      this.counters.connections++;
      const remote = conn.remoteAddr as Deno.NetAddr;
      if (this.#opts.admit !== undefined && !this.#opts.admit(remote.hostname, remote.port)) {
        this.counters.refused++;
        conn.close();
        continue;
      }
      const from = clientKey(remote.hostname);
      const held = this.#perAddress.get(from) ?? 0;
      if (this.#active.size >= this.#opts.maxConnections || held >= this.#opts.maxPerAddress) {
        this.counters.busy++;
        conn.close();
        continue;
      }
      if (!this.#rate.take(from, performance.now() / 1000)) {
        this.counters.rateLimited++;
        conn.close();
        continue;
      }
      this.#perAddress.set(from, held + 1);
      this.#serve(conn).finally(() => {
        const n = (this.#perAddress.get(from) ?? 1) - 1;
        if (n > 0) this.#perAddress.set(from, n);
        else this.#perAddress.delete(from);
      });
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const context = this.#context;
    if (context === null) {
      conn.close();
      return;
    }
    let stream: TlsStream | null = null;
    let timedOut = false;
    this.#active.add(conn);
    this.counters.peakConnections = Math.max(this.counters.peakConnections, this.#active.size);
    const timer = setTimeout(() => {
      timedOut = true;
      this.counters.timeouts++;
      if (stream !== null) stream.abort();
      else conn.close();
    }, this.#opts.timeoutSec * 1000);
    try {
      conn.setNoDelay(true);
      const session = context.session();
      stream = new TlsStream(conn, session);
      this.#active.delete(conn);
      this.#active.add(stream);
      const hs = await stream.handshake();
      if (!hs.ok) {
        if (!timedOut) this.counters.tlsFailures++;
        return;
      }
      if (session.alpn() !== NTS_KE_ALPN) {
        this.counters.tlsFailures++;
        return;
      }
      const reader = new KeRecordReader();
      const buf = new Uint8Array(2048);
      let records;
      for (;;) {
        const n = await stream.read(buf);
        if (typeof n === "object" || n === "eof") {
          if (!timedOut) this.counters.malformed++;
          return;
        }
        const r = reader.push(buf.subarray(0, n));
        if (r.status === "more") continue;
        if (r.status === "error") {
          this.counters.malformed++;
          await stream.write(encodeRecords(keErrorRecords(KeErrorCode.BAD_REQUEST)));
          return;
        }
        records = r.records;
        break;
      }
      const verdict = judgeKeRequest(records, { aeadIds: this.#supportedAeads() });
      if (verdict.kind !== "accept") {
        if (verdict.kind === "error") this.counters.errors++;
        else if (verdict.kind === "no_aead") this.counters.noAead++;
        else this.counters.noProtocol++;
        await stream.write(encodeRecords(buildKeRefusal(verdict)));
        return;
      }
      const answer = this.#answer(stream, verdict.aeadId);
      if (answer === null) {
        this.counters.internalErrors++;
        await stream.write(encodeRecords(keErrorRecords(KeErrorCode.INTERNAL_SERVER_ERROR)));
        return;
      }
      const w = await stream.write(answer);
      if (w.ok) this.counters.served++;
      else if (!timedOut) this.counters.tlsFailures++;
    } catch (e) {
      // A bug, not input: count it, say it, and keep serving.
      this.counters.internalErrors++;
      this.#log.warn(`NTS-KE connection: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      if (stream !== null) {
        this.#active.delete(stream);
        if (!timedOut) await stream.close();
      } else {
        this.#active.delete(conn);
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    }
  }

  #supportedAeads(): number[] {
    return this.#opts.aeadIds.filter((a) => aeadKeyLength(a) !== null);
  }

  /** The encoded positive answer, or null when keys or cookies cannot be made. */
  #answer(stream: TlsStream, aeadId: number): Uint8Array | null {
    if (!this.#cookies.ready) return null;
    const length = aeadKeyLength(aeadId);
    if (length === null) return null;
    const c2s = stream.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aeadId, "c2s"),
      length,
    );
    const s2c = stream.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aeadId, "s2c"),
      length,
    );
    if (c2s === null || s2c === null) return null;
    const cookies: Uint8Array[] = [];
    for (let i = 0; i < NTS_KE_COOKIES; i++) {
      cookies.push(this.#cookies.makeCookie(aeadId, c2s, s2c));
    }
    c2s.fill(0);
    s2c.fill(0);
    const port = this.#opts.ntpPort;
    return encodeRecords(buildKeResponse({
      aeadId,
      cookies,
      server: this.#opts.ntpServer,
      port: port !== null && port !== NTS_DEFAULT_NTP_PORT ? port : null,
    }));
  }

  /** Stops listening and closes every connection; resolves when the accept loops ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const l of this.#listeners) {
      try {
        l.close();
      } catch {
        // closed already
      }
    }
    for (const s of this.#active) {
      if (s instanceof TlsStream) s.abort();
      else {
        try {
          s.close();
        } catch {
          // closed already
        }
      }
    }
    this.#active.clear();
    await Promise.allSettled(this.#loops);
    this.#listeners = [];
    // The context (and its ALPN callback) goes last, when no handshake can run any more.
    this.#context?.close();
    this.#context = null;
  }
}

/**
 * The client a connection counts against: an IPv4 address (also when mapped into IPv6), or an
 * IPv6 address's /64, which one host usually holds whole.
 */
export function clientKey(address: string): string {
  const a = address.replace(/%.*$/, "").toLowerCase();
  if (!a.includes(":")) return a;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped !== null) return mapped[1]!;
  const [head = "", tail] = a.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined
    ? left
    : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** Clients whose buckets are remembered at once; a full table forgets the fullest buckets. */
const RATE_TABLE_MAX = 4096;

/**
 * Per-client token buckets for NTS-KE handshakes: `burst` tokens, `perSec` back a second. The
 * table is bounded: when it is full, buckets that have refilled are forgotten (a forgotten
 * client starts full, which it would be anyway), and if none has, the oldest entry goes.
 */
export class HandshakeRate {
  readonly #burst: number;
  readonly #perSec: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(burst: number, perSec: number) {
    this.#burst = burst;
    this.#perSec = perSec;
  }

  /** Takes one token for `client` at `nowSec`; false when its bucket is empty. */
  take(client: string, nowSec: number): boolean {
    let b = this.#buckets.get(client);
    if (b === undefined) {
      if (this.#buckets.size >= RATE_TABLE_MAX) this.#prune(nowSec);
      b = { tokens: this.#burst, at: nowSec };
      this.#buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, nowSec - b.at) * this.#perSec);
      b.at = nowSec;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Clients remembered (for tests). */
  get size(): number {
    return this.#buckets.size;
  }

  #prune(nowSec: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (nowSec - b.at) * this.#perSec >= this.#burst) this.#buckets.delete(k);
    }
    if (this.#buckets.size >= RATE_TABLE_MAX) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
  }
}
