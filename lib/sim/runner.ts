// The simulator's event loop: drives the real protocol core (NtpSystem, encoded packets, the real
// server code) against a SimClock and simulated network paths on a virtual time line. Clock
// actions take the daemon's path (clockAdjustmentFromAction, the Linux adapter's encoding) into
// the SimClock's model of the Linux kernel, kernel PLL included.

import { MinHeap } from "../proto/min_heap.ts";
import { addSec, diffSec, fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { type Rng, SeededRng } from "../proto/rng.ts";
import { type Action, type PeerAddress } from "../proto/events.ts";
import { NtpSystem } from "../proto/system.ts";
import type { DisciplineKind } from "../proto/loop_filter.ts";
import { Server, type SystemState } from "../proto/server.ts";
import { clockAdjustmentFromAction } from "../clock/linux_clock.ts";
import { SimClock } from "../clock/sim_clock.ts";
import { NetworkPath, type TraceEntry } from "./network.ts";
import { MetricsCollector, type SimMetrics } from "./metrics.ts";
import type { Scenario } from "./scenarios.ts";

/** True time at the start of every run: 2023-11-14T22:13:20Z. */
export const SIM_START: NtpTime = fromUnix(1_700_000_000);

/** True seconds a timer fires after the computed instant, so the clock has surely reached it. */
const TIMER_MARGIN_SEC = 1e-9;

/** How often the simulated stratum-1 servers update their reference time (s). */
export const REFCLOCK_POLL_SEC = 16;

/** Options for one run. */
export interface RunOptions {
  seed: number;
  /** Keep a per-second series (for --log and --svg). */
  series?: boolean;
  /** Override the run length (s). */
  durationSec?: number;
  /** Clock discipline of the core (default "horae"). */
  discipline?: DisciplineKind;
  /**
   * With the ntpd discipline: `enable kernel` (default true, as in ntpd), realised by the
   * SimClock's model of the Linux kernel PLL; false runs ntpd's daemon-side slewing
   * (`disable kernel`).
   */
  kernel?: boolean;
  /**
   * Every batch of the core's actions with the simulated local clock's time, before the run
   * carries them out (statistics files: `horae sim --statsdir`).
   */
  onActions?: (actions: readonly Action[], now: NtpTime) => void;
  /** The addresses of the simulated servers, by association id, once they are mobilised. */
  onServer?: (assocId: number, address: PeerAddress) => void;
  /** Override the scenario's wander w (the wander sweep). */
  wander?: number;
  /** The delay trace a scenario with `needsTrace` replays (parseDelayTrace). */
  trace?: readonly TraceEntry[];
}

/** One second of the run. */
export interface SeriesPoint {
  t: number;
  offsetSec: number;
  freqErrorPpm: number;
  freqCorrectionPpm: number;
}

/** An event the core emitted, with the true time. */
export interface LoggedEvent {
  t: number;
  message: string;
}

/** Result of one run. */
export interface RunResult {
  scenario: string;
  seed: number;
  metrics: SimMetrics;
  packets: number;
  simulatedSec: number;
  wallMs: number;
  events: LoggedEvent[];
  series: SeriesPoint[];
  /** Counters of the core at the end. */
  clockUpdates: number;
  falsetickers: number[];
  /** Replies the associations refused, by reason, summed over associations. */
  rejected: Record<string, number>;
  /**
   * Largest lateness of a timer (s, read on the simulated local clock): how far past the
   * requested reading the clock was when the core's timer fired. Near 0 when timers follow the
   * clock's rate (slews included).
   */
  maxTimerLateSec: number;
}

interface Flight {
  t: number;
  seq: number;
  toServer: boolean;
  server: number;
  data: Uint8Array;
}

/** Derives independent streams from one seed. */
function stream(seed: number, k: number): Rng {
  return new SeededRng(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77));
}

/** Runs one scenario with one seed. */
export function runScenario(sc: Scenario, opts: RunOptions): RunResult {
  const wall0 = performance.now();
  const duration = opts.durationSec ?? sc.durationSec;
  if (sc.needsTrace && (opts.trace === undefined || opts.trace.length === 0)) {
    throw new Error(`scenario ${sc.name} replays a delay trace: give one (--trace FILE)`);
  }
  const clock = new SimClock({
    startTime: SIM_START,
    initialOffsetSec: sc.initialOffsetSec,
    initialFreq: sc.initialFreq,
    wander: opts.wander ?? sc.wander,
    rng: stream(opts.seed, 0),
    precisionLog2: -30,
  });
  const discipline = opts.discipline ?? "horae";
  const kernelMode = discipline === "ntpd" && (opts.kernel ?? true);
  const system = new NtpSystem({
    precisionLog2: clock.precisionLog2,
    rng: stream(opts.seed, 1),
    loop: {
      driftPpm: sc.driftFile ? 0 : null,
      ...(discipline === "ntpd" ? { discipline, kernel: kernelMode } : {}),
    },
  });
  const serverState: SystemState = {
    leap: 0,
    stratum: 1,
    precisionLog2: -30,
    rootDelaySec: 0,
    rootDispersionSec: 0,
    refid: 0x47505300, // "GPS"
    referenceTime: SIM_START,
  };
  const servers: { addr: PeerAddress; offsetSec: number; path: NetworkPath; impl: Server }[] = [];
  const byAssoc = new Map<number, number>();
  for (let i = 1; i <= sc.servers; i++) {
    const addr: PeerAddress = { family: 4, address: `192.0.2.${i}`, port: 123 };
    servers.push({
      addr,
      offsetSec: i <= sc.falsetickers ? i : 0,
      path: new NetworkPath({
        baseDelaySec: sc.baseDelaySec,
        jitterSec: sc.jitterSec,
        asymmetry: sc.asymmetry,
        lossProbability: sc.lossProbability,
        ...(sc.extraUpSec !== undefined ? { extraUpSec: sc.extraUpSec } : {}),
        ...(sc.extraDownSec !== undefined ? { extraDownSec: sc.extraDownSec } : {}),
        ...sc.path,
        ...(sc.needsTrace && opts.trace !== undefined ? { trace: opts.trace } : {}),
      }, stream(opts.seed, 10 + i)),
      impl: new Server(serverState),
    });
    const id = system.addServer(addr, {
      minpoll: sc.minpoll,
      maxpoll: sc.maxpoll,
      iburst: sc.iburst,
    }, clock.now());
    byAssoc.set(id, i - 1);
    opts.onServer?.(id, addr);
  }

  const flights = new MinHeap<Flight>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  let seq = 0;
  // The core's timer is a reading of the local clock. The true time at which the clock reaches
  // it depends on the clock's rate, which a slew changes by up to 5 %: it is recomputed from the
  // current rate after every event, and the loop stops at every whole second (where the rate
  // may change), so the timer fires when the clock shows its deadline.
  let timerAt: NtpTime | null = null;
  let timerTrue = Infinity;
  let maxTimerLateSec = 0;
  const retime = (): void => {
    if (timerAt === null) {
      timerTrue = Infinity;
      return;
    }
    const left = Math.max(0, diffSec(timerAt, clock.now()));
    timerTrue = clock.trueSec + left / (1 + clock.trueFreqError) + TIMER_MARGIN_SEC;
  };
  let packets = 0;
  const events: LoggedEvent[] = [];
  const series: SeriesPoint[] = [];
  const metrics = new MetricsCollector(sc.settleSec);
  let stop = false;

  const apply = (actions: Action[]): void => {
    opts.onActions?.(actions, clock.now());
    for (const a of actions) {
      switch (a.type) {
        case "send": {
          packets++;
          const si = byAssoc.get(a.assocId);
          if (si === undefined) break;
          const up = servers[si]!.path.up(clock.trueSec);
          if (up !== null) {
            flights.push({
              t: clock.trueSec + up,
              seq: seq++,
              toServer: true,
              server: si,
              data: a.data,
            });
          }
          break;
        }
        case "setTimer":
          timerAt = a.at;
          break;
        case "stepClock":
          clock.step(a.offsetSec);
          break;
        case "adjustClock":
          clock.adjust(clockAdjustmentFromAction(a));
          break;
        case "event":
          events.push({ t: clock.trueSec, message: a.message });
          break;
        case "reset":
          if (a.exit) stop = true;
          break;
        default:
          break;
      }
    }
  };

  // Scripted changes at whole seconds: the oscillator's sine and steps, server steps.
  const osc = sc.oscillator;
  const sineAt = (sec: number): number =>
    osc?.sineAmplitude === undefined
      ? 0
      : osc.sineAmplitude * Math.sin(2 * Math.PI * sec / (osc.sinePeriodSec ?? 86_400));
  const oscillatorAndServers = (sec: number): void => {
    if (osc !== undefined) {
      let delta = sec === 0 ? 0 : sineAt(sec) - sineAt(sec - 1);
      for (const st of osc.steps ?? []) if (st.atSec === sec) delta += st.delta;
      if (delta !== 0) clock.shiftOscillator(delta);
    }
    for (const st of sc.serverSteps ?? []) {
      const srv = servers[st.server - 1];
      if (st.atSec === sec && srv !== undefined) srv.offsetSec = st.offsetSec;
    }
  };

  apply(system.start(clock.now()));
  retime();
  let nextSecond = 0;
  const reply = new Uint8Array(1024);
  while (!stop) {
    const fl = flights.peek();
    const tFlight = fl === undefined ? Infinity : fl.t;
    const t = Math.min(tFlight, timerTrue, nextSecond);
    if (t > duration) break;
    clock.advanceTo(t);
    if (t === nextSecond) {
      oscillatorAndServers(nextSecond);
      metrics.record(nextSecond, clock.trueOffsetSec, clock.trueFreqError);
      if (opts.series) {
        series.push({
          t: nextSecond,
          offsetSec: clock.trueOffsetSec,
          freqErrorPpm: clock.trueFreqError * 1e6,
          freqCorrectionPpm: clock.freqCorrectionPpm,
        });
      }
      nextSecond++;
    } else if (t === tFlight) {
      flights.pop();
      const srv = servers[fl!.server]!;
      if (fl!.toServer) {
        const rx = addSec(SIM_START, t + srv.offsetSec);
        // A stratum-1 server reads its reference clock every REFCLOCK_POLL_SEC: its reference
        // time stays that recent, and its root dispersion small.
        const refSec = Math.floor(t / REFCLOCK_POLL_SEC) * REFCLOCK_POLL_SEC;
        srv.impl.setState({
          ...serverState,
          referenceTime: addSec(SIM_START, refSec + srv.offsetSec),
        });
        const len = srv.impl.respond(fl!.data, rx, reply);
        if (len > 0) {
          const down = srv.path.down(t);
          if (down !== null) {
            // Turnaround 0: the transmit timestamp equals the receive timestamp.
            flights.push({
              t: t + down,
              seq: seq++,
              toServer: false,
              server: fl!.server,
              data: reply.slice(0, len),
            });
          }
        }
      } else {
        const now = clock.now();
        apply(system.onPacket({ data: fl!.data, peer: srv.addr, rxTime: now }, now));
      }
    } else {
      const now = clock.now();
      if (timerAt !== null) maxTimerLateSec = Math.max(maxTimerLateSec, diffSec(now, timerAt));
      timerAt = null;
      apply(system.onTimer(now));
    }
    retime();
  }
  const snap = system.snapshot(clock.now());
  const rejected: Record<string, number> = {};
  for (const a of snap.associations) {
    for (const [k, v] of Object.entries(a.rejected)) rejected[k] = (rejected[k] ?? 0) + (v ?? 0);
  }
  return {
    scenario: sc.name,
    seed: opts.seed,
    metrics: metrics.result(packets, duration),
    packets,
    simulatedSec: duration,
    wallMs: performance.now() - wall0,
    events,
    series,
    clockUpdates: snap.counters.clockUpdates,
    falsetickers: snap.falsetickers,
    rejected,
    maxTimerLateSec,
  };
}
