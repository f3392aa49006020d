// The simulator's clock (SIM_SCENARIOS.md model): an oscillator with phase x(t) and frequency
// y0 + a random walk (one N(0, w²) step per true second), steered the way the real daemon steers
// Linux: every adjustment goes through the Linux adapter (LinuxClock, which builds the struct
// timex) into a model of the kernel (sim_kernel.ts), which decides what the request really does.

import type { Clock, ClockAdjustment, KernelClockState } from "./clock.ts";
import { LinuxClock } from "./linux_clock.ts";
import { MAX_TICKADJ_US, SimKernel, type SimKernelSnapshot } from "./sim_kernel.ts";
import { addSec, type NtpTime, toUnixNs } from "../proto/ntp_time.ts";
import { normal, type Rng } from "../proto/rng.ts";

/** Largest frequency correction: ±500 ppm of ADJ_FREQUENCY plus ±10% of tick length (ppm). */
export const SIM_MAX_FREQ_PPM = 100_500;

/** adjtime() slew rate on Linux (seconds per second). */
export const ADJTIME_SLEW_RATE = MAX_TICKADJ_US * 1e-6;

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
 * reads the clock with `now()` and never sees true time. Adjustments reach the simulated kernel
 * exactly as encoded for Linux, so a request Linux would ignore (ADJ_OFFSET without STA_PLL)
 * is ignored here too; each true whole second is a kernel second (SimKernel.secondOverflow).
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
  #kernel = new SimKernel();
  #linux: LinuxClock;
  #wander: number;
  #rng: Rng;
  #nextWalkSec = 1;
  /** The undisciplined oscillator's own time (s): true time plus its integrated error. */
  #rawSec = 0;
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
    this.#linux = new LinuxClock({
      syscalls: {
        realtimeNs: () => toUnixNs(this.now()),
        setRealtime: () => {
          throw new Error("SimClock steps through step(), not clock_settime");
        },
        ntpAdjtime: (t) => this.#kernel.adjtimex(t, toUnixNs(this.now())),
      },
    });
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
    return this.#hwFreq + this.#kernel.rate;
  }

  /** The frequency correction in force (tick length and time_freq), ppm, without slew chunks. */
  get freqCorrectionPpm(): number {
    return this.#kernel.baseRate * 1e6;
  }

  /** The simulated kernel's variables (tick, frequency, pending slews, status). */
  get kernel(): SimKernelSnapshot {
    return this.#kernel.snapshot();
  }

  /**
   * A PPS edge at the current true time, handed to the kernel's PPS discipline as a device bound
   * with PPS_KC_BIND would (call it at true whole seconds: the edge marks one).
   */
  ppsEdge(): void {
    this.#kernel.ppsEdge(toUnixNs(this.now()), this.#rawSec);
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
        this.#kernel.secondOverflow();
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

  /**
   * Changes the oscillator's own frequency error by `delta` (dimensionless) from now on: the
   * simulator's temperature cycles and frequency steps. No correction is involved.
   */
  shiftOscillator(delta: number): void {
    this.#hwFreq += delta;
  }

  /** Steps the clock. */
  step(offsetSec: number): void {
    this.#phaseSec += offsetSec;
    this.#steps++;
  }

  /**
   * Hands the request to the Linux adapter, whose ntp_adjtime calls go to the simulated kernel:
   * frequency (±500 ppm) and tick (±10 %), kernel PLL, adjtime-style slews and releases all act
   * as they would on Linux. Like LinuxClock, it throws what the kernel refuses.
   */
  adjust(adj: ClockAdjustment): void {
    this.#adjusts++;
    this.#linux.adjust(adj);
  }

  /** The simulated kernel's state, read as LinuxClock reads Linux (ntp_adjtime, modes 0). */
  kernelState(): KernelClockState {
    return this.#linux.kernelState();
  }

  #integrate(dt: number): void {
    if (dt > 0) {
      this.#phaseSec += (this.#hwFreq + this.#kernel.rate) * dt;
      this.#rawSec += (1 + this.#hwFreq) * dt;
    }
  }
}
