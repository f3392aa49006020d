// The Linux system clock adapter: reads with clock_gettime, steers with ntp_adjtime (the kernel
// PLL/FLL of the ntpd 4.2.x kernel model, RFC 5905 §7.3, frequency-only mode, tick-length slews
// beyond ±500 ppm and adjtime()-style ADJ_OFFSET_SINGLESHOT slews) and steps with clock_settime.

import { realtimeNs } from "../../ffi/libc.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_MICRO,
  ADJ_NANO,
  ADJ_OFFSET,
  ADJ_OFFSET_SINGLESHOT,
  ADJ_STATUS,
  ADJ_TICK,
  ADJ_TIMECONST,
  type AdjtimeResult,
  emptyTimex,
  isNano,
  MAXERROR_LIMIT_US,
  MAXFREQ_PPM,
  MAXPHASE_SEC,
  MAXTC,
  ntpAdjtime,
  ppmToScaledPpm,
  scaledPpmToPpm,
  setRealtime,
  STA_DEL,
  STA_FLL,
  STA_INS,
  STA_NANO,
  STA_PLL,
  STA_PPSFREQ,
  STA_PPSTIME,
  STA_UNSYNC,
  type Timex,
  timexOffsetSec,
  timexPrecisionSec,
} from "../../ffi/timex.ts";
import { fromUnixNs, type NtpTime } from "../proto/ntp_time.ts";
import type { AdjustClockAction } from "../proto/events.ts";
import type { DisciplineAdjustClockAction } from "../proto/ntpd_discipline.ts";
import type { Clock, ClockAdjustment, KernelClockState } from "./clock.ts";
import { measurePrecision } from "./clock_precision.ts";

/** How {@link buildAdjustmentTimex} encodes units and which extra status bits it keeps. */
export interface AdjustmentOptions {
  /** Nanosecond units (ADJ_NANO, STA_NANO); false selects microseconds (ADJ_MICRO). Default true. */
  nano?: boolean;
  /** Keep the kernel PPS discipline on (STA_PPSTIME | STA_PPSFREQ) whenever status is written. */
  pps?: boolean;
  /** The kernel's nominal tick (µs per 1/USER_HZ s). Default 10000 (USER_HZ 100). */
  baseTickUs?: number;
  /**
   * Write the nominal tick back (ADJ_TICK) with anything the request writes, even when the
   * frequency fits ADJ_FREQUENCY alone.
   */
  restoreTick?: boolean;
}

/** Nominal `tick` of Linux (µs per 1/USER_HZ second, USER_HZ = 100). */
export const NOMINAL_TICK_US = 10_000;
/**
 * Largest adjtime-style slew handed to the kernel (s). Well beyond anything the disciplines slew
 * (600 s under -x); at the kernel's 500 µs per second it already takes 23 days.
 */
export const MAX_ADJTIME_SEC = 1000;
/** The kernel accepts a tick within ±10 % of nominal. */
export const TICK_RANGE = 0.1;

/**
 * Splits a frequency correction into a tick length and the remaining ADJ_FREQUENCY (pure).
 * Within ±500 ppm the tick stays nominal. Beyond, every µs of tick is 10^6 / baseTickUs ppm
 * (100 ppm at the nominal 10000 µs): tick = base + round(ppm / that), clamped to ±10 %, and the
 * rest (at most half a tick step, ±50 ppm) goes through ADJ_FREQUENCY.
 */
export function splitTickFrequency(
  freqPpm: number,
  baseTickUs = NOMINAL_TICK_US,
): { tickUs: number; freqPpm: number } {
  finite("freqPpm", freqPpm);
  if (Math.abs(freqPpm) <= MAXFREQ_PPM) return { tickUs: baseTickUs, freqPpm };
  const ppmPerUs = 1e6 / baseTickUs;
  const span = Math.round(baseTickUs * TICK_RANGE);
  const steps = clamp(Math.round(freqPpm / ppmPerUs), -span, span);
  const rest = clamp(freqPpm - steps * ppmPerUs, -MAXFREQ_PPM, MAXFREQ_PPM);
  return { tickUs: baseTickUs + steps, freqPpm: rest };
}

/**
 * The Clock request for an adjustClock action (pure). A kernel-PLL request
 * ({@link DisciplineAdjustClockAction} with `kernelPll`, the ntpd discipline's kernel mode) hands
 * the offset and time constant to the kernel and leaves the frequency to it; any other request
 * sets the frequency (frequency-only mode, with `offsetSec` as an adjtime-style slew). A `leap`
 * arms or clears the kernel leap bits. A `release` becomes a release request: at `freqPpm`, or
 * at the kernel's own frequency when the action names the kernel PLL.
 */
export function clockAdjustmentFromAction(a: AdjustClockAction): ClockAdjustment {
  const d = a as DisciplineAdjustClockAction;
  const out: ClockAdjustment = { estErrorSec: a.estErrorSec, maxErrorSec: a.maxErrorSec };
  if (a.release === true) {
    out.release = true;
    if (d.kernelPll === undefined) out.freqPpm = a.freqPpm;
    return out;
  }
  if (d.kernelPll !== undefined) {
    out.kernelPll = { ...d.kernelPll };
    if (d.kernelPps === true) out.kernelPps = true;
  } else out.freqPpm = a.freqPpm;
  if (a.offsetSec !== undefined) out.offsetSec = a.offsetSec;
  if (d.leap !== undefined) out.leap = d.leap;
  return out;
}

/**
 * Builds the main `struct timex` for a discipline request (pure; no system call). An
 * adjtime-style `offsetSec` (one without `kernelPll`) is not in it: Linux ignores ADJ_OFFSET
 * unless STA_PLL is on, so that slew needs its own ADJ_OFFSET_SINGLESHOT call
 * ({@link buildSlewTimex}); {@link adjustmentCalls} lists every call a request needs.
 *
 * - `offsetSec` with `kernelPll` → ADJ_OFFSET, clamped to ±MAXPHASE (0.5 s) as the kernel would.
 * - `kernelPll` → ADJ_STATUS | ADJ_TIMECONST with STA_PLL (and STA_FLL), constant clamped to 0..10
 *   and passed as is (in microsecond mode Linux adds 4 to it; ntpd's kernel mode uses nanoseconds).
 *   ADJ_STATUS is processed before ADJ_OFFSET, so the PLL is on when the offset arrives.
 * - `freqPpm` → ADJ_FREQUENCY (alone: the frequency-only mode). Beyond ±500 ppm (the horae
 *   discipline's fast slews) the excess goes to the tick length: ADJ_TICK | ADJ_FREQUENCY as
 *   {@link splitTickFrequency} divides it; `restoreTick` writes the nominal tick back along with
 *   anything else the request writes.
 * - `maxErrorSec` / `estErrorSec` → ADJ_MAXERROR / ADJ_ESTERROR in µs, clamped to 0..16 s.
 * - `leap` → STA_INS (1), STA_DEL (2) or STA_UNSYNC (3) with ADJ_STATUS.
 * - `kernelPps` with `kernelPll` → STA_PPSTIME | STA_PPSFREQ in that status (the kernel's PPS
 *   discipline; the kernel sets STA_PPSSIGNAL itself once a bound PPS device delivers pulses).
 * - `release` → ADJ_TICK with the nominal tick, ADJ_OFFSET 0 (zeroes the kernel PLL's residual
 *   when STA_PLL is on, ignored otherwise) and `freqPpm` (clamped to ±500 ppm) if given; the
 *   status is not written, so the PLL and leap bits stay as they are. The adjtime-style slew is
 *   cancelled by a second call.
 *
 * ADJ_STATUS replaces every writable status bit, so status is written only when the request
 * carries `kernelPll` or `leap`, and then describes the whole state: no `kernelPll` there means
 * the kernel PLL is switched off. Units are fixed explicitly (ADJ_NANO or ADJ_MICRO) whenever
 * anything is written. An empty request gives modes 0 (a read). Non-finite numbers, a leap
 * outside 0..3 or a release carrying an offset, the PLL or a leap throw a RangeError: they are
 * programming errors, not input.
 */
export function buildAdjustmentTimex(adj: ClockAdjustment, opts: AdjustmentOptions = {}): Timex {
  const nano = opts.nano ?? true;
  const unitsPerSec = nano ? 1e9 : 1e6;
  const t = emptyTimex();
  let modes = 0;
  let status = 0;
  let writeStatus = false;

  if (adj.release === true) {
    if (adj.offsetSec !== undefined || adj.kernelPll !== undefined || adj.leap !== undefined) {
      throw new RangeError("a release carries only freqPpm, estErrorSec and maxErrorSec");
    }
    modes |= ADJ_OFFSET;
    t.offset = 0;
  } else if (adj.offsetSec !== undefined && adj.kernelPll !== undefined) {
    const offsetSec = clamp(finite("offsetSec", adj.offsetSec), -MAXPHASE_SEC, MAXPHASE_SEC);
    modes |= ADJ_OFFSET;
    t.offset = Math.round(offsetSec * unitsPerSec);
  }
  if (adj.kernelPll !== undefined) {
    const constant = finite("kernelPll.constant", adj.kernelPll.constant);
    modes |= ADJ_TIMECONST;
    t.constant = clamp(Math.round(constant), 0, MAXTC);
    writeStatus = true;
    status |= STA_PLL;
    if (adj.kernelPll.fll === true) status |= STA_FLL;
  }
  const baseTickUs = opts.baseTickUs ?? NOMINAL_TICK_US;
  if (adj.freqPpm !== undefined) {
    // A release is never a slew: its frequency stays within ADJ_FREQUENCY, at the nominal tick.
    const ppm = finite("freqPpm", adj.freqPpm);
    const want = adj.release === true ? clamp(ppm, -MAXFREQ_PPM, MAXFREQ_PPM) : ppm;
    const split = splitTickFrequency(want, baseTickUs);
    modes |= ADJ_FREQUENCY;
    t.freq = ppmToScaledPpm(split.freqPpm);
    if (split.tickUs !== baseTickUs) {
      modes |= ADJ_TICK;
      t.tick = split.tickUs;
    }
  }
  if (adj.maxErrorSec !== undefined) {
    modes |= ADJ_MAXERROR;
    t.maxerror = errorUs("maxErrorSec", adj.maxErrorSec);
  }
  if (adj.estErrorSec !== undefined) {
    modes |= ADJ_ESTERROR;
    t.esterror = errorUs("estErrorSec", adj.estErrorSec);
  }
  if (adj.leap !== undefined) {
    writeStatus = true;
    switch (adj.leap) {
      case 0:
        break;
      case 1:
        status |= STA_INS;
        break;
      case 2:
        status |= STA_DEL;
        break;
      case 3:
        status |= STA_UNSYNC;
        break;
      default:
        throw new RangeError(`leap must be 0..3, got ${adj.leap}`);
    }
  }
  if (writeStatus) {
    modes |= ADJ_STATUS;
    // The PPS bits are only meaningful next to the kernel PLL (ntpd's kernel mode).
    if (opts.pps === true || (adj.kernelPps === true && adj.kernelPll !== undefined)) {
      status |= STA_PPSTIME | STA_PPSFREQ;
    }
  }
  // The nominal tick goes back with a release, or along with anything else written.
  const tickBack = adj.release === true || (opts.restoreTick === true && modes !== 0);
  if (tickBack && (modes & ADJ_TICK) === 0) {
    modes |= ADJ_TICK;
    t.tick = baseTickUs;
  }
  if (modes !== 0) {
    modes |= nano ? ADJ_NANO : ADJ_MICRO;
    // STA_NANO is read-only for ADJ_STATUS; it is set so the struct reads consistently.
    if (nano) status |= STA_NANO;
  }
  t.modes = modes;
  t.status = status;
  return t;
}

/**
 * The `struct timex` of an adjtime()-style slew (pure): modes ADJ_OFFSET_SINGLESHOT (0x8001) and
 * `offset` in microseconds whatever the kernel's units, clamped to ±{@link MAX_ADJTIME_SEC}.
 * Linux slews it out at 500 µs per second whether or not its PLL is on, replaces any such slew
 * still in progress with it (0 cancels one) and returns the one it replaced in `offset`. The
 * kernel handles nothing else in this call, so it travels alone.
 */
export function buildSlewTimex(offsetSec: number): Timex {
  const sec = clamp(finite("offsetSec", offsetSec), -MAX_ADJTIME_SEC, MAX_ADJTIME_SEC);
  const t = emptyTimex();
  t.modes = ADJ_OFFSET_SINGLESHOT;
  t.offset = Math.round(sec * 1e6);
  return t;
}

/**
 * Every ntp_adjtime call a request needs, in order (pure): the main timex
 * ({@link buildAdjustmentTimex}) when it writes anything, then the ADJ_OFFSET_SINGLESHOT slew of
 * an adjtime-style `offsetSec` ({@link buildSlewTimex}), or of 0 for a release.
 */
export function adjustmentCalls(adj: ClockAdjustment, opts: AdjustmentOptions = {}): Timex[] {
  const calls: Timex[] = [];
  const main = buildAdjustmentTimex(adj, opts);
  if (main.modes !== 0) calls.push(main);
  if (adj.release === true) calls.push(buildSlewTimex(0));
  else if (adj.offsetSec !== undefined && adj.kernelPll === undefined) {
    calls.push(buildSlewTimex(adj.offsetSec));
  }
  return calls;
}

/**
 * The CLOCK_REALTIME value that steps a clock read as `nowNs` (Unix ns) by `offsetSec`, as a
 * `timespec` with 0 ≤ nsec < 10^9. Whole seconds and the fraction are converted separately so
 * large steps keep nanosecond exactness.
 */
export function stepTarget(nowNs: bigint, offsetSec: number): { sec: bigint; nsec: bigint } {
  finite("offsetSec", offsetSec);
  const whole = Math.trunc(offsetSec);
  const fracNs = Math.round((offsetSec - whole) * 1e9);
  const targetNs = nowNs + BigInt(whole) * 1_000_000_000n + BigInt(fracNs);
  let sec = targetNs / 1_000_000_000n;
  let nsec = targetNs - sec * 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return { sec, nsec };
}

/** Converts an `ntp_adjtime` result into the Clock interface's kernel state (seconds and ppm). */
export function kernelClockState(result: AdjtimeResult): KernelClockState {
  const t = result.timex;
  return {
    state: result.state,
    status: t.status,
    offsetSec: timexOffsetSec(t),
    freqPpm: scaledPpmToPpm(t.freq),
    maxErrorSec: t.maxerror / 1e6,
    estErrorSec: t.esterror / 1e6,
    constant: t.constant,
    precisionSec: timexPrecisionSec(t),
    toleranceSppm: t.tolerance,
    tick: t.tick,
    tai: t.tai,
    nano: isNano(t),
    pps: {
      freqPpm: scaledPpmToPpm(t.ppsfreq),
      jitterSec: t.jitter / (isNano(t) ? 1e9 : 1e6),
      intervalLog2: t.shift,
      stabilityPpm: scaledPpmToPpm(t.stabil),
      jitterExceeded: t.jitcnt,
      calibrations: t.calcnt,
      errors: t.errcnt,
      stabilityExceeded: t.stbcnt,
    },
  };
}

/** The system calls LinuxClock makes; the default binds real libc, tests pass a fake. */
export interface LinuxClockSyscalls {
  /** clock_gettime(CLOCK_REALTIME) in Unix nanoseconds. */
  realtimeNs(): bigint;
  /** clock_settime(CLOCK_REALTIME); throws an OsError on failure. */
  setRealtime(sec: bigint, nsec: bigint): void;
  /** ntp_adjtime; throws an OsError on failure. */
  ntpAdjtime(t: Timex): AdjtimeResult;
}

/** The real system calls through ffi/. */
export function libcClockSyscalls(): LinuxClockSyscalls {
  return { realtimeNs, setRealtime, ntpAdjtime: (t) => ntpAdjtime(t) };
}

/** Options for {@link LinuxClock}. */
export interface LinuxClockOptions extends AdjustmentOptions {
  /** System calls (default: real libc). */
  syscalls?: LinuxClockSyscalls;
}

/**
 * The Linux system clock, steered through the kernel discipline. Needs CAP_SYS_TIME for `step`
 * and `adjust` (they throw an OsError with EPERM otherwise); reading needs no privilege.
 */
export class LinuxClock implements Clock {
  /** Always "linux". */
  readonly name = "linux";
  /** Always true. */
  readonly canSteer = true;
  #sys: LinuxClockSyscalls;
  #opts: AdjustmentOptions;
  #precisionLog2: number | null = null;
  // Unknown at first: a process that died mid-slew may have left another tick behind.
  #tickChanged = true;

  /** Binds real libc unless `opts.syscalls` is given. Makes no system call itself. */
  constructor(opts: LinuxClockOptions = {}) {
    this.#sys = opts.syscalls ?? libcClockSyscalls();
    this.#opts = {};
    if (opts.nano !== undefined) this.#opts.nano = opts.nano;
    if (opts.pps !== undefined) this.#opts.pps = opts.pps;
    if (opts.baseTickUs !== undefined) this.#opts.baseTickUs = opts.baseTickUs;
  }

  /** RFC 5905 precision of clock_gettime, measured on first use. */
  get precisionLog2(): number {
    if (this.#precisionLog2 === null) {
      this.#precisionLog2 = measurePrecision(() => this.#sys.realtimeNs()).precisionLog2;
    }
    return this.#precisionLog2;
  }

  /** Reads CLOCK_REALTIME. */
  now(): NtpTime {
    return fromUnixNs(this.#sys.realtimeNs());
  }

  /** Steps the clock by `offsetSec` with clock_settime (computed from a fresh read). */
  step(offsetSec: number): void {
    const target = stepTarget(this.#sys.realtimeNs(), offsetSec);
    this.#sys.setRealtime(target.sec, target.nsec);
  }

  /**
   * Hands a discipline request to the kernel ({@link adjustmentCalls}; nothing is called for an
   * empty request). The first write, and the next one after a tick-length slew, also put the
   * nominal tick back. A `release` leaves the kernel at rest for this process's exit.
   */
  adjust(adj: ClockAdjustment): void {
    for (const t of adjustmentCalls(adj, { ...this.#opts, restoreTick: this.#tickChanged })) {
      this.#sys.ntpAdjtime(t);
      if ((t.modes & ADJ_TICK) !== 0) {
        this.#tickChanged = t.tick !== (this.#opts.baseTickUs ?? NOMINAL_TICK_US);
      }
    }
  }

  /** Reads the kernel discipline state (ntp_adjtime with modes 0). */
  kernelState(): KernelClockState {
    return kernelClockState(this.#sys.ntpAdjtime(emptyTimex()));
  }
}

function finite(name: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${name} must be finite, got ${x}`);
  return x;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function errorUs(name: string, sec: number): number {
  return clamp(Math.round(finite(name, sec) * 1e6), 0, MAXERROR_LIMIT_US);
}
