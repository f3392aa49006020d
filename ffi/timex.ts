// The kernel clock discipline interface: Linux `struct timex` and `ntp_adjtime` through Deno FFI
// (RFC 5905 §7.3 / the "kernel model" of ntpd 4.2.x), plus `clock_settime` for steps.

import { errno, openLibc, OsError } from "./libc.ts";

/** sizeof(struct timex) on x86_64 glibc. */
export const TIMEX_SIZE = 208;

/** `modes` bits: which fields `ntp_adjtime` writes (0 reads only). */
export const ADJ_OFFSET = 0x0001;
/** Write `freq` (scaled ppm). */
export const ADJ_FREQUENCY = 0x0002;
/** Write `maxerror` (µs). */
export const ADJ_MAXERROR = 0x0004;
/** Write `esterror` (µs). */
export const ADJ_ESTERROR = 0x0008;
/** Write the read-write `status` bits (all of them at once). */
export const ADJ_STATUS = 0x0010;
/** Write `constant` (PLL time constant). */
export const ADJ_TIMECONST = 0x0020;
/** Write the TAI−UTC offset from `constant`. */
export const ADJ_TAI = 0x0080;
/** Add `time` to the clock (a step, Linux only). */
export const ADJ_SETOFFSET = 0x0100;
/** Switch the kernel to microsecond units. */
export const ADJ_MICRO = 0x1000;
/** Switch the kernel to nanosecond units. */
export const ADJ_NANO = 0x2000;
/** Write `tick` (µs per tick). */
export const ADJ_TICK = 0x4000;
/** Old-style adjtime(): slew `offset` µs once. */
export const ADJ_OFFSET_SINGLESHOT = 0x8001;
/** Old-style adjtime() read of the remaining slew. */
export const ADJ_OFFSET_SS_READ = 0xa001;

/** `status` bit: the kernel PLL is enabled. */
export const STA_PLL = 0x0001;
/** PPS frequency discipline enabled. */
export const STA_PPSFREQ = 0x0002;
/** PPS time discipline enabled. */
export const STA_PPSTIME = 0x0004;
/** Frequency-lock (FLL) mode selected. */
export const STA_FLL = 0x0008;
/** Insert a leap second at the end of the UTC day. */
export const STA_INS = 0x0010;
/** Delete a leap second at the end of the UTC day. */
export const STA_DEL = 0x0020;
/** The clock is unsynchronised. */
export const STA_UNSYNC = 0x0040;
/** Hold the frequency (no PLL frequency updates). */
export const STA_FREQHOLD = 0x0080;
/** PPS signal present (read-only). */
export const STA_PPSSIGNAL = 0x0100;
/** PPS jitter limit exceeded (read-only). */
export const STA_PPSJITTER = 0x0200;
/** PPS wander limit exceeded (read-only). */
export const STA_PPSWANDER = 0x0400;
/** PPS calibration error (read-only). */
export const STA_PPSERROR = 0x0800;
/** Clock hardware fault (read-only). */
export const STA_CLOCKERR = 0x1000;
/** Resolution is nanoseconds, not microseconds (read-only; set through ADJ_NANO). */
export const STA_NANO = 0x2000;
/** Mode: 0 PLL, 1 FLL (read-only). */
export const STA_MODE = 0x4000;
/** Clock source: 0 A, 1 B (read-only). */
export const STA_CLK = 0x8000;
/** The status bits `ADJ_STATUS` cannot change. */
export const STA_RONLY = STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR |
  STA_CLOCKERR | STA_NANO | STA_MODE | STA_CLK;

/** `ntp_adjtime` result: clock synchronised, no leap pending. */
export const TIME_OK = 0;
/** A leap second will be inserted at midnight. */
export const TIME_INS = 1;
/** A leap second will be deleted at midnight. */
export const TIME_DEL = 2;
/** A leap second is in progress. */
export const TIME_OOP = 3;
/** A leap second has just happened. */
export const TIME_WAIT = 4;
/** The clock is not synchronised (STA_UNSYNC or a PPS error). */
export const TIME_ERROR = 5;

/** One scaled ppm unit of `freq`, `ppsfreq`, `tolerance`, `stabil`: ppm × 2^16. */
export const SCALED_PPM = 65536;
/** Largest phase offset the kernel PLL accepts (MAXPHASE, seconds). */
export const MAXPHASE_SEC = 0.5;
/** Largest frequency the kernel accepts (MAXFREQ, ppm). */
export const MAXFREQ_PPM = 500;
/** Largest PLL time constant (MAXTC). */
export const MAXTC = 10;
/** Ceiling of `maxerror`/`esterror` (NTP_PHASE_LIMIT, µs): 16 s. */
export const MAXERROR_LIMIT_US = 16_000_000;

/**
 * `struct timex` as a typed object. Every field is a C `long` or `int`, held as a number (kernel
 * values never come near 2^53). Units follow the kernel: `offset` and `time.frac` are µs, or ns
 * when `status` has STA_NANO; `precision` is always µs (Linux ignores STA_NANO for it); `freq`, `ppsfreq`, `tolerance`, `stabil` are scaled
 * ppm (ppm × 2^16); `maxerror`, `esterror`, `jitter` (µs or ns like offset) and `tick` are µs.
 */
export interface Timex {
  /** ADJ_* bits: fields to write. 0 reads only. */
  modes: number;
  /** Phase offset (µs, or ns with STA_NANO). */
  offset: number;
  /** Frequency offset (scaled ppm). */
  freq: number;
  /** Maximum error (µs). */
  maxerror: number;
  /** Estimated error (µs). */
  esterror: number;
  /** STA_* bits. */
  status: number;
  /** PLL time constant (log2); with ADJ_TAI, the TAI offset to set. */
  constant: number;
  /** Clock precision (µs, even with STA_NANO), read-only. */
  precision: number;
  /** Maximum frequency error (scaled ppm), read-only. */
  tolerance: number;
  /** Current time: whole seconds and the fraction (µs, or ns with STA_NANO). */
  time: { sec: number; frac: number };
  /** Microseconds between clock ticks. */
  tick: number;
  /** PPS frequency (scaled ppm), read-only. */
  ppsfreq: number;
  /** PPS jitter (µs, or ns with STA_NANO), read-only. */
  jitter: number;
  /** PPS interval (log2 seconds), read-only. */
  shift: number;
  /** PPS stability (scaled ppm), read-only. */
  stabil: number;
  /** PPS count of jitter limit exceeded, read-only. */
  jitcnt: number;
  /** PPS count of calibration intervals, read-only. */
  calcnt: number;
  /** PPS count of calibration errors, read-only. */
  errcnt: number;
  /** PPS count of stability limit exceeded, read-only. */
  stbcnt: number;
  /** TAI − UTC offset (seconds), read-only unless ADJ_TAI. */
  tai: number;
}

/** Byte offsets of the fields in the 208-byte struct (x86_64). */
export const TIMEX_OFFSETS = {
  modes: 0,
  offset: 8,
  freq: 16,
  maxerror: 24,
  esterror: 32,
  status: 40,
  constant: 48,
  precision: 56,
  tolerance: 64,
  timeSec: 72,
  timeFrac: 80,
  tick: 88,
  ppsfreq: 96,
  jitter: 104,
  shift: 112,
  stabil: 120,
  jitcnt: 128,
  calcnt: 136,
  errcnt: 144,
  stbcnt: 152,
  tai: 160,
} as const;

/** The C `long` fields, in struct order (the rest are `int`). */
const LONG_FIELDS = [
  "offset",
  "freq",
  "maxerror",
  "esterror",
  "constant",
  "precision",
  "tolerance",
  "tick",
  "ppsfreq",
  "jitter",
  "stabil",
  "jitcnt",
  "calcnt",
  "errcnt",
  "stbcnt",
] as const;

/** A Timex with every field zero (modes 0: a read request). */
export function emptyTimex(): Timex {
  return {
    modes: 0,
    offset: 0,
    freq: 0,
    maxerror: 0,
    esterror: 0,
    status: 0,
    constant: 0,
    precision: 0,
    tolerance: 0,
    time: { sec: 0, frac: 0 },
    tick: 0,
    ppsfreq: 0,
    jitter: 0,
    shift: 0,
    stabil: 0,
    jitcnt: 0,
    calcnt: 0,
    errcnt: 0,
    stbcnt: 0,
    tai: 0,
  };
}

/**
 * Encodes a Timex into a new 208-byte `struct timex` (little-endian, padding zero).
 * Non-integer values are truncated toward zero.
 */
export function encodeTimex(t: Timex): Uint8Array {
  const bytes = new Uint8Array(TIMEX_SIZE);
  const v = new DataView(bytes.buffer);
  const o = TIMEX_OFFSETS;
  v.setUint32(o.modes, t.modes >>> 0, true);
  for (const name of LONG_FIELDS) v.setBigInt64(o[name], toLong(t[name]), true);
  v.setBigInt64(o.timeSec, toLong(t.time.sec), true);
  v.setBigInt64(o.timeFrac, toLong(t.time.frac), true);
  v.setInt32(o.status, t.status | 0, true);
  v.setInt32(o.shift, t.shift | 0, true);
  v.setInt32(o.tai, t.tai | 0, true);
  return bytes;
}

/** Result of {@link decodeTimex}: never throws on bad input. */
export type DecodeTimexResult = { ok: true; timex: Timex } | { ok: false; reason: string };

/** Decodes a `struct timex` (at least 208 bytes). */
export function decodeTimex(bytes: Uint8Array): DecodeTimexResult {
  if (bytes.byteLength < TIMEX_SIZE) {
    return { ok: false, reason: `struct timex needs ${TIMEX_SIZE} bytes, got ${bytes.byteLength}` };
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, TIMEX_SIZE);
  const o = TIMEX_OFFSETS;
  const long = (at: number) => Number(v.getBigInt64(at, true));
  const t = emptyTimex();
  t.modes = v.getUint32(o.modes, true);
  for (const name of LONG_FIELDS) t[name] = long(o[name]);
  t.time = { sec: long(o.timeSec), frac: long(o.timeFrac) };
  t.status = v.getInt32(o.status, true);
  t.shift = v.getInt32(o.shift, true);
  t.tai = v.getInt32(o.tai, true);
  return { ok: true, timex: t };
}

function toLong(x: number): bigint {
  if (!Number.isFinite(x)) throw new RangeError(`struct timex field is not finite: ${x}`);
  return BigInt(Math.trunc(x));
}

// ---- units ----

/** True when the fields in ns/µs units are nanoseconds (STA_NANO). */
export function isNano(t: Timex): boolean {
  return (t.status & STA_NANO) !== 0;
}

/** Converts scaled ppm (ppm × 2^16) to ppm. */
export function scaledPpmToPpm(scaled: number): number {
  return scaled / SCALED_PPM;
}

/** Converts ppm to scaled ppm (ppm × 2^16), rounded to the nearest unit. */
export function ppmToScaledPpm(ppm: number): number {
  return Math.round(ppm * SCALED_PPM);
}

/** The phase offset in seconds (honours STA_NANO). */
export function timexOffsetSec(t: Timex): number {
  return t.offset / (isNano(t) ? 1e9 : 1e6);
}

/**
 * The precision in seconds. Linux reports it in microseconds whatever STA_NANO says (only the
 * offset, the time's fraction and the PPS jitter switch to nanoseconds), as NTPsec's ntptime
 * prints it.
 */
export function timexPrecisionSec(t: Timex): number {
  return t.precision / 1e6;
}

/** The `time` field as Unix nanoseconds (honours STA_NANO). */
export function timexTimeUnixNs(t: Timex): bigint {
  const fracNs = isNano(t) ? BigInt(t.time.frac) : BigInt(t.time.frac) * 1000n;
  return BigInt(t.time.sec) * 1_000_000_000n + fracNs;
}

// ---- names as ntptime prints them ----

const STATUS_NAMES: ReadonlyArray<readonly [number, string]> = [
  [STA_PLL, "PLL"],
  [STA_PPSFREQ, "PPSFREQ"],
  [STA_PPSTIME, "PPSTIME"],
  [STA_FLL, "FLL"],
  [STA_INS, "INS"],
  [STA_DEL, "DEL"],
  [STA_UNSYNC, "UNSYNC"],
  [STA_FREQHOLD, "FREQHOLD"],
  [STA_PPSSIGNAL, "PPSSIGNAL"],
  [STA_PPSJITTER, "PPSJITTER"],
  [STA_PPSWANDER, "PPSWANDER"],
  [STA_PPSERROR, "PPSERROR"],
  [STA_CLOCKERR, "CLOCKERR"],
  [STA_NANO, "NANO"],
  [STA_MODE, "MODE"],
  [STA_CLK, "CLK"],
];

// ntptime labels these mode bits (BSD names; 0x400/0x800 are unused on Linux).
const MODE_NAMES: ReadonlyArray<readonly [number, string]> = [
  [ADJ_OFFSET, "OFFSET"],
  [ADJ_FREQUENCY, "FREQUENCY"],
  [ADJ_MAXERROR, "MAXERROR"],
  [ADJ_ESTERROR, "ESTERROR"],
  [ADJ_STATUS, "STATUS"],
  [ADJ_TIMECONST, "TIMECONST"],
  [0x0400, "PLL"],
  [0x0800, "FLL"],
  [ADJ_MICRO, "MICRO"],
  [ADJ_NANO, "NANO"],
  [0x4000, "CLKB"],
  [0x8000, "CLKA"],
];

function namesOf(bits: number, table: ReadonlyArray<readonly [number, string]>): string[] {
  return table.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name);
}

/** The STA_* names of the set status bits, lowest first, as ntptime prints them ("PLL", "NANO"). */
export function statusNames(status: number): string[] {
  return namesOf(status, STATUS_NAMES);
}

/** The status as ntptime prints it: `0x2001 (PLL,NANO)`. */
export function formatStatus(status: number): string {
  return `0x${(status >>> 0).toString(16)} (${statusNames(status).join(",")})`;
}

/** The mode names ntptime prints for `modes` ("OFFSET", "FREQUENCY", …). */
export function modeNames(modes: number): string[] {
  return namesOf(modes, MODE_NAMES);
}

/** The ntptime word for an `ntp_adjtime` return value: OK, INS, DEL, OOP, WAIT, ERROR. */
export function timeStateName(state: number): string {
  return ["OK", "INS", "DEL", "OOP", "WAIT", "ERROR"][state] ?? `TIME-#${state}`;
}

// ---- system calls ----

/** What `ntp_adjtime` returned: the clock state (TIME_*) and the kernel's view of the timex. */
export interface AdjtimeResult {
  /** TIME_OK … TIME_ERROR. */
  state: number;
  /** The struct as the kernel filled it in. */
  timex: Timex;
}

/** The raw calls {@link ntpAdjtime} needs; injectable so the error path can be tested. */
export interface AdjtimeSyscall {
  /** Calls ntp_adjtime on a 208-byte buffer; returns the state or -1. */
  adjtime(buf: Uint8Array): number;
  /** errno after a failed call. */
  errno(): number;
}

const SYMBOLS = {
  ntp_adjtime: { parameters: ["buffer"], result: "i32" },
  clock_settime: { parameters: ["i32", "buffer"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

function symbols(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

/** The real `ntp_adjtime` from glibc (opened on first use; throws when FFI is not permitted). */
export function libcAdjtime(): AdjtimeSyscall {
  const s = symbols();
  return { adjtime: (buf) => s.ntp_adjtime(buf), errno };
}

/**
 * Calls `ntp_adjtime(2)` with `t`. With `t.modes` ≠ 0 this CHANGES the system clock's discipline
 * (needs CAP_SYS_TIME): only the Linux clock adapter does that. A failure throws an OsError.
 */
export function ntpAdjtime(t: Timex, sys: AdjtimeSyscall = libcAdjtime()): AdjtimeResult {
  const buf = encodeTimex(t);
  const state = sys.adjtime(buf);
  if (state === -1) {
    throw new OsError("ntp_adjtime", sys.errno(), `modes=0x${t.modes.toString(16)}`);
  }
  const decoded = decodeTimex(buf);
  if (!decoded.ok) throw new Error(decoded.reason); // cannot happen: buf is TIMEX_SIZE bytes
  return { state, timex: decoded.timex };
}

/** Reads the kernel discipline state: `ntp_adjtime` with modes = 0, which changes nothing. */
export function readKernelTime(sys: AdjtimeSyscall = libcAdjtime()): AdjtimeResult {
  return ntpAdjtime(emptyTimex(), sys);
}

/**
 * Sets CLOCK_REALTIME to `sec` + `nsec` (clock_settime). CHANGES the system clock: only the
 * Linux clock adapter's step calls this. Throws an OsError on failure.
 */
export function setRealtime(sec: bigint, nsec: bigint): void {
  const ts = new BigInt64Array([sec, nsec]);
  if (symbols().clock_settime(0, new Uint8Array(ts.buffer)) !== 0) {
    throw new OsError("clock_settime", errno());
  }
}
