import assert from "node:assert/strict";
import { exponential, normal, SeededRng } from "./rng.ts";

Deno.test("SeededRng gives the same stream for the same seed and another for another seed", () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const c = new SeededRng(43);
  const xs = Array.from({ length: 16 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 16 }, () => b.nextU32()), xs);
  assert.notDeepEqual(Array.from({ length: 16 }, () => c.nextU32()), xs);
});

Deno.test("SeededRng.nextFloat() stays in [0, 1) and is uniform on average", () => {
  const r = new SeededRng(7);
  let sum = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = r.nextFloat();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
});

Deno.test("exponential() has mean 1 and normal() has mean 0 and variance 1", () => {
  const r = new SeededRng(11);
  const n = 200_000;
  let e = 0;
  let m = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const x = exponential(r);
    assert.ok(x >= 0);
    e += x;
    const g = normal(r);
    m += g;
    v += g * g;
  }
  assert.ok(Math.abs(e / n - 1) < 0.01, `exp mean ${e / n}`);
  assert.ok(Math.abs(m / n) < 0.01, `normal mean ${m / n}`);
  assert.ok(Math.abs(v / n - 1) < 0.02, `normal variance ${v / n}`);
});
