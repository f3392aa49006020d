// Tests for measurePrecision(): fake clocks with known steps, bounds, and the real clock sources.

import assert from "node:assert/strict";
import fc from "fast-check";
import { realtimeNs } from "../../ffi/libc.ts";
import { measurePrecision } from "./clock_precision.ts";

/** A fake clock advancing by `steps[i % steps.length]` ns per read. */
function fakeClock(steps: bigint[], startNs = 1_700_000_000_000_000_000n): () => bigint {
  let now = startNs;
  let i = 0;
  return () => {
    now += steps[i++ % steps.length]!;
    return now;
  };
}

Deno.test("measurePrecision() of a 40 ns/read clock is 2^-24 (29.8 ns < 40 ns ≤ 59.6 ns)", () => {
  const m = measurePrecision(fakeClock([40n]));
  assert.equal(m.minStepNs, 40);
  assert.equal(m.readCostNs, 40);
  assert.equal(m.precisionLog2, -24);
});

Deno.test("measurePrecision() of a 1 ms ticking clock is 2^-9 whatever the read cost", () => {
  // 49 reads see no change, then the clock jumps by a whole 1 ms tick.
  const steps = [...Array(49).fill(0n), 1_000_000n];
  const m = measurePrecision(fakeClock(steps));
  assert.equal(m.minStepNs, 1_000_000);
  assert.equal(m.precisionLog2, -9);
  assert.ok(m.reads >= 2000);
});

Deno.test("measurePrecision() takes the smallest nonzero step of a jittery clock", () => {
  const m = measurePrecision(fakeClock([70n, 0n, 35n, 120n, 0n, 500n]));
  assert.equal(m.minStepNs, 35);
  assert.equal(m.precisionLog2, -24); // 35 ns rounds up to 2^-24 s
});

Deno.test("measurePrecision() ignores backward steps of the clock", () => {
  const m = measurePrecision(fakeClock([100n, 100n, -1_000_000_000n, 100n]));
  assert.equal(m.minStepNs, 100);
  assert.equal(m.precisionLog2, -23);
});

Deno.test("measurePrecision() of a frozen clock stops at maxReads and reports precision 0", () => {
  const m = measurePrecision(() => 5n, { maxReads: 10_000 });
  assert.equal(m.reads, 10_000);
  assert.equal(m.minStepNs, Infinity);
  assert.equal(m.precisionLog2, 0);
  assert.equal(m.readCostNs, 0);
});

Deno.test("measurePrecision() never exceeds maxReads and never reports a step it did not see", () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`measurePrecision bounds: fast-check seed ${seed}`);
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: -1000n, max: 1_000_000n }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 5000 }),
      (steps, maxReads) => {
        const m = measurePrecision(fakeClock(steps), { maxReads });
        assert.ok(m.reads <= maxReads);
        const positive = steps.filter((s) => s > 0n).map(Number);
        if (m.minStepNs !== Infinity) {
          assert.ok(positive.includes(m.minStepNs));
          assert.ok(m.precisionLog2 >= -30 && m.precisionLog2 <= 0);
          assert.ok(2 ** m.precisionLog2 >= Math.min(1, m.minStepNs / 1e9));
        } else assert.equal(m.precisionLog2, 0);
      },
    ),
    { seed },
  );
});

Deno.test("measurePrecision() of FFI clock_gettime sees sub-millisecond steps", () => {
  const m = measurePrecision(realtimeNs);
  assert.ok(m.minStepNs > 0 && m.minStepNs < 1e6, `min step ${m.minStepNs} ns`);
  assert.ok(m.precisionLog2 < -9 && m.precisionLog2 >= -30, `precision ${m.precisionLog2}`);
});

Deno.test("measurePrecision() of Date.now() finds its whole-millisecond ticks", () => {
  const m = measurePrecision(() => BigInt(Date.now()) * 1_000_000n);
  assert.equal(m.minStepNs % 1e6, 0);
  assert.ok(m.precisionLog2 >= -9, `precision ${m.precisionLog2}`);
});
