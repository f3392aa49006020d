// Simulator scenario "fixedpoll6" (SIM_SCENARIOS.md): minpoll = maxpoll = 6: RMS ≤ 23.7 µs (chrony's median; 20-seed median 20.8 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim fixedpoll6: minpoll = maxpoll = 6: RMS ≤ 23.7 µs (chrony's median; 20-seed median 20.8 µs)", () => {
  const s = runSeeds("fixedpoll6");
  assert.ok(s.medianRmsSec <= 23.7e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 1000 / 64 + 0.5, "one packet per 64 s");
});
