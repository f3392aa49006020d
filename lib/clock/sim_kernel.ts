// A model of the Linux kernel's NTP clock discipline (kernel/time/ntp.c, documented by adjtimex(2)
// and ntp_adjtime(3)) for the simulator: what each ADJ_* bit of a `struct timex` does, and how the
// kernel sets the clock's rate for each second. It shares no code with the ntpd discipline's own
// mirror of the kernel PLL (KernelPllModel), so that each one checks the other.
//
// The kernel PPS discipline (hardpps, CONFIG_NTP_PPS) is modelled in outline: a bound PPS device
// hands each edge to {@link SimKernel.ppsEdge}; the kernel sets STA_PPSSIGNAL itself and drops it
// when pulses stop, keeps the phase jitter and a frequency calibrated over 2^shift seconds of
// the raw oscillator, and only with STA_PPSTIME / STA_PPSFREQ lets them steer the clock.
// STA_PPSTIME and STA_PPSFREQ are plain status bits until a signal is present (ntp_adjtime then
// reports TIME_ERROR, as Linux does). While the PPS signal steers, the daemon's ADJ_OFFSET only
// moves the phase when STA_PPSTIME is off, and its PLL frequency only when STA_PPSFREQ is off
// (the kernel model of RFC 1589 and NTP's kern.c; Linux's ntp.c overwrites the phase at every
// pulse instead, which differs by at most one second's slew).
//
// Not modelled: ADJ_SETOFFSET and the leap second itself at midnight (STA_INS/STA_DEL only
// move the state to TIME_INS/TIME_DEL). Kernel seconds are whole seconds of the simulator's
// true time line, a difference of at most the clock's offset.

import { Errno, OsError } from "../../ffi/libc.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_MICRO,
  ADJ_NANO,
  ADJ_OFFSET,
  ADJ_OFFSET_SINGLESHOT,
  ADJ_SETOFFSET,
  ADJ_STATUS,
  ADJ_TAI,
  ADJ_TICK,
  ADJ_TIMECONST,
  type AdjtimeResult,
  MAXERROR_LIMIT_US,
  MAXFREQ_PPM,
  MAXPHASE_SEC,
  MAXTC,
  SCALED_PPM,
  STA_CLOCKERR,
  STA_DEL,
  STA_FLL,
  STA_FREQHOLD,
  STA_INS,
  STA_MODE,
  STA_NANO,
  STA_PLL,
  STA_PPSERROR,
  STA_PPSFREQ,
  STA_PPSJITTER,
  STA_PPSSIGNAL,
  STA_PPSTIME,
  STA_PPSWANDER,
  STA_RONLY,
  STA_UNSYNC,
  TIME_DEL,
  TIME_ERROR,
  TIME_INS,
  TIME_OK,
  type Timex,
} from "../../ffi/timex.ts";

/** Clock ticks per second as `tick` counts them (USER_HZ). */
export const USER_HZ = 100;
/** The kernel's nominal `tick` (µs): 10^6 / USER_HZ. */
export const KERNEL_NOMINAL_TICK_US = 1_000_000 / USER_HZ;
/** How far an adjtime()-style slew moves the clock per second (MAX_TICKADJ, µs). */
export const MAX_TICKADJ_US = 500;

/** The adjtime() family flag: with ADJ_OFFSET it is ADJ_OFFSET_SINGLESHOT. */
const ADJ_ADJTIME = 0x8000;
/** With ADJ_ADJTIME: only read the remaining slew (same bit as ADJ_NANO). */
const ADJ_OFFSET_READONLY = 0x2000;
/** PLL and FLL shifts of the kernel since 2.6.30. */
const SHIFT_PLL = 2;
const SHIFT_FLL = 2;
/** Update intervals (s) below which the FLL never runs, and above which it always does. */
const MINSEC = 256;
const MAXSEC = 2048;
/** Largest TAI offset ADJ_TAI accepts (s). */
const MAX_TAI_OFFSET = 100_000;
const MAXFREQ = MAXFREQ_PPM * 1e-6;
/** Seconds without a pulse after which the PPS signal counts as lost. */
export const PPS_VALID_SEC = 10;
/** A phase jump beyond 2^PPS_POPCORN times the average jitter is a spike (log2). */
const PPS_POPCORN = 4;
/** Phase jumps below this are never spikes (s). */
const PPS_MIN_SPIKE_SEC = 1e-6;
/** Shortest and longest frequency calibration interval (log2 s). */
export const PPS_INTMIN = 2;
export const PPS_INTMAX = 8;
/** Good calibrations in a row before the interval doubles. */
const PPS_INTCOUNT = 4;
/** Largest change of the PPS frequency per second of interval (dimensionless, 100 ppm/s). */
const PPS_MAXWANDER = 100e-6;

/** The kernel variables, in seconds and ppm, for tests and plots. */
export interface SimKernelSnapshot {
  /** time_state as ntp_adjtime would return it (TIME_OK … TIME_ERROR). */
  state: number;
  /** time_status (STA_* bits). */
  status: number;
  /** tick_usec. */
  tickUs: number;
  /** time_freq (ppm). */
  freqPpm: number;
  /** time_offset: the PLL phase still to be slewed (s). */
  pllOffsetSec: number;
  /** time_adjust: the adjtime()-style slew still to come after this second (s). */
  adjtimeLeftSec: number;
  /** time_constant. */
  constant: number;
  /** time_maxerror (s). */
  maxErrorSec: number;
  /** Phase the kernel adds during the current second (PLL and adjtime slews), s. */
  chunkSec: number;
  /** The PPS discipline's variables (all 0 before the first pulse). */
  pps: {
    freqPpm: number;
    jitterSec: number;
    shift: number;
    stabilityPpm: number;
    jitcnt: number;
    calcnt: number;
    errcnt: number;
    stbcnt: number;
  };
}

/** The Linux kernel's NTP variables and the two things that change them: ntp_adjtime and seconds. */
export class SimKernel {
  #state = TIME_OK;
  #status = STA_UNSYNC;
  #tickUs = KERNEL_NOMINAL_TICK_US;
  #freq = 0;
  #pllOffsetSec = 0;
  #refSec = 0;
  #constant = 2;
  #adjtimeUs = 0;
  #maxErrorUs = MAXERROR_LIMIT_US;
  #estErrorUs = MAXERROR_LIMIT_US;
  #tai = 0;
  #chunkSec = 0;
  // The PPS discipline (hardpps).
  #ppsValid = 0;
  #ppsShift = 0;
  #ppsGood = 0;
  #ppsFreq = 0;
  #ppsJitterSec = 0;
  #ppsStabil = 0;
  #ppsLastPhaseSec: number | null = null;
  /** Raw time (s) of the last pulse and of the calibration interval's first pulse. */
  #ppsLastRawSec: number | null = null;
  #ppsCalStartRawSec: number | null = null;
  #ppsCalPulses = 0;
  #ppsCounts = { jitcnt: 0, calcnt: 0, errcnt: 0, stbcnt: 0 };

  /**
   * ntp_adjtime(3) at Unix time `nowNs` (the clock's reading): applies `req` as Linux does and
   * returns the struct the kernel copies back. Throws an OsError with EINVAL where Linux fails
   * (a tick beyond ±10 %, ADJ_ADJTIME without ADJ_OFFSET).
   */
  adjtimex(req: Timex, nowNs: bigint): AdjtimeResult {
    const modes = req.modes >>> 0;
    const nowSec = Number(nowNs / 1_000_000_000n);
    const out: Timex = structuredClone(req);
    if ((modes & ADJ_ADJTIME) !== 0) {
      // adjtime(): nothing else in the struct is looked at.
      if ((modes & ADJ_OFFSET_SINGLESHOT) !== ADJ_OFFSET_SINGLESHOT) {
        throw new OsError("ntp_adjtime", Errno.EINVAL, `modes=0x${modes.toString(16)}`);
      }
      const before = this.#adjtimeUs;
      if ((modes & ADJ_OFFSET_READONLY) === 0) this.#adjtimeUs = Math.trunc(req.offset);
      out.offset = before;
    } else {
      const lo = 0.9 * KERNEL_NOMINAL_TICK_US;
      const hi = 1.1 * KERNEL_NOMINAL_TICK_US;
      if ((modes & ADJ_TICK) !== 0 && (req.tick < lo || req.tick > hi)) {
        throw new OsError("ntp_adjtime", Errno.EINVAL, `tick ${req.tick}`);
      }
      if ((modes & ADJ_SETOFFSET) !== 0) {
        throw new Error("SimKernel: ADJ_SETOFFSET is not modelled");
      }
      if (modes !== 0) this.#apply(req, modes, nowSec);
      const units = this.#nano ? 1e9 : 1e6;
      out.offset = Math.trunc(this.#pllOffsetSec * units);
    }
    out.freq = Math.round(this.#freq * 1e6 * SCALED_PPM);
    out.maxerror = this.#maxErrorUs;
    out.esterror = this.#estErrorUs;
    out.status = this.#status;
    out.constant = this.#constant;
    out.precision = 1;
    out.tolerance = MAXFREQ_PPM * SCALED_PPM;
    out.tick = this.#tickUs;
    out.tai = this.#tai;
    out.ppsfreq = Math.round(this.#ppsFreq * 1e6 * SCALED_PPM);
    out.jitter = Math.round(this.#ppsJitterSec * (this.#nano ? 1e9 : 1e6));
    out.shift = this.#ppsShift;
    out.stabil = Math.round(this.#ppsStabil * 1e6 * SCALED_PPM);
    out.jitcnt = this.#ppsCounts.jitcnt;
    out.calcnt = this.#ppsCounts.calcnt;
    out.errcnt = this.#ppsCounts.errcnt;
    out.stbcnt = this.#ppsCounts.stbcnt;
    const fracNs = Number(nowNs - BigInt(nowSec) * 1_000_000_000n);
    out.time = { sec: nowSec, frac: this.#nano ? fracNs : Math.trunc(fracNs / 1000) };
    return { state: this.#errorStatus() ? TIME_ERROR : this.#state, timex: out };
  }

  /**
   * One kernel second boundary: maxerror grows by 500 µs, and the phase to add during the next
   * second is taken from the PLL residual (residual / 2^(SHIFT_PLL + constant)) and from the
   * adjtime slew (500 µs, or what is left of it).
   */
  secondOverflow(): void {
    if (this.#state === TIME_OK) {
      if ((this.#status & STA_INS) !== 0) this.#state = TIME_INS;
      else if ((this.#status & STA_DEL) !== 0) this.#state = TIME_DEL;
    } else if (
      (this.#state === TIME_INS && (this.#status & STA_INS) === 0) ||
      (this.#state === TIME_DEL && (this.#status & STA_DEL) === 0)
    ) {
      this.#state = TIME_OK;
    }
    this.#ppsCountDown();
    this.#maxErrorUs += MAXFREQ_PPM;
    if (this.#maxErrorUs > MAXERROR_LIMIT_US) {
      this.#maxErrorUs = MAXERROR_LIMIT_US;
      this.#status |= STA_UNSYNC;
    }
    const pll = this.#pllOffsetSec / 2 ** (SHIFT_PLL + this.#constant);
    this.#pllOffsetSec -= pll;
    let adj = 0;
    if (this.#adjtimeUs > MAX_TICKADJ_US) {
      this.#adjtimeUs -= MAX_TICKADJ_US;
      adj = MAX_TICKADJ_US;
    } else if (this.#adjtimeUs < -MAX_TICKADJ_US) {
      this.#adjtimeUs += MAX_TICKADJ_US;
      adj = -MAX_TICKADJ_US;
    } else {
      adj = this.#adjtimeUs;
      this.#adjtimeUs = 0;
    }
    this.#chunkSec = pll + adj * 1e-6;
  }

  /** Rate the tick length and time_freq give the clock (dimensionless, positive: faster). */
  get baseRate(): number {
    return (this.#tickUs * USER_HZ - 1e6) / 1e6 + this.#freq;
  }

  /** The clock's rate during the current second: base rate plus this second's slew chunk. */
  get rate(): number {
    return this.baseRate + this.#chunkSec;
  }

  /** The kernel variables now. */
  snapshot(): SimKernelSnapshot {
    return {
      state: this.#errorStatus() ? TIME_ERROR : this.#state,
      status: this.#status,
      tickUs: this.#tickUs,
      freqPpm: this.#freq * 1e6,
      pllOffsetSec: this.#pllOffsetSec,
      adjtimeLeftSec: this.#adjtimeUs * 1e-6,
      constant: this.#constant,
      maxErrorSec: this.#maxErrorUs * 1e-6,
      chunkSec: this.#chunkSec,
      pps: {
        freqPpm: this.#ppsFreq * 1e6,
        jitterSec: this.#ppsJitterSec,
        shift: this.#ppsShift,
        stabilityPpm: this.#ppsStabil * 1e6,
        ...this.#ppsCounts,
      },
    };
  }

  /**
   * One PPS edge from a device bound to the kernel (PPS_KC_BIND, hardpps): `clockNs` is the
   * system clock's reading at the edge (Unix ns), `rawSec` the undisciplined oscillator's time
   * (s, any origin). The edge marks a true second: the reading's distance from the nearest whole
   * second is the clock's phase error, and the raw time between edges its frequency error.
   */
  ppsEdge(clockNs: bigint, rawSec: number): void {
    const wholeNs = ((clockNs + 500_000_000n) / 1_000_000_000n) * 1_000_000_000n;
    const phaseSec = Number(clockNs - wholeNs) * 1e-9; // positive: the clock is ahead
    // A pulse not about one second after the last one (in whole seconds) is a calibration error.
    if (this.#ppsLastRawSec !== null) {
      const gap = rawSec - this.#ppsLastRawSec;
      const n = Math.round(gap);
      if (n < 1 || Math.abs(gap - n) > 0.1) {
        this.#status |= STA_PPSERROR;
        this.#ppsCounts.errcnt++;
        this.#ppsRestartCalibration(rawSec);
        this.#ppsLastRawSec = rawSec;
        return;
      }
    }
    this.#ppsLastRawSec = rawSec;
    this.#status = (this.#status | STA_PPSSIGNAL) & ~STA_PPSERROR;
    this.#ppsValid = PPS_VALID_SEC;
    if (this.#ppsShift === 0) this.#ppsShift = PPS_INTMIN;
    this.#ppsPhase(phaseSec);
    this.#ppsFrequency(rawSec);
  }

  /** The phase half of hardpps: jitter, spikes, and the phase correction under STA_PPSTIME. */
  #ppsPhase(phaseSec: number): void {
    // A spike is measured against the last good pulse, and does not become the reference.
    const last = this.#ppsLastPhaseSec;
    if (last !== null) {
      const jump = Math.abs(phaseSec - last);
      // The 1 µs floor stands in for the time-stamping noise a simulated edge does not have.
      const limit = Math.max(PPS_MIN_SPIKE_SEC, this.#ppsJitterSec * 2 ** PPS_POPCORN);
      if (this.#ppsJitterSec > 0 && jump > limit) {
        this.#status |= STA_PPSJITTER;
        this.#ppsCounts.jitcnt++;
        return;
      }
      this.#status &= ~STA_PPSJITTER;
      this.#ppsJitterSec += (jump - this.#ppsJitterSec) / 4;
    }
    this.#ppsLastPhaseSec = phaseSec;
    if ((this.#status & STA_PPSTIME) !== 0) {
      // The pulse's phase replaces what the PLL had left to slew, and any adjtime slew.
      this.#pllOffsetSec = clamp(-phaseSec, -MAXPHASE_SEC, MAXPHASE_SEC);
      this.#adjtimeUs = 0;
    }
  }

  /** The frequency half: one calibration every 2^shift seconds of pulses. */
  #ppsFrequency(rawSec: number): void {
    if (this.#ppsCalStartRawSec === null) {
      this.#ppsRestartCalibration(rawSec);
      return;
    }
    this.#ppsCalPulses++;
    if (this.#ppsCalPulses < 2 ** this.#ppsShift) return;
    const n = this.#ppsCalPulses;
    const rawRate = (rawSec - this.#ppsCalStartRawSec) / n - 1; // the oscillator's own error
    this.#ppsRestartCalibration(rawSec);
    this.#ppsCounts.calcnt++;
    // The correction that cancels it, with the tick length's share taken off.
    const tickRate = (this.#tickUs * USER_HZ - 1e6) / 1e6;
    const freq = clamp(-rawRate - tickRate, -MAXFREQ, MAXFREQ);
    const first = this.#ppsCounts.calcnt === 1;
    const change = first ? 0 : Math.abs(freq - this.#ppsFreq);
    if (change > PPS_MAXWANDER * n) {
      // Too much wander for the interval: keep the old estimate and calibrate faster.
      this.#status |= STA_PPSWANDER;
      this.#ppsCounts.stbcnt++;
      this.#ppsGood = 0;
      this.#ppsShift = Math.max(PPS_INTMIN, this.#ppsShift - 1);
      return;
    }
    this.#status &= ~STA_PPSWANDER;
    this.#ppsStabil += (change - this.#ppsStabil) / 4;
    this.#ppsFreq = freq;
    if (++this.#ppsGood >= PPS_INTCOUNT && this.#ppsShift < PPS_INTMAX) {
      this.#ppsShift++;
      this.#ppsGood = 0;
    }
    if ((this.#status & STA_PPSFREQ) !== 0 && (this.#status & STA_FREQHOLD) === 0) {
      this.#freq = freq;
    }
  }

  #ppsRestartCalibration(rawSec: number): void {
    this.#ppsCalStartRawSec = rawSec;
    this.#ppsCalPulses = 0;
  }

  /** Each second without a pulse counts down; at zero the signal and its error bits go. */
  #ppsCountDown(): void {
    if (this.#ppsValid > 0) {
      this.#ppsValid--;
      return;
    }
    if ((this.#status & STA_PPSSIGNAL) === 0) return;
    this.#status &= ~(STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR);
    this.#ppsLastPhaseSec = null;
    this.#ppsLastRawSec = null;
    this.#ppsCalStartRawSec = null;
    this.#ppsCalPulses = 0;
  }

  get #ppsSteersPhase(): boolean {
    return (this.#status & (STA_PPSTIME | STA_PPSSIGNAL)) === (STA_PPSTIME | STA_PPSSIGNAL);
  }

  get #ppsSteersFreq(): boolean {
    return (this.#status & (STA_PPSFREQ | STA_PPSSIGNAL)) === (STA_PPSFREQ | STA_PPSSIGNAL);
  }

  get #nano(): boolean {
    return (this.#status & STA_NANO) !== 0;
  }

  #errorStatus(): boolean {
    const s = this.#status;
    if ((s & (STA_UNSYNC | STA_CLOCKERR)) !== 0) return true;
    // A PPS discipline asked for without a PPS signal is an error.
    return (s & (STA_PPSFREQ | STA_PPSTIME)) !== 0 && (s & STA_PPSSIGNAL) === 0;
  }

  /** The mode bits, in the order Linux processes them. */
  #apply(req: Timex, modes: number, nowSec: number): void {
    if ((modes & ADJ_STATUS) !== 0) this.#setStatus(req.status, nowSec);
    if ((modes & ADJ_NANO) !== 0) this.#status |= STA_NANO;
    if ((modes & ADJ_MICRO) !== 0) this.#status &= ~STA_NANO;
    if ((modes & ADJ_FREQUENCY) !== 0) {
      this.#freq = clamp(req.freq / SCALED_PPM * 1e-6, -MAXFREQ, MAXFREQ);
    }
    if ((modes & ADJ_MAXERROR) !== 0) this.#maxErrorUs = clamp(req.maxerror, 0, MAXERROR_LIMIT_US);
    if ((modes & ADJ_ESTERROR) !== 0) this.#estErrorUs = clamp(req.esterror, 0, MAXERROR_LIMIT_US);
    if ((modes & ADJ_TIMECONST) !== 0) {
      // In microsecond mode the kernel's time constant is 4 more than the one asked for.
      const c = Math.trunc(req.constant) + (this.#nano ? 0 : 4);
      this.#constant = clamp(c, 0, MAXTC);
    }
    if ((modes & ADJ_TAI) !== 0 && req.constant >= 0 && req.constant <= MAX_TAI_OFFSET) {
      this.#tai = Math.trunc(req.constant);
    }
    if ((modes & ADJ_OFFSET) !== 0) this.#updateOffset(req.offset, nowSec);
    if ((modes & ADJ_TICK) !== 0) this.#tickUs = Math.trunc(req.tick);
  }

  /** ADJ_STATUS: switching the PLL off resets the status; switching it on restarts the clock. */
  #setStatus(status: number, nowSec: number): void {
    if ((this.#status & STA_PLL) !== 0 && (status & STA_PLL) === 0) {
      this.#state = TIME_OK;
      this.#status = STA_UNSYNC;
    }
    if ((this.#status & STA_PLL) === 0 && (status & STA_PLL) !== 0) this.#refSec = nowSec;
    this.#status = (this.#status & STA_RONLY) | (status & ~STA_RONLY);
  }

  /** ADJ_OFFSET: the PLL's input. Ignored unless STA_PLL is on. */
  #updateOffset(raw: number, nowSec: number): void {
    if ((this.#status & STA_PLL) === 0) return;
    let offsetSec = this.#nano ? raw * 1e-9 : clamp(raw, -1e6, 1e6) * 1e-6;
    offsetSec = clamp(offsetSec, -MAXPHASE_SEC, MAXPHASE_SEC);
    let secs = nowSec - this.#refSec;
    if ((this.#status & STA_FREQHOLD) !== 0) secs = 0;
    this.#refSec = nowSec;
    let delta = 0;
    // The FLL: only over long intervals, or when selected and the interval is not too short.
    this.#status &= ~STA_MODE;
    if (secs >= MINSEC && ((this.#status & STA_FLL) !== 0 || secs > MAXSEC)) {
      this.#status |= STA_MODE;
      delta += offsetSec / (secs * 2 ** SHIFT_FLL);
    }
    // The PLL, with the interval capped so that rare updates do not get too much gain.
    secs = Math.min(secs, 2 ** (SHIFT_PLL + 1 + this.#constant));
    delta += offsetSec * secs / 2 ** (2 * (SHIFT_PLL + 2 + this.#constant));
    if (!this.#ppsSteersFreq) this.#freq = clamp(this.#freq + delta, -MAXFREQ, MAXFREQ);
    if (!this.#ppsSteersPhase) this.#pllOffsetSec = offsetSec;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
