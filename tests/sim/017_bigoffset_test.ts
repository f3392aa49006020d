// Simulator scenario "bigoffset" (SIM_SCENARIOS.md): x0 = 100 s: one step, then tracking as in default.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim bigoffset: x0 = 100 s: one step, then tracking as in default", () => {
  const s = runSeeds("bigoffset");
  for (const r of s.runs) {
    assert.equal(r.events.filter((e) => e.message.startsWith("time reset")).length, 1);
  }
  assert.ok(s.medianT1msSec <= 132, `T1ms ${s.medianT1msSec}`);
  assert.ok(s.medianRmsSec <= 65e-6, `median RMS ${s.medianRmsSec}`);
});
