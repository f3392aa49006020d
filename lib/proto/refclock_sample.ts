// What a reference clock driver hands the core (ntpd's refclock_receive): one offset measured
// against the system clock, and how the clock describes itself. The core's side of the
// `drivers/` interface; RFC 5905 §9 treats the sample like any peer's.

import type { NtpTime } from "./ntp_time.ts";

/** One time sample from a reference clock. */
export interface RefclockSample {
  /** When the sample was taken, on the system clock. */
  time: NtpTime;
  /** Reference time minus system time, seconds (fudge offsets already applied). */
  offsetSec: number;
  /** Sample dispersion (error bound), seconds. */
  dispersionSec: number;
  /** Leap indicator reported by the clock (0–3; 3: the clock is not synchronised). */
  leap: number;
  /**
   * The clock's own error bound that more samples do not shrink (s): a serial sentence's
   * latency after the second, known only to its calibration. The association reports it as its
   * root dispersion, as a server does, so selection and the served root dispersion count it.
   * Absent: 0.
   */
  rootDispersionSec?: number;
  /**
   * The pulse came from a PPS device bound to the kernel's PPS discipline (fudge flag3 with
   * `enable pps`): while this clock is the system peer, a kernel-mode discipline lets the
   * kernel steer from the same pulses. Absent: false.
   */
  kernelPps?: boolean;
}

/** How a reference clock association describes its clock to the system process. */
export interface RefclockIdentity {
  /** Driver type t of 127.127.t.u. */
  type: number;
  /** Unit u. */
  unit: number;
  /** The stratum the clock claims (fudge stratum; 0 for a primary reference). */
  stratum: number;
  /** Reference id as a 32-bit value (fudge refid, ASCII). */
  refid: number;
  /** The clock's precision (log2 s). */
  precisionLog2: number;
  /**
   * Only used when nothing else survives selection (ntpd's LOCAL driver): an undisciplined
   * clock must never outvote or outrank a real source.
   */
  lastResort: boolean;
  /**
   * A pulse-per-second source (the PPS driver): its samples say where the second begins, not
   * which second, so it is used only when a prefer peer or a clock with its own PPS agrees with
   * it (see NtpSystem's mitigation rules). Absent: false.
   */
  pps?: boolean;
  /** A clock with its own PPS (NMEA or gpsd with flag1): it may number a PPS clock's seconds. */
  ppsCapable?: boolean;
}

/** The 127.127.t.u address of a driver as text. */
export function refclockAddressText(type: number, unit: number): string {
  return `127.127.${type & 0xff}.${unit & 0xff}`;
}
