// Simulator scenarios "falseticker3" and "majority3of5" under the classic ntpd discipline. Unlike
// ntpd 4.2.6 (which follows the +1 s server to 1.09 s in falseticker3), selection stays Horae's
// under either discipline: a falseticker is never followed, no majority means no clock update.

import assert from "node:assert/strict";
import { runSeeds } from "./_sim_helper.ts";

Deno.test("sim falseticker3, ntpd discipline: the +1 s server is never followed (whole-run max ≤ 0.2 s)", () => {
  const s = runSeeds("falseticker3", undefined, { discipline: "ntpd" });
  assert.ok(s.worstWholeRunSec <= 0.2, `whole-run max ${s.worstWholeRunSec}`);
  for (const r of s.runs) assert.deepEqual(r.falsetickers, [1], `seed ${r.seed}`);
});

Deno.test("sim majority3of5, ntpd discipline: no majority, the clock is never moved", () => {
  const s = runSeeds("majority3of5", undefined, { discipline: "ntpd" });
  for (const r of s.runs) {
    assert.equal(r.clockUpdates, 0, `seed ${r.seed}`);
    assert.ok(!r.events.some((e) => e.message.startsWith("time reset")));
  }
});
