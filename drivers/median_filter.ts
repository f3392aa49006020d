// The reference clock median filter (ntpd 4.2.x refclock_sample/clk_filter): a clock that gives
// a sample a second hands the core one sample per poll, the mean of the samples nearest the
// median, with their spread as its dispersion. Outliers (a sentence that arrived late, a missed
// pulse) are trimmed before they reach the clock filter.

import type { RefclockContext, RefclockSample } from "./driver.ts";

/** Most samples kept between two polls (ntpd's MAXSTAGE). */
export const MEDIAN_MAX_SAMPLES = 60;
/** The share of samples, those nearest the median, that the mean is taken over. */
export const MEDIAN_KEEP = 0.6;
/** Filter outputs given at start-up before the pace slows to one a poll. */
export const MEDIAN_STARTUP_OUTPUTS = 8;
/**
 * The longest window of a start-up output (s): the core's clock filter, whose empty stages
 * count as a 16 s dispersion, is full in 16 s rather than eight polls.
 */
export const MEDIAN_STARTUP_WINDOW_SEC = 2;

/** Collects a clock's samples between polls and gives their trimmed mean. */
export class MedianFilter {
  #samples: RefclockSample[] = [];
  /** Samples dropped because the buffer was full. */
  overflow = 0;

  /** Number of samples waiting. */
  get size(): number {
    return this.#samples.length;
  }

  /** Adds a sample (the oldest goes when MEDIAN_MAX_SAMPLES are waiting). */
  add(s: RefclockSample): void {
    if (this.#samples.length >= MEDIAN_MAX_SAMPLES) {
      this.#samples.shift();
      this.overflow++;
    }
    this.#samples.push(s);
  }

  /**
   * The filter output and an empty buffer: the mean offset of the MEDIAN_KEEP share of samples
   * nearest the median, at their mean time, with their RMS spread (at least the smallest
   * sample dispersion) as dispersion and the largest root dispersion among them; null when no
   * sample is waiting.
   */
  take(): RefclockSample | null {
    const all = this.#samples;
    this.#samples = [];
    const n = all.length;
    if (n === 0) return null;
    const sorted = [...all].sort((a, b) => a.offsetSec - b.offsetSec);
    const median = n % 2 === 1
      ? sorted[(n - 1) / 2]!.offsetSec
      : (sorted[n / 2 - 1]!.offsetSec + sorted[n / 2]!.offsetSec) / 2;
    const keep = Math.max(1, Math.ceil(n * MEDIAN_KEEP));
    const kept = [...all]
      .sort((a, b) => Math.abs(a.offsetSec - median) - Math.abs(b.offsetSec - median))
      .slice(0, keep);
    let sum = 0;
    let minDisp = Infinity;
    let rootDisp = 0;
    const last = all[n - 1]!;
    let dtSum = 0;
    for (const s of kept) {
      sum += s.offsetSec;
      minDisp = Math.min(minDisp, s.dispersionSec);
      rootDisp = Math.max(rootDisp, s.rootDispersionSec ?? 0);
      dtSum += Number(s.time - last.time);
    }
    const mean = sum / kept.length;
    let sq = 0;
    for (const s of kept) sq += (s.offsetSec - mean) ** 2;
    const jitter = Math.sqrt(sq / kept.length);
    return {
      time: last.time + BigInt(Math.round(dtSum / kept.length)),
      offsetSec: mean,
      dispersionSec: Math.max(jitter, minDisp),
      leap: last.leap,
      ...(rootDisp > 0 ? { rootDispersionSec: rootDisp } : {}),
    };
  }
}

/**
 * Puts a median filter between a driver and the core: `add` samples as they come; one filter
 * output goes to `onSample` every poll (`ctx.pollSec`), after MEDIAN_STARTUP_OUTPUTS outputs at
 * shorter windows at start. Returns the sink and a function that stops the timer.
 */
export function medianFiltered(
  ctx: RefclockContext,
  onSample: (s: RefclockSample) => void,
  filter = new MedianFilter(),
): { add: (s: RefclockSample) => void; stop: () => void; filter: MedianFilter } {
  let outputs = 0;
  let cancel: (() => void) | null = null;
  const startupSec = Math.min(ctx.pollSec, MEDIAN_STARTUP_WINDOW_SEC);
  const tick = () => {
    const s = filter.take();
    if (s !== null) {
      outputs++;
      onSample(s);
    }
    if (outputs === MEDIAN_STARTUP_OUTPUTS && startupSec < ctx.pollSec) {
      outputs++;
      cancel?.();
      cancel = ctx.every(ctx.pollSec, tick);
    }
  };
  cancel = ctx.every(startupSec, tick);
  return {
    add: (s) => filter.add(s),
    stop: () => {
      cancel?.();
      cancel = null;
    },
    filter,
  };
}
