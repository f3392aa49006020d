// The simulator's scenarios (SIM_SCENARIOS.md): clock, network and server settings, with the
// clknetsim-style defaults, and chronyd 4.3's reference medians for comparison.

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
  /** chronyd 4.3 median RMS offset (s), when published in SIM_SCENARIOS.md. */
  chronyRmsSec: number | null;
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

/** Every scenario by name, in SIM_SCENARIOS.md order. */
export const SCENARIOS: readonly Scenario[] = [
  def("default", "1 server, defaults", { chronyRmsSec: 75e-6, targetRmsSec: 65e-6 }),
  def("fixedpoll6", "minpoll = maxpoll = 6", {
    minpoll: 6,
    maxpoll: 6,
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
    chronyRmsSec: 77e-6,
    targetRmsSec: 70e-6,
  }),
  def("packetloss", "p = 0.33 each way, run 20,000 s, settle 2000 s", {
    lossProbability: 0.33,
    durationSec: 20_000,
    settleSec: 2000,
    chronyRmsSec: 138e-6,
    targetRmsSec: 125e-6,
  }),
  def("wan4", "4 servers, D = 10 ms, J = 1 ms, run 20,000 s, settle 2000 s", {
    servers: 4,
    baseDelaySec: 10e-3,
    jitterSec: 1e-3,
    durationSec: 20_000,
    settleSec: 2000,
    chronyRmsSec: 210e-6,
    targetRmsSec: 190e-6,
  }),
  def("warm", "x0 = 1 ms, y0 = 1e-6, good drift file, run 100,000 s, settle 20,000 s", {
    ...WARM,
    chronyRmsSec: 98e-6,
    targetRmsSec: 90e-6,
  }),
  def("warmpoll6", "warm + minpoll = maxpoll = 6", {
    ...WARM,
    minpoll: 6,
    maxpoll: 6,
    chronyRmsSec: 22.8e-6,
    targetRmsSec: 20e-6,
  }),
  def("warmwan4", "warm + 4 servers, D = 10 ms, J = 1 ms", {
    ...WARM,
    servers: 4,
    baseDelaySec: 10e-3,
    jitterSec: 1e-3,
    chronyRmsSec: 573e-6,
    targetRmsSec: 400e-6,
  }),
  def("majority3of5", "5 servers, 3 falsetickers (+1, +2, +3 s): no majority, never follow", {
    servers: 5,
    falsetickers: 3,
    baseDelaySec: 1e-3,
  }),
  def("bigoffset", "x0 = 100 s: step, then track", { initialOffsetSec: 100 }),
];

/** Looks a scenario up by name. */
export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
