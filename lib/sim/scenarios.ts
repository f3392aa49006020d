// The simulator's scenarios (SIM_SCENARIOS.md): clock, network and server settings, with the
// clknetsim-style defaults, and chronyd 4.3's reference medians for comparison. After them, the
// scenarios outside that model (issue 18): one-sided and bursty queueing, heavy tails, correlated
// congestion, a route change, a temperature cycle, a frequency step, servers that step, hour-long
// loss bursts, an asymmetric wobble (offset noise the round trip does not show) and the replay of a
// recorded delay trace.

import type { PathChange, PathOptions } from "./network.ts";
import { normal, SeededRng } from "../proto/rng.ts";

/** One simulated scenario. */
export interface Scenario {
  name: string;
  /** Short description. */
  description: string;
  /** Run length (true seconds). */
  durationSec: number;
  /** Statistics start here (true seconds). */
  settleSec: number;
  /** Client clock: initial phase x0 (s), frequency y0 and random-walk step w per second. */
  initialOffsetSec: number;
  initialFreq: number;
  wander: number;
  /** Number of servers and how many of them lie (server i ≤ k is +i s). */
  servers: number;
  falsetickers: number;
  /** Network: base one-way delay D, jitter scale J, asymmetry, loss per direction. */
  baseDelaySec: number;
  jitterSec: number;
  asymmetry: number;
  lossProbability: number;
  /** Static extra one-way delay towards / back from every server (s): an unobservable offset. */
  extraUpSec?: number;
  extraDownSec?: number;
  /** Client association settings. */
  minpoll: number;
  maxpoll: number;
  iburst: boolean;
  /** Restart with a good drift file: the core starts in FSET. */
  driftFile: boolean;
  /** Path behaviour beyond the SIM_SCENARIOS.md model (the same for every server). */
  path?: Pick<PathOptions, "jitterLaw" | "queueing" | "changes" | "outages">;
  /**
   * The oscillator beyond the random walk: a sine in frequency (a temperature cycle) and
   * frequency steps at set times (dimensionless).
   */
  oscillator?: {
    sineAmplitude?: number;
    sinePeriodSec?: number;
    steps?: readonly { atSec: number; delta: number }[];
  };
  /** Server clocks that step: from `atSec` on, server `server` (1-based) is `offsetSec` off. */
  serverSteps?: readonly { server: number; atSec: number; offsetSec: number }[];
  /** The path is a recorded delay trace the run must be given (`horae sim --trace FILE`). */
  needsTrace?: boolean;
  /** chronyd 4.3 median RMS offset (s), when published in SIM_SCENARIOS.md. */
  chronyRmsSec: number | null;
  /** chronyd 4.3 packets per 1000 s, when published in SIM_SCENARIOS.md (the 1.1x budget). */
  chronyTxPer1000s?: number;
  /** Horae's target RMS offset (s), when set. */
  targetRmsSec: number | null;
}

const BASE: Omit<Scenario, "name" | "description"> = {
  durationSec: 10_000,
  settleSec: 210,
  initialOffsetSec: 0.1,
  initialFreq: 1e-4,
  wander: 1e-9,
  servers: 1,
  falsetickers: 0,
  baseDelaySec: 100e-6,
  jitterSec: 100e-6,
  asymmetry: 0,
  lossProbability: 0,
  minpoll: 6,
  maxpoll: 10,
  iburst: false,
  driftFile: false,
  chronyRmsSec: null,
  targetRmsSec: null,
};

const WARM = {
  initialOffsetSec: 1e-3,
  initialFreq: 1e-6,
  durationSec: 100_000,
  settleSec: 20_000,
  driftFile: true,
};

function def(name: string, description: string, changes: Partial<Scenario>): Scenario {
  return { ...BASE, name, description, ...changes };
}

/**
 * The new scenarios start as a restart with a good drift file (x0 = 1 ms, y0 = 1 ppm), so that
 * what they measure is the path or the oscillator, not a cold start that ntpd's loop needs hours
 * to finish.
 */
const RESTART = { initialOffsetSec: 1e-3, initialFreq: 1e-6, driftFile: true, settleSec: 2000 };
const LONG = { ...RESTART, durationSec: 20_000 };
/** Normal jitter each way, independent: J·N(1, 0.2) = 1 ms ± 200 µs. */
const SYMJITTER: Partial<Scenario> = {
  baseDelaySec: 0,
  jitterSec: 1e-3,
  path: { jitterLaw: { kind: "normal", sigma: 0.2 } },
};

/**
 * An asymmetric wobble: every `stepSec` the path towards the server gets w longer and the path
 * back w shorter (w ~ N(0, sigmaSec), around a static 5σ each way so no delay goes negative), so
 * each sample's offset is off by w while its round trip does not show it: a server whose
 * timestamps jitter, or a relay, looks like this. The draws are fixed (the same for every seed);
 * the path's own jitter on top is seeded.
 */
function asymmetricWobble(sigmaSec: number, stepSec: number, durationSec: number): PathChange[] {
  const rng = new SeededRng(0x5eed_0b1e);
  const base = 5 * sigmaSec;
  const out: PathChange[] = [];
  for (let t = 0; t < durationSec; t += stepSec) {
    const w = Math.max(-base, Math.min(base, sigmaSec * normal(rng)));
    out.push({ atSec: t, extraUpSec: base + w, extraDownSec: base - w });
  }
  return out;
}

/** The scenarios outside the SIM_SCENARIOS.md model (issue 18), after the published ones. */
export const NEW_SCENARIOS: readonly Scenario[] = [
  def("onesided", "one-sided queueing: + Exp(500 µs) towards the server only, run 20,000 s", {
    ...LONG,
    path: { queueing: { upMeanSec: 500e-6, downMeanSec: 0 } },
  }),
  def(
    "onesidedburst",
    "bursty one-sided queueing: + 1 ms + Exp(2 ms) towards the server in on periods (300 s on, 900 s off on average)",
    {
      ...LONG,
      path: {
        queueing: {
          upMeanSec: 2e-3,
          downMeanSec: 0,
          standingSec: 1e-3,
          bursts: { onMeanSec: 300, offMeanSec: 900 },
        },
      },
    },
  ),
  def("pareto", "heavy tail: E ~ Pareto(α = 1.5) with mean 1 (infinite variance), run 20,000 s", {
    ...LONG,
    path: { jitterLaw: { kind: "pareto", alpha: 1.5 } },
  }),
  def("lognormal", "heavy tail: E ~ log-normal(σ = 1.5) with mean 1, run 20,000 s", {
    ...LONG,
    path: { jitterLaw: { kind: "lognormal", sigma: 1.5 } },
  }),
  def(
    "congestion",
    "correlated congestion: 2 ms standing + Exp(5 ms) up, Exp(2 ms) down in on periods (600 s on, 1800 s off on average)",
    {
      ...LONG,
      path: {
        queueing: {
          upMeanSec: 5e-3,
          downMeanSec: 2e-3,
          standingSec: 2e-3,
          bursts: { onMeanSec: 600, offMeanSec: 1800 },
        },
      },
    },
  ),
  def(
    "routechange",
    "route change at 10,000 s: D 100 µs → 3 ms, asym 0 → 0.3, + 100 µs static one way (50 µs unobservable offset after it)",
    {
      ...LONG,
      path: {
        changes: [{ atSec: 10_000, baseDelaySec: 3e-3, asymmetry: 0.3, extraUpSec: 100e-6 }],
      },
    },
  ),
  def("tempcycle", "temperature cycle: frequency + 2 ppm · sin(2π t / 1 day), run 100,000 s", {
    ...RESTART,
    durationSec: 100_000,
    oscillator: { sineAmplitude: 2e-6, sinePeriodSec: 86_400 },
  }),
  def("freqstep", "frequency step: + 20 ppm at 5000 s", {
    ...RESTART,
    oscillator: { steps: [{ atSec: 5000, delta: 20e-6 }] },
  }),
  def(
    "serverstep",
    "the server steps + 100 ms at 4000 s and back at 4600 s (shorter than the 900 s stepout)",
    {
      ...RESTART,
      serverSteps: [
        { server: 1, atSec: 4000, offsetSec: 0.1 },
        { server: 1, atSec: 4600, offsetSec: 0 },
      ],
    },
  ),
  def("serverstep3", "3 servers, D = 1 ms, server 1 steps + 100 ms at 4000 s for good", {
    ...RESTART,
    servers: 3,
    baseDelaySec: 1e-3,
    serverSteps: [{ server: 1, atSec: 4000, offsetSec: 0.1 }],
  }),
  def("lossburst", "loss bursts: every packet lost 4000–7600 s and 12,000–15,600 s, run 20,000 s", {
    ...LONG,
    path: {
      outages: [{ fromSec: 4000, toSec: 7600 }, { fromSec: 12_000, toSec: 15_600 }],
    },
  }),
  def(
    "wobble",
    "asymmetric wobble: the one-way delays move apart by ±w, w ~ N(0, 100 µs) redrawn every 16 s, the round trip unchanged (offset noise the delay does not show), run 20,000 s",
    { ...LONG, path: { changes: asymmetricWobble(100e-6, 16, 20_000) } },
  ),
  def(
    "symjitter",
    "symmetric jitter: 1 ms ± 200 µs (normal) each way, independent, run 20,000 s",
    { ...LONG, ...SYMJITTER },
  ),
  def(
    "symjitter4",
    "symmetric jitter as symjitter, minpoll 4, maxpoll 6, iburst, statistics from 90 s of a 3600 s run (bench:accuracy's jitter scenario)",
    {
      ...RESTART,
      ...SYMJITTER,
      durationSec: 3600,
      settleSec: 90,
      minpoll: 4,
      maxpoll: 6,
      iburst: true,
    },
  ),
  def(
    "symcongestion",
    "symmetric jitter 1 ms ± 100 µs each way, and towards the server + Exp(5 ms) in on periods (20 s on, 40 s off on average), minpoll 4, maxpoll 6, iburst, 3600 s (bench:accuracy's congestion scenario)",
    {
      ...RESTART,
      baseDelaySec: 0,
      jitterSec: 1e-3,
      durationSec: 3600,
      settleSec: 90,
      minpoll: 4,
      maxpoll: 6,
      iburst: true,
      path: {
        jitterLaw: { kind: "normal", sigma: 0.1 },
        queueing: {
          upMeanSec: 5e-3,
          downMeanSec: 0,
          bursts: { onMeanSec: 20, offMeanSec: 40 },
        },
      },
    },
  ),
  def("trace", "replay of a recorded delay trace (--trace FILE: UP DOWN seconds a line)", {
    ...LONG,
    needsTrace: true,
  }),
];

/** Every scenario by name, in SIM_SCENARIOS.md order. */
export const SCENARIOS: readonly Scenario[] = [
  def("default", "1 server, defaults", {
    chronyTxPer1000s: 3.7,
    chronyRmsSec: 75e-6,
    targetRmsSec: 65e-6,
  }),
  def("fixedpoll6", "minpoll = maxpoll = 6", {
    minpoll: 6,
    maxpoll: 6,
    chronyTxPer1000s: 15.5,
    chronyRmsSec: 23.7e-6,
    targetRmsSec: 20e-6,
  }),
  def("lan", "J = 10 µs", { jitterSec: 10e-6, chronyRmsSec: 16.9e-6, targetRmsSec: 15e-6 }),
  def("burststep", "J = 10 µs, x0 = 0.5 s, iburst, first step allowed", {
    jitterSec: 10e-6,
    initialOffsetSec: 0.5,
    iburst: true,
    chronyRmsSec: 20e-6,
  }),
  def("freq400", "y0 = 4e-4, x0 = −0.052 s, settle 1000 s", {
    initialFreq: 4e-4,
    initialOffsetSec: -0.052,
    settleSec: 1000,
  }),
  def("largejitter", "x0 = 1 s, J = 0.1 s", {
    initialOffsetSec: 1,
    jitterSec: 0.1,
    chronyTxPer1000s: 4.4,
    chronyRmsSec: 16.5e-3,
    targetRmsSec: 15e-3,
  }),
  def("largewander", "w = 1e-7", { wander: 1e-7, chronyRmsSec: 142e-6, targetRmsSec: 130e-6 }),
  def("falseticker3", "3 servers, D = 1 ms, server 1 is +1 s", {
    servers: 3,
    falsetickers: 1,
    baseDelaySec: 1e-3,
    chronyRmsSec: 75e-6,
  }),
  def("falseticker5x2", "5 servers, D = 1 ms, servers 1 and 2 are +1 s and +2 s", {
    servers: 5,
    falsetickers: 2,
    baseDelaySec: 1e-3,
    chronyRmsSec: 68e-6,
  }),
  def("asymjitter", "J = 500 µs, asym = 0.47, run 100,000 s, settle 2000 s", {
    jitterSec: 500e-6,
    asymmetry: 0.47,
    durationSec: 100_000,
    settleSec: 2000,
    chronyTxPer1000s: 2.1,
    chronyRmsSec: 77e-6,
    targetRmsSec: 70e-6,
  }),
  def("packetloss", "p = 0.33 each way, run 20,000 s, settle 2000 s", {
    lossProbability: 0.33,
    durationSec: 20_000,
    settleSec: 2000,
    chronyTxPer1000s: 3.3,
    chronyRmsSec: 138e-6,
    targetRmsSec: 125e-6,
  }),
  def("wan4", "4 servers, D = 10 ms, J = 1 ms, run 20,000 s, settle 2000 s", {
    servers: 4,
    baseDelaySec: 10e-3,
    jitterSec: 1e-3,
    durationSec: 20_000,
    settleSec: 2000,
    chronyTxPer1000s: 9.3,
    chronyRmsSec: 210e-6,
    targetRmsSec: 190e-6,
  }),
  def("warm", "x0 = 1 ms, y0 = 1e-6, good drift file, run 100,000 s, settle 20,000 s", {
    ...WARM,
    chronyTxPer1000s: 1.7,
    chronyRmsSec: 98e-6,
    targetRmsSec: 90e-6,
  }),
  def("warmpoll6", "warm + minpoll = maxpoll = 6", {
    ...WARM,
    minpoll: 6,
    maxpoll: 6,
    chronyTxPer1000s: 15.5,
    chronyRmsSec: 22.8e-6,
    targetRmsSec: 20e-6,
  }),
  def("warmwan4", "warm + 4 servers, D = 10 ms, J = 1 ms", {
    ...WARM,
    servers: 4,
    baseDelaySec: 10e-3,
    jitterSec: 1e-3,
    chronyTxPer1000s: 5.0,
    chronyRmsSec: 573e-6,
    targetRmsSec: 400e-6,
  }),
  def("majority3of5", "5 servers, 3 falsetickers (+1, +2, +3 s): no majority, never follow", {
    servers: 5,
    falsetickers: 3,
    baseDelaySec: 1e-3,
  }),
  def("bigoffset", "x0 = 100 s: step, then track", { initialOffsetSec: 100 }),
  ...NEW_SCENARIOS,
];

/** Looks a scenario up by name. */
export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
