import assert from "node:assert/strict";
import fc from "fast-check";
import { selectTruechimers } from "./select.ts";

Deno.test("selectTruechimers() keeps the agreeing majority and drops a distant falseticker", () => {
  const r = selectTruechimers([
    { id: 1, offsetSec: 1.0, rootDistanceSec: 0.01 },
    { id: 2, offsetSec: 0.001, rootDistanceSec: 0.01 },
    { id: 3, offsetSec: -0.002, rootDistanceSec: 0.01 },
  ]);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.deepEqual(r.survivors.sort(), [2, 3]);
  assert.deepEqual(r.falsetickers, [1]);
  assert.ok(r.lowSec <= 0 && r.highSec >= -0.001);
});

Deno.test("selectTruechimers() reports no majority when three of five disagree with everyone", () => {
  const r = selectTruechimers([
    { id: 1, offsetSec: 1, rootDistanceSec: 0.01 },
    { id: 2, offsetSec: 2, rootDistanceSec: 0.01 },
    { id: 3, offsetSec: 3, rootDistanceSec: 0.01 },
    { id: 4, offsetSec: 0, rootDistanceSec: 0.01 },
    { id: 5, offsetSec: 0.001, rootDistanceSec: 0.01 },
  ]);
  assert.deepEqual(r, { ok: false, reason: "no_majority" });
});

Deno.test("selectTruechimers() rejects an empty list and honours minsane", () => {
  assert.deepEqual(selectTruechimers([]), { ok: false, reason: "no_candidates" });
  const r = selectTruechimers([{ id: 1, offsetSec: 0, rootDistanceSec: 0.01 }], 2);
  assert.deepEqual(r, { ok: false, reason: "too_few" });
});

Deno.test("selectTruechimers() never leaves the intersection (property)", () => {
  const seed = Date.now() % 2 ** 31;
  // deno-lint-ignore no-console
  console.log(`fast-check seed ${seed}`);
  const cand = fc.record({
    offsetSec: fc.double({ min: -10, max: 10, noNaN: true }),
    rootDistanceSec: fc.double({ min: 0, max: 2, noNaN: true }),
  });
  fc.assert(
    fc.property(fc.array(cand, { minLength: 1, maxLength: 9 }), (list) => {
      const cands = list.map((c, i) => ({ id: i, ...c }));
      const r = selectTruechimers(cands);
      if (!r.ok) return;
      assert.ok(r.lowSec <= r.highSec);
      for (const c of cands) {
        const overlaps: boolean = c.offsetSec + c.rootDistanceSec >= r.lowSec &&
          c.offsetSec - c.rootDistanceSec <= r.highSec;
        assert.equal(r.survivors.includes(c.id), overlaps);
      }
      assert.ok(2 * r.survivors.length > cands.length, "survivors are a majority");
    }),
    { seed, numRuns: 500 },
  );
});

Deno.test("selectTruechimers() finds a point shared by a strict majority (property)", () => {
  const seed = (Date.now() + 1) % 2 ** 31;
  // deno-lint-ignore no-console
  console.log(`fast-check seed ${seed}`);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { maxLength: 5 }),
      fc.double({ min: -1, max: 1, noNaN: true }),
      (truechimers, falseOffsets, common) => {
        fc.pre(truechimers > falseOffsets.length);
        const cands = [];
        for (let i = 0; i < truechimers; i++) {
          // Truechimers agree on `common` with different error bounds. (RFC 5905's algorithm also
          // wants the midpoints inside the intersection, so they share the midpoint here.)
          cands.push({ id: i, offsetSec: common, rootDistanceSec: 0.001 + 0.002 * i });
        }
        falseOffsets.forEach((o, j) =>
          cands.push({ id: 100 + j, offsetSec: o, rootDistanceSec: 0.001 })
        );
        const r = selectTruechimers(cands);
        assert.equal(r.ok, true);
        if (r.ok) { for (let i = 0; i < truechimers; i++) assert.ok(r.survivors.includes(i)); }
      },
    ),
    { seed, numRuns: 300 },
  );
});
