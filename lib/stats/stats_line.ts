// The lines of ntpd 4.2.x's statistics files (loopstats, peerstats, clockstats, rawstats,
// sysstats, cryptostats, protostats), field for field as ntpd's monitoring documentation
// describes them, so scripts and plotters written for ntpd read Horae's files unchanged.
// Every line starts with the Modified Julian Day and the seconds past UTC midnight (3 decimals).

import type {
  LoopStatsRecord,
  PeerAddress,
  PeerStatsRecord,
  RawStatsRecord,
} from "../proto/events.ts";
import { type NtpTime, toTimestamp } from "../proto/ntp_time.ts";

/** MJD of the NTP epoch, 1900-01-01. */
export const MJD_1900 = 15_020;

const SEC_PER_DAY = 86_400n;
const FRAC = 1n << 32n;

/**
 * A number as C's `printf("%.Nf")` writes it: fixed notation, "-" before a negative value that
 * rounds to zero (and before -0), "nan", "inf" and "-inf".
 */
export function cFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return x < 0 ? "-nan" : "nan";
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  if (Math.abs(x) >= 1e21) {
    // toFixed switches to exponential notation here; C keeps every digit.
    const whole = BigInt(Math.trunc(x)).toString();
    return digits > 0 ? `${whole}.${"0".repeat(digits)}` : whole;
  }
  const s = x.toFixed(digits);
  return Object.is(x, -0) ? `-${s}` : s;
}

/**
 * The two leading fields of every statistics line for a local time: the Modified Julian Day and
 * the seconds past UTC midnight with 3 decimals ("60000 3723.250"). As in ntpd the fraction is
 * rounded on its own, so 86399.9996 s reads "86400.000" on the same day.
 */
export function statsTime(at: NtpTime): string {
  const sec = at >> 32n; // floor, era-extended seconds since 1900
  let day = sec / SEC_PER_DAY;
  let secOfDay = sec % SEC_PER_DAY;
  if (secOfDay < 0n) {
    secOfDay += SEC_PER_DAY;
    day -= 1n;
  }
  const frac = at & (FRAC - 1n);
  let ms = (frac * 1000n + FRAC / 2n) / FRAC;
  if (ms === 1000n) {
    ms = 0n;
    secOfDay += 1n;
  }
  return `${day + BigInt(MJD_1900)} ${secOfDay}.${String(ms).padStart(3, "0")}`;
}

/** A wire timestamp as ntpd's rawstats writes it: NTP seconds and 9 decimals. */
export function rawTimestamp(t: NtpTime): string {
  const ts = toTimestamp(t);
  let sec = ts >> 32n;
  let ns = ((ts & (FRAC - 1n)) * 1_000_000_000n + FRAC / 2n) / FRAC;
  if (ns === 1_000_000_000n) {
    ns = 0n;
    sec += 1n;
  }
  return `${sec}.${String(ns).padStart(9, "0")}`;
}

/** An address as the statistics files name it (no port, no brackets). */
export function statsAddress(a: PeerAddress | string): string {
  return typeof a === "string" ? a : a.address;
}

/**
 * Free text (a refclock's timecode, an event message) made safe for one line: control
 * characters, which could end the line or confuse a reader, become "?".
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, "?");
}

/** A reference id as rawstats shows it: ".GPS." at stratum 0 or 1, else a dotted quad. */
export function refidText(refid: number, stratum: number): string {
  const b = [refid >>> 24, (refid >>> 16) & 0xff, (refid >>> 8) & 0xff, refid & 0xff];
  if (stratum > 1) return b.join(".");
  let text = "";
  for (const c of b) {
    if (c === 0) break;
    text += c >= 0x21 && c <= 0x7e ? String.fromCharCode(c) : "?";
  }
  return `.${text}.`;
}

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).padStart(width, "0");
}

/**
 * A loopstats line: time, offset (s), frequency (ppm), jitter (s), wander (ppm), time constant.
 *
 * @example
 * ```ts
 * // 1998-05-26 20:57:20.031 UTC
 * const at = ((50935n - 15020n) * 86400n + 75440n) * 2n ** 32n + 133143986n;
 * formatLoopstats({
 *   kind: "loopstats", at, offsetSec: 6.019e-6, freqPpm: 13.778, jitterSec: 3.51733e-4,
 *   wanderPpm: 0.01338, pollLog2: 6,
 * }); // "50935 75440.031 0.000006019 13.778 0.000351733 0.013380 6"
 * ```
 */
export function formatLoopstats(r: LoopStatsRecord): string {
  return `${statsTime(r.at)} ${cFixed(r.offsetSec, 9)} ${cFixed(r.freqPpm, 3)} ${
    cFixed(r.jitterSec, 9)
  } ${cFixed(r.wanderPpm, 6)} ${r.pollLog2}`;
}

/**
 * A peerstats line: time, source, status word (hex), offset, delay, dispersion, jitter (s).
 * `status` is the whole 16-bit peer status word (the record's byte plus the event fields).
 */
export function formatPeerstats(r: PeerStatsRecord, status: number): string {
  return `${statsTime(r.at)} ${statsAddress(r.address)} ${hex(status, 4)} ${
    cFixed(r.offsetSec, 9)
  } ${cFixed(r.delaySec, 9)} ${cFixed(r.dispersionSec, 9)} ${cFixed(r.jitterSec, 9)}`;
}

/**
 * A rawstats line (ntpd 4.2.8's 17 fields): time, source, destination, the four timestamps,
 * leap, version, mode, stratum, poll, precision, root delay, root dispersion, refid.
 */
export function formatRawstats(r: RawStatsRecord): string {
  const dst = r.destination ?? (r.source.family === 6 ? "::" : "0.0.0.0");
  return [
    statsTime(r.at),
    statsAddress(r.source),
    dst,
    rawTimestamp(r.t1),
    rawTimestamp(r.t2),
    rawTimestamp(r.t3),
    rawTimestamp(r.t4),
    r.leap,
    r.version,
    r.mode,
    r.stratum,
    r.pollLog2,
    r.precisionLog2,
    cFixed(r.rootDelaySec, 6),
    cFixed(r.rootDispersionSec, 6),
    refidText(r.refid, r.stratum),
  ].join(" ");
}

/** A clockstats line: time, reference clock address (127.127.t.u), the clock's text. */
export function formatClockstats(at: NtpTime, address: string, text: string): string {
  return `${statsTime(at)} ${address} ${oneLine(text)}`;
}

/** A cryptostats line: time, source address ("0.0.0.0" for the system), message. */
export function formatCryptostats(at: NtpTime, address: string, text: string): string {
  return `${statsTime(at)} ${address} ${oneLine(text)}`;
}

/**
 * A protostats line: time, address ("0.0.0.0" for the system), status word (4 hex digits),
 * event code (2 hex digits, peer events with 0x80 set), message.
 */
export function formatProtostats(
  at: NtpTime,
  address: string,
  status: number,
  eventCode: number,
  text: string,
): string {
  return `${statsTime(at)} ${address} ${hex(status, 4)} ${hex(eventCode, 2)} ${oneLine(text)}`;
}

/** The counters of one sysstats line: what happened since the previous line. */
export interface SysstatsCounts {
  /** Seconds since the previous line (or the start). */
  sinceResetSec: number;
  received: number;
  /** Packets for this host: answered or used. */
  processed: number;
  currentVersion: number;
  oldVersion: number;
  accessDenied: number;
  /** Bad length or format. */
  badFormat: number;
  badAuth: number;
  declined: number;
  rateExceeded: number;
  kissesSent: number;
}

/**
 * A sysstats line (ntpd 4.2.8's 13 fields): time, seconds since reset, received, processed,
 * current version, old version, access denied, bad length or format, bad authentication,
 * declined, rate exceeded, kiss-o'-death sent.
 */
export function formatSysstats(at: NtpTime, c: SysstatsCounts): string {
  return [
    statsTime(at),
    Math.max(0, Math.round(c.sinceResetSec)),
    c.received,
    c.processed,
    c.currentVersion,
    c.oldVersion,
    c.accessDenied,
    c.badFormat,
    c.badAuth,
    c.declined,
    c.rateExceeded,
    c.kissesSent,
  ].join(" ");
}

/**
 * The 16-bit peer status word: the record's high byte, then the event counter (4 bits, stops
 * at 15) and the last event's code (4 bits).
 */
export function peerStatusWord(statusByte: number, eventCount: number, lastEvent: number): number {
  return ((statusByte & 0xff) << 8) | (Math.min(15, eventCount) << 4) | (lastEvent & 0x0f);
}

/**
 * The 16-bit system status word: leap indicator (2 bits), clock source (6 bits: 6 for NTP,
 * 0 unspecified), event counter (4 bits) and last event's code (4 bits).
 */
export function systemStatusWord(
  leap: number,
  source: number,
  eventCount: number,
  lastEvent: number,
): number {
  return ((leap & 3) << 14) | ((source & 0x3f) << 8) | (Math.min(15, eventCount) << 4) |
    (lastEvent & 0x0f);
}
