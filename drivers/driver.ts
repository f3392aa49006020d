// The reference clock driver interface (ntpd's refclock drivers, addressed as 127.127.t.u).

import type { NtpTime } from "../lib/proto/ntp_time.ts";

/** One time sample from a reference clock. */
export interface RefclockSample {
  /** When the sample was taken, on the system clock. */
  time: NtpTime;
  /** Reference time minus system time, seconds. */
  offsetSec: number;
  /** Sample dispersion (error bound), seconds. */
  dispersionSec: number;
  /** Leap indicator reported by the clock (0–3). */
  leap: number;
}

/** Fudge settings common to every driver (ntp.conf `fudge`). */
export interface RefclockFudge {
  time1Sec: number;
  time2Sec: number;
  /** Stratum the clock claims (ntpd's peer stratum for the refclock). */
  stratum: number;
  /** Up to four ASCII characters. */
  refid: string;
  flags: [boolean, boolean, boolean, boolean];
}

/** A reference clock driver. */
export interface RefclockDriver {
  /** Driver type number (1 for LOCAL, 28 for SHM, ...). */
  readonly type: number;
  /** Unit number. */
  readonly unit: number;
  /** Name as ntpq shows it, e.g. "LOCAL(0)". */
  readonly name: string;
  /** Fudge settings in effect. */
  readonly fudge: RefclockFudge;
  /** Called every poll: returns a sample, or null when the clock has nothing new. */
  poll(now: NtpTime): RefclockSample | null;
  /** Releases resources (devices, shared memory). */
  close(): void;
}

/** The 127.127.t.u address of a driver as a 32-bit value (the refid of a stratum > 1 server). */
export function refclockAddress(type: number, unit: number): number {
  return ((127 << 24) | (127 << 16) | ((type & 0xff) << 8) | (unit & 0xff)) >>> 0;
}
