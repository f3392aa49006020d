// Simulator scenario "routechange" (issue 18): at 10,000 s the base delay steps from 100 µs to
// 3 ms, the jitter becomes asymmetric (0.3) and 100 µs of static delay appears one way, which
// moves the best possible estimate 50 µs off true time (unobservable).

import assert from "node:assert/strict";
import { runScenario } from "../../lib/sim/runner.ts";
import { findScenario } from "../../lib/sim/scenarios.ts";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim routechange: median RMS ≤ 300 µs, better than ntpd's discipline", () => {
  horaeVersusNtpd("routechange", 300e-6);
});

Deno.test("sim routechange: after the change the clock settles near the new path's unobservable 50 µs", () => {
  const r = runScenario(findScenario("routechange")!, { seed: 1, series: true });
  const late = r.series.slice(15_000).map((p) => p.offsetSec);
  const mean = late.reduce((a, b) => a + b, 0) / late.length;
  // Extra delay towards the server makes the server look late: the clock ends up 50 µs ahead.
  // The asymmetric jitter adds a bias the estimator's delay-excess term removes only in part
  // (seed 1: −17 µs in all, 67 µs from the best possible).
  assert.ok(Math.abs(mean - 50e-6) < 100e-6, `mean offset ${mean * 1e6} µs`);
  assert.ok(Math.max(...late.map(Math.abs)) < 1e-3);
});
