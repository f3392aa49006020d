// Where the daemon's log goes: a log file (ntpd's `logfile` / -l), the system logger (syslog(3)'s
// datagrams to /dev/log), or standard error, which under systemd carries sd-daemon priority
// prefixes ("<3>") so the journal keeps each message's level.

import {
  closeUnixDatagram,
  connectUnixDatagram,
  sendUnixDatagram,
} from "../../ffi/unix_datagram.ts";
import { FileSink, type LogLevel, type LogSink, StderrSink } from "./logger.ts";

/** syslog(3) severities of the log levels. */
export const SYSLOG_SEVERITY: Readonly<Record<LogLevel, number>> = {
  error: 3,
  warning: 4,
  info: 6,
  debug: 7,
};

/** syslog facility LOG_DAEMON (3), as ntpd logs. */
export const LOG_DAEMON = 3;

/** Where syslog(3) sends messages. */
export const DEV_LOG = "/dev/log";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * One syslog datagram as glibc's syslog(3) sends it (RFC 3164 layout, local time):
 * `<PRI>Mmm dd hh:mm:ss program[pid]: message`, PRI = facility × 8 + severity.
 */
export function formatSyslog(
  date: Date,
  facility: number,
  level: LogLevel,
  program: string,
  pid: number,
  message: string,
): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, " ")} ${
    p2(date.getHours())
  }:${p2(date.getMinutes())}:${p2(date.getSeconds())}`;
  return `<${facility * 8 + SYSLOG_SEVERITY[level]}>${stamp} ${program}[${pid}]: ${message}`;
}

/** Longest syslog datagram sent; longer messages are cut (syslog daemons cut them anyway). */
export const MAX_SYSLOG_BYTES = 8192;

/** Options of {@link SyslogSink}. */
export interface SyslogSinkOptions {
  /** The program name in each message. */
  program: string;
  /** The socket (default /dev/log). */
  path?: string;
  facility?: number;
  /** The clock for the timestamp (tests). */
  now?: () => Date;
}

/**
 * Sends each record to the system logger as one datagram. It never blocks: when the logger's
 * queue is full the record is dropped and counted; when the logger is gone (restarted, not
 * running) the socket is connected again at most once a second.
 */
export class SyslogSink implements LogSink {
  readonly #o: SyslogSinkOptions;
  readonly #enc = new TextEncoder();
  #fd: number | null = null;
  #retryAtMs = 0;
  /** Records that could not be delivered. */
  dropped = 0;

  /** Connects to the logger; throws when its socket cannot be reached now. */
  constructor(options: SyslogSinkOptions) {
    this.#o = options;
    this.#fd = connectUnixDatagram(options.path ?? DEV_LOG);
  }

  write(_line: string, level: LogLevel, _category: string, message: string): void {
    const now = this.#o.now?.() ?? new Date();
    let data = this.#enc.encode(
      formatSyslog(now, this.#o.facility ?? LOG_DAEMON, level, this.#o.program, Deno.pid, message),
    );
    if (data.length > MAX_SYSLOG_BYTES) data = data.subarray(0, MAX_SYSLOG_BYTES);
    if (this.#fd === null && !this.#reconnect(now.getTime())) {
      this.dropped++;
      return;
    }
    let err = sendUnixDatagram(this.#fd!, data);
    if (err !== 0 && err !== 11 && this.#reconnect(now.getTime(), true)) {
      err = sendUnixDatagram(this.#fd!, data);
    }
    if (err !== 0) this.dropped++;
  }

  close(): void {
    if (this.#fd !== null) closeUnixDatagram(this.#fd);
    this.#fd = null;
  }

  /** Connects again (at most once a second); true when connected. */
  #reconnect(nowMs: number, force = false): boolean {
    if (!force && nowMs < this.#retryAtMs) return false;
    this.#retryAtMs = nowMs + 1000;
    this.close();
    try {
      this.#fd = connectUnixDatagram(this.#o.path ?? DEV_LOG);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * True when standard error is the journal's stream: systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it connects, and a redirection after that changes the inode.
 */
export function stderrIsJournal(
  journalStream: string | undefined = Deno.env.get("JOURNAL_STREAM"),
  stderrStat: () => { dev: number; ino: number | null } = () => Deno.statSync("/proc/self/fd/2"),
): boolean {
  const m = /^(\d+):(\d+)$/.exec(journalStream ?? "");
  if (m === null) return false;
  try {
    const st = stderrStat();
    return String(st.dev) === m[1] && st.ino !== null && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

/**
 * Writes each record to standard error as `<N>message` (sd-daemon(3) prefixes: the journal
 * takes N as the priority and adds its own time and program name).
 */
export class JournalSink implements LogSink {
  readonly #enc = new TextEncoder();
  readonly #out: (bytes: Uint8Array) => void;

  constructor(out: (bytes: Uint8Array) => void = (b) => void Deno.stderr.writeSync(b)) {
    this.#out = out;
  }

  write(_line: string, level: LogLevel, _category: string, message: string): void {
    const body = message.replaceAll("\n", "\n" + `<${SYSLOG_SEVERITY[level]}>`);
    this.#out(this.#enc.encode(`<${SYSLOG_SEVERITY[level]}>${body}\n`));
  }
}

/**
 * The sinks for ntpd's `logfile` (or -l) value: a path opens that file; "syslog" the system
 * logger; "stderr" standard error (as ntpd 4.2.8 accepts); none: standard error, with journal
 * priorities when it is systemd's journal stream. COMPAT: without `logfile` ntpd writes to
 * syslog; Horae runs in the foreground like `ntpd -n` and writes to standard error, which
 * systemd's journal (or the supervisor) keeps; `logfile syslog` sends it to the system logger.
 * Throws when the file or the logger cannot be opened.
 */
export function openLogSinks(logFile: string | null, program = "ntpd"): LogSink[] {
  if (logFile === "syslog") return [new SyslogSink({ program })];
  if (logFile !== null && logFile !== "stderr") return [new FileSink(logFile)];
  return [stderrIsJournal() ? new JournalSink() : new StderrSink()];
}
