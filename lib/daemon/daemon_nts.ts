// The daemon's NTS-KE: the KE server (`nts enable`, `nts cert`, `nts key`, `nts port`,
// `nts mintls`/`maxtls`) handing out cookies under the server's master keys, and the KE client
// with the keeper that feeds the NTS sources (`server NAME nts`, `nts ca`). The NTP side of NTS
// (cookies opened, replies sealed, the associations' NTS state) is the packet path's and the
// core's; this module only establishes keys.

import type { TlsVersionName } from "../../ffi/libssl.ts";
import type { Logger } from "../log/logger.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import type { PeerAddress } from "../proto/events.ts";
import { NtsKeClient, type NtsKeClientCounters } from "./nts_ke_client.ts";
import {
  type CookieMaker,
  DEFAULT_NTS_KE_SERVER_OPTIONS,
  NtsKeServer,
  type NtsKeServerCounters,
} from "./nts_ke_server.ts";
import { type NtsClientLink, NtsSourceKeeper } from "./nts_sources.ts";
import type { Resolver } from "./resolver.ts";
import type { Timers } from "./timers.ts";

/**
 * Where the NTS-KE server listens, from the addresses the NTP sockets listen on (so the
 * `interface` rules and --listen decide for both): each address once, or [] (the wildcard)
 * when both families' wildcards listen. Beside "::" (dual stack here) IPv4 addresses are left
 * out: it takes them already, and they could not be bound beside it.
 */
export function keListenAddresses(ntpListening: readonly string[]): string[] {
  const all = [...new Set(ntpListening)];
  const v4Wild = all.includes("0.0.0.0"), v6Wild = all.includes("::");
  if (v4Wild && v6Wild) return [];
  return all.filter((a) => {
    const v6 = a.includes(":");
    if (v6) return a === "::" || !v6Wild;
    return v6Wild ? false : a === "0.0.0.0" || !v4Wild;
  });
}

/** The `nts` settings the daemon runs with. */
export interface NtsSettings {
  /** `nts enable`: run the KE server. */
  enabled: boolean;
  certFile: string | null;
  keyFile: string | null;
  /** `nts cookie`: the master key file (read by the cookie keys' owner, shown here). */
  cookieFile: string | null;
  /** `nts ca`: what the KE client trusts; null: the system's store. */
  caFile: string | null;
  /** `nts port`: the KE server's TCP port. */
  port: number;
  minTls: TlsVersionName;
  maxTls: TlsVersionName;
}

/** `nts mintls`/`maxtls` words ("tls1.3") as libssl's names ("TLS1.3"). */
export function tlsVersionName(word: string): TlsVersionName {
  return word.toLowerCase() === "tls1.2" ? "TLS1.2" : "TLS1.3";
}

/** What the daemon's NTS-KE needs. */
export interface DaemonNtsDeps {
  log: Logger;
  timers: Timers;
  resolver: Resolver;
  /** The server's master keys, once loaded (null: no cookies can be made yet). */
  cookies: () => CookieMaker | null;
}

/** State for the status file and `query`. */
export interface NtsKeStatus {
  server: (NtsKeServerCounters & { port: number; active: number }) | null;
  /** Why the KE server is not running although enabled; null when it runs or is not enabled. */
  serverError: string | null;
  client: NtsKeClientCounters;
}

/** The daemon's NTS-KE server and client. */
export class DaemonNts {
  readonly #settings: NtsSettings;
  readonly #deps: DaemonNtsDeps;
  #server: NtsKeServer | null = null;
  #serverError: string | null = null;
  readonly #client: NtsKeClient;
  #keeper: NtsSourceKeeper | null = null;

  constructor(settings: NtsSettings, deps: DaemonNtsDeps) {
    this.#deps = deps;
    const minTls = settings.minTls;
    let maxTls = settings.maxTls;
    if (minTls === "TLS1.3" && maxTls === "TLS1.2") {
      deps.log.warn("nts maxtls TLS1.2 is below mintls TLS1.3; using TLS1.3");
      maxTls = "TLS1.3";
    }
    if (minTls === "TLS1.2") {
      deps.log.warn("nts mintls TLS1.2: RFC 8915 requires TLS 1.3; TLS 1.2 peers are accepted");
    }
    this.#settings = { ...settings, minTls, maxTls };
    this.#client = new NtsKeClient({
      caFile: settings.caFile,
      aeadIds: [AEAD_AES_SIV_CMAC_256],
      minTls,
      maxTls,
    });
  }

  /**
   * Starts the KE server when `nts enable` is set: on `addresses` (the daemon's listen
   * addresses, or the wildcard), announcing `ntpPort` when it is not 123, to the clients
   * `admit` lets in (the restrict list). A certificate or key that cannot be loaded is logged;
   * plain NTP goes on.
   */
  startServer(
    addresses: readonly string[],
    ntpPort: number,
    admit?: (address: string, port: number) => boolean,
  ): void {
    const s = this.#settings;
    if (!s.enabled) return;
    if (s.certFile === null || s.keyFile === null) {
      this.#serverError = "nts enable needs nts cert and nts key";
      this.#deps.log.error(`NTS-KE server not started: ${this.#serverError}`);
      return;
    }
    const getCookies = this.#deps.cookies;
    const cookies: CookieMaker = {
      get ready() {
        return getCookies()?.ready ?? false;
      },
      makeCookie(aeadId, c2s, s2c) {
        const c = getCookies();
        if (c === null) throw new Error("no NTS cookie keys");
        return c.makeCookie(aeadId, c2s, s2c);
      },
    };
    const { certFile, keyFile } = s;
    /** An NTS-KE server on `on`, the same in all else. */
    const keServer = (on: readonly string[]) =>
      new NtsKeServer(
        {
          ...DEFAULT_NTS_KE_SERVER_OPTIONS,
          certFile,
          keyFile,
          addresses: on,
          port: s.port,
          minTls: s.minTls,
          maxTls: s.maxTls,
          ntpPort,
          ...(admit !== undefined ? { admit } : {}),
        },
        cookies,
        this.#deps.log,
      );
    const server = keServer(addresses.length > 0 ? addresses : ["::"]);
    let err = server.start();
    if (err !== null && addresses.length === 0) {
      // No IPv6 on this host: the IPv4 wildcard alone.
      void server.stop();
      const v4 = keServer(["0.0.0.0"]);
      const err4 = v4.start();
      if (err4 === null) {
        this.#server = v4;
        err = null;
      } else {
        void v4.stop();
      }
    } else if (err === null) {
      this.#server = server;
    }
    if (err !== null) {
      this.#serverError = err;
      this.#deps.log.error(`NTS-KE server not started: ${err}`);
      return;
    }
    this.#deps.log.info(
      `NTS-KE server on TCP port ${s.port} (${addresses.length > 0 ? addresses.join(", ") : "*"})`,
    );
  }

  /**
   * The keeper for NTS sources, built once: `ntsClient` finds an association's NTS state and
   * `relocate` moves an association (the source manager's).
   */
  keeper(
    ntsClient: (id: number) => NtsClientLink | null,
    relocate: (id: number, peer: PeerAddress) => number | null,
  ): NtsSourceKeeper {
    if (this.#keeper !== null) return this.#keeper;
    const bad = this.#client.prepare();
    if (bad !== null) this.#deps.log.error(`NTS-KE client: ${bad}`);
    this.#keeper = new NtsSourceKeeper({
      client: this.#client,
      resolver: this.#deps.resolver,
      timers: this.#deps.timers,
      log: this.#deps.log,
      ntsClient,
      relocate,
      nowUnixSec: () => Date.now() / 1000,
    });
    return this.#keeper;
  }

  /** Counters for the status file and `query`. */
  status(): NtsKeStatus {
    const srv = this.#server;
    return {
      server: srv === null
        ? null
        : { ...srv.counters, port: srv.ports[0] ?? this.#settings.port, active: srv.active },
      serverError: this.#serverError,
      client: structuredClone(this.#client.counters),
    };
  }

  /** Stops the server, the keeper's retries and frees the TLS contexts. */
  async stop(): Promise<void> {
    this.#keeper?.stop();
    await this.#server?.stop();
    this.#server = null;
    this.#client.close();
  }
}
