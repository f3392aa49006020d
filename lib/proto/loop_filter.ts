// Clock discipline (ntpd 4.2.x semantics for step 0.128 s, stepout 900 s, panic 1000 s, -g, -x,
// -q, tinker): turns the combined offset/frequency estimate into step, slew and frequency actions.
//
// COMPAT: ntpd's PLL/FLL feeds each offset through a type-II loop whose time constant follows the
// poll interval. Horae's estimator (clock_filter.ts) already delivers the minimum-variance phase
// and frequency, so the default ("horae") discipline applies them directly: frequency set to the
// estimate, phase slewed out at up to MAX_SLEW_RATE. ntpd's state names (NSET, FSET, SPIK, FREQ,
// SYNC) are kept. `discipline: "ntpd"` runs ntpd's own loop instead (ntpd_discipline.ts).

import { addSec, diffSec, type NtpTime } from "./ntp_time.ts";
import { type Action, SystemEvent, systemEvent } from "./events.ts";
import {
  type DisciplineAdjustClockAction,
  kernelStatusEvent,
  kernelStatusWord,
  NtpdDiscipline,
  type NtpdState,
  SLEW_ONLY_STEP_SEC,
} from "./ntpd_discipline.ts";
import { TINKER_DEFAULTS } from "./options/tinker.ts";

export type { DisciplineAdjustClockAction } from "./ntpd_discipline.ts";

/** Which clock discipline runs: Horae's estimator-driven one, or ntpd 4.2.x's PLL/FLL. */
export type DisciplineKind = "horae" | "ntpd";

/** ntpd's discipline states (both disciplines use ntpd's names). */
export type DisciplineState = NtpdState;

/** `tinker` values (seconds, ppm). */
export interface Tinker {
  /** Step threshold (s), 0 disables steps. ntpd 0.128. */
  step: number;
  /** Stepout (s): how long an offset over the step threshold must persist. ntpd 900. */
  stepout: number;
  /** Panic threshold (s), 0 disables. ntpd 1000. */
  panic: number;
  /** Initial frequency (ppm) when there is no drift file. */
  freq: number | null;
  /** Dispersion increase rate (s/s). ntpd 15e-6. */
  dispersion: number;
  /** Allan intercept (s): where ntpd's FLL takes over; the horae estimator finds the wander itself. */
  allan: number;
  /** Huff-n'-puff window (s), 0 off: used by the ntpd discipline (the estimator models delay itself). */
  huffpuff: number;
}

/** ntpd 4.2.x defaults, from the option spec (dispersion there in ppm, here in s/s). */
export const DEFAULT_TINKER: Tinker = {
  step: TINKER_DEFAULTS.stepSec,
  stepout: TINKER_DEFAULTS.stepoutSec,
  panic: TINKER_DEFAULTS.panicSec,
  freq: TINKER_DEFAULTS.freqPpm,
  dispersion: TINKER_DEFAULTS.dispersionPpm / 1e6,
  allan: TINKER_DEFAULTS.allanSec,
  huffpuff: TINKER_DEFAULTS.huffpuffSec ?? 0,
};

/** Options from the command line and configuration. */
export interface LoopFilterOptions {
  tinker?: Partial<Tinker>;
  /** -g: allow the first adjustment to exceed the panic threshold. */
  allowBigFirstStep?: boolean;
  /** -x: slew offsets up to 600 s instead of stepping. */
  slewOnly?: boolean;
  /**
   * -q: set the time once, then ask to exit: at once after a step, after the slew has finished
   * otherwise, and always with the clock released (see {@link LoopFilter.release}).
   */
  setOnce?: boolean;
  /** `disable ntp`: measure but never steer the clock. */
  ntpEnabled?: boolean;
  /** Frequency from the drift file (ppm), or null when there is none. */
  driftPpm?: number | null;
  /** The discipline to run (default "horae"). */
  discipline?: DisciplineKind;
  /**
   * `enable kernel` (default true): the ntpd discipline hands offsets to the kernel PLL; with
   * false it slews the phase itself through frequency-only adjustments. The horae discipline
   * never uses the kernel PLL.
   */
  kernel?: boolean;
  /** Clock precision (s), the floor of the ntpd discipline's clock jitter. */
  precisionSec?: number;
}

/** The estimate handed to the discipline. */
export interface DisciplineInput {
  offsetSec: number;
  freq: number;
  offsetVar: number;
  freqVar: number;
  /** The system peer's round-trip delay (s): huff-n'-puff (ntpd discipline). */
  delaySec?: number;
  /** The system peer's poll bounds: limits of the system poll (ntpd discipline). */
  minPollLog2?: number;
  maxPollLog2?: number;
  /** Root delay / 2 + root dispersion (s): the kernel's maximum error (ntpd discipline). */
  maxErrorSec?: number;
}

/** What an update decided, for the system to mirror into every filter. */
export interface DisciplineResult {
  actions: Action[];
  /** Phase moved (s), already scheduled (slew) or applied (step). */
  phaseSec: number;
  /** Frequency change applied (dimensionless). */
  freq: number;
  /** True when the clock was stepped. */
  stepped: boolean;
  /** True when the sample was ignored (spike, panic, disabled). */
  ignored: boolean;
}

/** Fastest phase slew (s/s), realised by Linux with the tick length. */
export const MAX_SLEW_RATE = 0.05;
/** Shortest slew (s): small corrections are spread over this long. */
export const MIN_SLEW_SEC = 1;
/** Largest frequency correction outside slews (ppm), the kernel limit. */
export const MAX_FREQ_PPM = 500;
/** Frequency standard deviation (s/s) below which the estimate is applied. */
export const FREQ_APPLY_STD = 20e-6;
/** Slew-only limit for -x (s). */
export const SLEW_ONLY_LIMIT_SEC = SLEW_ONLY_STEP_SEC;

/** The discipline state machine and slew scheduler. */
export class LoopFilter {
  #tinker: Tinker;
  #opts: LoopFilterOptions;
  #state: DisciplineState;
  #basePpm: number;
  #slewRate = 0;
  #slewEnd: NtpTime | null = null;
  #spikeStart: NtpTime | null = null;
  #updates = 0;
  #lastOffsetSec = 0;
  #lastUpdate: NtpTime | null = null;
  #done = false;
  #ntpd: NtpdDiscipline | null = null;
  #leap = 0;
  #kernelStatus: number | null = null;
  #inForcePpm: number;

  /** Creates the discipline; with a drift file it starts in FSET at that frequency. */
  constructor(opts: LoopFilterOptions = {}) {
    this.#tinker = { ...DEFAULT_TINKER, ...opts.tinker };
    this.#opts = opts;
    const drift = opts.driftPpm ?? this.#tinker.freq;
    this.#basePpm = drift ?? 0;
    this.#inForcePpm = this.#basePpm;
    this.#state = opts.driftPpm !== undefined && opts.driftPpm !== null ? "FSET" : "NSET";
    if (opts.discipline === "ntpd") {
      const t = this.#tinker;
      this.#ntpd = new NtpdDiscipline({
        stepSec: t.step,
        stepoutSec: t.stepout,
        panicSec: t.panic,
        allanSec: t.allan,
        huffpuffSec: t.huffpuff,
        driftPpm: opts.driftPpm ?? null,
        freqPpm: t.freq,
        allowBigFirstStep: opts.allowBigFirstStep ?? false,
        slewOnly: opts.slewOnly ?? false,
        setOnce: opts.setOnce ?? false,
        ntpEnabled: opts.ntpEnabled ?? true,
        kernel: opts.kernel ?? true,
        ...(opts.precisionSec !== undefined ? { precisionSec: opts.precisionSec } : {}),
      });
    }
  }

  /** The discipline in use. */
  get discipline(): DisciplineKind {
    return this.#ntpd === null ? "horae" : "ntpd";
  }

  /** The ntpd discipline itself when it runs (for its jitter, wander and poll), else null. */
  get ntpd(): NtpdDiscipline | null {
    return this.#ntpd;
  }

  /** The system poll exponent the ntpd discipline chose, or null under the horae discipline. */
  get pollLog2(): number | null {
    return this.#ntpd?.pollLog2 ?? null;
  }

  /** Current state name. */
  get state(): DisciplineState {
    return this.#ntpd?.state ?? this.#state;
  }

  /** Frequency correction in force outside slews (ppm): what the drift file stores. */
  get freqPpm(): number {
    return this.#ntpd?.freqPpm ?? this.#basePpm;
  }

  /** Last offset handed to the clock (s). */
  get lastOffsetSec(): number {
    return this.#ntpd?.lastOffsetSec ?? this.#lastOffsetSec;
  }

  /** Clock updates so far. */
  get updates(): number {
    return this.#ntpd?.updates ?? this.#updates;
  }

  /** Time of the last clock update, or null. */
  get lastUpdate(): NtpTime | null {
    return this.#ntpd !== null ? this.#ntpd.lastUpdate : this.#lastUpdate;
  }

  /** Effective step threshold (s): tinker step, or 600 s under -x. */
  get stepThresholdSec(): number {
    if (this.#ntpd !== null) return this.#ntpd.stepThresholdSec;
    return this.#opts.slewOnly ? SLEW_ONLY_LIMIT_SEC : this.#tinker.step;
  }

  /** Actions that put the clock at the initial frequency (call once at start). */
  start(now?: NtpTime): Action[] {
    if (this.#ntpd !== null) return this.#ntpd.start(now);
    if (this.#opts.ntpEnabled === false) return [];
    return [this.#adjust(this.#basePpm)];
  }

  /**
   * Arms (1 insert, 2 delete) or clears (0) the kernel's leap bits. Returns the adjustClock that
   * writes them (a {@link DisciplineAdjustClockAction} carrying `leap`, with the kernel PLL
   * fields when the ntpd discipline runs the kernel) and a `kern` event when the status word
   * changes; nothing when the leap is unchanged or `disable ntp` is in force.
   */
  setLeap(leap: number): Action[] {
    if (this.#ntpd !== null) return this.#ntpd.setLeap(leap);
    if (leap === this.#leap || this.#opts.ntpEnabled === false) {
      this.#leap = leap;
      return [];
    }
    this.#leap = leap;
    const a: DisciplineAdjustClockAction = { ...this.#adjust(this.#inForcePpm), leap };
    const actions: Action[] = [a];
    const status = kernelStatusWord(false, false, leap);
    const ev = kernelStatusEvent(status, this.#kernelStatus);
    if (ev !== null) {
      this.#kernelStatus = status;
      actions.push(ev);
    }
    return actions;
  }

  /** Phase still to be slewed at `now` (s): samples taken now lack this much correction. */
  pendingSlewSec(now: NtpTime): number {
    // The ntpd discipline works on raw offsets: its residual is part of the loop.
    if (this.#ntpd !== null) return 0;
    if (this.#slewEnd === null || now >= this.#slewEnd) return 0;
    // The slewed clock itself measures the remaining time, so divide by its rate (1 + r).
    return this.#slewRate * diffSec(this.#slewEnd, now) / (1 + this.#slewRate);
  }

  /** When the running slew ends (the system's timer), or null. */
  get deadline(): NtpTime | null {
    if (this.#ntpd !== null) return this.#ntpd.deadline;
    return this.#slewEnd;
  }

  /**
   * Ends a finished slew: frequency back to the base value. Under -q the slew was the one
   * correction: the clock is released and the exit requested.
   */
  onTimer(now: NtpTime): Action[] {
    if (this.#ntpd !== null) return this.#ntpd.onTimer(now);
    if (this.#slewEnd !== null && now >= this.#slewEnd) {
      this.#slewEnd = null;
      this.#slewRate = 0;
      if (this.#done && this.#opts.setOnce) return this.#exit("set once", 0);
      return [this.#adjust(this.#basePpm)];
    }
    return [];
  }

  /**
   * Lets go of the clock: what every exit must do first (the -q exit, panic, a signal, a fatal
   * error). Returns the `release` adjustment that leaves the clock at the base frequency (the
   * drift), with the nominal tick and no slew in progress; a slew still running is abandoned
   * where it is. From then on the discipline ignores updates. Nothing under `disable ntp`,
   * which never steered the clock.
   */
  release(): Action[] {
    if (this.#ntpd !== null) return this.#ntpd.release();
    this.#done = true;
    this.#slewEnd = null;
    this.#slewRate = 0;
    if (this.#opts.ntpEnabled === false) return [];
    return [{ ...this.#adjust(this.#basePpm), release: true }];
  }

  /** Processes a combined estimate at local time `now`. */
  update(input: DisciplineInput, now: NtpTime): DisciplineResult {
    // The ntpd discipline reads the fields it shares with NtpdUpdate and ignores the rest.
    if (this.#ntpd !== null) return this.#ntpd.update(input, now);
    const none: DisciplineResult = {
      actions: [],
      phaseSec: 0,
      freq: 0,
      stepped: false,
      ignored: true,
    };
    if (this.#done || this.#opts.ntpEnabled === false) return none;
    const offset = input.offsetSec;
    const abs = Math.abs(offset);
    const actions: Action[] = [];
    const first = this.#updates === 0;
    const panic = this.#tinker.panic;
    if (panic > 0 && abs > panic && !(first && this.#opts.allowBigFirstStep)) {
      actions.push(systemEvent(
        SystemEvent.SYSFAULT,
        `${offset.toFixed(6)} s offset exceeds panic threshold ${panic} s; set clock manually`,
      ));
      actions.push(...this.#exit("panic", 1));
      return { ...none, actions };
    }
    const stepThr = this.stepThresholdSec;
    if (stepThr > 0 && abs > stepThr) {
      if (!first && !this.#opts.setOnce) {
        if (this.#spikeStart === null) {
          this.#spikeStart = now;
          this.#state = "SPIK";
          actions.push(systemEvent(SystemEvent.SPIK, `spike_detect ${fmtSigned(offset)} s`));
          return { ...none, actions };
        }
        if (diffSec(now, this.#spikeStart) < this.#tinker.stepout) return { ...none, actions };
      }
      return this.#step(offset, input, now, actions);
    }
    this.#spikeStart = null;
    if (this.#state === "SPIK") this.#state = "SYNC";
    // Frequency: apply the estimate once it is known well enough.
    let freq = 0;
    if (input.freqVar < FREQ_APPLY_STD * FREQ_APPLY_STD) {
      const target = Math.max(
        -MAX_FREQ_PPM,
        Math.min(MAX_FREQ_PPM, this.#basePpm + input.freq * 1e6),
      );
      freq = (target - this.#basePpm) * 1e-6;
      this.#basePpm = target;
      if (this.#state === "NSET" || this.#state === "FSET" || this.#state === "FREQ") {
        this.#state = "SYNC";
      }
    } else if (this.#state === "NSET") {
      this.#state = "FREQ";
      actions.push(systemEvent(SystemEvent.FREQ, "freq_mode"));
    }
    // Phase: slew the whole estimate, plus whatever an earlier slew had left.
    const remaining = this.pendingSlewSec(now);
    const total = offset + remaining;
    const durSec = Math.max(MIN_SLEW_SEC, Math.abs(total) / MAX_SLEW_RATE);
    this.#slewRate = total / durSec;
    // The end is read on the clock being slewed, which runs at (1 + rate) meanwhile.
    this.#slewEnd = addSec(now, durSec * (1 + this.#slewRate));
    actions.push(this.#adjust(this.#basePpm + this.#slewRate * 1e6, input));
    if (this.#opts.setOnce) {
      // The exit waits for the slew's end (onTimer): leaving now would leave the clock slewing.
      this.#done = true;
      actions.push(
        systemEvent(SystemEvent.CLOCKRESET, `adjust time server offset ${fmtSigned(offset)} sec`),
      );
    }
    this.#updates++;
    this.#lastOffsetSec = offset;
    this.#lastUpdate = now;
    return { actions, phaseSec: offset, freq, stepped: false, ignored: false };
  }

  #step(offset: number, input: DisciplineInput, now: NtpTime, actions: Action[]): DisciplineResult {
    // A step cancels any slew in progress: its remainder is folded into the step.
    const remaining = this.pendingSlewSec(now);
    const total = offset + remaining;
    this.#slewEnd = null;
    this.#slewRate = 0;
    actions.push({ type: "stepClock", offsetSec: total });
    actions.push(this.#adjust(this.#basePpm, input));
    actions.push(systemEvent(SystemEvent.CLOCKRESET, `time reset ${fmtSigned(total)} s`));
    this.#spikeStart = null;
    if (this.#state === "SPIK" || this.#state === "SYNC") this.#state = "SYNC";
    this.#updates++;
    this.#lastOffsetSec = offset;
    this.#lastUpdate = now;
    if (this.#opts.setOnce) actions.push(...this.#exit("set once", 0));
    return { actions, phaseSec: offset, freq: 0, stepped: true, ignored: false };
  }

  /** Releases the clock and asks the driver to exit. */
  #exit(reason: string, exitCode: number): Action[] {
    return [...this.release(), { type: "reset", reason, exit: true, exitCode }];
  }

  #adjust(freqPpm: number, input?: DisciplineInput): DisciplineAdjustClockAction {
    this.#inForcePpm = freqPpm;
    const est = input === undefined ? 0 : Math.sqrt(Math.max(0, input.offsetVar));
    return {
      type: "adjustClock",
      freqPpm,
      estErrorSec: est,
      maxErrorSec: input === undefined ? 16 : Math.abs(input.offsetSec) + 3 * est,
    };
  }
}

function fmtSigned(x: number): string {
  return (x >= 0 ? "+" : "") + x.toFixed(6);
}
