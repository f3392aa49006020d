// The daemon's statistics files: `statsdir`, `statistics`, `filegen` and `enable/disable stats`
// from the configuration, a StatsWriter (lib/stats) fed with every batch of the timekeeping
// core's actions, reference clock lines, and the packet counters once an hour (sysstats), as
// ntpd writes them.

import type { Action } from "../proto/events.ts";
import type { NtpTime } from "../proto/ntp_time.ts";
import type { SysStatsSnapshot } from "../proto/sys_stats.ts";
import type { NtpConfig } from "../config/config_model.ts";
import type { Logger } from "../log/logger.ts";
import { type FilegenSetting, type StatName, StatsWriter } from "../stats/stats_writer.ts";
import type { FileGenCounts } from "../stats/filegen.ts";
import { repeat, type Timers } from "./timers.ts";

/** ntpd writes sysstats once an hour. */
export const SYSSTATS_INTERVAL_SEC = 3600;

/** What is written where (from the configuration). */
export interface StatsSettings {
  /** `statsdir` (null: the working directory). */
  statsDir: string | null;
  /** `statistics` and `filegen ... enable`. */
  enabled: StatName[];
  filegens: FilegenSetting[];
}

/**
 * The statistics settings of a configuration, or null when nothing is to be written (no
 * statistics enabled, or `disable stats`).
 */
export function statsSettingsFromConfig(config: NtpConfig): StatsSettings | null {
  if (!config.system.stats || config.stats.enabled.length === 0) return null;
  return {
    statsDir: config.stats.statsDir,
    enabled: [...config.stats.enabled],
    filegens: config.stats.filegens.map((g) => ({
      name: g.name,
      file: g.file,
      type: g.type,
      link: g.link,
    })),
  };
}

/** What the host needs from the daemon. */
export interface StatsHostDeps {
  log: Logger;
  timers: Timers;
  /** The time the lines carry (the clock the core runs on). */
  now(): NtpTime;
  /** The packet counters now, or null before they exist. */
  sysstats(): SysStatsSnapshot | null;
  /** An association's address, for protostats. */
  addressOf(assocId: number): string | null;
  /** Seconds between sysstats lines (default {@link SYSSTATS_INTERVAL_SEC}). */
  sysstatsIntervalSec?: number;
}

/** The statistics files of one daemon. */
export class StatsHost {
  readonly #settings: StatsSettings;
  readonly #deps: StatsHostDeps;
  readonly #writer: StatsWriter;
  #cancel: (() => void) | null = null;

  constructor(settings: StatsSettings, deps: StatsHostDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#writer = new StatsWriter(settings, {
      log: deps.log,
      pid: Deno.pid,
      startedAt: deps.now(),
      addressOf: (id) => deps.addressOf(id),
    });
  }

  /** Logs what is written where and starts the hourly sysstats. */
  start(): void {
    const s = this.#settings;
    const dir = s.statsDir ?? Deno.cwd();
    try {
      if (!Deno.statSync(dir).isDirectory) {
        this.#deps.log.error(`statsdir ${dir} is not a directory`);
      }
    } catch (e) {
      this.#deps.log.error(`statsdir ${dir}: ${(e as Error).message}`);
    }
    this.#deps.log.info(`statistics ${s.enabled.join(" ")} in ${dir}`);
    if (this.#writer.isEnabled("sysstats")) {
      this.#cancel = repeat(
        this.#deps.timers,
        this.#deps.sysstatsIntervalSec ?? SYSSTATS_INTERVAL_SEC,
        () => this.writeSysstats(),
      );
    }
  }

  /** The core's actions of one step, at local time `now`. */
  onActions(actions: readonly Action[], now: NtpTime): void {
    this.#writer.onActions(actions, now);
  }

  /** A reference clock's line (clockstats). */
  clockstats(address: string, text: string): void {
    this.#writer.clockstats(this.#deps.now(), address, text);
  }

  /** Writes a sysstats line now. */
  writeSysstats(): void {
    const s = this.#deps.sysstats();
    if (s !== null) this.#writer.sysstats(this.#deps.now(), s);
  }

  /** Lines written and lost per statistics file. */
  counts(): Partial<Record<StatName, FileGenCounts>> {
    return this.#writer.counts();
  }

  /** Stops the timer and closes the files. */
  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
    this.#writer.close();
  }
}
