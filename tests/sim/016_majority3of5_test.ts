// Simulator scenario "majority3of5" (SIM_SCENARIOS.md): 3 of 5 servers lie (+1, +2, +3 s): no majority, the clock is never moved.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim majority3of5: 3 of 5 servers lie (+1, +2, +3 s): no majority, the clock is never moved", () => {
  const s = runSeeds("majority3of5");
  for (const r of s.runs) {
    assert.equal(r.clockUpdates, 0);
    assert.equal(r.falsetickers.length, 5);
    assert.ok(!r.events.some((e) => e.message.startsWith("time reset")));
    // Free-running from x0 = 0.1 s at 100 ppm: nothing but drift.
    assert.ok(r.metrics.max_offset_whole_run_s <= 0.1 + 1e-4 * 10_000 + 0.01);
  }
});
