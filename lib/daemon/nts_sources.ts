// Keeps the NTS sources (`server NAME nts`, `pool NAME nts`) supplied with keys and cookies: an
// NTS-KE exchange when an association is mobilised, again whenever its NTS state asks (cookies
// used up, an NTS NAK), with a growing pause after failures. When the KE server names another NTP
// server or port, the association is moved there. The NTP side of each association
// (lib/proto/nts/nts_client.ts) does the packets; this file only feeds it.

import type { Logger } from "../log/logger.ts";
import type { PeerAddress } from "../proto/events.ts";
import type { NtsKeResult } from "../proto/nts/ke_result.ts";
import type { NtsKeClient, NtsKeTarget } from "./nts_ke_client.ts";
import { literalAddress, type ResolveFamily, type Resolver } from "./resolver.ts";
import type { Timers } from "./timers.ts";

/** What the keeper needs of an association's NTS state (lib/proto/nts/nts_client.ts NtsClient). */
export interface NtsClientLink {
  install(ke: NtsKeResult, nowUnixSec: number): boolean;
  noteKeFailure(): void;
  onNeedKe(listener: (() => void) | null): void;
  readonly needsKe: boolean;
}

/** Where an NTS source's KE server is. */
export interface NtsSourceTarget {
  /** The configured name or address: SNI, certificate check, default NTP server. */
  readonly host: string;
  /** The address the association polls now (resolved from `host`). */
  readonly peer: PeerAddress;
  /** TCP port of the KE server. */
  readonly kePort: number;
  readonly family: ResolveFamily;
}

/** First pause after a failed exchange; it doubles up to {@link NTS_KE_MAX_BACKOFF_SEC}. */
export const NTS_KE_MIN_BACKOFF_SEC = 16;
/** Longest pause between failed exchanges. */
export const NTS_KE_MAX_BACKOFF_SEC = 1024;

/** What the keeper needs from the daemon. */
export interface NtsSourceKeeperDeps {
  readonly client: NtsKeClient;
  readonly resolver: Resolver;
  readonly timers: Timers;
  readonly log: Logger;
  /** The NTS state of association `id`, or null (no such association, or it has no NTS). */
  ntsClient(id: number): NtsClientLink | null;
  /**
   * Moves association `id` to `peer` (the KE server named another NTP server): returns the new
   * association's id, or null when it could not be done.
   */
  relocate(id: number, peer: PeerAddress): number | null;
  nowUnixSec(): number;
}

interface Entry {
  target: NtsSourceTarget;
  running: boolean;
  failures: number;
  timer: number | null;
  lastResult: string;
}

/** NTS-KE for the daemon's NTS sources. */
export class NtsSourceKeeper {
  readonly #deps: NtsSourceKeeperDeps;
  readonly #entries = new Map<number, Entry>();
  #stopped = false;

  constructor(deps: NtsSourceKeeperDeps) {
    this.#deps = deps;
  }

  /** Association `id` polls an NTS source: run NTS-KE now and whenever it asks again. */
  attach(id: number, target: NtsSourceTarget): void {
    const link = this.#deps.ntsClient(id);
    if (link === null) {
      this.#deps.log.error(
        `NTS source ${target.host}: association ${id} has no NTS state; it is not polled`,
      );
      return;
    }
    const e: Entry = { target, running: false, failures: 0, timer: null, lastResult: "" };
    this.#entries.set(id, e);
    link.onNeedKe(() => this.#kick(id));
    void this.#run(id);
  }

  /** Association `id` is gone. */
  detach(id: number): void {
    const e = this.#entries.get(id);
    if (e === undefined) return;
    if (e.timer !== null) this.#deps.timers.clearTimeout(e.timer);
    this.#entries.delete(id);
    this.#deps.ntsClient(id)?.onNeedKe(null);
  }

  /** The association ids with NTS (for status output). */
  get ids(): number[] {
    return [...this.#entries.keys()];
  }

  /** Stops every pending retry. */
  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#entries.keys()]) this.detach(id);
  }

  #kick(id: number): void {
    const e = this.#entries.get(id);
    // A retry is already scheduled after a failure: the pause stands.
    if (e === undefined || e.running || e.timer !== null) return;
    void this.#run(id);
  }

  async #run(id: number): Promise<void> {
    const e = this.#entries.get(id);
    if (e === undefined || e.running || this.#stopped) return;
    e.running = true;
    const t = e.target;
    const ke: NtsKeTarget = { host: t.host, address: t.peer.address, port: t.kePort };
    const out = await this.#deps.client.exchange(ke);
    e.running = false;
    if (this.#stopped || this.#entries.get(id) !== e) return;
    const link = this.#deps.ntsClient(id);
    if (link === null) {
      this.detach(id);
      return;
    }
    if (!out.ok) {
      link.noteKeFailure();
      this.#retryLater(id, e, out.reason);
      return;
    }
    const where = await this.#ntpPeer(t, out.result);
    if (this.#stopped || this.#entries.get(id) !== e) return;
    if (where === null) {
      link.noteKeFailure();
      this.#retryLater(id, e, `cannot resolve the NTP server ${out.result.ntpServer}`);
      return;
    }
    let liveId = id;
    let liveLink = link;
    if (where.address !== t.peer.address || where.port !== t.peer.port) {
      const moved = this.#deps.relocate(id, where);
      if (moved === null) {
        this.#retryLater(id, e, `cannot move to ${where.address} port ${where.port}`);
        return;
      }
      this.detach(id);
      const next = this.#deps.ntsClient(moved);
      if (next === null) return;
      liveId = moved;
      liveLink = next;
      const entry: Entry = {
        target: { ...t, peer: where },
        running: false,
        failures: 0,
        timer: null,
        lastResult: "",
      };
      this.#entries.set(moved, entry);
      next.onNeedKe(() => this.#kick(moved));
    }
    if (!liveLink.install(out.result, this.#deps.nowUnixSec())) {
      this.#retryLater(liveId, this.#entries.get(liveId)!, "the NTP side refused the keys");
      return;
    }
    const entry = this.#entries.get(liveId)!;
    entry.failures = 0;
    if (out.warnings.length > 0) {
      this.#deps.log.warn(
        `NTS-KE ${t.host}:${t.kePort}: the server sent warning${
          out.warnings.length > 1 ? "s" : ""
        } ${out.warnings.join(", ")}`,
      );
    }
    const note =
      `NTS-KE ${t.host}:${t.kePort}: ${out.result.cookies.length} cookies, AEAD ${out.result.aeadId}, NTP ${where.address} port ${where.port} (${out.elapsedMs} ms)`;
    if (entry.lastResult !== "ok") this.#deps.log.info(note);
    else this.#deps.log.debug(note);
    entry.lastResult = "ok";
  }

  #retryLater(id: number, e: Entry, reason: string): void {
    e.failures++;
    const pause = Math.min(
      NTS_KE_MAX_BACKOFF_SEC,
      NTS_KE_MIN_BACKOFF_SEC * 2 ** Math.min(10, e.failures - 1),
    );
    // Say each new kind of failure once; repeats go to debug.
    if (e.lastResult !== reason) this.#deps.log.warn(`${reason}; retrying in ${pause} s`);
    else this.#deps.log.debug(`${reason}; retrying in ${pause} s`);
    e.lastResult = reason;
    e.timer = this.#deps.timers.setTimeout(() => {
      e.timer = null;
      void this.#run(id);
    }, pause * 1000);
  }

  /** Where NTP goes after this exchange: the announced server (resolved) and port. */
  async #ntpPeer(t: NtsSourceTarget, ke: NtsKeResult): Promise<PeerAddress | null> {
    const port = ke.ntpPort;
    if (ke.ntpServer === t.host) return { ...t.peer, port };
    const lit = literalAddress(ke.ntpServer);
    if (lit !== null) return { family: lit.family, address: lit.address, port };
    let r;
    try {
      r = await this.#deps.resolver(ke.ntpServer, t.family);
    } catch {
      return null;
    }
    if (!r.ok) return null;
    const same = r.addresses.find((a) => a.address === t.peer.address);
    const first = same ?? r.addresses[0];
    return first === undefined ? null : { family: first.family, address: first.address, port };
  }
}
