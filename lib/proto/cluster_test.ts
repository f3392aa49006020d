import assert from "node:assert/strict";
import { clusterSurvivors } from "./cluster.ts";

Deno.test("clusterSurvivors() casts off the survivor that adds the most selection jitter", () => {
  const r = clusterSurvivors([
    { id: 1, offsetSec: 0.000, jitterSec: 0.0001, merit: 1 },
    { id: 2, offsetSec: 0.0001, jitterSec: 0.0001, merit: 2 },
    { id: 3, offsetSec: -0.0001, jitterSec: 0.0001, merit: 3 },
    { id: 4, offsetSec: 0.05, jitterSec: 0.0001, merit: 0.5 },
  ], 3);
  assert.deepEqual(r.outliers, [4]);
  assert.deepEqual(r.survivors, [1, 2, 3]);
});

Deno.test("clusterSurvivors() keeps everyone when they agree within their own jitter", () => {
  const r = clusterSurvivors([
    { id: 1, offsetSec: 0.001, jitterSec: 0.01, merit: 2 },
    { id: 2, offsetSec: -0.001, jitterSec: 0.01, merit: 1 },
    { id: 3, offsetSec: 0.002, jitterSec: 0.01, merit: 3 },
    { id: 4, offsetSec: 0.0, jitterSec: 0.01, merit: 4 },
  ], 1);
  assert.deepEqual(r.outliers, []);
  assert.deepEqual(r.survivors, [2, 1, 3, 4], "merit order");
});

Deno.test("clusterSurvivors() never goes below minclock", () => {
  const r = clusterSurvivors([
    { id: 1, offsetSec: 0, jitterSec: 1e-6, merit: 1 },
    { id: 2, offsetSec: 1, jitterSec: 1e-6, merit: 2 },
    { id: 3, offsetSec: 2, jitterSec: 1e-6, merit: 3 },
  ], 2);
  assert.equal(r.survivors.length, 2);
  assert.equal(r.outliers.length, 1);
});

Deno.test("clusterSurvivors() stops rather than cast off a kept (prefer) survivor", () => {
  const c = (id: number, offsetSec: number, keep = false) => ({
    id,
    offsetSec,
    jitterSec: 1e-4,
    merit: id,
    ...(keep ? { keep: true } : {}),
  });
  const plain = clusterSurvivors([c(1, 0), c(2, 0), c(3, 0.0001), c(4, 0.01)], 1);
  assert.ok(plain.outliers.includes(4));
  const kept = clusterSurvivors([c(1, 0), c(2, 0), c(3, 0.0001), c(4, 0.01, true)], 1);
  assert.deepEqual(kept.outliers, []);
  assert.ok(kept.survivors.includes(4));
});
