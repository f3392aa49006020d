// No leak of true time into the core: a static path asymmetry is unobservable (SIM_SCENARIOS.md,
// "The physical limit"), so with 400 µs extra on the way to the server the clock must settle
// 200 µs off true time (within the noise of the scenario). An estimator that could see true
// time would settle near 0.

import assert from "node:assert/strict";
import { runScenario } from "../../lib/sim/runner.ts";
import { findScenario } from "../../lib/sim/scenarios.ts";

for (const name of ["warmpoll6", "default"]) {
  Deno.test(`sim ${name} with a static 400 µs one-way asymmetry settles 200 µs off true time`, () => {
    const base = findScenario(name)!;
    for (const seed of [1, 2, 3]) {
      const r = runScenario({ ...base, extraUpSec: 400e-6 }, { seed });
      const mean = r.metrics.mean_offset_s;
      assert.ok(Math.abs(mean - 200e-6) < 60e-6, `seed ${seed}: mean offset ${mean * 1e6} µs`);
    }
  });
}
