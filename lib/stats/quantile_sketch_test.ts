import assert from "node:assert/strict";
import { QuantileSketch } from "./quantile_sketch.ts";

/** Exact quantile by the same rank rule (nearest rank at q·(n−1), rounded down). */
function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

Deno.test("QuantileSketch quantiles are within 1 % of the exact ones, across signs and decades", () => {
  // A deterministic spread over 9 decades, both signs, and a few zeros.
  const values: number[] = [];
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const u = x / 2147483648;
    values.push((u < 0.3 ? -1 : 1) * 10 ** (-9 + 9 * ((i * 7919) % 1000) / 1000));
  }
  values.push(0, 0, 0);
  const s = new QuantileSketch();
  for (const v of values) s.add(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]) {
    const want = exact(sorted, q);
    const got = s.quantile(q);
    assert.ok(Math.abs(got - want) <= Math.abs(want) * 0.0101 + 1e-12, `q ${q}: ${got} vs ${want}`);
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(s.mean - mean) < 1e-9 * Math.abs(mean) + 1e-15);
  assert.equal(s.count, values.length);
  assert.equal(s.min, sorted[0]);
  assert.equal(s.max, sorted.at(-1));
  assert.ok(s.size < 2500, `${s.size} bins`);
});

Deno.test("QuantileSketch's size depends on the range of magnitudes, not on the count", () => {
  // Values within ±1e-4: at most one bin per 2 % step of magnitude from 1e-12 up, per sign.
  const bound = 2 * Math.ceil(Math.log(1e-4 / 1e-12) / Math.log(1.02)) + 1;
  const s = new QuantileSketch();
  for (let i = 0; i < 400_000; i++) s.add(1e-4 * Math.sin(i) * Math.cos(i * 0.37));
  assert.ok(s.size <= bound, `${s.size} bins > ${bound}`);
  assert.equal(s.count, 400_000);
  assert.ok(Math.abs(s.std - 0.5e-4) < 0.5e-5, `${s.std}`);
});

Deno.test("QuantileSketch ignores non-finite values and reports NaN when empty", () => {
  const s = new QuantileSketch();
  assert.ok(Number.isNaN(s.quantile(0.5)));
  s.add(NaN);
  s.add(Infinity);
  assert.equal(s.count, 0);
  s.add(-3);
  assert.equal(s.quantile(0.5), -3);
});
