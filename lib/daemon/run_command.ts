// `horae run` / multi-call `ntpd`: ntpd's command line, the configuration, logging, the clock
// choice, the pid file and signals around one Daemon.

import { LinuxClock } from "../clock/linux_clock.ts";
import { HORAE_VERSION } from "../cli/version.ts";
import { NullClock } from "../clock/null_clock.ts";
import type { Clock } from "../clock/clock.ts";
import {
  applyNtpdOptions,
  NTPD_OPTION_HELP,
  NTPD_USAGE,
  parseNtpdArgs,
} from "../cli/ntpd_options.ts";
import { helpText, type OptionHelp, usageError } from "../cli/usage.ts";
import { formatDiagnostic } from "../config/diagnostics.ts";
import { loadConfig } from "../config/load_config.ts";
import {
  closeLogging,
  configureLogging,
  type Logger,
  logger,
  logLevel,
  type LogSink,
} from "../log/logger.ts";
import { openLogSinks } from "../log/log_sinks.ts";
import { writeFileAtomic } from "../files/safe_file.ts";
import { openUdpTransport } from "../net/open_transport.ts";
import { realtimeReaderOf } from "../net/udp_transport.ts";
import { hasCapSysTime } from "./capabilities.ts";
import { DaemonSignals, levelForDebug } from "./daemon_signals.ts";
import { planSwitch, prepareSwitch, switchUser } from "./privileges.ts";
import { Daemon, type DaemonExit } from "./daemon.ts";
import { settingsFromConfig, type SettingsOverrides } from "./settings.ts";
import { Reloader } from "./reload.ts";
import { writeToml } from "../config/toml_writer.ts";
import { writeNtpConf } from "../config/ntp_conf_writer.ts";
import type { NtpConfig } from "../config/config_model.ts";
import { loadAuthKeys } from "./daemon_auth.ts";
import { MetricsServer } from "./metrics_server.ts";
import { prometheusText } from "./metrics.ts";
import { statusDocument } from "./status_file.ts";
import { openSystemdNotifier, type SystemdNotifier } from "./systemd_notify.ts";
import { enterDetached, reportReady, shouldDetach, startDetached } from "./background.ts";
import { stderrIsJournal, SyslogSink } from "../log/log_sinks.ts";
import { Errno, OsError } from "../../ffi/libc.ts";
import { type MetricsAddress, parseMetricsAddress } from "../proto/options/statistics.ts";

export { HORAE_VERSION };

/** Options `horae run` takes beyond ntpd's, one line each (see extractHoraeFlags). */
export const HORAE_RUN_OPTIONS: readonly OptionHelp[] = [
  { synopsis: "    --port N", help: "answer on UDP port N instead of 123" },
  {
    synopsis: "    --listen ADDR",
    help: "listen on ADDR only (repeatable; default: every IPv4 and IPv6 address)",
  },
  {
    synopsis: "    --status-file FILE",
    help: "write the daemon's status as JSON to FILE (atomically, on every change)",
  },
  {
    synopsis: "    --source-check SEC",
    help: "check sources (pool refill, re-resolution) every SEC seconds (default 60)",
  },
  {
    synopsis: "    --unreach-polls N",
    help: "a source is unreachable after N unanswered polls (1-8, default 8)",
  },
  {
    synopsis: "    --server-threads N",
    help: "answer client requests on N threads sharing each port (1-64, default 1)",
  },
  {
    synopsis: "    --loop-lag-ms N",
    help:
      "diagnostic: event-loop lateness every N ms (1-1000) in the status file (SIGUSR2 starts a new one)",
  },
  {
    synopsis: "    --metrics-listen ADDR:PORT",
    help: "serve Prometheus /metrics and JSON /status there (repeatable; a bare port: 127.0.0.1)",
  },
];

/** `horae run --help` / `ntpd --help`: ntpd's options, then Horae's, one line each. */
export function runHelp(): string {
  return helpText(NTPD_USAGE, [...NTPD_OPTION_HELP, ...HORAE_RUN_OPTIONS]);
}

/** Horae's own daemon flags, split from ntpd's. */
export interface HoraeFlags {
  ok: true;
  port: number | null;
  listen: string[];
  statusFile: string | null;
  /** --source-check: seconds between source checks, or null for the default. */
  sourceCheckSec: number | null;
  /** --unreach-polls: unanswered polls before a source is unreachable, or null for the default. */
  unreachPolls: number | null;
  /** --server-threads: threads answering client requests, or null for the default (1). */
  serverThreads: number | null;
  /** --loop-lag-ms: the event-loop lag probe's interval, or null (no probe). */
  loopLagMs: number | null;
  /** --metrics-listen: where to serve metrics (replaces the configuration's `metrics`). */
  metricsListen: MetricsAddress[];
  /** The remaining (ntpd) arguments. */
  rest: string[];
}

/**
 * Splits Horae's own daemon flags (--port, --listen, --status-file, --source-check,
 * --unreach-polls, --server-threads, --loop-lag-ms, --metrics-listen) from ntpd's.
 */
export function extractHoraeFlags(
  argv: string[],
): HoraeFlags | { ok: false; message: string } {
  const rest: string[] = [];
  const listen: string[] = [];
  let port: number | null = null;
  let statusFile: string | null = null;
  let sourceCheckSec: number | null = null;
  let unreachPolls: number | null = null;
  let serverThreads: number | null = null;
  let loopLagMs: number | null = null;
  const metricsListen: MetricsAddress[] = [];
  const names = [
    "--port",
    "--listen",
    "--status-file",
    "--source-check",
    "--unreach-polls",
    "--server-threads",
    "--loop-lag-ms",
    "--metrics-listen",
  ];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    if (!names.includes(name)) {
      rest.push(a);
      continue;
    }
    const value = eq > 0 && a.startsWith("--") ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") return { ok: false, message: `${name} needs a value` };
    if (name === "--port") {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
        return { ok: false, message: `--port: "${value}" is not a port number (1-65535)` };
      }
      port = Number(value);
    } else if (name === "--status-file") {
      statusFile = value;
    } else if (name === "--source-check") {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 86400) {
        return {
          ok: false,
          message: `--source-check: "${value}" is not a number of seconds (1-86400)`,
        };
      }
      sourceCheckSec = Number(value);
    } else if (name === "--unreach-polls") {
      if (!/^[1-8]$/.test(value)) {
        return { ok: false, message: `--unreach-polls: "${value}" is not a number of polls (1-8)` };
      }
      unreachPolls = Number(value);
    } else if (name === "--server-threads") {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64) {
        return { ok: false, message: `--server-threads: "${value}" is not a thread count (1-64)` };
      }
      serverThreads = Number(value);
    } else if (name === "--loop-lag-ms") {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
        return { ok: false, message: `--loop-lag-ms: "${value}" is not an interval (1-1000 ms)` };
      }
      loopLagMs = Number(value);
    } else if (name === "--metrics-listen") {
      const m = parseMetricsAddress(value);
      if (!m.ok) return { ok: false, message: `--metrics-listen: ${m.reason}` };
      metricsListen.push(m.address);
    } else {
      listen.push(value);
    }
  }
  return {
    ok: true,
    port,
    listen,
    statusFile,
    sourceCheckSec,
    unreachPolls,
    serverThreads,
    loopLagMs,
    metricsListen,
    rest,
  };
}

function stderr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}

/** Writes the pid file atomically, refusing a link planted at its path (safe_file.ts). */
async function writePidFile(path: string): Promise<void> {
  await writeFileAtomic(path, `${Deno.pid}\n`, 0o644);
}

/**
 * Starts the metrics endpoint when --metrics-listen or `metrics` asks for one (the command line
 * replaces the configuration's addresses). A failure is logged and the daemon runs on without it.
 */
function startMetrics(
  flags: HoraeFlags,
  configured: readonly string[],
  daemon: Daemon,
  clock: Clock,
  log: Logger,
): MetricsServer | null {
  const addresses = flags.metricsListen.length > 0 ? flags.metricsListen : configured.flatMap(
    (text) => {
      const m = parseMetricsAddress(text);
      return m.ok ? [m.address] : [];
    },
  );
  if (addresses.length === 0) return null;
  const server = new MetricsServer({
    addresses,
    metrics: (lag) => prometheusText(daemon.status(), { version: HORAE_VERSION, lag }),
    status: () => statusDocument(daemon.status(), clock.now()),
    log,
  });
  try {
    server.start();
    return server;
  } catch (e) {
    log.error(`metrics: cannot listen: ${(e as Error).message}; continuing without metrics`);
    return null;
  }
}

/**
 * Runs the daemon until SIGTERM/SIGINT; returns the exit status. `program` is how usage errors
 * name the command ("ntpd", or "horae run").
 */
export async function runDaemonCommand(argv: string[], program = "ntpd"): Promise<number> {
  const flags = extractHoraeFlags(argv);
  if (!flags.ok) {
    stderr(usageError(program, flags.message));
    return 2;
  }
  const horaeNames = HORAE_RUN_OPTIONS.map((o) => o.synopsis.trim().split(" ")[0]!);
  const parsed = parseNtpdArgs(flags.rest, horaeNames);
  if (!parsed.ok) {
    stderr(usageError(program, parsed.message));
    return 2;
  }
  const opts = parsed.options;
  if (opts.help) {
    Deno.stdout.writeSync(new TextEncoder().encode(runHelp()));
    return 0;
  }
  if (opts.version) {
    Deno.stdout.writeSync(new TextEncoder().encode(`ntpd (horae) ${HORAE_VERSION}\n`));
    return 0;
  }
  // Without -n the daemon goes into the background once ready: this process starts it again
  // detached and exits with its outcome (background.ts).
  const detached = enterDetached();
  if (!detached && shouldDetach(opts)) {
    const outcome = await startDetached(program === "ntpd" ? "ntpd" : "horae");
    if (outcome.message !== null) stderr(`${outcome.message}\n`);
    return outcome.code;
  }

  // -u: resolve the user now, and restart this process image with its final bounding set and
  // no_new_privs in every thread before anything runs as root (see prepareSwitch).
  const capable = hasCapSysTime();
  const planned = await planSwitch({
    user: opts.user,
    group: opts.group,
    jailDir: opts.jailDir,
    observe: opts.observe,
    hasSysTime: capable,
  });
  if (!planned.ok) {
    stderr(`ntpd: ${planned.message}\n`);
    return 1;
  }
  if (planned.plan.identity !== null) {
    try {
      prepareSwitch(planned.plan.keep);
    } catch (e) {
      stderr(`ntpd: -u ${planned.plan.spec}: cannot restart with a reduced bounding set: ${e}\n`);
      return 1;
    }
  }

  const loaded = await loadConfig(opts.configFile, { toml: opts.toml });
  for (const d of loaded.diagnostics) stderr(`${formatDiagnostic(d)}\n`);
  if (!loaded.ok) return 78;
  const config = applyNtpdOptions(loaded.config, opts);
  // The keys file is read now, before the sockets open and root is given up; a bad one is a
  // configuration error (78), with file and line.
  const keys = await loadAuthKeys(config.auth.keysFile);
  for (const d of keys.ok ? keys.warnings : keys.diagnostics) stderr(`${formatDiagnostic(d)}\n`);
  if (!keys.ok) return 78;
  // As chronyd does: a daemon that cannot steer the clock refuses to start rather than run on
  // quietly without ever correcting it; --observe says that is what is wanted.
  if (!opts.observe && !capable) {
    stderr(`${program}: ${NO_SYS_TIME_MESSAGE}\n`);
    return 77;
  }

  let sinks: LogSink[];
  try {
    sinks = openLogSinks(config.files.logFile);
  } catch (e) {
    stderr(`ntpd: cannot open log file ${config.files.logFile}: ${(e as Error).message}\n`);
    return 1;
  }
  configureLogging({ program: "ntpd", sinks, level: levelForDebug(opts.debugLevel) });
  const logsToStderr = config.files.logFile === null || config.files.logFile === "stderr";
  const log = logger("sys");
  // From here SIGTERM and SIGINT end the daemon cleanly, SIGHUP reloads (once the daemon runs);
  // SIGUSR1/SIGUSR2 change the debug level (and SIGUSR2 starts a new loop-lag window).
  let onUsr2: (() => void) | null = null;
  const signals = new DaemonSignals(log, opts.debugLevel, () => onUsr2?.());
  log.info(`ntpd (horae) ${HORAE_VERSION}: starting`);
  log.info(`Command line: ntpd ${argv.join(" ")}`);
  // The configuration's warnings (options parsed but not applied, values clamped) went to
  // standard error before logging started; a log file gets them too.
  if (config.files.logFile !== null) {
    for (const d of loaded.diagnostics) log.warn(formatDiagnostic(d));
  }
  if (detached) log.info(`running in the background as pid ${Deno.pid}`);
  log.debug(
    `debug level ${opts.debugLevel}: configuration ${opts.configFile ?? "(built in)"}, ` +
      `${config.sources.length} source(s)`,
  );
  if (
    opts.quit &&
    !config.sources.some((s) => s.kind === "server" || s.kind === "pool" || s.kind === "peer")
  ) {
    log.error("-q needs at least one server or pool in the configuration");
    await signals.stop();
    closeLogging();
    return 1;
  }

  const noSteerReason = opts.observe ? "observe mode" : capable ? null : "no CAP_SYS_TIME";
  const clock: Clock = noSteerReason === null ? new LinuxClock() : new NullClock();
  const family = opts.ipv4Only ? "ipv4" : opts.ipv6Only ? "ipv6" : "any";
  // Privileged ports whose bind failed for want of root or CAP_NET_BIND_SERVICE.
  const deniedPorts = new Set<number>();
  const overrides: SettingsOverrides = {
    ...(flags.port !== null ? { port: flags.port } : {}),
    listen: flags.listen,
    interfaceOptions: opts.interfaces,
    noVirtual: opts.noVirtualIps,
    noSteerReason,
    family,
    panicGate: opts.panicGate,
    slew: opts.slew,
    quit: opts.quit,
    statusFile: flags.statusFile,
    ...(flags.sourceCheckSec !== null ? { sourceCheckSec: flags.sourceCheckSec } : {}),
    ...(flags.unreachPolls !== null ? { unreachPolls: flags.unreachPolls } : {}),
    keys: keys.keys,
  };
  const settings = settingsFromConfig(config, overrides);
  // SIGHUP and ntpq's :config go through one seam (reload.ts); saveconfig writes what it runs.
  let reloader: Reloader | null = null;
  if (settings.control !== undefined) {
    settings.control.saveConfig = saveConfigSetting(
      config,
      opts.configFile,
      () => reloader?.running ?? config,
    );
    if (config.auth.controlKey !== null) {
      settings.control.configure = (text, from) =>
        reloader?.configure(text, from) ?? Promise.resolve("Config failed: not running yet");
    }
  }
  if (flags.serverThreads !== null) settings.serverThreads = flags.serverThreads;
  if (flags.loopLagMs !== null) settings.loopLagMs = flags.loopLagMs;
  const daemon = new Daemon(settings, {
    clock,
    log,
    openTransport: (address, readClock, options) => {
      let opened;
      try {
        opened = openUdpTransport({
          address,
          ...(options?.reusePort ? { reusePort: true } : {}),
          ...(options?.reuseAddress ? { reuseAddress: true } : {}),
          ...(readClock === undefined ? {} : { clock: realtimeReaderOf(readClock) }),
        });
      } catch (e) {
        if (isPrivilegedPortDenied(e, address.port)) deniedPorts.add(address.port);
        throw e;
      }
      if (opened.kind !== "ffi") log.warn(opened.reason);
      return Promise.resolve(opened.transport);
    },
  });
  /** Stops everything started so far and returns `code` (the pid file only once written). */
  let metricsServer: MetricsServer | null = null;
  let notifier: SystemdNotifier | null = null;
  const finish = async (code: number, pidFileWritten: boolean): Promise<number> => {
    notifier?.stopping(code === 0 ? "stopping" : `stopping (exit code ${code})`);
    await metricsServer?.stop();
    await signals.stop();
    await daemon.stop();
    if (pidFileWritten && config.files.pidFile !== null) {
      await Deno.remove(config.files.pidFile).catch(() => {});
    }
    notifier?.close();
    closeLogging();
    return code;
  };
  try {
    await daemon.start();
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
    for (const port of deniedPorts) log.error(privilegedPortMessage(port));
    return await finish(1, false);
  }
  // Only a pid file this process wrote is removed at exit (not a link someone planted there).
  let pidWritten = false;
  // A fatal error anywhere still ends through finish(): the clock is released to its base
  // frequency with no slew pending, the drift file is saved and the pid file removed.
  let fatal = false;
  const onFatal = (e: Event) => {
    e.preventDefault();
    if (fatal) return;
    fatal = true;
    const reason = e instanceof ErrorEvent ? e.error : (e as PromiseRejectionEvent).reason;
    log.error(`fatal error: ${reason instanceof Error ? reason.stack ?? reason.message : reason}`);
    void finish(1, pidWritten).finally(() => Deno.exit(1));
  };
  globalThis.addEventListener("error", onFatal);
  globalThis.addEventListener("unhandledrejection", onFatal);
  if (config.files.pidFile !== null) {
    try {
      await writePidFile(config.files.pidFile);
      pidWritten = true;
    } catch (e) {
      log.warn(`cannot write pid file ${config.files.pidFile}: ${(e as Error).message}`);
    }
  }
  metricsServer = startMetrics(flags, config.stats.metrics, daemon, clock, log);
  // systemd (Type=notify): connected before -i moves the root away from its socket.
  notifier = openSystemdNotifier(log);
  // -u / -i: give up root now that the sockets are bound and the log and pid files are open.
  const cookieFile = settings.nts?.enabled ? settings.nts.cookieFile : null;
  const keptFiles = cookieFile === null
    ? []
    : [{ what: "NTS cookie key file", path: cookieFile, companions: [`${cookieFile}.lock`] }];
  if (!await switchUser(planned.plan, settings.driftFile, log, keptFiles)) {
    return await finish(1, pidWritten);
  }
  // Sockets bound, configuration loaded, first status written: READY=1, STATUS=, WATCHDOG=1.
  notifier?.start({ status: () => daemon.status(), log });
  if (detached) {
    // The starting command may exit now, and the daemon lets go of its terminal. A log on
    // standard error moves to the system logger, as ntpd's does in the background, unless
    // standard error is a file or the journal, which outlive the terminal.
    const keepStderr = logsToStderr && stderrOutlivesTerminal();
    if (logsToStderr && !keepStderr) {
      try {
        configureLogging({
          program: "ntpd",
          sinks: [new SyslogSink({ program: "ntpd" })],
          level: logLevel() ?? levelForDebug(opts.debugLevel),
        });
      } catch (e) {
        log.warn(
          `no system logger (${(e as Error).message}): from now on the log is discarded; ` +
            `use -l FILE or logfile to keep it`,
        );
      }
    }
    reportReady(keepStderr);
  }

  // --loop-lag-ms: SIGUSR2 also closes the lag window (kept as `previous` in the status file) and
  // opens a new one, so a load test can bracket exactly its measured period.
  if (flags.loopLagMs !== null) onUsr2 = () => void daemon.newLoopLagWindow();
  reloader = new Reloader(config, {
    daemon,
    log,
    load: async () => {
      const l = await loadConfig(opts.configFile, { toml: opts.toml });
      return l.ok ? { ...l, config: applyNtpdOptions(l.config, opts) } : l;
    },
    settingsOf: (c) => settingsFromConfig(c, overrides),
    reopenLog: (file) =>
      configureLogging({
        program: "ntpd",
        sinks: openLogSinks(file),
        level: logLevel() ?? levelForDebug(signals.debugLevel),
      }),
  });
  const reload = reloader;
  signals.onHangup = () => void reload.hangup();
  const ended = await Promise.race<{ signal: number; name: string } | { exit: DaemonExit }>([
    signals.ended,
    daemon.exited.then((exit) => ({ exit })),
  ]);
  let code = 0;
  if ("signal" in ended) {
    log.info(`ntpd exiting on signal ${ended.signal} (${ended.name})`);
  } else {
    code = ended.exit.code;
    if (ended.exit.summary !== null) {
      const observed = noSteerReason === null ? "" : ` (${noSteerReason}: clock not changed)`;
      log.info(`${ended.exit.summary}${observed}`);
      // ntpd -q prints its result on standard output: "ntpd: time slew +0.000012s".
      Deno.stdout.writeSync(new TextEncoder().encode(`ntpd: ${ended.exit.summary}\n`));
    }
    log.info(`ntpd exiting: ${ended.exit.reason} (exit code ${code})`);
  }
  return await finish(code, pidWritten);
}

/** True when standard error is a regular file or the journal (not a terminal or a pipe). */
function stderrOutlivesTerminal(): boolean {
  try {
    return stderrIsJournal() || Deno.statSync("/proc/self/fd/2").isFile;
  } catch {
    return false;
  }
}

/** Why the daemon refuses to start without CAP_SYS_TIME, and the ways out, in one line. */
export const NO_SYS_TIME_MESSAGE =
  "cannot steer the clock: no CAP_SYS_TIME; run as root, grant the capability " +
  "(AmbientCapabilities=CAP_SYS_TIME, setpriv --ambient-caps=+sys_time), " +
  "or add --observe to run without changing the clock";

/** True when `e` is a bind refused (EACCES) on a port below 1024. */
export function isPrivilegedPortDenied(e: unknown, port: number): boolean {
  return e instanceof OsError && e.errno === Errno.EACCES && port > 0 && port < 1024;
}

/** What to do about a refused privileged port, naming --port and the capability. */
export function privilegedPortMessage(port: number): string {
  return `port ${port} is privileged: run as root, grant CAP_NET_BIND_SERVICE ` +
    `(AmbientCapabilities=CAP_NET_BIND_SERVICE, setpriv --ambient-caps=+net_bind_service), ` +
    `or use --port with a port above 1023`;
}

/**
 * What SAVECONFIG may write (ntpq `saveconfig NAME`): the running configuration, as TOML when
 * NAME ends in `.toml` and as ntp.conf text otherwise (what ntpd writes), into `saveconfigdir`;
 * null (refused) without a controlkey or without `saveconfigdir`, as ntpd refuses it. Never the
 * configuration file's folder by default: for /etc/ntp.conf that is /etc, where `saveconfig
 * passwd` would replace /etc/passwd. `running`, read at each save, is the configuration as
 * reloads and run-time configuration (reload.ts) left it (default: `config`).
 */
export function saveConfigSetting(
  config: NtpConfig,
  configFile: string | null,
  running: () => NtpConfig = () => config,
): { dir: string; text: (name: string) => string } | null {
  if (config.auth.controlKey === null) return null;
  const dir = config.files.saveconfigDir;
  if (dir === null) return null;
  const banner = [
    `Saved by horae (saveconfig), running configuration${
      configFile === null ? "" : ` loaded from ${configFile}`
    }`,
  ];
  return {
    dir,
    text: (name) =>
      name.endsWith(".toml")
        ? writeToml(running(), { banner })
        : writeNtpConf(running(), { banner }),
  };
}
