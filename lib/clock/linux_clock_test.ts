// Tests for the Linux clock adapter: the pure timex builder and step arithmetic, and LinuxClock
// against a fake syscall table. SAFETY: the real clock is only ever read here, never written.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Errno, OsError, realtimeNs } from "../../ffi/libc.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_MICRO,
  ADJ_NANO,
  ADJ_OFFSET,
  ADJ_OFFSET_SINGLESHOT,
  ADJ_STATUS,
  ADJ_TICK,
  ADJ_TIMECONST,
  type AdjtimeResult,
  emptyTimex,
  encodeTimex,
  ntpAdjtime,
  STA_DEL,
  STA_FLL,
  STA_INS,
  STA_NANO,
  STA_PLL,
  STA_PPSFREQ,
  STA_PPSTIME,
  STA_UNSYNC,
  TIME_ERROR,
  TIME_OK,
  type Timex,
  TIMEX_SIZE,
} from "../../ffi/timex.ts";
import { fromUnixNs, toUnixNs } from "../proto/ntp_time.ts";
import {
  adjustmentCalls,
  buildAdjustmentTimex,
  buildSlewTimex,
  clockAdjustmentFromAction,
  kernelClockState,
  LinuxClock,
  type LinuxClockSyscalls,
  MAX_ADJTIME_SEC,
  NOMINAL_TICK_US,
  splitTickFrequency,
  stepTarget,
} from "./linux_clock.ts";
import { NtpdDiscipline } from "../proto/ntpd_discipline.ts";
import type { AdjustClockAction } from "../proto/events.ts";

Deno.test("buildAdjustmentTimex() of an empty request is a read (modes 0)", () => {
  const t = buildAdjustmentTimex({});
  assert.equal(t.modes, 0);
  assert.equal(t.status, 0);
});

Deno.test("buildAdjustmentTimex() encodes a kernel PLL update in nanoseconds", () => {
  const t = buildAdjustmentTimex({
    offsetSec: 0.001234,
    kernelPll: { constant: 6 },
    maxErrorSec: 0.0125,
    estErrorSec: 0.000321,
    leap: 0,
  });
  assert.equal(
    t.modes,
    ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_NANO,
  );
  assert.equal(t.offset, 1_234_000);
  assert.equal(t.status, STA_PLL | STA_NANO);
  assert.equal(t.constant, 6);
  assert.equal(t.maxerror, 12_500);
  assert.equal(t.esterror, 321);
  assert.equal(t.freq, 0);
});

Deno.test("buildAdjustmentTimex() selects the FLL with STA_FLL", () => {
  const t = buildAdjustmentTimex({ offsetSec: -0.01, kernelPll: { constant: 4, fll: true } });
  assert.equal(t.status, STA_PLL | STA_FLL | STA_NANO);
  assert.equal(t.offset, -10_000_000);
});

Deno.test("buildAdjustmentTimex() in microsecond mode uses ADJ_MICRO and µs units", () => {
  const t = buildAdjustmentTimex({ offsetSec: 0.001234, kernelPll: { constant: 2 } }, {
    nano: false,
  });
  assert.equal(t.modes, ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_MICRO);
  assert.equal(t.offset, 1234);
  assert.equal(t.status, STA_PLL);
});

Deno.test("buildAdjustmentTimex() with only freqPpm is frequency-only (status untouched)", () => {
  const t = buildAdjustmentTimex({ freqPpm: -12.5 });
  assert.equal(t.modes, ADJ_FREQUENCY | ADJ_NANO);
  assert.equal(t.freq, -819_200); // −12.5 × 65536
  assert.equal(t.modes & ADJ_STATUS, 0);
});

Deno.test("buildAdjustmentTimex() clamps to the kernel's limits", () => {
  const big = buildAdjustmentTimex({
    offsetSec: 3,
    freqPpm: 200_000,
    kernelPll: { constant: 15 },
    maxErrorSec: 100,
    estErrorSec: -1,
  });
  assert.equal(big.offset, 500_000_000); // MAXPHASE 0.5 s
  assert.equal(big.tick, 11_000); // +10 % tick
  assert.equal(big.freq, 500 * 65536); // MAXFREQ 500 ppm
  assert.equal(big.constant, 10); // MAXTC
  assert.equal(big.maxerror, 16_000_000); // 16 s
  assert.equal(big.esterror, 0);
  const small = buildAdjustmentTimex({
    offsetSec: -3,
    freqPpm: -200_000,
    kernelPll: { constant: -2 },
  });
  assert.equal(small.offset, -500_000_000);
  assert.equal(small.tick, 9_000);
  assert.equal(small.freq, -500 * 65536);
  assert.equal(small.constant, 0);
});

Deno.test("splitTickFrequency() keeps ±500 ppm in ADJ_FREQUENCY and moves the rest to the tick", () => {
  assert.deepEqual(splitTickFrequency(499.5), { tickUs: 10_000, freqPpm: 499.5 });
  assert.deepEqual(splitTickFrequency(-500), { tickUs: 10_000, freqPpm: -500 });
  assert.deepEqual(splitTickFrequency(50_000), { tickUs: 10_500, freqPpm: 0 });
  const odd = splitTickFrequency(1234.5);
  assert.equal(odd.tickUs, 10_012);
  assert.ok(Math.abs(odd.freqPpm - 34.5) < 1e-9);
  assert.deepEqual(splitTickFrequency(-100_500), { tickUs: 9_000, freqPpm: -500 });
  // Another nominal tick (USER_HZ 1000: 1000 µs, 1000 ppm per µs).
  assert.deepEqual(splitTickFrequency(2600, 1000), { tickUs: 1003, freqPpm: -400 });
  assert.throws(() => splitTickFrequency(NaN), RangeError);
});

Deno.test("splitTickFrequency() adds back up to the request within the kernel's range (property)", () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`splitTickFrequency: fast-check seed ${seed}`);
  fc.assert(
    fc.property(fc.double({ min: -100_500, max: 100_500, noNaN: true }), (ppm) => {
      const s = splitTickFrequency(ppm);
      assert.ok(s.tickUs >= 9_000 && s.tickUs <= 11_000);
      assert.ok(Math.abs(s.freqPpm) <= 500);
      assert.ok(Math.abs((s.tickUs - NOMINAL_TICK_US) * 100 + s.freqPpm - ppm) < 1e-6);
      if (Math.abs(ppm) > 500 && Math.abs(ppm) <= 100_000) assert.ok(Math.abs(s.freqPpm) <= 50);
    }),
    { seed },
  );
});

Deno.test("buildAdjustmentTimex() realises the horae discipline's 5 % slew with ADJ_TICK", () => {
  const t = buildAdjustmentTimex({ freqPpm: 50_000 + 12.5 });
  assert.equal(t.modes, ADJ_FREQUENCY | ADJ_TICK | ADJ_NANO);
  assert.equal(t.tick, 10_500);
  assert.equal(t.freq, 12.5 * 65536);
  const back = buildAdjustmentTimex({ freqPpm: 12.5 }, { restoreTick: true });
  assert.equal(back.modes, ADJ_FREQUENCY | ADJ_TICK | ADJ_NANO);
  assert.equal(back.tick, 10_000);
  assert.equal(buildAdjustmentTimex({ freqPpm: 12.5 }).modes & ADJ_TICK, 0);
});

Deno.test("clockAdjustmentFromAction() maps ntpd's kernel mode to offset + time constant, no frequency", () => {
  const d = new NtpdDiscipline({ driftPpm: 1 });
  const r = d.update({ offsetSec: 0.0015, maxErrorSec: 0.01 }, 1n << 62n);
  const action = r.actions.find((a): a is AdjustClockAction => a.type === "adjustClock")!;
  const adj = clockAdjustmentFromAction(action);
  assert.equal(adj.freqPpm, undefined);
  assert.deepEqual(adj.kernelPll, { constant: 6, fll: false });
  assert.equal(adj.offsetSec, 0.0015);
  assert.equal(adj.leap, 0);
  const t = buildAdjustmentTimex(adj);
  assert.equal(
    t.modes,
    ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_NANO,
  );
  assert.equal(t.status, STA_PLL | STA_NANO);
  assert.equal(t.offset, 1_500_000);
  assert.equal(t.constant, 6);
  assert.equal(t.maxerror, 10_000);
  // Arming a leap keeps the PLL on and adds STA_INS.
  const leap = d.setLeap(1)[0] as AdjustClockAction;
  const lt = buildAdjustmentTimex(clockAdjustmentFromAction(leap));
  assert.equal(lt.status, STA_PLL | STA_INS | STA_NANO);
  assert.equal(lt.modes & ADJ_OFFSET, 0, "the kernel's phase is left alone");
});

Deno.test("clockAdjustmentFromAction() maps 'disable kernel' to frequency-only writes", () => {
  const d = new NtpdDiscipline({ driftPpm: 1, kernel: false });
  const r = d.update({ offsetSec: 0.0015 }, 1n << 62n);
  const action = r.actions.find((a): a is AdjustClockAction => a.type === "adjustClock")!;
  const adj = clockAdjustmentFromAction(action);
  assert.deepEqual(Object.keys(adj).sort(), ["estErrorSec", "freqPpm", "maxErrorSec"]);
  assert.equal(
    buildAdjustmentTimex(adj).modes,
    ADJ_FREQUENCY | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_NANO,
  );
  assert.equal(buildAdjustmentTimex(adj).status & STA_PLL, 0);
  const plain: AdjustClockAction = {
    type: "adjustClock",
    freqPpm: 3,
    offsetSec: 0.2,
    estErrorSec: 0,
    maxErrorSec: 1,
  };
  assert.deepEqual(clockAdjustmentFromAction(plain), {
    freqPpm: 3,
    offsetSec: 0.2,
    estErrorSec: 0,
    maxErrorSec: 1,
  });
});

Deno.test("buildAdjustmentTimex() maps leap 1/2/3 to STA_INS/STA_DEL/STA_UNSYNC", () => {
  const bits = [0, 1, 2, 3].map((leap) => buildAdjustmentTimex({ leap }));
  for (const t of bits) assert.equal(t.modes, ADJ_STATUS | ADJ_NANO);
  assert.deepEqual(bits.map((t) => t.status & ~STA_NANO), [0, STA_INS, STA_DEL, STA_UNSYNC]);
  // Leap with the PLL on keeps both.
  const both = buildAdjustmentTimex({ leap: 1, kernelPll: { constant: 3 } });
  assert.equal(both.status, STA_PLL | STA_INS | STA_NANO);
});

Deno.test("buildAdjustmentTimex() keeps the PPS discipline bits when asked", () => {
  const t = buildAdjustmentTimex({ kernelPll: { constant: 4 } }, { pps: true });
  assert.equal(t.status, STA_PLL | STA_PPSTIME | STA_PPSFREQ | STA_NANO);
  // Without a status write there is nothing to keep.
  assert.equal(buildAdjustmentTimex({ freqPpm: 1 }, { pps: true }).status & STA_PPSTIME, 0);
});

Deno.test("buildAdjustmentTimex() sets the PPS discipline bits per request with the kernel PLL", () => {
  const on = buildAdjustmentTimex({ kernelPll: { constant: 4 }, kernelPps: true, offsetSec: 1e-3 });
  assert.equal(on.status, STA_PLL | STA_PPSTIME | STA_PPSFREQ | STA_NANO);
  assert.equal(on.modes & ADJ_STATUS, ADJ_STATUS);
  // The next status write without it switches the kernel's PPS discipline off again.
  const off = buildAdjustmentTimex({ kernelPll: { constant: 4 }, offsetSec: 1e-3 });
  assert.equal(off.status & (STA_PPSTIME | STA_PPSFREQ), 0);
  // Never without the kernel PLL: frequency-only mode has no PPS discipline to hand over to.
  const fo = buildAdjustmentTimex({ freqPpm: 1, leap: 0, kernelPps: true });
  assert.equal(fo.status & (STA_PPSTIME | STA_PPSFREQ), 0);
});

Deno.test("clockAdjustmentFromAction() carries kernelPps only with the kernel PLL", () => {
  const base = { type: "adjustClock" as const, freqPpm: 3, estErrorSec: 0, maxErrorSec: 0 };
  const k = clockAdjustmentFromAction({
    ...base,
    offsetSec: 1e-4,
    kernelPll: { constant: 4, fll: false },
    kernelPps: true,
  });
  assert.equal(k.kernelPps, true);
  assert.equal(k.freqPpm, undefined, "the kernel keeps its own frequency");
  assert.equal(clockAdjustmentFromAction({ ...base, kernelPps: true }).kernelPps, undefined);
});

Deno.test("buildAdjustmentTimex() rejects non-finite values and bad leap codes", () => {
  assert.throws(
    () => buildAdjustmentTimex({ offsetSec: NaN, kernelPll: { constant: 4 } }),
    RangeError,
  );
  assert.throws(() => buildSlewTimex(NaN), RangeError);
  assert.throws(() => adjustmentCalls({ offsetSec: Infinity }), RangeError);
  assert.throws(() => buildAdjustmentTimex({ freqPpm: Infinity }), RangeError);
  assert.throws(() => buildAdjustmentTimex({ kernelPll: { constant: NaN } }), RangeError);
  assert.throws(() => buildAdjustmentTimex({ leap: 4 }), RangeError);
});

Deno.test("stepTarget() adds the offset and normalises the timespec", () => {
  assert.deepEqual(stepTarget(1_000_000_000_500_000_000n, 0.25), {
    sec: 1_000_000_000n,
    nsec: 750_000_000n,
  });
  assert.deepEqual(stepTarget(10_200_000_000n, -0.5), { sec: 9n, nsec: 700_000_000n });
  assert.deepEqual(stepTarget(10_000_000_000n, -1.25), { sec: 8n, nsec: 750_000_000n });
  // A whole-day step keeps nanosecond exactness.
  assert.deepEqual(stepTarget(1_700_000_000_123_456_789n, 86_400), {
    sec: 1_700_086_400n,
    nsec: 123_456_789n,
  });
  assert.throws(() => stepTarget(0n, NaN), RangeError);
});

Deno.test("stepTarget() equals now + offset to the nanosecond (property)", () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`stepTarget: fast-check seed ${seed}`);
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 4_000_000_000_000_000_000n }),
      fc.integer({ min: -1_000_000_000_000, max: 1_000_000_000_000 }), // offset in ns, ±1000 s
      (nowNs, offsetNs) => {
        const { sec, nsec } = stepTarget(nowNs, offsetNs / 1e9);
        assert.ok(nsec >= 0n && nsec < 1_000_000_000n);
        assert.equal(sec * 1_000_000_000n + nsec, nowNs + BigInt(offsetNs));
      },
    ),
    { seed },
  );
});

Deno.test("kernelClockState() converts a nanosecond timex to seconds and ppm", () => {
  const t = emptyTimex();
  t.status = STA_PLL | STA_NANO;
  t.offset = -250_000; // ns
  t.freq = 17 * 65536 + 32768;
  t.maxerror = 3480;
  t.esterror = 12;
  t.constant = 6;
  t.precision = 1;
  t.tolerance = 500 * 65536;
  t.tick = 10_000;
  t.tai = 37;
  t.ppsfreq = -3 * 65536 - 16384;
  t.jitter = 1_500; // ns, as the offset
  t.shift = 5;
  t.stabil = 65536 / 4;
  t.jitcnt = 2;
  t.calcnt = 11;
  t.errcnt = 1;
  t.stbcnt = 3;
  assert.deepEqual(kernelClockState({ state: TIME_OK, timex: t }), {
    state: TIME_OK,
    status: STA_PLL | STA_NANO,
    offsetSec: -0.00025,
    freqPpm: 17.5,
    maxErrorSec: 0.00348,
    estErrorSec: 0.000012,
    constant: 6,
    precisionSec: 1e-6, // Linux reports the precision in µs even with STA_NANO
    toleranceSppm: 500 * 65536,
    tick: 10_000,
    tai: 37,
    nano: true,
    pps: {
      freqPpm: -3.25,
      jitterSec: 1.5e-6,
      intervalLog2: 5,
      stabilityPpm: 0.25,
      jitterExceeded: 2,
      calibrations: 11,
      errors: 1,
      stabilityExceeded: 3,
    },
  });
  t.status = STA_UNSYNC; // microseconds now
  const us = kernelClockState({ state: TIME_ERROR, timex: t });
  assert.equal(us.offsetSec, -0.25);
  assert.equal(us.pps?.jitterSec, 1.5e-3, "the PPS jitter follows STA_NANO as the offset does");
  assert.equal(us.precisionSec, 1e-6);
  assert.equal(us.nano, false);
});

/** The 208-byte struct as ntp_adjtime would receive it. */
function timexBytes(t: Timex): DataView {
  const bytes = encodeTimex(t);
  assert.equal(bytes.byteLength, TIMEX_SIZE);
  return new DataView(bytes.buffer);
}

/** True when every byte outside modes (0..3) and offset (8..15) is zero. */
function onlyModesAndOffset(v: DataView): boolean {
  for (let i = 0; i < v.byteLength; i++) {
    if ((i < 4 || (i >= 8 && i < 16)) === false && v.getUint8(i) !== 0) return false;
  }
  return true;
}

Deno.test("buildSlewTimex() encodes an adjtime slew: modes ADJ_OFFSET_SINGLESHOT, offset in µs", () => {
  const v = timexBytes(buildSlewTimex(-0.119));
  assert.equal(v.getUint32(0, true), 0x8001);
  assert.equal(v.getBigInt64(8, true), -119_000n);
  assert.ok(onlyModesAndOffset(v), "no other field, no status, no units bit");
  // Microseconds whatever the kernel's units, rounded to the nearest one.
  assert.equal(timexBytes(buildSlewTimex(0.0000126)).getBigInt64(8, true), 13n);
  assert.equal(timexBytes(buildSlewTimex(0)).getBigInt64(8, true), 0n);
  // Beyond any discipline's slew (600 s under -x) it is clamped.
  assert.equal(
    timexBytes(buildSlewTimex(-5000)).getBigInt64(8, true),
    BigInt(-MAX_ADJTIME_SEC * 1e6),
  );
});

Deno.test("adjustmentCalls() sends an adjtime-style offset in its own ADJ_OFFSET_SINGLESHOT call", () => {
  // What the ntpd discipline's -q slew asks for.
  const calls = adjustmentCalls({
    freqPpm: 4,
    offsetSec: 0.05,
    estErrorSec: 0.001,
    maxErrorSec: 0.01,
  });
  assert.equal(calls.length, 2);
  const main = calls[0]!;
  assert.equal(main.modes, ADJ_FREQUENCY | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_NANO);
  assert.equal(main.modes & ADJ_OFFSET, 0, "Linux ignores ADJ_OFFSET without STA_PLL");
  assert.equal(main.freq, 4 * 65536);
  const slew = timexBytes(calls[1]!);
  assert.equal(slew.getUint32(0, true), ADJ_OFFSET_SINGLESHOT);
  assert.equal(slew.getBigInt64(8, true), 50_000n);
  assert.ok(onlyModesAndOffset(slew));
  // An offset alone is one call; with the kernel PLL it stays ADJ_OFFSET in the main call.
  assert.deepEqual(adjustmentCalls({ offsetSec: 0.05 }).map((t) => t.modes), [0x8001]);
  const pll = adjustmentCalls({ offsetSec: 0.05, kernelPll: { constant: 6 } });
  assert.equal(pll.length, 1);
  assert.equal(pll[0]!.modes & ADJ_OFFSET, ADJ_OFFSET);
  assert.equal(pll[0]!.status & STA_PLL, STA_PLL);
});

Deno.test("buildAdjustmentTimex() never writes ADJ_OFFSET unless it switches STA_PLL on (property)", () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`buildAdjustmentTimex ADJ_OFFSET: fast-check seed ${seed}`);
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  fc.assert(
    fc.property(
      opt(fc.double({ min: -10, max: 10, noNaN: true })),
      opt(fc.double({ min: -100_000, max: 100_000, noNaN: true })),
      opt(fc.integer({ min: 0, max: 3 })),
      opt(fc.integer({ min: 0, max: 10 })),
      (offsetSec, freqPpm, leap, constant) => {
        const adj = {
          ...(offsetSec !== undefined ? { offsetSec } : {}),
          ...(freqPpm !== undefined ? { freqPpm } : {}),
          ...(leap !== undefined ? { leap } : {}),
          ...(constant !== undefined ? { kernelPll: { constant } } : {}),
        };
        for (const t of adjustmentCalls(adj)) {
          if (t.modes === ADJ_OFFSET_SINGLESHOT) continue;
          if ((t.modes & ADJ_OFFSET) !== 0) {
            assert.ok((t.modes & ADJ_STATUS) !== 0 && (t.status & STA_PLL) !== 0);
          }
        }
        const slews = adjustmentCalls(adj).filter((t) => t.modes === ADJ_OFFSET_SINGLESHOT);
        assert.equal(slews.length, offsetSec !== undefined && constant === undefined ? 1 : 0);
      },
    ),
    { seed },
  );
});

Deno.test("adjustmentCalls() of a release: nominal tick, frequency, PLL residual zeroed, adjtime cancelled", () => {
  const calls = adjustmentCalls({ release: true, freqPpm: -21.5, estErrorSec: 0, maxErrorSec: 16 });
  assert.equal(calls.length, 2);
  const main = calls[0]!;
  assert.equal(
    main.modes,
    ADJ_OFFSET | ADJ_FREQUENCY | ADJ_TICK | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_NANO,
  );
  assert.equal(main.offset, 0);
  assert.equal(main.tick, NOMINAL_TICK_US);
  assert.equal(main.freq, -21.5 * 65536);
  assert.equal(main.modes & ADJ_STATUS, 0, "PLL and leap bits stay as they are");
  const cancel = timexBytes(calls[1]!);
  assert.equal(cancel.getUint32(0, true), ADJ_OFFSET_SINGLESHOT);
  assert.equal(cancel.getBigInt64(8, true), 0n);
  // Without a frequency (the kernel PLL's own is kept) the frequency is not written.
  const kernel = adjustmentCalls({ release: true })[0]!;
  assert.equal(kernel.modes, ADJ_OFFSET | ADJ_TICK | ADJ_NANO);
  // A release is never a tick slew.
  const far = adjustmentCalls({ release: true, freqPpm: 20_000 })[0]!;
  assert.equal(far.tick, NOMINAL_TICK_US);
  assert.equal(far.freq, 500 * 65536);
  // Another nominal tick is honoured.
  assert.equal(adjustmentCalls({ release: true }, { baseTickUs: 1000 })[0]!.tick, 1000);
  assert.throws(() => adjustmentCalls({ release: true, offsetSec: 0.1 }), RangeError);
  assert.throws(() => adjustmentCalls({ release: true, kernelPll: { constant: 4 } }), RangeError);
});

Deno.test("clockAdjustmentFromAction() maps a release, keeping the kernel's frequency under its PLL", () => {
  const base = { type: "adjustClock" as const, freqPpm: 9, estErrorSec: 0, maxErrorSec: 16 };
  assert.deepEqual(clockAdjustmentFromAction({ ...base, release: true }), {
    release: true,
    freqPpm: 9,
    estErrorSec: 0,
    maxErrorSec: 16,
  });
  assert.deepEqual(
    clockAdjustmentFromAction({
      ...base,
      release: true,
      kernelPll: { constant: 6, fll: false },
    }),
    { release: true, estErrorSec: 0, maxErrorSec: 16 },
  );
  // The ntpd discipline's own release, in kernel mode once the PLL runs.
  const d = new NtpdDiscipline({ driftPpm: 2 });
  d.start(1n << 62n);
  d.update({ offsetSec: 0.001 }, (1n << 62n) + (64n << 32n));
  const rel = clockAdjustmentFromAction(d.release()[0] as AdjustClockAction);
  assert.deepEqual(Object.keys(rel).sort(), ["estErrorSec", "maxErrorSec", "release"]);
});

Deno.test("LinuxClock hands ntp_adjtime the -q slew as two structs: frequency, then ADJ_OFFSET_SINGLESHOT", () => {
  // The real ntpAdjtime() encodes each struct; a fake syscall keeps the bytes (nothing is written).
  const buffers: Uint8Array[] = [];
  const sys: LinuxClockSyscalls = {
    realtimeNs: () => 0n,
    setRealtime: () => {
      throw new Error("no steps here");
    },
    ntpAdjtime: (t) =>
      ntpAdjtime(t, {
        adjtime: (buf) => {
          buffers.push(buf.slice());
          return TIME_ERROR;
        },
        errno: () => 0,
      }),
  };
  const clock = new LinuxClock({ syscalls: sys });
  const d = new NtpdDiscipline({ setOnce: true, driftPpm: 4 });
  const r = d.update({ offsetSec: -0.119 }, 1n << 62n);
  const action = r.actions.find((a): a is AdjustClockAction => a.type === "adjustClock")!;
  clock.adjust(clockAdjustmentFromAction(action));
  assert.equal(buffers.length, 2);
  const main = new DataView(buffers[0]!.buffer);
  assert.equal(main.getUint32(0, true) & ADJ_OFFSET, 0);
  assert.equal(main.getUint32(0, true) & ADJ_FREQUENCY, ADJ_FREQUENCY);
  assert.equal(main.getBigInt64(16, true), BigInt(4 * 65536));
  const slew = new DataView(buffers[1]!.buffer);
  assert.equal(slew.getUint32(0, true), 0x8001);
  assert.equal(slew.getBigInt64(8, true), -119_000n);
  assert.ok(onlyModesAndOffset(slew));
  // Releasing: one struct for tick, frequency and PLL residual, then the adjtime cancel.
  clock.adjust(clockAdjustmentFromAction(d.release()[0] as AdjustClockAction));
  assert.equal(buffers.length, 4);
  const rel = new DataView(buffers[2]!.buffer);
  assert.equal(rel.getUint32(0, true) & (ADJ_TICK | ADJ_OFFSET), ADJ_TICK | ADJ_OFFSET);
  assert.equal(rel.getBigInt64(88, true), BigInt(NOMINAL_TICK_US));
  assert.equal(rel.getBigInt64(8, true), 0n);
  const cancel = new DataView(buffers[3]!.buffer);
  assert.equal(cancel.getUint32(0, true), 0x8001);
  assert.equal(cancel.getBigInt64(8, true), 0n);
});

/** A fake kernel recording every call. */
function fakeSyscalls(nowNs: bigint) {
  const calls: Array<{ call: string; args: unknown[] }> = [];
  const sys: LinuxClockSyscalls = {
    realtimeNs() {
      calls.push({ call: "realtimeNs", args: [] });
      return nowNs;
    },
    setRealtime(sec, nsec) {
      calls.push({ call: "setRealtime", args: [sec, nsec] });
    },
    ntpAdjtime(t: Timex): AdjtimeResult {
      calls.push({ call: "ntpAdjtime", args: [structuredClone(t)] });
      const out = emptyTimex();
      out.status = STA_UNSYNC;
      out.precision = 1;
      return { state: TIME_ERROR, timex: out };
    },
  };
  return { sys, calls };
}

Deno.test("LinuxClock.step() sets the clock read just before plus the offset", () => {
  const { sys, calls } = fakeSyscalls(1_700_000_000_900_000_000n);
  new LinuxClock({ syscalls: sys }).step(0.2);
  assert.deepEqual(calls, [
    { call: "realtimeNs", args: [] },
    { call: "setRealtime", args: [1_700_000_001n, 100_000_000n] },
  ]);
});

Deno.test("LinuxClock.adjust() passes the built timex, and nothing for an empty request", () => {
  const { sys, calls } = fakeSyscalls(0n);
  const clock = new LinuxClock({ syscalls: sys, nano: false });
  clock.adjust({});
  assert.equal(calls.length, 0);
  const adj = { offsetSec: 0.002, kernelPll: { constant: 5 }, leap: 1 };
  clock.adjust(adj);
  // The first write also puts the nominal tick back: another process may have left its own.
  assert.deepEqual(calls, [{
    call: "ntpAdjtime",
    args: [buildAdjustmentTimex(adj, { nano: false, restoreTick: true })],
  }]);
  clock.adjust(adj);
  assert.deepEqual(calls[1], {
    call: "ntpAdjtime",
    args: [buildAdjustmentTimex(adj, { nano: false })],
  });
});

Deno.test("LinuxClock.adjust() puts the nominal tick back after a tick-length slew", () => {
  const { sys, calls } = fakeSyscalls(0n);
  const clock = new LinuxClock({ syscalls: sys });
  const ticks = () =>
    calls.map((c) => c.args[0] as Timex).map((t) => (t.modes & ADJ_TICK) ? t.tick : null);
  clock.adjust({ freqPpm: 7 });
  clock.adjust({ freqPpm: 7 });
  clock.adjust({ freqPpm: 50_000 });
  clock.adjust({ freqPpm: 50_000 });
  clock.adjust({ freqPpm: 7 });
  clock.adjust({ freqPpm: 7 });
  clock.adjust({ leap: 1 });
  assert.deepEqual(ticks(), [10_000, null, 10_500, 10_500, 10_000, null, null]);
});

Deno.test("LinuxClock.kernelState() reads with modes 0 and converts the result", () => {
  const { sys, calls } = fakeSyscalls(0n);
  const s = new LinuxClock({ syscalls: sys }).kernelState();
  assert.equal(calls.length, 1);
  assert.equal((calls[0]!.args[0] as Timex).modes, 0);
  assert.equal(s.state, TIME_ERROR);
  assert.equal(s.status, STA_UNSYNC);
  assert.equal(s.precisionSec, 1e-6);
});

Deno.test("LinuxClock.now() converts the clock_gettime reading exactly", () => {
  const ns = 1_700_000_000_123_456_789n;
  const { sys } = fakeSyscalls(ns);
  const clock = new LinuxClock({ syscalls: sys });
  assert.equal(clock.now(), fromUnixNs(ns));
  assert.equal(toUnixNs(clock.now()), ns);
  assert.equal(clock.canSteer, true);
  assert.equal(clock.name, "linux");
});

Deno.test("LinuxClock passes a failing system call's OsError through", () => {
  const { sys } = fakeSyscalls(0n);
  sys.ntpAdjtime = () => {
    throw new OsError("ntp_adjtime", Errno.EPERM);
  };
  const clock = new LinuxClock({ syscalls: sys });
  assert.throws(() => clock.adjust({ freqPpm: 1 }), OsError);
});

Deno.test("LinuxClock with real libc reads the clock and the kernel state (read-only)", () => {
  const clock = new LinuxClock();
  const before = fromUnixNs(realtimeNs());
  const now = clock.now();
  const after = fromUnixNs(realtimeNs());
  assert.ok(before <= now && now <= after);
  const s = clock.kernelState();
  assert.ok(s.state >= TIME_OK && s.state <= TIME_ERROR);
  assert.ok(s.precisionSec > 0);
  assert.ok(clock.precisionLog2 < -9 && clock.precisionLog2 >= -30);
});
