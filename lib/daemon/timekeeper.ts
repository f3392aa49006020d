// Hosts the protocol core (NtpSystem) in the daemon: feeds it replies and timer ticks, and carries
// out its actions in order (send, one real timer, clock steps/adjustments, status, ntpd's log lines).

import { clockAdjustmentFromAction } from "../clock/linux_clock.ts";
import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import { type IpWords, isGroupAddress, parseIp } from "../proto/ip.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { AssociationOptions, AssociationSnapshot } from "../proto/association.ts";
import {
  type Action,
  type AdjustClockAction,
  type EventAction,
  type PeerAddress,
  SystemEvent,
} from "../proto/events.ts";
import { diffSec, type NtpTime } from "../proto/ntp_time.ts";
import type { Rng } from "../proto/rng.ts";
import type { NtsClient } from "../proto/nts/nts_client.ts";
import { CryptoRng } from "./crypto_rng.ts";
import type { SystemState } from "../proto/server.ts";
import type { RefclockIdentity, RefclockSample } from "../proto/refclock_sample.ts";
import {
  NtpSystem,
  type SystemOptions,
  type SystemSnapshot,
  type TosOptions,
} from "../proto/system.ts";
import type { LoopFilter } from "../proto/loop_filter.ts";
import type { BroadcastServerOptions } from "../proto/broadcast_server.ts";
import type { ManycastClientOptions } from "../proto/manycast_client.ts";
import { eventClass, LOG_CLASSES, type LogClass } from "./log_classes.ts";
import type { Timers } from "./timers.ts";

/** Settings of the timekeeping core. */
export interface TimekeeperOptions {
  /** NtpSystem options except precision (taken from the clock); rng defaults to CryptoRng. */
  system?: Omit<SystemOptions, "precisionLog2" | "rng"> & { rng?: Rng };
  /** Log classes to write (default all). */
  logClasses?: ReadonlySet<LogClass>;
}

/** Why and how the core asked the daemon to exit (panic, or -q done). */
export interface TimekeeperExit {
  code: number;
  reason: string;
  /** For -q: ntpd's one-line result, "time slew +0.000012s" or "time set -1.234567s". */
  summary: string | null;
}

/** What the timekeeper needs from the daemon. */
export interface TimekeeperDeps {
  /** The clock the core reads and steers (a VirtualClock in observe mode). */
  clock: Clock;
  /**
   * Sends a client request; false when there is no socket for the destination. `onTransmit`
   * receives when it left, on the core's clock (a kernel transmit timestamp already converted),
   * possibly twice: a clock read at the send call, then the kernel's timestamp.
   */
  send(
    data: Uint8Array,
    to: PeerAddress,
    onTransmit?: (at: NtpTime, kernel: boolean) => void,
    ttl?: number,
  ): boolean;
  timers: Timers;
  log: Logger;
  /** The core dropped an association (kiss-o'-death DENY/RSTR). */
  onDemobilized?(id: number, reason: string): void;
  /** After each batch of actions; `changed` when the clock or the status was updated. */
  onUpdate?(changed: boolean): void;
  /** Each batch of the core's actions before they are carried out (statistics files). */
  onActions?(actions: readonly Action[], now: NtpTime): void;
  /** The core asked to exit. */
  onExit?(exit: TimekeeperExit): void;
  /** Each event of the core (the control protocol's status words and traps). */
  onEvent?(event: EventAction): void;
}

/** Counters of the daemon side of timekeeping. */
export interface TimekeeperCounters {
  /** Datagrams the core asked to send that had no socket or failed. */
  sendFailures: number;
  /** Steps and adjustments the clock refused (e.g. EPERM). */
  clockErrors: number;
  /** Real timer expiries. */
  timerRuns: number;
}

/** The NtpSystem plus everything needed to run it against real time. */
export class Timekeeper {
  #system: NtpSystem;
  #deps: TimekeeperDeps;
  #classes: ReadonlySet<LogClass>;
  #timer: number | null = null;
  #exited = false;
  #stopped = false;
  #counters: TimekeeperCounters = { sendFailures: 0, clockErrors: 0, timerRuns: 0 };

  /** Builds the core; nothing runs before {@link start}. */
  constructor(options: TimekeeperOptions, deps: TimekeeperDeps) {
    this.#deps = deps;
    this.#classes = options.logClasses ?? new Set(LOG_CLASSES);
    const sys = options.system ?? {};
    this.#system = new NtpSystem({
      ...sys,
      rng: sys.rng ?? new CryptoRng(),
      precisionLog2: deps.clock.precisionLog2,
      ipv6Refid,
    });
  }

  /** The discipline (frequency for the drift file). */
  get loop(): LoopFilter {
    return this.#system.loop;
  }

  /** Daemon-side counters. */
  get counters(): TimekeeperCounters {
    return { ...this.#counters };
  }

  /** Starts the core: initial frequency, status, first timer. */
  start(): void {
    this.#apply(this.#system.start(this.#deps.clock.now()));
  }

  /** Mobilises a client association for `address`; returns its id. */
  mobilize(address: PeerAddress, options: AssociationOptions): number {
    const id = this.#system.addServer(address, options, this.#deps.clock.now());
    const what = options.kind === "pool"
      ? "pool member"
      : options.kind === "peer"
      ? "symmetric active peer"
      : "server";
    const name = options.name !== undefined && options.name !== address.address
      ? ` (${options.name})`
      : "";
    this.#log("peer", `${address.address} mobilize assoc ${id}: ${what}${name}`);
    // The new association polls within seconds: let the core re-arm the timer now.
    this.#arm(this.#deps.clock.now());
    return id;
  }

  /** A `broadcast` line: mode 5 packets to `address` while synchronised; returns its id. */
  addBroadcast(address: PeerAddress, options: BroadcastServerOptions): number {
    const id = this.#system.addBroadcast(address, options, this.#deps.clock.now());
    const what = isGroupAddress(address.address) ? "multicast" : "broadcast";
    this.#log("peer", `${address.address} mobilize assoc ${id}: ${what} server`);
    this.#arm(this.#deps.clock.now());
    return id;
  }

  /**
   * A `manycastclient` line: the search of group `address`; servers that answer are mobilised
   * with `options`, at most `maxclock` kept. Returns the search's id.
   */
  addManycastClient(
    address: PeerAddress,
    search: ManycastClientOptions,
    options: AssociationOptions,
    maxclock: number,
  ): number {
    const now = this.#deps.clock.now();
    const id = this.#system.addManycastClient(address, search, options, maxclock, now);
    this.#log("peer", `${address.address} mobilize assoc ${id}: manycast client`);
    this.#arm(this.#deps.clock.now());
    return id;
  }

  /** Mobilises a reference clock association; returns its id. */
  addRefclock(clock: RefclockIdentity, options: AssociationOptions): number {
    const id = this.#system.addRefclock(clock, options, this.#deps.clock.now());
    this.#log(
      "peer",
      `${options.name ?? `127.127.${clock.type}.${clock.unit}`} mobilize assoc ${id}: refclock`,
    );
    this.#arm(this.#deps.clock.now());
    return id;
  }

  /** Hands a reference clock's sample to the core. */
  onRefclockSample(id: number, sample: RefclockSample): void {
    if (this.#stopped) return;
    this.#apply(this.#system.onRefclockSample(id, sample, this.#deps.clock.now()));
  }

  /** Changes the `tos` selection thresholds while running (reload, run-time configuration). */
  setTos(tos: Partial<TosOptions>): void {
    this.#system.setTos(tos);
  }

  /** Changes the log classes written (`logconfig`) while running. */
  setLogClasses(classes: ReadonlySet<LogClass>): void {
    this.#classes = classes;
  }

  /** Removes an association (pool member replaced, name re-resolved). */
  demobilize(id: number, reason: string): void {
    const a = this.#system.associations.get(id);
    if (a === undefined) return;
    this.#system.removeAssociation(id);
    this.#log("peer", `${a.address.address} demobilize assoc ${id}: ${reason}`);
  }

  /** One association's control view, or null when it is gone. */
  association(id: number): AssociationSnapshot | null {
    return this.#system.associations.get(id)?.snapshot(this.#deps.clock.now()) ?? null;
  }

  /**
   * The NTS state of association `id`, made by `make` the first time it is asked for (the
   * association of an `nts` source); null when there is no such association.
   */
  ntsClient(id: number, make?: () => NtsClient): NtsClient | null {
    const a = this.#system.associations.get(id);
    if (a === undefined) return null;
    if (a.nts === null && make !== undefined) a.setNts(make());
    return a.nts;
  }

  /**
   * Hands a datagram (a reply, or a symmetric packet with its sender's restrict flags) to the
   * core; `rxTime` must already be on the core's clock.
   */
  onPacket(
    data: Uint8Array,
    peer: PeerAddress,
    rxTime: NtpTime,
    keyId = 0,
    restrictFlags = 0,
    group?: string,
  ): void {
    if (this.#stopped) return;
    const now = this.#deps.clock.now();
    this.#apply(
      this.#system.onPacket(
        { data, peer, rxTime, keyId, restrictFlags, ...(group !== undefined ? { group } : {}) },
        now,
      ),
    );
  }

  /** True when `src`:`port` is a configured `peer` (see NtpSystem.hasConfiguredPeer). */
  hasConfiguredPeer(src: IpWords, port: number): boolean {
    return this.#system.hasConfiguredPeer(src, port);
  }

  /** The core's system variables and associations. */
  snapshot(): SystemSnapshot {
    return this.#system.snapshot(this.#deps.clock.now());
  }

  /** What a server should send while synchronised, or null when unsynchronised. */
  systemState(snap: SystemSnapshot = this.snapshot()): SystemState | null {
    // An orphan parent serves at the orphan stratum without a system peer.
    if (snap.leap === 3 || snap.stratum >= 16) return null;
    if (snap.systemPeer === null && snap.orphan !== "parent") return null;
    return {
      leap: snap.leap,
      stratum: snap.stratum,
      precisionLog2: snap.precisionLog2,
      rootDelaySec: snap.rootDelaySec,
      rootDispersionSec: snap.rootDispersionSec,
      refid: snap.refid,
      referenceTime: snap.referenceTime,
    };
  }

  /**
   * Releases the clock and stops the timer. Every way out of the daemon comes here (Daemon.stop:
   * signals, -q, panic, fatal errors): the discipline's release leaves the kernel at its base
   * frequency with the nominal tick and no slew in progress (LoopFilter.release).
   */
  stop(): void {
    if (!this.#stopped) {
      for (const a of this.#system.loop.release()) if (a.type === "adjustClock") this.#adjust(a);
    }
    this.#stopped = true;
    if (this.#timer !== null) this.#deps.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #onTimer(): void {
    this.#timer = null;
    if (this.#stopped) return;
    this.#counters.timerRuns++;
    this.#apply(this.#system.onTimer(this.#deps.clock.now()));
  }

  #arm(at: NtpTime): void {
    if (this.#stopped) return;
    if (this.#timer !== null) this.#deps.timers.clearTimeout(this.#timer);
    const delayMs = Math.max(0, diffSec(at, this.#deps.clock.now()) * 1000);
    this.#timer = this.#deps.timers.setTimeout(() => this.#onTimer(), delayMs);
  }

  #apply(actions: Action[]): void {
    this.#deps.onActions?.(actions, this.#deps.clock.now());
    let changed = false;
    let steppedSec: number | null = null;
    for (const a of actions) {
      switch (a.type) {
        case "send": {
          // The exchange measures from when the request really left, not from when the core
          // wrote it: timer lateness and the send path never enter the offset or the delay.
          const { assocId, data } = a;
          const sent = this.#deps.send(data, a.to, (at, kernel) => {
            if (!this.#stopped) this.#system.onTransmit(assocId, data, at, kernel);
          }, a.ttl);
          if (!sent) this.#counters.sendFailures++;
          break;
        }
        case "setTimer":
          this.#arm(a.at);
          break;
        case "stepClock":
          changed = true;
          steppedSec = a.offsetSec;
          this.#clockCall("step", () => this.#deps.clock.step(a.offsetSec));
          break;
        case "adjustClock":
          changed = true;
          this.#adjust(a);
          break;
        case "setStatus":
          // The kernel's leap and sync bits come with the discipline's adjustClock actions.
          changed = true;
          break;
        case "event":
          this.#event(a);
          this.#deps.onEvent?.(a);
          break;
        case "demobilize":
          this.#log("peer", `assoc ${a.assocId} demobilized: ${a.reason}`);
          this.#deps.onDemobilized?.(a.assocId, a.reason);
          break;
        case "reset":
          if (a.exit && !this.#exited) {
            this.#exited = true;
            const offset = steppedSec ?? this.#system.loop.lastOffsetSec;
            const summary = a.reason === "set once"
              ? `time ${steppedSec !== null ? "set" : "slew"} ${signed(offset)}s`
              : null;
            this.#deps.onExit?.({ code: a.exitCode, reason: a.reason, summary });
          }
          break;
      }
    }
    this.#deps.onUpdate?.(changed);
  }

  #adjust(a: AdjustClockAction): void {
    // With the kernel PLL, `offsetSec` goes to the kernel and `freqPpm` is only the
    // discipline's view of the kernel frequency: it is not written.
    const adj = clockAdjustmentFromAction(a);
    this.#clockCall("adjust", () => this.#deps.clock.adjust(adj));
  }

  #event(a: EventAction): void {
    // The kernel status word is only news when the kernel is really being steered.
    if (a.scope === "system" && a.code === SystemEvent.KERN && !this.#deps.clock.canSteer) return;
    this.#log(eventClass(a.scope, a.code), a.message);
  }

  #clockCall(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#counters.clockErrors++;
      if (this.#counters.clockErrors <= 5) {
        this.#deps.log.error(`cannot ${what} the clock: ${(e as Error).message}`);
      }
    }
  }

  #log(cls: LogClass, message: string): void {
    if (this.#classes.has(cls)) this.#deps.log.info(message);
  }
}

/** The refid a server shows for an IPv6 system peer: the first four bytes of the address's MD5. */
export function ipv6Refid(address: string): number {
  const p = parseIp(address);
  if (!p.ok || p.ip.family !== 6) return 0;
  // MD5 in TypeScript (an empty-key digest MAC): node:crypto would cost 5-6 MB of resident memory
  // for four bytes computed once per change of system peer.
  const d = new Uint8Array(16);
  new PureCrypto().macContext("MD5", new Uint8Array(0)).compute(p.ip.bytes, 0, 16, d, 0, 16);
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : "-"}${Math.abs(x).toFixed(6)}`;
}
