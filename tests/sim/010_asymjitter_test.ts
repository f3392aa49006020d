// Simulator scenario "asymjitter" (SIM_SCENARIOS.md): J = 500 µs, asym = 0.47, 100,000 s:
// RMS ≤ 77 µs (chrony's median). The estimator learns the offset/delay-excess correlation.

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim asymjitter: J = 500 µs, asym = 0.47: RMS ≤ 77 µs (chrony 77 µs)", () => {
  const s = runSeeds("asymjitter");
  assert.ok(s.medianRmsSec <= 77e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
