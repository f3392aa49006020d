// Runs the daemon's timekeeping path in the simulator: the real Timekeeper (NtpSystem inside, the
// same action handling and clock calls as the daemon) on a SimClock, whose adjustments go through
// the Linux adapter into the simulated Linux kernel, against simulated stratum-1 servers. The
// daemon's exits are reproduced as the daemon makes them: Timekeeper.stop(), which Daemon.stop()
// calls on a signal, after the core asked to exit (-q, panic) and on fatal errors.

import { SimClock } from "../../lib/clock/sim_clock.ts";
import type { SimKernelSnapshot } from "../../lib/clock/sim_kernel.ts";
import { Timekeeper, type TimekeeperExit } from "../../lib/daemon/timekeeper.ts";
import type { Timers } from "../../lib/daemon/timers.ts";
import type { PeerAddress } from "../../lib/proto/events.ts";
import type { DisciplineKind } from "../../lib/proto/loop_filter.ts";
import { MinHeap } from "../../lib/proto/min_heap.ts";
import { addSec } from "../../lib/proto/ntp_time.ts";
import { SeededRng } from "../../lib/proto/rng.ts";
import { Server } from "../../lib/proto/server.ts";
import { NetworkPath } from "../../lib/sim/network.ts";
import { SIM_START } from "../../lib/sim/runner.ts";

/** One run of the daemon path. */
export interface DaemonPathOptions {
  discipline: DisciplineKind;
  /** ntpd discipline: `enable kernel` (default true). */
  kernel?: boolean;
  /** -q. */
  setOnce?: boolean;
  /** Clock − true time at the start (s). */
  initialOffsetSec: number;
  /** The oscillator's frequency error (s/s, positive: fast); no wander. */
  initialFreq: number;
  /** The drift file's frequency (ppm), or null for none. */
  driftPpm: number | null;
  /**
   * Stop (SIGTERM: Timekeeper.stop(), as Daemon.stop() does) at the first true second at which
   * this returns true, checked every 0.25 s; null: run until the core asks to exit.
   */
  stopWhen?: ((clock: SimClock, tk: Timekeeper) => boolean) | null;
  /** Give up after this much true time without a stop (s). */
  limitSec: number;
  /** How long the clock runs on its own after the stop (s). */
  afterSec: number;
  seed: number;
}

/** What the kernel and the clock looked like at the stop and `afterSec` later. */
export interface DaemonPathResult {
  /** The core's exit request, or null when the run was stopped from outside (or never). */
  exit: TimekeeperExit | null;
  /** True time of the stop, or null when neither a stop nor an exit came within the limit. */
  stoppedAtSec: number | null;
  /** The discipline's base frequency (ppm) when stopped: what the drift file would record. */
  baseFreqPpm: number;
  kernelAtStop: SimKernelSnapshot;
  offsetAtStopSec: number;
  kernelAfter: SimKernelSnapshot;
  offsetAfterSec: number;
  /** Clock calls the (simulated) kernel refused. */
  clockErrors: number;
  lines: string[];
}

interface Pending {
  t: number;
  seq: number;
  run: () => void;
}

/** Runs the Timekeeper against one simulated server until it stops, then lets the clock run. */
export function runDaemonPath(o: DaemonPathOptions): DaemonPathResult {
  const clock = new SimClock({
    startTime: SIM_START,
    initialOffsetSec: o.initialOffsetSec,
    initialFreq: o.initialFreq,
    wander: 0,
    rng: new SeededRng(o.seed),
  });
  const queue = new MinHeap<Pending>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  let seq = 0;
  const cancelled = new Set<number>();
  const at = (t: number, run: () => void): number => {
    const id = seq++;
    queue.push({ t, seq: id, run: () => cancelled.has(id) ? undefined : run() });
    return id;
  };
  // A delay on the simulated clock, converted to true time at the clock's current rate. A timer
  // that still fires early (the rate changed) is re-armed by the Timekeeper; the 0.1 µs keeps
  // every re-arm moving forward.
  const timers: Timers = {
    setTimeout: (fn, delayMs) =>
      at(clock.trueSec + Math.max(0, delayMs) / 1000 / (1 + clock.trueFreqError) + 1e-7, fn),
    clearTimeout: (h) => void cancelled.add(h),
  };
  const server: PeerAddress = { family: 4, address: "192.0.2.1", port: 123 };
  const impl = new Server({
    leap: 0,
    stratum: 1,
    precisionLog2: -30,
    rootDelaySec: 0,
    rootDispersionSec: 0,
    refid: 0x47505300,
    referenceTime: SIM_START,
  });
  const path = new NetworkPath(
    { baseDelaySec: 100e-6, jitterSec: 100e-6, asymmetry: 0, lossProbability: 0 },
    new SeededRng(o.seed + 1000),
  );
  const reply = new Uint8Array(1024);
  const lines: string[] = [];
  let exit: TimekeeperExit | null = null;
  const tk = new Timekeeper({
    system: {
      rng: new SeededRng(o.seed + 2000),
      loop: {
        discipline: o.discipline,
        driftPpm: o.driftPpm,
        ...(o.kernel !== undefined ? { kernel: o.kernel } : {}),
        ...(o.setOnce ? { setOnce: true } : {}),
      },
    },
  }, {
    clock,
    timers,
    log: {
      debug() {},
      info: (m) => void lines.push(m),
      warn: (m) => void lines.push(m),
      error: (m) => void lines.push(`error: ${m}`),
    },
    send: (data, to) => {
      const up = path.up();
      if (up === null || to.address !== server.address) return true;
      const request = data.slice();
      at(clock.trueSec + up, () => {
        const t = clock.trueSec;
        impl.setState({ ...impl.state, referenceTime: addSec(SIM_START, Math.floor(t)) });
        const len = impl.respond(request, addSec(SIM_START, t), reply);
        const down = path.down();
        if (len === 0 || down === null) return;
        const answer = reply.slice(0, len);
        at(t + down, () => tk.onPacket(answer, server, clock.now()));
      });
      return true;
    },
    onExit: (e) => exit = e,
  });
  tk.start();
  tk.mobilize(server, { minpoll: 6, maxpoll: 10, iburst: true });

  let stoppedAtSec: number | null = null;
  const stopCheck = o.stopWhen ?? null;
  let nextCheck = 0;
  for (let guard = 0; guard < 10_000_000; guard++) {
    const next = queue.peek();
    const t = Math.min(next?.t ?? Infinity, stopCheck !== null ? nextCheck : Infinity);
    if (t > o.limitSec) break;
    clock.advanceTo(t);
    if (stopCheck !== null && t === nextCheck) {
      nextCheck += 0.25;
      if (stopCheck(clock, tk)) {
        stoppedAtSec = t;
        break;
      }
      continue;
    }
    queue.pop()!.run();
    // Like the daemon: the exit request ends the wait, then Daemon.stop() stops the timekeeper.
    if (exit !== null) {
      stoppedAtSec = clock.trueSec;
      break;
    }
  }
  tk.stop();
  const baseFreqPpm = tk.loop.freqPpm;
  const kernelAtStop = clock.kernel;
  const offsetAtStopSec = clock.trueOffsetSec;
  clock.advanceTo(clock.trueSec + o.afterSec);
  return {
    exit,
    stoppedAtSec,
    baseFreqPpm,
    kernelAtStop,
    offsetAtStopSec,
    kernelAfter: clock.kernel,
    offsetAfterSec: clock.trueOffsetSec,
    clockErrors: tk.counters.clockErrors,
    lines,
  };
}
