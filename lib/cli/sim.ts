// deno-lint-ignore-file no-console -- lib/cli is where output goes to the terminal.
// `horae sim` / `ntpdsim`: runs the real protocol core against the simulated clock and network of
// SIM_SCENARIOS.md and prints metrics as a table or JSON, with a per-second log and an SVG plot.

import { parseArgs } from "node:util";
import { findScenario, type Scenario, SCENARIOS } from "../sim/scenarios.ts";
import { type RunResult, runScenario, SIM_START } from "../sim/runner.ts";
import { parseDelayTrace, type TraceEntry } from "../sim/network.ts";
import { type StatName, StatsWriter } from "../stats/stats_writer.ts";
import { STAT_NAMES } from "../proto/options/statistics.ts";
import { renderSvg } from "../sim/svg_plot.ts";
import type { SimMetrics } from "../sim/metrics.ts";
import { didYouMean } from "../config/did_you_mean.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

const SIM_OPTIONS = {
  scenario: { type: "string" },
  seed: { type: "string" },
  seeds: { type: "string" },
  json: { type: "boolean", default: false },
  log: { type: "string" },
  svg: { type: "string" },
  duration: { type: "string" },
  list: { type: "boolean", default: false },
  discipline: { type: "string", default: "horae" },
  "no-kernel": { type: "boolean", default: false },
  statsdir: { type: "string" },
  statistics: { type: "string" },
  trace: { type: "string" },
  wander: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** `horae sim --help`. */
export const SIM_HELP: string = helpText(
  `usage: horae sim --scenario NAME|all [--seed N | --seeds A-B] [--json]
                 [--log FILE] [--svg FILE] [--duration SEC] [--list]
                 [--statsdir DIR [--statistics NAME,...]] [--trace FILE]
                 [--wander W[,W...]] [--discipline horae|ntpd]`,
  optionHelp(SIM_OPTIONS, {
    scenario: ["NAME", 'scenario to run (see --list), or "all"'],
    seed: ["N", "random seed (default 1)"],
    seeds: ["A-B", "run seeds A..B and print median and worst per scenario"],
    json: ["", "one JSON object per run (with --seeds: one summary object per scenario)"],
    log: ["FILE", "per-second log: t, true offset (s), frequency error (ppm), correction (ppm)"],
    svg: ["FILE", "SVG plot of offset and frequency error"],
    duration: ["SEC", "override the scenario's run length"],
    list: ["", "list the scenarios"],
    discipline: ["D", "clock discipline: horae (default) or ntpd (ntpd 4.2.x PLL/FLL)"],
    "no-kernel": ["", "with --discipline ntpd: the daemon loop instead of the kernel PLL"],
    statsdir: ["DIR", "write ntpd's statistics files (daily sets) of the run into DIR"],
    statistics: [
      "LIST",
      "with --statsdir: which files (default loopstats,peerstats,rawstats,protostats)",
    ],
    trace: ["FILE", 'delay trace for scenario "trace": one "UP DOWN" line (s) per exchange'],
    wander: ["W,...", "run each scenario at these wanders w (the sweep: 1e-10,1e-9,1e-8,1e-7)"],
    help: ["", "print this help and exit"],
  }),
);

/** A usage error's one line (the `err` callback adds the newline). */
function usage(message: string): string {
  return usageError("horae sim", message).trimEnd();
}

/** The `--json` object of one run (the fields issue 3 requires, then extras). */
export interface SimJson extends SimMetrics {
  scenario: string;
  seed: number;
  packets: number;
  duration_s: number;
  settle_s: number;
  clock_updates: number;
  sim_seconds_per_wall_second: number;
}

/** Converts a run to its JSON object. */
export function toJson(r: RunResult, sc: Scenario): SimJson {
  return {
    scenario: r.scenario,
    seed: r.seed,
    ...r.metrics,
    packets: r.packets,
    duration_s: r.simulatedSec,
    settle_s: sc.settleSec,
    clock_updates: r.clockUpdates,
    sim_seconds_per_wall_second: simSpeed(r),
  };
}

/**
 * Runs `horae sim` with `args`; output lines go to `out` (stdout by default), diagnostics to
 * `err` (stderr). Resolves to the exit code (0, or 2 for usage errors).
 */
export async function runSim(
  args: string[],
  out: (line: string) => void = (l) => console.log(l),
  err: (line: string) => void = (l) => console.error(l),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: SIM_OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    err(usage(parseArgsMessage(e, longOptions(SIM_OPTIONS))));
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    out(SIM_HELP.trimEnd());
    return 0;
  }
  if (v.list) {
    for (const s of SCENARIOS) out(`${s.name.padEnd(16)} ${s.description}`);
    return 0;
  }
  if (v.scenario === undefined) {
    err(usage("--scenario is required"));
    return 2;
  }
  const scenarios = v.scenario === "all" ? [...SCENARIOS] : [findScenario(v.scenario)];
  if (scenarios.some((s) => s === undefined)) {
    err(
      `horae sim: unknown scenario "${v.scenario}"${
        didYouMean(
          v.scenario,
          SCENARIOS.map((s) => s.name),
        )
      } (see horae sim --list)`,
    );
    return 2;
  }
  let seeds: number[];
  if (v.seeds !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(v.seeds);
    if (m === null || Number(m[1]) > Number(m[2])) {
      err(usage(`--seeds wants A-B, got "${v.seeds}"`));
      return 2;
    }
    seeds = [];
    for (let s = Number(m[1]); s <= Number(m[2]); s++) seeds.push(s);
  } else {
    const s = Number(v.seed ?? "1");
    if (!Number.isInteger(s) || s < 0) {
      err(usage(`--seed wants a non-negative integer, got "${v.seed}"`));
      return 2;
    }
    seeds = [s];
  }
  let durationSec: number | undefined;
  if (v.duration !== undefined) {
    durationSec = Number(v.duration);
    if (!(durationSec > 0)) {
      err(usage(`--duration wants seconds > 0, got "${v.duration}"`));
      return 2;
    }
  }
  if (v.discipline !== "horae" && v.discipline !== "ntpd") {
    err(usage(`--discipline wants horae or ntpd, got "${v.discipline}"`));
    return 2;
  }
  const discipline: "horae" | "ntpd" = v.discipline;
  let wanders: (number | undefined)[] = [undefined];
  if (v.wander !== undefined) {
    wanders = v.wander.split(",").map((w) => Number(w.trim()));
    if (wanders.some((w) => !(w! >= 0 && w! < 1e-3))) {
      err(usage(`--wander wants a list of wanders w in [0, 1e-3), got "${v.wander}"`));
      return 2;
    }
  }
  let trace: TraceEntry[] | undefined;
  if (v.trace !== undefined) {
    try {
      trace = parseDelayTrace(await Deno.readTextFile(v.trace), v.trace);
    } catch (e) {
      err(`horae sim: ${(e as Error).message}`);
      return e instanceof SyntaxError ? 78 : 1;
    }
  }
  const needing = (scenarios as Scenario[]).filter((s) => s.needsTrace);
  if (trace === undefined && needing.length > 0) {
    if (v.scenario === "all") {
      scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => !s!.needsTrace));
    } else {
      err(usage(`scenario ${needing[0]!.name} needs --trace FILE`));
      return 2;
    }
  }
  const wantSeries = v.log !== undefined || v.svg !== undefined;
  if (wantSeries && (scenarios.length !== 1 || seeds.length !== 1)) {
    err(usage("--log and --svg need one scenario and one seed"));
    return 2;
  }
  let statsNames: StatName[] = [...SIM_STATS];
  if (v.statsdir !== undefined) {
    if (scenarios.length !== 1 || seeds.length !== 1) {
      err(usage("--statsdir needs one scenario and one seed"));
      return 2;
    }
    if (v.statistics !== undefined) {
      const names = v.statistics.split(",").map((n) => n.trim()).filter((n) => n !== "");
      const bad = names.find((n) => !(STAT_NAMES as readonly string[]).includes(n));
      if (bad !== undefined) {
        err(usage(`--statistics: unknown statistics "${bad}" (known: ${STAT_NAMES.join(", ")})`));
        return 2;
      }
      statsNames = names as StatName[];
    }
    try {
      await Deno.mkdir(v.statsdir, { recursive: true });
    } catch (e) {
      err(`horae sim: cannot create ${v.statsdir}: ${(e as Error).message}`);
      return 1;
    }
  } else if (v.statistics !== undefined) {
    err(usage("--statistics needs --statsdir"));
    return 2;
  }
  const summary = seeds.length > 1;
  if (!v.json) out(summary ? summaryHeader() : tableHeader());
  const variants: Scenario[] = [];
  for (const base of scenarios as Scenario[]) {
    for (const w of wanders) {
      variants.push(
        w === undefined
          ? base
          : { ...base, name: `${base.name}@w=${w.toExponential(0)}`, wander: w },
      );
    }
  }
  for (const sc of variants) {
    const runs: RunResult[] = [];
    for (const seed of seeds) {
      const stats = v.statsdir === undefined ? null : simStatsWriter(v.statsdir, statsNames, err);
      let r: RunResult;
      try {
        r = runScenario(sc, {
          seed,
          series: wantSeries,
          discipline,
          kernel: !v["no-kernel"],
          ...(trace !== undefined ? { trace } : {}),
          ...(durationSec !== undefined ? { durationSec } : {}),
          ...(stats === null ? {} : {
            onActions: (actions, now) => stats.writer.onActions(actions, now),
            onServer: (id, address) => stats.addresses.set(id, address.address),
          }),
        });
      } finally {
        stats?.writer.close();
      }
      runs.push(r);
      if (!summary) out(v.json ? JSON.stringify(toJson(r, sc)) : tableRow(r));
    }
    if (summary) out(v.json ? JSON.stringify(summaryJson(sc, runs)) : summaryRow(sc, runs));
    if (wantSeries) {
      const r = runs[0]!;
      if (v.log !== undefined) {
        const lines = ["# t_s offset_s freq_error_ppm freq_correction_ppm"];
        for (const p of r.series) {
          lines.push(
            `${p.t} ${p.offsetSec.toExponential(6)} ${p.freqErrorPpm.toFixed(6)} ${
              p.freqCorrectionPpm.toFixed(6)
            }`,
          );
        }
        for (const e of r.events) lines.push(`# event ${e.t.toFixed(3)} ${e.message}`);
        await Deno.writeTextFile(v.log, lines.join("\n") + "\n");
      }
      if (v.svg !== undefined) {
        await Deno.writeTextFile(
          v.svg,
          renderSvg(r.series, {
            title:
              `horae sim: ${sc.name}, seed ${r.seed} (from the settle time, ${sc.settleSec} s)`,
            fromSec: Math.min(sc.settleSec, r.simulatedSec / 2),
          }),
        );
      }
    }
  }
  return 0;
}

/** The statistics `horae sim --statsdir` writes unless told otherwise. */
export const SIM_STATS: readonly StatName[] = ["loopstats", "peerstats", "rawstats", "protostats"];

/** A statistics writer for one run, stamping lines with the simulated local clock. */
function simStatsWriter(
  dir: string,
  enabled: readonly StatName[],
  err: (line: string) => void,
): { writer: StatsWriter; addresses: Map<number, string> } {
  const addresses = new Map<number, string>();
  const log = (m: string) => err(`horae sim: ${m}`);
  const writer = new StatsWriter({ statsDir: dir, enabled }, {
    log: { debug() {}, info() {}, warn: log, error: log },
    pid: Deno.pid,
    startedAt: SIM_START,
    addressOf: (id) => addresses.get(id) ?? null,
  });
  return { writer, addresses };
}

/** Simulated seconds per wall-clock second, rounded. */
function simSpeed(r: RunResult): number {
  return Math.round(r.simulatedSec / Math.max(1e-3, r.wallMs / 1000));
}

function us(x: number): string {
  return (x * 1e6).toFixed(1);
}

function tableHeader(): string {
  return [
    "scenario".padEnd(22),
    "seed".padStart(4),
    "rms µs".padStart(9),
    "p99 µs".padStart(9),
    "max µs".padStart(9),
    "whole s".padStart(9),
    "mean µs".padStart(9),
    "rms freq".padStart(9),
    "T1ms s".padStart(7),
    "T100µs".padStart(7),
    "tx/1000s".padStart(8),
    "sim-s/s".padStart(9),
  ].join(" ");
}

function tableRow(r: RunResult): string {
  const m = r.metrics;
  return [
    r.scenario.padEnd(22),
    String(r.seed).padStart(4),
    us(m.rms_offset_s).padStart(9),
    us(m.p99_offset_s).padStart(9),
    us(m.max_offset_s).padStart(9),
    m.max_offset_whole_run_s.toFixed(4).padStart(9),
    us(m.mean_offset_s).padStart(9),
    m.rms_freq_error.toExponential(2).padStart(9),
    (m.t1ms_s === null ? "never" : String(m.t1ms_s)).padStart(7),
    (m.t100us_s === null ? "never" : String(m.t100us_s)).padStart(7),
    m.tx_per_1000s.toFixed(2).padStart(8),
    String(simSpeed(r)).padStart(9),
  ].join(" ");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[n >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Median and worst over seeds of one scenario. */
function summaryJson(sc: Scenario, runs: RunResult[]): Record<string, unknown> {
  const pick = (f: (r: RunResult) => number) => runs.map(f);
  const t1 = runs.map((r) => r.metrics.t1ms_s ?? Infinity);
  const medT1 = median(t1);
  return {
    scenario: sc.name,
    seeds: runs.map((r) => r.seed),
    median_rms_offset_s: median(pick((r) => r.metrics.rms_offset_s)),
    worst_rms_offset_s: Math.max(...pick((r) => r.metrics.rms_offset_s)),
    median_p99_offset_s: median(pick((r) => r.metrics.p99_offset_s)),
    worst_max_offset_whole_run_s: Math.max(...pick((r) => r.metrics.max_offset_whole_run_s)),
    median_t1ms_s: Number.isFinite(medT1) ? medT1 : null,
    median_tx_per_1000s: median(pick((r) => r.metrics.tx_per_1000s)),
    chrony_rms_s: sc.chronyRmsSec,
    chrony_tx_per_1000s: sc.chronyTxPer1000s ?? null,
    target_rms_s: sc.targetRmsSec,
  };
}

function summaryHeader(): string {
  return [
    "scenario".padEnd(22),
    "median rms".padStart(11),
    "worst rms".padStart(11),
    "med p99".padStart(11),
    "whole max s".padStart(11),
    "med T1ms".padStart(8),
    "tx/1000s".padStart(8),
    "chrony".padStart(9),
    "chrony tx".padStart(9),
    "target".padStart(9),
  ].join(" ");
}

function summaryRow(sc: Scenario, runs: RunResult[]): string {
  const j = summaryJson(sc, runs);
  const f = (x: unknown) => typeof x === "number" ? fmtSec(x) : "–";
  return [
    sc.name.padEnd(22),
    f(j.median_rms_offset_s).padStart(11),
    f(j.worst_rms_offset_s).padStart(11),
    f(j.median_p99_offset_s).padStart(11),
    (j.worst_max_offset_whole_run_s as number).toFixed(4).padStart(11),
    (j.median_t1ms_s === null ? "never" : String(j.median_t1ms_s)).padStart(8),
    (j.median_tx_per_1000s as number).toFixed(2).padStart(8),
    f(j.chrony_rms_s).padStart(9),
    (sc.chronyTxPer1000s === undefined ? "–" : sc.chronyTxPer1000s.toFixed(1)).padStart(9),
    f(j.target_rms_s).padStart(9),
  ].join(" ");
}

function fmtSec(x: number): string {
  const a = Math.abs(x);
  if (a >= 1) return `${x.toFixed(3)} s`;
  if (a >= 1e-3) return `${(x * 1e3).toFixed(2)} ms`;
  return `${(x * 1e6).toFixed(1)} µs`;
}

if (import.meta.main) {
  Deno.exit(await runSim(Deno.args));
}
