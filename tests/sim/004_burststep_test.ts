// Simulator scenario "burststep" (SIM_SCENARIOS.md): x0 = 0.5 s with iburst: one step, T1ms ≤ 5 s, RMS ≤ 20 µs (chrony 20 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim burststep: x0 = 0.5 s with iburst: one step, T1ms ≤ 5 s, RMS ≤ 20 µs (chrony 20 µs)", () => {
  const s = runSeeds("burststep");
  assert.ok(s.medianT1msSec <= 5, `T1ms ${s.medianT1msSec}`);
  assert.ok(s.medianRmsSec <= 20e-6, `median RMS ${s.medianRmsSec}`);
  for (const r of s.runs) {
    assert.equal(r.events.filter((e) => e.message.startsWith("time reset")).length, 1);
  }
});
