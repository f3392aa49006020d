// NTP time values: exact 64-bit timestamps, 32-bit short format and era handling (RFC 5905 §6).
// Absolute times stay exact (bigint); only differences become float seconds.

/**
 * An era-extended NTP time: seconds since 1900-01-01 00:00:00 UTC (era 0) in 32.32 fixed point,
 * as a bigint that may exceed 2^64 (later eras) or go negative (before 1900).
 */
export type NtpTime = bigint;

/** A raw 64-bit wire timestamp (0 ≤ value < 2^64): era information is lost. */
export type NtpTimestamp = bigint;

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const UNIX_EPOCH_OFFSET_SEC = 2_208_988_800;

/** 2^32 as a bigint: one second in 32.32 fixed point. */
export const ONE_SECOND: bigint = 1n << 32n;

/** Length of one NTP era (2^32 seconds) in 32.32 fixed point. */
export const ERA: bigint = 1n << 64n;

const MASK64 = ERA - 1n;
const HALF_ERA = 1n << 63n;
const NS_PER_SEC = 1_000_000_000n;
const UNIX_OFFSET_BIG = BigInt(UNIX_EPOCH_OFFSET_SEC);

/** Converts Unix seconds and nanoseconds to an exact era-extended NTP time (rounded to nearest). */
export function fromUnix(sec: number | bigint, nsec: number | bigint = 0): NtpTime {
  const s = BigInt(sec) + UNIX_OFFSET_BIG;
  const ns = BigInt(nsec);
  // Round half up so that fromUnix∘toUnixNs is the identity on whole nanoseconds. Floor division:
  // bigint `/` truncates toward zero, which mis-rounds a negative nsec.
  const frac = floorDiv(ns * ONE_SECOND + NS_PER_SEC / 2n, NS_PER_SEC);
  return s * ONE_SECOND + frac;
}

/** Converts Unix nanoseconds to an era-extended NTP time. */
export function fromUnixNs(ns: bigint): NtpTime {
  const sec = floorDiv(ns, NS_PER_SEC);
  return fromUnix(sec, ns - sec * NS_PER_SEC);
}

/** Converts an era-extended NTP time to Unix nanoseconds (rounded to nearest). */
export function toUnixNs(t: NtpTime): bigint {
  const shifted = t - UNIX_OFFSET_BIG * ONE_SECOND;
  return floorDiv(shifted * NS_PER_SEC + ONE_SECOND / 2n, ONE_SECOND);
}

/** Converts an era-extended NTP time to Unix seconds and nanoseconds. */
export function toUnix(t: NtpTime): { sec: bigint; nsec: number } {
  const ns = toUnixNs(t);
  const sec = floorDiv(ns, NS_PER_SEC);
  return { sec, nsec: Number(ns - sec * NS_PER_SEC) };
}

/** The wire form of a time: its low 64 bits (era dropped). */
export function toTimestamp(t: NtpTime): NtpTimestamp {
  return t & MASK64;
}

/**
 * Interprets a wire timestamp in the era that puts it closest to `reference` (RFC 5905 §6):
 * valid as long as the true time is within 68 years of the reference.
 */
export function fromTimestamp(ts: NtpTimestamp, reference: NtpTime): NtpTime {
  const diff = (ts - reference) & MASK64; // ts − reference modulo one era
  const signed = diff >= HALF_ERA ? diff - ERA : diff;
  return reference + signed;
}

/** `a − b` in float seconds, computed exactly before the conversion. */
export function diffSec(a: NtpTime, b: NtpTime): number {
  const d = a - b;
  const whole = d >> 32n; // floor
  return Number(whole) + Number(d - (whole << 32n)) / 4294967296;
}

/** Adds float seconds to a time (rounded to the nearest 2^-32 s). */
export function addSec(t: NtpTime, sec: number): NtpTime {
  const whole = Math.floor(sec);
  const frac = Math.round((sec - whole) * 4294967296);
  return t + (BigInt(whole) << 32n) + BigInt(frac);
}

/** Converts float seconds to 32.32 fixed point (for durations). */
export function secToFixed(sec: number): bigint {
  return addSec(0n, sec);
}

/** The whole seconds of a time as a float (for logs and statistics, never for arithmetic). */
export function toFloatSec(t: NtpTime): number {
  return diffSec(t, 0n);
}

/** Encodes non-negative seconds as an NTP short format value (unsigned 16.16), saturating. */
export function secToShort(sec: number): number {
  if (!(sec > 0)) return 0;
  const v = Math.round(sec * 65536);
  return v > 0xffffffff ? 0xffffffff : v;
}

/** Decodes an NTP short format value (unsigned 16.16) to seconds. */
export function shortToSec(short: number): number {
  return (short >>> 0) / 65536;
}

/** Writes a time as a wire timestamp at `offset` in `view` (big-endian). */
export function writeTimestamp(view: DataView, offset: number, t: NtpTime): void {
  view.setBigUint64(offset, t & MASK64, false);
}

/** Reads a wire timestamp at `offset` in `view` (big-endian). */
export function readTimestamp(view: DataView, offset: number): NtpTimestamp {
  return view.getBigUint64(offset, false);
}

/**
 * Hot-path helper: writes Unix seconds + nanoseconds as a wire timestamp without bigint work.
 * Exact to within one unit of 2^-32 s.
 */
export function writeUnixTimestamp(
  view: DataView,
  offset: number,
  sec: number,
  nsec: number,
): void {
  view.setUint32(offset, (sec + UNIX_EPOCH_OFFSET_SEC) >>> 0, false);
  view.setUint32(offset + 4, Math.floor(nsec * 4.294967296) >>> 0, false);
}

/** log2 of a duration in seconds, rounded up: the RFC 5905 "precision" of a clock read cost. */
export function precisionLog2(sec: number): number {
  if (!(sec > 0)) return -30;
  return Math.max(-30, Math.min(0, Math.ceil(Math.log2(sec))));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
