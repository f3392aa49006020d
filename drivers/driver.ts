// The reference clock driver interface (ntpd's refclock drivers, addressed as 127.127.t.u):
// event-driven drivers that hand samples to the daemon when they have them, and a registry
// entry per driver type.

import type { NtpTime } from "../lib/proto/ntp_time.ts";
import type { RefclockSample } from "../lib/proto/refclock_sample.ts";

export type { RefclockSample } from "../lib/proto/refclock_sample.ts";

/**
 * The error of a time taken from a serial sentence's arrival (s), given as such a sample's root
 * dispersion. A sentence ends some milliseconds after its second, by an amount that depends on
 * the receiver and its settings; fudge time2 calibrates it, to a few milliseconds at best. It is
 * a bias, not noise: averaging samples does not shrink it, and without it a clock calibrated
 * 2 ms off would be a falseticker beside servers that are right.
 */
export const SENTENCE_ERROR_SEC = 0.01;

/** Fudge settings common to every driver (ntp.conf `fudge`); each driver gives them meaning. */
export interface RefclockFudge {
  time1Sec: number;
  time2Sec: number;
  /** Stratum the clock claims (ntpd's peer stratum for the refclock). */
  stratum: number;
  /** Up to four ASCII characters. */
  refid: string;
  flags: [boolean, boolean, boolean, boolean];
}

/** What a driver is configured with: its address, `mode` and the fudge values given. */
export interface RefclockConfig {
  type: number;
  unit: number;
  /** The driver-specific `mode` (null: not given). */
  mode: number | null;
  fudge: Partial<RefclockFudge>;
  /** The device to open instead of the driver's default (`path`); null or absent: default. */
  path?: string | null;
  /** The PPS device to open instead of the driver's default (`ppspath`). */
  ppsPath?: string | null;
  /** `enable pps`: the kernel PPS discipline may be bound (fudge flag3 asks for it). */
  kernelPps?: boolean;
}

/** What the daemon gives a running driver. */
export interface RefclockContext {
  /** The system clock's time now. */
  now(): NtpTime;
  /** Calls `fn` every `sec` seconds until the returned function is called. */
  every(sec: number, fn: () => void): () => void;
  /** The association's poll interval (s): how often a polled driver should look. */
  pollSec: number;
  /** Warnings and notes about the clock (logconfig class `clock`). */
  log(level: "info" | "warn", message: string): void;
  /** A clockstats line for this clock: a timecode or an event, in the clock's own words. */
  clockstats?(text: string): void;
}

/** A reference clock driver: started once, hands samples over as it gets them, stopped once. */
export interface RefclockDriver {
  /** Driver type number (1 for LOCAL, 28 for SHM, ...). */
  readonly type: number;
  /** Unit number. */
  readonly unit: number;
  /** Name as ntpq shows it, e.g. "LOCAL(0)", "SHM(0)". */
  readonly name: string;
  /** Fudge settings in effect (the driver's defaults where not fudged). */
  readonly fudge: RefclockFudge;
  /** The clock's precision (log2 s). */
  readonly precisionLog2: number;
  /** Only to be used when nothing else can be (the LOCAL clock). */
  readonly lastResort: boolean;
  /**
   * A pulse-per-second source: it knows where each second begins but not which second it is,
   * so the core uses it only when another source numbers the seconds (the PPS driver).
   */
  readonly pps?: boolean;
  /** A clock with its own PPS (flag1 of NMEA and gpsd JSON): it can number a PPS clock's seconds. */
  readonly ppsCapable?: boolean;
  /** Starts reading the clock; `onSample` gets each sample (fudge offsets applied). */
  start(ctx: RefclockContext, onSample: (sample: RefclockSample) => void): void;
  /** Stops reading and releases devices and shared memory. */
  stop(): void;
  /**
   * The driver's own counters (bad format, stale samples...), for logs and ntpq. `badformat`
   * (input that could not be read) and `baddata` (read, but not a usable time) are ntpq's
   * clock variables of those names.
   */
  counters(): Readonly<Record<string, number>>;
  /** The last raw timecode the clock gave, as ntpq's `timecode` shows it. */
  readonly timecode: string;
}

/** A registry entry: how to make a driver of one type. */
export interface RefclockDriverEntry {
  /** Driver type number. */
  type: number;
  /** ntpd's driver name ("LOCAL", "SHM", ...). */
  name: string;
  /** Makes a driver; throws an Error saying what is wrong with the configuration. */
  create(config: RefclockConfig): RefclockDriver;
}

/** The fudge values of `given` over a driver's `defaults`. */
export function resolveFudge(
  given: Partial<RefclockFudge>,
  defaults: Partial<RefclockFudge> = {},
): RefclockFudge {
  return {
    time1Sec: given.time1Sec ?? defaults.time1Sec ?? 0,
    time2Sec: given.time2Sec ?? defaults.time2Sec ?? 0,
    stratum: given.stratum ?? defaults.stratum ?? 0,
    refid: given.refid ?? defaults.refid ?? "",
    flags: given.flags ?? defaults.flags ?? [false, false, false, false],
  };
}

/** A driver's `unit`, the last byte of its 127.127.t.u address; throws an Error for any other. */
export function checkUnit(unit: number): number {
  if (!Number.isInteger(unit) || unit < 0 || unit > 255) {
    throw new Error(`unit ${unit} is not 0-255`);
  }
  return unit;
}

/** The 127.127.t.u address of a driver as a 32-bit value (the refid of a stratum > 1 server). */
export function refclockAddress(type: number, unit: number): number {
  return ((127 << 24) | (127 << 16) | ((type & 0xff) << 8) | (unit & 0xff)) >>> 0;
}
