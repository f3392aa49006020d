// Event-loop responsiveness probe: a periodic timer that records how late each tick fires,
// so a server's "timers on time under full load" claim can be measured, not assumed.

/** Lateness statistics over a probe window. */
export interface LagSummary {
  /** Ticks that fired in the window. */
  ticks: number;
  /** Ticks expected from the window length and the interval. */
  expectedTicks: number;
  /** Window length, seconds. */
  windowSec: number;
  /** Median, 99th percentile and maximum lateness, ms. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Fires a `setTimeout` chain every `intervalMs` and records lateness (actual minus intended
 * fire time, monotonic clock). A starved event loop shows as few ticks and large lateness.
 */
export class LagProbe {
  readonly intervalMs: number;
  #late: number[] = [];
  #windowStartMs = performance.now();
  #dueMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Creates a stopped probe (the interval is clamped to 1..1000 ms). */
  constructor(intervalMs = 10) {
    this.intervalMs = Math.max(1, Math.min(1000, intervalMs));
  }

  /** Starts ticking (and starts a new window). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.reset();
    this.#schedule(performance.now());
  }

  /** Stops ticking. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Forgets what was recorded and starts a new window now. */
  reset(): void {
    this.#late = [];
    this.#windowStartMs = performance.now();
  }

  /** Statistics since the last reset. */
  summary(): LagSummary {
    const windowSec = (performance.now() - this.#windowStartMs) / 1000;
    const sorted = [...this.#late].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0
        ? NaN
        : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      ticks: sorted.length,
      expectedTicks: Math.floor((windowSec * 1000) / this.intervalMs),
      windowSec,
      medianMs: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    };
  }

  #schedule(fromMs: number): void {
    this.#dueMs = fromMs + this.intervalMs;
    this.#timer = setTimeout(() => this.#tick(), this.intervalMs);
  }

  #tick(): void {
    const now = performance.now();
    // Bounded: at most one sample per interval, and the array is cleared by every reset().
    if (this.#late.length < 1_000_000) this.#late.push(Math.max(0, now - this.#dueMs));
    this.#schedule(now);
  }
}
