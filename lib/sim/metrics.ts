// Simulation metrics from the per-second true offset and frequency error (SIM_SCENARIOS.md):
// RMS, p99, max |x| after settling, mean x, RMS frequency error, T1ms, T100µs, packets/1000 s.

/** The metrics of one run, named as `horae sim --json` prints them. */
export interface SimMetrics {
  rms_offset_s: number;
  p99_offset_s: number;
  max_offset_s: number;
  max_offset_whole_run_s: number;
  mean_offset_s: number;
  rms_freq_error: number;
  t1ms_s: number | null;
  t100us_s: number | null;
  tx_per_1000s: number;
}

/** Collects one value per true second and computes {@link SimMetrics}. */
export class MetricsCollector {
  #settleSec: number;
  #after: number[] = [];
  #sumSq = 0;
  #sum = 0;
  #freqSq = 0;
  #n = 0;
  #maxWhole = 0;
  #last1ms = -1;
  #last100us = -1;
  #lastSec = 0;

  /** Statistics (except whole-run ones and T1ms) start at `settleSec`. */
  constructor(settleSec: number) {
    this.#settleSec = settleSec;
  }

  /** Records the true offset x and frequency error y at true second `sec` (0, 1, 2, …). */
  record(sec: number, offsetSec: number, freqError: number): void {
    const a = Math.abs(offsetSec);
    if (a > this.#maxWhole) this.#maxWhole = a;
    if (a >= 1e-3) this.#last1ms = sec;
    if (a >= 1e-4) this.#last100us = sec;
    this.#lastSec = sec;
    if (sec < this.#settleSec) return;
    this.#after.push(a);
    this.#sumSq += offsetSec * offsetSec;
    this.#sum += offsetSec;
    this.#freqSq += freqError * freqError;
    this.#n++;
  }

  /** Final metrics; `packets` is what the client sent over `durationSec`. */
  result(packets: number, durationSec: number): SimMetrics {
    const n = Math.max(1, this.#n);
    const sorted = Float64Array.from(this.#after).sort();
    const p99 = sorted.length === 0
      ? 0
      : sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
    return {
      rms_offset_s: Math.sqrt(this.#sumSq / n),
      p99_offset_s: p99,
      max_offset_s: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
      max_offset_whole_run_s: this.#maxWhole,
      mean_offset_s: this.#sum / n,
      rms_freq_error: Math.sqrt(this.#freqSq / n),
      t1ms_s: settleTime(this.#last1ms, this.#lastSec),
      t100us_s: settleTime(this.#last100us, this.#lastSec),
      tx_per_1000s: packets / durationSec * 1000,
    };
  }
}

function settleTime(lastBad: number, lastSec: number): number | null {
  if (lastBad >= lastSec) return null; // still outside at the end: never settled
  return lastBad + 1;
}
