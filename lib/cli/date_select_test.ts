// Tests for ntpdate's filter dispersion and choice of server (date_select.ts).

import assert from "node:assert/strict";
import fc from "fast-check";
import { chooseServer, type Contender, filterDispersion, rootDistanceSec } from "./date_select.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`date_select_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

function contender(
  index: number,
  offsetSec: number,
  over: { stratum?: number; leap?: number; rootDispersionSec?: number; jitterSec?: number } = {},
): Contender {
  return {
    index,
    vars: {
      leap: over.leap ?? 0,
      stratum: over.stratum ?? 2,
      precisionLog2: -20,
      rootDelaySec: 0.004,
      rootDispersionSec: over.rootDispersionSec ?? 0.001,
      refid: 0,
    },
    filter: {
      offsetSec,
      delaySec: 0.002,
      dispersionSec: 1e-5,
      jitterSec: over.jitterSec ?? 1e-4,
      count: 4,
    },
  };
}

Deno.test("filterDispersion() sums the answered samples by increasing delay", () => {
  const s = (delaySec: number, dispersionSec: number) => ({
    offsetSec: 0,
    delaySec,
    dispersionSec,
    at: 0n,
  });
  assert.equal(filterDispersion([]), 0);
  assert.equal(filterDispersion([s(0.002, 1e-6), null, s(0.001, 2e-6)]), 2e-6 / 2 + 1e-6 / 4);
  assert.equal(filterDispersion([s(0.001, 40)]), 16 / 2); // capped at MAXDISPERSE
});

Deno.test("chooseServer() takes the truechimers and the best of them", () => {
  const c = chooseServer([
    contender(0, 0.0011),
    contender(1, 0.0012, { stratum: 1 }),
    contender(2, 0.0010),
    contender(3, 4.0), // far outside every other interval
  ]);
  assert.equal(c.chosen, 1, "lower stratum first");
  assert.equal(c.offsetSec, 0.0012);
  assert.equal(c.dropped.get(3), "falseticker");
  assert.deepEqual(new Set(c.survivors), new Set([0, 1, 2]));
  assert.ok(c.combinedOffsetSec! > 0.00099 && c.combinedOffsetSec! < 0.00121);
  assert.ok(c.selectionJitterSec! >= 0);
});

Deno.test("chooseServer() drops the unsynchronised, the distant and those without data", () => {
  const c = chooseServer([
    contender(0, 0.001, { leap: 3 }),
    contender(1, 0.001, { stratum: 16 }),
    contender(2, 0.001, { rootDispersionSec: 2 }),
    { index: 3, vars: null, filter: null },
    contender(4, 0.002),
  ]);
  assert.equal(c.chosen, 4);
  assert.equal(c.dropped.get(0), "unsynchronized");
  assert.equal(c.dropped.get(1), "unsynchronized");
  assert.equal(c.dropped.get(2), "distance");
  assert.equal(c.dropped.get(3), "no_data");
  assert.ok(c.distanceSec.get(2)! > 1.5);
});

Deno.test("chooseServer() finds no majority between two servers that disagree", () => {
  const c = chooseServer([contender(0, 0), contender(1, 3)]);
  assert.equal(c.chosen, null);
  assert.equal(c.offsetSec, null);
  assert.equal(c.dropped.get(0), "falseticker");
  assert.equal(c.dropped.get(1), "falseticker");
  assert.equal(chooseServer([]).chosen, null);
});

Deno.test("rootDistanceSec() floors the round trip at MINDISP", () => {
  const x = contender(0, 0);
  assert.equal(rootDistanceSec(x.vars!, x.filter!), 0.01 / 2 + 0.001 + 1e-5 + 1e-4);
});

Deno.test("chooseServer(): the chosen server is a survivor with its own offset (property)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          offset: fc.double({ min: -2, max: 2, noNaN: true }),
          stratum: fc.integer({ min: 0, max: 16 }),
          disp: fc.double({ min: 0, max: 2, noNaN: true }),
          jitter: fc.double({ min: 0, max: 0.1, noNaN: true }),
        }),
        { maxLength: 9 },
      ),
      (xs) => {
        const cs = xs.map((x, i) =>
          contender(i, x.offset, {
            stratum: x.stratum,
            rootDispersionSec: x.disp,
            jitterSec: x.jitter,
          })
        );
        const c = chooseServer(cs);
        if (c.chosen === null) return c.offsetSec === null;
        return c.survivors[0] === c.chosen && !c.dropped.has(c.chosen) &&
          c.offsetSec === cs[c.chosen]!.filter!.offsetSec &&
          cs[c.chosen]!.vars!.stratum >= 1 && cs[c.chosen]!.vars!.stratum <= 15;
      },
    ),
    { seed: SEED },
  );
});
