// Issue 18's packet budget: in every scenario where SIM_SCENARIOS.md gives chronyd's packet rate,
// Horae sends at most 1.1x as many (median of seeds 1-20, as the budget is stated: packetloss
// varies from 2.3 to 8.5 packets/1000 s between seeds). largejitter included: its noisy path
// polls while its samples still teach the frequency (association.ts NOISY_POLL_FREQ_FRACTION),
// 4.70 packets/1000 s against 4.84 allowed (it was minpoll throughout, 15.9).

import assert from "node:assert/strict";
import { SCENARIOS } from "../../lib/sim/scenarios.ts";
import { runSeeds } from "./_sim_helper.ts";

for (const sc of SCENARIOS) {
  if (sc.chronyTxPer1000s === undefined) continue;
  const limit = 1.1 * sc.chronyTxPer1000s;
  Deno.test(`sim ${sc.name}: at most 1.1x chronyd's ${sc.chronyTxPer1000s} packets/1000 s`, () => {
    const s = runSeeds(sc.name, Array.from({ length: 20 }, (_, i) => i + 1));
    assert.ok(s.medianTxPer1000s <= limit, `${s.medianTxPer1000s} packets/1000 s > ${limit}`);
  });
}

Deno.test("sim largejitter: within its packet budget, below chronyd's median and its own old worst seed", () => {
  const s = runSeeds("largejitter", Array.from({ length: 20 }, (_, i) => i + 1));
  // Minpoll throughout was 15.9 packets/1000 s at a median RMS of 12.35 ms, worst 34.4 ms.
  assert.ok(s.medianTxPer1000s < 5, `${s.medianTxPer1000s} packets/1000 s`);
  assert.ok(s.medianRmsSec < s.scenario.chronyRmsSec!, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.worstRmsSec < 34.4e-3, `worst RMS ${s.worstRmsSec}`);
});
