import assert from "node:assert/strict";
import {
  MEDIAN_MAX_SAMPLES,
  MEDIAN_STARTUP_OUTPUTS,
  MEDIAN_STARTUP_WINDOW_SEC,
  MedianFilter,
  medianFiltered,
} from "./median_filter.ts";
import { manualContext } from "./_test_context.ts";
import { addSec, fromUnix } from "../lib/proto/ntp_time.ts";
import type { RefclockSample } from "./driver.ts";

const T = fromUnix(1_760_000_000);
const at = (sec: number, offsetSec: number, dispersionSec = 1e-6): RefclockSample => ({
  time: addSec(T, sec),
  offsetSec,
  dispersionSec,
  leap: 0,
});

Deno.test("MedianFilter.take() averages the samples nearest the median; outliers are trimmed", () => {
  const f = new MedianFilter();
  assert.equal(f.take(), null);
  // Eight good samples near 1 ms and two late sentences at 300 ms.
  const offsets = [0.001, 0.0011, 0.0009, 0.3, 0.001, 0.00105, 0.00095, 0.31, 0.001, 0.001];
  offsets.forEach((o, i) => f.add(at(i, o)));
  const out = f.take()!;
  assert.ok(Math.abs(out.offsetSec - 0.001) < 2e-5, `${out.offsetSec}`);
  assert.ok(out.dispersionSec < 1e-4, `spread ${out.dispersionSec}`);
  assert.ok(out.dispersionSec >= 1e-6);
  // At the mean time of the samples kept, between the first and the last.
  assert.ok(out.time > T && out.time < addSec(T, 9));
  assert.equal(f.size, 0);
});

Deno.test("MedianFilter keeps at most MEDIAN_MAX_SAMPLES, dropping the oldest", () => {
  const f = new MedianFilter();
  for (let i = 0; i < MEDIAN_MAX_SAMPLES + 5; i++) f.add(at(i, i < 5 ? 1 : 0));
  assert.equal(f.size, MEDIAN_MAX_SAMPLES);
  assert.equal(f.overflow, 5);
  assert.equal(f.take()!.offsetSec, 0);
});

Deno.test("medianFiltered() gives a start-up burst at short windows, then one output a poll", () => {
  const m = manualContext(T, 16);
  const got: RefclockSample[] = [];
  const f = medianFiltered(m.ctx, (s) => got.push(s));
  // One sample a second for two minutes.
  for (let sec = 0; sec < 120; sec++) {
    f.add(at(sec, 0.002));
    m.advance(1);
  }
  const startup = MEDIAN_STARTUP_OUTPUTS * MEDIAN_STARTUP_WINDOW_SEC;
  assert.equal(got.length, MEDIAN_STARTUP_OUTPUTS + Math.floor((120 - startup) / 16));
  f.stop();
  m.advance(100);
  assert.equal(got.length, MEDIAN_STARTUP_OUTPUTS + Math.floor((120 - startup) / 16));
});
