// Shared by the scenario tests: runs a scenario over a few seeds and summarises the metrics.

import { type RunOptions, type RunResult, runScenario } from "../../lib/sim/runner.ts";
import { findScenario, type Scenario } from "../../lib/sim/scenarios.ts";

/** Seeds every scenario test runs (the 20-seed table is a benchmark, not a test). */
export const TEST_SEEDS = [1, 2, 3, 4, 5];

/** Median and worst values over the seeds. */
export interface SeedSummary {
  scenario: Scenario;
  runs: RunResult[];
  medianRmsSec: number;
  worstRmsSec: number;
  medianT1msSec: number;
  worstWholeRunSec: number;
  medianTxPer1000s: number;
}

/** Runs `name` for every seed in `seeds`, with extra run options (e.g. the discipline). */
export function runSeeds(
  name: string,
  seeds: number[] = TEST_SEEDS,
  options: Omit<RunOptions, "seed"> = {},
): SeedSummary {
  const scenario = findScenario(name);
  if (scenario === undefined) throw new Error(`no scenario ${name}`);
  const runs = seeds.map((seed) => runScenario(scenario, { ...options, seed }));
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1]!;
  };
  const summary = {
    scenario,
    runs,
    medianRmsSec: med(runs.map((r) => r.metrics.rms_offset_s)),
    worstRmsSec: Math.max(...runs.map((r) => r.metrics.rms_offset_s)),
    medianT1msSec: med(runs.map((r) => r.metrics.t1ms_s ?? Infinity)),
    worstWholeRunSec: Math.max(...runs.map((r) => r.metrics.max_offset_whole_run_s)),
    medianTxPer1000s: med(runs.map((r) => r.metrics.tx_per_1000s)),
  };
  const how = options.discipline === "ntpd"
    ? ` [ntpd discipline, ${options.kernel === false ? "daemon loop" : "kernel PLL"}]`
    : "";
  // deno-lint-ignore no-console
  console.log(
    `${name}${how}: median rms ${(summary.medianRmsSec * 1e6).toFixed(1)} µs, worst ${
      (summary.worstRmsSec * 1e6).toFixed(1)
    } µs, T1ms ${summary.medianT1msSec} s, whole-run max ${
      summary.worstWholeRunSec.toFixed(4)
    } s, ${summary.medianTxPer1000s.toFixed(2)} packets/1000 s (seeds ${seeds.join(",")})`,
  );
  return summary;
}

/** chronyd 4.3's packet rate in "default" (SIM_SCENARIOS.md), and the 1.1× allowance. */
export const CHRONY_DEFAULT_TX_PER_1000S = 3.7;
/** Highest packet rate a single-server default-poll scenario may use. */
export const MAX_TX_PER_1000S = 1.1 * CHRONY_DEFAULT_TX_PER_1000S;

/**
 * Runs `name` under both disciplines on the same seeds and checks Horae's median RMS against
 * `maxMedianRmsSec` and against ntpd's discipline (issue 18: at least as good in every scenario).
 */
export function horaeVersusNtpd(
  name: string,
  maxMedianRmsSec: number,
  seeds: number[] = [1, 2, 3],
  options: Omit<RunOptions, "seed" | "discipline"> = {},
): { horae: SeedSummary; ntpd: SeedSummary } {
  const horae = runSeeds(name, seeds, options);
  const ntpd = runSeeds(name, seeds, { ...options, discipline: "ntpd" });
  if (!(horae.medianRmsSec <= maxMedianRmsSec)) {
    throw new Error(
      `${name}: median RMS ${horae.medianRmsSec * 1e6} µs > ${maxMedianRmsSec * 1e6}`,
    );
  }
  if (!(horae.medianRmsSec <= ntpd.medianRmsSec)) {
    throw new Error(
      `${name}: Horae ${horae.medianRmsSec * 1e6} µs worse than ntpd's discipline ${
        ntpd.medianRmsSec * 1e6
      } µs`,
    );
  }
  return { horae, ntpd };
}
