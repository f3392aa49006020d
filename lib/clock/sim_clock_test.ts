import assert from "node:assert/strict";
import { ADJTIME_SLEW_RATE, SIM_MAX_FREQ_PPM, SimClock } from "./sim_clock.ts";
import { diffSec, fromUnix } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";

const T0 = fromUnix(1_700_000_000);
const make = (o: Partial<{ x0: number; y0: number; w: number; seed: number }> = {}) =>
  new SimClock({
    startTime: T0,
    initialOffsetSec: o.x0 ?? 0,
    initialFreq: o.y0 ?? 0,
    wander: o.w ?? 0,
    rng: new SeededRng(o.seed ?? 1),
  });

Deno.test("SimClock reads true time plus a phase that grows with its frequency error", () => {
  const c = make({ x0: 0.1, y0: 1e-4 });
  assert.ok(Math.abs(diffSec(c.now(), T0) - 0.1) < 1e-9);
  c.advanceTo(100);
  assert.ok(Math.abs(c.trueOffsetSec - 0.11) < 1e-12);
  assert.ok(Math.abs(diffSec(c.now(), T0) - 100.11) < 1e-9);
  assert.ok(Math.abs(c.trueSecAt(c.now()) - 100) < 1e-9);
});

Deno.test("SimClock steps, and frequency corrections cancel the error (clamped like Linux)", () => {
  const c = make({ y0: 1e-4 });
  c.step(-0.5);
  assert.ok(Math.abs(c.trueOffsetSec + 0.5) < 1e-12);
  c.adjust({ freqPpm: -100 });
  c.advanceTo(1000);
  assert.ok(Math.abs(c.trueOffsetSec + 0.5) < 1e-9);
  assert.ok(Math.abs(c.trueFreqError) < 1e-18);
  c.adjust({ freqPpm: 1e9 });
  assert.ok(Math.abs(c.freqCorrectionPpm - SIM_MAX_FREQ_PPM) < 1e-6);
  assert.deepEqual(c.counters, { steps: 1, adjusts: 2 });
});

Deno.test("SimClock slews adjtime offsets at 500 ppm from the kernel's next second", () => {
  const c = make();
  c.adjust({ offsetSec: 0.001 });
  assert.ok(Math.abs(c.kernel.adjtimeLeftSec - 0.001) < 1e-15, "ADJ_OFFSET_SINGLESHOT arrived");
  c.advanceTo(1);
  assert.equal(c.trueOffsetSec, 0, "the kernel starts at its next second");
  c.advanceTo(2);
  assert.ok(Math.abs(c.trueOffsetSec - ADJTIME_SLEW_RATE) < 1e-12);
  c.advanceTo(5);
  assert.ok(Math.abs(c.trueOffsetSec - 0.001) < 1e-12, "stops when done");
  assert.equal(c.kernel.adjtimeLeftSec, 0);
  assert.equal(c.kernelState().offsetSec, 0);
});

Deno.test("SimClock carries out the ntpd discipline's -q request: frequency, then the whole offset", () => {
  const c = make({ y0: 20e-6 });
  c.adjust({ freqPpm: -20, offsetSec: -0.119, estErrorSec: 0, maxErrorSec: 0.1 });
  assert.equal(c.kernel.freqPpm, -20);
  c.advanceTo(300);
  assert.ok(Math.abs(c.trueOffsetSec + 0.119) < 1e-9, `${c.trueOffsetSec}`);
  assert.equal(c.kernel.adjtimeLeftSec, 0);
  assert.ok(Math.abs(c.trueFreqError) < 1e-15);
});

Deno.test("SimClock.adjust({ release }) ends tick slews, adjtime and PLL residual at the base frequency", () => {
  const c = make({ y0: 3e-6 });
  // Mid-way through Horae's 5 % slew and an adjtime slew, with the PLL running.
  c.adjust({ offsetSec: 0.01, kernelPll: { constant: 4 } });
  c.adjust({ freqPpm: -50_000 - 3 });
  c.adjust({ offsetSec: 0.2 });
  c.advanceTo(2);
  let k = c.kernel;
  assert.equal(k.tickUs, 9_500);
  assert.ok(k.pllOffsetSec > 0 && k.adjtimeLeftSec > 0);
  c.adjust({ release: true, freqPpm: -3 });
  k = c.kernel;
  assert.equal(k.tickUs, 10_000);
  assert.equal(k.freqPpm, -3);
  assert.equal(k.pllOffsetSec, 0);
  assert.equal(k.adjtimeLeftSec, 0);
  assert.equal(k.status & 1, 1, "the PLL bit stays as it was");
  c.advanceTo(3); // the kernel second already begun keeps its chunk
  const x = c.trueOffsetSec;
  c.advanceTo(10_003);
  assert.ok(Math.abs(c.trueOffsetSec - x) < 1e-12, `${c.trueOffsetSec - x}`);
});

Deno.test("SimClock frequency random walk has the configured step size and is seeded", () => {
  const a = make({ w: 1e-9, seed: 9 });
  const b = make({ w: 1e-9, seed: 9 });
  a.advanceTo(40_000);
  b.advanceTo(40_000);
  assert.equal(a.trueOffsetSec, b.trueOffsetSec);
  // After n steps the frequency is N(0, n·w²): |y| ≤ 5σ = 1e-6 with overwhelming probability,
  // and far from zero compared with one step.
  const y = a.trueFreqError;
  assert.ok(Math.abs(y) < 5 * 1e-9 * Math.sqrt(40_000), `${y}`);
  assert.notEqual(y, 0);
  let sumSq = 0;
  for (let s = 0; s < 200; s++) {
    const c = make({ w: 1e-9, seed: 1000 + s });
    c.advanceTo(100);
    sumSq += c.trueFreqError ** 2;
  }
  const sd = Math.sqrt(sumSq / 200);
  assert.ok(sd > 0.8e-8 && sd < 1.2e-8, `σ after 100 steps ${sd}`);
});
