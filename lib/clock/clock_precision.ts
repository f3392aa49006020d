// Measures a clock's reading precision (RFC 5905 §7.3 "precision", as ntpd 4.2.x estimates it at
// start-up): the smallest nonzero step between two successive reads, as log2 seconds.

import { precisionLog2 } from "../proto/ntp_time.ts";

/** Limits for {@link measurePrecision}; every loop is bounded by `maxReads`. */
export interface PrecisionOptions {
  /** Reads to take at least, once `minSteps` changes were seen (default 2000). */
  targetReads?: number;
  /** Changes of the reading to see before stopping early (default 3). */
  minSteps?: number;
  /** Hard cap on reads (default 2,000,000: about 0.1 s even for a 54 ns read). */
  maxReads?: number;
  /** Stop once the clock itself has advanced this far (default 100 ms). */
  budgetNs?: number;
}

/** What {@link measurePrecision} found. */
export interface PrecisionMeasurement {
  /** RFC 5905 precision: log2 of `minStepNs` in seconds, rounded up, in [-30, 0]. */
  precisionLog2: number;
  /** Smallest nonzero forward difference between two successive reads (Infinity if none). */
  minStepNs: number;
  /** Mean cost of one read over the run (clock time / reads; 0 if the clock never moved). */
  readCostNs: number;
  /** Reads taken. */
  reads: number;
}

/**
 * Reads `readNs` (a clock in nanoseconds) back to back and returns its precision. The smallest
 * nonzero difference bounds both costs that limit a reading: on a fine clock two reads cannot be
 * closer than the time one read takes; on a coarse clock they cannot be closer than one tick.
 * Backward steps (a clock being stepped meanwhile) are ignored. A clock that never changes within
 * `maxReads` reads gets precision 0 (one second), the worst value.
 */
export function measurePrecision(
  readNs: () => bigint,
  opts: PrecisionOptions = {},
): PrecisionMeasurement {
  const targetReads = opts.targetReads ?? 2000;
  const minSteps = opts.minSteps ?? 3;
  const maxReads = opts.maxReads ?? 2_000_000;
  const budgetNs = BigInt(Math.round(opts.budgetNs ?? 100e6));
  // Warm up so the first measured reads are not the slow, unoptimised ones.
  for (let i = 0; i < Math.min(200, maxReads); i++) readNs();
  const start = readNs();
  let prev = start;
  let minStep = -1n;
  let steps = 0;
  let reads = 0;
  while (reads < maxReads) {
    const now = readNs();
    reads++;
    const d = now - prev;
    if (d > 0n) {
      steps++;
      if (minStep < 0n || d < minStep) minStep = d;
    }
    prev = now;
    if (steps >= minSteps && (reads >= targetReads || now - start >= budgetNs)) break;
  }
  const elapsed = prev > start ? Number(prev - start) : 0;
  const minStepNs = minStep < 0n ? Infinity : Number(minStep);
  return {
    precisionLog2: minStep < 0n ? 0 : precisionLog2(minStepNs / 1e9),
    minStepNs,
    readCostNs: reads > 0 ? elapsed / reads : 0,
    reads,
  };
}
