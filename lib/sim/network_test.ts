import assert from "node:assert/strict";
import { NetworkPath } from "./network.ts";
import { SeededRng } from "../proto/rng.ts";

Deno.test("NetworkPath delays are D + a·J·Exp(1) with the asymmetry split up and down", () => {
  const p = new NetworkPath(
    { baseDelaySec: 100e-6, jitterSec: 100e-6, asymmetry: 0.25, lossProbability: 0 },
    new SeededRng(2),
  );
  let up = 0;
  let down = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const u = p.up()!;
    const d = p.down()!;
    assert.ok(u >= 100e-6 && d >= 100e-6);
    up += u;
    down += d;
  }
  // a = 1 ∓ 2·0.25: mean extra 50 µs up and 150 µs down.
  assert.ok(Math.abs(up / n - 150e-6) < 3e-6, `${up / n}`);
  assert.ok(Math.abs(down / n - 250e-6) < 4e-6, `${down / n}`);
});

Deno.test("NetworkPath loses packets with the configured probability", () => {
  const p = new NetworkPath(
    { baseDelaySec: 0.01, jitterSec: 0, asymmetry: 0, lossProbability: 0.33 },
    new SeededRng(3),
  );
  let lost = 0;
  const n = 30_000;
  for (let i = 0; i < n; i++) {
    const d = p.up();
    if (d === null) lost++;
    else assert.equal(d, 0.01);
  }
  assert.ok(Math.abs(lost / n - 0.33) < 0.015, `${lost / n}`);
});
