import assert from "node:assert/strict";
import { LOCAL_BURST, LOCAL_BURST_SPACING_SEC, LocalDriver } from "./local.ts";
import type { RefclockSample } from "./driver.ts";

Deno.test("LocalDriver gives a start-up burst that fills the clock filter, then one sample a poll", () => {
  const d = new LocalDriver(0, { time1Sec: 0.002 });
  assert.equal(d.fudge.stratum, 10);
  assert.equal(d.fudge.refid, "LOCL");
  const timers: { sec: number; fn: () => void; live: boolean }[] = [];
  const got: RefclockSample[] = [];
  d.start({
    now: () => 5n,
    every: (sec, fn) => {
      const t = { sec, fn, live: true };
      timers.push(t);
      return () => (t.live = false);
    },
    pollSec: 64,
    log: () => {},
  }, (s) => got.push(s));
  assert.equal(got.length, 1);
  for (let i = 0; i < 20 && got.length < LOCAL_BURST; i++) timers.filter((t) => t.live)[0]!.fn();
  assert.equal(got.length, LOCAL_BURST);
  assert.equal(timers[0]!.sec, LOCAL_BURST_SPACING_SEC);
  const live = timers.filter((t) => t.live);
  assert.deepEqual(live.map((t) => t.sec), [64]);
  live[0]!.fn();
  assert.equal(got.length, LOCAL_BURST + 1);
  assert.ok(got.every((s) => s.offsetSec === 0.002 && s.leap === 0));
  d.stop();
  assert.equal(timers.filter((t) => t.live).length, 0);
});
