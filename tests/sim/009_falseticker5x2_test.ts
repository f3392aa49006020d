// Simulator scenario "falseticker5x2" (SIM_SCENARIOS.md): 5 servers, two lying: never followed, RMS ≤ 68 µs (chrony 68 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim falseticker5x2: 5 servers, two lying: never followed, RMS ≤ 68 µs (chrony 68 µs)", () => {
  const s = runSeeds("falseticker5x2");
  assert.ok(s.worstWholeRunSec <= 0.12, `whole-run max ${s.worstWholeRunSec}`);
  assert.ok(s.medianRmsSec <= 68e-6, `median RMS ${s.medianRmsSec}`);
  for (const r of s.runs) assert.deepEqual(r.falsetickers.sort(), [1, 2]);
});
