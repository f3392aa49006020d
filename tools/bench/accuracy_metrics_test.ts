import assert from "node:assert/strict";
import { errorSummary, ratio, type Reading } from "./accuracy_metrics.ts";

function readings(xs: (number | null)[], stepSec = 1): Reading[] {
  return xs.map((x, k) => ({ atSec: k * stepSec, offsetSec: x }));
}

Deno.test("errorSummary() takes RMS, max and mean after settling only", () => {
  const s = errorSummary(readings([0.5, 0.2, 3e-6, -4e-6, 3e-6, -4e-6]), 2);
  assert.equal(s.count, 4);
  assert.equal(s.missing, 0);
  assert.ok(Math.abs(s.rmsSec! - Math.sqrt((9e-12 + 16e-12) / 2)) < 1e-12);
  assert.equal(s.maxSec, 4e-6);
  assert.ok(Math.abs(s.meanSec! - -0.5e-6) < 1e-15);
});

Deno.test("errorSummary() times the last entry into the 1 ms band, not the first", () => {
  // In at 1 s, out again at 3 s, in for good from 4 s.
  const s = errorSummary(readings([0.01, 5e-4, 2e-4, 2e-3, 1e-4, -3e-4]), 0);
  assert.equal(s.timeToThresholdSec, 4);
  // A reading without an estimate breaks the band as an error would.
  assert.equal(errorSummary(readings([0.01, 5e-4, null, 1e-4]), 0).timeToThresholdSec, 3);
  // Outside at the end: never.
  assert.equal(errorSummary(readings([1e-4, 2e-3]), 0).timeToThresholdSec, null);
});

Deno.test("errorSummary() counts readings without an estimate and has no figures without any", () => {
  const s = errorSummary(readings([null, null, null]), 1);
  assert.deepEqual(s, {
    count: 0,
    missing: 2,
    meanSec: null,
    rmsSec: null,
    maxSec: null,
    timeToThresholdSec: null,
  });
});

Deno.test("ratio() is null without a denominator", () => {
  assert.equal(ratio(2, 4), 0.5);
  assert.equal(ratio(2, 0), null);
  assert.equal(ratio(null, 1), null);
});
