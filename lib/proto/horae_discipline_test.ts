import assert from "node:assert/strict";
import { HoraeDiscipline, MAX_SLEW_RATE } from "./horae_discipline.ts";
import type { DisciplineAdjustClockAction } from "./ntpd_discipline.ts";
import { addSec, fromUnix } from "./ntp_time.ts";
import type { Action } from "./events.ts";

const T0 = fromUnix(1_700_000_000);
const at = (s: number) => addSec(T0, s);
const est = (offsetSec: number, freqVar = 1e-14, freq = 0) => ({
  offsetSec,
  freq,
  offsetVar: 1e-10,
  freqVar,
});
const kinds = (a: Action[]) => a.map((x) => x.type);

Deno.test("HoraeDiscipline steps the first offset above 0.128 s and logs 'time reset'", () => {
  const lf = new HoraeDiscipline();
  const r = lf.update(est(0.5), at(0));
  assert.equal(r.stepped, true);
  const step = r.actions.find((a) => a.type === "stepClock");
  assert.deepEqual(step, { type: "stepClock", offsetSec: 0.5 });
  const ev = r.actions.find((a) => a.type === "event");
  assert.ok(ev?.type === "event" && ev.message === "time reset +0.500000 s");
});

Deno.test("HoraeDiscipline ignores a later spike until stepout has passed, then steps", () => {
  const lf = new HoraeDiscipline();
  lf.update(est(0.001), at(0));
  const spike = lf.update(est(0.3), at(64));
  assert.equal(spike.ignored, true);
  assert.equal(lf.state, "SPIK");
  assert.equal(lf.update(est(0.3), at(64 + 800)).ignored, true);
  const step = lf.update(est(0.3), at(64 + 901));
  assert.equal(step.stepped, true);
  // A spike that goes away is forgotten.
  const lf2 = new HoraeDiscipline();
  lf2.update(est(0.001), at(0));
  lf2.update(est(0.3), at(64));
  assert.equal(lf2.update(est(0.002), at(128)).ignored, false);
  assert.equal(lf2.state, "SYNC");
});

Deno.test("HoraeDiscipline panics above 1000 s unless -g allows the first step", () => {
  const lf = new HoraeDiscipline({ driftPpm: 12 });
  const r = lf.update(est(2000), at(0));
  assert.deepEqual(kinds(r.actions), ["event", "adjustClock", "reset"]);
  const release = r.actions[1]!;
  assert.ok(release.type === "adjustClock" && release.release === true);
  assert.equal(release.freqPpm, 12, "released at the drift");
  const reset = r.actions[2]!;
  assert.ok(reset.type === "reset" && reset.exit && reset.exitCode === 1);
  const g = new HoraeDiscipline({ allowBigFirstStep: true });
  assert.equal(g.update(est(2000), at(0)).stepped, true);
  assert.equal(g.update(est(2000), at(64)).ignored, true, "only the first may exceed panic");
});

Deno.test("HoraeDiscipline -x slews offsets up to 600 s instead of stepping", () => {
  const lf = new HoraeDiscipline({ slewOnly: true });
  const r = lf.update(est(5), at(0));
  assert.equal(r.stepped, false);
  assert.ok(!kinds(r.actions).includes("stepClock"));
  const adj = r.actions.find((a) => a.type === "adjustClock");
  assert.ok(adj?.type === "adjustClock" && Math.abs(adj.freqPpm - MAX_SLEW_RATE * 1e6) < 1e-6);
});

Deno.test("HoraeDiscipline -q slews once, then releases the clock and asks to exit with 0 when the slew ends", () => {
  const lf = new HoraeDiscipline({ setOnce: true, driftPpm: 7 });
  // −0.119 s at the fastest slew (5 %): 2.38 s, read on a clock running 5 % slow.
  const r = lf.update(est(-0.119, 1), at(0));
  assert.deepEqual(kinds(r.actions), ["adjustClock", "event"]);
  const slew = r.actions[0]!;
  assert.ok(slew.type === "adjustClock" && Math.abs(slew.freqPpm - (7 - 50_000)) < 1e-6);
  assert.equal(lf.update(est(0.01), at(1)).ignored, true, "one correction only");
  const end = lf.deadline!;
  assert.ok(Math.abs(Number(end - at(0)) / 2 ** 32 - 2.38 * 0.95) < 1e-6);
  assert.deepEqual(lf.onTimer(at(1)), [], "not before the slew is over");
  const done = lf.onTimer(end);
  assert.deepEqual(kinds(done), ["adjustClock", "reset"]);
  const release = done[0]!;
  assert.ok(release.type === "adjustClock" && release.release === true && release.freqPpm === 7);
  assert.ok(done[1]!.type === "reset" && done[1]!.exit && done[1]!.exitCode === 0);
  assert.equal(lf.deadline, null);
  // A step needs no waiting.
  const big = new HoraeDiscipline({ setOnce: true });
  assert.deepEqual(kinds(big.update(est(0.5), at(0)).actions), [
    "stepClock",
    "adjustClock",
    "event",
    "adjustClock",
    "reset",
  ]);
});

Deno.test("HoraeDiscipline.release() abandons a slew in progress and leaves the base frequency", () => {
  const lf = new HoraeDiscipline({ driftPpm: -3 });
  lf.update(est(0.05, 1), at(0));
  assert.ok(lf.pendingSlewSec(at(0.2)) > 0.03);
  const r = lf.release();
  assert.equal(r.length, 1);
  const a = r[0]!;
  assert.ok(a.type === "adjustClock" && a.release === true && a.freqPpm === -3);
  assert.equal(a.offsetSec, undefined);
  assert.equal(lf.pendingSlewSec(at(0.2)), 0);
  assert.equal(lf.deadline, null);
  assert.equal(lf.update(est(0.05), at(10)).ignored, true, "nothing steers after a release");
  assert.deepEqual(
    new HoraeDiscipline({ ntpEnabled: false }).release(),
    [],
    "disable ntp: untouched",
  );
});

Deno.test("HoraeDiscipline slews the phase over time and reports what is still pending", () => {
  const lf = new HoraeDiscipline();
  const r = lf.update(est(0.01), at(0));
  const adj = r.actions.find((a) => a.type === "adjustClock");
  assert.ok(adj?.type === "adjustClock");
  // 10 ms over the shortest slew (1 s): +10000 ppm on top of the base frequency.
  assert.ok(Math.abs(adj.freqPpm - 10_000) < 1e-6);
  const p0 = lf.pendingSlewSec(at(0));
  const p1 = lf.pendingSlewSec(at(0.1));
  assert.ok(Math.abs(p0 - 0.01) < 1e-9, `${p0}`);
  assert.ok(p1 > 0 && p1 < p0);
  assert.equal(lf.pendingSlewSec(at(1.02)), 0);
  assert.deepEqual(lf.onTimer(at(0.5)), [], "not yet over");
  const end = lf.onTimer(at(1.02));
  assert.deepEqual(kinds(end), ["adjustClock"]);
  assert.equal(lf.deadline, null);
});

Deno.test("HoraeDiscipline applies the frequency only once it is known well enough", () => {
  const lf = new HoraeDiscipline();
  const vague = lf.update(est(0.001, (100e-6) ** 2, 5e-6), at(0));
  assert.equal(vague.freq, 0);
  assert.equal(lf.state, "FREQ");
  const sure = lf.update(est(0.001, (1e-6) ** 2, 5e-6), at(64));
  assert.ok(Math.abs(sure.freq - 5e-6) < 1e-15);
  assert.ok(Math.abs(lf.freqPpm - 5) < 1e-9);
  assert.equal(lf.state, "SYNC");
});

Deno.test("HoraeDiscipline starts at the drift file frequency in FSET and clamps to ±500 ppm", () => {
  const lf = new HoraeDiscipline({ driftPpm: -12.5 });
  assert.equal(lf.state, "FSET");
  const start = lf.start();
  assert.ok(start[0]?.type === "adjustClock" && start[0].freqPpm === -12.5);
  lf.update(est(0.0001, 1e-14, -900e-6), at(0));
  assert.equal(lf.freqPpm, -500);
});

Deno.test("HoraeDiscipline asks for the estimator's samples, variance weights and polls", () => {
  const lf = new HoraeDiscipline();
  assert.equal(lf.kind, "horae");
  assert.equal(lf.sampleSource, "estimator");
  assert.equal(lf.weightsByVariance, true);
  assert.equal(lf.freshOutputOnly, false);
  assert.equal(lf.pollFromEstimator, true);
  assert.equal(lf.pollLog2, null, "no loop time constant");
  assert.equal(lf.clockJitterSec, null);
  assert.equal(lf.clockWanderPpm, null);
});

Deno.test("HoraeDiscipline does nothing with 'disable ntp'", () => {
  const lf = new HoraeDiscipline({ ntpEnabled: false });
  assert.deepEqual(lf.start(), []);
  assert.equal(lf.update(est(0.5), at(0)).ignored, true);
});

Deno.test("HoraeDiscipline.setLeap() writes the kernel leap bits once, with a kern event", () => {
  const lf = new HoraeDiscipline({ driftPpm: 4 });
  lf.start();
  const armed = lf.setLeap(1);
  const w = armed[0] as DisciplineAdjustClockAction;
  assert.equal(w.type, "adjustClock");
  assert.equal(w.leap, 1);
  assert.equal(w.freqPpm, 4, "the frequency in force is rewritten unchanged");
  assert.ok(armed[1]?.type === "event" && armed[1].message === "kernel time sync status 2010");
  assert.deepEqual(lf.setLeap(1), []);
  const cleared = lf.setLeap(0);
  assert.ok(
    cleared[1]?.type === "event" && cleared[1].message === "kernel time sync status change 2000",
  );
  assert.deepEqual(new HoraeDiscipline({ ntpEnabled: false }).setLeap(1), []);
});

Deno.test("HoraeDiscipline applies the frequency estimate while a spike waits out the stepout", () => {
  const lf = new HoraeDiscipline();
  lf.update(est(0.001), at(0));
  // The spike's offset is left alone, but the estimator's frequency (-100 ppm) is applied.
  const r = lf.update(est(0.3, 1e-14, -100e-6), at(64));
  assert.equal(lf.state, "SPIK");
  assert.equal(r.stepped, false);
  assert.equal(r.phaseSec, 0);
  assert.ok(Math.abs(r.freq + 100e-6) < 1e-12, `freq ${r.freq}`);
  assert.ok(Math.abs(lf.freqPpm + 100) < 1e-9);
  const adj = r.actions.find((a) => a.type === "adjustClock") as DisciplineAdjustClockAction;
  assert.ok(Math.abs(adj.freqPpm + 100) < 1e-6, `adjust ${adj.freqPpm}`);
  assert.ok(!r.actions.some((a) => a.type === "stepClock"));
  // An uncertain frequency is not applied.
  const lf2 = new HoraeDiscipline();
  lf2.update(est(0.001), at(0));
  assert.equal(lf2.update(est(0.3, 1e-6, -100e-6), at(64)).ignored, true);
});

Deno.test("HoraeDiscipline does not step on an estimate too uncertain to step on (one sample of a 0.1 s path)", () => {
  const lf = new HoraeDiscipline();
  const noisy = { offsetSec: 0.9, freq: 0, offsetVar: 0.06 ** 2, freqVar: 1 };
  const r = lf.update(noisy, at(0));
  assert.equal(r.ignored, true);
  assert.ok(!r.actions.some((a) => a.type === "stepClock"));
  // Four samples later the estimate is good to 25 ms: now it steps.
  const r2 = lf.update({ ...noisy, offsetVar: 0.025 ** 2 }, at(256));
  assert.equal(r2.stepped, true);
});

Deno.test("HoraeDiscipline steps a large offset on an honest but noisy estimate from its fourth sample", () => {
  // A 0.1 s path's estimate after a few samples: 1 s off, known to 60 ms. The step threshold's
  // quarter (32 ms) is not reached for many samples; waiting kept the whole second meanwhile.
  const noisy = { offsetSec: 1, freq: 0, offsetVar: 0.06 ** 2, freqVar: 1 };
  const lf = new HoraeDiscipline();
  for (let i = 0; i < 3; i++) {
    const r = lf.update(noisy, at(64 * i));
    assert.equal(r.stepped, false, `stepped on sample ${i + 1}`);
    assert.ok(!r.actions.some((a) => a.type === "stepClock"));
  }
  const r = lf.update(noisy, at(192));
  assert.equal(r.stepped, true);
  assert.ok(r.actions.some((a) => a.type === "stepClock" && a.offsetSec === 1));
  // An offset the estimate cannot tell from the threshold still waits: 0.2 s ± 60 ms.
  const lf2 = new HoraeDiscipline();
  for (let i = 0; i < 6; i++) {
    assert.equal(lf2.update({ ...noisy, offsetSec: 0.2 }, at(64 * i)).stepped, false);
  }
  // However large the offset, a step waits for a sigma of half the threshold (64 ms): 10 s known
  // to 1.2 s would leave about a second of error and a second step, perhaps backwards.
  const lf3 = new HoraeDiscipline();
  for (let i = 0; i < 6; i++) {
    const big = { ...noisy, offsetSec: 10, offsetVar: 1.2 ** 2 };
    assert.equal(lf3.update(big, at(64 * i)).stepped, false, `10 s ± 1.2 s, estimate ${i + 1}`);
  }
  assert.equal(lf3.update({ ...noisy, offsetSec: 10 }, at(384)).stepped, true, "10 s ± 60 ms");
  // A variance that is not a number never counts as small enough.
  const lf4 = new HoraeDiscipline();
  for (let i = 0; i < 6; i++) {
    assert.equal(lf4.update({ ...noisy, offsetVar: NaN }, at(64 * i)).stepped, false);
  }
});
