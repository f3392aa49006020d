// Simulator scenario "fixedpoll6" (SIM_SCENARIOS.md): minpoll = maxpoll = 6: RMS ≤ 20 µs (target; chrony 23.7 µs; 20-seed median 19.0 µs).

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim fixedpoll6: minpoll = maxpoll = 6: RMS ≤ 20 µs (target; chrony 23.7 µs; 20-seed median 19.0 µs)", () => {
  const s = runSeeds("fixedpoll6");
  assert.ok(s.medianRmsSec <= 20e-6, `median RMS ${s.medianRmsSec}`);
  assert.ok(s.medianTxPer1000s <= 1000 / 64 + 0.5, "one packet per 64 s");
});

Deno.test("sim fixedpoll6: worst of seeds 1-20 ≤ chronyd's worst (33.4 µs)", () => {
  // Seed 15 was 38.9 µs: the start-up residuals, scored as wander evidence, kept the frequency
  // swinging by 1-2 ppm between updates for about 2000 s (clock_filter.ts, SCORE_FROM_SAMPLES).
  const s = runSeeds("fixedpoll6", Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(s.worstRmsSec <= 33.4e-6, `worst RMS ${s.worstRmsSec}`);
});
