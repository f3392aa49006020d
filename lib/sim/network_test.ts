import assert from "node:assert/strict";
import { NetworkPath, parseDelayTrace, TraceSyntaxError } from "./network.ts";
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

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

Deno.test("NetworkPath one-sided queueing delays only the direction it is on", () => {
  const p = new NetworkPath({
    baseDelaySec: 100e-6,
    jitterSec: 0,
    asymmetry: 0,
    lossProbability: 0,
    queueing: { upMeanSec: 500e-6, downMeanSec: 0 },
  }, new SeededRng(4));
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    up.push(p.up(i)!);
    down.push(p.down(i)!);
  }
  assert.ok(Math.abs(mean(up) - 600e-6) < 15e-6, `${mean(up)}`);
  assert.ok(down.every((d) => d === 100e-6));
});

Deno.test("NetworkPath bursty queueing is on for the on-periods' share of the time", () => {
  const p = new NetworkPath({
    baseDelaySec: 0,
    jitterSec: 0,
    asymmetry: 0,
    lossProbability: 0,
    queueing: {
      upMeanSec: 1e-3,
      downMeanSec: 0,
      standingSec: 1e-3,
      bursts: { onMeanSec: 300, offMeanSec: 900 },
    },
  }, new SeededRng(5));
  let on = 0;
  let runs = 0;
  let was = false;
  const n = 400_000;
  for (let t = 0; t < n; t++) {
    const q = p.up(t)! > 0;
    if (q) on++;
    if (q && !was) runs++;
    was = q;
  }
  // 300 s on of every 1200 s on average: a quarter of the time, in runs of about 300 s.
  assert.ok(Math.abs(on / n - 0.25) < 0.05, `${on / n}`);
  assert.ok(on / runs > 200 && on / runs < 400, `${on / runs}`);
});

Deno.test("NetworkPath heavy-tailed laws keep mean 1 and have a heavier tail than Exp(1)", () => {
  const tail = (law: "exp" | "pareto" | "lognormal") => {
    const p = new NetworkPath({
      baseDelaySec: 0,
      jitterSec: 1,
      asymmetry: 0,
      lossProbability: 0,
      jitterLaw: law === "exp"
        ? { kind: "exp" }
        : law === "pareto"
        ? { kind: "pareto", alpha: 1.5 }
        : { kind: "lognormal", sigma: 1.5 },
    }, new SeededRng(6));
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) xs.push(p.up()!);
    xs.sort((a, b) => a - b);
    return { median: xs[xs.length >> 1]!, p999: xs[Math.floor(xs.length * 0.999)]! };
  };
  const e = tail("exp");
  const pa = tail("pareto");
  const ln = tail("lognormal");
  // Exp(1): p99.9 = ln 1000 ≈ 6.9; Pareto(1.5, mean 1): (1/3)·1000^(2/3) ≈ 33; log-normal(1.5) ≈ 33.
  assert.ok(Math.abs(e.p999 - 6.9) < 0.6, `${e.p999}`);
  assert.ok(pa.p999 > 25 && ln.p999 > 20, `${pa.p999} ${ln.p999}`);
  assert.ok(pa.median < e.median && ln.median < e.median);
});

Deno.test("NetworkPath route changes and outages apply from their times on", () => {
  const p = new NetworkPath({
    baseDelaySec: 100e-6,
    jitterSec: 0,
    asymmetry: 0,
    lossProbability: 0,
    changes: [{ atSec: 50, baseDelaySec: 3e-3, extraUpSec: 100e-6 }],
    outages: [{ fromSec: 100, toSec: 200 }],
  }, new SeededRng(7));
  assert.equal(p.up(49.9), 100e-6);
  assert.equal(p.up(50), 3.1e-3);
  assert.equal(p.down(60), 3e-3);
  assert.equal(p.up(100), null);
  assert.equal(p.down(199.9), null);
  assert.equal(p.down(200), 3e-3);
});

Deno.test("NetworkPath replays a trace: each request's reply takes the same line's down delay", () => {
  const trace = parseDelayTrace("# up down\n0.001 0.002\n0.003 -\n\n0.005,0.006 # comment\n");
  assert.deepEqual(trace, [
    { upSec: 0.001, downSec: 0.002 },
    { upSec: 0.003, downSec: null },
    { upSec: 0.005, downSec: 0.006 },
  ]);
  const p = new NetworkPath(
    { baseDelaySec: 1, jitterSec: 1, asymmetry: 0, lossProbability: 0, trace },
    new SeededRng(8),
  );
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add(`${p.up(i)} ${p.down(i)}`);
  assert.deepEqual([...seen].sort(), ["0.001 0.002", "0.003 null", "0.005 0.006"]);
});

Deno.test("parseDelayTrace() names the line of a bad entry and refuses an empty trace", () => {
  assert.throws(() => parseDelayTrace("0.1 0.1\n0.1\n", "t.txt"), /t\.txt:2: want "UP DOWN"/);
  assert.throws(() => parseDelayTrace("0.1 abc\n", "t.txt"), /t\.txt:1: "abc" is not a delay/);
  assert.throws(() => parseDelayTrace("-1 0.1\n", "t.txt"), TraceSyntaxError);
  assert.throws(() => parseDelayTrace("1e9 0.1\n", "t.txt"), TraceSyntaxError);
  assert.throws(() => parseDelayTrace("# nothing\n", "t.txt"), /no delays/);
});

Deno.test("NetworkPath with the normal law draws D + J·N(1, σ) each way, independently", () => {
  const p = new NetworkPath(
    {
      baseDelaySec: 0,
      jitterSec: 1e-3,
      asymmetry: 0,
      lossProbability: 0,
      jitterLaw: { kind: "normal", sigma: 0.2 },
    },
    new SeededRng(4),
  );
  const n = 20_000;
  let su = 0;
  let sd = 0;
  let suu = 0;
  let sdd = 0;
  let sud = 0;
  for (let i = 0; i < n; i++) {
    const u = p.up()!;
    const d = p.down()!;
    assert.ok(u >= 0 && d >= 0);
    su += u;
    sd += d;
    suu += u * u;
    sdd += d * d;
    sud += u * d;
  }
  const mu = su / n;
  const md = sd / n;
  const vu = suu / n - mu * mu;
  const vd = sdd / n - md * md;
  assert.ok(Math.abs(mu - 1e-3) < 5e-6 && Math.abs(md - 1e-3) < 5e-6, `${mu} ${md}`);
  assert.ok(Math.abs(Math.sqrt(vu) - 200e-6) < 5e-6, `sd up ${Math.sqrt(vu)}`);
  assert.ok(Math.abs(Math.sqrt(vd) - 200e-6) < 5e-6, `sd down ${Math.sqrt(vd)}`);
  // Independent: no correlation between the two directions of one exchange.
  const corr = (sud / n - mu * md) / Math.sqrt(vu * vd);
  assert.ok(Math.abs(corr) < 0.03, `correlation ${corr}`);
});
