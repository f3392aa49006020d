// A time series reduced to a fixed number of equal time bins (count, mean, minimum, maximum of
// each), so a plot of a year of samples costs the same memory as a plot of an hour.

/** One non-empty bin. */
export interface TimeBin {
  /** Middle of the bin (Unix seconds). */
  t: number;
  count: number;
  mean: number;
  min: number;
  max: number;
}

/** Bins over [fromSec, toSec]; values outside the span are ignored. */
export class TimeBins {
  readonly fromSec: number;
  readonly toSec: number;
  readonly #n: number;
  readonly #count: Float64Array;
  readonly #sum: Float64Array;
  readonly #min: Float64Array;
  readonly #max: Float64Array;

  constructor(fromSec: number, toSec: number, bins: number) {
    this.fromSec = fromSec;
    this.toSec = Math.max(toSec, fromSec + 1e-6);
    this.#n = Math.max(1, Math.floor(bins));
    this.#count = new Float64Array(this.#n);
    this.#sum = new Float64Array(this.#n);
    this.#min = new Float64Array(this.#n).fill(Infinity);
    this.#max = new Float64Array(this.#n).fill(-Infinity);
  }

  /** Adds a value at time `t` (Unix seconds). */
  add(t: number, v: number): void {
    if (!Number.isFinite(v) || !(t >= this.fromSec && t <= this.toSec)) return;
    const i = Math.min(
      this.#n - 1,
      Math.floor((t - this.fromSec) / (this.toSec - this.fromSec) * this.#n),
    );
    this.#count[i]!++;
    this.#sum[i]! += v;
    if (v < this.#min[i]!) this.#min[i] = v;
    if (v > this.#max[i]!) this.#max[i] = v;
  }

  /** Values added. */
  get total(): number {
    let n = 0;
    for (const c of this.#count) n += c;
    return n;
  }

  /** The non-empty bins in time order. */
  points(): TimeBin[] {
    const out: TimeBin[] = [];
    const w = (this.toSec - this.fromSec) / this.#n;
    for (let i = 0; i < this.#n; i++) {
      const c = this.#count[i]!;
      if (c === 0) continue;
      out.push({
        t: this.fromSec + (i + 0.5) * w,
        count: c,
        mean: this.#sum[i]! / c,
        min: this.#min[i]!,
        max: this.#max[i]!,
      });
    }
    return out;
  }
}
