// Simulator scenarios "pareto" and "lognormal" (issue 18): the jitter term E drawn from
// Pareto(α = 1.5) (infinite variance) or log-normal(σ = 1.5) with mean 1 instead of Exp(1).

import assert from "node:assert/strict";
import { horaeVersusNtpd } from "./_sim_helper.ts";

for (const [name, bound] of [["pareto", 70e-6], ["lognormal", 90e-6]] as const) {
  Deno.test(`sim ${name}: heavy-tailed delays: median RMS ≤ ${bound * 1e6} µs, better than ntpd's discipline`, () => {
    const { horae } = horaeVersusNtpd(name, bound);
    assert.ok(horae.worstWholeRunSec < 2e-3, `whole-run max ${horae.worstWholeRunSec}`);
  });
}
