// Server benchmark report: medians per server, ratios against chronyd from the same run, a
// terminal table and the BENCHMARKS.md section between the server-bench markers.

import type { ReplyProblem } from "./loadgen.ts";

/** Start marker of this benchmark's section in BENCHMARKS.md. */
export const SECTION_START = "<!-- server-bench -->";
/** End marker of this benchmark's section in BENCHMARKS.md. */
export const SECTION_END = "<!-- /server-bench -->";

/** Event-loop timer lateness over a run's measured window (the daemon's `--loop-lag-ms`). */
export interface LagSummary {
  /** Timer ticks recorded, and how many an idle loop would have recorded. */
  samples: number;
  expectedSamples: number;
  /** Window length, seconds. */
  windowSec: number;
  /** Median, 99th percentile and maximum lateness, ms. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/** One measured run of one server configuration. */
export interface RunRecord {
  /** Which comparison it belongs to: "main", "scaling-capped" or "scaling-uncapped". */
  group: string;
  /** Server configuration label ("chronyd", "horae", "horae --server-threads 2"). */
  label: string;
  /** 1-based run number within its group. */
  run: number;
  /** Server processes sharing the port, or server threads of one process (`threads`). */
  workers: number;
  /**
   * True when the workers are threads of one process (the daemon's `--server-threads`): then
   * `capCores` is the quota of that one process. Absent or false: separate processes.
   */
  threads?: boolean;
  /** CPU cap in cores per process, or null when uncapped. */
  capCores: number | null;
  repliesPerSec: number;
  sent: number;
  valid: number;
  invalidTotal: number;
  invalid: Partial<Record<ReplyProblem, number>>;
  late: number;
  lost: number;
  lossFraction: number;
  /** Sum of the workers' VmRSS before the load, kB. */
  idleRssKb: number | null;
  /** Sum of the workers' highest sampled VmRSS during the load, kB. */
  loadRssKb: number | null;
  /** Server CPU over the load, cores (all workers). */
  serverCores: number;
  /** Valid replies per second of server CPU time over the whole load (robust to contention). */
  repliesPerCpuSec: number;
  generatorCores: number;
  /** Share of CFS periods in which a capped server was throttled (null when uncapped). */
  throttledShare: number | null;
  /** Whether every datagram carried a kernel receive timestamp (null when unknown). */
  kernelTimestamps: boolean | null;
  /** Main-thread timer lateness during the measured window, or null when not measured. */
  lag: LagSummary | null;
  rttMedianUs: number;
}

/** Facts about where and how the benchmark ran. */
export interface BenchContext {
  /** ISO date and time (UTC) the benchmark started. */
  date: string;
  /** The exact command line that reproduces it. */
  command: string;
  nproc: number;
  kernel: string;
  cpuModel: string;
  deno: string;
  chronyd: string;
  /** How the CPU cap was applied, e.g. "cgroup v1 cpu.cfs_quota_us 50000 / period 100000". */
  capMethod: string;
  /** Load parameters, in words. */
  load: string;
  /** Which Horae ran in the main comparison, in words. */
  horaeVariant: string;
  /** Load average when the benchmark started (other work on the machine skews results). */
  loadAverage: string;
  /** Wall time of the whole benchmark, seconds. */
  elapsedSec: number;
}

/** A whole benchmark. */
export interface BenchReport {
  context: BenchContext;
  runs: RunRecord[];
  /** Extra lines for the report (observations, what was not measured and why). */
  notes: string[];
}

/** Median of numbers (NaN for an empty list; nulls and NaNs are ignored). */
export function median(values: readonly (number | null)[]): number {
  const xs = values.filter((v): v is number => v !== null && !Number.isNaN(v)).sort((a, b) =>
    a - b
  );
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Summary of the runs of one configuration. */
export interface ConfigSummary {
  group: string;
  label: string;
  runs: number;
  workers: number;
  /** Workers are threads of one process (see RunRecord.threads). */
  threads: boolean;
  capCores: number | null;
  medianPerSec: number;
  minPerSec: number;
  maxPerSec: number;
  /** Median replies/s divided by chronyd's median in the same group (null: no chronyd). */
  vsChronyd: number | null;
  /** Median of the per-run ratios horae_i / chronyd_i (interleaved pairs), or null. */
  pairedVsChronyd: number | null;
  /** Median valid replies per server CPU-second. */
  perCpuSec: number;
  /** `perCpuSec` over chronyd's in the same group (null: no chronyd). */
  perCpuVsChronyd: number | null;
  invalidTotal: number;
  lostTotal: number;
  sentTotal: number;
  idleRssKb: number;
  loadRssKb: number;
  serverCores: number;
  generatorCores: number;
  throttledShare: number;
  /** False when any run lacked kernel timestamps, null when unknown. */
  kernelTimestamps: boolean | null;
  lagMedianMs: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Median over runs of recorded / expected timer ticks. */
  lagTickShare: number;
}

/** Groups runs by (group, label) in first-seen order and summarises each. */
export function summarise(runs: readonly RunRecord[]): ConfigSummary[] {
  const keys: string[] = [];
  const by = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = `${r.group}\u0000${r.label}`;
    if (!by.has(key)) {
      keys.push(key);
      by.set(key, []);
    }
    by.get(key)!.push(r);
  }
  const out: ConfigSummary[] = [];
  for (const key of keys) {
    const rs = by.get(key)!;
    const first = rs[0]!;
    const rates = rs.map((r) => r.repliesPerSec);
    const chronyd = runs.filter((r) => r.group === first.group && r.label === "chronyd");
    const chronydMedian = median(chronyd.map((r) => r.repliesPerSec));
    const paired = chronyd.length === 0 ? [] : rs.map((r) => {
      const c = chronyd.find((x) => x.run === r.run);
      return c === undefined ? null : r.repliesPerSec / c.repliesPerSec;
    });
    const kts = rs.map((r) => r.kernelTimestamps);
    out.push({
      group: first.group,
      label: first.label,
      runs: rs.length,
      workers: first.workers,
      threads: first.threads ?? false,
      capCores: first.capCores,
      medianPerSec: median(rates),
      minPerSec: Math.min(...rates),
      maxPerSec: Math.max(...rates),
      vsChronyd: chronyd.length === 0 ? null : median(rates) / chronydMedian,
      pairedVsChronyd: chronyd.length === 0 ? null : median(paired),
      perCpuSec: median(rs.map((r) => r.repliesPerCpuSec)),
      perCpuVsChronyd: chronyd.length === 0 ? null : median(rs.map((r) => r.repliesPerCpuSec)) /
        median(chronyd.map((r) => r.repliesPerCpuSec)),
      invalidTotal: rs.reduce((a, r) => a + r.invalidTotal, 0),
      lostTotal: rs.reduce((a, r) => a + r.lost, 0),
      sentTotal: rs.reduce((a, r) => a + r.sent, 0),
      idleRssKb: median(rs.map((r) => r.idleRssKb)),
      loadRssKb: median(rs.map((r) => r.loadRssKb)),
      serverCores: median(rs.map((r) => r.serverCores)),
      generatorCores: median(rs.map((r) => r.generatorCores)),
      throttledShare: median(rs.map((r) => r.throttledShare)),
      kernelTimestamps: kts.some((k) => k === false)
        ? false
        : kts.every((k) => k === true)
        ? true
        : null,
      lagMedianMs: median(rs.map((r) => r.lag?.medianMs ?? null)),
      lagP99Ms: median(rs.map((r) => r.lag?.p99Ms ?? null)),
      lagMaxMs: median(rs.map((r) => r.lag?.maxMs ?? null)),
      lagTickShare: median(
        rs.map((r) =>
          r.lag === null || r.lag.expectedSamples === 0
            ? null
            : r.lag.samples / r.lag.expectedSamples
        ),
      ),
    });
  }
  return out;
}

function k(n: number): string {
  return Number.isNaN(n) ? "–" : `${(n / 1000).toFixed(1)}k`;
}

function mb(kb: number): string {
  return Number.isNaN(kb) ? "–" : `${(kb / 1024).toFixed(0)} MB`;
}

function pct(x: number, digits = 0): string {
  return Number.isNaN(x) ? "–" : `${(x * 100).toFixed(digits)}%`;
}

function ms(x: number): string {
  return Number.isNaN(x) ? "–" : x.toFixed(1);
}

function ratio(x: number | null): string {
  return x === null || Number.isNaN(x) ? "–" : `${x.toFixed(2)}x`;
}

function cap(s: ConfigSummary): string {
  if (s.capCores === null) return "none";
  if (s.threads && s.workers > 1) {
    return `${pct(s.capCores)} of a core for the process (${s.workers} × ${
      pct(s.capCores / s.workers)
    })`;
  }
  return `${pct(s.capCores)} of a core${s.workers > 1 ? " each" : ""}`;
}

/** Summaries of the SO_REUSEPORT scaling runs. */
function scalingOf(summaries: ConfigSummary[]): ConfigSummary[] {
  return summaries.filter((x) => x.group.startsWith("scaling"));
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

function mainRows(summaries: ConfigSummary[]): string[][] {
  return summaries.map((s) => [
    s.label,
    k(s.medianPerSec),
    `${k(s.minPerSec)}–${k(s.maxPerSec)}`,
    ratio(s.vsChronyd),
    ratio(s.pairedVsChronyd),
    k(s.perCpuSec),
    ratio(s.perCpuVsChronyd),
    `${s.invalidTotal}`,
    s.sentTotal === 0 ? "–" : pct(s.lostTotal / s.sentTotal, 3),
    mb(s.idleRssKb),
    mb(s.loadRssKb),
    pct(s.serverCores),
    pct(s.generatorCores),
    s.kernelTimestamps === null ? "not checked" : s.kernelTimestamps ? "yes" : "NO",
  ]);
}

const MAIN_HEADER = [
  "server",
  "replies/s (median)",
  "range",
  "vs chronyd (medians)",
  "vs chronyd (paired runs)",
  "replies per CPU-second",
  "vs chronyd (per CPU-s)",
  "invalid replies",
  "loss",
  "RSS idle",
  "RSS under load",
  "server CPU",
  "generator CPU",
  "kernel RX timestamps",
];

function scalingRows(summaries: ConfigSummary[]): string[][] {
  const base = new Map<string, number>();
  for (const s of summaries) if (s.workers === 1) base.set(s.group, s.medianPerSec);
  return summaries.map((s) => [
    s.label,
    `${s.workers}`,
    cap(s),
    k(s.medianPerSec),
    `${k(s.minPerSec)}–${k(s.maxPerSec)}`,
    ratio(base.has(s.group) ? s.medianPerSec / base.get(s.group)! : null),
    `${s.invalidTotal}`,
    s.sentTotal === 0 ? "–" : pct(s.lostTotal / s.sentTotal, 3),
    mb(s.loadRssKb),
    pct(s.serverCores),
    pct(s.generatorCores),
  ]);
}

const SCALING_HEADER = [
  "server",
  "workers",
  "cap",
  "replies/s (median)",
  "range",
  "vs 1 worker",
  "invalid",
  "loss",
  "RSS under load (all)",
  "server CPU (all)",
  "generator CPU",
];

function lagRows(summaries: ConfigSummary[]): string[][] {
  return summaries.filter((s) => !Number.isNaN(s.lagMedianMs)).map((s) => [
    `${s.label} (${s.group})`,
    cap(s),
    k(s.medianPerSec),
    ms(s.lagMedianMs),
    ms(s.lagP99Ms),
    ms(s.lagMaxMs),
    pct(s.lagTickShare),
  ]);
}

const LAG_HEADER = [
  "server (main thread)",
  "cap",
  "replies/s",
  "timer lateness median (ms)",
  "p99 (ms)",
  "max (ms)",
  "ticks (of expected)",
];

/** Display names of the access-list comparison's rows. */
const ACCESS_LABELS: Record<string, string> = {
  chronyd: "chronyd, 1,000 allow/deny + client log",
  horae: "horae, 1,000 restrict + monitor",
};

function accessRows(summaries: ConfigSummary[]): string[][] {
  return mainRows(summaries.map((x) => ({ ...x, label: ACCESS_LABELS[x.label] ?? x.label })));
}

/** Horae with its list against chronyd with its list and against Horae without a list. */
export interface AccessVerdict {
  vsChronyd: number | null;
  pairedVsChronyd: number | null;
  /** Horae with the list over Horae without it (medians of the same run). */
  vsOwn: number | null;
  /** Median of the per-round ratios (interleaved pairs). */
  pairedVsOwn: number | null;
  /** At least 1.1x chronyd and within 10% of its own figure, every reply valid. */
  met: boolean;
}

/** The access-list target's figures, or null when the access comparison did not run. */
export function accessVerdict(runs: readonly RunRecord[]): AccessVerdict | null {
  const s = summarise(runs);
  const withList = s.find((x) => x.group === "access" && x.label === "horae");
  const without = s.find((x) => x.group === "main" && x.label === "horae");
  if (withList === undefined) return null;
  const own = without === undefined ? null : withList.medianPerSec / without.medianPerSec;
  const pairs = runs.filter((r) => r.group === "access" && r.label === "horae").map((r) => {
    const p = runs.find((x) => x.group === "main" && x.label === "horae" && x.run === r.run);
    return p === undefined ? null : r.repliesPerSec / p.repliesPerSec;
  });
  const pairedOwn = median(pairs);
  return {
    vsChronyd: withList.vsChronyd,
    pairedVsChronyd: withList.pairedVsChronyd,
    vsOwn: own,
    pairedVsOwn: Number.isNaN(pairedOwn) ? null : pairedOwn,
    met: (withList.vsChronyd ?? 0) >= 1.1 && own !== null && own >= 0.9 &&
      withList.invalidTotal === 0,
  };
}

/** The symmetric-key groups ("auth-MD5", ...) in first-seen order, and their key types. */
function authGroups(summaries: ConfigSummary[]): { group: string; type: string }[] {
  const seen: string[] = [];
  for (const x of summaries) {
    if (x.group.startsWith("auth-") && !seen.includes(x.group)) seen.push(x.group);
  }
  return seen.map((group) => ({ group, type: group.slice("auth-".length) }));
}

function authRows(summaries: ConfigSummary[], type: string): string[][] {
  return mainRows(summaries.map((x) => ({ ...x, label: `${x.label}, ${type} key` })));
}

/** Horae with a key type against chronyd with the same type, and against itself without keys. */
export interface AuthVerdict {
  type: string;
  vsChronyd: number | null;
  pairedVsChronyd: number | null;
  perCpuVsChronyd: number | null;
  /** Horae signing over Horae unsigned (medians of the same benchmark). */
  vsUnsigned: number | null;
  invalidTotal: number;
  /** At least 1.0x chronyd (medians), every reply valid and signed. */
  met: boolean;
}

/** The symmetric-key target's figures per key type (empty when that comparison did not run). */
export function authVerdicts(runs: readonly RunRecord[]): AuthVerdict[] {
  const s = summarise(runs);
  const unsigned = s.find((x) => x.group === "main" && x.label === "horae");
  return authGroups(s).flatMap(({ group, type }) => {
    const h = s.find((x) => x.group === group && x.label === "horae");
    if (h === undefined) return [];
    return [{
      type,
      vsChronyd: h.vsChronyd,
      pairedVsChronyd: h.pairedVsChronyd,
      perCpuVsChronyd: h.perCpuVsChronyd,
      vsUnsigned: unsigned === undefined ? null : h.medianPerSec / unsigned.medianPerSec,
      invalidTotal: h.invalidTotal,
      met: (h.vsChronyd ?? 0) >= 1.0 && h.invalidTotal === 0,
    }];
  });
}

/** The plain-text table printed at the end of `deno task bench`. */
export function renderTable(report: BenchReport): string {
  const s = summarise(report.runs);
  const main = s.filter((x) => x.group === "main");
  const access = s.filter((x) => x.group === "access");
  const scaling = scalingOf(s);
  const parts = [
    "Main comparison (same cap per server, interleaved runs):",
    table(MAIN_HEADER, mainRows(main)),
  ];
  if (access.length > 0) {
    parts.push("", "With a 1,000-entry access list:", table(MAIN_HEADER, accessRows(access)));
  }
  for (const { group, type } of authGroups(s)) {
    const rows = s.filter((x) => x.group === group);
    parts.push(
      "",
      `With a ${type} key (signed requests and replies):`,
      table(MAIN_HEADER, authRows(rows, type)),
    );
  }
  if (scaling.length > 0) {
    parts.push("", "SO_REUSEPORT workers:", table(SCALING_HEADER, scalingRows(scaling)));
  }
  const lag = lagRows(s);
  if (lag.length > 0) parts.push("", "Event loop under load:", table(LAG_HEADER, lag));
  return parts.join("\n");
}

/** The markdown section (markers included) for BENCHMARKS.md. */
export function renderMarkdown(report: BenchReport): string {
  const c = report.context;
  const s = summarise(report.runs);
  const main = s.filter((x) => x.group === "main");
  const scaling = scalingOf(s);
  const horae = main.find((x) => x.label !== "chronyd");
  const lines: string[] = [
    SECTION_START,
    "## Server throughput",
    "",
    `Measured ${c.date} with \`${c.command}\` (${c.elapsedSec.toFixed(0)} s), on ${c.cpuModel},` +
    ` nproc ${c.nproc}, Linux ${c.kernel}, Deno ${c.deno}, chronyd ${c.chronyd};` +
    ` load average at start ${c.loadAverage}.`,
    "",
    `Load: ${c.load}. Each server is capped with ${c.capMethod}; the generator is not capped.` +
    ` Horae in this comparison: ${c.horaeVariant}. Replies count only when valid (decoded,` +
    ` mode 4, origin equal to one of our outstanding transmit timestamps, synchronised, sane` +
    ` stratum, precision, root distance and timestamp order). "Replies per CPU-second" divides` +
    " the valid replies of a whole run by the server's CPU time (utime + stime, all threads)" +
    " over the same time: it is less disturbed than replies/s when other work shares the machine.",
    "",
    table(MAIN_HEADER, mainRows(main)),
    "",
  ];
  if (horae !== undefined && horae.vsChronyd !== null) {
    const met = horae.vsChronyd >= 1.15 && horae.invalidTotal === 0 &&
      horae.kernelTimestamps !== false;
    lines.push(
      `Target (issue "Foundation"): Horae ≥ 1.15x chronyd with kernel timestamps and every reply` +
        ` valid. This run: ${ratio(horae.vsChronyd)} (medians), ${
          ratio(horae.pairedVsChronyd)
        } (paired), ${horae.invalidTotal} invalid: **${met ? "met" : "not met"}**.`,
      "",
    );
  }
  const access = s.filter((x) => x.group === "access");
  const verdict = accessVerdict(report.runs);
  if (access.length > 0 && verdict !== null) {
    lines.push(
      "### With a 1,000-entry access list",
      "",
      "Same cap, same load, run interleaved with the table above: Horae with 1,000 `restrict`" +
        " lines and monitoring on, chronyd with the same 1,000 entries as `allow`/`deny` and" +
        " its client log on (see the notes). Ratios are against chronyd with its list.",
      "",
      table(MAIN_HEADER, accessRows(access)),
      "",
      `Target (issue 9): Horae with the list ≥ 1.1x chronyd with its list, and within 10% of` +
        ` Horae's own figure without it. This run: ${ratio(verdict.vsChronyd)} chronyd` +
        ` (medians), ${ratio(verdict.pairedVsChronyd)} (paired); ${
          verdict.vsOwn === null ? "–" : pct(verdict.vsOwn, 1)
        } of Horae without the list (medians), ${
          verdict.pairedVsOwn === null ? "–" : pct(verdict.pairedVsOwn, 1)
        } (paired): **${verdict.met ? "met" : "not met"}**.`,
      "",
    );
  }
  const auth = authVerdicts(report.runs);
  if (auth.length > 0) {
    lines.push(
      "### With symmetric keys",
      "",
      "Same cap, same load, run interleaved with the table above: every request signed with a" +
        " key of the row's type, every reply required to carry a MAC with that key that the" +
        " generator verifies (a reply without one, or one that fails, is invalid). Ratios are" +
        " against chronyd with the same key type.",
      "",
    );
    for (const { group, type } of authGroups(s)) {
      lines.push(table(MAIN_HEADER, authRows(s.filter((x) => x.group === group), type)), "");
    }
    for (const v of auth) {
      lines.push(
        `Target (issue 13), ${v.type}: Horae ≥ 1.0x chronyd with the same key type, every reply` +
          ` valid and signed. This run: ${ratio(v.vsChronyd)} (medians), ${
            ratio(v.pairedVsChronyd)
          } (paired), ${ratio(v.perCpuVsChronyd)} (per CPU-second), ${v.invalidTotal} invalid;` +
          ` ${v.vsUnsigned === null ? "–" : pct(v.vsUnsigned, 1)} of Horae's unsigned figure:` +
          ` **${v.met ? "met" : "not met"}**.`,
        "",
      );
    }
  }
  if (scaling.length > 0) {
    lines.push("### SO_REUSEPORT workers", "", table(SCALING_HEADER, scalingRows(scaling)), "");
  }
  const lag = lagRows(s);
  if (lag.length > 0) {
    lines.push(
      "### Event loop under load",
      "",
      "The daemon's own probe (`--loop-lag-ms 10`): a 10 ms timer chain on its main thread," +
        " the one that also runs the timekeeping core; lateness = fire time minus due time over" +
        " the measured window, to 0.1 ms (medians over runs of each statistic). Each tick is" +
        " armed when the previous one fires, so ticks fall short of window / 10 ms by the" +
        " lateness itself and further when the loop is starved.",
      "",
      table(LAG_HEADER, lag),
      "",
    );
  }
  if (report.notes.length > 0) {
    lines.push("Notes:", "");
    for (const n of report.notes) lines.push(`- ${n}`);
    lines.push("");
  }
  lines.push(SECTION_END);
  return lines.join("\n");
}

/**
 * Puts `section` (markers included) into `document`: replaces the text between the markers
 * when both are present in order, else appends it after a blank line.
 */
export function replaceSection(document: string, section: string): string {
  const start = document.indexOf(SECTION_START);
  const end = start < 0 ? -1 : document.indexOf(SECTION_END, start);
  if (start >= 0 && end >= 0) {
    return document.slice(0, start) + section + document.slice(end + SECTION_END.length);
  }
  if (document.trim() === "") return `${section}\n`;
  return `${document.replace(/\n*$/, "")}\n\n${section}\n`;
}
