// The daemon: binds the sockets, answers clients (mode 3) and feeds server replies (mode 4) to the
// timekeeping core on the same sockets, as ntpd does on port 123; runs the LOCAL refclock, the
// drift file and the JSON status file — the I/O around lib/proto.

import { createHash } from "node:crypto";
import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import type { ReceivedDatagram, ReplySlot, SocketAddress, Transport } from "../net/transport.ts";
import { ffiSocketsUsable } from "../net/open_transport.ts";
import { formatSocketAddress, isUnspecified } from "../net/socket_address.ts";
import type { PeerAddress } from "../proto/events.ts";
import { type LeapSecondTable, ntpTimeOfSec, parseLeapSecondsList } from "../proto/leap_seconds.ts";
import type { LoopFilterOptions } from "../proto/loop_filter.ts";
import { type NtpTime, toUnixNs } from "../proto/ntp_time.ts";
import { LEN_PKT_NOMAC } from "../proto/constants.ts";
import { refidFromAscii } from "../proto/packet.ts";
import {
  Server,
  type ServerStats,
  type SystemState,
  unsynchronisedState,
} from "../proto/server.ts";
import type { TosOptions } from "../proto/system.ts";
import { LocalDriver } from "../../drivers/local.ts";
import { refclockAddress, type RefclockDriver, type RefclockFudge } from "../../drivers/driver.ts";
import { readBoundedTextFile } from "../config/read_bounded_text_file.ts";
import { readDriftFile, writeDriftFile } from "./drift_file.ts";
import { parseLogConfig } from "./log_classes.ts";
import { LoopLag } from "./loop_lag.ts";
import { answerRequest } from "./request_path.ts";
import { SharedServedState } from "./served_state.ts";
import {
  addServerStats,
  droppedTotal,
  type ServerThreadStatus,
  ServerWorkers,
} from "./server_workers.ts";
import { type ResolveFamily, type Resolver, systemResolver } from "./resolver.ts";
import { SourceManager, type SourceSetting } from "./source_manager.ts";
import type { DaemonStatus } from "./daemon_status.ts";

export type { DaemonStatus } from "./daemon_status.ts";
import { isoTime, statusDocument, writeStatusFile } from "./status_file.ts";
import { Timekeeper, type TimekeeperExit } from "./timekeeper.ts";
import { realTimers, type Timers } from "./timers.ts";
import { VirtualClock } from "../clock/virtual_clock.ts";

/** Largest leap-seconds file read (the IERS/IETF list is about 10 KB). */
export const MAX_LEAP_FILE_BYTES = 1 << 20;

/** A reference clock the daemon should run. */
export interface RefclockSetting {
  type: number;
  unit: number;
  fudge: Partial<RefclockFudge>;
}

/** Timekeeping settings (from `tos`, `tinker`, `enable`/`disable` and the command line). */
export interface TimekeepingSettings {
  tos?: Partial<TosOptions>;
  /**
   * Discipline options; `driftPpm` is filled in from the drift file. In observe mode `kernel`
   * is forced off: the kernel PLL cannot be emulated, so the discipline slews by frequency.
   */
  loop?: Omit<LoopFilterOptions, "driftPpm">;
  /** `tos maxclock` (default 10). */
  maxclock?: number;
  /** -4 / -6. */
  family?: ResolveFamily;
  /** Seconds between source checks (pool refill, re-resolution); default 60. */
  maintenanceSec?: number;
  /** Unanswered polls before a source counts as unreachable (1–8); default 8, as ntpd. */
  unreachPolls?: number;
}

/** Everything the daemon needs, resolved from the configuration and the command line. */
export interface DaemonSettings {
  /** Addresses to answer on. */
  listen: SocketAddress[];
  refclocks: RefclockSetting[];
  driftFile: string | null;
  /** Why the clock is never steered ("no CAP_SYS_TIME", "observe mode"), or null. */
  noSteerReason: string | null;
  /** Seconds between reference clock polls (ntpd polls LOCAL every 64 s). */
  refclockPollSec: number;
  /** Network sources (`server`, `pool`); none: serve only. */
  sources?: SourceSetting[];
  timekeeping?: TimekeepingSettings;
  /** JSON status file written atomically on every change and periodically; null: none. */
  statusFile?: string | null;
  /** Seconds between periodic status file writes (default 2). */
  statusIntervalSec?: number;
  /** Seconds between drift file writes (default 3600, as ntpd). */
  driftIntervalSec?: number;
  /** `logconfig` tokens. */
  logConfig?: string[];
  /** `leapfile`: NIST/IERS leap-seconds.list, checked with its SHA-1; null: none. */
  leapFile?: string | null;
  /** Configuration remarks to log at start (unsupported lines and the like). */
  warnings?: string[];
  /**
   * Server threads (default 1). Above 1, every listen socket gets SO_REUSEPORT and N-1 worker
   * threads open their own sockets on the same addresses to answer client requests.
   */
  serverThreads?: number;
  /**
   * `--loop-lag-ms`: run an event-loop lag probe on the main thread with this timer interval
   * (ms) and show its summary in the status file; null or absent: no probe.
   */
  loopLagMs?: number | null;
}

/** What the daemon is built from; tests pass fakes. */
export interface DaemonDeps {
  /** The system clock: a steering clock, or a read-only one (wrapped in a VirtualClock). */
  clock: Clock;
  /**
   * Opens a socket on `address`. `readClock`, when given, is the clock the transport must use for
   * transmit stamps and software receive times (observe mode's corrected time).
   */
  openTransport(
    address: SocketAddress,
    readClock?: () => NtpTime,
    options?: { reusePort: boolean },
  ): Promise<Transport>;
  log: Logger;
  /** Name resolution (default: hosts file, then DNS). */
  resolver?: Resolver;
  /** Timers (default: the runtime's). */
  timers?: Timers;
  /**
   * Module server threads run (default: `Deno.mainModule`, i.e. main.ts or the bundle, which
   * branch to the worker code inside a server worker).
   */
  workerModule?: string | URL;
  /** Extra options for the server threads (tests: faster restarts, the crash hook). */
  workerOptions?: {
    restartDelayMs?: number;
    maxFailures?: number;
    statsIntervalMs?: number;
    testHooks?: boolean;
  };
}

/** Why the daemon wants to exit (the core's panic, or -q finished). */
export type DaemonExit = TimekeeperExit;

/** The running daemon. */
export class Daemon {
  #settings: DaemonSettings;
  #deps: DaemonDeps;
  #timers: Timers;
  #clock: Clock;
  #virtual: VirtualClock | null;
  #server: Server;
  #transports: Transport[] = [];
  #serving: Promise<void>[] = [];
  /** The virtual clock replies are on (observe mode with network sources), else null. */
  #servingVirtual: VirtualClock | null = null;
  /** What replies carry, shared with the server threads; null with one thread. */
  #shared: SharedServedState | null = null;
  #workers: ServerWorkers | null = null;
  /** Datagrams the server threads handed to this thread. */
  #forwardedIn = 0;
  #refclocks: RefclockDriver[] = [];
  #localState: SystemState | null = null;
  #localName = "";
  #servedSource: "network" | "refclock" | "none" = "none";
  #timekeeper: Timekeeper | null = null;
  #sources: SourceManager | null = null;
  #sourcesReady: Promise<void> = Promise.resolve();
  #timerHandles = new Set<number>();
  #driftPpm: number | null = null;
  /** The last drift/status file write error (logged once until it changes or clears). */
  #driftError: string | null = null;
  #statusError: string | null = null;
  /** The status file write in progress, if any. */
  #statusWrite: Promise<void> | null = null;
  #statusDirty = false;
  #statusSoon: number | null = null;
  #loopLag: LoopLag | null = null;
  #stopped = false;
  #exit!: (e: DaemonExit) => void;
  /** Resolves when the core asks to exit (panic, or -q done). */
  readonly exited: Promise<DaemonExit>;

  /** Prepares the daemon; nothing is opened before {@link start}. */
  constructor(settings: DaemonSettings, deps: DaemonDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#timers = deps.timers ?? realTimers;
    this.#virtual = settings.noSteerReason !== null ? new VirtualClock(deps.clock) : null;
    this.#clock = this.#virtual ?? deps.clock;
    this.#server = new Server(unsynchronisedState(deps.clock.precisionLog2));
    this.exited = new Promise((resolve) => this.#exit = resolve);
  }

  /** Resolves once every configured name had its first lookup (tests). */
  get sourcesReady(): Promise<void> {
    return this.#sourcesReady;
  }

  /** Opens sockets and time sources; resolves once the daemon is answering. */
  async start(): Promise<void> {
    const { log } = this.#deps;
    const clock = this.#deps.clock;
    this.#startLoopLag();
    if (this.#settings.noSteerReason !== null) {
      log.info(
        `${this.#settings.noSteerReason}: the system clock will not be steered; corrections ` +
          `are kept in a virtual clock`,
      );
    }
    for (const w of this.#settings.warnings ?? []) log.warn(w);
    log.info(
      `clock ${clock.name}, precision = ${
        (2 ** clock.precisionLog2 * 1e6).toFixed(3)
      } usec (${clock.precisionLog2})`,
    );
    await this.#readDrift();
    for (const rc of this.#settings.refclocks) {
      if (rc.type !== 1) {
        log.warn(
          `refclock 127.127.${rc.type}.${rc.unit}: driver type ${rc.type} is not supported yet`,
        );
        continue;
      }
      const driver = new LocalDriver(rc.unit, rc.fudge);
      this.#refclocks.push(driver);
      log.info(`refclock ${driver.name} at stratum ${driver.fudge.stratum}`);
    }
    // Without network sources nothing ever steers the virtual clock: keep the transports' own
    // fast clock and skip the conversion on the server's hot path.
    const virtual = (this.#settings.sources ?? []).length > 0 ? this.#virtual : null;
    this.#servingVirtual = virtual;
    const readClock = virtual === null ? undefined : () => virtual.now();
    const threads = Math.max(1, Math.floor(this.#settings.serverThreads ?? 1));
    const reusePort = threads > 1;
    for (const addr of this.#settings.listen) {
      let t: Transport;
      try {
        t = await this.#deps.openTransport(addr, readClock, { reusePort });
      } catch (e) {
        log.error(`cannot listen on ${formatSocketAddress(addr)}: ${(e as Error).message}`);
        continue;
      }
      this.#transports.push(t);
      log.info(
        `Listening on ${formatSocketAddress(t.localAddress)}${
          t.kernelTimestamps ? " (kernel timestamps)" : ""
        }`,
      );
      this.#serving.push(t.serve((d, slot) => this.#onDatagram(d, slot)));
    }
    if (this.#transports.length === 0) throw new Error("no address to listen on");
    this.#pollRefclocks();
    if (threads > 1) await this.#startWorkers(threads);
    if (this.#refclocks.length > 0) {
      this.#every(this.#settings.refclockPollSec, () => this.#pollRefclocks());
    }
    await this.#startTimekeeping();
    if (this.#settings.statusFile) {
      this.#every(this.#settings.statusIntervalSec ?? 2, () => this.#writeStatus());
      this.#writeStatus();
    }
  }

  /** Stops serving, writes the drift and status files, closes everything. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const h of this.#timerHandles) this.#timers.clearTimeout(h);
    this.#timerHandles.clear();
    if (this.#statusSoon !== null) this.#timers.clearTimeout(this.#statusSoon);
    this.#sources?.stop();
    this.#timekeeper?.stop();
    this.#loopLag?.stop();
    for (const t of this.#transports) t.close();
    await Promise.allSettled(this.#serving);
    await this.#workers?.stop();
    for (const rc of this.#refclocks) rc.close();
    const st = this.#serverStats();
    const dropped = Object.entries(st.dropped).filter(([, n]) => n > 0);
    const total = droppedTotal(st);
    this.#deps.log.info(
      `packets received ${st.received}, replied ${st.replied}, dropped ${total}${
        dropped.length > 0 ? ` (${dropped.map(([k, n]) => `${k} ${n}`).join(", ")})` : ""
      }`,
    );
    const lag = this.#loopLag?.summary().current;
    if (lag !== undefined) {
      const f = (x: number | null) => x === null ? "-" : x.toFixed(1);
      this.#deps.log.info(
        `event loop (window ${lag.window}, ${lag.windowSec.toFixed(0)} s): ${lag.samples} of ` +
          `${lag.expectedSamples} timer ticks, late median ${f(lag.lateMedianMs)} ms, p99 ` +
          `${f(lag.lateP99Ms)} ms, max ${f(lag.lateMaxMs)} ms`,
      );
    }
    if (this.#workers !== null) {
      for (const t of this.#threadStatus()) {
        this.#deps.log.info(
          `server thread ${t.thread}: received ${t.received}, replied ${t.replied}, dropped ` +
            `${t.dropped}, forwarded ${t.forwarded}${
              t.restarts > 0 ? `, restarts ${t.restarts}` : ""
            }`,
        );
      }
    }
    await this.#saveDrift();
    if (this.#settings.statusFile) {
      await this.#statusWrite;
      await this.#writeStatusNow();
    }
  }

  /** Current state and counters. */
  status(): DaemonStatus {
    const tk = this.#timekeeper;
    const snap = tk?.snapshot() ?? null;
    const correction = this.#virtual?.correction() ?? null;
    let systemClockOffsetSec: number | null = null;
    if (tk !== null) {
      const pending = tk.loop.pendingSlewSec(this.#clock.now());
      systemClockOffsetSec = pending + (correction?.correctionSec ?? 0);
    }
    return {
      state: this.#server.state,
      server: this.#serverStats(),
      serverThreads: this.#threadStatus(),
      listening: this.#transports.map((t) => t.localAddress),
      kernelTimestamps: this.#transports.map((t) => t.kernelTimestamps),
      driftPpm: this.#currentDrift(),
      system: snap,
      observe: correction === null ? null : {
        reason: this.#settings.noSteerReason ?? "observe mode",
        correction,
      },
      systemClockOffsetSec,
      timekeeper: tk?.counters ?? null,
      source: this.#servedSource,
      sources: this.#sources?.members() ?? [],
      eventLoop: this.#loopLag?.summary() ?? null,
    };
  }

  /**
   * Closes the event-loop lag window (it stays in the status file as `previous`), opens a new
   * one and writes the status file at once. False when the probe is off.
   */
  newLoopLagWindow(): boolean {
    if (this.#loopLag === null || this.#stopped) return false;
    this.#loopLag.newWindow();
    this.#writeStatus();
    return true;
  }

  #startLoopLag(): void {
    const ms = this.#settings.loopLagMs ?? null;
    if (ms === null || this.#loopLag !== null) return;
    const clock = this.#deps.clock;
    this.#loopLag = new LoopLag(ms, {
      timers: this.#timers,
      monoMs: () => performance.now(),
      wallMs: () => Number(toUnixNs(clock.now()) / 1_000_000n),
    });
    this.#loopLag.start();
    this.#deps.log.info(`event-loop lag probe: a timer every ${this.#loopLag.intervalMs} ms`);
  }

  /**
   * The one packet path of the daemon, for datagrams from its own sockets and those its server
   * threads hand over: server replies go to the core, everything else to the server.
   */
  #onDatagram(d: ReceivedDatagram, slot: ReplySlot): void {
    const data = d.data;
    const tk = this.#timekeeper;
    if (tk !== null && data.length >= 48 && (data[0]! & 7) === 4) {
      const virtual = this.#servingVirtual;
      // Kernel timestamps are system clock readings; software ones already came from readClock.
      const convert = d.rxKernel && virtual !== null && !virtual.isIdentity;
      tk.onPacket(data, d.peer, convert ? virtual!.fromSystem(d.rxTime) : d.rxTime);
      return;
    }
    answerRequest(this.#server, d, slot, this.#servingVirtual);
  }

  /** A datagram a server thread did not answer: processed as if it came on socket `socket`. */
  #onForwarded(socket: number, d: ReceivedDatagram): void {
    // The main sockets close before the workers are told to stop: what they forward meanwhile
    // has no socket to be answered on.
    if (this.#stopped) return;
    this.#forwardedIn++;
    const buffer = new Uint8Array(Math.max(d.data.length, LEN_PKT_NOMAC));
    const slot: ReplySlot = {
      buffer,
      view: new DataView(buffer.buffer),
      length: 0,
      stampTransmit: false,
    };
    this.#onDatagram(d, slot);
    const t = this.#transports[socket];
    if (slot.length > 0 && t !== undefined) {
      t.send(buffer.subarray(0, slot.length), d.peer, slot.stampTransmit);
    }
  }

  async #startWorkers(threads: number): Promise<void> {
    const { log } = this.#deps;
    const ffi = ffiSocketsUsable();
    if (!ffi.ok) {
      log.warn(`server threads need FFI sockets (${ffi.reason}): serving on one thread`);
      return;
    }
    this.#shared = new SharedServedState();
    this.#publish();
    const o = this.#deps.workerOptions ?? {};
    this.#workers = new ServerWorkers({
      count: threads - 1,
      addresses: this.#transports.map((t) => t.localAddress),
      moduleUrl: this.#deps.workerModule ?? Deno.mainModule,
      shared: this.#shared,
      useVirtual: this.#servingVirtual !== null,
      precisionLog2: this.#deps.clock.precisionLog2,
      log,
      onDatagram: (socket, d) => this.#onForwarded(socket, d),
      ...o,
    });
    log.info(`starting ${threads - 1} more server thread${threads > 2 ? "s" : ""}`);
    await this.#workers.start();
  }

  /** Shares what replies carry now with the server threads. */
  #publish(): void {
    this.#shared?.publish(this.#server.state, this.#servingVirtual?.model() ?? null);
  }

  #serverStats(): ServerStats {
    const own = this.#server.stats();
    return this.#workers === null ? own : addServerStats(own, this.#workers.serverStats());
  }

  #threadStatus(): ServerThreadStatus[] {
    const own = this.#server.stats();
    const main: ServerThreadStatus = {
      thread: 0,
      running: !this.#stopped,
      restarts: 0,
      received: own.received,
      replied: own.replied,
      dropped: droppedTotal(own),
      forwarded: this.#forwardedIn,
      forwardDropped: 0,
    };
    return [main, ...(this.#workers?.threads() ?? [])];
  }

  async #startTimekeeping(): Promise<void> {
    const sources = this.#settings.sources ?? [];
    if (sources.length === 0) return;
    const { log } = this.#deps;
    const tks = this.#settings.timekeeping ?? {};
    const logCfg = parseLogConfig(this.#settings.logConfig ?? []);
    for (const u of logCfg.unknown) log.warn(`logconfig: unknown class "${u}" ignored`);
    const observe = this.#virtual !== null;
    const tk = new Timekeeper({
      system: {
        ...(tks.tos !== undefined ? { tos: tks.tos } : {}),
        loop: {
          ...tks.loop,
          driftPpm: this.#driftPpm,
          ...(observe ? { kernel: false } : {}),
        },
        leapTable: await this.#readLeapFile(),
      },
      logClasses: logCfg.classes,
    }, {
      clock: this.#clock,
      timers: this.#timers,
      log,
      send: (data, to, onTransmit) => this.#send(data, to, onTransmit),
      onDemobilized: (id) => this.#sources?.onDemobilized(id),
      onUpdate: (changed) => {
        if (!changed) return;
        this.#updateServed();
        this.#statusChanged();
      },
      onExit: (e) => {
        if (e.code !== 0) log.error(`exiting: ${e.reason}`);
        this.#exit(e);
      },
    });
    this.#timekeeper = tk;
    tk.start();
    this.#sources = new SourceManager(sources, {
      timekeeper: tk,
      resolver: this.#deps.resolver ?? systemResolver(),
      timers: this.#timers,
      log,
      canSend: (f) => this.#transports.some((t) => t.localAddress.family === f),
      nowMs: () => performance.now(),
    }, {
      ...(tks.maxclock !== undefined ? { maxclock: tks.maxclock } : {}),
      ...(tks.family !== undefined ? { family: tks.family } : {}),
      ...(tks.maintenanceSec !== undefined ? { maintenanceSec: tks.maintenanceSec } : {}),
      ...(tks.unreachPolls !== undefined ? { unreachPolls: tks.unreachPolls } : {}),
    });
    this.#sourcesReady = this.#sources.start().catch((e) => {
      log.error(`sources: ${(e as Error).message}`);
    });
    this.#every(this.#settings.driftIntervalSec ?? 3600, () => void this.#saveDrift());
  }

  /**
   * Sends a client request from a socket of the destination's family (wildcard first) and
   * reports when it left on the core's clock (kernel transmit timestamps are system clock
   * readings, converted like kernel receive timestamps).
   */
  #send(
    data: Uint8Array,
    to: PeerAddress,
    onTransmit?: (at: NtpTime, kernel: boolean) => void,
  ): boolean {
    let pick: Transport | null = null;
    let score = -1;
    const toLoopback = to.family === 4 ? to.address.startsWith("127.") : to.address === "::1";
    for (const t of this.#transports) {
      const a = t.localAddress;
      if (a.family !== to.family) continue;
      const loop = a.family === 4 ? a.address.startsWith("127.") : a.address === "::1";
      const s = isUnspecified(a) ? 2 : loop === toLoopback ? 1 : 0;
      if (s > score) {
        pick = t;
        score = s;
      }
    }
    if (pick === null) return false;
    if (onTransmit === undefined) {
      pick.send(data, to, false);
      return true;
    }
    const virtual = this.#servingVirtual;
    return pick.sendRequest(data, to, (t) => {
      const convert = t.kernel && virtual !== null && !virtual.isIdentity;
      onTransmit(convert ? virtual!.fromSystem(t.time) : t.time, t.kernel);
    });
  }

  /** Chooses what replies carry: the core when synchronised and no worse than LOCAL. */
  #updateServed(): void {
    const core = this.#timekeeper?.systemState() ?? null;
    const local = this.#localState;
    let state: SystemState | null = core;
    let source: "network" | "refclock" | "none" = core === null ? "none" : "network";
    if (local !== null && (core === null || core.stratum > local.stratum)) {
      state = local;
      source = "refclock";
    }
    if (source === "refclock" && this.#servedSource !== "refclock") {
      this.#deps.log.info(`synchronized to ${this.#localName}, stratum ${local!.stratum - 1}`);
    }
    this.#servedSource = source;
    this.#server.setState(state ?? unsynchronisedState(this.#deps.clock.precisionLog2));
    this.#publish();
  }

  #every(sec: number, fn: () => void): void {
    const arm = () => {
      const h = this.#timers.setTimeout(() => {
        this.#timerHandles.delete(h);
        if (this.#stopped) return;
        fn();
        arm();
      }, sec * 1000);
      this.#timerHandles.add(h);
    };
    arm();
  }

  #currentDrift(): number | null {
    const tk = this.#timekeeper;
    if (
      tk !== null && tk.loop.updates > 0 && (tk.loop.state === "SYNC" || tk.loop.state === "SPIK")
    ) {
      return tk.loop.freqPpm;
    }
    return this.#driftPpm;
  }

  async #saveDrift(): Promise<void> {
    const path = this.#settings.driftFile;
    const freq = this.#currentDrift();
    if (path === null || freq === null) return;
    try {
      await writeDriftFile(path, freq);
      this.#driftError = this.#recovered(this.#driftError, `drift file ${path}`);
    } catch (e) {
      this.#driftError = this.#failed(this.#driftError, `drift file ${path}`, e as Error);
    }
  }

  #statusChanged(): void {
    if (!this.#settings.statusFile || this.#statusSoon !== null || this.#stopped) return;
    this.#statusSoon = this.#timers.setTimeout(() => {
      this.#statusSoon = null;
      this.#writeStatus();
    }, 0);
  }

  #writeStatus(): void {
    if (this.#statusWrite !== null) {
      this.#statusDirty = true;
      return;
    }
    this.#statusWrite = this.#writeStatusNow().then(() => {
      this.#statusWrite = null;
      if (this.#statusDirty && !this.#stopped) {
        this.#statusDirty = false;
        this.#writeStatus();
      }
    });
  }

  async #writeStatusNow(): Promise<void> {
    const path = this.#settings.statusFile;
    if (!path) return;
    try {
      await writeStatusFile(path, statusDocument(this.status(), this.#deps.clock.now()));
      this.#statusError = this.#recovered(this.#statusError, `status file ${path}`);
    } catch (e) {
      this.#statusError = this.#failed(this.#statusError, `status file ${path}`, e as Error);
    }
  }

  /** Logs a failed write once per distinct error (not every 2 s); returns the error to remember. */
  #failed(last: string | null, what: string, e: Error): string {
    if (e.message !== last) this.#deps.log.error(`cannot write ${what}: ${e.message}`);
    return e.message;
  }

  /** Logs that writes work again after a failure; returns null (no error remembered). */
  #recovered(last: string | null, what: string): null {
    if (last !== null) this.#deps.log.info(`${what} written again`);
    return null;
  }

  async #readLeapFile(): Promise<LeapSecondTable | null> {
    const path = this.#settings.leapFile ?? null;
    if (path === null) return null;
    // Bounded, regular files only: a FIFO or /proc file named here must not hang or bloat us.
    const read = await readBoundedTextFile(path, MAX_LEAP_FILE_BYTES);
    if (!read.ok) {
      this.#deps.log.error(`leapsecond file ('${path}'): ${read.reason}`);
      return null;
    }
    const r = parseLeapSecondsList(read.text, {
      name: path,
      sha1: (data) => new Uint8Array(createHash("sha1").update(data).digest()),
    });
    if (!r.ok) {
      this.#deps.log.error(`leapsecond file ('${path}'): ${r.reason}; not used`);
      return null;
    }
    const last = r.table.entries[r.table.entries.length - 1];
    this.#deps.log.info(
      `leapsecond file ('${path}'): loaded, expires ${
        isoTime(ntpTimeOfSec(r.table.expiresNtpSec))
      }` +
        (last !== undefined ? `, TAI-UTC ${last.taiOffsetSec} s` : ""),
    );
    return r.table;
  }

  async #readDrift(): Promise<void> {
    const path = this.#settings.driftFile;
    if (path === null) return;
    const r = await readDriftFile(path);
    if (r.ok) {
      this.#driftPpm = r.freqPpm;
      this.#deps.log.info(`frequency initialized ${r.freqPpm.toFixed(3)} PPM from ${path}`);
    } else if (r.reason !== "missing") {
      this.#deps.log.warn(`drift file ${r.detail}: ignored`);
    }
  }

  /** Takes a sample from each refclock and keeps the best one's system variables. */
  #pollRefclocks(): void {
    const now = this.#clock.now();
    let best: { driver: RefclockDriver; dispersionSec: number; leap: number } | null = null;
    for (const driver of this.#refclocks) {
      const s = driver.poll(now);
      if (s === null) continue;
      if (best === null || driver.fudge.stratum < best.driver.fudge.stratum) {
        best = { driver, dispersionSec: s.dispersionSec, leap: s.leap };
      }
    }
    if (best === null) return;
    const stratum = Math.min(16, best.driver.fudge.stratum + 1);
    // RFC 5905: a stratum-1 server names its reference clock; above that, the refid is the
    // address of the system peer, here the refclock's 127.127.t.u address.
    const refid = stratum === 1
      ? refidFromAscii(best.driver.fudge.refid) ?? 0
      : refclockAddress(best.driver.type, best.driver.unit);
    this.#localName = best.driver.name;
    this.#localState = {
      leap: best.leap,
      stratum,
      precisionLog2: this.#deps.clock.precisionLog2,
      rootDelaySec: 0,
      rootDispersionSec: best.dispersionSec + 2 ** this.#deps.clock.precisionLog2,
      refid,
      referenceTime: now,
    };
    this.#updateServed();
  }
}
