// Tests of the benchmark report: medians, ratios against chronyd, the BENCHMARKS.md section.

import assert from "node:assert/strict";
import {
  accessVerdict,
  authVerdicts,
  type BenchReport,
  median,
  renderMarkdown,
  replaceSection,
  type RunRecord,
  SECTION_END,
  SECTION_START,
  summarise,
} from "./report.ts";

function run(label: string, runNo: number, perSec: number, extra: Partial<RunRecord> = {}) {
  const r: RunRecord = {
    group: "main",
    label,
    run: runNo,
    workers: 1,
    capCores: 0.5,
    repliesPerSec: perSec,
    sent: 1000,
    valid: 1000,
    invalidTotal: 0,
    invalid: {},
    late: 0,
    lost: 0,
    lossFraction: 0,
    idleRssKb: 5000,
    loadRssKb: 6000,
    serverCores: 0.5,
    repliesPerCpuSec: perSec * 2,
    generatorCores: 0.5,
    throttledShare: 0.9,
    kernelTimestamps: label === "chronyd" ? null : true,
    lag: null,
    rttMedianUs: 500,
  };
  return { ...r, ...extra };
}

/** The machine description of the synthetic reports below. */
const CONTEXT: BenchReport["context"] = {
  date: "2026-01-01T00:00:00Z",
  command: "deno task bench",
  nproc: 2,
  kernel: "6.1",
  cpuModel: "cpu",
  deno: "2.9.6",
  chronyd: "4.3",
  capMethod: "cap",
  load: "load",
  horaeVariant: "the daemon",
  loadAverage: "0 0 0",
  elapsedSec: 1,
};

Deno.test("median() of odd and even counts, ignoring nulls and NaN", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([null, 7, NaN]), 7);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarise() divides by chronyd's median in the same group", () => {
  const runs = [
    run("chronyd", 1, 100),
    run("horae", 1, 120),
    run("chronyd", 2, 200),
    run("horae", 2, 150),
    run("chronyd", 3, 150),
    run("horae", 3, 180),
    run("chronyd", 1, 1, { group: "other" }),
  ];
  const main = summarise(runs).filter((s) => s.group === "main");
  const horae = main.find((s) => s.label === "horae")!;
  assert.equal(horae.medianPerSec, 150);
  assert.equal(horae.vsChronyd, 1); // 150 / median(100, 200, 150)
  assert.equal(horae.pairedVsChronyd, 1.2); // median(1.2, 0.75, 1.2)
  assert.equal(horae.perCpuVsChronyd, 1);
  assert.equal(main.find((s) => s.label === "chronyd")!.runs, 3);
});

Deno.test("summarise() reports missing kernel timestamps when any run lacked them", () => {
  const s = summarise([
    run("horae", 1, 1, { kernelTimestamps: true }),
    run("horae", 2, 1, { kernelTimestamps: false }),
  ]);
  assert.equal(s[0]!.kernelTimestamps, false);
});

Deno.test("renderMarkdown() states whether the 1.15x target was met", () => {
  const report: BenchReport = {
    context: CONTEXT,
    runs: [run("chronyd", 1, 100), run("horae", 1, 120)],
    notes: ["a note"],
  };
  const md = renderMarkdown(report);
  assert.ok(md.startsWith(SECTION_START) && md.endsWith(SECTION_END));
  assert.match(md, /1\.20x \(medians\).*\*\*met\*\*/);
  assert.match(md, /- a note/);
  report.runs = [run("chronyd", 1, 100), run("horae", 1, 110)];
  assert.match(renderMarkdown(report), /\*\*not met\*\*/);
  report.runs = [run("chronyd", 1, 100), run("horae", 1, 130, { invalidTotal: 1 })];
  assert.match(renderMarkdown(report), /\*\*not met\*\*/);
});

Deno.test("replaceSection() appends when the markers are absent", () => {
  const section = `${SECTION_START}\nnew\n${SECTION_END}`;
  assert.equal(replaceSection("# Benchmarks\n", section), `# Benchmarks\n\n${section}\n`);
  assert.equal(replaceSection("", section), `${section}\n`);
});

Deno.test("replaceSection() replaces only the text between the markers", () => {
  const doc = `# B\n\nbefore\n\n${SECTION_START}\nold\n${SECTION_END}\n\nafter\n`;
  const section = `${SECTION_START}\nnew\n${SECTION_END}`;
  assert.equal(replaceSection(doc, section), `# B\n\nbefore\n\n${section}\n\nafter\n`);
});

Deno.test("renderMarkdown() states a thread row's cap as one quota for the whole process", () => {
  const report: BenchReport = {
    context: CONTEXT,
    runs: [
      run("chronyd", 1, 100),
      run("horae", 1, 120),
      run("horae --server-threads 1", 1, 100, { group: "scaling-capped", threads: true }),
      run("horae --server-threads 2", 1, 190, {
        group: "scaling-capped",
        workers: 2,
        threads: true,
        capCores: 1,
      }),
    ],
    notes: [],
  };
  const md = renderMarkdown(report);
  assert.match(
    md,
    /\| horae --server-threads 2 \| 2 \| 100% of a core for the process \(2 × 50%\) \|/,
  );
  assert.match(md, /\| 1\.90x \|/);
  assert.doesNotMatch(md, /Event loop under load/, "no lag data, no lag table");
});

Deno.test("renderMarkdown() lists the daemon's event-loop lag per configuration, medians of runs", () => {
  const lag = (medianMs: number, p99Ms: number, maxMs: number, samples: number) => ({
    samples,
    expectedSamples: 500,
    windowSec: 5,
    medianMs,
    p99Ms,
    maxMs,
  });
  const report: BenchReport = {
    context: CONTEXT,
    runs: [
      run("chronyd", 1, 100),
      run("horae", 1, 120),
      ...[lag(0.5, 40, 48, 400), lag(0.7, 46, 50, 450), lag(0.3, 44, 90, 500)].map((l, i) =>
        run("horae --server-threads 1", i + 1, 100, { group: "scaling-capped", lag: l })
      ),
      run("horae --server-threads 1", 1, 200, { group: "scaling-uncapped", capCores: null }),
    ],
    notes: [],
  };
  const md = renderMarkdown(report);
  assert.match(md, /### Event loop under load/);
  assert.match(md, /`--loop-lag-ms 10`/);
  assert.match(
    md,
    /\| horae --server-threads 1 \(scaling-capped\) \| 50% of a core \| 0\.1k \| 0\.5 \| 44\.0 \| 50\.0 \| 90% \|/,
  );
  assert.doesNotMatch(md, /\(scaling-uncapped\)/, "a configuration without lag data has no row");
});

Deno.test("accessVerdict() compares Horae with its list to chronyd with its list and to itself", () => {
  const access = (label: string, runNo: number, perSec: number) =>
    run(label, runNo, perSec, { group: "access" });
  const runs = [
    run("chronyd", 1, 100),
    run("horae", 1, 120),
    access("chronyd", 1, 95),
    access("horae", 1, 114),
    run("chronyd", 2, 100),
    run("horae", 2, 110),
    access("chronyd", 2, 100),
    access("horae", 2, 104.5),
  ];
  const v = accessVerdict(runs)!;
  assert.ok(Math.abs(v.vsChronyd! - 109.25 / 97.5) < 1e-9);
  assert.ok(Math.abs(v.vsOwn! - 109.25 / 115) < 1e-9);
  assert.ok(Math.abs(v.pairedVsOwn! - 0.95) < 1e-9);
  assert.equal(v.met, true);
  // 1.05x chronyd: not met, and the section says so.
  const slow = runs.map((r) =>
    r.group === "access" && r.label === "horae" ? { ...r, repliesPerSec: r.repliesPerSec * 0.9 } : r
  );
  assert.equal(accessVerdict(slow)!.met, false);
  const md = renderMarkdown({ context: CONTEXT, runs: slow, notes: [] });
  assert.match(md, /### With a 1,000-entry access list/);
  assert.match(md, /horae, 1,000 restrict \+ monitor/);
  assert.match(md, /\*\*not met\*\*\./);
  assert.equal(accessVerdict([run("chronyd", 1, 1), run("horae", 1, 1)]), null);
});

Deno.test("authVerdicts() compares Horae with each key type to chronyd with the same type", () => {
  const auth = (type: string, label: string, runNo: number, perSec: number, invalid = 0) =>
    run(label, runNo, perSec, { group: `auth-${type}`, invalidTotal: invalid });
  const runs = [
    run("chronyd", 1, 100),
    run("horae", 1, 110),
    auth("MD5", "chronyd", 1, 90),
    auth("MD5", "horae", 1, 99),
    auth("AES128CMAC", "chronyd", 1, 92),
    auth("AES128CMAC", "horae", 1, 88, 3),
  ];
  const [md5, aes] = authVerdicts(runs);
  assert.equal(md5!.type, "MD5");
  assert.ok(Math.abs(md5!.vsChronyd! - 1.1) < 1e-9);
  assert.ok(Math.abs(md5!.vsUnsigned! - 0.9) < 1e-9);
  assert.equal(md5!.met, true);
  assert.equal(aes!.met, false, "below chronyd and with invalid replies");
  const md = renderMarkdown({ context: CONTEXT, runs, notes: [] });
  assert.match(md, /### With symmetric keys/);
  assert.match(md, /\| horae, MD5 key \| /);
  assert.match(md, /Target \(issue 13\), MD5: .* 1\.10x \(medians\).*\*\*met\*\*/);
  assert.match(md, /Target \(issue 13\), AES128CMAC: .*\*\*not met\*\*/);
  assert.deepEqual(authVerdicts([run("chronyd", 1, 1), run("horae", 1, 1)]), []);
});
