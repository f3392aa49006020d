import assert from "node:assert/strict";
import { runScenario } from "./runner.ts";
import { findScenario } from "./scenarios.ts";

const sc = findScenario("default")!;

Deno.test("runScenario() is deterministic for a seed and differs between seeds", () => {
  const a = runScenario(sc, { seed: 4, durationSec: 3000 });
  const b = runScenario(sc, { seed: 4, durationSec: 3000 });
  const c = runScenario(sc, { seed: 5, durationSec: 3000 });
  assert.deepEqual(a.metrics, b.metrics);
  assert.equal(a.packets, b.packets);
  assert.notDeepEqual(a.metrics, c.metrics);
});

Deno.test("runScenario() drives the core through packets: it syncs and logs like ntpd", () => {
  const r = runScenario(sc, { seed: 1, durationSec: 2000, series: true });
  assert.ok(r.packets > 5);
  assert.ok(r.clockUpdates > 3);
  assert.ok(r.events.some((e) => e.message === "synchronized to 192.0.2.1, stratum 1"));
  assert.equal(r.series.length, 2001);
  assert.ok(Math.abs(r.series[0]!.offsetSec - 0.1) < 1e-12);
  assert.ok(Math.abs(r.series.at(-1)!.offsetSec) < 1e-3);
});

Deno.test("runScenario() with a lying majority never moves the clock towards them", () => {
  const r = runScenario(findScenario("majority3of5")!, { seed: 2, durationSec: 3000 });
  assert.equal(r.clockUpdates, 0);
  assert.equal(r.falsetickers.length, 5);
});

Deno.test("runScenario() fires a timer when the slewed clock shows its deadline: a slew ends at the right true time", () => {
  // A 50 ms forward slew at 5 % lasts about a second. A timer placed by true time ignoring the
  // slew's rate ended it 5 % late, over-slewing by 2.5 ms; read on the clock it ends on time.
  const quiet = {
    ...findScenario("lan")!,
    name: "slew-end",
    initialOffsetSec: -0.05,
    initialFreq: 0,
    wander: 0,
    jitterSec: 1e-6,
    driftFile: true,
  };
  const r = runScenario(quiet, { seed: 3, durationSec: 400, series: true });
  assert.ok(r.maxTimerLateSec < 1e-6, `timer late by ${r.maxTimerLateSec} s`);
  const start = r.series.findIndex((p) => Math.abs(p.offsetSec + 0.05) > 1e-3);
  assert.ok(start > 0, "the slew started");
  // Two seconds later the slew is over: what is left is the measurement error only.
  const after = r.series[start + 2]!.offsetSec;
  assert.ok(Math.abs(after) < 50e-6, `offset after the slew ${after} s`);
});
