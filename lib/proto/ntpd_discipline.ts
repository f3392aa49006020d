// ntpd 4.2.x's classic clock discipline (RFC 5905 §11.3, Appendix A.5.5.6 local_clock and A.5.6
// clock_adjust): the hybrid phase/frequency-lock loop, its NSET/FSET/FREQ/SPIK/SYNC state
// machine with step, stepout and panic, huff-n'-puff, the poll-adjust jiggle counter, and the
// hand-off to the Linux kernel PLL/FLL (`enable kernel`) or daemon-side slewing (`disable kernel`).

import { addSec, diffSec, type NtpTime } from "./ntp_time.ts";
import {
  type Action,
  type AdjustClockAction,
  type EventAction,
  SystemEvent,
  systemEvent,
} from "./events.ts";
import { NTP_MAXDPOLL, NTP_MAXPOLL, NTP_MINDPOLL, NTP_MINPOLL } from "./constants.ts";
import type { Discipline, DisciplineKind, DisciplineState, SampleSource } from "./discipline.ts";

/** PLL loop gain: the phase time constant is CLOCK_PLL × the poll interval. */
export const CLOCK_PLL = 16;
/** FLL loop gain (the fraction of the measured frequency error applied per update). */
export const CLOCK_FLL = 0.25;
/** Averaging constant of the clock jitter and wander estimates. */
export const CLOCK_AVG = 8;
/** Jiggle-counter threshold for changing the poll exponent. */
export const CLOCK_LIMIT = 30;
/** Poll-adjust gate: offsets under this many clock jitters count as "quiet". */
export const CLOCK_PGATE = 4;
/** Frequency tolerance (s/s): ±500 ppm. */
export const NTP_MAXFREQ = 500e-6;
/** Huff-n'-puff slot length (s): the minimum delay is kept per slot. */
export const HUFFPUFF_SLOT_SEC = 900;
/** Step threshold under -x (s). */
export const SLEW_ONLY_STEP_SEC = 600;
/** Linux's adjtime() slew rate (s/s): 500 µs every second. */
export const ADJTIME_RATE = 500e-6;
/**
 * Seconds to wait after an adjtime slew's |offset| / ADJTIME_RATE before it is surely over: the
 * kernel starts it at its next second and spreads the last part over one more second.
 */
export const ADJTIME_SETTLE_SEC = 3;

/** Linux's kernel PLL shift (kernel/time/ntp.c SHIFT_PLL since 2.6.30). */
export const KERNEL_SHIFT_PLL = 2;
/** Linux's kernel FLL shift. */
export const KERNEL_SHIFT_FLL = 2;
/** Below this update interval (s) the kernel never runs its FLL. */
export const KERNEL_MINSEC = 256;
/** Above this update interval (s) the kernel runs its FLL even without STA_FLL. */
export const KERNEL_MAXSEC = 2048;
/** Largest kernel time constant. */
export const KERNEL_MAXTC = 10;
/** Largest offset the kernel PLL accepts (s). */
export const KERNEL_MAXPHASE_SEC = 0.5;

/** Kernel status bits the discipline writes (struct timex `status`). */
export const KernelStatus = {
  PLL: 0x0001,
  FLL: 0x0008,
  INS: 0x0010,
  DEL: 0x0020,
  UNSYNC: 0x0040,
  PPSFREQ: 0x0002,
  PPSTIME: 0x0004,
  NANO: 0x2000,
} as const;

/**
 * An adjustClock request with the kernel-discipline fields of ntpd's kernel mode.
 *
 * - `kernelPll`: hand `offsetSec` to the kernel PLL (STA_PLL, STA_FLL when `fll`) with this time
 *   constant (ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_MAXERROR | ADJ_ESTERROR); `freqPpm`
 *   is then the discipline's view of the kernel frequency, not to be written.
 * - `leap`: the kernel leap bits to arm (0 none, 1 STA_INS, 2 STA_DEL), written with the status.
 *
 * Without these fields it is a plain AdjustClockAction (frequency, optional adjtime offset).
 * A `release` with `kernelPll` leaves the kernel's own frequency in place.
 */
export type DisciplineAdjustClockAction = AdjustClockAction;

/** The status word a discipline request writes to the kernel. */
export function kernelStatusWord(pll: boolean, fll: boolean, leap: number, pps = false): number {
  let s = KernelStatus.NANO;
  if (pll) s |= KernelStatus.PLL;
  if (pll && pps) s |= KernelStatus.PPSTIME | KernelStatus.PPSFREQ;
  if (pll && fll) s |= KernelStatus.FLL;
  if (leap === 1) s |= KernelStatus.INS;
  else if (leap === 2) s |= KernelStatus.DEL;
  return s;
}

/**
 * ntpd's `kern` event for writing kernel status word `status` when the last one written was
 * `previous` (null: none yet), or null when the word is unchanged.
 */
export function kernelStatusEvent(status: number, previous: number | null): EventAction | null {
  if (status === previous) return null;
  const hex = status.toString(16).padStart(4, "0");
  return systemEvent(
    SystemEvent.KERN,
    previous === null ? `kernel time sync status ${hex}` : `kernel time sync status change ${hex}`,
  );
}

/**
 * A model of the Linux kernel PLL/FLL (kernel/time/ntp.c, nanosecond mode): an offset update sets
 * the residual phase and moves the frequency by offset·secs / 2^(2·(SHIFT_PLL + 2 + tc)) (with
 * secs capped at 2^(SHIFT_PLL + 1 + tc)), plus offset / (secs · 2^SHIFT_FLL) in FLL mode; every
 * second the residual shrinks by residual / 2^(SHIFT_PLL + tc). The discipline mirrors the kernel
 * with it (for the drift file) and the simulator uses it as the kernel. Switching the PLL on
 * restarts the reference time, so the first offset moves no frequency.
 */
export class KernelPllModel {
  #residualSec = 0;
  #freq = 0;
  #constant = 0;
  #refSec: number | null = null;
  #pll = false;

  /** Current kernel frequency (s/s, positive: the clock runs faster). */
  get freq(): number {
    return this.#freq;
  }

  /** Phase the kernel still has to slew (s). */
  get residualSec(): number {
    return this.#residualSec;
  }

  /** Time constant in force. */
  get constant(): number {
    return this.#constant;
  }

  /** ADJ_FREQUENCY: sets the frequency (clamped to ±500 ppm). */
  setFrequency(freq: number): void {
    this.#freq = clamp(freq, -NTP_MAXFREQ, NTP_MAXFREQ);
  }

  /** ADJ_OFFSET with STA_PLL and ADJ_TIMECONST at whole second `nowSec`. */
  update(offsetSec: number, constant: number, fll: boolean, nowSec: number): void {
    const tc = clamp(Math.round(constant), 0, KERNEL_MAXTC);
    this.#constant = tc;
    const offset = clamp(offsetSec, -KERNEL_MAXPHASE_SEC, KERNEL_MAXPHASE_SEC);
    // Switching the PLL on restarts the kernel's reference time: no frequency change then.
    if (!this.#pll || this.#refSec === null) this.#refSec = nowSec;
    this.#pll = true;
    let secs = Math.max(0, nowSec - this.#refSec);
    this.#refSec = nowSec;
    let delta = 0;
    if (secs >= KERNEL_MINSEC && (fll || secs > KERNEL_MAXSEC)) {
      delta += offset / (secs * 2 ** KERNEL_SHIFT_FLL);
    }
    secs = Math.min(secs, 2 ** (KERNEL_SHIFT_PLL + 1 + tc));
    delta += offset * secs / 2 ** (2 * (KERNEL_SHIFT_PLL + 2 + tc));
    this.#freq = clamp(this.#freq + delta, -NTP_MAXFREQ, NTP_MAXFREQ);
    this.#residualSec = offset;
  }

  /** One second of the kernel: returns the phase slewed during it (s) and reduces the residual. */
  tick(): number {
    const chunk = this.#residualSec / 2 ** (KERNEL_SHIFT_PLL + this.#constant);
    this.#residualSec -= chunk;
    return chunk;
  }

  /** Residual left after `seconds` further ticks (closed form, for the discipline's mirror). */
  residualAfter(seconds: number): number {
    const k = 1 - 2 ** -(KERNEL_SHIFT_PLL + this.#constant);
    return this.#residualSec * k ** Math.max(0, Math.floor(seconds));
  }

  /** Applies `seconds` ticks at once (closed form). */
  advance(seconds: number): void {
    this.#residualSec = this.residualAfter(seconds);
  }
}

/** Discipline states (ntpd's names). */
export type NtpdState = DisciplineState;

/** Options of the classic discipline (tinker values in seconds and ppm). */
export interface NtpdDisciplineOptions {
  /** Step threshold (s), 0 never steps. Default 0.128. */
  stepSec?: number;
  /** Stepout (s): how long a spike must persist, and the FREQ measuring interval. Default 900. */
  stepoutSec?: number;
  /** Panic threshold (s), 0 disables. Default 1000. */
  panicSec?: number;
  /** Allan intercept (s): the FLL works at poll intervals at or above it. Default 1500. */
  allanSec?: number;
  /** Huff-n'-puff span (s), 0 off. */
  huffpuffSec?: number;
  /** Frequency from the drift file (ppm) or null: with one the discipline starts in FSET. */
  driftPpm?: number | null;
  /** Initial frequency (ppm, `tinker freq`) when there is no drift file. */
  freqPpm?: number | null;
  /** -g: the first offset may exceed the panic threshold. */
  allowBigFirstStep?: boolean;
  /** -x: step threshold 600 s. */
  slewOnly?: boolean;
  /**
   * -q: set the time once, then ask to exit: at once after a step; after a slew, once the
   * kernel has slewed it out. The clock is released first either way.
   */
  setOnce?: boolean;
  /** `disable ntp`: never steer. */
  ntpEnabled?: boolean;
  /** `enable kernel` (default): the kernel PLL slews; otherwise the daemon slews each second. */
  kernel?: boolean;
  /** Clock precision (s): floor of the clock jitter. Default 1 µs. */
  precisionSec?: number;
}

/** One update: the combined offset and what ntpd's local_clock also looks at. */
export interface NtpdUpdate {
  /** Combined offset (s): positive means the local clock is behind. */
  offsetSec: number;
  /** The system peer's delay (s), for huff-n'-puff. */
  delaySec?: number;
  /** The system peer's minpoll and maxpoll (bounds of the system poll). */
  minPollLog2?: number;
  maxPollLog2?: number;
  /** Maximum error for the kernel (root delay / 2 + root dispersion), s. */
  maxErrorSec?: number;
  /** The system peer is a PPS clock bound to the kernel's PPS discipline (kernel mode only). */
  kernelPps?: boolean;
}

/** What an update decided. */
export interface NtpdResult {
  actions: Action[];
  /** The step applied (s), or 0: slews are not mirrored into the clock filters, as in ntpd. */
  phaseSec: number;
  /** Always 0: the filters keep raw measurements. */
  freq: number;
  stepped: boolean;
  ignored: boolean;
}

/** ntpd 4.2.x's PLL/FLL discipline with its state machine. */
export class NtpdDiscipline implements Discipline {
  #o: Required<Omit<NtpdDisciplineOptions, "driftPpm" | "freqPpm">>;
  #state: NtpdState;
  #freq: number;
  #clockOffsetSec = 0;
  #lastOffsetSec = 0;
  #jitterSec: number;
  #wander = 0;
  #pollLog2 = NTP_MINDPOLL;
  #minPollLog2 = NTP_MINDPOLL;
  #maxPollLog2 = NTP_MAXDPOLL;
  #jiggle = 0;
  #epoch: NtpTime | null = null;
  #lastUpdate: NtpTime | null = null;
  #updates = 0;
  #done = false;
  // Daemon-side slewing (disable kernel).
  #tickAt: NtpTime | null = null;
  #lastTick: NtpTime | null = null;
  #phaseRate = 0;
  // -q: when the adjtime slew is surely over and the exit is due.
  #quitAt: NtpTime | null = null;
  // Kernel mode.
  #kernel = new KernelPllModel();
  #kernelAt: NtpTime | null = null;
  #kernelStatus: number | null = null;
  /** The kernel's PPS discipline is on (STA_PPSTIME | STA_PPSFREQ written). */
  #kernelPps = false;
  #leap = 0;
  #huff = new Map<number, number>();
  #maxErrorSec = 16;

  /** Creates the discipline: FSET at the drift file frequency, otherwise NSET. */
  constructor(opts: NtpdDisciplineOptions = {}) {
    this.#o = {
      stepSec: opts.stepSec ?? 0.128,
      stepoutSec: opts.stepoutSec ?? 900,
      panicSec: opts.panicSec ?? 1000,
      allanSec: opts.allanSec ?? 1500,
      huffpuffSec: opts.huffpuffSec ?? 0,
      allowBigFirstStep: opts.allowBigFirstStep ?? false,
      slewOnly: opts.slewOnly ?? false,
      setOnce: opts.setOnce ?? false,
      ntpEnabled: opts.ntpEnabled ?? true,
      kernel: opts.kernel ?? true,
      precisionSec: opts.precisionSec ?? 1e-6,
    };
    const hasDrift = opts.driftPpm !== undefined && opts.driftPpm !== null;
    const ppm = hasDrift ? opts.driftPpm! : opts.freqPpm ?? 0;
    this.#freq = clamp(ppm * 1e-6, -NTP_MAXFREQ, NTP_MAXFREQ);
    this.#kernel.setFrequency(this.#freq);
    this.#state = hasDrift ? "FSET" : "NSET";
    this.#jitterSec = this.#o.precisionSec;
  }

  /** Always "ntpd". */
  readonly kind: DisciplineKind = "ntpd";
  /**
   * The RFC 5905 filter register: ntpd's loop sees the clock filter's output, which takes every
   * sample whether the estimator accepted it or not.
   */
  readonly sampleSource: SampleSource = "register";
  /** Survivors weighted by 1 / root distance, as ntpd's clock_combine. */
  readonly weightsByVariance = false;
  /** As ntpd's clock_update: only a system peer's filter output not used before. */
  readonly freshOutputOnly = true;
  /**
   * The jiggle counter sets the loop's time constant ({@link pollLog2}: the kernel `constant`,
   * the daemon slew gain), while associations keep polling at their minpoll.
   *
   * COMPAT: ntpd polls its associations at sys_poll; with this filter register (minimum delay,
   * no aging of old samples) that starves the loop at long polls (simulated warm: 0.75 ms RMS
   * against 0.12 ms at minpoll; ntpd 4.2.6 0.25 ms).
   */
  readonly pollFromEstimator = false;

  /** Current state. */
  get state(): NtpdState {
    return this.#state;
  }

  /** Frequency correction (ppm): the kernel's in kernel mode, ntpd's drift_comp otherwise. */
  get freqPpm(): number {
    return (this.#o.kernel ? this.#kernel.freq : this.#freq) * 1e6;
  }

  /** System poll exponent (sys_poll) the jiggle counter has chosen. */
  get pollLog2(): number {
    return this.#pollLog2;
  }

  /** Clock jitter (s): the RMS of offset differences, averaged. */
  get jitterSec(): number {
    return this.#jitterSec;
  }

  /** Clock wander (ppm): the RMS of frequency changes, averaged. */
  get wanderPpm(): number {
    return this.#wander * 1e6;
  }

  /** The clock jitter for the control protocol and loopstats ({@link jitterSec}). */
  get clockJitterSec(): number {
    return this.#jitterSec;
  }

  /** The clock wander for the control protocol and loopstats ({@link wanderPpm}). */
  get clockWanderPpm(): number {
    return this.#wander * 1e6;
  }

  /** The last offset handed to the loop (s). */
  get lastOffsetSec(): number {
    return this.#lastOffsetSec;
  }

  /**
   * Always 0: the loop works on raw offsets, its residual phase is part of the loop, so samples
   * are not corrected for it.
   */
  pendingSlewSec(_now: NtpTime): number {
    return 0;
  }

  /** Phase still to be slewed (s), by the daemon or (mirrored) by the kernel. */
  residualOffsetSec(now: NtpTime): number {
    if (this.#o.kernel) {
      if (this.#kernelAt === null) return 0;
      return this.#kernel.residualAfter(diffSec(now, this.#kernelAt));
    }
    return this.#clockOffsetSec;
  }

  /** Updates so far (steps included). */
  get updates(): number {
    return this.#updates;
  }

  /** Time of the last update, or null. */
  get lastUpdate(): NtpTime | null {
    return this.#lastUpdate;
  }

  /** True in kernel mode. */
  get kernelMode(): boolean {
    return this.#o.kernel;
  }

  /** Effective step threshold (s). */
  get stepThresholdSec(): number {
    return this.#o.slewOnly ? SLEW_ONLY_STEP_SEC : this.#o.stepSec;
  }

  /** Next per-second slew (daemon mode), the -q exit, or null. */
  get deadline(): NtpTime | null {
    return this.#tickAt ?? this.#quitAt;
  }

  /** Start-up: the initial frequency and ntpd's freq_set / freq_not_set event. */
  start(now?: NtpTime): Action[] {
    if (now !== undefined) this.#epoch = now;
    if (!this.#o.ntpEnabled) return [];
    const mode = this.#o.kernel ? "kernel" : "ntpd";
    const ev = this.#state === "FSET"
      ? systemEvent(SystemEvent.FSET, `freq_set ${mode} ${(this.#freq * 1e6).toFixed(3)} PPM`)
      : systemEvent(SystemEvent.NSET, "freq_not_set");
    return [this.#adjustFreq(this.#freq), ev];
  }

  /**
   * Per-second phase slewing in daemon mode (ntpd's adj_host_clock); nothing in kernel mode.
   * Under -q, the exit once the kernel has finished the adjtime slew.
   */
  onTimer(now: NtpTime): Action[] {
    if (this.#quitAt !== null && now >= this.#quitAt) return this.#exit("set once", 0);
    if (this.#tickAt === null || now < this.#tickAt || this.#done) return [];
    if (this.#lastTick !== null) {
      const moved = this.#phaseRate * Math.max(0, diffSec(now, this.#lastTick));
      if (Math.abs(moved) >= Math.abs(this.#clockOffsetSec)) this.#clockOffsetSec = 0;
      else this.#clockOffsetSec -= moved;
    }
    return [this.#daemonSlew(now)];
  }

  /**
   * Lets go of the clock: what every exit must do first (the -q exit, panic, a signal, a fatal
   * error). Returns the `release` adjustment that leaves the kernel at the discipline's frequency
   * with the nominal tick and no slew in progress: the daemon loop's phase slew and any adjtime
   * slew end; once the kernel PLL runs, its residual phase is zeroed and the kernel keeps its own
   * frequency (the one the drift file records). From then on updates are ignored. Nothing under
   * `disable ntp`.
   */
  release(): Action[] {
    this.#done = true;
    this.#tickAt = null;
    this.#quitAt = null;
    this.#phaseRate = 0;
    this.#clockOffsetSec = 0;
    if (!this.#o.ntpEnabled) return [];
    if (this.#o.kernel && this.#kernelStatus !== null) {
      this.#kernelAt = null;
      // The kernel's PPS discipline must not outlive the process that turned it on.
      const off: Action[] = [];
      this.#setKernelPps(false, off);
      return [...off, {
        type: "adjustClock",
        freqPpm: this.#kernel.freq * 1e6,
        estErrorSec: this.#jitterSec,
        maxErrorSec: this.#maxErrorSec,
        kernelPll: { constant: this.#pollLog2, fll: this.#fllOn() },
        release: true,
      }];
    }
    return [{
      ...this.#adjustFreq(this.#o.kernel ? this.#kernel.freq : this.#freq),
      release: true,
    }];
  }

  /**
   * Arms (1 insert, 2 delete) or clears (0) the kernel leap bits; returns the status write and a
   * `kern` event when the status word changes.
   */
  setLeap(leap: number): Action[] {
    if (leap === this.#leap || !this.#o.ntpEnabled) {
      this.#leap = leap;
      return [];
    }
    this.#leap = leap;
    const actions: Action[] = [];
    if (this.#o.kernel && this.#kernelStatus !== null) {
      const a: DisciplineAdjustClockAction = {
        type: "adjustClock",
        freqPpm: this.#kernel.freq * 1e6,
        estErrorSec: this.#jitterSec,
        maxErrorSec: this.#maxErrorSec,
        kernelPll: { constant: this.#pollLog2, fll: this.#fllOn() },
        ...(this.#kernelPps ? { kernelPps: true } : {}),
        leap,
      };
      actions.push(a);
      this.#noteStatus(kernelStatusWord(true, this.#fllOn(), leap, this.#kernelPps), actions);
    } else {
      const freq = this.#o.kernel ? this.#kernel.freq : this.#freq + this.#phaseRate;
      const a: DisciplineAdjustClockAction = {
        ...this.#adjustFreq(freq),
        leap,
      };
      actions.push(a);
      this.#noteStatus(kernelStatusWord(false, false, leap), actions);
    }
    return actions;
  }

  /**
   * Processes one combined offset at local time `now` (ntpd's local_clock). With
   * `input.kernelPps` in kernel mode the kernel's PPS discipline is turned on (and off again
   * without it) before the offset is handled; the offset still goes to the kernel, where it only
   * matters for whole seconds and while the PPS signal is missing.
   */
  update(input: NtpdUpdate, now: NtpTime): NtpdResult {
    this.#wantPps = this.#o.kernel && input.kernelPps === true;
    const pps: Action[] = [];
    if (!this.#done && this.#o.ntpEnabled) this.#setKernelPps(this.#wantPps, pps);
    const r = this.#update(input, now);
    return pps.length === 0 ? r : { ...r, actions: [...pps, ...r.actions] };
  }

  #wantPps = false;

  #update(input: NtpdUpdate, now: NtpTime): NtpdResult {
    const ignored: NtpdResult = {
      actions: [],
      phaseSec: 0,
      freq: 0,
      stepped: false,
      ignored: true,
    };
    if (this.#done || !this.#o.ntpEnabled || !Number.isFinite(input.offsetSec)) return ignored;
    if (input.minPollLog2 !== undefined) this.#minPollLog2 = clampPoll(input.minPollLog2);
    if (input.maxPollLog2 !== undefined) {
      this.#maxPollLog2 = Math.max(this.#minPollLog2, clampPoll(input.maxPollLog2));
    }
    this.#pollLog2 = clamp(this.#pollLog2, this.#minPollLog2, this.#maxPollLog2);
    if (input.maxErrorSec !== undefined && Number.isFinite(input.maxErrorSec)) {
      this.#maxErrorSec = clamp(input.maxErrorSec, 0, 16);
    }
    const actions: Action[] = [];
    let offset = input.offsetSec;
    const first = this.#updates === 0;
    const panic = this.#o.panicSec;
    if (panic > 0 && Math.abs(offset) > panic && !(first && this.#o.allowBigFirstStep)) {
      actions.push(systemEvent(
        SystemEvent.SYSFAULT,
        `time correction of ${
          Math.round(offset)
        } seconds exceeds sanity limit (${panic}); set clock manually to the correct UTC time.`,
      ));
      actions.push(...this.#exit("panic", 1));
      return { ...ignored, actions };
    }
    if (this.#o.huffpuffSec > 0 && input.delaySec !== undefined) {
      offset = this.#huffPuff(offset, input.delaySec, now);
    }
    const since = this.#lastUpdate ?? this.#epoch;
    const mu = since === null ? 0 : Math.max(0, diffSec(now, since));
    const stepThr = this.stepThresholdSec;
    const big = stepThr > 0 && Math.abs(offset) > stepThr;
    if (this.#o.setOnce) return this.#setOnce(offset, big, now, actions);

    let freqDelta = 0;
    const residual = this.residualOffsetSec(now);
    if (big) {
      switch (this.#state) {
        case "SYNC":
          this.#state = "SPIK";
          actions.push(systemEvent(SystemEvent.SPIK, `spike_detect ${signed(offset)} s`));
          return { ...ignored, actions };
        case "FREQ":
          if (mu < this.#o.stepoutSec) return ignored;
          freqDelta = (offset - residual) / mu;
          break;
        case "SPIK":
          if (mu < this.#o.stepoutSec) return ignored;
          break;
        default:
          break;
      }
      return this.#step(offset, freqDelta, now, actions);
    }

    // An offset within the step threshold: update the clock jitter first.
    const diff = Math.max(Math.abs(offset - this.#lastOffsetSec), this.#o.precisionSec);
    this.#jitterSec = Math.sqrt(
      this.#jitterSec ** 2 + (diff * diff - this.#jitterSec ** 2) / CLOCK_AVG,
    );
    if (this.#state === "NSET") {
      // No frequency yet: slew this offset and measure the frequency over the next stepout.
      this.#state = "FREQ";
      actions.push(systemEvent(SystemEvent.FREQ, "freq_mode"));
      return this.#accept(offset, 0, false, now, actions, false);
    }
    let direct = false;
    if (this.#state === "FREQ") {
      if (mu < this.#o.stepoutSec) return ignored;
      // The offset grew from the residual left of the last one: that is the frequency error.
      freqDelta = (offset - residual) / mu;
      direct = true;
    }
    if (!this.#o.kernel) {
      // In kernel mode the kernel runs the same loop on the offsets it is handed.
      const tauSec = 2 ** this.#pollLog2;
      if (tauSec >= this.#o.allanSec) {
        freqDelta += CLOCK_FLL * (offset - residual) / Math.max(tauSec, mu);
      }
      const gain = 4 * CLOCK_PLL * tauSec;
      freqDelta += offset * Math.min(this.#o.allanSec, mu) / (gain * gain);
    }
    this.#state = "SYNC";
    return this.#accept(offset, freqDelta, direct, now, actions, true);
  }

  #accept(
    offset: number,
    freqDelta: number,
    direct: boolean,
    now: NtpTime,
    actions: Action[],
    adjustPoll: boolean,
  ): NtpdResult {
    const before = this.freqPpm * 1e-6;
    this.#freq = clamp(this.#freq + freqDelta, -NTP_MAXFREQ, NTP_MAXFREQ);
    this.#clockOffsetSec = offset;
    this.#lastOffsetSec = offset;
    this.#lastUpdate = now;
    this.#updates++;
    if (this.#o.kernel) {
      if (direct) {
        this.#kernel.setFrequency(this.#freq);
        actions.push(this.#adjustFreq(this.#freq));
      }
      // The first kernel write may already carry the PPS bits (a PPS peer from the start).
      if (this.#kernelStatus === null) this.#kernelPps = this.#wantPps;
      actions.push(this.#kernelUpdate(offset, now));
      this.#noteStatus(
        kernelStatusWord(true, this.#fllOn(), this.#leap, this.#kernelPps),
        actions,
      );
      // ntpd keeps drift_comp equal to the kernel's frequency in kernel mode.
      this.#freq = this.#kernel.freq;
    } else {
      actions.push(this.#daemonSlew(now));
    }
    const change = this.freqPpm * 1e-6 - before;
    this.#wander = Math.sqrt(this.#wander ** 2 + (change * change - this.#wander ** 2) / CLOCK_AVG);
    if (adjustPoll) this.#adjustPoll(offset);
    return { actions, phaseSec: 0, freq: 0, stepped: false, ignored: false };
  }

  #step(offset: number, freqDelta: number, now: NtpTime, actions: Action[]): NtpdResult {
    actions.push({ type: "stepClock", offsetSec: offset });
    actions.push(systemEvent(SystemEvent.CLOCKRESET, `time reset ${signed(offset)} s`));
    this.#freq = clamp(this.#freq + freqDelta, -NTP_MAXFREQ, NTP_MAXFREQ);
    this.#clockOffsetSec = 0;
    this.#lastOffsetSec = 0;
    this.#jiggle = 0;
    this.#pollLog2 = this.#minPollLog2;
    this.#jitterSec = this.#o.precisionSec;
    this.#lastUpdate = now;
    this.#updates++;
    if (this.#state === "NSET") {
      this.#state = "FREQ";
      actions.push(systemEvent(SystemEvent.FREQ, "freq_mode"));
    } else {
      this.#state = "SYNC";
    }
    this.#phaseRate = 0;
    actions.push(this.#adjustFreq(this.#freq));
    if (this.#o.kernel) {
      this.#kernel.setFrequency(this.#freq);
      // A running kernel PLL must drop whatever phase it was still slewing.
      if (this.#kernelStatus !== null) actions.push(this.#kernelUpdate(0, now));
    }
    if (!this.#o.kernel) this.#scheduleTick(now);
    return { actions, phaseSec: offset, freq: 0, stepped: true, ignored: false };
  }

  #setOnce(offset: number, big: boolean, now: NtpTime, actions: Action[]): NtpdResult {
    this.#done = true;
    this.#tickAt = null;
    this.#updates++;
    this.#lastUpdate = now;
    this.#lastOffsetSec = offset;
    if (big) {
      actions.push({ type: "stepClock", offsetSec: offset });
      actions.push(systemEvent(SystemEvent.CLOCKRESET, `time reset ${signed(offset)} s`));
      actions.push(...this.#exit("set once", 0));
    } else {
      // ntpd -q slews with adjtime(), as here, but exits at once, leaving the kernel slewing.
      // COMPAT: Horae waits until the kernel is done, so that it exits with no slew pending.
      actions.push({ ...this.#adjustFreq(this.#freq), offsetSec: offset });
      actions.push(
        systemEvent(SystemEvent.CLOCKRESET, `adjust time server offset ${signed(offset)} sec`),
      );
      this.#quitAt = addSec(now, Math.abs(offset) / ADJTIME_RATE + ADJTIME_SETTLE_SEC);
    }
    return { actions, phaseSec: big ? offset : 0, freq: 0, stepped: big, ignored: false };
  }

  /** Releases the clock and asks the driver to exit. */
  #exit(reason: string, exitCode: number): Action[] {
    return [...this.release(), { type: "reset", reason, exit: true, exitCode }];
  }

  /** The jiggle counter: quiet offsets lengthen the poll, noisy ones shorten it twice as fast. */
  #adjustPoll(offset: number): void {
    if (Math.abs(offset) < CLOCK_PGATE * this.#jitterSec) {
      this.#jiggle += this.#pollLog2;
      if (this.#jiggle > CLOCK_LIMIT) {
        this.#jiggle = CLOCK_LIMIT;
        if (this.#pollLog2 < this.#maxPollLog2) {
          this.#jiggle = 0;
          this.#pollLog2++;
        }
      }
    } else {
      this.#jiggle -= 2 * this.#pollLog2;
      if (this.#jiggle < -CLOCK_LIMIT) {
        this.#jiggle = -CLOCK_LIMIT;
        if (this.#pollLog2 > this.#minPollLog2) {
          this.#jiggle = 0;
          this.#pollLog2--;
        }
      }
    }
  }

  /**
   * Huff-n'-puff: with the minimum delay over the span known, the part of this delay above it
   * is assumed to lie on one path, the one that makes the offset larger, and half of it comes off
   * the offset's magnitude (never past zero).
   */
  #huffPuff(offset: number, delaySec: number, now: NtpTime): number {
    const slot = Math.floor(Number(now >> 32n) / HUFFPUFF_SLOT_SEC);
    const slots = Math.max(1, Math.ceil(this.#o.huffpuffSec / HUFFPUFF_SLOT_SEC));
    for (const k of this.#huff.keys()) if (k <= slot - slots || k > slot) this.#huff.delete(k);
    this.#huff.set(slot, Math.min(this.#huff.get(slot) ?? Infinity, delaySec));
    let minDelay = Infinity;
    for (const d of this.#huff.values()) if (d < minDelay) minDelay = d;
    const cut = Math.min(Math.abs(offset), Math.max(0, delaySec - minDelay) / 2);
    return offset - Math.sign(offset) * cut;
  }

  #fllOn(): boolean {
    return 2 ** this.#pollLog2 >= this.#o.allanSec;
  }

  #kernelUpdate(offset: number, now: NtpTime): DisciplineAdjustClockAction {
    const fll = this.#fllOn();
    this.#kernel.update(offset, this.#pollLog2, fll, wholeSec(now));
    this.#kernelAt = now;
    return {
      type: "adjustClock",
      freqPpm: this.#kernel.freq * 1e6,
      offsetSec: offset,
      estErrorSec: this.#jitterSec,
      maxErrorSec: this.#maxErrorSec,
      kernelPll: { constant: this.#pollLog2, fll },
      ...(this.#kernelPps ? { kernelPps: true } : {}),
      leap: this.#leap,
    };
  }

  /**
   * Turns the kernel's PPS discipline on or off (kernel mode, once the kernel PLL runs): the
   * status write without a new offset, and the `kern` event. Nothing when unchanged.
   */
  #setKernelPps(on: boolean, actions: Action[]): void {
    if (on === this.#kernelPps || !this.#o.kernel || this.#kernelStatus === null) return;
    this.#kernelPps = on;
    actions.push({
      type: "adjustClock",
      freqPpm: this.#kernel.freq * 1e6,
      estErrorSec: this.#jitterSec,
      maxErrorSec: this.#maxErrorSec,
      kernelPll: { constant: this.#pollLog2, fll: this.#fllOn() },
      ...(on ? { kernelPps: true } : {}),
      leap: this.#leap,
    });
    this.#noteStatus(kernelStatusWord(true, this.#fllOn(), this.#leap, on), actions);
  }

  /** The PPS peer is gone: the kernel's PPS discipline goes off (see Discipline). */
  kernelPpsLost(): Action[] {
    const actions: Action[] = [];
    if (!this.#done && this.#o.ntpEnabled) this.#setKernelPps(false, actions);
    return actions;
  }

  #daemonSlew(now: NtpTime): Action {
    const tauSec = Math.min(2 ** this.#pollLog2, this.#o.allanSec);
    const want = this.#clockOffsetSec / (CLOCK_PLL * tauSec);
    const total = clamp(this.#freq + want, -NTP_MAXFREQ, NTP_MAXFREQ);
    this.#phaseRate = total - this.#freq;
    this.#scheduleTick(now);
    return this.#adjustFreq(total);
  }

  #scheduleTick(now: NtpTime): void {
    this.#lastTick = now;
    this.#tickAt = addSec(now, 1);
  }

  #adjustFreq(freq: number): AdjustClockAction {
    return {
      type: "adjustClock",
      freqPpm: freq * 1e6,
      estErrorSec: this.#jitterSec,
      maxErrorSec: this.#maxErrorSec,
    };
  }

  #noteStatus(status: number, actions: Action[]): void {
    const ev = kernelStatusEvent(status, this.#kernelStatus);
    if (ev === null) return;
    this.#kernelStatus = status;
    actions.push(ev);
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function clampPoll(p: number): number {
  return clamp(Math.round(p), NTP_MINPOLL, NTP_MAXPOLL);
}

function wholeSec(t: NtpTime): number {
  return Number(t >> 32n);
}

function signed(x: number): string {
  return (x >= 0 ? "+" : "") + x.toFixed(6);
}
