// Simulator scenario "wan4" (SIM_SCENARIOS.md): 4 servers, D = 10 ms, J = 1 ms: RMS ≤ 190 µs (chrony 210 µs).

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim wan4: 4 servers, D = 10 ms, J = 1 ms: RMS ≤ 190 µs (chrony 210 µs)", () => {
  const s = runSeeds("wan4");
  assert.ok(s.medianRmsSec <= 190e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 4 * MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
