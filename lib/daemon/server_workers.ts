// The daemon's server threads (`--server-threads N`): N-1 Deno Workers, each with its own
// SO_REUSEPORT sockets on the daemon's listen addresses, started from the main module (so the
// single-file bundle works too), restarted when they die, their counters and forwarded datagrams
// brought back to the main thread.

import { geteuid } from "../../ffi/privileges.ts";
import { closeSocket, shutdownSocket } from "../../ffi/socket.ts";
import type { Logger } from "../log/logger.ts";
import type { SocketAddress } from "../net/transport.ts";
import type { RestrictEntry } from "../proto/access/restrict.ts";
import type { SysStats } from "../proto/sys_stats.ts";
import { type AuthSettings, NO_AUTH } from "./daemon_auth.ts";
import type { SharedServedState } from "./served_state.ts";
import type { ForwardedDatagram } from "./packet_input.ts";
import type { NtsMasterKey } from "../proto/nts/cookies.ts";
import {
  type FromServerWorker,
  type NtsKeysMessage,
  SERVER_WORKER_NAME,
  type ServerThreadCounters,
  type ServerWorkerInit,
  type ToServerWorker,
} from "./server_worker.ts";

/** Options of {@link ServerWorkers}. */
export interface ServerWorkersOptions {
  /** Worker threads to run (the daemon's thread count minus the main thread). */
  count: number;
  /** The main thread's bound listen addresses (with their real ports). */
  addresses: SocketAddress[];
  /** Module each worker runs: the main module, which branches to the worker code by name. */
  moduleUrl: string | URL;
  /** The state the main thread publishes. */
  shared: SharedServedState;
  /** Replies are on observe mode's virtual clock. */
  useVirtual: boolean;
  precisionLog2: number;
  log: Logger;
  /** The restrict list's entries when the workers start (later: {@link ServerWorkers.setRestrict}). */
  restrict: RestrictEntry[];
  /** The shared MRU list's memory, or null. */
  mru: SharedArrayBuffer | null;
  /** The shared sysstats counters (one block per thread; the main thread is 0). */
  sysStats: SysStats;
  /** `enable monitor`. */
  monitor: boolean;
  /** `enable mode7` (default false). */
  mode7?: boolean;
  /** The keys and `enable auth` (default: none, enabled). */
  auth?: AuthSettings;
  /** Acts on a datagram a worker handed over with its verdict (the main thread's side). */
  onForwarded(datagram: ForwardedDatagram): void;
  /**
   * A worker incarnation is gone (stopped, failed or terminated): the main thread releases
   * what it may have held (the MRU list's lock).
   */
  onRetired?(thread: number): void;
  /** Milliseconds between worker counter reports (default 1000). */
  statsIntervalMs?: number;
  /** Delay before restarting a failed worker (default 1000 ms). */
  restartDelayMs?: number;
  /** Failures within `failureWindowMs` after which a worker is not restarted (default 3). */
  maxFailures?: number;
  /** Default 60 000 ms. */
  failureWindowMs?: number;
  /** Time a worker has to open its sockets (default 10 000 ms). */
  readyTimeoutMs?: number;
  /** Forwarded datagrams a worker may have queued at the main thread (default 1024). */
  maxInFlight?: number;
  /** Workers accept the "crash" test message. */
  testHooks?: boolean;
}

/** One server thread's counters as the status file shows them. */
export interface ServerThreadStatus {
  /** 0 is the main thread. */
  thread: number;
  running: boolean;
  /** Times this worker was restarted after a failure. */
  restarts: number;
  received: number;
  replied: number;
  dropped: number;
  /** Worker: datagrams handed to the main thread. Main thread: datagrams it took from workers. */
  forwarded: number;
  /** Worker: datagrams dropped because too many forwards were queued at the main thread. */
  forwardDropped: number;
}

/** Counters that are all zero. */
export function zeroCounters(): ServerThreadCounters {
  return { replied: 0, cryptoNak: 0, forwarded: 0, forwardDropped: 0 };
}

function addCounters(a: ServerThreadCounters, b: ServerThreadCounters): ServerThreadCounters {
  return {
    replied: a.replied + b.replied,
    cryptoNak: a.cryptoNak + b.cryptoNak,
    forwarded: a.forwarded + b.forwarded,
    forwardDropped: a.forwardDropped + b.forwardDropped,
  };
}

/** One worker slot and its current incarnation. */
class Slot {
  readonly thread: number;
  worker: Worker | null = null;
  /** Descriptors of the incarnation's sockets (closed here if it dies without closing them). */
  fds: number[] = [];
  fdsClosed = false;
  /** Counters of earlier incarnations, and of the current one. */
  base = zeroCounters();
  current = zeroCounters();
  restarts = 0;
  failures: number[] = [];
  failMessage: string | null = null;
  ready: ((ok: boolean) => void) | null = null;
  stopped: (() => void) | null = null;
  restartTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(thread: number) {
    this.thread = thread;
  }
}

/**
 * Runs the worker threads: starts them one at a time (each must find its own sockets), pushes
 * nothing itself (the state travels in the shared buffer), hands forwarded datagrams to
 * `onForwarded`, restarts a worker that fails (at most `maxFailures` times per
 * `failureWindowMs`; then the remaining threads serve alone) and stops them on {@link stop}.
 */
export class ServerWorkers {
  readonly #o: ServerWorkersOptions;
  readonly #slots: Slot[];
  #spawning: Promise<void> = Promise.resolve();
  #stopping = false;
  /** The effective uid the listen sockets were bound under (SO_REUSEPORT groups are per uid). */
  readonly #bindEuid: number;
  #restrict: RestrictEntry[];
  #monitor: boolean;
  #nts: NtsKeysMessage | null = null;

  /** Prepares `count` worker slots; nothing runs before {@link start}. */
  constructor(options: ServerWorkersOptions) {
    this.#o = options;
    this.#restrict = options.restrict;
    this.#monitor = options.monitor;
    this.#bindEuid = geteuid();
    this.#slots = Array.from({ length: options.count }, (_, i) => new Slot(i + 1));
  }

  /** Starts every worker; resolves once each is serving or has failed (and is logged). */
  async start(): Promise<void> {
    for (const slot of this.#slots) await this.#spawn(slot);
  }

  /** Per-thread counters of the workers (thread 1 first). */
  threads(): ServerThreadStatus[] {
    return this.#slots.map((s) => {
      const c = addCounters(s.base, s.current);
      const t = this.#o.sysStats.threadTotals(s.thread);
      return {
        thread: s.thread,
        running: s.worker !== null,
        restarts: s.restarts,
        received: t.received,
        replied: c.replied,
        dropped: t.dropped,
        forwarded: c.forwarded,
        forwardDropped: c.forwardDropped,
      };
    });
  }

  /** The workers' own counters added up. */
  totals(): ServerThreadCounters {
    let total = zeroCounters();
    for (const s of this.#slots) total = addCounters(total, addCounters(s.base, s.current));
    return total;
  }

  /** Sends the current restrict list to every worker (and to those started later). */
  setRestrict(entries: RestrictEntry[]): void {
    this.#restrict = entries;
    for (const s of this.#slots) {
      s.worker?.postMessage({ kind: "restrict", entries } as ToServerWorker);
    }
  }

  /** `enable monitor` / `disable monitor` on every worker. */
  setMonitor(on: boolean): void {
    this.#monitor = on;
    for (const s of this.#slots) s.worker?.postMessage({ kind: "monitor", on } as ToServerWorker);
  }

  /**
   * NTS master keys loaded or rotated: every worker answers NTS requests with them (and a
   * restarted worker gets them in its init).
   */
  setNtsKeys(keys: readonly NtsMasterKey[], currentId: number): void {
    this.#nts = { keys: keys.map((k) => ({ id: k.id, key: k.key.slice() })), currentId };
    for (const s of this.#slots) {
      s.worker?.postMessage({ kind: "ntsKeys", ...this.#nts } as ToServerWorker);
    }
  }

  /** Test hook: makes worker `thread` fail (needs `testHooks`). */
  crash(thread: number, how: "uncaught" | "handler"): void {
    this.#slots[thread - 1]?.worker?.postMessage({ kind: "crash", how } as ToServerWorker);
  }

  /** Stops every worker (closing its sockets) and waits for them, at most `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    await this.#spawning;
    await Promise.all(this.#slots.map(async (slot) => {
      if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
      const w = slot.worker;
      if (w === null) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = new Promise<boolean>((resolve) => {
        slot.stopped = () => resolve(true);
        timer = setTimeout(() => resolve(false), graceMs);
      });
      w.postMessage({ kind: "stop" } as ToServerWorker);
      const clean = await stopped;
      clearTimeout(timer);
      this.#retire(slot, !clean);
      if (!clean) this.#o.log.warn(`server thread ${slot.thread} did not stop in time`);
    }));
  }

  #spawn(slot: Slot): Promise<void> {
    const run = this.#spawning.then(() => this.#startWorker(slot));
    this.#spawning = run.catch(() => {});
    return run;
  }

  async #startWorker(slot: Slot): Promise<void> {
    if (this.#stopping) return;
    const o = this.#o;
    const credit = new SharedArrayBuffer(4);
    const creditView = new Int32Array(credit);
    const worker = new Worker(o.moduleUrl, {
      type: "module",
      name: `${SERVER_WORKER_NAME}-${slot.thread}`,
    });
    slot.worker = worker;
    slot.fds = [];
    slot.fdsClosed = false;
    slot.failMessage = null;
    slot.current = zeroCounters();
    const ready = new Promise<boolean>((resolve) => slot.ready = resolve);
    worker.onmessage = (e: MessageEvent) => {
      if (slot.worker !== worker) return;
      const m = e.data as FromServerWorker;
      switch (m.kind) {
        case "packet":
          try {
            o.onForwarded(m);
          } finally {
            Atomics.add(creditView, 0, 1);
          }
          break;
        case "stats":
          slot.current = m.counters;
          break;
        case "ready":
          slot.fds = m.fds;
          slot.ready?.(true);
          slot.ready = null;
          break;
        case "failed":
          // It closed its sockets; its final counters follow in "stopped".
          slot.fdsClosed = true;
          slot.failMessage = m.message;
          break;
        case "stopped":
          slot.current = m.counters;
          slot.fdsClosed = true;
          if (slot.stopped !== null) {
            slot.stopped();
            slot.stopped = null;
          } else {
            this.#failed(slot, slot.failMessage ?? "stopped unexpectedly");
          }
          break;
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      // Handled here: an error left unhandled in a worker would end the whole daemon.
      e.preventDefault();
      if (slot.worker === worker) this.#failed(slot, e.message);
    };
    const init: ServerWorkerInit = {
      kind: "init",
      thread: slot.thread,
      addresses: o.addresses,
      shared: o.shared.buffer,
      credit,
      restrict: this.#restrict,
      mru: o.mru,
      sysStats: o.sysStats.buffer as SharedArrayBuffer,
      monitor: this.#monitor,
      mode7: o.mode7 ?? false,
      auth: o.auth ?? NO_AUTH,
      useVirtual: o.useVirtual,
      precisionLog2: o.precisionLog2,
      statsIntervalMs: o.statsIntervalMs ?? 1000,
      maxInFlight: o.maxInFlight ?? 1024,
      testHooks: o.testHooks ?? false,
      ...(this.#nts !== null ? { nts: this.#nts } : {}),
    };
    worker.postMessage(init);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([
      ready,
      new Promise<boolean>((resolve) =>
        timer = setTimeout(() => resolve(false), o.readyTimeoutMs ?? 10_000)
      ),
    ]);
    clearTimeout(timer);
    slot.ready = null;
    if (ok) {
      o.log.info(`server thread ${slot.thread} serving`);
    } else if (slot.worker === worker) {
      this.#failed(slot, "did not open its sockets in time");
    }
  }

  /** Ends the current incarnation: terminates it and closes sockets it left open. */
  #retire(slot: Slot, closeFds: boolean): void {
    const w = slot.worker;
    slot.worker = null;
    w?.terminate();
    if (closeFds && !slot.fdsClosed) {
      for (const fd of slot.fds) {
        // shutdown wakes a poll() its helper thread may still be in; then the descriptor goes.
        shutdownSocket(fd);
        try {
          closeSocket(fd);
        } catch {
          // Already closed.
        }
      }
    }
    slot.fds = [];
    slot.fdsClosed = true;
    slot.base = addCounters(slot.base, slot.current);
    slot.current = zeroCounters();
    // A worker terminated inside a critical section would leave the shared MRU list locked.
    if (w !== null) this.#o.onRetired?.(slot.thread);
  }

  #failed(slot: Slot, why: string): void {
    const o = this.#o;
    slot.ready?.(false);
    slot.ready = null;
    this.#retire(slot, true);
    if (this.#stopping) return;
    const now = performance.now();
    const window = o.failureWindowMs ?? 60_000;
    slot.failures = slot.failures.filter((t) => now - t < window);
    slot.failures.push(now);
    if (geteuid() !== this.#bindEuid) {
      // After -u a new socket belongs to another uid: the kernel refuses it a place in the
      // SO_REUSEPORT group root's sockets formed (EADDRINUSE), so a restart could never bind.
      o.log.error(
        `server thread ${slot.thread} failed: ${why}; not restarting it (its sockets were bound ` +
          `as uid ${this.#bindEuid}, now running as uid ${geteuid()}; the other threads keep serving)`,
      );
      return;
    }
    const max = o.maxFailures ?? 3;
    if (slot.failures.length >= max) {
      o.log.error(
        `server thread ${slot.thread} failed: ${why}; ${slot.failures.length} failures in ` +
          `${Math.round(window / 1000)} s, not restarting it (the other threads keep serving)`,
      );
      return;
    }
    const delay = o.restartDelayMs ?? 1000;
    o.log.error(`server thread ${slot.thread} failed: ${why}; restarting in ${delay} ms`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.#stopping) return;
      slot.restarts++;
      void this.#spawn(slot);
    }, delay);
  }
}
