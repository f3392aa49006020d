// Tests of the sysstats counters: groups, sums over thread blocks, 64-bit carries, reset, and
// exact totals while worker threads write.

import assert from "node:assert/strict";
import { DROP_GROUP, DROP_REASONS, SysStats } from "./sys_stats.ts";

Deno.test("SysStats counts received, processed, versions, kisses and drops by group", () => {
  const stats = SysStats.create(1, 1000);
  const c = stats.counters(0);
  for (let i = 0; i < 5; i++) c.received();
  c.processed();
  c.processed();
  c.version(true);
  c.version(false);
  c.dropped("noserve");
  c.dropped("rate_limited");
  c.dropped("too_short");
  c.kissSent();
  const s = stats.snapshot(1010);
  assert.equal(s.sinceRestartSec, 10);
  assert.equal(s.sinceResetSec, 10);
  assert.equal(s.received, 5);
  assert.equal(s.processed, 2);
  assert.equal(s.currentVersion, 1);
  assert.equal(s.oldVersion, 1);
  assert.equal(s.accessDenied, 1);
  assert.equal(s.rateExceeded, 1);
  assert.equal(s.badFormat, 1);
  assert.equal(s.kissesSent, 1);
  assert.equal(s.drops.noserve, 1);
  assert.equal(s.received, s.processed + Object.values(s.drops).reduce((a, b) => a + b, 0));
});

Deno.test("DROP_GROUP puts every reason in exactly one sysstats group", () => {
  for (const r of DROP_REASONS) assert.ok(DROP_GROUP[r] !== undefined, r);
  const stats = SysStats.create(1, 0);
  const c = stats.counters(0);
  for (const r of DROP_REASONS) c.dropped(r);
  const s = stats.snapshot(0);
  const groups = s.badFormat + s.badVersion + s.accessDenied + s.rateExceeded + s.badAuth +
    s.declined;
  assert.equal(groups, DROP_REASONS.length);
});

Deno.test("SysStats sums the blocks of every thread", () => {
  const stats = SysStats.create(3, 0, true);
  assert.equal(stats.threads, 3);
  for (let t = 0; t < 3; t++) {
    const c = stats.counters(t);
    for (let i = 0; i <= t; i++) c.received();
  }
  assert.equal(stats.snapshot(0).received, 6);
  assert.throws(() => stats.counters(3), RangeError);
  const again = SysStats.attach(stats.buffer);
  again.counters(2).received();
  assert.equal(stats.snapshot(0).received, 7, "the same memory");
  assert.throws(() => SysStats.attach(new ArrayBuffer(8)), RangeError);
  assert.throws(() => SysStats.attach(new ArrayBuffer(4096)), RangeError);
});

Deno.test("SysStats counters carry past 2^32", () => {
  const stats = SysStats.create(1, 0);
  // One thread: its block is the end of the buffer, (low, high) word pairs, received first.
  const counters = 5 + DROP_REASONS.length;
  const block = new Uint32Array(stats.buffer, stats.buffer.byteLength - 8 * counters);
  block[0] = 0xffffffff;
  const c = stats.counters(0);
  c.received();
  c.received();
  assert.equal(stats.snapshot(0).received, 2 ** 32 + 1);
});

Deno.test("SysStats.reset() starts from zero and keeps the restart time", () => {
  const stats = SysStats.create(2, 100, true);
  stats.counters(0).received();
  stats.counters(1).dropped("ignored");
  stats.reset(150);
  stats.counters(1).received();
  const s = stats.snapshot(160);
  assert.equal(s.received, 1);
  assert.equal(s.accessDenied, 0);
  assert.equal(s.sinceRestartSec, 60);
  assert.equal(s.sinceResetSec, 10);
});

Deno.test("SysStats totals are exact while two worker threads count", async () => {
  const stats = SysStats.create(3, 0, true);
  const url = new URL("./sys_stats.ts", import.meta.url).href;
  const code = `
    import { SysStats } from "${url}";
    self.onmessage = (e) => {
      const { buffer, thread, n } = e.data;
      const c = SysStats.attach(buffer).counters(thread);
      for (let i = 0; i < n; i++) { c.received(); c.dropped("rate_limited"); }
      self.postMessage("done");
    };`;
  const blob = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const n = 300_000;
  const workers = [1, 2].map(() => new Worker(blob, { type: "module" }));
  let maxSeen = 0;
  try {
    const done = Promise.all(workers.map((w, k) =>
      new Promise<void>((resolve, reject) => {
        w.onmessage = () => resolve();
        w.onerror = (e) => reject(e);
        w.postMessage({ buffer: stats.buffer, thread: k + 1, n });
      })
    ));
    // Read while they write: the sums only ever grow.
    let finished = false;
    done.then(() => finished = true, () => finished = true);
    for (let i = 0; i < 10_000 && !finished; i++) {
      const r = stats.snapshot(0).received;
      assert.ok(r >= maxSeen);
      maxSeen = r;
      await new Promise((r) => setTimeout(r, 0));
    }
    await done;
  } finally {
    for (const w of workers) w.terminate();
    URL.revokeObjectURL(blob);
  }
  const s = stats.snapshot(0);
  assert.equal(s.received, 2 * n);
  assert.equal(s.rateExceeded, 2 * n);
});
