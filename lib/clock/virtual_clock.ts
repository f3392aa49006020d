// Observe mode's clock (like `chronyd -x`): reads the system clock through a read-only Clock and
// applies the discipline's steps, frequency and slews to a private correction instead of the kernel.

import type { Clock, ClockAdjustment, KernelClockState } from "./clock.ts";
import { addSec, diffSec, type NtpTime } from "../proto/ntp_time.ts";

/** Rate at which an adjtime-style offset (`ClockAdjustment.offsetSec`) is slewed, as Linux does. */
export const VIRTUAL_ADJTIME_RATE = 500e-6;

/** What the virtual correction amounts to at one moment. */
export interface VirtualCorrection {
  /** Virtual time minus system time (s): what steering would have added to the clock so far. */
  correctionSec: number;
  /** Frequency correction in force relative to the kernel's frequency at start (ppm). */
  relativeFreqPpm: number;
  /** Absolute frequency the discipline last asked for (ppm), or null before the first request. */
  requestedFreqPpm: number | null;
  /** Adjtime-style offset still to be slewed (s). */
  pendingSlewSec: number;
  /** Steps applied to the virtual clock. */
  steps: number;
}

/**
 * The parameters of a virtual correction: enough to compute it at any system time, so another
 * thread (a server worker) can convert timestamps exactly as the owning {@link VirtualClock}.
 */
export interface VirtualCorrectionModel {
  /** System time the integration restarted at (null: never adjusted). */
  anchor: NtpTime | null;
  /** Correction at `anchor` (s). */
  phaseSec: number;
  /** Frequency correction relative to the kernel's (s/s). */
  rate: number;
  /** Adjtime-style offset still to slew at `anchor` (s). */
  slewLeftSec: number;
}

/**
 * A clock that the protocol core can steer without the system clock changing.
 *
 * Readings are `system + c(system)`, where the correction c integrates the requested frequency
 * (taken relative to the kernel's frequency when this clock was made, so an absolute
 * `freqPpm` means what it would mean to ntp_adjtime), plus steps and adjtime-style slews. The
 * core therefore sees its corrections take effect exactly as on a steered clock, and the
 * correction itself is the estimate of how far the system clock is from true time.
 */
export class VirtualClock implements Clock {
  /** Always "virtual". */
  readonly name = "virtual";
  /** False: the system clock is never changed. */
  readonly canSteer = false;
  #inner: Clock;
  #kernelFreqPpm: number;
  #anchor: NtpTime | null = null;
  #phaseSec = 0;
  #rate = 0;
  #requestedPpm: number | null = null;
  #slewLeftSec = 0;
  #steps = 0;

  /**
   * Wraps `inner` (only its `now`, `precisionLog2` and `kernelState` are used).
   * `kernelFreqPpm` is the frequency the kernel already applies (default: read from
   * `inner.kernelState()`, 0 when it cannot be read).
   */
  constructor(inner: Clock, kernelFreqPpm?: number) {
    this.#inner = inner;
    this.#kernelFreqPpm = kernelFreqPpm ?? inner.kernelState()?.freqPpm ?? 0;
  }

  /** Precision of the underlying clock. */
  get precisionLog2(): number {
    return this.#inner.precisionLog2;
  }

  /** True while the correction is exactly zero (lets hot paths skip the conversion). */
  get isIdentity(): boolean {
    return this.#phaseSec === 0 && this.#rate === 0 && this.#slewLeftSec === 0;
  }

  /** Reads the system clock and applies the correction. */
  now(): NtpTime {
    return this.fromSystem(this.#inner.now());
  }

  /** Converts a system clock reading (e.g. a kernel receive timestamp) to virtual time. */
  fromSystem(t: NtpTime): NtpTime {
    if (this.isIdentity) return t;
    return addSec(t, this.correctionAt(t));
  }

  /** Virtual minus system time (s) at system time `t`. */
  correctionAt(t: NtpTime): number {
    if (this.#anchor === null) return this.#phaseSec;
    const dt = diffSec(t, this.#anchor);
    return this.#phaseSec + this.#rate * dt + this.#slewPart(dt);
  }

  /** The correction now. */
  correction(): VirtualCorrection {
    const t = this.#inner.now();
    const dt = this.#anchor === null ? 0 : diffSec(t, this.#anchor);
    return {
      correctionSec: this.correctionAt(t),
      relativeFreqPpm: this.#rate * 1e6,
      requestedFreqPpm: this.#requestedPpm,
      pendingSlewSec: this.#slewLeftSec - this.#slewPart(dt),
      steps: this.#steps,
    };
  }

  /** The correction's current parameters (see {@link VirtualCorrectionModel}). */
  model(): VirtualCorrectionModel {
    return {
      anchor: this.#anchor,
      phaseSec: this.#phaseSec,
      rate: this.#rate,
      slewLeftSec: this.#slewLeftSec,
    };
  }

  /** Follows another clock's correction: takes over its parameters (server workers). */
  setModel(m: VirtualCorrectionModel): void {
    this.#anchor = m.anchor;
    this.#phaseSec = m.phaseSec;
    this.#rate = m.rate;
    this.#slewLeftSec = m.slewLeftSec;
  }

  /** Steps the virtual clock (the system clock is untouched). */
  step(offsetSec: number): void {
    if (!Number.isFinite(offsetSec)) return;
    this.#reanchor();
    this.#phaseSec += offsetSec;
    this.#steps++;
  }

  /** Applies frequency and adjtime-style offset requests to the correction. */
  adjust(adj: ClockAdjustment): void {
    const setFreq = adj.freqPpm !== undefined && Number.isFinite(adj.freqPpm);
    const setSlew = adj.offsetSec !== undefined && Number.isFinite(adj.offsetSec);
    if (!setFreq && !setSlew) return;
    this.#reanchor();
    if (setFreq) {
      this.#requestedPpm = adj.freqPpm!;
      this.#rate = (adj.freqPpm! - this.#kernelFreqPpm) * 1e-6;
    }
    if (setSlew) this.#slewLeftSec = adj.offsetSec!;
  }

  /** The kernel state as the underlying clock reads it (never changed by this clock). */
  kernelState(): KernelClockState | null {
    return this.#inner.kernelState();
  }

  /** Folds the correction accumulated so far into the phase and restarts integration now. */
  #reanchor(): void {
    const t = this.#inner.now();
    if (this.#anchor !== null) {
      const dt = diffSec(t, this.#anchor);
      const slewed = this.#slewPart(dt);
      this.#phaseSec += this.#rate * dt + slewed;
      this.#slewLeftSec -= slewed;
    }
    this.#anchor = t;
  }

  /** Phase slewed out of the pending adjtime offset `dt` seconds after the anchor. */
  #slewPart(dt: number): number {
    const left = this.#slewLeftSec;
    if (left === 0 || dt <= 0) return 0;
    const done = Math.min(Math.abs(left), VIRTUAL_ADJTIME_RATE * dt);
    return left > 0 ? done : -done;
  }
}
