// Live reconfiguration: one seam for SIGHUP (re-read the configuration file) and mode 6
// CONFIGURE (ntpq `:config` lines on top of the running configuration). It compares the running
// configuration with the new one (lib/config/config_diff.ts), applies what the daemon can change
// while it runs (sources added and removed, restrict, tos, logconfig, the statistics files, the
// log file), logs one line per change, and warns about each change that needs a restart. A new
// configuration with errors is refused with its diagnostics; the daemon keeps the old one.
// SIGHUP also reopens the log and statistics files (log rotation), as ntpd 4.2.x's does.

import {
  type ConfigDiff,
  describeChange,
  describeSource,
  diffConfig,
  isEmptyDiff,
  takeLiveChanges,
} from "../config/config_diff.ts";
import type { NtpConfig, SourceConfig } from "../config/config_model.ts";
import { type Diagnostic, formatDiagnostic } from "../config/diagnostics.ts";
import { applyRuntimeConfig, runtimeConfigReply } from "../config/runtime_config.ts";
import type { Logger } from "../log/logger.ts";
import type { DaemonSettings } from "./daemon.ts";
import type { RestrictSetting } from "./access_control.ts";
import type { SourceSetting } from "./source_manager.ts";
import type { StatsSettings } from "./stats_host.ts";
import type { TosOptions } from "../proto/system.ts";

/** What the seam changes in the running daemon (Daemon implements it; tests pass a fake). */
export interface LiveDaemon {
  addSource(setting: SourceSetting): boolean;
  removeSource(kind: SourceSetting["kind"], address: string, reason: string): number;
  sourceOfAssociation(id: number): { kind: string; address: string } | null;
  setRestrict(rules: readonly RestrictSetting[]): Promise<void>;
  setTos(tos: Partial<TosOptions>): boolean;
  setLogConfig(tokens: readonly string[]): string[] | null;
  reopenStats(settings: StatsSettings | null): void;
}

/** A configuration read again, as the loader returns it. */
export interface ReloadedConfig {
  ok: boolean;
  config: NtpConfig;
  diagnostics: Diagnostic[];
}

/** What the seam needs. */
export interface ReloaderDeps {
  daemon: LiveDaemon;
  log: Logger;
  /** Reads the configuration file again, with the command line's options applied. */
  load(): Promise<ReloadedConfig>;
  /** The daemon settings of a configuration (the same command-line overrides as at start). */
  settingsOf(config: NtpConfig): DaemonSettings;
  /** Closes the log and opens it again at `logFile` (throws when it cannot). */
  reopenLog(logFile: string | null): void;
}

/** What one reload did. */
export interface ReloadReport {
  /** False when the new configuration was refused (the old one still runs). */
  ok: boolean;
  /** One line per change applied. */
  applied: string[];
  /** One line per change that needs a restart (or could not be applied). */
  restart: string[];
  /** The refusing diagnostics, formatted. */
  errors: string[];
}

/**
 * Most SIGHUPs waiting behind a reload in progress: a burst of them gives one more reload, not
 * one per signal.
 */
export const MAX_QUEUED_HANGUPS = 1;

/** Most run-time configuration requests waiting at once; more are answered "busy". */
export const MAX_PENDING_CONFIGURE = 8;

/** The daemon's live reconfiguration. */
export class Reloader {
  readonly #deps: ReloaderDeps;
  #running: NtpConfig;
  #queue: Promise<unknown> = Promise.resolve();
  #hangupsQueued = 0;
  #hangupsCoalesced = 0;
  #configurePending = 0;

  /** `running` is the configuration the daemon started with (command line applied). */
  constructor(running: NtpConfig, deps: ReloaderDeps) {
    this.#running = structuredClone(running);
    this.#deps = deps;
  }

  /** The configuration that runs now (for saveconfig). */
  get running(): NtpConfig {
    return this.#running;
  }

  /** SIGHUPs that were folded into a reload already waiting. */
  get hangupsCoalesced(): number {
    return this.#hangupsCoalesced;
  }

  /**
   * SIGHUP: reopens the log and statistics files, then reads the configuration file again and
   * applies it. Resolves with the report, or null when the signal was folded into a reload that
   * was already waiting.
   */
  hangup(): Promise<ReloadReport | null> {
    // Signals that come before a reload has started reading are served by that reload.
    if (this.#hangupsQueued >= MAX_QUEUED_HANGUPS) {
      this.#hangupsCoalesced++;
      return Promise.resolve(null);
    }
    this.#hangupsQueued++;
    return this.#serial(async () => {
      this.#hangupsQueued--;
      return await this.#reload();
    });
  }

  /**
   * Run-time configuration (mode 6 CONFIGURE): applies ntp.conf lines on top of the running
   * configuration; resolves with ntpd's answer text ("Config Succeeded" or the errors).
   */
  configure(text: string, from: string): Promise<string> {
    if (this.#configurePending >= MAX_PENDING_CONFIGURE) {
      return Promise.resolve("Config failed: busy (too many changes waiting)");
    }
    this.#configurePending++;
    return this.#serial(async () => {
      try {
        return await this.#configure(text, from);
      } finally {
        this.#configurePending--;
      }
    });
  }

  async #configure(text: string, from: string): Promise<string> {
    const log = this.#deps.log;
    const r = applyRuntimeConfig(
      this.#running,
      text,
      (id) => this.#deps.daemon.sourceOfAssociation(id),
    );
    const reply = runtimeConfigReply(r);
    const shown = JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}...` : text);
    if (!r.ok) {
      log.warn(`runtime configuration from ${from} refused: ${shown}: ${reply}`);
      return reply;
    }
    log.info(`runtime configuration from ${from}: ${shown}`);
    for (const d of r.diagnostics) log.warn(`runtime configuration: ${d.message}`);
    const report = await this.#apply(r.config, "runtime configuration");
    return report.restart.length === 0
      ? reply
      : `${reply}\n${report.restart.map((x) => `not applied: ${x}`).join("\n")}`;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(): Promise<ReloadReport> {
    const log = this.#deps.log;
    log.info("SIGHUP: reopening the log and statistics files, reading the configuration again");
    const loaded = await this.#deps.load();
    // The log reopens at the new configuration's file (the old one's when it is refused); when
    // that fails, logging goes on where it was.
    const logFile = (loaded.ok ? loaded.config : this.#running).files.logFile;
    // Without a log file before or after (standard error, the journal, syslog), nothing reopens.
    const logReopened = logFile === null && this.#running.files.logFile === null
      ? true
      : this.#reopenLog(logFile);
    for (const d of loaded.diagnostics) {
      if (d.severity === "error") log.error(`reload: ${formatDiagnostic(d)}`);
      else log.warn(`reload: ${formatDiagnostic(d)}`);
    }
    if (!loaded.ok) {
      this.#deps.daemon.reopenStats(this.#deps.settingsOf(this.#running).stats ?? null);
      const errors = loaded.diagnostics.filter((d) => d.severity === "error").map(
        formatDiagnostic,
      );
      log.error(
        `reload: the configuration has ${errors.length} error${
          errors.length === 1 ? "" : "s"
        }: refused, still running the previous one`,
      );
      return { ok: false, applied: [], restart: [], errors };
    }
    const report = await this.#apply(loaded.config, "reload", logReopened);
    const keys = this.#running.auth.keysFile;
    if (keys !== null) {
      // COMPAT: ntpd re-reads its keys file on SIGHUP; Horae's threads hold their own copies.
      log.warn(`reload: keys in ${keys} are not read again; restart to use changed keys`);
    }
    return report;
  }

  #reopenLog(logFile: string | null): boolean {
    try {
      this.#deps.reopenLog(logFile);
      return true;
    } catch (e) {
      this.#deps.log.error(
        `reload: cannot open log file ${logFile}: ${(e as Error).message}; logging as before`,
      );
      return false;
    }
  }

  /**
   * Applies `next` against the running configuration. `logReopened` (SIGHUP): the log was
   * reopened at `next`'s log file (true) or could not be (false), and the statistics files
   * reopen whether they changed or not; null (run-time configuration): only what changed.
   */
  async #apply(
    next: NtpConfig,
    what: string,
    logReopened: boolean | null = null,
  ): Promise<ReloadReport> {
    const reopen = logReopened !== null;
    const log = this.#deps.log;
    const d = this.#deps.daemon;
    const diff = diffConfig(this.#running, next);
    const report: ReloadReport = { ok: true, applied: [], restart: [], errors: [] };
    const nextSettings = this.#deps.settingsOf(next);
    const statsChanged = diff.live.some((c) =>
      c.path.startsWith("stats.") || c.path === "system.stats"
    );
    if (reopen || statsChanged) d.reopenStats(nextSettings.stats ?? null);
    if (isEmptyDiff(diff)) {
      log.info(`${what}: configuration unchanged`);
      return report;
    }
    const notAdded = this.#applySources(diff, report, what);
    for (const c of diff.live) {
      const line = describeChange(c);
      let ok = true;
      let why = "needs a restart (no timekeeping runs); not applied";
      if (c.path === "restrict") {
        await d.setRestrict(nextSettings.access?.restrict ?? []);
      } else if (c.path.startsWith("tos.")) {
        ok = d.setTos(liveTos(nextSettings.timekeeping?.tos ?? {}));
      } else if (c.path === "logConfig") {
        const unknown = d.setLogConfig(next.logConfig);
        ok = unknown !== null;
        for (const u of unknown ?? []) log.warn(`${what}: logconfig: unknown class "${u}" ignored`);
      } else if (c.path === "files.logFile") {
        ok = logReopened ?? this.#reopenLog(next.files.logFile);
        why = "cannot be opened; logging goes on as before";
      }
      // Statistics were reopened above; saveconfigdir is read at each saveconfig.
      if (ok) {
        report.applied.push(line);
        log.info(`${what}: ${line}`);
      } else {
        report.restart.push(line);
        log.warn(`${what}: ${line}: ${why}`);
      }
    }
    for (const c of diff.restart) {
      const line = describeChange(c);
      report.restart.push(line);
      log.warn(`${what}: ${line}: needs a restart; still running with the previous value`);
    }
    const applied = takeLiveChanges(this.#running, next, {
      ...diff,
      live: diff.live.filter((c) => report.applied.includes(describeChange(c))),
    });
    // Sources that could not be added stay out of the running configuration; a removed one that
    // was not running stays out too.
    const missing = new Set(notAdded.map((s) => JSON.stringify(s)));
    applied.sources = applied.sources.filter((s) => !missing.has(JSON.stringify(s)));
    this.#running = applied;
    return report;
  }

  /** Removes, then adds, sources; returns the added ones that could not be. */
  #applySources(diff: ConfigDiff, report: ReloadReport, what: string): SourceConfig[] {
    const log = this.#deps.log;
    const d = this.#deps.daemon;
    for (const s of diff.sourcesRemoved) {
      const setting = this.#settingOf(s);
      const n = setting === null
        ? 0
        : d.removeSource(setting.kind, setting.address, `removed (${what})`);
      const line = `removed ${describeSource(s)}`;
      report.applied.push(line);
      log.info(`${what}: ${line}${n === 0 ? " (it was not running)" : ""}`);
    }
    const notAdded: SourceConfig[] = [];
    for (const s of diff.sourcesAdded) {
      const setting = this.#settingOf(s);
      const line = describeSource(s);
      if (setting !== null && d.addSource(setting)) {
        report.applied.push(`added ${line}`);
        log.info(`${what}: added ${line}`);
        continue;
      }
      notAdded.push(s);
      const why = setting === null
        ? "this kind of source is not supported"
        : "the daemon started without sources or reference clocks; restart it";
      report.restart.push(`${line}: ${why}`);
      log.warn(`${what}: ${line} not added: ${why}`);
    }
    return notAdded;
  }

  /** The daemon's setting for one source line (null: a kind the daemon does not run). */
  #settingOf(s: SourceConfig): SourceSetting | null {
    const only = { ...this.#running, sources: [s] };
    return this.#deps.settingsOf(only).sources?.[0] ?? null;
  }
}

/** The `tos` settings that change live (maxdist and maxclock need a restart: see LIVE_PATHS). */
function liveTos(t: Partial<TosOptions>): Partial<TosOptions> {
  const out: Partial<TosOptions> = {};
  for (const k of ["minclock", "minsane", "floor", "ceiling", "cohort", "orphan"] as const) {
    if (t[k] !== undefined) (out as Record<string, unknown>)[k] = t[k];
  }
  return out;
}
