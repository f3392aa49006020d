// Turns what the timekeeping core emits into ntpd's statistics files: `stats` actions become
// peerstats, loopstats and rawstats lines, `event` actions protostats lines (and the event
// fields of the status words), and the host adds clockstats, cryptostats and the hourly
// sysstats. Each statistics name writes to its own file generation set (filegen.ts); only the
// names `statistics` (or `filegen ... enable`) turned on are written. The daemon and
// `horae sim` share this writer, so both produce the same files.

import {
  type Action,
  type EventAction,
  PEER_EVENT_NAMES,
  type StatsRecord,
  SYSTEM_EVENT_NAMES,
} from "../proto/events.ts";
import type { STAT_NAMES } from "../proto/options/statistics.ts";
import type { NtpTime } from "../proto/ntp_time.ts";
import type { SysStatsSnapshot } from "../proto/sys_stats.ts";
import type { Logger } from "../log/logger.ts";
import { FileGen, type FileGenCounts, type FilegenType } from "./filegen.ts";
import {
  formatClockstats,
  formatCryptostats,
  formatLoopstats,
  formatPeerstats,
  formatProtostats,
  formatRawstats,
  formatSysstats,
  peerStatusWord,
  type SysstatsCounts,
  systemStatusWord,
} from "./stats_line.ts";

/** A statistics name (ntpd's filegens). */
export type StatName = (typeof STAT_NAMES)[number];

/** One `filegen` line's settings. */
export interface FilegenSetting {
  name: StatName;
  /** File name below statsdir ("" or absent: the statistics name). */
  file: string;
  type: FilegenType;
  link: boolean;
}

/** What the writer writes where. */
export interface StatsWriterSettings {
  /** `statsdir` (null: the working directory). */
  statsDir: string | null;
  /** The statistics to write (`statistics`, `filegen ... enable`). */
  enabled: readonly StatName[];
  /** `filegen` lines; a name without one gets file = its name, type day, link. */
  filegens?: readonly FilegenSetting[];
}

/** What the writer needs from its host. */
export interface StatsWriterDeps {
  log: Logger;
  /** The process id (type pid, and the name a file found at a bare name is saved under). */
  pid: number;
  /** When the daemon started, on the clock the records use (type age). */
  startedAt: NtpTime;
  /** The address of an association, for protostats lines about it (null when unknown). */
  addressOf?(assocId: number): string | null;
}

/** ntpd's clock source code for NTP in the system status word. */
const SOURCE_NTP = 6;
/** ntpd marks peer event codes with this bit in protostats. */
const PEER_EVENT_FLAG = 0x80;
const UNIX_EPOCH_NTP = 2_208_988_800n;

function unixSecOf(t: NtpTime): number {
  return Number((t >> 32n) - UNIX_EPOCH_NTP) + Number(t & 0xffffffffn) / 4294967296;
}

/** Joins statsdir and a file name as ntpd does (the directory gets a trailing slash). */
export function statsPath(statsDir: string | null, file: string): string {
  if (statsDir === null || statsDir === "") return file;
  return statsDir.endsWith("/") ? `${statsDir}${file}` : `${statsDir}/${file}`;
}

/** Writes statistics lines for one daemon or one simulation. */
export class StatsWriter {
  readonly #settings: StatsWriterSettings;
  readonly #deps: StatsWriterDeps;
  readonly #enabled: ReadonlySet<StatName>;
  readonly #gens = new Map<StatName, FileGen>();
  /** Per association: peer status byte from its last sample, event count and last event. */
  readonly #peers = new Map<number, { byte: number; count: number; last: number }>();
  #sys = { leap: 3, source: 0, count: 0, last: 0 };
  #sysBaseline: { at: NtpTime; counts: SysstatsCounts } | null = null;
  #closed = false;

  constructor(settings: StatsWriterSettings, deps: StatsWriterDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#enabled = new Set(settings.enabled);
  }

  /** The statistics written. */
  get enabled(): ReadonlySet<StatName> {
    return this.#enabled;
  }

  /** Whether `name` is written. */
  isEnabled(name: StatName): boolean {
    return this.#enabled.has(name);
  }

  /** The file generation set of `name` (created on first use). */
  filegen(name: StatName): FileGen {
    let g = this.#gens.get(name);
    if (g === undefined) {
      const fg = this.#settings.filegens?.find((f) => f.name === name);
      const file = fg?.file ? fg.file : name;
      g = new FileGen({
        name,
        basePath: statsPath(this.#settings.statsDir, file),
        type: fg?.type ?? "day",
        link: fg?.link ?? true,
      }, { log: this.#deps.log, pid: this.#deps.pid });
      this.#gens.set(name, g);
    }
    return g;
  }

  /** Lines written and dropped, per statistics name used so far. */
  counts(): Partial<Record<StatName, FileGenCounts>> {
    const out: Partial<Record<StatName, FileGenCounts>> = {};
    for (const [name, g] of this.#gens) out[name] = g.counts;
    return out;
  }

  /**
   * Takes the core's actions of one step at local time `now`: statistics records, events
   * (protostats and the status words' event fields), status changes and demobilisations.
   */
  onActions(actions: readonly Action[], now: NtpTime): void {
    for (const a of actions) {
      switch (a.type) {
        case "stats":
          this.record(a.record);
          break;
        case "event":
          this.event(a, now);
          break;
        case "setStatus":
          this.#sys.leap = a.leap;
          this.#sys.source = a.synchronized ? SOURCE_NTP : 0;
          break;
        case "demobilize":
          this.#peers.delete(a.assocId);
          break;
        default:
          break;
      }
    }
  }

  /** Writes one record of the core to its file (when that statistics name is enabled). */
  record(r: StatsRecord): void {
    switch (r.kind) {
      case "peerstats": {
        const p = this.#peer(r.assocId);
        p.byte = r.statusByte;
        if (this.isEnabled("peerstats")) {
          this.#write(
            "peerstats",
            formatPeerstats(r, peerStatusWord(p.byte, p.count, p.last)),
            r.at,
          );
        }
        break;
      }
      case "loopstats":
        if (this.isEnabled("loopstats")) this.#write("loopstats", formatLoopstats(r), r.at);
        break;
      case "rawstats":
        if (this.isEnabled("rawstats")) this.#write("rawstats", formatRawstats(r), r.at);
        break;
    }
  }

  /** Counts an event in the status words and writes its protostats line. */
  event(e: EventAction, now: NtpTime): void {
    let line: string;
    if (e.scope === "peer") {
      const p = this.#peer(e.assocId);
      p.count = Math.min(15, p.count + 1);
      p.last = e.code & 0x0f;
      const name = PEER_EVENT_NAMES[e.code] ?? `event ${e.code}`;
      const address = this.#deps.addressOf?.(e.assocId) ?? "0.0.0.0";
      line = formatProtostats(
        now,
        address,
        peerStatusWord(p.byte, p.count, p.last),
        e.code | PEER_EVENT_FLAG,
        eventText(name, e.message),
      );
    } else {
      const s = this.#sys;
      s.count = Math.min(15, s.count + 1);
      s.last = e.code & 0x0f;
      const name = SYSTEM_EVENT_NAMES[e.code] ?? `event ${e.code}`;
      line = formatProtostats(
        now,
        "0.0.0.0",
        systemStatusWord(s.leap, s.source, s.count, s.last),
        e.code,
        eventText(name, e.message),
      );
    }
    if (this.isEnabled("protostats")) this.#write("protostats", line, now);
  }

  /** A reference clock's line (its address 127.127.t.u and its last timecode or message). */
  clockstats(at: NtpTime, address: string, text: string): void {
    if (this.isEnabled("clockstats")) {
      this.#write("clockstats", formatClockstats(at, address, text), at);
    }
  }

  /** An authentication event ("0.0.0.0" for the system). */
  cryptostats(at: NtpTime, address: string, text: string): void {
    if (this.isEnabled("cryptostats")) {
      this.#write("cryptostats", formatCryptostats(at, address, text), at);
    }
  }

  /**
   * The sysstats line at `at`: the packet counters' growth since the previous line (the first
   * line: since they were created). COMPAT: ntpd zeroes its counters after each line, which
   * also resets what `ntpq -c sysstats` shows; Horae keeps those counting and writes differences.
   */
  sysstats(at: NtpTime, s: SysStatsSnapshot): void {
    const counts: SysstatsCounts = {
      sinceResetSec: s.sinceResetSec,
      received: s.received,
      processed: s.processed,
      currentVersion: s.currentVersion,
      oldVersion: s.oldVersion,
      accessDenied: s.accessDenied,
      badFormat: s.badFormat,
      badAuth: s.badAuth,
      declined: s.declined,
      rateExceeded: s.rateExceeded,
      kissesSent: s.kissesSent,
    };
    const base = this.#sysBaseline;
    this.#sysBaseline = { at, counts };
    if (!this.isEnabled("sysstats")) return;
    let line = counts;
    if (base !== null) {
      line = { ...counts };
      for (const k of Object.keys(counts) as (keyof SysstatsCounts)[]) {
        line[k] = Math.max(0, counts[k] - base.counts[k]);
      }
      line.sinceResetSec = unixSecOf(at) - unixSecOf(base.at);
    }
    this.#write("sysstats", formatSysstats(at, line), at);
  }

  /** Closes every open file. */
  close(): void {
    this.#closed = true;
    for (const g of this.#gens.values()) g.close();
  }

  #peer(id: number): { byte: number; count: number; last: number } {
    let p = this.#peers.get(id);
    if (p === undefined) {
      // Until its first sample: a configured association, not reachable, not selected.
      p = { byte: 0x80, count: 0, last: 0 };
      this.#peers.set(id, p);
    }
    return p;
  }

  #write(name: StatName, line: string, at: NtpTime): void {
    if (this.#closed) return;
    const sec = unixSecOf(at);
    const uptime = unixSecOf(at) - unixSecOf(this.#deps.startedAt);
    this.filegen(name).append(line, sec, uptime);
  }
}

/**
 * An event's protostats text: its name, then what the message adds. A message that names the
 * source first ("ntp1.example reachable") is taken from the event's name on, since the line
 * already shows the address.
 */
export function eventText(name: string, message: string): string {
  if (message === "" || message === name) return name;
  if (message.startsWith(`${name} `)) return message;
  const at = message.indexOf(` ${name}`);
  if (at >= 0) return message.slice(at + 1);
  return `${name} ${message}`;
}
