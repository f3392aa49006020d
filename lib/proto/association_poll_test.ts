import assert from "node:assert/strict";
import {
  Association,
  NOISY_PATH_SEC,
  NOISY_POLL_FREQ_FRACTION,
  POLL_MIN_WANDER_Q,
} from "./association.ts";
import type { SourceEstimate } from "./clock_filter.ts";
import { fromUnix } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";

const T0 = fromUnix(1_700_000_000);
const ADDR = { family: 4 as const, address: "192.0.2.1", port: 123 };

/** A server association polling between 64 s and 1024 s (the defaults of ntpd's `server`). */
function newAssoc(): Association {
  return new Association(1, ADDR, { minpoll: 6, maxpoll: 10 }, new SeededRng(1), -20, T0);
}

function estimate(e: Partial<SourceEstimate>): SourceEstimate {
  return {
    offsetSec: 0,
    freq: 0,
    offsetVar: 0,
    freqVar: 0,
    sampleStdSec: 50e-6,
    wanderQ: 1e-18,
    samples: 100,
    ...e,
  };
}

/** Feeds the same estimate `n` times (the poll moves by at most √2 per sample). */
function settle(a: Association, est: SourceEstimate, n = 20): number {
  for (let i = 0; i < n; i++) a.updatePoll(est);
  return a.pollSec;
}

Deno.test("updatePoll() lets a noisy path's poll grow once its frequency is known", () => {
  // largejitter late in a run: samples err by tens of milliseconds, the estimate by about 10 ms,
  // the frequency is known to 3 ppm. Before, any path above NOISY_PATH_SEC stayed at minpoll
  // (15.9 packets per 1000 s against chronyd's 4.4 on that path).
  const noisy = estimate({
    sampleStdSec: 30e-3,
    offsetVar: (10e-3) ** 2,
    freqVar: (3e-6) ** 2,
  });
  assert.ok(noisy.sampleStdSec > NOISY_PATH_SEC);
  const a = newAssoc();
  const poll = settle(a, noisy);
  const expected = NOISY_POLL_FREQ_FRACTION * 10e-3 / 3e-6; // about 417 s
  assert.ok(poll > 64, `poll ${poll} s stayed at minpoll`);
  assert.ok(Math.abs(poll - expected) < 1, `poll ${poll} s, expected ${expected} s`);
});

Deno.test("updatePoll() keeps a noisy path at minpoll while its frequency is still uncertain", () => {
  // The start of largejitter: the frequency known to 50 ppm, where each sample still counts.
  const a = newAssoc();
  const poll = settle(
    a,
    estimate({ sampleStdSec: 30e-3, offsetVar: (20e-3) ** 2, freqVar: (50e-6) ** 2 }),
  );
  assert.equal(poll, 64);
  // ...and falls back to it when the frequency becomes uncertain again (a restart).
  settle(a, estimate({ sampleStdSec: 30e-3, offsetVar: (10e-3) ** 2, freqVar: (1e-6) ** 2 }));
  assert.ok(a.pollSec > 256);
  assert.equal(
    settle(a, estimate({ sampleStdSec: 30e-3, offsetVar: (20e-3) ** 2, freqVar: (50e-6) ** 2 })),
    64,
  );
});

Deno.test("updatePoll() does not stretch a quiet clock's poll to maxpoll", () => {
  // A quiet oscillator (w = 1e-10, q = 1e-20) with its frequency known: the wander rule alone
  // would poll at τ = ∛(3K²/q) ≈ 2900 s, clamped to maxpoll. The floor on the wander it believes
  // holds it near 700 s at the reference noise, where the packets still buy accuracy.
  const quiet = estimate({ wanderQ: 1e-20, freqVar: 1e-24, sampleStdSec: 47e-6 });
  const a = newAssoc();
  const poll = settle(a, quiet);
  const k = 9e-6 * Math.cbrt(50e-6 / 47e-6);
  const expected = Math.cbrt(3 * k * k / POLL_MIN_WANDER_Q);
  assert.ok(poll < 1024, `poll ${poll} s went to maxpoll`);
  assert.ok(Math.abs(poll - expected) < 1, `poll ${poll} s, expected ${expected.toFixed(0)} s`);
  assert.ok(expected > 512 && expected < 768);
});

Deno.test("updatePoll() still follows a wandering clock's own wander", () => {
  // Above the floor nothing changed: q = 1e-16 polls at ∛(3K²/q) ≈ 136 s.
  const a = newAssoc();
  const poll = settle(a, estimate({ wanderQ: 1e-16, freqVar: 1e-24, sampleStdSec: 50e-6 }));
  const expected = Math.cbrt(3 * 9e-6 * 9e-6 / 1e-16);
  assert.ok(Math.abs(poll - expected) < 1, `poll ${poll} s, expected ${expected.toFixed(0)} s`);
});

Deno.test("updatePoll() falls back to minpoll on a non-finite estimate instead of a NaN poll", () => {
  const a = newAssoc();
  settle(a, estimate({ wanderQ: 1e-16, freqVar: 1e-24 }));
  assert.ok(a.pollSec > 64);
  for (const bad of [{ freqVar: Number.NaN }, { offsetVar: Number.NaN, sampleStdSec: 30e-3 }]) {
    settle(a, estimate({ wanderQ: 1e-16, freqVar: 1e-24, ...bad }));
    assert.equal(a.pollSec, 64);
  }
});
