// Tests for the observe-only NullClock: its time sources, ignored requests and kernel state.

import assert from "node:assert/strict";
import { Errno, OsError, realtimeNs } from "../../ffi/libc.ts";
import { emptyTimex, readKernelTime, STA_PLL, TIME_OK } from "../../ffi/timex.ts";
import { diffSec, fromUnixNs } from "../proto/ntp_time.ts";
import { bestTimeSource, NullClock } from "./null_clock.ts";

Deno.test("NullClock picks FFI when it is permitted and reads between two clock_gettime", () => {
  assert.equal(bestTimeSource(), "ffi");
  const clock = new NullClock();
  assert.equal(clock.source, "ffi");
  assert.equal(clock.name, "null");
  assert.equal(clock.canSteer, false);
  const before = fromUnixNs(realtimeNs());
  const now = clock.now();
  const after = fromUnixNs(realtimeNs());
  assert.ok(before <= now && now <= after);
});

Deno.test("NullClock falls back to Temporal and Date with their coarser precision", () => {
  for (const source of ["temporal", "date"] as const) {
    const clock = new NullClock({ source });
    assert.equal(clock.source, source);
    const offsetSec = diffSec(clock.now(), fromUnixNs(realtimeNs()));
    assert.ok(Math.abs(offsetSec) < 0.01, `${source} reads ${offsetSec} s off`);
    assert.equal(clock.kernelState(), null); // no FFI, no kernel reads
  }
  // Date ticks whole milliseconds: precision no finer than 2^-10 s.
  assert.ok(new NullClock({ source: "date" }).precisionLog2 >= -10);
  assert.ok(new NullClock({ source: "ffi" }).precisionLog2 < -10);
});

Deno.test("NullClock.step() and adjust() change nothing and are remembered", () => {
  const clock = new NullClock();
  assert.deepEqual(clock.lastRequested(), { step: null, adjust: null });
  const stateBefore = readKernelTime();
  clock.step(3600);
  // The clock was not stepped by an hour.
  assert.ok(Math.abs(diffSec(clock.now(), fromUnixNs(realtimeNs()))) < 1);
  const adj = { offsetSec: 0.1, freqPpm: 42, kernelPll: { constant: 6 }, leap: 1 };
  clock.adjust(adj);
  adj.kernelPll.constant = 9; // the record is a copy
  const last = clock.lastRequested();
  assert.deepEqual(last.step?.request, { offsetSec: 3600 });
  assert.deepEqual(last.adjust?.request, {
    offsetSec: 0.1,
    freqPpm: 42,
    kernelPll: { constant: 6 },
    leap: 1,
  });
  assert.ok(last.step !== null && last.adjust !== null && last.step.at <= last.adjust.at);
  // The kernel discipline was not touched either.
  const stateAfter = readKernelTime();
  assert.equal(stateAfter.timex.status, stateBefore.timex.status);
  assert.equal(stateAfter.timex.freq, stateBefore.timex.freq);
  assert.equal(stateAfter.timex.constant, stateBefore.timex.constant);
});

Deno.test("NullClock.kernelState() decodes the read-only kernel state", () => {
  const real = new NullClock().kernelState();
  const direct = readKernelTime();
  assert.ok(real !== null);
  assert.equal(real.status, direct.timex.status);
  assert.equal(real.constant, direct.timex.constant);
  assert.equal(real.freqPpm, direct.timex.freq / 65536);

  const t = emptyTimex();
  t.status = STA_PLL;
  t.offset = 12;
  const fake = new NullClock({ kernelReader: () => ({ state: TIME_OK, timex: t }) });
  assert.equal(fake.kernelState()?.offsetSec, 12e-6);
  assert.equal(fake.kernelState()?.status, STA_PLL);
});

Deno.test("NullClock.kernelState() is null when the kernel read fails", () => {
  const clock = new NullClock({
    kernelReader: () => {
      throw new OsError("ntp_adjtime", Errno.EPERM);
    },
  });
  assert.equal(clock.kernelState(), null);
});
