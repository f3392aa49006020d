// Event-loop lag probe (`--loop-lag-ms`): a timer chain on the main thread that records how late
// each tick fires, so "timers stay on time under load" is measured in the daemon itself.

import type { Timers } from "./timers.ts";

/** Lateness statistics of one window. Quantiles are exact to 0.1 ms below 100 ms, 10 ms above. */
export interface LoopLagWindow {
  /** Sequence number: 1 for the window the probe started with, +1 for each new window. */
  window: number;
  /** When the window started (ISO 8601, system clock). */
  windowStartedAt: string;
  /** When it ended (ISO 8601), or null for the current window. */
  windowEndedAt: string | null;
  /** Length of the window so far (monotonic clock), seconds. */
  windowSec: number;
  /** Ticks recorded. */
  samples: number;
  /** Ticks an idle loop would have recorded (a starved loop records far fewer). */
  expectedSamples: number;
  /** Median, 99th percentile and maximum lateness, ms; null without samples. */
  lateMedianMs: number | null;
  lateP99Ms: number | null;
  lateMaxMs: number | null;
}

/** What the status file shows: the current window and the one before it. */
export interface LoopLagSummary {
  intervalMs: number;
  current: LoopLagWindow;
  /** The window the last {@link LoopLag.newWindow} closed, or null. */
  previous: LoopLagWindow | null;
}

/** Time sources of the probe (tests pass manual ones). */
export interface LoopLagDeps {
  timers: Timers;
  /** Monotonic milliseconds (`performance.now()`). */
  monoMs(): number;
  /** System clock, Unix milliseconds (for the window's start and end times only). */
  wallMs(): number;
}

// Histogram buckets: 0.1 ms wide up to 100 ms, then 10 ms wide up to 10 s, then one overflow.
const FINE_MS = 0.1;
const FINE_COUNT = 1000;
const COARSE_MS = 10;
const COARSE_COUNT = 990;
const BUCKETS = FINE_COUNT + COARSE_COUNT + 1;

function bucketOf(lateMs: number): number {
  if (lateMs < FINE_MS * FINE_COUNT) return Math.floor(lateMs / FINE_MS);
  const i = FINE_COUNT + Math.floor((lateMs - FINE_MS * FINE_COUNT) / COARSE_MS);
  return Math.min(BUCKETS - 1, i);
}

/** Upper edge of a bucket, ms (Infinity for the overflow bucket). */
function bucketTopMs(i: number): number {
  if (i < FINE_COUNT) return Math.round((i + 1) * FINE_MS * 10) / 10;
  if (i < BUCKETS - 1) return FINE_MS * FINE_COUNT + (i - FINE_COUNT + 1) * COARSE_MS;
  return Infinity;
}

/** One window's counts: a fixed-size histogram, so a window may last for ever in 8 kB. */
class LateHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  samples = 0;
  maxMs = 0;

  add(lateMs: number): void {
    this.counts[bucketOf(lateMs)]!++;
    this.samples++;
    if (lateMs > this.maxMs) this.maxMs = lateMs;
  }

  /** Nearest-rank quantile, reported as its bucket's upper edge (never above the maximum). */
  quantile(q: number): number | null {
    if (this.samples === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.samples));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketTopMs(i), this.maxMs);
    }
    return this.maxMs;
  }
}

interface OpenWindow {
  window: number;
  startMono: number;
  startWall: number;
  hist: LateHistogram;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Fires a timer every `intervalMs` (each one armed when the previous fired) and records its
 * lateness: fire time minus due time, on the monotonic clock. A busy or starved event loop shows
 * as high lateness and fewer samples than expected.
 */
export class LoopLag {
  readonly intervalMs: number;
  #deps: LoopLagDeps;
  #current: OpenWindow;
  #previous: LoopLagWindow | null = null;
  #handle: number | null = null;
  #dueMono = 0;
  #stoppedMono: number | null = null;

  /** A stopped probe; `intervalMs` is clamped to 1..1000. */
  constructor(intervalMs: number, deps: LoopLagDeps) {
    this.intervalMs = Math.max(1, Math.min(1000, Math.round(intervalMs)));
    this.#deps = deps;
    this.#current = this.#open(1);
  }

  /** Starts ticking in a new window 1. */
  start(): void {
    if (this.#handle !== null) return;
    this.#stoppedMono = null;
    this.#current = this.#open(1);
    this.#previous = null;
    this.#arm();
  }

  /** Stops ticking; the summary then ends at the stop time. */
  stop(): void {
    if (this.#handle !== null) this.#deps.timers.clearTimeout(this.#handle);
    this.#handle = null;
    this.#stoppedMono ??= this.#deps.monoMs();
  }

  /** Closes the current window (it becomes `previous`) and opens the next one. */
  newWindow(): void {
    const mono = this.#endMono();
    const wall = this.#deps.wallMs();
    this.#previous = this.#view(this.#current, mono, wall);
    this.#current = this.#open(this.#current.window + 1, mono, wall);
  }

  /** The current window so far and the previous one. */
  summary(): LoopLagSummary {
    return {
      intervalMs: this.intervalMs,
      current: this.#view(this.#current, this.#endMono(), null),
      previous: this.#previous,
    };
  }

  #open(window: number, mono = this.#deps.monoMs(), wall = this.#deps.wallMs()): OpenWindow {
    return { window, startMono: mono, startWall: wall, hist: new LateHistogram() };
  }

  #endMono(): number {
    return this.#stoppedMono ?? this.#deps.monoMs();
  }

  /** The window up to `endMono`; `endWall` is its end on the system clock (null: still open). */
  #view(w: OpenWindow, endMono: number, endWall: number | null): LoopLagWindow {
    const windowSec = Math.max(0, endMono - w.startMono) / 1000;
    return {
      window: w.window,
      windowStartedAt: iso(w.startWall),
      windowEndedAt: endWall === null ? null : iso(endWall),
      windowSec,
      samples: w.hist.samples,
      expectedSamples: Math.floor((windowSec * 1000) / this.intervalMs),
      lateMedianMs: w.hist.quantile(0.5),
      lateP99Ms: w.hist.quantile(0.99),
      lateMaxMs: w.hist.samples === 0 ? null : w.hist.maxMs,
    };
  }

  #arm(): void {
    this.#dueMono = this.#deps.monoMs() + this.intervalMs;
    this.#handle = this.#deps.timers.setTimeout(() => this.#tick(), this.intervalMs);
  }

  #tick(): void {
    this.#handle = null;
    this.#current.hist.add(Math.max(0, this.#deps.monoMs() - this.#dueMono));
    this.#arm();
  }
}
