// Simulator scenarios "tempcycle" and "freqstep" (issue 18): a daily 2 ppm sine in the
// oscillator's frequency, and a 20 ppm frequency step at 5000 s.

import assert from "node:assert/strict";
import { runScenario } from "../../lib/sim/runner.ts";
import { findScenario } from "../../lib/sim/scenarios.ts";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim tempcycle: a daily 2 ppm sine: median RMS ≤ 80 µs, better than ntpd's discipline", () => {
  horaeVersusNtpd("tempcycle", 80e-6, [1, 2]);
});

Deno.test("sim freqstep: a 20 ppm step: better than ntpd's discipline, back within 1 ms in 30 min", () => {
  const { horae } = horaeVersusNtpd("freqstep", 5e-3);
  for (const r of horae.runs) {
    assert.ok(
      r.metrics.t1ms_s !== null && r.metrics.t1ms_s < 5000 + 1800,
      `T1ms ${r.metrics.t1ms_s}`,
    );
  }
});

Deno.test("sim freqstep: the frequency is learnt again after the step", () => {
  const r = runScenario(findScenario("freqstep")!, { seed: 2, series: true });
  const last = r.series.at(-1)!;
  assert.ok(Math.abs(last.freqErrorPpm) < 0.5, `frequency error ${last.freqErrorPpm} ppm`);
});
