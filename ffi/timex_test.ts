// Tests for the struct timex codec, names and the read-only ntp_adjtime binding.
// SAFETY: nothing here calls ntp_adjtime with modes ≠ 0 on the real kernel.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Errno, OsError, realtimeNs } from "./libc.ts";
import {
  ADJ_FREQUENCY,
  ADJ_OFFSET,
  type AdjtimeSyscall,
  decodeTimex,
  emptyTimex,
  encodeTimex,
  formatStatus,
  modeNames,
  ntpAdjtime,
  ppmToScaledPpm,
  readKernelTime,
  scaledPpmToPpm,
  STA_NANO,
  STA_UNSYNC,
  statusNames,
  TIME_ERROR,
  TIME_OK,
  timeStateName,
  type Timex,
  TIMEX_SIZE,
  timexOffsetSec,
  timexPrecisionSec,
  timexTimeUnixNs,
} from "./timex.ts";

function arbTimex(): fc.Arbitrary<Timex> {
  const long = fc.maxSafeInteger().map((x) => x); // any safe integer fits a C long
  const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  return fc.record({
    modes: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    offset: long,
    freq: long,
    maxerror: long,
    esterror: long,
    status: int,
    constant: long,
    precision: long,
    tolerance: long,
    time: fc.record({ sec: long, frac: long }),
    tick: long,
    ppsfreq: long,
    jitter: long,
    shift: int,
    stabil: long,
    jitcnt: long,
    calcnt: long,
    errcnt: long,
    stbcnt: long,
    tai: int,
  });
}

function withSeed(name: string): { seed: number } {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`${name}: fast-check seed ${seed}`);
  return { seed };
}

Deno.test("decodeTimex(encodeTimex(t)) returns t for every field (property)", () => {
  fc.assert(
    fc.property(arbTimex(), (raw) => {
      const t: Timex = { ...raw, time: { ...raw.time } }; // fast-check records have no prototype
      const bytes = encodeTimex(t);
      assert.equal(bytes.byteLength, TIMEX_SIZE);
      const d = decodeTimex(bytes);
      assert.ok(d.ok);
      assert.deepEqual(d.timex, t);
    }),
    withSeed("timex round trip"),
  );
});

Deno.test("encodeTimex() puts each field at its x86_64 offset, little-endian", () => {
  const t = emptyTimex();
  const fields: Array<[keyof Timex | "timeSec" | "timeFrac", number, 4 | 8]> = [
    ["modes", 0, 4],
    ["offset", 8, 8],
    ["freq", 16, 8],
    ["maxerror", 24, 8],
    ["esterror", 32, 8],
    ["status", 40, 4],
    ["constant", 48, 8],
    ["precision", 56, 8],
    ["tolerance", 64, 8],
    ["timeSec", 72, 8],
    ["timeFrac", 80, 8],
    ["tick", 88, 8],
    ["ppsfreq", 96, 8],
    ["jitter", 104, 8],
    ["shift", 112, 4],
    ["stabil", 120, 8],
    ["jitcnt", 128, 8],
    ["calcnt", 136, 8],
    ["errcnt", 144, 8],
    ["stbcnt", 152, 8],
    ["tai", 160, 4],
  ];
  // Distinct value per field: 0x0101 * (index + 1), so a swapped offset shows.
  fields.forEach(([name], i) => {
    const value = 0x0101 * (i + 1);
    if (name === "timeSec") t.time.sec = value;
    else if (name === "timeFrac") t.time.frac = value;
    else (t as unknown as Record<string, number>)[name] = value;
  });
  const bytes = encodeTimex(t);
  const v = new DataView(bytes.buffer);
  fields.forEach(([name, at, size], i) => {
    const got = size === 4 ? v.getInt32(at, true) : Number(v.getBigInt64(at, true));
    assert.equal(got, 0x0101 * (i + 1), `${name} at ${at}`);
  });
  // Negative longs are two's complement; padding after tai stays zero.
  t.offset = -2;
  const neg = new DataView(encodeTimex(t).buffer);
  assert.equal(neg.getBigUint64(8, true), 0xfffffffffffffffen);
  assert.ok(bytes.subarray(164).every((b) => b === 0));
});

Deno.test("decodeTimex() rejects buffers shorter than 208 bytes without throwing", () => {
  const d = decodeTimex(new Uint8Array(207));
  assert.equal(d.ok, false);
  assert.match(d.ok ? "" : d.reason, /208 bytes, got 207/);
});

Deno.test("decodeTimex() reads a struct at a nonzero byteOffset", () => {
  const t = emptyTimex();
  t.freq = -1234567;
  t.tai = 37;
  const outer = new Uint8Array(TIMEX_SIZE + 16);
  outer.set(encodeTimex(t), 16);
  const d = decodeTimex(outer.subarray(16));
  assert.ok(d.ok);
  assert.equal(d.timex.freq, -1234567);
  assert.equal(d.timex.tai, 37);
});

Deno.test("encodeTimex() rejects non-finite field values", () => {
  const t = emptyTimex();
  t.offset = NaN;
  assert.throws(() => encodeTimex(t), RangeError);
});

Deno.test("statusNames() gives ntptime's names in bit order", () => {
  assert.deepEqual(statusNames(0), []);
  assert.deepEqual(statusNames(STA_UNSYNC), ["UNSYNC"]);
  // The example in the ntpd documentation: status 0x2107 (PLL,PPSFREQ,PPSTIME,PPSSIGNAL,NANO).
  assert.deepEqual(statusNames(0x2107), ["PLL", "PPSFREQ", "PPSTIME", "PPSSIGNAL", "NANO"]);
  assert.deepEqual(statusNames(0xffff), [
    "PLL",
    "PPSFREQ",
    "PPSTIME",
    "FLL",
    "INS",
    "DEL",
    "UNSYNC",
    "FREQHOLD",
    "PPSSIGNAL",
    "PPSJITTER",
    "PPSWANDER",
    "PPSERROR",
    "CLOCKERR",
    "NANO",
    "MODE",
    "CLK",
  ]);
  // Each single bit maps to exactly one name.
  for (let bit = 0; bit < 16; bit++) assert.equal(statusNames(1 << bit).length, 1);
  assert.deepEqual(statusNames(0x10000), []);
});

Deno.test("formatStatus() prints like ntptime: 0x40 (UNSYNC), 0x0 ()", () => {
  assert.equal(formatStatus(0x40), "0x40 (UNSYNC)");
  assert.equal(formatStatus(0x2001), "0x2001 (PLL,NANO)");
  assert.equal(formatStatus(0), "0x0 ()");
});

Deno.test("modeNames() and timeStateName() use ntptime's words", () => {
  assert.deepEqual(modeNames(0), []);
  assert.deepEqual(modeNames(ADJ_OFFSET | ADJ_FREQUENCY | 0x2000), ["OFFSET", "FREQUENCY", "NANO"]);
  assert.equal(timeStateName(TIME_OK), "OK");
  assert.equal(timeStateName(TIME_ERROR), "ERROR");
  assert.equal(timeStateName(3), "OOP");
  assert.equal(timeStateName(9), "TIME-#9");
});

Deno.test("unit helpers honour STA_NANO (not for the precision, always µs) and scaled ppm", () => {
  const t = emptyTimex();
  t.offset = 1500;
  t.precision = 1;
  t.time = { sec: 10, frac: 250 };
  assert.equal(timexOffsetSec(t), 0.0015);
  assert.equal(timexPrecisionSec(t), 1e-6);
  assert.equal(timexTimeUnixNs(t), 10_000_250_000n);
  t.status = STA_NANO;
  assert.equal(timexOffsetSec(t), 1.5e-6);
  // Linux fills `precision` in µs whatever STA_NANO says (ntptime prints "precision 1.000 us").
  assert.equal(timexPrecisionSec(t), 1e-6);
  assert.equal(timexTimeUnixNs(t), 10_000_000_250n);
  t.precision = 4;
  assert.equal(timexPrecisionSec(t), 4e-6);
  t.status = 0;
  assert.equal(timexPrecisionSec(t), 4e-6);
  assert.equal(scaledPpmToPpm(500 * 65536), 500);
  assert.equal(ppmToScaledPpm(-12.5), -819200);
  assert.equal(scaledPpmToPpm(ppmToScaledPpm(17.346)).toFixed(3), "17.346");
});

Deno.test("ntpAdjtime() turns -1 + errno into an OsError and passes the encoded struct", () => {
  let seen: Uint8Array | null = null;
  const fake: AdjtimeSyscall = {
    adjtime(buf) {
      seen = buf.slice();
      return -1;
    },
    errno: () => Errno.EPERM,
  };
  const t = emptyTimex();
  t.modes = ADJ_FREQUENCY;
  t.freq = ppmToScaledPpm(3);
  assert.throws(() => ntpAdjtime(t, fake), (e: unknown) => {
    assert.ok(e instanceof OsError);
    assert.equal(e.syscall, "ntp_adjtime");
    assert.equal(e.errno, Errno.EPERM);
    return true;
  });
  assert.ok(seen !== null);
  const d = decodeTimex(seen);
  assert.ok(d.ok);
  assert.deepEqual(d.timex, t);
});

Deno.test("ntpAdjtime() returns the state and the struct the kernel filled in", () => {
  const fake: AdjtimeSyscall = {
    adjtime(buf) {
      const v = new DataView(buf.buffer, buf.byteOffset);
      v.setInt32(40, STA_UNSYNC, true);
      v.setBigInt64(24, 16_000_000n, true);
      return TIME_ERROR;
    },
    errno: () => 0,
  };
  const r = ntpAdjtime(emptyTimex(), fake);
  assert.equal(r.state, TIME_ERROR);
  assert.equal(r.timex.status, STA_UNSYNC);
  assert.equal(r.timex.maxerror, 16_000_000);
});

Deno.test("readKernelTime() passes modes 0 to the call", () => {
  let modes = -1;
  const fake: AdjtimeSyscall = {
    adjtime(buf) {
      modes = new DataView(buf.buffer, buf.byteOffset).getUint32(0, true);
      return TIME_OK;
    },
    errno: () => 0,
  };
  readKernelTime(fake);
  assert.equal(modes, 0);
});

Deno.test("readKernelTime() reads the real kernel state consistently with clock_gettime", () => {
  const before = realtimeNs();
  const r = readKernelTime();
  const after = realtimeNs();
  assert.ok(r.state >= TIME_OK && r.state <= TIME_ERROR, `state ${r.state}`);
  assert.equal(r.timex.modes, 0);
  // The kernel's own time in the struct lies between two clock reads (µs or ns per STA_NANO).
  const kernelNs = timexTimeUnixNs(r.timex);
  const slackNs = (r.timex.status & STA_NANO) !== 0 ? 0n : 1000n;
  assert.ok(kernelNs >= before - slackNs && kernelNs <= after, `${before} ${kernelNs} ${after}`);
  assert.ok(r.timex.maxerror >= 0 && r.timex.maxerror <= 16_000_000);
  assert.ok(Math.abs(scaledPpmToPpm(r.timex.freq)) <= 500);
  assert.ok(r.timex.precision > 0);
  assert.ok(r.timex.tick > 0);
});
