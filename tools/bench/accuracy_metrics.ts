// Error metrics of `deno task bench:accuracy` (issue 18, item 3): RMS and maximum error after
// settling, and the time until an estimate reaches and keeps within 1 ms of the true offset (0).
// Owned by the bench:accuracy engineer (issue 18 item 3), with tools/bench/accuracy.ts.

/** One reading of a daemon's estimate of true time minus the system clock. */
export interface Reading {
  /** Seconds since the scenario started (both daemons started then). */
  atSec: number;
  /** The estimate (s), or null while the daemon has none (not synchronised). */
  offsetSec: number | null;
  /** The daemon's frequency then (ppm, in its own sign convention), for reading a drift. */
  freqPpm?: number | null;
}

/** What {@link errorSummary} reports for one daemon in one scenario. */
export interface ErrorSummary {
  /** Readings with an estimate after settling. */
  count: number;
  /** Readings after settling without an estimate (not synchronised). */
  missing: number;
  /** Mean error after settling (s): the bias. */
  meanSec: number | null;
  /** RMS error after settling (s). */
  rmsSec: number | null;
  /** Largest |error| after settling (s). */
  maxSec: number | null;
  /**
   * Seconds from the start until the estimate is within `thresholdSec` and stays there until the
   * end of the run (null: it never settles so, or is outside at the last reading).
   */
  timeToThresholdSec: number | null;
}

/**
 * Summarises readings of an estimate whose true value is 0: every estimate is an error. RMS, max
 * and mean use the readings at or after `settleSec`; the time to `thresholdSec` (default 1 ms) is
 * the time of the first reading after which no reading has an error above it or lacks an estimate.
 */
export function errorSummary(
  readings: readonly Reading[],
  settleSec: number,
  thresholdSec = 1e-3,
): ErrorSummary {
  const after = readings.filter((r) => r.atSec >= settleSec);
  const xs = after.flatMap((r) => r.offsetSec === null ? [] : [r.offsetSec]);
  const n = xs.length;
  let timeTo: number | null = null;
  for (let k = readings.length - 1; k >= 0; k--) {
    const x = readings[k]!.offsetSec;
    if (x === null || Math.abs(x) > thresholdSec) break;
    timeTo = readings[k]!.atSec;
  }
  return {
    count: n,
    missing: after.length - n,
    meanSec: n === 0 ? null : xs.reduce((a, x) => a + x, 0) / n,
    rmsSec: n === 0 ? null : Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / n),
    maxSec: n === 0 ? null : Math.max(...xs.map(Math.abs)),
    timeToThresholdSec: timeTo,
  };
}

/** a / b as a ratio, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}
