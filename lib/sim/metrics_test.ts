import assert from "node:assert/strict";
import { MetricsCollector } from "./metrics.ts";

Deno.test("MetricsCollector computes RMS, p99, max and mean after the settle time", () => {
  const m = new MetricsCollector(10);
  for (let t = 0; t < 10; t++) m.record(t, 0.5, 1e-6); // before settling: ignored except T1ms
  for (let t = 10; t < 110; t++) m.record(t, t % 2 === 0 ? 2e-6 : -2e-6, 3e-9);
  const r = m.result(25, 110);
  assert.ok(Math.abs(r.rms_offset_s - 2e-6) < 1e-15);
  assert.equal(r.max_offset_s, 2e-6);
  assert.equal(r.p99_offset_s, 2e-6);
  assert.ok(Math.abs(r.mean_offset_s) < 1e-15);
  assert.ok(Math.abs(r.rms_freq_error - 3e-9) < 1e-18);
  assert.equal(r.max_offset_whole_run_s, 0.5);
  assert.equal(r.t1ms_s, 10);
  assert.equal(r.t100us_s, 10);
  assert.ok(Math.abs(r.tx_per_1000s - 25 / 110 * 1000) < 1e-9);
});

Deno.test("MetricsCollector reports null T1ms when the run ends outside 1 ms, 0 when always inside", () => {
  const bad = new MetricsCollector(0);
  for (let t = 0; t < 5; t++) bad.record(t, 0.002, 0);
  assert.equal(bad.result(0, 5).t1ms_s, null);
  const good = new MetricsCollector(0);
  for (let t = 0; t < 5; t++) good.record(t, 1e-5, 0);
  assert.equal(good.result(0, 5).t1ms_s, 0);
  assert.equal(good.result(0, 5).t100us_s, 0);
});
