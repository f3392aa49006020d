// Simulator scenarios "onesided" and "onesidedburst" (issue 18): queueing on the way to the
// server only (Exp(500 µs) always, or 1 ms + Exp(2 ms) in bursts), which biases every sample
// the same way. The minimum-delay samples still carry the truth: Horae must stay within a few
// tens of µs and beat ntpd's discipline on the same seeds.

import assert from "node:assert/strict";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim onesided: Exp(500 µs) one-sided queueing: median RMS ≤ 120 µs, better than ntpd's discipline", () => {
  const { horae } = horaeVersusNtpd("onesided", 120e-6);
  assert.ok(horae.worstWholeRunSec < 2e-3, `whole-run max ${horae.worstWholeRunSec}`);
});

Deno.test("sim onesidedburst: bursty one-sided queueing: median RMS ≤ 150 µs, better than ntpd's discipline", () => {
  const { horae } = horaeVersusNtpd("onesidedburst", 150e-6);
  assert.ok(horae.worstWholeRunSec < 5e-3, `whole-run max ${horae.worstWholeRunSec}`);
});
