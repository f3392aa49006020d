// The Clock interface: how the daemon, the simulator and tests read and steer a system clock.
// Adapters: linux_clock.ts (ntp_adjtime), null_clock.ts (reads, never steers), sim_clock.ts.

import type { NtpTime } from "../proto/ntp_time.ts";

/** Kernel time-keeping state as `ntp_adjtime` reports it (units converted to seconds and ppm). */
export interface KernelClockState {
  /** Return value of ntp_adjtime: 0 TIME_OK … 5 TIME_ERROR. */
  state: number;
  /** STA_* status bits. */
  status: number;
  offsetSec: number;
  freqPpm: number;
  maxErrorSec: number;
  estErrorSec: number;
  /** PLL time constant (log2). */
  constant: number;
  precisionSec: number;
  toleranceSppm: number;
  tick: number;
  tai: number;
  /** True when the kernel reports nanosecond resolution (STA_NANO). */
  nano: boolean;
  /** The kernel's PPS discipline readout (ntptime's pps lines), when the kernel reports one. */
  pps?: KernelPpsState;
}

/** What the kernel's PPS discipline (hardpps) reports through ntp_adjtime. */
export interface KernelPpsState {
  /** ppsfreq: the frequency the PPS signal measured (ppm). */
  freqPpm: number;
  /** jitter: the PPS phase jitter (s). */
  jitterSec: number;
  /** shift: the calibration interval (log2 s); 0 before the first pulse. */
  intervalLog2: number;
  /** stabil: the PPS frequency's stability (ppm). */
  stabilityPpm: number;
  /** jitcnt: pulses over the jitter limit. */
  jitterExceeded: number;
  /** calcnt: calibration intervals completed. */
  calibrations: number;
  /** errcnt: calibration errors. */
  errors: number;
  /** stbcnt: intervals over the stability (wander) limit. */
  stabilityExceeded: number;
}

/** A request to the clock's discipline (only honoured by clocks that can steer). */
export interface ClockAdjustment {
  /**
   * Phase offset to remove (seconds, positive means the clock is behind). Without `kernelPll` it
   * is an adjtime()-style slew: the kernel slews it out at its own fixed rate (500 ppm on Linux)
   * and it replaces any such slew still in progress, so 0 cancels one. With `kernelPll` it is the
   * kernel PLL's phase input.
   */
  offsetSec?: number;
  /** Absolute frequency correction in ppm. */
  freqPpm?: number;
  /** Use the kernel PLL/FLL with this time constant. */
  kernelPll?: { constant: number; fll?: boolean };
  /**
   * With `kernelPll`: the kernel's PPS discipline on (STA_PPSTIME | STA_PPSFREQ); a request that
   * writes the status without it switches it off.
   */
  kernelPps?: boolean;
  /**
   * Let go of the clock, as a process must before it exits: the nominal tick goes back, every
   * slew in progress ends (the adjtime-style one and the kernel PLL's residual phase) and the
   * frequency is left at `freqPpm`, or at the kernel's own without it. Only `freqPpm`,
   * `estErrorSec` and `maxErrorSec` may come with it.
   */
  release?: boolean;
  /** Estimated and maximum error for the kernel's bookkeeping. */
  estErrorSec?: number;
  maxErrorSec?: number;
  /** Leap second status: 0 none, 1 insert, 2 delete, 3 unsynchronised. */
  leap?: number;
}

/** A system clock. */
export interface Clock {
  /** Short name for logs ("null", "linux", "sim"). */
  readonly name: string;
  /** True when the clock may be changed; the null clock says false and ignores requests. */
  readonly canSteer: boolean;
  /** Reading precision as log2 seconds (RFC 5905 precision). */
  readonly precisionLog2: number;
  /** Reads the clock. */
  now(): NtpTime;
  /** Steps the clock by `offsetSec` (positive: forward). */
  step(offsetSec: number): void;
  /** Applies a discipline adjustment. */
  adjust(adj: ClockAdjustment): void;
  /** Reads the kernel discipline state, when there is one. */
  kernelState(): KernelClockState | null;
}
