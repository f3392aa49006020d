// systemd's readiness protocol (sd_notify(3), without libsystemd): newline-separated KEY=VALUE
// datagrams to the unix socket named by $NOTIFY_SOCKET: READY=1, STATUS=..., WATCHDOG=1 and
// STOPPING=1. The watchdog pings come from a timer on the event loop, so a stuck loop stops them
// and systemd restarts the service after WatchdogSec.

import {
  closeUnixDatagram,
  connectUnixDatagram,
  sendUnixDatagram,
} from "../../ffi/unix_datagram.ts";
import type { Logger } from "../log/logger.ts";
import type { DaemonStatus } from "./daemon_status.ts";

/** Where and how often to notify, read from the environment systemd gives the service. */
export interface NotifyTarget {
  /** $NOTIFY_SOCKET: a socket path, or "@name" for an abstract socket. */
  socket: string;
  /** Microseconds between watchdog pings systemd expects at most, or null (no watchdog). */
  watchdogUsec: number | null;
}

/**
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID as sd_watchdog_enabled(3) does: the
 * watchdog is on when WATCHDOG_USEC is a positive integer and WATCHDOG_PID is unset or is `pid`.
 * Null when NOTIFY_SOCKET is unset or empty (not started by systemd with Type=notify).
 */
export function notifyTarget(
  get: (name: string) => string | undefined,
  pid: number,
): NotifyTarget | null {
  const socket = get("NOTIFY_SOCKET") ?? "";
  if (socket === "") return null;
  const usecText = get("WATCHDOG_USEC") ?? "";
  const pidText = get("WATCHDOG_PID");
  let watchdogUsec: number | null = null;
  if (/^\d{1,15}$/.test(usecText) && Number(usecText) > 0) {
    if (pidText === undefined || pidText === "" || pidText === String(pid)) {
      watchdogUsec = Number(usecText);
    }
  }
  return { socket, watchdogUsec };
}

/** "+12 us", "-1.234 ms", "+2.500 s": an offset in the unit that suits it. */
function formatOffset(offsetSec: number): string {
  const sign = offsetSec < 0 ? "-" : "+";
  const a = Math.abs(offsetSec);
  if (a < 1e-3) return `${sign}${Math.round(a * 1e6)} us`;
  if (a < 1) return `${sign}${(a * 1e3).toFixed(3)} ms`;
  return `${sign}${a.toFixed(3)} s`;
}

/** The four ASCII characters of a reference-clock refid, or null when it is not printable. */
function refidText(refid: number): string | null {
  const chars = [24, 16, 8, 0].map((s) => (refid >>> s) & 0xff).filter((c) => c !== 0);
  if (chars.length === 0 || chars.some((c) => c < 0x20 || c > 0x7e)) return null;
  return String.fromCharCode(...chars);
}

/**
 * The one-line STATUS= text `systemctl status` shows: "synchronised to 192.0.2.1, stratum 2,
 * offset +12 us", or "unsynchronised, 3 sources" while there is no system peer.
 */
export function syncStatusLine(status: DaemonStatus): string {
  const { state, system } = status;
  const observing = status.observe === null ? "" : ` (${status.observe.reason}: clock not steered)`;
  if (state.leap === 3 || state.stratum >= 16) {
    const n = system?.associations.length ?? 0;
    return `unsynchronised, ${n} source${n === 1 ? "" : "s"}${observing}`;
  }
  let to: string;
  const peer = system?.associations.find((a) => a.id === system.systemPeer);
  if (status.source === "network" && peer !== undefined) {
    to = peer.name !== null && peer.name !== peer.address.address
      ? `${peer.name} (${peer.address.address})`
      : peer.address.address;
  } else {
    to = `reference clock ${refidText(state.refid) ?? "(unnamed)"}`;
  }
  const offset = system === null ? "" : `, offset ${formatOffset(system.offsetSec)}`;
  return `synchronised to ${to}, stratum ${state.stratum}${offset}${observing}`;
}

/** Options for {@link SystemdNotifier.start}. */
export interface NotifierOptions {
  /** The current status, read for STATUS= lines. */
  status(): DaemonStatus;
  log: Logger;
  /** Seconds between STATUS= checks (a line is sent only when its text changed); default 2. */
  statusIntervalSec?: number;
}

/**
 * A connection to systemd's notify socket. Sending never blocks: a full or vanished socket loses
 * that message (logged once), as libsystemd's sd_notify does not retry either.
 */
export class SystemdNotifier {
  readonly #fd: number;
  readonly #target: NotifyTarget;
  readonly #log: Logger;
  #failed = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #lastStatus = "";
  #closed = false;

  private constructor(fd: number, target: NotifyTarget, log: Logger) {
    this.#fd = fd;
    this.#target = target;
    this.#log = log;
  }

  /**
   * Connects to `target`'s socket; null (after one log line) when that fails, since a daemon
   * without its notify socket still keeps time.
   */
  static connect(target: NotifyTarget, log: Logger): SystemdNotifier | null {
    try {
      return new SystemdNotifier(connectUnixDatagram(target.socket), target, log);
    } catch (e) {
      log.warn(`systemd notify socket ${target.socket}: ${(e as Error).message}`);
      return null;
    }
  }

  /** The watchdog interval systemd asked for (µs), or null. */
  get watchdogUsec(): number | null {
    return this.#target.watchdogUsec;
  }

  /** Sends one message ("READY=1\nSTATUS=..."); false when it was not delivered. */
  send(message: string): boolean {
    if (this.#closed) return false;
    const e = sendUnixDatagram(this.#fd, new TextEncoder().encode(message));
    if (e !== 0 && !this.#failed) {
      this.#failed = true;
      this.#log.warn(`systemd notify socket ${this.#target.socket}: send failed (errno ${e})`);
    }
    return e === 0;
  }

  /**
   * The daemon is ready: sends READY=1 with the first STATUS=, then keeps STATUS= current and,
   * when systemd set a watchdog, pings at half its interval from the event loop.
   */
  start(options: NotifierOptions): void {
    const line = () => syncStatusLine(options.status());
    this.#lastStatus = line();
    this.send(`READY=1\nSTATUS=${this.#lastStatus}`);
    const usec = this.#target.watchdogUsec;
    if (usec !== null) {
      const ms = Math.max(1, Math.floor(usec / 2000));
      this.#timers.push(setInterval(() => this.send("WATCHDOG=1"), ms));
      this.#log.info(`systemd watchdog: pinging every ${ms} ms`);
    }
    const statusMs = Math.max(100, (options.statusIntervalSec ?? 2) * 1000);
    this.#timers.push(setInterval(() => {
      const next = line();
      if (next !== this.#lastStatus && this.send(`STATUS=${next}`)) this.#lastStatus = next;
    }, statusMs));
  }

  /** The daemon is shutting down: stops the timers and sends STOPPING=1 with `status`. */
  stopping(status = "stopping"): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.send(`STOPPING=1\nSTATUS=${status}`);
  }

  /** Closes the socket (after {@link stopping}). */
  close(): void {
    if (this.#closed) return;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#closed = true;
    closeUnixDatagram(this.#fd);
  }
}

/** Reads an environment variable, treating one the permissions hide as unset. */
function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Connects to systemd's notify socket when the environment names one (null otherwise): the
 * run command's hook. Call {@link SystemdNotifier.start} once ready.
 */
export function openSystemdNotifier(log: Logger): SystemdNotifier | null {
  const target = notifyTarget(envGet, Deno.pid);
  return target === null ? null : SystemdNotifier.connect(target, log);
}
