// Turns `server` and `pool` lines into associations (ntpd 4.2.x behaviour): resolves names,
// expands a pool to several servers up to `tos maxclock`, replaces pool members that stop
// answering or are refused, and re-resolves server names that stop answering.

import type { Logger } from "../log/logger.ts";
import type { AssociationOptions } from "../proto/association.ts";
import type { PeerAddress } from "../proto/events.ts";
import {
  familyAllows,
  literalAddress,
  type ResolvedAddress,
  type ResolveFamily,
  type Resolver,
} from "./resolver.ts";
import type { NtsSourceKeeper } from "./nts_sources.ts";
import type { Timekeeper } from "./timekeeper.ts";
import type { Timers } from "./timers.ts";

/** One `server`/`pool` line as the daemon uses it. */
export interface SourceSetting {
  /** `peer`: symmetric active, otherwise handled like `server`. */
  kind: "server" | "pool" | "peer";
  /** Host name or address literal as configured. */
  address: string;
  /** `-4` / `-6` on the line. */
  family: ResolveFamily;
  /** UDP port of the server (123 unless a test says otherwise). */
  port: number;
  /** Association options (kind and name are filled in here). */
  options: AssociationOptions;
  /** `nts` on the line: NTS-KE at this TCP port before (and while) polling; absent: no NTS. */
  nts?: { kePort: number };
}

/** Options of the manager. */
export interface SourceManagerOptions {
  /** `tos maxclock`: pools stop adding members at this many associations. */
  maxclock: number;
  /** Command-line -4/-6. */
  family: ResolveFamily;
  /** Seconds between checks for unreachable members and unresolved names. */
  maintenanceSec: number;
  /**
   * Polls without an answer before a member counts as unreachable (1–8; ntpd: 8, the whole reach
   * register). Lower values only make tests with real servers finish sooner.
   */
  unreachPolls: number;
  /** Seconds a replaced pool address is not taken again. */
  retireSec: number;
}

/** Defaults (ntpd-like). */
export const DEFAULT_SOURCE_MANAGER_OPTIONS: SourceManagerOptions = {
  maxclock: 10,
  family: "any",
  maintenanceSec: 60,
  unreachPolls: 8,
  retireSec: 3600,
};

/** What the manager needs. */
export interface SourceManagerDeps {
  timekeeper: Timekeeper;
  resolver: Resolver;
  timers: Timers;
  log: Logger;
  /** True when a socket of that family exists to send from. */
  canSend(family: 4 | 6): boolean;
  /** Milliseconds of a monotonic clock (for retirement times). */
  nowMs(): number;
  /** An association for `address` was mobilised (`present`) or dropped (`restrict source`). */
  onMember?(address: string, present: boolean): void;
  /** NTS-KE for the sources marked `nts` (absent: such sources are polled without keys). */
  nts?: NtsSourceKeeper;
}

interface Member {
  id: number;
  address: string;
  sentAtLastRx: number;
  received: number;
}

interface Source {
  setting: SourceSetting;
  family: ResolveFamily;
  members: Map<number, Member>;
  resolving: Promise<void> | null;
  lastError: string | null;
  retired: Map<string, number>;
}

/** The association side of the configuration's sources. */
export class SourceManager {
  #deps: SourceManagerDeps;
  #opts: SourceManagerOptions;
  #sources: Source[] = [];
  #timer: number | null = null;
  #stopped = false;
  #silentMask: number;

  /** Prepares the sources; nothing is resolved before {@link start}. */
  constructor(
    sources: readonly SourceSetting[],
    deps: SourceManagerDeps,
    opts: Partial<SourceManagerOptions> = {},
  ) {
    this.#deps = deps;
    this.#opts = { ...DEFAULT_SOURCE_MANAGER_OPTIONS, ...opts };
    const polls = Math.max(1, Math.min(8, Math.floor(this.#opts.unreachPolls)));
    this.#opts.unreachPolls = polls;
    this.#silentMask = (1 << polls) - 1;
    for (const s of sources) {
      const family = intersect(s.family, this.#opts.family);
      if (family === null) {
        deps.log.warn(`${s.kind} ${s.address}: its -4/-6 conflicts with the command line; ignored`);
        continue;
      }
      this.#sources.push({
        setting: s,
        family,
        members: new Map(),
        resolving: null,
        lastError: null,
        retired: new Map(),
      });
    }
  }

  /** Mobilises literal addresses at once and starts resolving names; resolves when done. */
  start(): Promise<void> {
    const pending = this.#sources.map((s) => this.#fill(s));
    this.#schedule();
    return Promise.all(pending).then(() => {});
  }

  /** Stops maintenance. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Adds a source line while running (reload, run-time configuration): mobilises a literal at
   * once, starts resolving a name; resolves when its first lookup is done.
   */
  add(setting: SourceSetting): Promise<void> {
    const family = intersect(setting.family, this.#opts.family);
    if (family === null) {
      this.#deps.log.warn(
        `${setting.kind} ${setting.address}: its -4/-6 conflicts with the command line; ignored`,
      );
      return Promise.resolve();
    }
    const s: Source = {
      setting,
      family,
      members: new Map(),
      resolving: null,
      lastError: null,
      retired: new Map(),
    };
    this.#sources.push(s);
    return this.#fill(s);
  }

  /**
   * Removes the source lines of `kind` and `address` (as configured) and demobilises their
   * associations; returns how many lines were removed.
   */
  remove(kind: SourceSetting["kind"], address: string, reason: string): number {
    const gone = this.#sources.filter((s) =>
      s.setting.kind === kind && s.setting.address === address
    );
    this.#sources = this.#sources.filter((s) => !gone.includes(s));
    for (const s of gone) {
      for (const m of [...s.members.values()]) {
        this.#drop(s, m);
        this.#deps.timekeeper.demobilize(m.id, reason);
      }
    }
    return gone.length;
  }

  /** Association ids by source line (for status output). */
  members(): { kind: string; address: string; ids: number[] }[] {
    return this.#sources.map((s) => ({
      kind: s.setting.kind,
      address: s.setting.address,
      ids: [...s.members.keys()],
    }));
  }

  /** The core dropped an association (KoD): pool members are replaced at the next check. */
  onDemobilized(id: number): void {
    for (const s of this.#sources) {
      const m = s.members.get(id);
      if (m === undefined || s.setting.kind !== "pool") continue;
      this.#retire(s, m, "refused service");
    }
  }

  /** One maintenance pass (also run by the timer): replace, re-resolve, refill. */
  async maintain(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const s of this.#sources) {
      for (const m of [...s.members.values()]) {
        const snap = this.#deps.timekeeper.association(m.id);
        if (snap === null) {
          this.#drop(s, m);
          continue;
        }
        if (snap.received > m.received) {
          m.received = snap.received;
          m.sentAtLastRx = snap.sent;
        }
        // The last `unreachPolls` bits of the reach register are clear (all of it by default)
        // and that many requests went out since the last answer this check saw.
        const silent = (snap.reach & this.#silentMask) === 0 &&
          snap.sent - m.sentAtLastRx >= this.#opts.unreachPolls;
        if (!snap.dead && !silent) continue;
        const why = snap.dead ? "refused service" : "unreachable";
        if (s.setting.kind === "pool") {
          this.#retire(s, m, why);
        } else if (literalAddress(s.setting.address) === null) {
          // A name that stops answering may have moved: look it up again (after as many more
          // unanswered polls if it has not).
          m.sentAtLastRx = snap.sent;
          work.push(this.#reresolve(s, m));
        }
      }
      work.push(this.#fill(s));
    }
    await Promise.all(work);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#deps.timers.setTimeout(() => {
      this.#timer = null;
      this.maintain().finally(() => this.#schedule());
    }, this.#opts.maintenanceSec * 1000);
  }

  #drop(s: Source, m: Member): void {
    s.members.delete(m.id);
    this.#deps.nts?.detach(m.id);
    this.#deps.onMember?.(m.address, false);
  }

  #retire(s: Source, m: Member, why: string): void {
    this.#drop(s, m);
    s.retired.set(m.address, this.#deps.nowMs() + this.#opts.retireSec * 1000);
    this.#deps.timekeeper.demobilize(m.id, `${why}, to be replaced`);
  }

  #room(s: Source): number {
    if (s.setting.kind !== "pool") return s.members.size === 0 ? 1 : 0;
    let total = 0;
    for (const x of this.#sources) total += x.members.size;
    return Math.max(0, this.#opts.maxclock - total);
  }

  #inUse(address: string): boolean {
    for (const s of this.#sources) {
      for (const m of s.members.values()) if (m.address === address) return true;
    }
    return false;
  }

  #usable(s: Source, addresses: ResolvedAddress[]): ResolvedAddress[] {
    const now = this.#deps.nowMs();
    for (const [a, until] of s.retired) if (until <= now) s.retired.delete(a);
    return addresses.filter((a) =>
      familyAllows(s.family, a.family) && this.#deps.canSend(a.family) &&
      !this.#inUse(a.address) && !s.retired.has(a.address)
    );
  }

  #fill(s: Source): Promise<void> {
    if (this.#stopped || this.#room(s) === 0) return Promise.resolve();
    if (s.resolving !== null) return s.resolving;
    const lit = literalAddress(s.setting.address);
    if (lit !== null) {
      this.#addUsable(s, [lit]);
      return Promise.resolve();
    }
    s.resolving = this.#resolve(s).then((addrs) => {
      s.resolving = null;
      if (addrs !== null) this.#addUsable(s, addrs);
    });
    return s.resolving;
  }

  #addUsable(s: Source, addrs: ResolvedAddress[]): void {
    const usable = this.#usable(s, addrs);
    if (usable.length === 0 && s.members.size === 0) {
      const why = addrs.length === 0
        ? "no address"
        : "no usable address (family, socket or in use)";
      this.#note(s, why);
      return;
    }
    for (const a of usable) {
      if (this.#stopped || this.#room(s) === 0) break;
      this.#add(s, a);
    }
  }

  async #resolve(s: Source): Promise<ResolvedAddress[] | null> {
    let r;
    try {
      r = await this.#deps.resolver(s.setting.address, s.family);
    } catch (e) {
      r = { ok: false as const, reason: (e as Error).message };
    }
    if (!r.ok) {
      this.#note(s, `cannot resolve: ${r.reason}`);
      return null;
    }
    return r.addresses;
  }

  async #reresolve(s: Source, m: Member): Promise<void> {
    const addrs = await this.#resolve(s);
    if (addrs === null || this.#stopped || !s.members.has(m.id)) return;
    if (addrs.some((a) => a.address === m.address)) return; // still there: keep polling it
    const next = this.#usable(s, addrs)[0];
    if (next === undefined) return;
    this.#drop(s, m);
    this.#deps.timekeeper.demobilize(m.id, `${s.setting.address} now resolves to ${next.address}`);
    this.#add(s, next);
  }

  #add(s: Source, a: ResolvedAddress): void {
    if (s.setting.nts !== undefined && this.#deps.nts === undefined) {
      // Never poll an `nts` source without NTS: that would be unauthenticated time.
      this.#note(s, "NTS is not running in this daemon (restart to add NTS); not polled");
      return;
    }
    const peer: PeerAddress = { family: a.family, address: a.address, port: s.setting.port };
    const named = literalAddress(s.setting.address) === null;
    const id = this.#deps.timekeeper.mobilize(peer, {
      ...s.setting.options,
      kind: s.setting.kind,
      ...(named ? { name: s.setting.address } : {}),
    });
    s.members.set(id, { id, address: a.address, sentAtLastRx: 0, received: 0 });
    this.#deps.onMember?.(a.address, true);
    s.lastError = null;
    if (s.setting.nts !== undefined) {
      this.#deps.nts?.attach(id, {
        host: s.setting.address,
        peer,
        kePort: s.setting.nts.kePort,
        family: s.family,
      });
    }
  }

  /**
   * Moves association `id` of an NTS source to `peer` (its KE server named another NTP server or
   * port): a new association there replaces it. Returns the new id, or null when `id` is not a
   * member.
   */
  relocate(id: number, peer: PeerAddress): number | null {
    for (const s of this.#sources) {
      const m = s.members.get(id);
      if (m === undefined) continue;
      s.members.delete(id);
      this.#deps.onMember?.(m.address, false);
      this.#deps.timekeeper.demobilize(id, `NTS-KE names ${peer.address} port ${peer.port}`);
      const named = literalAddress(s.setting.address) === null;
      const next = this.#deps.timekeeper.mobilize(peer, {
        ...s.setting.options,
        kind: s.setting.kind,
        ...(named ? { name: s.setting.address } : {}),
      });
      s.members.set(next, { id: next, address: peer.address, sentAtLastRx: 0, received: 0 });
      this.#deps.onMember?.(peer.address, true);
      return next;
    }
    return null;
  }

  #note(s: Source, why: string): void {
    if (s.lastError === why) return; // say it once, not at every retry
    s.lastError = why;
    this.#deps.log.warn(`${s.setting.kind} ${s.setting.address}: ${why}`);
  }
}

function intersect(a: ResolveFamily, b: ResolveFamily): ResolveFamily | null {
  if (a === "any") return b;
  if (b === "any" || a === b) return a;
  return null;
}
