// The simulator's clock (SIM_SCENARIOS.md model): phase x(t) and frequency y0 + a random walk
// (one N(0, w²) step per true second), steered with Linux semantics (frequency, tick slews, adjtime).

import type { Clock, ClockAdjustment, KernelClockState } from "./clock.ts";
import { addSec, type NtpTime } from "../proto/ntp_time.ts";
import { normal, type Rng } from "../proto/rng.ts";

/** Largest frequency correction: ±500 ppm of ADJ_FREQUENCY plus ±10% of tick length (ppm). */
export const SIM_MAX_FREQ_PPM = 100_500;

/** adjtime() slew rate on Linux (seconds per second). */
export const ADJTIME_SLEW_RATE = 500e-6;

/** Options for a simulated clock. */
export interface SimClockOptions {
  /** True time at simulation start (NTP time). */
  startTime: NtpTime;
  /** Initial phase x0 = clock − true time (seconds). */
  initialOffsetSec: number;
  /** Initial intrinsic frequency error y0 (dimensionless, 1e-4 = 100 ppm fast). */
  initialFreq: number;
  /** Random-walk step standard deviation per second, w. */
  wander: number;
  /** Randomness for the random walk. */
  rng: Rng;
  /** Reading precision (log2 s); readings are exact otherwise. */
  precisionLog2?: number;
}

/**
 * A simulated clock. The simulator moves true time forward with {@link advanceTo}; the core
 * reads the clock with `now()` and never sees true time.
 */
export class SimClock implements Clock {
  /** Short name for logs. */
  readonly name = "sim";
  /** The simulated clock may be steered. */
  readonly canSteer = true;
  /** Reading precision, log2 seconds. */
  readonly precisionLog2: number;
  #start: NtpTime;
  #trueSec = 0;
  #phaseSec: number;
  #hwFreq: number;
  #corrFreq = 0;
  #slewLeftSec = 0;
  #wander: number;
  #rng: Rng;
  #nextWalkSec = 1;
  #steps = 0;
  #adjusts = 0;

  /** Creates a clock at true time 0 (= `startTime`). */
  constructor(opts: SimClockOptions) {
    this.#start = opts.startTime;
    this.#phaseSec = opts.initialOffsetSec;
    this.#hwFreq = opts.initialFreq;
    this.#wander = opts.wander;
    this.#rng = opts.rng;
    this.precisionLog2 = opts.precisionLog2 ?? -30;
  }

  /** Seconds of true time since the start. */
  get trueSec(): number {
    return this.#trueSec;
  }

  /** The true phase error x = clock − true time (seconds): for metrics only. */
  get trueOffsetSec(): number {
    return this.#phaseSec;
  }

  /** The true frequency error of the clock including corrections (dimensionless). */
  get trueFreqError(): number {
    return this.#hwFreq + this.#corrFreq + this.#slewRate();
  }

  /** The current frequency correction in ppm (what adjustClock set). */
  get freqCorrectionPpm(): number {
    return this.#corrFreq * 1e6;
  }

  /** Counts of steps and adjustments applied. */
  get counters(): { steps: number; adjusts: number } {
    return { steps: this.#steps, adjusts: this.#adjusts };
  }

  /** Moves true time forward to `trueSec`, integrating phase and applying the random walk. */
  advanceTo(trueSec: number): void {
    while (this.#trueSec < trueSec) {
      const segEnd = Math.min(trueSec, this.#nextWalkSec);
      this.#integrate(segEnd - this.#trueSec);
      this.#trueSec = segEnd;
      if (segEnd === this.#nextWalkSec) {
        if (this.#wander !== 0) this.#hwFreq += this.#wander * normal(this.#rng);
        this.#nextWalkSec++;
      }
    }
  }

  /** Reads the clock: true time plus the phase error. */
  now(): NtpTime {
    return addSec(this.#start, this.#trueSec + this.#phaseSec);
  }

  /** Converts a clock reading into true seconds since the start (inverse of now(), approximately). */
  trueSecAt(reading: NtpTime): number {
    const phase = Number(reading - this.#start) / 4294967296;
    return phase - this.#phaseSec;
  }

  /** Steps the clock. */
  step(offsetSec: number): void {
    this.#phaseSec += offsetSec;
    this.#steps++;
  }

  /** Applies frequency (clamped to ±SIM_MAX_FREQ_PPM) and adjtime-style offset slews. */
  adjust(adj: ClockAdjustment): void {
    this.#adjusts++;
    if (adj.freqPpm !== undefined && Number.isFinite(adj.freqPpm)) {
      const ppm = Math.max(-SIM_MAX_FREQ_PPM, Math.min(SIM_MAX_FREQ_PPM, adj.freqPpm));
      this.#corrFreq = ppm * 1e-6;
    }
    if (adj.offsetSec !== undefined && Number.isFinite(adj.offsetSec)) {
      this.#slewLeftSec = adj.offsetSec;
    }
  }

  /** A kernel-like state (STA_NANO, no PLL): frequency and pending slew. */
  kernelState(): KernelClockState {
    return {
      state: 0,
      status: 0x2000,
      offsetSec: this.#slewLeftSec,
      freqPpm: this.#corrFreq * 1e6,
      maxErrorSec: 0,
      estErrorSec: 0,
      constant: 0,
      precisionSec: 2 ** this.precisionLog2,
      toleranceSppm: 500,
      tick: 10000,
      tai: 0,
      nano: true,
    };
  }

  #slewRate(): number {
    if (this.#slewLeftSec === 0) return 0;
    return this.#slewLeftSec > 0 ? ADJTIME_SLEW_RATE : -ADJTIME_SLEW_RATE;
  }

  #integrate(dt: number): void {
    if (dt <= 0) return;
    let rest = dt;
    if (this.#slewLeftSec !== 0) {
      const rate = this.#slewRate();
      const slewTime = Math.min(rest, Math.abs(this.#slewLeftSec) / ADJTIME_SLEW_RATE);
      this.#phaseSec += (this.#hwFreq + this.#corrFreq + rate) * slewTime;
      this.#slewLeftSec -= rate * slewTime;
      if (Math.abs(this.#slewLeftSec) < 1e-15 || slewTime < rest) this.#slewLeftSec = 0;
      rest -= slewTime;
    }
    if (rest > 0) this.#phaseSec += (this.#hwFreq + this.#corrFreq) * rest;
  }
}
