// Simulator scenario "asymjitter" (SIM_SCENARIOS.md): J = 500 µs, asym = 0.47, 100,000 s. The
// estimator learns the offset/delay-excess correlation. Within 1.1x chronyd's packets (2.1 per
// 1000 s) the 20-seed median is 75.4 µs at 2.04 packets/1000 s (chronyd: 77 µs); the five seeds
// here give 87 µs, so the bound is looser than chronyd's median.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim asymjitter: J = 500 µs, asym = 0.47: RMS ≤ 95 µs within 1.1x chronyd's 2.1 packets/1000 s", () => {
  const s = runSeeds("asymjitter");
  assert.ok(s.medianRmsSec <= 95e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 1.1 * 2.1, `packets/1000 s ${s.medianTxPer1000s}`);
});
