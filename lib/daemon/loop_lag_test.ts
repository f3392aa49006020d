import assert from "node:assert/strict";
import { LoopLag, type LoopLagDeps } from "./loop_lag.ts";
import { realTimers } from "./timers.ts";

/** Manual time: timers fire only when `fire(lateMs)` says, `lateMs` after they were due. */
class ManualLoop {
  monoMs = 1000;
  wallMs = Date.UTC(2030, 0, 1);
  pending: { fn: () => void; dueMs: number; id: number } | null = null;
  #next = 1;
  readonly deps: LoopLagDeps = {
    timers: {
      setTimeout: (fn, delayMs) => {
        assert.equal(this.pending, null, "the probe arms one timer at a time");
        this.pending = { fn, dueMs: this.monoMs + delayMs, id: this.#next };
        return this.#next++;
      },
      clearTimeout: (id) => {
        if (this.pending?.id === id) this.pending = null;
      },
    },
    monoMs: () => this.monoMs,
    wallMs: () => this.wallMs,
  };

  /** Advances to the pending timer's due time plus `lateMs` and fires it. */
  fire(lateMs: number): void {
    const p = this.pending!;
    this.pending = null;
    const step = p.dueMs + lateMs - this.monoMs;
    this.monoMs += step;
    this.wallMs += step;
    p.fn();
  }
}

Deno.test("LoopLag records each tick's lateness and summarises the window", () => {
  const loop = new ManualLoop();
  const probe = new LoopLag(10, loop.deps);
  probe.start();
  // 100 ticks: 98 at 0.25 ms late, one 7 ms late, one 40 ms late.
  for (let i = 0; i < 98; i++) loop.fire(0.25);
  loop.fire(7);
  loop.fire(40);
  const s = probe.summary();
  assert.equal(s.intervalMs, 10);
  assert.equal(s.previous, null);
  const w = s.current;
  assert.equal(w.window, 1);
  assert.equal(w.samples, 100);
  assert.equal(w.lateMedianMs, 0.3, "0.25 ms lies in the 0.2–0.3 ms bucket");
  assert.equal(w.lateP99Ms, 7.1, "rank 99 of 100 is the 7 ms tick");
  assert.equal(w.lateMaxMs, 40);
  assert.ok(Math.abs(w.windowSec - (100 * 10 + 98 * 0.25 + 47) / 1000) < 1e-9);
  assert.equal(w.expectedSamples, Math.floor(w.windowSec * 100));
  assert.equal(w.windowStartedAt, "2030-01-01T00:00:00.000Z");
  assert.equal(w.windowEndedAt, null);
});

Deno.test("LoopLag.newWindow() keeps the closed window as previous and starts counting afresh", () => {
  const loop = new ManualLoop();
  const probe = new LoopLag(10, loop.deps);
  probe.start();
  for (let i = 0; i < 10; i++) loop.fire(50);
  probe.newWindow();
  for (let i = 0; i < 3; i++) loop.fire(1.05);
  loop.fire(3);
  const s = probe.summary();
  assert.equal(s.previous?.window, 1);
  assert.equal(s.previous?.samples, 10);
  assert.equal(s.previous?.lateMaxMs, 50);
  assert.equal(s.previous?.windowEndedAt, "2030-01-01T00:00:00.600Z");
  assert.equal(s.current.window, 2);
  assert.equal(s.current.windowStartedAt, "2030-01-01T00:00:00.600Z");
  assert.equal(s.current.samples, 4);
  assert.equal(s.current.lateMedianMs, 1.1);
  assert.ok(Math.abs(s.current.lateMaxMs! - 3) < 1e-9);
});

Deno.test("LoopLag reports a starved loop as few samples and coarse buckets above 100 ms", () => {
  const loop = new ManualLoop();
  const probe = new LoopLag(10, loop.deps);
  probe.start();
  loop.fire(995); // one tick a second late: 100 expected, 1 seen
  const w = probe.summary().current;
  assert.equal(w.samples, 1);
  assert.equal(w.expectedSamples, 100);
  assert.ok(Math.abs(w.lateMedianMs! - 995) < 1e-9, "a quantile never exceeds the maximum");
  loop.fire(20_000); // beyond the last bucket: quantiles fall back to the exact maximum
  assert.ok(Math.abs(probe.summary().current.lateP99Ms! - 20_000) < 1e-9);
});

Deno.test("LoopLag without samples reports nulls; stop() cancels its timer and ends the window", () => {
  const loop = new ManualLoop();
  const probe = new LoopLag(5000, loop.deps);
  assert.equal(probe.intervalMs, 1000, "clamped to 1..1000 ms");
  probe.start();
  const w = probe.summary().current;
  assert.deepEqual([w.samples, w.lateMedianMs, w.lateP99Ms, w.lateMaxMs], [0, null, null, null]);
  probe.stop();
  assert.equal(loop.pending, null);
  loop.monoMs += 60_000;
  assert.equal(probe.summary().current.windowSec, 0, "no time passes after stop()");
});

Deno.test("LoopLag on the runtime's timers samples an idle loop", async () => {
  const probe = new LoopLag(5, {
    timers: realTimers,
    monoMs: () => performance.now(),
    wallMs: () => Date.now(),
  });
  probe.start();
  try {
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    probe.stop();
  }
  const w = probe.summary().current;
  // Tolerant: a shared CI machine may delay timers, but 200 ms must give a few 5 ms ticks.
  assert.ok(w.samples >= 5 && w.samples <= 41, `samples ${w.samples}`);
  assert.ok(w.lateMaxMs !== null && w.lateMaxMs >= 0 && w.lateMaxMs < 200, `${w.lateMaxMs}`);
});
