// Simulator scenario "lossburst" (issue 18): every packet lost for an hour, twice. The clock
// holds over on its frequency estimate and comes back without a jump.

import assert from "node:assert/strict";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim lossburst: two one-hour outages: median RMS ≤ 150 µs, better than ntpd's discipline", () => {
  const { horae } = horaeVersusNtpd("lossburst", 150e-6);
  assert.ok(horae.worstWholeRunSec < 2e-3, `whole-run max ${horae.worstWholeRunSec}`);
});
