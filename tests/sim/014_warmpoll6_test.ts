// Simulator scenario "warmpoll6" (SIM_SCENARIOS.md): warm at fixed poll 6: RMS ≤ 20 µs (chrony 22.8 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim warmpoll6: warm at fixed poll 6: RMS ≤ 20 µs (chrony 22.8 µs)", () => {
  const s = runSeeds("warmpoll6");
  assert.ok(s.medianRmsSec <= 20e-6, `median RMS ${s.medianRmsSec}`);
});
