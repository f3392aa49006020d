// Simulator scenario "fixedpoll6" (SIM_SCENARIOS.md): minpoll = maxpoll = 6: RMS ≤ 20 µs (target; chrony 23.7 µs; 20-seed median 19.0 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim fixedpoll6: minpoll = maxpoll = 6: RMS ≤ 20 µs (target; chrony 23.7 µs; 20-seed median 19.0 µs)", () => {
  const s = runSeeds("fixedpoll6");
  assert.ok(s.medianRmsSec <= 20e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 1000 / 64 + 0.5, "one packet per 64 s");
});
