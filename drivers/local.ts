// The undisciplined local clock driver (ntpd's type 1, 127.127.1.u): a "reference" that always
// agrees with the system clock, so an isolated network can still agree on one time.

import type { NtpTime } from "../lib/proto/ntp_time.ts";
import type { RefclockDriver, RefclockFudge, RefclockSample } from "./driver.ts";

/** ntpd's LOCAL driver type number. */
export const LOCAL_DRIVER_TYPE = 1;

/**
 * Stratum the local clock claims when not fudged.
 * COMPAT: ntpd 4.2 uses 5, but nearly every configuration fudges it to 10, and 10 keeps an
 * unfudged local clock from outranking real servers.
 */
export const LOCAL_DEFAULT_STRATUM = 10;

/** Dispersion of a local clock sample: it is exact with respect to itself. */
const LOCAL_DISPERSION_SEC = 0.01;

/** The LOCAL driver. */
export class LocalDriver implements RefclockDriver {
  readonly type = LOCAL_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;

  /** Creates LOCAL(unit); missing fudge fields take the driver's defaults. */
  constructor(unit: number, fudge: Partial<RefclockFudge> = {}) {
    this.unit = unit;
    this.name = `LOCAL(${unit})`;
    this.fudge = {
      time1Sec: fudge.time1Sec ?? 0,
      time2Sec: fudge.time2Sec ?? 0,
      stratum: fudge.stratum ?? LOCAL_DEFAULT_STRATUM,
      refid: fudge.refid ?? "LOCL",
      flags: fudge.flags ?? [false, false, false, false],
    };
  }

  /** Always a zero-offset sample (plus the fudge time1 offset). */
  poll(now: NtpTime): RefclockSample {
    return {
      time: now,
      offsetSec: this.fudge.time1Sec,
      dispersionSec: LOCAL_DISPERSION_SEC,
      leap: 0,
    };
  }

  close(): void {}
}
