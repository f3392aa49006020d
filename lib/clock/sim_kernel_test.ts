// Tests for the simulated Linux kernel discipline: each ADJ_* bit as Linux handles it, the
// per-second slews, and the kernel PLL against the ntpd discipline's independent mirror of it.

import assert from "node:assert/strict";
import { OsError } from "../../ffi/libc.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_MICRO,
  ADJ_NANO,
  ADJ_OFFSET,
  ADJ_OFFSET_SINGLESHOT,
  ADJ_OFFSET_SS_READ,
  ADJ_STATUS,
  ADJ_TICK,
  ADJ_TIMECONST,
  emptyTimex,
  STA_FLL,
  STA_INS,
  STA_MODE,
  STA_NANO,
  STA_PLL,
  STA_UNSYNC,
  TIME_ERROR,
  TIME_INS,
  TIME_OK,
  type Timex,
} from "../../ffi/timex.ts";
import { KernelPllModel } from "../proto/ntpd_discipline.ts";
import { SimKernel } from "./sim_kernel.ts";

const NOW_NS = 1_700_000_000_250_000_000n;
const at = (sec: number) => NOW_NS + BigInt(sec) * 1_000_000_000n;

function tx(fields: Partial<Timex>): Timex {
  return { ...emptyTimex(), ...fields };
}

/** Runs `seconds` kernel seconds; returns the phase the kernel added (s). */
function run(k: SimKernel, seconds: number): number {
  let phase = 0;
  for (let i = 0; i < seconds; i++) {
    k.secondOverflow();
    phase += k.rate;
  }
  return phase;
}

Deno.test("SimKernel starts as Linux boots: unsynchronised, microseconds, nominal tick", () => {
  const k = new SimKernel();
  const r = k.adjtimex(emptyTimex(), NOW_NS);
  assert.equal(r.state, TIME_ERROR);
  assert.equal(r.timex.status, STA_UNSYNC);
  assert.equal(r.timex.tick, 10_000);
  assert.equal(r.timex.freq, 0);
  assert.equal(r.timex.tolerance, 500 * 65536);
  assert.deepEqual(r.timex.time, { sec: 1_700_000_000, frac: 250_000 });
  assert.equal(k.rate, 0);
});

Deno.test("SimKernel ignores ADJ_OFFSET without STA_PLL, as Linux does", () => {
  const k = new SimKernel();
  // The old frequency-only encoding of an adjtime-style offset: offset with ADJ_OFFSET, no PLL.
  k.adjtimex(tx({ modes: ADJ_OFFSET | ADJ_FREQUENCY | ADJ_NANO, offset: -119_000_000 }), NOW_NS);
  assert.equal(k.snapshot().pllOffsetSec, 0);
  assert.equal(k.snapshot().adjtimeLeftSec, 0);
  assert.equal(run(k, 1000), 0, "the clock is never slewed");
});

Deno.test("SimKernel slews ADJ_OFFSET_SINGLESHOT at 500 µs/s from the next second and returns what it replaced", () => {
  const k = new SimKernel();
  const r = k.adjtimex(tx({ modes: ADJ_OFFSET_SINGLESHOT, offset: -1_200 }), NOW_NS);
  assert.equal(r.timex.offset, 0, "nothing was pending");
  assert.equal(k.rate, 0, "nothing moves before the next second");
  k.secondOverflow();
  assert.ok(Math.abs(k.rate + 500e-6) < 1e-15);
  assert.ok(Math.abs(k.snapshot().adjtimeLeftSec + 700e-6) < 1e-15);
  const read = k.adjtimex(tx({ modes: ADJ_OFFSET_SS_READ }), NOW_NS);
  assert.equal(read.timex.offset, -700);
  assert.ok(Math.abs(k.snapshot().adjtimeLeftSec + 700e-6) < 1e-15, "a read changes nothing");
  const total = -500e-6 + run(k, 5);
  assert.ok(Math.abs(total + 1.2e-3) < 1e-15, `${total}`);
  assert.equal(k.snapshot().adjtimeLeftSec, 0);
  // A new slew replaces the old one; 0 cancels it.
  k.adjtimex(tx({ modes: ADJ_OFFSET_SINGLESHOT, offset: 100_000 }), NOW_NS);
  run(k, 3);
  const cancel = k.adjtimex(tx({ modes: ADJ_OFFSET_SINGLESHOT, offset: 0 }), NOW_NS);
  assert.equal(cancel.timex.offset, 98_500);
  k.secondOverflow();
  assert.equal(k.rate, 0);
});

Deno.test("SimKernel handles nothing else in an adjtime() call, and refuses ADJ_ADJTIME without ADJ_OFFSET", () => {
  const k = new SimKernel();
  k.adjtimex(
    tx({
      modes: ADJ_OFFSET_SINGLESHOT | ADJ_FREQUENCY | ADJ_TICK,
      offset: 10,
      freq: 65536,
      tick: 10_500,
    }),
    NOW_NS,
  );
  assert.equal(k.snapshot().freqPpm, 0);
  assert.equal(k.snapshot().tickUs, 10_000);
  assert.ok(Math.abs(k.snapshot().adjtimeLeftSec - 10e-6) < 1e-15);
  assert.throws(() => k.adjtimex(tx({ modes: 0x8000 }), NOW_NS), OsError);
});

Deno.test("SimKernel clamps ADJ_FREQUENCY to ±500 ppm, refuses a tick beyond ±10 % and slews with the tick", () => {
  const k = new SimKernel();
  k.adjtimex(tx({ modes: ADJ_FREQUENCY, freq: 800 * 65536 }), NOW_NS);
  assert.equal(k.snapshot().freqPpm, 500);
  k.adjtimex(tx({ modes: ADJ_FREQUENCY | ADJ_TICK, freq: -12 * 65536, tick: 9_500 }), NOW_NS);
  assert.ok(Math.abs(k.rate - (-0.05 - 12e-6)) < 1e-15, "tick and frequency act at once");
  assert.ok(Math.abs(k.baseRate - k.rate) < 1e-18);
  for (const tick of [8_999, 11_001]) {
    assert.throws(() => k.adjtimex(tx({ modes: ADJ_TICK, tick }), NOW_NS), (e: unknown) => {
      return e instanceof OsError && e.errno === 22;
    });
  }
  assert.equal(k.snapshot().tickUs, 9_500, "a refused call changes nothing");
});

Deno.test("SimKernel runs the kernel PLL only with STA_PLL, as the ntpd discipline's mirror predicts", () => {
  const k = new SimKernel();
  const mirror = new KernelPllModel();
  const pll = ADJ_STATUS | ADJ_TIMECONST | ADJ_OFFSET | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR;
  const offsets = [0.004, 0.0031, -0.0007, 0.0012, 0.0009, -0.0002];
  let sec = 0;
  for (const [i, offsetSec] of offsets.entries()) {
    const constant = 4 + (i % 2);
    k.adjtimex(
      tx({ modes: pll, status: STA_PLL, constant, offset: Math.round(offsetSec * 1e9) }),
      at(sec),
    );
    mirror.update(offsetSec, constant, false, 1_700_000_000 + sec);
    const interval = 64 * (i + 1);
    run(k, interval);
    mirror.advance(interval);
    sec += interval;
    const snap = k.snapshot();
    assert.ok(Math.abs(snap.freqPpm - mirror.freq * 1e6) < 1e-9, `${snap.freqPpm}`);
    assert.ok(Math.abs(snap.pllOffsetSec - mirror.residualSec) < 1e-12);
  }
  assert.ok(k.snapshot().freqPpm !== 0);
  // ADJ_STATUS with STA_FLL over a long interval runs the FLL (STA_MODE).
  k.adjtimex(
    tx({ modes: pll, status: STA_PLL | STA_FLL, constant: 6, offset: 1_000_000 }),
    at(sec + 600),
  );
  assert.equal(k.snapshot().status & STA_MODE, STA_MODE);
});

Deno.test("SimKernel: switching the PLL off resets the status (units too), ADJ_TIMECONST adds 4 in µs mode", () => {
  const k = new SimKernel();
  // maxerror must be written too: at its 16 s limit the kernel sets STA_UNSYNC every second.
  k.adjtimex(
    tx({ modes: ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR, status: STA_PLL | STA_INS, maxerror: 0 }),
    NOW_NS,
  );
  assert.equal(k.snapshot().status, STA_PLL | STA_INS | STA_NANO, "STA_UNSYNC is writable");
  k.secondOverflow();
  assert.equal(k.adjtimex(emptyTimex(), NOW_NS).state, TIME_INS);
  // The reset to STA_UNSYNC is overwritten by the bits written; STA_NANO does not survive it.
  k.adjtimex(tx({ modes: ADJ_STATUS, status: 0 }), NOW_NS);
  assert.equal(k.snapshot().status, 0);
  assert.equal(k.adjtimex(emptyTimex(), NOW_NS).state, TIME_OK);
  k.adjtimex(tx({ modes: ADJ_STATUS | ADJ_MICRO | ADJ_TIMECONST, status: 0, constant: 3 }), NOW_NS);
  assert.equal(k.snapshot().constant, 7);
  k.adjtimex(tx({ modes: ADJ_NANO | ADJ_TIMECONST, constant: 3 }), NOW_NS);
  assert.equal(k.snapshot().constant, 3);
  k.adjtimex(tx({ modes: ADJ_MAXERROR, maxerror: 15_999_800 }), NOW_NS);
  assert.equal(k.adjtimex(emptyTimex(), NOW_NS).state, TIME_OK);
  run(k, 2);
  assert.equal(k.snapshot().maxErrorSec, 16);
  assert.equal(k.snapshot().status & STA_UNSYNC, STA_UNSYNC, "maxerror reached 16 s");
  assert.equal(k.adjtimex(emptyTimex(), NOW_NS).state, TIME_ERROR);
});
