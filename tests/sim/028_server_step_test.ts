// Simulator scenarios "serverstep" and "serverstep3" (issue 18): a lone server steps by 100 ms
// for ten minutes (less than the 900 s stepout), and one of three servers steps by 100 ms for
// good. Neither may pull the clock: whole-run max |x| stays at the initial 1 ms.

import assert from "node:assert/strict";
import { horaeVersusNtpd } from "./_sim_helper.ts";

Deno.test("sim serverstep: a lone server's ten-minute 100 ms step is not followed", () => {
  const { horae } = horaeVersusNtpd("serverstep", 80e-6);
  assert.ok(horae.worstWholeRunSec < 1.5e-3, `whole-run max ${horae.worstWholeRunSec}`);
});

Deno.test("sim serverstep3: one of three servers stepping 100 ms for good is never followed", () => {
  const { horae } = horaeVersusNtpd("serverstep3", 80e-6);
  assert.ok(horae.worstWholeRunSec < 1.5e-3, `whole-run max ${horae.worstWholeRunSec}`);
});
