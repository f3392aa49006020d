// Simulator scenario "congestion" (issue 18): correlated on/off congestion, 2 ms standing plus
// Exp(5 ms) up and Exp(2 ms) down for about 600 s of every 2400 s.

import assert from "node:assert/strict";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim congestion: on/off congestion: median RMS ≤ 200 µs, better than ntpd's discipline", () => {
  const { horae } = horaeVersusNtpd("congestion", 200e-6);
  assert.ok(horae.worstWholeRunSec < 10e-3, `whole-run max ${horae.worstWholeRunSec}`);
});
