import assert from "node:assert/strict";
import type { Clock } from "./clock.ts";
import { addSec, diffSec, fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { VIRTUAL_ADJTIME_RATE, VirtualClock } from "./virtual_clock.ts";

/** A read-only clock whose time the test moves. */
function manualClock(start: NtpTime, kernelFreqPpm = 0): Clock & { advance(sec: number): void } {
  let t = start;
  return {
    name: "manual",
    canSteer: false,
    precisionLog2: -20,
    now: () => t,
    step: () => assert.fail("the system clock must not be stepped"),
    adjust: () => assert.fail("the system clock must not be adjusted"),
    kernelState: () => ({
      state: 0,
      status: 0,
      offsetSec: 0,
      freqPpm: kernelFreqPpm,
      maxErrorSec: 0,
      estErrorSec: 0,
      constant: 0,
      precisionSec: 1e-6,
      toleranceSppm: 500,
      tick: 10000,
      tai: 0,
      nano: true,
    }),
    advance(sec: number) {
      t = addSec(t, sec);
    },
  };
}

const T0 = fromUnix(1_800_000_000);

Deno.test("VirtualClock reads the system clock unchanged until steered", () => {
  const sys = manualClock(T0);
  const v = new VirtualClock(sys);
  assert.equal(v.now(), T0);
  assert.equal(v.isIdentity, true);
  sys.advance(10);
  assert.equal(v.now(), sys.now());
  assert.equal(v.fromSystem(T0), T0);
});

Deno.test("VirtualClock.step() moves virtual time only", () => {
  const sys = manualClock(T0);
  const v = new VirtualClock(sys);
  v.step(-1.5);
  assert.equal(sys.now(), T0);
  assert.ok(Math.abs(diffSec(v.now(), T0) + 1.5) < 1e-9);
  assert.equal(v.correction().steps, 1);
  assert.ok(Math.abs(v.correction().correctionSec + 1.5) < 1e-9);
});

Deno.test("VirtualClock.adjust() integrates frequency relative to the kernel's frequency", () => {
  const sys = manualClock(T0, 10);
  const v = new VirtualClock(sys);
  // Asking for the frequency the kernel already has changes nothing.
  v.adjust({ freqPpm: 10 });
  sys.advance(100);
  assert.ok(Math.abs(v.correction().correctionSec) < 1e-12);
  // 60 ppm absolute = +50 ppm on top of the kernel's 10 ppm: 100 s later, +5 ms.
  v.adjust({ freqPpm: 60 });
  sys.advance(100);
  assert.ok(Math.abs(v.correction().correctionSec - 5e-3) < 1e-9);
  assert.ok(Math.abs(v.correction().relativeFreqPpm - 50) < 1e-9);
  assert.equal(v.correction().requestedFreqPpm, 60);
  // Changing the frequency keeps what was accumulated.
  v.adjust({ freqPpm: 10 });
  sys.advance(1000);
  assert.ok(Math.abs(v.correction().correctionSec - 5e-3) < 1e-9);
  // A kernel receive timestamp from before the change converts with the correction at that time.
  const at = addSec(sys.now(), -1000);
  assert.ok(Math.abs(diffSec(v.fromSystem(at), at) - 5e-3) < 1e-9);
});

Deno.test("VirtualClock slews an adjtime offset at 500 µs/s", () => {
  const sys = manualClock(T0);
  const v = new VirtualClock(sys);
  v.adjust({ offsetSec: 1e-3 });
  sys.advance(1);
  assert.ok(Math.abs(v.correction().correctionSec - VIRTUAL_ADJTIME_RATE) < 1e-12);
  assert.ok(Math.abs(v.correction().pendingSlewSec - 0.5e-3) < 1e-12);
  sys.advance(10);
  assert.ok(Math.abs(v.correction().correctionSec - 1e-3) < 1e-12);
  assert.equal(v.correction().pendingSlewSec, 0);
});

Deno.test("VirtualClock ignores non-finite requests", () => {
  const sys = manualClock(T0);
  const v = new VirtualClock(sys);
  v.step(NaN);
  v.adjust({ freqPpm: Infinity });
  sys.advance(5);
  assert.equal(v.isIdentity, true);
  assert.equal(v.now(), sys.now());
});
