// Simulator scenario "warmwan4" (SIM_SCENARIOS.md): warm with 4 WAN servers: RMS ≤ 400 µs (chrony 573 µs).

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim warmwan4: warm with 4 WAN servers: RMS ≤ 400 µs (chrony 573 µs)", () => {
  const s = runSeeds("warmwan4");
  assert.ok(s.medianRmsSec <= 400e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 4 * MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
