import assert from "node:assert/strict";
import { SeededRng } from "../../lib/proto/rng.ts";
import {
  type DelayDistribution,
  DelayQueue,
  sampleDelay,
  Shaper,
  type Shaping,
  validateShaping,
} from "./udp_relay_shaping.ts";

const N = 40_000;

function draws(d: DelayDistribution, seed = 7): number[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: N }, () => sampleDelay(d, rng));
}

function mean(xs: number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function near(x: number, want: number, rel: number, what: string): void {
  assert.ok(
    Math.abs(x - want) <= rel * Math.abs(want),
    `${what}: ${x} is not within ${rel} of ${want}`,
  );
}

function shaper(s: Shaping, seed = 3): Shaper {
  return new Shaper(s, { up: new SeededRng(seed), down: new SeededRng(seed + 1) });
}

Deno.test("sampleDelay() draws each distribution with its parameters", () => {
  const c = draws({ kind: "constant", sec: 0.002 });
  assert.ok(c.every((x) => x === 0.002));
  const u = draws({ kind: "uniform", minSec: 1e-3, maxSec: 3e-3 });
  assert.ok(u.every((x) => x >= 1e-3 && x < 3e-3));
  near(mean(u), 2e-3, 0.01, "uniform mean");
  near(sd(u), 2e-3 / Math.sqrt(12), 0.02, "uniform sd");
  const g = draws({ kind: "normal", meanSec: 1e-3, sdSec: 2e-4 });
  near(mean(g), 1e-3, 0.005, "normal mean");
  near(sd(g), 2e-4, 0.02, "normal sd");
  const e = draws({ kind: "exponential", meanSec: 5e-4 });
  assert.ok(e.every((x) => x >= 0));
  near(mean(e), 5e-4, 0.02, "exponential mean");
  near(sd(e), 5e-4, 0.03, "exponential sd");
  near(median(e), 5e-4 * Math.LN2, 0.03, "exponential median");
  // Pareto (Lomax) with shape 2.5: mean scale/(shape−1), median scale·(2^(1/shape) − 1); the
  // heavy tail makes the mean converge slowly, so its tolerance is wider.
  const p = draws({ kind: "pareto", scaleSec: 1e-3, shape: 2.5 });
  assert.ok(p.every((x) => x >= 0));
  near(median(p), 1e-3 * (2 ** (1 / 2.5) - 1), 0.03, "pareto median");
  near(mean(p), 1e-3 / 1.5, 0.06, "pareto mean");
  // Tail: P(X > x) = (1 + x/scale)^−shape.
  const tail = p.filter((x) => x > 3e-3).length / N;
  near(tail, 4 ** -2.5, 0.1, "pareto tail above 3 ms");
  const l = draws({ kind: "lognormal", medianSec: 4e-4, sigma: 0.8 });
  near(median(l), 4e-4, 0.03, "lognormal median");
  near(mean(l.map(Math.log)), Math.log(4e-4), 0.003, "lognormal mean of ln");
  near(sd(l.map(Math.log)), 0.8, 0.02, "lognormal sigma");
});

Deno.test("Shaper.decide() adds base and terms per direction, and drops at the loss rate", () => {
  const s = shaper({
    up: { baseSec: 1e-3, delays: [{ kind: "exponential", meanSec: 2e-3 }], lossProb: 0.1 },
    down: { baseSec: 5e-4 },
  });
  const up: number[] = [];
  let dropped = 0;
  for (let k = 0; k < N; k++) {
    const d = s.decide("up", k * 0.01);
    if (d.drop) dropped++;
    else up.push(d.delaySec);
  }
  near(dropped / N, 0.1, 0.05, "loss rate");
  near(mean(up), 3e-3, 0.02, "one-sided queueing mean");
  assert.ok(up.every((x) => x >= 1e-3));
  for (let k = 0; k < 100; k++) {
    const d = s.decide("down", k);
    assert.equal(d.drop, false);
    if (!d.drop) assert.equal(d.delaySec, 5e-4);
  }
});

Deno.test("Shaper.decide() holds the reorder fraction longer and never goes below 0 or above the cap", () => {
  const s = shaper({
    up: {
      baseSec: 0,
      delays: [{ kind: "normal", meanSec: 0, sdSec: 1e-3 }],
      reorderProb: 0.05,
      reorderHoldSec: 0.5,
    },
    down: { baseSec: 0, delays: [{ kind: "pareto", scaleSec: 0.1, shape: 0.5 }] },
    maxDelaySec: 1,
  });
  let held = 0;
  for (let k = 0; k < N; k++) {
    const d = s.decide("up", k);
    assert.ok(!d.drop && d.delaySec >= 0);
    if (!d.drop && d.reordered) {
      held++;
      assert.ok(d.delaySec >= 0.49);
    }
  }
  near(held / N, 0.05, 0.06, "reorder rate");
  let capped = 0;
  for (let k = 0; k < 1000; k++) {
    const d = s.decide("down", k);
    assert.ok(!d.drop && d.delaySec <= 1);
    if (!d.drop && d.capped) capped++;
  }
  // P(X > 1 s) = (1 + 10)^−0.5 ≈ 0.30.
  near(capped / 1000, 11 ** -0.5, 0.15, "capped fraction");
});

Deno.test("Shaper congestion periods cover on/(on+off) of the time and add their delay", () => {
  const s = shaper({
    up: {
      baseSec: 1e-3,
      congestion: { meanOnSec: 5, meanOffSec: 15, delay: { kind: "constant", sec: 0.01 } },
    },
    down: { baseSec: 1e-3 },
  });
  let on = 0;
  const total = 200_000;
  for (let k = 0; k < total; k++) {
    const d = s.decide("up", k * 0.1); // 20,000 s: about a thousand periods
    assert.ok(!d.drop);
    if (!d.drop) {
      assert.equal(d.delaySec, d.congested ? 0.011 : 0.001);
      if (d.congested) on++;
    }
  }
  near(on / total, 0.25, 0.1, "congested fraction");
});

Deno.test("Shaper applies scripted changes from their time on (a route change)", () => {
  const s = shaper({
    up: { baseSec: 1e-3 },
    down: { baseSec: 1e-3 },
    changes: [{ atSec: 100, up: { baseSec: 4e-3 } }, { atSec: 200, down: { baseSec: 2e-3 } }],
  });
  const at = (dir: "up" | "down", t: number) => {
    const d = s.decide(dir, t);
    assert.ok(!d.drop);
    return d.drop ? NaN : d.delaySec;
  };
  assert.equal(at("up", 99.9), 1e-3);
  assert.equal(at("down", 99.9), 1e-3);
  assert.equal(at("up", 100), 4e-3);
  assert.equal(at("down", 150), 1e-3);
  assert.equal(at("up", 250), 4e-3);
  assert.equal(at("down", 250), 2e-3);
});

Deno.test("validateShaping() names every problem; Shaper refuses an invalid model", () => {
  const bad = {
    up: { baseSec: -1, lossProb: 2, delays: [{ kind: "weibull" }] },
    down: { baseSec: 0, delays: [{ kind: "pareto", scaleSec: 1e-3, shape: 0 }] },
    changes: [{ atSec: Number.NaN }],
  } as unknown as Shaping;
  const p = validateShaping(bad);
  assert.deepEqual(p, [
    "up.baseSec must be a number ≥ 0",
    'up.delays[0]: unknown distribution "weibull"',
    "up.lossProb must be a probability",
    "down.delays[0].shape must be a number ≥ 0.001",
    "changes[0].atSec must be a number ≥ 0",
  ]);
  assert.throws(() => shaper(bad), RangeError);
  assert.deepEqual(validateShaping({ up: { baseSec: 0 }, down: { baseSec: 0 } }), []);
});

Deno.test("DelayQueue releases packets in due order, equal times in arrival order, none early", () => {
  const q = new DelayQueue<string>();
  const rng = new SeededRng(11);
  const due: [number, string][] = [];
  for (let k = 0; k < 500; k++) {
    const t = Math.floor(rng.nextFloat() * 100); // many equal times
    due.push([t, `p${k}`]);
    q.push(t, `p${k}`);
  }
  assert.equal(q.peekDueNs(), Math.min(...due.map((d) => d[0])));
  const want = [...due].sort((a, b) =>
    a[0] - b[0] || Number(a[1].slice(1)) - Number(b[1].slice(1))
  );
  const got: string[] = [];
  for (let now = 0; now < 100; now++) {
    for (let x = q.popDue(now); x !== null; x = q.popDue(now)) {
      got.push(x);
      assert.equal(due.find((d) => d[1] === x)![0] <= now, true, `${x} left early`);
    }
  }
  assert.deepEqual(got, want.map((d) => d[1]));
  assert.equal(q.size, 0);
  assert.equal(q.peekDueNs(), null);
  assert.equal(q.popDue(1e9), null);
});
