import assert from "node:assert/strict";
import { TimeBins } from "./time_bins.ts";

Deno.test("TimeBins keeps count, mean, minimum and maximum per bin, ignoring the outside", () => {
  const b = new TimeBins(1000, 2000, 10);
  b.add(1000, 1);
  b.add(1050, 3);
  b.add(1999, -2);
  b.add(2000, 5); // the end belongs to the last bin
  b.add(999, 100); // outside
  b.add(1500, NaN);
  assert.deepEqual(b.points(), [
    { t: 1050, count: 2, mean: 2, min: 1, max: 3 },
    { t: 1950, count: 2, mean: 1.5, min: -2, max: 5 },
  ]);
  assert.equal(b.total, 4);
});
