import assert from "node:assert/strict";
import { combineSurvivors } from "./combine.ts";

Deno.test("combineSurvivors() averages offsets and frequencies by weight", () => {
  const r = combineSurvivors([
    { offsetSec: 0.001, weight: 3, freq: 1e-6 },
    { offsetSec: 0.005, weight: 1, freq: 5e-6 },
  ]);
  assert.ok(r !== null);
  assert.ok(Math.abs(r.offsetSec - 0.002) < 1e-15);
  assert.ok(Math.abs(r.freq - 2e-6) < 1e-18);
  assert.equal(r.weight, 4);
  // Jitter about the first (system peer) input: sqrt(1 * 0.004^2 / 4) = 0.002.
  assert.ok(Math.abs(r.selectionJitterSec - 0.002) < 1e-12);
});

Deno.test("combineSurvivors() returns null for nothing and falls back to the peer for zero weights", () => {
  assert.equal(combineSurvivors([]), null);
  const r = combineSurvivors([{ offsetSec: 0.25, weight: 0 }, { offsetSec: 9, weight: NaN }]);
  assert.deepEqual(r, { offsetSec: 0.25, freq: 0, selectionJitterSec: 0, weight: 0 });
});
