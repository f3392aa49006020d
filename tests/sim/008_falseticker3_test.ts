// Simulator scenario "falseticker3" (SIM_SCENARIOS.md): 3 servers, one +1 s: never followed (whole-run max ≤ 0.12 s), T1ms ≤ 140 s, RMS ≤ 75 µs.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim falseticker3: 3 servers, one +1 s: never followed (whole-run max ≤ 0.12 s), T1ms ≤ 140 s, RMS ≤ 75 µs", () => {
  const s = runSeeds("falseticker3");
  assert.ok(s.worstWholeRunSec <= 0.12, `whole-run max ${s.worstWholeRunSec}`);
  assert.ok(s.medianT1msSec <= 140, `T1ms ${s.medianT1msSec}`);
  assert.ok(s.medianRmsSec <= 75e-6, `median RMS ${s.medianRmsSec}`);
  for (const r of s.runs) assert.deepEqual(r.falsetickers, [1]);
});
