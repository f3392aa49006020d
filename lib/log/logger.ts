// Logging for the daemon and tools: a small facade over LogTape with ntpd-style lines
// ("21 Nov 23:35:15 ntpd[1234]: message") on stderr, in a logfile, or in memory for tests.

import { configureSync, getLogger, type LogRecord, resetSync, type Sink } from "@logtape/logtape";
import { type AppendFile, openAppendNoFollow } from "../files/safe_file.ts";

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** A log sink: receives one formatted record at a time. */
export interface LogSink {
  /**
   * One record: `line` in ntpd's logfile layout (date, program[pid], message), its level and
   * category, and the bare `message` for sinks that stamp records themselves (syslog, journal).
   */
  write(line: string, level: LogLevel, category: string, message: string): void;
  close?(): void;
}

/** What the rest of the program logs through. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Formats a line as ntpd 4.2.x writes its logfile: `21 Nov 23:35:15 ntpd[1234]: message`. */
export function formatNtpdLine(
  timeMs: number,
  program: string,
  pid: number,
  message: string,
): string {
  const d = new Date(timeMs);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCHours())}:${
    p2(d.getUTCMinutes())
  }:${p2(d.getUTCSeconds())} ${program}[${pid}]: ${message}`;
}

/** Writes lines to standard error. */
export class StderrSink implements LogSink {
  #enc = new TextEncoder();
  write(line: string): void {
    Deno.stderr.writeSync(this.#enc.encode(`${line}\n`));
  }
}

/** Mode of a new log file. */
export const LOG_FILE_MODE = 0o644;

/**
 * Appends lines to a file (opened in append mode, so lines from a crash are never lost; one
 * write per line, so lines are never torn). The file is opened as root, in a folder others may
 * write: a link, FIFO or hard-linked file at the path is refused (throws), never followed.
 */
export class FileSink implements LogSink {
  #file: AppendFile;
  #enc = new TextEncoder();
  constructor(path: string) {
    this.#file = openAppendNoFollow(path, LOG_FILE_MODE);
  }
  write(line: string): void {
    this.#file.writeSync(this.#enc.encode(`${line}\n`));
  }
  close(): void {
    this.#file.close();
  }
}

/** Keeps lines in memory (tests). */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

function toLevel(l: LogRecord["level"]): LogLevel {
  switch (l) {
    case "trace":
    case "debug":
      return "debug";
    case "info":
      return "info";
    case "warning":
      return "warning";
    default:
      return "error";
  }
}

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** Program name in each line ("ntpd" for the daemon). */
  program: string;
  sinks: LogSink[];
  /** Lowest level written. */
  level: LogLevel;
}

let active: LogSink[] = [];
let current: LoggingOptions | null = null;

/** Routes all loggers to `sinks` (replacing any earlier configuration). */
export function configureLogging(opts: LoggingOptions): void {
  for (const s of active) s.close?.();
  active = opts.sinks;
  route(opts);
}

/** The lowest level written now (null before logging is configured). */
export function logLevel(): LogLevel | null {
  return current?.level ?? null;
}

/** Changes the lowest level written, keeping the sinks (ntpd's debug level on SIGUSR1/SIGUSR2). */
export function setLogLevel(level: LogLevel): void {
  if (current !== null && current.level !== level) route({ ...current, level });
}

function route(opts: LoggingOptions): void {
  current = opts;
  const pid = Deno.pid;
  const fanout: Sink = (record) => {
    const message = record.message.map((m) => String(m)).join("");
    const line = formatNtpdLine(record.timestamp, opts.program, pid, message);
    const level = toLevel(record.level);
    const category = record.category.join(".");
    for (const s of opts.sinks) s.write(line, level, category, message);
  };
  configureSync({
    reset: true,
    sinks: { fanout },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: ["horae"], lowestLevel: opts.level, sinks: ["fanout"] },
    ],
  });
}

/** Stops logging and closes file sinks. */
export function closeLogging(): void {
  for (const s of active) s.close?.();
  active = [];
  current = null;
  resetSync();
}

/** Doubles LogTape's placeholder braces so a message is written as it is. */
function literal(message: string): string {
  return message.replaceAll("{", "{{").replaceAll("}", "}}");
}

/** A logger for a category (`sys`, `peer`, `clock`, `sync`, as ntpd's logconfig classes). */
export function logger(category: string): Logger {
  const l = getLogger(["horae", category]);
  return {
    debug: (m) => l.debug(literal(m)),
    info: (m) => l.info(literal(m)),
    warn: (m) => l.warn(literal(m)),
    error: (m) => l.error(literal(m)),
  };
}
