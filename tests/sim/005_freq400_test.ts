// Simulator scenario "freq400" (SIM_SCENARIOS.md): y0 = 400 ppm, x0 = −52 ms: locks within the settle time (no published reference).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim freq400: y0 = 400 ppm, x0 = −52 ms: locks within the settle time (no published reference)", () => {
  const s = runSeeds("freq400");
  assert.ok(s.medianT1msSec <= 200, `T1ms ${s.medianT1msSec}`);
  assert.ok(s.worstRmsSec <= 150e-6, `worst RMS ${s.worstRmsSec}`);
  for (const r of s.runs) {
    assert.ok(r.metrics.max_offset_s < 1e-3, "stays within 1 ms after settling");
  }
});
