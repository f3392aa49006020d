// Simulator scenario "largejitter" (SIM_SCENARIOS.md): J = 0.1 s, x0 = 1 s: RMS ≤ 15 ms (chrony 16.5 ms).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim largejitter: J = 0.1 s, x0 = 1 s: RMS ≤ 15 ms (chrony 16.5 ms)", () => {
  const s = runSeeds("largejitter");
  assert.ok(s.medianRmsSec <= 15e-3, `median RMS ${s.medianRmsSec}`);
});
