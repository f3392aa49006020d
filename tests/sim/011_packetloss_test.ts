// Simulator scenario "packetloss" (SIM_SCENARIOS.md): 33 % loss each way: RMS ≤ 125 µs (chrony 138 µs), T1ms ≤ 390 s.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim packetloss: 33 % loss each way: RMS ≤ 125 µs (chrony 138 µs), T1ms ≤ 390 s", () => {
  const s = runSeeds("packetloss");
  assert.ok(s.medianRmsSec <= 125e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianT1msSec <= 390, `T1ms ${s.medianT1msSec}`);
});
