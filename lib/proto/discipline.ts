// The clock discipline's contract with the system process (RFC 5905 §11.3, ntpd 4.2.x
// local_clock): what system.ts asks of a discipline, and the options both disciplines share.
//
// Two disciplines implement it: Horae's estimator-driven one (horae_discipline.ts) and ntpd
// 4.2.x's PLL/FLL (ntpd_discipline.ts). Where they want different inputs from the system (which
// sample source, how survivors are combined), the discipline says so through a property, so the
// system never asks which one it runs. `createDiscipline()` (loop_filter.ts) picks one.

import type { Action } from "./events.ts";
import type { NtpTime } from "./ntp_time.ts";
import { TINKER_DEFAULTS } from "./options/tinker.ts";

/** Which clock discipline runs: Horae's estimator-driven one, or ntpd 4.2.x's PLL/FLL. */
export type DisciplineKind = "horae" | "ntpd";

/** ntpd's discipline states (both disciplines use ntpd's names). */
export type DisciplineState = "NSET" | "FSET" | "SPIK" | "FREQ" | "SYNC";

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

/** Options from the command line and configuration (the system's `loop` options). */
export interface DisciplineOptions {
  tinker?: Partial<Tinker>;
  /** -g: allow the first adjustment to exceed the panic threshold. */
  allowBigFirstStep?: boolean;
  /** -x: slew offsets up to 600 s instead of stepping. */
  slewOnly?: boolean;
  /**
   * -q: set the time once, then ask to exit: at once after a step, after the slew has finished
   * otherwise, and always with the clock released (see {@link Discipline.release}).
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
  /**
   * The system peer is a PPS clock whose device is bound to the kernel's PPS discipline (fudge
   * flag3 with `enable pps`): a discipline in kernel mode hands phase and frequency to it
   * (STA_PPSTIME | STA_PPSFREQ) and keeps passing offsets, which then only number the seconds.
   */
  kernelPps?: boolean;
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

/**
 * Where the offsets the system combines for a clock update come from:
 *
 * - `"estimator"`: each association's estimator (clock_filter.ts), with its frequency. Only a
 *   sample the estimator accepted leads to a clock selection.
 * - `"register"`: the RFC 5905 clock filter register's output (frequency 0). The register takes
 *   every sample, so clock selection runs after each one, even one the estimator rejected.
 */
export type SampleSource = "estimator" | "register";

/**
 * A clock discipline: turns the combined offset (and frequency) estimate of the system's
 * survivors into step, slew and frequency actions, with ntpd's state machine, step, stepout and
 * panic thresholds, -g, -x, -q and `disable ntp`.
 *
 * The system process drives it: {@link start} once, {@link update} after each clock selection,
 * {@link onTimer} at {@link deadline}, {@link setLeap} when the leap second state changes, and
 * {@link release} before any exit. The read-only properties below say which inputs the
 * discipline wants, so that the system needs no knowledge of which discipline runs.
 */
export interface Discipline {
  /** Which discipline this is: for status and snapshot text only, never for branching. */
  readonly kind: DisciplineKind;

  /** Current state (ntpd's names). */
  readonly state: DisciplineState;
  /** Frequency correction in force outside slews (ppm): what the drift file stores. */
  readonly freqPpm: number;
  /** Last offset handed to the clock (s). */
  readonly lastOffsetSec: number;
  /** Clock updates so far (steps included). */
  readonly updates: number;
  /** Time of the last clock update, or null. */
  readonly lastUpdate: NtpTime | null;
  /** Effective step threshold (s): tinker step, or 600 s under -x. */
  readonly stepThresholdSec: number;
  /** When {@link onTimer} is next due (slew end, per-second slew, -q exit), or null. */
  readonly deadline: NtpTime | null;
  /**
   * The system poll exponent the discipline chose (ntpd's time constant, set by its jiggle
   * counter), or null when it keeps none and the system derives one from its associations.
   */
  readonly pollLog2: number | null;
  /**
   * Clock jitter (s) the discipline keeps for the control protocol and loopstats, or null when
   * it keeps none (the caller then uses its own figure).
   */
  readonly clockJitterSec: number | null;
  /** Clock wander (ppm) the discipline keeps, or null when it keeps none (as clockJitterSec). */
  readonly clockWanderPpm: number | null;

  /** Where the offsets combined for an update come from (see {@link SampleSource}). */
  readonly sampleSource: SampleSource;
  /**
   * True: survivors are combined weighted by the inverse of their estimator's offset variance
   * and the combined variance is handed to {@link update}. False: weighted by 1 / root distance
   * (RFC 5905 §11.2.3) and the offset variance is passed as 0.
   */
  readonly weightsByVariance: boolean;
  /**
   * True: the clock is updated only with a system peer's filter output not used for an update
   * before (ntpd's clock_update); a combination without one is dropped.
   */
  readonly freshOutputOnly: boolean;
  /**
   * True: after each accepted sample, the association's poll follows its estimator
   * (Association.updatePoll). False: the discipline's own time constant ({@link pollLog2},
   * ntpd's jiggle counter) is the poll hook, and associations keep polling at their minpoll.
   */
  readonly pollFromEstimator: boolean;

  /** Actions that put the clock at the initial frequency (call once at start). */
  start(now?: NtpTime): Action[];
  /**
   * Arms (1 insert, 2 delete) or clears (0) the kernel's leap bits. Returns the adjustClock that
   * writes them and a `kern` event when the status word changes; nothing when the leap is
   * unchanged or `disable ntp` is in force.
   */
  setLeap(leap: number): Action[];
  /**
   * Phase still to be slewed at `now` (s) that samples taken now lack: the system subtracts it
   * from new samples. 0 for a discipline that works on raw offsets.
   */
  pendingSlewSec(now: NtpTime): number;
  /** Runs what is due at `now` (slew ends, per-second slews, the -q exit). */
  onTimer(now: NtpTime): Action[];
  /**
   * Lets go of the clock: what every exit must do first (the -q exit, panic, a signal, a fatal
   * error). Returns the `release` adjustment that leaves the clock at the discipline's frequency
   * with no slew in progress; from then on updates are ignored. Nothing under `disable ntp`.
   */
  release(): Action[];
  /** Processes a combined estimate at local time `now`. */
  update(input: DisciplineInput, now: NtpTime): DisciplineResult;
  /**
   * Switches the kernel's PPS discipline off when the system loses its PPS peer between
   * updates; returns the status write (and `kern` event) when it was on. Absent for a discipline
   * that never hands the clock to the kernel (the horae discipline).
   */
  kernelPpsLost?(): Action[];
}
