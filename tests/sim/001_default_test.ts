// Simulator scenario "default" (SIM_SCENARIOS.md): 1 server, defaults: RMS ≤ 65 µs (chrony 75 µs), T1ms ≤ 132 s, at ≤ 1.1× chrony's 3.7 packets/1000 s.

import assert from "node:assert/strict";
import { MAX_TX_PER_1000S, runSeeds } from "./_sim_helper.ts";

Deno.test("sim default: 1 server, defaults: RMS ≤ 65 µs (chrony 75 µs), T1ms ≤ 132 s, at ≤ 1.1× chrony's 3.7 packets/1000 s", () => {
  const s = runSeeds("default");
  assert.ok(s.medianRmsSec <= 65e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianT1msSec <= 132, `T1ms ${s.medianT1msSec}`);
  assert.ok(s.medianTxPer1000s <= MAX_TX_PER_1000S, `packets/1000 s ${s.medianTxPer1000s}`);
});
