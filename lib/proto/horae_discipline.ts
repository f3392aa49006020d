// Horae's clock discipline (ntpd 4.2.x semantics for step 0.128 s, stepout 900 s, panic 1000 s,
// -g, -x, -q, tinker): applies the combined estimate of the survivors' estimators directly.
//
// COMPAT: ntpd's PLL/FLL feeds each offset through a type-II loop whose time constant follows the
// poll interval. Horae's estimator (clock_filter.ts) already delivers the minimum-variance phase
// and frequency, so this discipline applies them directly: frequency set to the estimate, phase
// slewed out at up to MAX_SLEW_RATE. ntpd's state names (NSET, FSET, SPIK, FREQ, SYNC) are kept.

import { addSec, diffSec, type NtpTime } from "./ntp_time.ts";
import { type Action, SystemEvent, systemEvent } from "./events.ts";
import {
  DEFAULT_TINKER,
  type Discipline,
  type DisciplineInput,
  type DisciplineKind,
  type DisciplineOptions,
  type DisciplineResult,
  type DisciplineState,
  type SampleSource,
  type Tinker,
} from "./discipline.ts";
import {
  type DisciplineAdjustClockAction,
  kernelStatusEvent,
  kernelStatusWord,
  SLEW_ONLY_STEP_SEC,
} from "./ntpd_discipline.ts";

/** Fastest phase slew (s/s), realised by Linux with the tick length. */
export const MAX_SLEW_RATE = 0.05;
/** Shortest slew (s): small corrections are spread over this long. */
export const MIN_SLEW_SEC = 1;
/** Largest frequency correction outside slews (ppm), the kernel limit. */
export const MAX_FREQ_PPM = 500;
/** Frequency standard deviation (s/s) below which the estimate is applied. */
export const FREQ_APPLY_STD = 20e-6;
/**
 * A step waits until the estimate's standard deviation is at most this fraction of the step
 * threshold (COMPAT: ntpd waits for its clock filter, whose dispersion keeps a new source
 * unselectable for about four samples): on a path with 0.1 s of jitter one sample is no ground
 * for stepping, on an ordinary path it is.
 */
export const STEP_MAX_STD_FRACTION = 0.25;
/**
 * From the STEP_WAIT_UPDATES-th estimate that asks for a step on, the step also goes ahead when
 * the estimate's standard deviation is at most this fraction of the offset: the step is then
 * surely needed and leaves far less error than it removes. Without it, an honest estimate of a
 * very noisy path (σ 60 ms after a few samples of 0.1 s jitter) would keep a 1 s offset for
 * minutes, waiting for σ to reach STEP_MAX_STD_FRACTION of the step threshold (32 ms).
 */
export const STEP_MAX_STD_OF_OFFSET = 1 / 8;
/** Estimates asking for a step before STEP_MAX_STD_OF_OFFSET applies (COMPAT: about what ntpd's
 * clock filter needs before a new source is selectable). */
export const STEP_WAIT_UPDATES = 4;
/** Slew-only limit for -x (s). */
export const SLEW_ONLY_LIMIT_SEC = SLEW_ONLY_STEP_SEC;

/** Horae's discipline: the estimator's phase and frequency applied directly, with ntpd's states. */
export class HoraeDiscipline implements Discipline {
  #tinker: Tinker;
  #opts: DisciplineOptions;
  #state: DisciplineState;
  #basePpm: number;
  #slewRate = 0;
  #slewEnd: NtpTime | null = null;
  #spikeStart: NtpTime | null = null;
  #updates = 0;
  #lastOffsetSec = 0;
  #lastUpdate: NtpTime | null = null;
  #done = false;
  #leap = 0;
  #kernelStatus: number | null = null;
  #inForcePpm: number;
  /** Estimates that asked for a step since the last step or in-threshold update. */
  #stepWaits = 0;

  /** Creates the discipline; with a drift file it starts in FSET at that frequency. */
  constructor(opts: DisciplineOptions = {}) {
    this.#tinker = { ...DEFAULT_TINKER, ...opts.tinker };
    this.#opts = opts;
    const drift = opts.driftPpm ?? this.#tinker.freq;
    this.#basePpm = drift ?? 0;
    this.#inForcePpm = this.#basePpm;
    this.#state = opts.driftPpm !== undefined && opts.driftPpm !== null ? "FSET" : "NSET";
  }

  /** Always "horae". */
  readonly kind: DisciplineKind = "horae";
  /** The estimator's offsets and frequencies. */
  readonly sampleSource: SampleSource = "estimator";
  /** Survivors weighted by their estimator's variance. */
  readonly weightsByVariance = true;
  /** Any combination updates the clock: the estimator's output is new with every sample. */
  readonly freshOutputOnly = false;
  /** Each association's poll follows its estimator. */
  readonly pollFromEstimator = true;

  /** Null: there is no loop time constant (the system uses its peer's poll). */
  get pollLog2(): number | null {
    return null;
  }

  /** Null: the system's own jitter serves. */
  get clockJitterSec(): number | null {
    return null;
  }

  /** Null: the system derives the wander from the combined frequency estimate. */
  get clockWanderPpm(): number | null {
    return null;
  }

  /** Current state name. */
  get state(): DisciplineState {
    return this.#state;
  }

  /** Frequency correction in force outside slews (ppm): what the drift file stores. */
  get freqPpm(): number {
    return this.#basePpm;
  }

  /** Last offset handed to the clock (s). */
  get lastOffsetSec(): number {
    return this.#lastOffsetSec;
  }

  /** Clock updates so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Time of the last clock update, or null. */
  get lastUpdate(): NtpTime | null {
    return this.#lastUpdate;
  }

  /** Effective step threshold (s): tinker step, or 600 s under -x. */
  get stepThresholdSec(): number {
    return this.#opts.slewOnly ? SLEW_ONLY_LIMIT_SEC : this.#tinker.step;
  }

  /** Actions that put the clock at the initial frequency (call once at start). */
  start(_now?: NtpTime): Action[] {
    if (this.#opts.ntpEnabled === false) return [];
    return [this.#adjust(this.#basePpm)];
  }

  /**
   * Arms (1 insert, 2 delete) or clears (0) the kernel's leap bits. Returns the adjustClock that
   * writes them (a {@link DisciplineAdjustClockAction} carrying `leap`, never the kernel PLL
   * fields) and a `kern` event when the status word changes; nothing when the leap is unchanged
   * or `disable ntp` is in force.
   */
  setLeap(leap: number): Action[] {
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
    if (this.#slewEnd === null || now >= this.#slewEnd) return 0;
    // The slewed clock itself measures the remaining time, so divide by its rate (1 + r).
    return this.#slewRate * diffSec(this.#slewEnd, now) / (1 + this.#slewRate);
  }

  /** When the running slew ends (the system's timer), or null. */
  get deadline(): NtpTime | null {
    return this.#slewEnd;
  }

  /**
   * Ends a finished slew: frequency back to the base value. Under -q the slew was the one
   * correction: the clock is released and the exit requested.
   */
  onTimer(now: NtpTime): Action[] {
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
    this.#done = true;
    this.#slewEnd = null;
    this.#slewRate = 0;
    if (this.#opts.ntpEnabled === false) return [];
    return [{ ...this.#adjust(this.#basePpm), release: true }];
  }

  /** Processes a combined estimate at local time `now`. */
  update(input: DisciplineInput, now: NtpTime): DisciplineResult {
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
          return this.#frequencyOnly(input, now, actions, none);
        }
        if (diffSec(now, this.#spikeStart) < this.#tinker.stepout) {
          return this.#frequencyOnly(input, now, actions, none);
        }
      }
      this.#stepWaits++;
      // Capped at half the step threshold: a step known only to a larger sigma could leave an
      // error above the threshold and call for a second step, backwards perhaps.
      const maxStd = this.#stepWaits >= STEP_WAIT_UPDATES
        ? Math.max(
          STEP_MAX_STD_FRACTION * stepThr,
          Math.min(STEP_MAX_STD_OF_OFFSET * abs, stepThr / 2),
        )
        : STEP_MAX_STD_FRACTION * stepThr;
      // Written so that a NaN variance waits rather than steps.
      if (!this.#opts.setOnce && !(input.offsetVar <= maxStd * maxStd)) {
        // Too uncertain to step on yet (the first samples of a very noisy path).
        return this.#frequencyOnly(input, now, actions, none);
      }
      return this.#step(offset, input, now, actions);
    }
    this.#spikeStart = null;
    this.#stepWaits = 0;
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

  /**
   * While a spike waits out the stepout (or a step waits for a better estimate), the phase is
   * left alone but the frequency estimate, which the offset's jump does not touch, is applied:
   * otherwise the clock free-runs at its raw frequency error all that time.
   */
  #frequencyOnly(
    input: DisciplineInput,
    now: NtpTime,
    actions: Action[],
    none: DisciplineResult,
  ): DisciplineResult {
    if (!(input.freqVar < FREQ_APPLY_STD * FREQ_APPLY_STD)) return { ...none, actions };
    const target = Math.max(
      -MAX_FREQ_PPM,
      Math.min(MAX_FREQ_PPM, this.#basePpm + input.freq * 1e6),
    );
    const freq = (target - this.#basePpm) * 1e-6;
    if (Math.abs(freq) < 1e-9) return { ...none, actions };
    this.#basePpm = target;
    // A slew still in progress keeps its rate on top of the new base.
    const slewing = this.#slewEnd !== null && now < this.#slewEnd;
    actions.push(this.#adjust(this.#basePpm + (slewing ? this.#slewRate * 1e6 : 0), input));
    return { actions, phaseSec: 0, freq, stepped: false, ignored: false };
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
    this.#stepWaits = 0;
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
