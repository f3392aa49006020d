import assert from "node:assert/strict";
import { createDiscipline } from "./loop_filter.ts";
import { HoraeDiscipline } from "./horae_discipline.ts";
import { NtpdDiscipline } from "./ntpd_discipline.ts";
import { addSec, fromUnix } from "./ntp_time.ts";

const T0 = fromUnix(1_700_000_000);
const at = (s: number) => addSec(T0, s);
const est = (offsetSec: number, freqVar = 1e-14, freq = 0) => ({
  offsetSec,
  freq,
  offsetVar: 1e-10,
  freqVar,
});

Deno.test("createDiscipline() with discipline 'ntpd' runs ntpd's loop on raw offsets", () => {
  const lf = createDiscipline({ discipline: "ntpd", kernel: false, driftPpm: 2 });
  assert.ok(lf instanceof NtpdDiscipline);
  assert.equal(lf.kind, "ntpd");
  assert.equal(lf.state, "FSET");
  assert.equal(lf.pollLog2, 6);
  const r = lf.update(est(0.01), at(64));
  assert.equal(r.ignored, false);
  assert.equal(lf.state, "SYNC");
  // ntpd's loop does not report slews back to the filters, and samples are not corrected.
  assert.equal(r.phaseSec, 0);
  assert.equal(lf.pendingSlewSec(at(65)), 0);
  assert.notEqual(lf.deadline, null, "daemon slewing ticks every second");
});

Deno.test("createDiscipline() runs Horae's discipline by default", () => {
  const lf = createDiscipline();
  assert.ok(lf instanceof HoraeDiscipline);
  assert.equal(lf.kind, "horae");
  assert.equal(lf.pollLog2, null);
  assert.ok(createDiscipline({ discipline: "horae" }) instanceof HoraeDiscipline);
});

Deno.test("createDiscipline() hands the tinker values and options to the ntpd discipline", () => {
  const lf = createDiscipline({
    discipline: "ntpd",
    tinker: { step: 0.2, panic: 0 },
    kernel: false,
    precisionSec: 1e-7,
  });
  assert.equal(lf.stepThresholdSec, 0.2);
  assert.equal(lf.state, "NSET", "no drift file");
  assert.equal(lf.clockJitterSec, 1e-7, "jitter starts at the precision");
  // Panic disabled: a huge first offset steps instead of exiting.
  assert.equal(lf.update(est(5000), at(0)).stepped, true);
  assert.equal(createDiscipline({ discipline: "ntpd", slewOnly: true }).stepThresholdSec, 600);
});

Deno.test("createDiscipline() disciplines ask for different inputs, never by kind", () => {
  const h = createDiscipline();
  const n = createDiscipline({ discipline: "ntpd" });
  assert.deepEqual(
    [h.sampleSource, h.weightsByVariance, h.freshOutputOnly, h.pollFromEstimator],
    ["estimator", true, false, true],
  );
  assert.deepEqual(
    [n.sampleSource, n.weightsByVariance, n.freshOutputOnly, n.pollFromEstimator],
    ["register", false, true, false],
  );
  assert.equal(n.pollLog2, 6, "ntpd's time constant starts at its default minpoll");
  assert.notEqual(n.clockWanderPpm, null);
});
