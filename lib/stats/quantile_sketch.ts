// A streaming summary of a series of numbers in bounded memory, for `horae report` over a year
// of statistics files: exact count, mean, standard deviation, minimum and maximum, and quantiles
// within 1 % of the value from logarithmic bins (a value's bin is fixed by its magnitude, so the
// sketch needs no second pass and its size depends only on the range of magnitudes).

/** Bin ratio: quantiles are within GAMMA - 1 = 2 % of the true value (1 % from the middle). */
const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);
/** Magnitudes below this count as zero. */
const MIN_ABS = 1e-12;

/** Summary of a stream of numbers; {@link add} each, then read. */
export class QuantileSketch {
  readonly #pos = new Map<number, number>();
  readonly #neg = new Map<number, number>();
  #zero = 0;
  #count = 0;
  #mean = 0;
  #m2 = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Adds one value (non-finite values are ignored). */
  add(x: number): void {
    if (!Number.isFinite(x)) return;
    this.#count++;
    const d = x - this.#mean;
    this.#mean += d / this.#count;
    this.#m2 += d * (x - this.#mean);
    if (x < this.#min) this.#min = x;
    if (x > this.#max) this.#max = x;
    const a = Math.abs(x);
    if (a < MIN_ABS) {
      this.#zero++;
      return;
    }
    const k = Math.ceil(Math.log(a / MIN_ABS) / LOG_GAMMA);
    const m = x > 0 ? this.#pos : this.#neg;
    m.set(k, (m.get(k) ?? 0) + 1);
  }

  get count(): number {
    return this.#count;
  }

  /** Mean, or NaN when empty. */
  get mean(): number {
    return this.#count === 0 ? NaN : this.#mean;
  }

  /** Population standard deviation, or NaN when empty. */
  get std(): number {
    return this.#count === 0 ? NaN : Math.sqrt(this.#m2 / this.#count);
  }

  get min(): number {
    return this.#count === 0 ? NaN : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? NaN : this.#max;
  }

  /** Number of occupied bins (the sketch's size). */
  get size(): number {
    return this.#pos.size + this.#neg.size + (this.#zero > 0 ? 1 : 0);
  }

  /** The bins in ascending order of value: [low, high, count]. */
  bins(): [number, number, number][] {
    const out: [number, number, number][] = [];
    const neg = [...this.#neg].sort((a, b) => b[0] - a[0]);
    for (const [k, n] of neg) out.push([-MIN_ABS * GAMMA ** k, -MIN_ABS * GAMMA ** (k - 1), n]);
    if (this.#zero > 0) out.push([-MIN_ABS, MIN_ABS, this.#zero]);
    const pos = [...this.#pos].sort((a, b) => a[0] - b[0]);
    for (const [k, n] of pos) out.push([MIN_ABS * GAMMA ** (k - 1), MIN_ABS * GAMMA ** k, n]);
    return out;
  }

  /** The `q` quantile (0–1), within 1 % of the value, clamped to [min, max]; NaN when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(0, Math.min(1, q)) * (this.#count - 1);
    let seen = 0;
    for (const [lo, hi, n] of this.bins()) {
      seen += n;
      if (seen > rank) {
        const mid = lo === -MIN_ABS
          ? 0
          : Math.sign(lo) * 2 * Math.abs(lo * hi) / (Math.abs(lo) + Math.abs(hi));
        return Math.min(this.#max, Math.max(this.#min, mid));
      }
    }
    return this.#max;
  }
}
