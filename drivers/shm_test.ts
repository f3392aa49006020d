import assert from "node:assert/strict";
import { readShm, SHM_SIZE, ShmDriver } from "./shm.ts";
import { fromUnix } from "../lib/proto/ntp_time.ts";
import type { SharedSegment } from "../ffi/shm.ts";

const RX = 1_760_000_000;

/** Writes a sample the way a mode 1 (or mode 0) writer does. */
function write(buf: ArrayBuffer, o: {
  mode?: number;
  clockSec: number;
  clockNs: number;
  rxSec?: number;
  rxNs?: number;
  leap?: number;
  nsFields?: boolean;
}): void {
  const dv = new DataView(buf);
  const i32 = new Int32Array(buf, 0, 16);
  Atomics.store(i32, 12, 0);
  Atomics.add(i32, 1, 1);
  dv.setInt32(0, o.mode ?? 1, true);
  dv.setBigInt64(8, BigInt(o.clockSec), true);
  dv.setInt32(16, Math.floor(o.clockNs / 1000), true);
  dv.setBigInt64(24, BigInt(o.rxSec ?? RX), true);
  dv.setInt32(32, Math.floor((o.rxNs ?? 0) / 1000), true);
  dv.setInt32(36, o.leap ?? 0, true);
  dv.setInt32(40, -20, true);
  dv.setUint32(52, o.nsFields === false ? 0 : o.clockNs, true);
  dv.setUint32(56, o.nsFields === false ? 0 : o.rxNs ?? 0, true);
  Atomics.add(i32, 1, 1);
  Atomics.store(i32, 12, 1);
}

function fakeSegment(buf: ArrayBuffer): SharedSegment {
  return { id: 1, buffer: buf, detach() {}, remove() {} };
}

function driver(buf: ArrayBuffer, time1Sec = 0) {
  const d = new ShmDriver(
    { type: 28, unit: 2, mode: null, fudge: { time1Sec } },
    (key, size, perm) => {
      assert.equal(key, 0x4e545032);
      assert.equal(size, SHM_SIZE);
      assert.equal(perm, 0o666);
      return fakeSegment(buf);
    },
  );
  const timers = new Map<number, () => void>();
  const samples: number[] = [];
  let now = fromUnix(RX, 200_000_000);
  d.start({
    now: () => now,
    every: (sec, fn) => {
      timers.set(sec, fn);
      return () => void timers.delete(sec);
    },
    pollSec: 16,
    log: () => {},
  }, (s) => samples.push(s.offsetSec));
  return {
    d,
    samples,
    /** One look at the segment, then the median filter's output of what it found. */
    look: (at = now) => {
      now = at;
      timers.get(1)!();
      timers.get(2)!();
    },
  };
}

Deno.test("readShm() reads a mode 1 sample with nanoseconds and clears valid", () => {
  const buf = new ArrayBuffer(SHM_SIZE);
  write(buf, { clockSec: RX, clockNs: 1_500_123, rxNs: 123 });
  const r = readShm(buf);
  assert.equal(r.kind, "sample");
  if (r.kind !== "sample") return;
  assert.equal(r.clockNsec, 1_500_123);
  assert.equal(r.rxNsec, 123);
  assert.equal(new Int32Array(buf)[12], 0);
  assert.equal(readShm(buf).kind, "empty");
});

Deno.test("readShm() falls back to microseconds when the nanosecond fields are not filled", () => {
  const buf = new ArrayBuffer(SHM_SIZE);
  write(buf, { clockSec: RX, clockNs: 1_500_123, rxNs: 7_000, nsFields: false, mode: 0 });
  const r = readShm(buf);
  assert.ok(r.kind === "sample");
  assert.equal(r.clockNsec, 1_500_000);
  assert.equal(r.rxNsec, 7_000);
});

Deno.test("ShmDriver gives the offset plus time1, and counts bogus contents instead of using them", () => {
  const buf = new ArrayBuffer(SHM_SIZE);
  const t = driver(buf, 0.01);
  write(buf, { clockSec: RX, clockNs: 2_000_000 });
  t.look();
  assert.equal(t.samples.length, 1);
  assert.ok(Math.abs(t.samples[0]! - 0.012) < 1e-9, `${t.samples[0]}`);
  // Nothing new: empty, not a sample.
  t.look();
  // A wrong mode.
  write(buf, { clockSec: RX + 1, clockNs: 0, rxSec: RX + 1, mode: 7 });
  t.look();
  // A count that changes while it is read: the writer bumps count once more before valid.
  write(buf, { clockSec: RX + 1, clockNs: 0, rxSec: RX + 1 });
  const dv = new DataView(buf);
  const i32 = new Int32Array(buf, 0, 16);
  const realLoad = Atomics.load;
  let loads = 0;
  // deno-lint-ignore no-explicit-any
  (Atomics as any).load = (a: Int32Array, i: number) => {
    const v = realLoad(a, i);
    if (a.buffer === buf && i === 1 && loads++ === 0) Atomics.add(i32, 1, 1);
    return v;
  };
  try {
    t.look();
  } finally {
    // deno-lint-ignore no-explicit-any
    (Atomics as any).load = realLoad;
  }
  // A timestamp from next year.
  write(buf, { clockSec: RX + 366 * 86400, clockNs: 0, rxSec: RX + 2 });
  t.look(fromUnix(RX + 2, 100_000_000));
  // The same sample again (valid set again by a confused writer).
  write(buf, { clockSec: RX + 3, clockNs: 0, rxSec: RX + 3 });
  t.look(fromUnix(RX + 3, 100_000_000));
  Atomics.store(i32, 12, 1);
  t.look(fromUnix(RX + 3, 200_000_000));
  // A stale sample: written a minute before it is read.
  write(buf, { clockSec: RX + 4, clockNs: 0, rxSec: RX + 4 });
  t.look(fromUnix(RX + 64));
  assert.equal(dv.getInt32(48, true), 0);
  assert.equal(t.samples.length, 2);
  assert.deepEqual(t.d.counters(), {
    samples: 2,
    empty: 1,
    badMode: 1,
    clash: 1,
    badTime: 0,
    stale: 1,
    duplicate: 1,
    insane: 1,
    badformat: 2,
    baddata: 3,
  });
  t.d.stop();
});

Deno.test("ShmDriver units 0 and 1 are root-only, and an attach failure is a warning", () => {
  const warnings: string[] = [];
  const d = new ShmDriver({ type: 28, unit: 1, mode: null, fudge: {} }, (_k, _s, perm) => {
    assert.equal(perm, 0o600);
    throw new Error("shmget 0x4e545031: EACCES (errno 13)");
  });
  d.start(
    { now: () => 0n, every: () => () => {}, pollSec: 16, log: (_l, m) => warnings.push(m) },
    () => {},
  );
  assert.match(warnings[0]!, /SHM\(1\): cannot attach segment 0x4e545031: .*EACCES/);
  assert.throws(() => new ShmDriver({ type: 28, unit: 300, mode: null, fudge: {} }), /unit 300/);
});
