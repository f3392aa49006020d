// Simulator scenario "warm" (SIM_SCENARIOS.md): restart with a good drift file: RMS ≤ 90 µs (chrony 98 µs).

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim warm: restart with a good drift file: RMS ≤ 90 µs (chrony 98 µs)", () => {
  const s = runSeeds("warm");
  assert.ok(s.medianRmsSec <= 90e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
