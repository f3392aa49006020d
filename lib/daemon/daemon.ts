// The daemon: composes the parts and does nothing else. Which sockets to open (listen_plan.ts),
// the one packet path on every thread (packet_router.ts, server_workers.ts), access control
// (access_control.ts), the timekeeping core and its sources (timekeeper.ts, source_manager.ts),
// reference clocks (refclock_host.ts), what replies carry (served_time.ts), and the drift,
// leap-second and status files (drift_file.ts, leap_file.ts, status_writer.ts).

import type { Clock } from "../clock/clock.ts";
import { VirtualClock } from "../clock/virtual_clock.ts";
import type { Logger } from "../log/logger.ts";
import { ffiSocketsUsable } from "../net/open_transport.ts";
import { formatSocketAddress } from "../net/socket_address.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";
import type { MruList } from "../proto/access/mru.ts";
import type { LoopFilterOptions } from "../proto/loop_filter.ts";
import { type NtpTime, toUnix, toUnixNs } from "../proto/ntp_time.ts";
import { Server, unsynchronisedState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import type { TosOptions } from "../proto/system.ts";
import {
  AccessControl,
  type AccessSettings,
  createMruList,
  type RestrictSetting,
} from "./access_control.ts";
import { ControlHost, type ControlSettings, smallestMinpoll } from "./control_host.ts";
import { Mode7Host } from "./mode7_host.ts";
import type { LeapSecondTable } from "../proto/leap_seconds.ts";
import { type AuthSettings, DaemonAuth, NO_AUTH, threadDaemonCrypto } from "./daemon_auth.ts";
import type { DaemonStatus } from "./daemon_status.ts";
import { DriftFile } from "./drift_file.ts";
import { readLeapFile } from "./leap_file.ts";
import { type HostAddress, hostAddresses, type ListenRequest, planListen } from "./listen_plan.ts";
import { parseLogConfig } from "./log_classes.ts";
import { LoopLag } from "./loop_lag.ts";
import { PacketRouter } from "./packet_router.ts";
import { RefclockHost, type RefclockSetting } from "./refclock_host.ts";
import { type ResolveFamily, type Resolver, systemResolver } from "./resolver.ts";
import { SharedServedState } from "./served_state.ts";
import { ServedTime } from "./served_time.ts";
import { type ServerThreadStatus, ServerWorkers } from "./server_workers.ts";
import { SourceManager, type SourceSetting } from "./source_manager.ts";
import { DaemonNts, keListenAddresses, type NtsSettings } from "./daemon_nts.ts";
import { NtsNtpServer } from "./nts_ntp_server.ts";
import type { CookieMaker } from "./nts_ke_server.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { CryptoRng } from "./crypto_rng.ts";
import {
  broadcastClientOption,
  type BroadcastSettings,
  joinableAddresses,
  MulticastHost,
  needsCore,
} from "./multicast_host.ts";
import { statusDocument } from "./status_file.ts";
import { RES_IGNORE, RES_NOSERVE } from "../proto/access/restrict.ts";
import { ipWordsOf } from "../proto/ip.ts";
import { StatusWriter } from "./status_writer.ts";
import { StatsHost, type StatsSettings } from "./stats_host.ts";
import { Timekeeper, type TimekeeperExit } from "./timekeeper.ts";
import { realTimers, repeat, type Timers } from "./timers.ts";

export type { DaemonStatus } from "./daemon_status.ts";
export type { RefclockSetting } from "./refclock_host.ts";
export type { AccessSettings } from "./access_control.ts";
export { MAX_LEAP_FILE_BYTES } from "./leap_file.ts";

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

/** Which addresses to serve when `listen` names none (`interface`/`nic`, -I, -L, -4/-6). */
export type InterfaceSettings = Omit<ListenRequest, "explicit">;

/** Everything the daemon needs, resolved from the configuration and the command line. */
export interface DaemonSettings {
  /**
   * Addresses to answer on (--listen), exactly; empty: decided by `interfaces` (default: the
   * wildcard addresses on port 123).
   */
  listen: SocketAddress[];
  /** `interface`/`nic` rules, -I, -L and the port, used when `listen` is empty. */
  interfaces?: InterfaceSettings;
  refclocks: RefclockSetting[];
  driftFile: string | null;
  /** Why the clock is never steered ("no CAP_SYS_TIME", "observe mode"), or null. */
  noSteerReason: string | null;
  /** Seconds between reference clock polls (ntpd polls LOCAL every 64 s). */
  refclockPollSec: number;
  /**
   * `broadcast`, `broadcastclient`, `multicastclient`, `manycastserver`, `manycastclient`,
   * `ttl`, `broadcastdelay`; absent: none.
   */
  broadcast?: BroadcastSettings;
  /** Network sources (`server`, `pool`); none: serve only. */
  sources?: SourceSetting[];
  /** `nts ...` and NTS sources: the NTS-KE server and client; null or absent: no NTS. */
  nts?: NtsSettings | null;
  timekeeping?: TimekeepingSettings;
  /** `restrict`, `discard`, `mru`, `enable`/`disable monitor`. */
  access?: AccessSettings;
  /** The control protocol (mode 6): `controlkey`, `trap`, `setvar`; absent: no traps or keys. */
  control?: ControlSettings;
  /** `enable mode7`: answer ntpd's read-only mode 7 requests (ntpdc, collectd); default off. */
  mode7?: boolean;
  /**
   * Symmetric keys (the keys file already read), `trustedkey`, `controlkey`, `requestkey`,
   * `enable/disable auth`; absent: no keys, and control reads its own keys file if it names one.
   */
  auth?: AuthSettings;
  /** JSON status file written atomically on every change and periodically; null: none. */
  statusFile?: string | null;
  /** Statistics files (`statsdir`, `statistics`, `filegen`); null or absent: none. */
  stats?: StatsSettings | null;
  /** Seconds between periodic status file writes (default 2). */
  statusIntervalSec?: number;
  /** Seconds between drift file writes (default 3600, as ntpd). */
  driftIntervalSec?: number;
  /** `logconfig` tokens. */
  logConfig?: string[];
  /** `leapfile`: NIST/IERS leap-seconds.list, checked with its SHA-1; null: none. */
  leapFile?: string | null;
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
    options?: { reusePort: boolean; reuseAddress?: boolean },
  ): Promise<Transport>;
  log: Logger;
  /** Name resolution (default: hosts file, then DNS). */
  resolver?: Resolver;
  /** The host's addresses, for interface rules (default: Deno.networkInterfaces()). */
  hostAddresses?: () => HostAddress[];
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
  readonly #settings: DaemonSettings;
  readonly #deps: DaemonDeps;
  readonly #log: Logger;
  readonly #timers: Timers;
  /** The clock the core steers: the system clock, or observe mode's virtual clock. */
  readonly #clock: Clock;
  readonly #virtual: VirtualClock | null;
  readonly #server: Server;
  readonly #served: ServedTime;
  readonly #threads: number;
  readonly #sysStats: SysStats;
  readonly #mru: MruList;
  readonly #access: AccessControl;
  readonly #drift: DriftFile | null;
  /** The main thread's keys (server threads prepare their own from the same settings). */
  readonly #auth: DaemonAuth;
  #router: PacketRouter | null = null;
  #control: ControlHost | null = null;
  #mode7: Mode7Host | null = null;
  #leapTable: LeapSecondTable | null = null;
  #refclocks: RefclockHost | null = null;
  #workers: ServerWorkers | null = null;
  #timekeeper: Timekeeper | null = null;
  #sources: SourceManager | null = null;
  /** Broadcast, multicast and manycast sockets and lines (null: none configured). */
  #multicast: MulticastHost | null = null;
  #sourcesReady: Promise<void> = Promise.resolve();
  /** NTS-KE server and client (null: no NTS configured). */
  #nts: DaemonNts | null = null;
  /** The cookie master keys the NTS-KE server makes cookies under (set with the NTP side's). */
  #ntsCookies: CookieMaker | null = null;
  /** `nts enable`: the cookie master keys and NTS-protected NTP service (null: off). */
  #ntsNtp: NtsNtpServer | null = null;
  #status: StatusWriter | null = null;
  #stats: StatsHost | null = null;
  #loopLag: LoopLag | null = null;
  #serving: Promise<void>[] = [];
  #cancels: (() => void)[] = [];
  #driftPpm: number | null = null;
  #stopped = false;
  #exit!: (e: DaemonExit) => void;
  /** Resolves when the core asks to exit (panic, or -q done). */
  readonly exited: Promise<DaemonExit>;

  /** Prepares the daemon; nothing is opened before {@link start}. */
  constructor(settings: DaemonSettings, deps: DaemonDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#log = deps.log;
    this.#timers = deps.timers ?? realTimers;
    this.#virtual = settings.noSteerReason !== null ? new VirtualClock(deps.clock) : null;
    this.#clock = this.#virtual ?? deps.clock;
    this.#server = new Server(unsynchronisedState(deps.clock.precisionLog2));
    this.#served = new ServedTime(this.#server, deps.log, deps.clock.precisionLog2);
    this.#threads = Math.max(1, Math.floor(settings.serverThreads ?? 1));
    const shared = this.#threads > 1;
    this.#sysStats = SysStats.create(this.#threads, this.#nowSec(), shared);
    const access = settings.access ?? {};
    this.#mru = createMruList(access, shared);
    this.#access = new AccessControl(access, {
      log: deps.log,
      resolver: deps.resolver ?? systemResolver(),
    });
    this.#drift = settings.driftFile === null ? null : new DriftFile(settings.driftFile, deps.log);
    this.#auth = new DaemonAuth(settings.auth ?? NO_AUTH);
    this.exited = new Promise((resolve) => this.#exit = resolve);
  }

  /** Resolves once every configured name had its first lookup (tests). */
  get sourcesReady(): Promise<void> {
    return this.#sourcesReady;
  }

  /** Opens sockets and time sources; resolves once the daemon is answering. */
  async start(): Promise<void> {
    const log = this.#log;
    const clock = this.#deps.clock;
    this.#startLoopLag();
    if (this.#settings.noSteerReason !== null) {
      log.info(
        `${this.#settings.noSteerReason}: the system clock will not be steered; corrections ` +
          `are kept in a virtual clock`,
      );
    }
    this.#logAuth();
    log.info(
      `clock ${clock.name}, precision = ${
        (2 ** clock.precisionLog2 * 1e6).toFixed(3)
      } usec (${clock.precisionLog2})`,
    );
    this.#driftPpm = await this.#drift?.read() ?? null;
    this.#refclocks = new RefclockHost(this.#settings.refclocks, {
      clock: this.#clock,
      systemClock: clock,
      timers: this.#timers,
      log,
      clockstats: (address, text) => this.#stats?.clockstats(address, text),
    });
    await this.#access.resolveNames();
    await this.#openSockets();
    const auth = this.#settings.auth;
    if (auth !== undefined) this.#control?.setAuth(this.#auth.controlAuth(), auth.controlKey);
    else await this.#control?.loadKeys();
    if (this.#threads > 1) await this.#startWorkers();
    this.#startStats();
    await this.#startNtsNtp();
    this.#startNtsKe();
    await this.#startTimekeeping();
    if (this.#settings.statusFile) {
      this.#status = new StatusWriter({
        path: this.#settings.statusFile,
        intervalSec: this.#settings.statusIntervalSec ?? 2,
        timers: this.#timers,
        log,
        document: () => statusDocument(this.status(), this.#deps.clock.now()),
      });
      this.#status.start();
    }
  }

  /**
   * `nts enable`: loads the cookie master keys (`nts cookie FILE`, rotated on schedule) and
   * answers NTS-protected requests, on the main thread and on every server thread.
   */
  async #startNtsNtp(): Promise<void> {
    const n = this.#settings.nts;
    if (n === undefined || n === null || !n.enabled) return;
    const ntp = new NtsNtpServer({ cookieFile: n.cookieFile }, this.#auth.crypto, this.#log);
    await ntp.start();
    this.#ntsNtp = ntp;
    this.#ntsCookies = ntp.keys;
    this.#router?.path.setNts(ntp.server);
    const workers = this.#workers;
    if (workers !== null) ntp.addTarget({ setKeys: (k, id) => workers.setNtsKeys(k, id) });
  }

  /** Starts NTS-KE (`nts enable`: the server; NTS sources: the client) on the listen sockets. */
  #startNtsKe(): void {
    const n = this.#settings.nts;
    if (n === undefined || n === null) return;
    this.#nts = new DaemonNts(n, {
      log: this.#log,
      timers: this.#timers,
      resolver: this.#deps.resolver ?? systemResolver(),
      cookies: () => this.#ntsCookies,
    });
    const listening = (this.#router?.transports ?? []).filter((_, k) =>
      this.#router!.role(k) === "listen"
    );
    // Where NTP listens (--listen or the `interface` rules), NTS-KE listens too.
    const addresses = keListenAddresses(listening.map((t) => t.localAddress.address));
    // Who may not ask for time (restrict ignore/noserve) gets no TLS handshake either.
    const admit = (address: string, port: number): boolean => {
      const w = ipWordsOf(address.replace(/^::ffff:(?=\d+\.)/i, "").replace(/%.*$/, ""));
      return w === null || (this.#access.list.lookup(w, port) & (RES_IGNORE | RES_NOSERVE)) === 0;
    };
    this.#nts.startServer(addresses, this.#settings.interfaces?.port ?? 123, admit);
  }

  /** Opens the sockets the listen plan names and starts serving them. */
  async #openSockets(): Promise<void> {
    const log = this.#log;
    const s = this.#settings;
    const i = s.interfaces;
    const plan = planListen({
      port: i?.port ?? 123,
      family: i?.family ?? "any",
      explicit: s.listen,
      rules: i?.rules ?? [],
      interfaceOptions: i?.interfaceOptions ?? [],
      noVirtual: i?.noVirtual ?? false,
    }, (this.#deps.hostAddresses ?? hostAddresses)());
    for (const w of plan.warnings) log.warn(w);
    for (const n of plan.notes) log.info(n);
    // Without network sources nothing ever steers the virtual clock: keep the transports' own
    // fast clock and skip the conversion on the server's hot path.
    const virtual = (s.sources ?? []).length > 0 || needsCore(s.broadcast) ? this.#virtual : null;
    const readClock = virtual === null ? undefined : () => virtual.now();
    const multicast = s.broadcast === undefined ? null : new MulticastHost(s.broadcast, {
      log,
      openGroupTransport: (address) =>
        this.#deps.openTransport(address, readClock, { reusePort: false, reuseAddress: true }),
      // Groups are joined only on interfaces the `interface` rules serve.
      hostAddresses: () =>
        joinableAddresses(plan.binds, (this.#deps.hostAddresses ?? hostAddresses)()),
      timers: this.#timers,
    });
    this.#multicast = multicast;
    const router = new PacketRouter({
      server: this.#server,
      restrict: this.#access.list,
      mru: this.#mru,
      counters: this.#sysStats.counters(0),
      monitor: s.access?.monitor ?? true,
      mode7: s.mode7 ?? false,
      virtual,
      auth: this.#auth,
    });
    this.#router = router;
    this.#startControl(router);
    if (s.mode7 === true) this.#startMode7(router);
    this.#access.onChange((list) => {
      router.setRestrict(list);
      this.#workers?.setRestrict(this.#access.entries());
    });
    const own: { address: string; port: number }[] = [];
    for (const b of plan.binds) {
      let t: Transport;
      try {
        t = await this.#deps.openTransport(b.address, readClock, {
          reusePort: this.#threads > 1,
          // Group sockets bind the same port beside the wildcard (multicast_host.ts).
          ...(multicast?.needsGroupSockets ? { reuseAddress: true } : {}),
        });
      } catch (e) {
        log.error(`cannot listen on ${formatSocketAddress(b.address)}: ${(e as Error).message}`);
        continue;
      }
      const index = router.addSocket(t, b.action);
      for (const a of b.own) own.push({ address: a, port: t.localAddress.port });
      log.info(
        `${b.action === "listen" ? "Listening on" : "Dropping everything on"} ${
          formatSocketAddress(t.localAddress)
        }${t.kernelTimestamps ? " (kernel timestamps)" : ""}`,
      );
      if (b.wildcard && b.action === "listen" && (s.interfaces?.rules.length ?? 0) > 0) {
        log.warn(
          `serving every ${t.localAddress.family === 4 ? "IPv4" : "IPv6"} address through ` +
            `${formatSocketAddress(t.localAddress)}`,
        );
      }
      this.#serving.push(router.serve(index));
    }
    if (router.transports.every((_, k) => router.role(k) !== "listen")) {
      throw new Error("no address to listen on");
    }
    this.#access.setOwnAddresses(own);
    await multicast?.open(router, i?.port ?? 123, () => {
      const st = this.#served.state;
      return st.leap !== 3 && st.stratum < 16;
    });
  }

  /** Says which keys are in use, and what the configuration asks of them that they cannot give. */
  #logAuth(): void {
    const a = this.#auth.settings;
    const log = this.#log;
    if (a.keysFile !== null || a.keys.length > 0) {
      const trusted = this.#auth.store.trustedIds();
      log.info(
        `keys: ${a.keys.length} from ${a.keysFile ?? "(none)"}, trusted ${
          trusted.length > 0 ? trusted.join(" ") : "none"
        }; MACs by ${this.#auth.crypto.name}${a.required ? "" : "; auth disabled"}`,
      );
      for (const n of threadDaemonCrypto().notes) log.warn(n);
    }
    const sourceKeys = (this.#settings.sources ?? []).flatMap((s) =>
      s.options.key ? [{ address: s.address, key: s.options.key }] : []
    );
    for (const w of this.#auth.warnings(sourceKeys)) log.warn(w);
  }

  /** Mode 6: answers control requests the packet path forwards, from the daemon's state. */
  #startControl(router: PacketRouter): void {
    const s = this.#settings;
    const control = new ControlHost(
      s.control ?? { controlKey: null, traps: [], setvar: [], keysFile: null, trustedKeys: [] },
      {
        log: this.#log,
        clock: this.#clock,
        served: () => ({
          state: this.#served.state,
          source: this.#served.source,
          refclock: null,
        }),
        snapshot: () => this.#timekeeper?.snapshot() ?? null,
        loop: () => this.#timekeeper?.loop ?? null,
        refclocks: () => this.#refclocks?.controlInfo() ?? [],
        sysstats: () => this.#sysStats.snapshot(this.#nowSec()),
        mru: this.#mru,
        monitoring: () => router.path.monitoring,
        send: (data, to) => router.sendRequest(data, to),
        minPollLog2: smallestMinpoll((s.sources ?? []).map((x) => x.options.minpoll)),
        listening: () =>
          router.transports.filter((_, k) => router.role(k) === "listen").map((t) =>
            t.localAddress
          ),
        kernel: () => this.#deps.clock.kernelState(),
        io: () => {
          const io = { sinceResetSec: 0, received: 0, sent: 0, sendFailed: 0, dropped: 0 };
          for (const t of router.transports) {
            const st = t.stats();
            io.received += st.received;
            io.sent += st.sent;
            io.sendFailed += st.sendErrors;
            io.dropped += st.truncated;
          }
          io.dropped += router.counters().interfaceDropped;
          io.sinceResetSec = this.#sysStats.snapshot(this.#nowSec()).sinceRestartSec;
          return io;
        },
        leapTable: () => this.#leapTable,
      },
    );
    this.#control = control;
    router.setControl((p, flags, send) => control.handle(p, flags, send));
  }

  /** Mode 7 (`enable mode7`): read-only ntpdc requests, from the control protocol's view. */
  #startMode7(router: PacketRouter): void {
    const control = this.#control;
    if (control === null) return;
    const s = this.#settings;
    const loop = s.timekeeping?.loop;
    const m7 = new Mode7Host(control, {
      clock: this.#clock,
      flags: () => ({
        auth: s.auth?.required ?? true,
        monitor: router.path.monitoring,
        ntp: loop?.ntpEnabled ?? true,
        kernel: (loop?.kernel ?? true) && this.#virtual === null,
        stats: (s.stats ?? null) !== null,
      }),
      snapshot: () => this.#timekeeper?.snapshot() ?? null,
      coreDatagrams: () => control.coreDatagrams,
    });
    this.#mode7 = m7;
    router.setMode7((p, flags, send) => m7.handle(p, flags, send));
    this.#log.info("mode 7: read-only requests are answered (enable mode7)");
  }

  /** Stops serving, writes the drift and status files, closes everything. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const c of this.#cancels) c();
    this.#sources?.stop();
    this.#multicast?.stop();
    await this.#nts?.stop();
    this.#ntsNtp?.stop();
    this.#timekeeper?.stop();
    this.#loopLag?.stop();
    this.#router?.stop();
    for (const t of this.#router?.transports ?? []) t.close();
    await Promise.allSettled(this.#serving);
    await this.#workers?.stop();
    this.#refclocks?.stop();
    this.#logTotals();
    await this.#drift?.save(this.#currentDrift());
    await this.#status?.stop();
    this.#stats?.stop();
  }

  // --- live changes (reload.ts: SIGHUP and run-time configuration) ---

  /**
   * Adds a network source while running; false when the daemon runs no timekeeping (it started
   * with neither sources nor reference clocks: a restart is needed).
   */
  addSource(setting: SourceSetting): boolean {
    const sources = this.#sources;
    if (sources === null || this.#stopped) return false;
    void sources.add(setting).catch((e) => {
      this.#log.error(`${setting.kind} ${setting.address}: ${(e as Error).message}`);
    });
    return true;
  }

  /** Removes a source line and its associations; returns how many lines went. */
  removeSource(kind: SourceSetting["kind"], address: string, reason: string): number {
    return this.#sources?.remove(kind, address, reason) ?? 0;
  }

  /** The source line association `id` belongs to (`unpeer ID`), or null. */
  sourceOfAssociation(id: number): { kind: string; address: string } | null {
    const m = this.#sources?.members().find((x) => x.ids.includes(id));
    return m === undefined ? null : { kind: m.kind, address: m.address };
  }

  /** Replaces the restrict lines (every thread's packet path gets the new list). */
  async setRestrict(rules: readonly RestrictSetting[]): Promise<void> {
    await this.#access.setRules(rules);
  }

  /** Changes `tos` selection settings; false without timekeeping. */
  setTos(tos: Partial<TosOptions>): boolean {
    if (this.#timekeeper === null) return false;
    this.#timekeeper.setTos(tos);
    return true;
  }

  /** Changes `logconfig`; returns the unknown tokens, or null without timekeeping. */
  setLogConfig(tokens: readonly string[]): string[] | null {
    if (this.#timekeeper === null) return null;
    const cfg = parseLogConfig(tokens);
    this.#timekeeper.setLogClasses(cfg.classes);
    return cfg.unknown;
  }

  /** Closes the statistics files and opens them again (log rotation), with `settings`. */
  reopenStats(settings: StatsSettings | null): void {
    if (this.#stopped) return;
    this.#stats?.stop();
    this.#stats = null;
    this.#startStats(settings);
  }

  /** The statistics files, when any are configured (stats_host.ts). */
  #startStats(s: StatsSettings | null = this.#settings.stats ?? null): void {
    if (s === null) return;
    this.#stats = new StatsHost(s, {
      log: this.#log,
      timers: this.#timers,
      now: () => this.#clock.now(),
      sysstats: () => this.#sysStats.snapshot(this.#nowSec()),
      addressOf: (id) => this.#timekeeper?.association(id)?.address.address ?? null,
    });
    this.#stats.start();
  }

  #logTotals(): void {
    const log = this.#log;
    const st = this.#sysStats.snapshot(this.#nowSec());
    const drops = Object.entries(st.drops).filter(([, n]) => n > 0);
    log.info(
      `packets received ${st.received}, replied ${this.#serverCounts().replied}, dropped ${
        st.received - st.processed
      }${drops.length > 0 ? ` (${drops.map(([k, n]) => `${k} ${n}`).join(", ")})` : ""}, ` +
        `processed ${st.processed}, kisses sent ${st.kissesSent}`,
    );
    const lag = this.#loopLag?.summary().current;
    if (lag !== undefined) {
      const f = (x: number | null) => x === null ? "-" : x.toFixed(1);
      log.info(
        `event loop (window ${lag.window}, ${lag.windowSec.toFixed(0)} s): ${lag.samples} of ` +
          `${lag.expectedSamples} timer ticks, late median ${f(lag.lateMedianMs)} ms, p99 ` +
          `${f(lag.lateP99Ms)} ms, max ${f(lag.lateMaxMs)} ms`,
      );
    }
    if (this.#workers !== null) {
      for (const t of this.#threadStatus()) {
        log.info(
          `server thread ${t.thread}: received ${t.received}, replied ${t.replied}, dropped ` +
            `${t.dropped}, forwarded ${t.forwarded}${
              t.restarts > 0 ? `, restarts ${t.restarts}` : ""
            }`,
        );
      }
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
    const router = this.#router;
    const sockets = router?.transports ?? [];
    const listening = sockets.filter((_, k) => router!.role(k) === "listen");
    return {
      state: this.#served.state,
      sysstats: this.#sysStats.snapshot(this.#nowSec()),
      server: this.#serverCounts(),
      mru: {
        monitoring: router?.path.monitoring ?? false,
        bytes: this.#mru.buffer.byteLength,
        discard: this.#mru.discard,
        ...this.#mru.stats(),
      },
      serverThreads: this.#threadStatus(),
      listening: listening.map((t) => t.localAddress),
      kernelTimestamps: listening.map((t) => t.kernelTimestamps),
      dropping: sockets.filter((_, k) => router!.role(k) === "drop").map((t) => t.localAddress),
      interfaceDropped: router?.counters().interfaceDropped ?? 0,
      multicast: this.#multicast === null ? null : {
        groups: this.#multicast.groups.map((t) => t.localAddress),
        groupDropped: router?.counters().groupDropped ?? 0,
        ttlErrors: router?.counters().ttlErrors ?? 0,
      },
      driftPpm: this.#currentDrift(),
      system: snap,
      observe: correction === null ? null : {
        reason: this.#settings.noSteerReason ?? "observe mode",
        correction,
      },
      systemClockOffsetSec,
      timekeeper: tk?.counters ?? null,
      source: this.#served.source,
      sources: this.#sources?.members() ?? [],
      eventLoop: this.#loopLag?.summary() ?? null,
      nts: this.#nts?.status() ?? null,
      ntsCookieKeys: this.#ntsNtp?.status() ?? null,
    };
  }

  /**
   * Closes the event-loop lag window (it stays in the status file as `previous`), opens a new
   * one and writes the status file at once. False when the probe is off.
   */
  newLoopLagWindow(): boolean {
    if (this.#loopLag === null || this.#stopped) return false;
    this.#loopLag.newWindow();
    this.#status?.write();
    return true;
  }

  #nowSec(): number {
    const u = toUnix(this.#deps.clock.now());
    return Number(u.sec) + u.nsec * 1e-9;
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
    this.#log.info(`event-loop lag probe: a timer every ${this.#loopLag.intervalMs} ms`);
  }

  async #startWorkers(): Promise<void> {
    const log = this.#log;
    const ffi = ffiSocketsUsable();
    if (!ffi.ok) {
      log.warn(`server threads need FFI sockets (${ffi.reason}): serving on one thread`);
      return;
    }
    const router = this.#router!;
    const shared = new SharedServedState();
    const virtual = this.#virtual;
    const usesVirtual = ((this.#settings.sources ?? []).length > 0 ||
      needsCore(this.#settings.broadcast)) && virtual !== null;
    this.#served.share(shared, usesVirtual ? () => virtual.model() : null);
    // Server threads open the listen sockets only (the main thread drains `interface drop`
    // ones); a thread names a socket by its place among those.
    const listenIndex = router.transports.map((_, k) => k).filter((k) =>
      router.role(k) === "listen"
    );
    const sockets = listenIndex.map((k) => router.transports[k]!);
    const o = this.#deps.workerOptions ?? {};
    this.#workers = new ServerWorkers({
      count: this.#threads - 1,
      addresses: sockets.map((t) => t.localAddress),
      moduleUrl: this.#deps.workerModule ?? Deno.mainModule,
      shared,
      useVirtual: usesVirtual,
      precisionLog2: this.#deps.clock.precisionLog2,
      log,
      restrict: this.#access.entries(),
      mru: this.#mru.buffer as SharedArrayBuffer,
      sysStats: this.#sysStats,
      monitor: this.#settings.access?.monitor ?? true,
      mode7: this.#settings.mode7 ?? false,
      auth: this.#auth.settings,
      onForwarded: (m) => router.acceptForwarded({ ...m, socket: listenIndex[m.socket] ?? -1 }),
      onRetired: (thread) => {
        if (this.#mru.releaseStaleLock(thread)) {
          log.warn(`server thread ${thread} ended holding the MRU list's lock: released`);
        }
      },
      ...o,
    });
    log.info(`starting ${this.#threads - 1} more server thread${this.#threads > 2 ? "s" : ""}`);
    await this.#workers.start();
  }

  #serverCounts(): { replied: number; cryptoNak: number } {
    const own = this.#server.stats();
    const w = this.#workers?.totals();
    return {
      replied: own.replied + (w?.replied ?? 0),
      cryptoNak: own.cryptoNak + (w?.cryptoNak ?? 0),
    };
  }

  #threadStatus(): ServerThreadStatus[] {
    const own = this.#server.stats();
    const t = this.#sysStats.threadTotals(0);
    const main: ServerThreadStatus = {
      thread: 0,
      running: !this.#stopped,
      restarts: 0,
      received: t.received,
      replied: own.replied,
      dropped: t.dropped,
      forwarded: this.#router?.counters().forwardedIn ?? 0,
      forwardDropped: 0,
    };
    return [main, ...(this.#workers?.threads() ?? [])];
  }

  async #startTimekeeping(): Promise<void> {
    const sources = this.#settings.sources ?? [];
    const broadcast = this.#settings.broadcast;
    // With trusted keys an authenticated symmetric active packet may mobilise a passive peer,
    // which needs the core even on a host with no sources of its own.
    const passivePeers = this.#auth.store.trustedIds().length > 0;
    if (
      sources.length === 0 && (this.#refclocks?.count ?? 0) === 0 && !needsCore(broadcast) &&
      !passivePeers
    ) {
      return;
    }
    const log = this.#log;
    const router = this.#router!;
    const tks = this.#settings.timekeeping ?? {};
    const logCfg = parseLogConfig(this.#settings.logConfig ?? []);
    for (const u of logCfg.unknown) log.warn(`logconfig: unknown class "${u}" ignored`);
    const observe = this.#virtual !== null;
    const leapFile = this.#settings.leapFile ?? null;
    const tk = new Timekeeper({
      system: {
        ...(tks.tos !== undefined ? { tos: tks.tos } : {}),
        loop: {
          ...tks.loop,
          driftPpm: this.#driftPpm,
          ...(observe ? { kernel: false } : {}),
        },
        leapTable: this.#leapTable = leapFile === null ? null : await readLeapFile(leapFile, log),
        keys: this.#auth.store,
        authRequired: this.#auth.required,
        broadcastClient: broadcastClientOption(broadcast),
        // Timing loops are told by a peer's refid naming one of these.
        localAddresses: (this.#deps.hostAddresses ?? hostAddresses)()
          .map((h) => ({ family: h.family, address: h.address, port: 123 })),
      },
      logClasses: logCfg.classes,
    }, {
      clock: this.#clock,
      timers: this.#timers,
      log,
      send: (data, to, onTransmit, ttl) => router.sendRequest(data, to, onTransmit, ttl),
      onDemobilized: (id) => this.#sources?.onDemobilized(id),
      onEvent: (a) => this.#control?.noteEvent(a),
      onActions: (actions, now) => this.#stats?.onActions(actions, now),
      onUpdate: (changed) => {
        this.#control?.onCoreUpdate();
        if (!changed) return;
        this.#chooseServed();
        this.#status?.changed();
      },
      onExit: (e) => {
        if (e.code !== 0) log.error(`exiting: ${e.reason}`);
        this.#exit(e);
      },
    });
    this.#timekeeper = tk;
    router.setCore((data, peer, rxTime, keyId, restrictFlags, group) => {
      this.#control?.noteReceive(peer, rxTime);
      tk.onPacket(data, peer, rxTime, keyId, restrictFlags, group);
    });
    router.path.setConfiguredPeers((src, port) => tk.hasConfiguredPeer(src, port));
    tk.start();
    this.#sources = new SourceManager(sources, {
      timekeeper: tk,
      resolver: this.#deps.resolver ?? systemResolver(),
      timers: this.#timers,
      log,
      canSend: (f) => router.canSend(f),
      nowMs: () => performance.now(),
      onMember: (address, present) => {
        if (present) this.#access.sourceAdded(address);
        else this.#access.sourceRemoved(address);
      },
      // NTS-KE for `nts` sources, also those a reload adds, whenever NTS is configured.
      ...(this.#nts !== null
        ? {
          nts: this.#nts.keeper(
            (id) => tk.ntsClient(id, () => new NtsClient(this.#auth.crypto, new CryptoRng())),
            (id, peer) => this.#sources?.relocate(id, peer) ?? null,
          ),
        }
        : {}),
    }, {
      ...(tks.maxclock !== undefined ? { maxclock: tks.maxclock } : {}),
      ...(tks.family !== undefined ? { family: tks.family } : {}),
      ...(tks.maintenanceSec !== undefined ? { maintenanceSec: tks.maintenanceSec } : {}),
      ...(tks.unreachPolls !== undefined ? { unreachPolls: tks.unreachPolls } : {}),
    });
    // Reference clocks after the servers are mobilised: the start-up hold then waits for the
    // servers before a clock (LOCAL above all) can make the first update.
    this.#multicast?.mobilize(
      tk,
      this.#settings.interfaces?.port ?? 123,
      tks.maxclock ?? 10,
    );
    const ready = this.#sources.start().catch((e) => {
      log.error(`sources: ${(e as Error).message}`);
    });
    if (sources.length === 0) this.#refclocks?.start(tk);
    this.#sourcesReady = sources.length === 0
      ? ready
      : ready.finally(() => this.#refclocks?.start(tk));
    if (this.#drift !== null) {
      this.#cancels.push(
        repeat(
          this.#timers,
          this.#settings.driftIntervalSec ?? 3600,
          () => void this.#drift!.save(this.#currentDrift()),
        ),
      );
    }
  }

  /** Serves the core's time (reference clocks are sources in the core). */
  #chooseServed(): void {
    const tk = this.#timekeeper;
    const peer = tk?.snapshot().systemPeer ?? null;
    const refclock = peer !== null && tk?.association(peer)?.kind === "refclock";
    this.#served.update(tk?.systemState() ?? null, refclock);
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
}
