// Simulator scenario "lan" (SIM_SCENARIOS.md): J = 10 µs: RMS ≤ 15 µs (chrony 16.9 µs) at ≤ 1.1× chrony's default packet rate.

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim lan: J = 10 µs: RMS ≤ 15 µs (chrony 16.9 µs) at ≤ 1.1× chrony's default packet rate", () => {
  const s = runSeeds("lan");
  assert.ok(s.medianRmsSec <= 15e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
