// File generation sets (ntpd 4.2.x `filegen`): each statistics file is a set of files named
// prefix + file + suffix, where the suffix names the period a line belongs to (none, pid, day,
// week, month, year, age), with a hard link from the bare name to the current member.
// ntpd 4.2.8's naming: ".#<pid>", ".YYYYMMDD", ISO weeks ".YYYYwWW" (the HTML manual still
// describes the older day-of-year/7 weeks with a capital W; the program writes ISO weeks),
// ".YYYYMM", ".YYYY", and ".a<8 digits>" for the daemon's running time at the start of the
// current 24 hours.
//
// The member a line goes to is chosen from that line's own time, so a rotation happens exactly
// at the boundary: every line is written once, into the member of its period. Files are opened
// through lib/files (a link planted at a member's name is never followed) and every line is one
// write that lands whole or not at all. A full disk or an unwritable folder is logged once,
// the lines that could not be written are counted, and writing resumes by itself.

import { civilFromDays, daysFromCivil } from "../proto/civil_time.ts";
import type { FILEGEN_TYPES } from "../proto/options/statistics.ts";
import { type AppendFile, openAppendNoFollow } from "../files/safe_file.ts";
import type { Logger } from "../log/logger.ts";

/** How a file generation set rolls over. */
export type FilegenType = (typeof FILEGEN_TYPES)[number];

/** Mode of a new statistics file (ntpd's files are world-readable). */
export const STATS_FILE_MODE = 0o644;

/** Seconds between attempts to open a member that could not be opened. */
export const REOPEN_RETRY_SEC = 60;

const DAY_SEC = 86_400;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** The ISO 8601 week-numbering year and week (1–53) of a day counted from 1970-01-01. */
export function isoWeek(days: number): { year: number; week: number } {
  const weekday = (((days + 3) % 7) + 7) % 7 + 1; // Monday 1 ... Sunday 7; 1970-01-01 a Thursday
  const thursday = days - weekday + 4; // the week belongs to the year of its Thursday
  const year = civilFromDays(thursday).year;
  return { year, week: Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1 };
}

/** What decides a member's name besides the time. */
export interface FilegenNameContext {
  /** The daemon's process id (type pid). */
  pid: number;
  /** Seconds the daemon has been running (type age). */
  uptimeSec: number;
}

/**
 * The suffix of the member of a set of `type` that a line stamped `unixSec` (UTC) belongs to.
 *
 * @example
 * ```ts
 * filegenSuffix("day", Date.UTC(1992, 11, 10) / 1000, { pid: 1, uptimeSec: 0 }); // ".19921210"
 * ```
 */
export function filegenSuffix(
  type: FilegenType,
  unixSec: number,
  ctx: FilegenNameContext,
): string {
  const days = Math.floor(unixSec / DAY_SEC);
  switch (type) {
    case "none":
      return "";
    case "pid":
      return `.#${ctx.pid}`;
    case "age": {
      const up = Math.max(0, Math.floor(ctx.uptimeSec));
      return `.a${pad(up - (up % DAY_SEC), 8)}`;
    }
    case "week": {
      const w = isoWeek(days);
      return `.${pad(w.year, 4)}w${pad(w.week, 2)}`;
    }
  }
  const d = civilFromDays(days);
  switch (type) {
    case "day":
      return `.${pad(d.year, 4)}${pad(d.month, 2)}${pad(d.day, 2)}`;
    case "month":
      return `.${pad(d.year, 4)}${pad(d.month, 2)}`;
    case "year":
      return `.${pad(d.year, 4)}`;
  }
}

/** One set's settings. */
export interface FileGenOptions {
  /** The statistics name, for messages ("loopstats"). */
  name: string;
  /** Path of the set without a suffix: statsdir joined with the `file` name. */
  basePath: string;
  type: FilegenType;
  /** Keep a hard link from `basePath` to the current member. */
  link: boolean;
}

/** What a set needs from its host. */
export interface FileGenDeps {
  log: Logger;
  /** The process id for type pid and for saving a file found at the bare name. */
  pid: number;
}

/** Lines written and lost by one set. */
export interface FileGenCounts {
  written: number;
  /** Lines that could not be written (full disk, folder missing or unwritable). */
  dropped: number;
  /** Members opened. */
  opened: number;
}

/** One file generation set: appends lines to the member of each line's period. */
export class FileGen {
  readonly #o: FileGenOptions;
  readonly #deps: FileGenDeps;
  readonly #enc = new TextEncoder();
  #file: AppendFile | null = null;
  #suffix: string | null = null;
  /** Suffix and record time of the last failed open (retried after REOPEN_RETRY_SEC). */
  #failedOpen: { suffix: string; atSec: number } | null = null;
  #lastError: string | null = null;
  #lastOpenError: string | null = null;
  #droppedSinceError = 0;
  #conflicts = 0;
  #counts: FileGenCounts = { written: 0, dropped: 0, opened: 0 };

  constructor(options: FileGenOptions, deps: FileGenDeps) {
    this.#o = options;
    this.#deps = deps;
  }

  /** The settings. */
  get options(): Readonly<FileGenOptions> {
    return this.#o;
  }

  /** The path of the member open now, or null. */
  get currentPath(): string | null {
    return this.#file?.path ?? null;
  }

  /** Lines written and dropped so far. */
  get counts(): FileGenCounts {
    return { ...this.#counts };
  }

  /**
   * Appends `line` (without its newline) to the member for `unixSec`, rotating first when that
   * is a new period. Never throws: a failure is logged once and the line counted as dropped.
   * Returns true when the line was written.
   */
  append(line: string, unixSec: number, uptimeSec: number): boolean {
    const suffix = filegenSuffix(this.#o.type, unixSec, {
      pid: this.#deps.pid,
      uptimeSec,
    });
    if (suffix !== this.#suffix) this.#rotate(suffix, unixSec);
    const file = this.#file;
    if (file === null) return this.#drop();
    try {
      file.appendRecord(this.#enc.encode(`${line}\n`));
    } catch (e) {
      this.#failed(`cannot write ${this.#o.name} file ${file.path}: ${(e as Error).message}`);
      return this.#drop();
    }
    this.#counts.written++;
    if (this.#droppedSinceError > 0) {
      this.#deps.log.info(
        `${this.#o.name} file ${file.path} written again (${this.#droppedSinceError} line${
          this.#droppedSinceError === 1 ? "" : "s"
        } lost)`,
      );
      this.#lastError = null;
      this.#droppedSinceError = 0;
    }
    return true;
  }

  /** Closes the open member. */
  close(): void {
    this.#file?.close();
    this.#file = null;
    this.#suffix = null;
  }

  #drop(): false {
    this.#counts.dropped++;
    this.#droppedSinceError++;
    return false;
  }

  /** Logs `message` unless it repeats the last failure. */
  #failed(message: string): void {
    if (message !== this.#lastError) this.#deps.log.error(message);
    this.#lastError = message;
  }

  /**
   * Opens the member for `suffix`. When that fails, ntpd's choice: keep writing to the member
   * already open (a line in the neighbouring period's file is better than a lost one), and try
   * again REOPEN_RETRY_SEC later.
   */
  #rotate(suffix: string, unixSec: number): void {
    const f = this.#failedOpen;
    if (
      f !== null && f.suffix === suffix && unixSec >= f.atSec &&
      unixSec - f.atSec < REOPEN_RETRY_SEC
    ) {
      return;
    }
    const path = `${this.#o.basePath}${suffix}`;
    const separate = suffix !== "";
    const linkable = separate && this.#clearBareName();
    let file: AppendFile;
    try {
      file = openAppendNoFollow(path, STATS_FILE_MODE);
    } catch (e) {
      this.#failedOpen = { suffix, atSec: unixSec };
      const message = `cannot open ${this.#o.name} file ${path}: ${(e as Error).message}`;
      if (message !== this.#lastOpenError) this.#deps.log.error(message);
      this.#lastOpenError = message;
      return;
    }
    this.#failedOpen = null;
    this.#lastOpenError = null;
    this.#file?.close();
    this.#file = file;
    this.#suffix = suffix;
    this.#counts.opened++;
    if (this.#o.link && linkable) {
      try {
        Deno.linkSync(path, this.#o.basePath);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          this.#deps.log.warn(
            `cannot link ${this.#o.basePath} to ${path}: ${(e as Error).message}`,
          );
        }
      }
    }
  }

  /**
   * Makes room at the bare name before a member opens, as ntpd does: a plain file there with
   * one name is kept under `<name>.<pid>C<n>`, a name with more links (the link to an earlier
   * member) is removed. Anything else (a symbolic link, a folder) is left alone and not linked
   * over. Returns true when the bare name is free for the link.
   */
  #clearBareName(): boolean {
    const base = this.#o.basePath;
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(base);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return true;
      this.#deps.log.warn(`cannot examine ${base}: ${(e as Error).message}`);
      return false;
    }
    try {
      if (st.isFile && (st.nlink ?? 1) <= 1) {
        Deno.renameSync(base, `${base}.${this.#deps.pid}C${this.#conflicts++}`);
        return true;
      }
      if (st.isFile) {
        Deno.removeSync(base);
        return true;
      }
    } catch (e) {
      this.#deps.log.warn(`cannot move ${base} aside: ${(e as Error).message}`);
      return false;
    }
    if (this.#o.link) {
      this.#deps.log.warn(
        `${base} is not a regular file: not linked to the current ${this.#o.name} file`,
      );
    }
    return false;
  }
}
