// Per-association clock filter: RFC 5905 §10's eight-stage minimum-delay register (kept for the
// ntpq peer variables) and Horae's delay-aware Kalman estimator of offset and frequency.
//
// Why a different estimator: one exchange's error is (ε_up − ε_down)/2, and when the delay
// excess s = δ − δ_min is known the split of s between the two directions is the only unknown,
// so |error| ≤ s/2 with variance about s²/12. The estimator weighs each sample by that variance
// (low-delay samples dominate, the idea behind RFC 5905's filter) and tracks phase and frequency
// with a Kalman filter, running a bank of frequency-wander hypotheses averaged by likelihood
// (under a weak prior centred on ordinary crystals), so it adapts to quiet and wandering clocks.
// A third state learns how the offset correlates with the delay excess, which removes the bias
// of asymmetric jitter. The noise model is learnt too: the bank runs once per noise hypothesis
// (s²/12 scaled, or with a floor the round trip does not show), and another than s²/12 is used
// only when the residuals favour it by a large likelihood ratio, so where s²/12 explains them
// the estimator is exactly the s²/12 one.

import { addSec, diffSec, type NtpTime } from "./ntp_time.ts";
import { MAXDISPERSE, NTP_SHIFT, PHI } from "./constants.ts";

/** One offset/delay measurement (RFC 5905 §8 on-wire result). */
export interface FilterSample {
  /** θ = server − local clock (seconds). */
  offsetSec: number;
  /** δ round-trip delay (seconds). */
  delaySec: number;
  /** ε dispersion at the time of the sample (seconds). */
  dispersionSec: number;
  /** Local clock time of the sample (T4). */
  at: NtpTime;
  /**
   * Measurement noise (one sigma, s) known apart from the delay: a reference clock has no
   * round trip whose spread would show its jitter, so its association measures that itself.
   */
  noiseSec?: number;
}

/** RFC 5905 peer variables derived from the shift register. */
export interface RfcFilterState {
  offsetSec: number;
  delaySec: number;
  dispersionSec: number;
  jitterSec: number;
  /** Time of the chosen sample. */
  at: NtpTime;
  /** Samples in the register. */
  count: number;
}

/** The estimator's view of one source, predicted to a time. */
export interface SourceEstimate {
  /** Estimated server − local offset (seconds). */
  offsetSec: number;
  /** Estimated rate of change of the offset: positive means the local clock runs slow. */
  freq: number;
  /** Variance of offsetSec (s²). */
  offsetVar: number;
  /** Variance of freq. */
  freqVar: number;
  /** Typical single-sample standard deviation (s), for poll decisions. */
  sampleStdSec: number;
  /** Frequency-wander spectral density (1/s): an upper (80%) posterior quantile. */
  wanderQ: number;
  /** Samples used so far. */
  samples: number;
}

/** Result of adding a sample. */
export type AddResult =
  /** `spike`: a delay spike the estimator used but the RFC register did not take. */
  | { accepted: true; rfcUpdated: boolean; spike?: boolean }
  | { accepted: false; reason: "outlier" | "stale" };

/** Tuning of the estimator. */
export interface EstimatorOptions {
  /** Clock reading precision (s): measurement noise floor. */
  precisionSec: number;
  /** Samples over which the minimum delay is remembered. */
  minDelayWindow?: number;
  /** Likelihood forgetting factor for model selection. */
  forget?: number;
  /** Prior standard deviation of the frequency error (s/s); 500 ppm without a drift file. */
  initialFreqStd?: number;
}

/** Samples a cold start takes before the wander hypotheses' likelihoods count. */
const SCORE_FROM_SAMPLES = 4;
/** Prior frequency variance (s²/s²) below which a start counts as warm (a drift file). */
const WARM_FREQ_VAR = 1e-10;
/** Frequency-wander hypotheses q (1/s), half a decade apart from 1e-21 to 1e-12. */
const WANDER_MODELS = Array.from({ length: 19 }, (_, i) => 10 ** (-21 + i / 2));
/** Posterior quantile of the wander reported for poll decisions: cautious, so the poll does
 * not outgrow the clock on a few samples' evidence. */
const WANDER_QUANTILE = 0.5;
/** Prior variance of the asymmetry coefficient b (|b| ≤ 0.5 physically). */
const ASYMMETRY_PRIOR_VAR = 0.1;
/** Slow drift allowed in b (1/s): paths change. */
const ASYMMETRY_WANDER = 1e-8;
/**
 * Centre of the prior on the wander q (log10 of 1/s): 1e-18, a typical free-running crystal
 * (frequency steps of about 1 ppb per √s). The wander itself is learnt: it is the posterior over
 * WANDER_MODELS, whose log likelihoods (forgetting factor 0.99, about a hundred samples) are
 * added to this prior's log weight. At the grid's ends the prior costs 2 nats (1e-21) and 8 nats
 * (1e-12) against its centre, less than the likelihood of a few dozen samples separates
 * neighbouring hypotheses by; the poll rule's wander quantile leaves the prior out altogether.
 * It matters only while few samples cannot tell the hypotheses apart (the model average and the
 * outlier test's credible set).
 */
const WANDER_PRIOR_LOG10 = -18;
/** Width of that prior (decades, one sigma). It shrinks the model average towards ordinary
 * crystals while few samples cannot tell the hypotheses apart; the likelihood of a few dozen
 * samples outweighs it. The poll rule's wander quantile ignores the prior (see estimate()). */
const WANDER_PRIOR_SD_DECADES = 1.5;
/** A sample is an outlier when it lies further than this many sigmas from the prediction of
 * every wander hypothesis. */
const OUTLIER_SIGMAS = 6;
const OUTLIER_RUN = 3;
/**
 * Posterior weight (relative to the most likely hypothesis, prior included) below which a
 * wander hypothesis no longer vouches for a sample in the outlier test. Without it the wildest
 * hypothesis (q = 1e-12) explained any jump after a long poll, as a frequency change: a server
 * that stepped by 100 ms for ten minutes, seen once after a 1024 s poll, set the frequency 150
 * ppm off.
 */
const OUTLIER_MODEL_WEIGHT = 1e-3;
/** Frequency variance (s²/s²) a restart after a run of outliers allows at least: the jump may
 * have been a frequency step (10 ppm, one sigma) as well as a phase step. */
const RESTART_FREQ_VAR = 1e-10;
/**
 * A lasting jump of the offset larger than half the round trip plus this margin (s) cannot come
 * from the path: it is the server's clock that stepped.
 */
const SERVER_STEP_MARGIN_SEC = 1e-3;
/** How long a server's step must last before the estimator follows it (s): ntpd's stepout. */
export const SERVER_STEP_HOLD_SEC = 900;
/**
 * A sample whose delay exceeds the window's minimum by more than this many times the median
 * excess (and by DELAY_SPIKE_FLOOR_SEC) is a delay spike: a reply stamped late by a server that
 * was paused, or a moment of heavy queueing. Its offset may be off by half its delay, so it
 * stays out of the RFC register (whose jitter it would dominate); the estimator weighs it by its
 * delay. chrony's maxdelaydevratio (10) plays the same role.
 */
export const DELAY_SPIKE_RATIO = 10;
/** Smallest excess delay that counts as a spike (s): below it, scheduling noise on a LAN. */
export const DELAY_SPIKE_FLOOR_SEC = 1e-3;
/** Samples that must all show a longer path before the delay window forgets the shorter one. */
const ROUTE_RECENT = 8;
/** Rise of the minimum delay (s) that counts as a new, longer route. */
const ROUTE_RISE_SEC = 1e-3;
/** ...and at least this many times the older samples' median delay excess. */
const ROUTE_RISE_SPREADS = 4;
/** Samples in the window before delay spikes are told apart (one register's worth). */
const DELAY_SPIKE_MIN_SAMPLES = NTP_SHIFT;
/** Delay spikes in a row after which the path has changed and the register takes them. */
export const DELAY_SPIKE_RUN = 3;

/**
 * Measurement-noise hypotheses: a sample's variance is `scale`·s²/12 + `floorSec`². The first is
 * the delay model alone; then floors (noise the round trip does not show: a server that stamps
 * its transmit time in user space, a relay, an asymmetric wobble) half a decade apart from 1 µs
 * to 10 ms; then s²/12 narrowed (3 to 30 times) or widened (3 and 10 times). Narrower fits a path
 * whose delay excess lies nearly all in one direction: once the asymmetry term b has learnt the
 * split, what is left of the offset's error is far below s²/12 (asymjitter: median RMS 75 -> 51
 * µs). Down to 1/100 was tried: 49 µs, but the poll then read the path as quieter and sent 2.6
 * packets per 1000 s, over 1.1x chronyd's 2.1.
 */
const NOISE_MODELS: readonly { scale: number; floorSec: number; flat?: number }[] = [
  { scale: 1, floorSec: 0 },
  ...Array.from({ length: 9 }, (_, i) => ({ scale: 1, floorSec: 1e-6 * 10 ** (i / 2) })),
  { scale: 1 / 30, floorSec: 0 },
  { scale: 1 / 10, floorSec: 0 },
  { scale: 1 / 3, floorSec: 0 },
  { scale: 3, floorSec: 0 },
  { scale: 10, floorSec: 0 },
  // Flat: the variance of (ε_up − ε_down)/2 without looking at the sample's own delay. For
  // independent one-way delays it is var(δ)/4 whatever their laws, read here from the window's
  // delays; and since the error then does not depend on the delay, b is 0 under these.
  { scale: 0, floorSec: 0, flat: 1 },
  { scale: 0, floorSec: 0, flat: 0.5 },
];
/**
 * Prior log-odds (nats) against every noise hypothesis but plain s²/12. The estimator stays what
 * it was until the residuals favour another by this much (a likelihood ratio of e^20 ≈ 5e8
 * over the forgetting window of about a hundred samples): misfit the model has anyway (its start,
 * the mixture of wander hypotheses, a restart) never gets that far, while 100 µs of noise under a
 * 30 µs s²/12 gets there within a dozen samples. At 12 nats two of twenty wan4 seeds took a
 * floor for about 25 samples and its median rose by 4.5 %; at 20 and 30 none did.
 */
const NOISE_PRIOR_NATS = 20;
/**
 * Prior log-odds (nats) against the flat hypotheses until the window holds 4 delays (then
 * #flatPriorNats reads it from their skewness). Lower than NOISE_PRIOR_NATS: with symmetric
 * jitter each way (1 ms ± 200 µs) s²/12 trusts every low-delay sample 5–40 times too much, the
 * wander hypotheses then read the noise as wander and the frequency chases it (the symjitter
 * scenarios; bench:accuracy's jitter, congestion and route-change paths), so the flat model must
 * be able to win within a few samples. 7 nats was the lowest that left every other scenario
 * unchanged (5 raised wan4's worst seed 180 → 231 µs; 0 its median 127 → 153 µs).
 */
const FLAT_PRIOR_NATS = 7;
/** The flat prior on delays without skew, and its rise per unit of skewness up to the maximum
 * (see #flatPriorNats). 2 + 6·skew did better than a flat 7 nats on the symmetric paths and left
 * the others alone; 0 + 8·skew raised lan's, onesidedburst's and packetloss's worst seeds. */
const FLAT_PRIOR_MIN_NATS = 2;
const FLAT_PRIOR_NATS_PER_SKEW = 6;
const FLAT_PRIOR_MAX_NATS = 14;
/** A residual's χ² counts at most this much in the noise scores: one sample that barely passed
 * the outlier test must not decide the noise model on its own. */
const NOISE_CHI2_CAP = 16;
/** Samples since a (re)start before residuals count towards the noise hypotheses: the first
 * ones measure the start, not the noise. Was 8; a bench:accuracy run has about 15 samples. From 3
 * symjitter4 gains most (68 µs median RMS, 78 from 8) but a flat hypothesis then explains
 * start-up misfit in a few seeds of other scenarios (falseticker5x2 24.6 → 26.9 µs, serverstep
 * 37.0 → 38.6 µs); from 6 those are unchanged and symjitter4 is at 72 µs (20 seeds). */
const NOISE_SCORE_FROM_SAMPLES = 6;
/** The same after a cold start (no drift file), whose first samples carry the frequency's
 * settling: 8, as before (from 6 asymjitter's median went 51.3 → 52.5 µs). */
const NOISE_SCORE_FROM_SAMPLES_COLD = 8;
/** After a cold start the flat hypotheses are no candidates before this many samples: while the
 * frequency settles they explained its misfit better than s²/12 did in six of twenty wan4 seeds
 * (worst 189.8 → 206.6 µs), packetloss (55.5 → 56.6 µs) and largewander; with it all three are
 * as before. */
const FLAT_FROM_SAMPLES_COLD = 32;

/** One stage of the RFC register as {@link ClockFilter.register} shows it. */
export interface FilterStageView {
  offsetSec: number;
  delaySec: number;
  dispersionSec: number;
}

interface Stage {
  offsetSec: number;
  delaySec: number;
  dispersionSec: number;
  at: NtpTime;
}

interface Model {
  q: number;
  x: number; // offset
  f: number; // freq
  pxx: number;
  pxf: number;
  pff: number;
  /** Delay asymmetry coefficient: offset error per second of delay excess. */
  b: number;
  pxb: number;
  pfb: number;
  pbb: number;
  /** False under a flat noise hypothesis: the offset error does not depend on the delay there,
   * so b is 0 by definition and stays out of the fit (a free b would turn noise into a bias of
   * b times the mean delay excess). */
  asym: boolean;
  score: number;
  /** Log likelihood (forgetting, χ² capped at NOISE_CHI2_CAP) for the noise model choice. */
  noiseScore: number;
}

/** The per-association filter: RFC register plus the Kalman estimator. */
export class ClockFilter {
  #stages: Stage[] = [];
  #lastUsed: NtpTime | null = null;
  #rfc: RfcFilterState | null = null;
  #time: NtpTime | null = null;
  #samples = 0;
  #delays: number[] = [];
  #excess: number[] = [];
  #outlierRun = 0;
  /** The current run of outliers: local time (s since the first), residual and its variance. */
  #run: { tSec: number; nu: number; v: number; delaySec: number }[] = [];
  #runStart: NtpTime | null = null;
  #spikeRun = 0;
  #lastExcess = 0;
  /** One bank of wander hypotheses per NOISE_MODELS hypothesis. */
  #banks: Model[][] = [];
  /** Index of the most probable noise hypothesis: its bank gives the estimate. */
  #active = 0;
  #precisionSec: number;
  #window: number;
  #forget: number;
  #freqVar0: number;
  /** var(δ)/4 over the delay window: the flat hypotheses' sample variance. */
  #flatVar = 0;
  /** The current sample's stated noise (FilterSample.noiseSec) squared. */
  #statedNoiseVar = 0;

  /** Creates an empty filter. */
  constructor(opts: EstimatorOptions) {
    this.#precisionSec = Math.max(opts.precisionSec, 1e-9);
    this.#window = opts.minDelayWindow ?? 64;
    this.#forget = opts.forget ?? 0.99;
    this.#freqVar0 = (opts.initialFreqStd ?? 500e-6) ** 2;
  }

  /** Local time of the last sample the estimator used, or null before the first. */
  get lastSampleAt(): NtpTime | null {
    return this.#time;
  }

  /**
   * The measurement noise (s) learnt from the residuals that the delay does not show: a floor,
   * or under a flat hypothesis the whole of it; 0 while s²/12 explains them.
   */
  get noiseFloorSec(): number {
    const h = NOISE_MODELS[this.#active]!;
    return Math.sqrt(h.floorSec ** 2 + (h.flat ?? 0) * this.#flatVar);
  }

  /** The factor on s²/12 learnt from the residuals; 1 while s²/12 explains them. */
  get noiseScale(): number {
    return NOISE_MODELS[this.#active]!.scale;
  }

  /** The wander hypotheses under the most probable noise hypothesis. */
  get #models(): Model[] {
    return this.#banks[this.#active] ?? [];
  }

  /** A sample's variance under noise hypothesis `i`, from its delay-shown variance r0. */
  #noiseVar(i: number, r0: number): number {
    const h = NOISE_MODELS[i]!;
    // A flat hypothesis replaces what the delay shows, never the noise the sample states apart
    // from it (a reference clock's: its delays are all 0, so var(δ) says nothing of it).
    const flat = h.flat === undefined ? 0 : h.flat * this.#flatVar + this.#statedNoiseVar;
    return h.scale * r0 + h.floorSec * h.floorSec + flat;
  }

  /** True without a drift file: the frequency is still to be found. */
  get #cold(): boolean {
    return this.#freqVar0 >= WARM_FREQ_VAR;
  }

  /** Number of samples the estimator has used. */
  get samples(): number {
    return this.#samples;
  }

  /**
   * Adds a sample: updates the estimator, then the RFC register. What the estimator refuses as
   * an outlier stays out of the register too, and so does a delay spike (see
   * DELAY_SPIKE_RATIO), which the estimator keeps at the tiny weight its delay earns: the peer
   * offset, delay and jitter never show either (ntpd's popcorn spike suppressor has the same
   * purpose). A lasting change gets in: the estimator restarts on a run of outliers, and the
   * register takes delay spikes once DELAY_SPIKE_RUN of them come in a row.
   */
  add(sample: FilterSample): AddResult {
    const ok = this.#kalmanAdd(sample);
    if (ok === "outlier") return { accepted: false, reason: ok };
    if (ok === null && this.#delaySpike()) {
      return { accepted: true, rfcUpdated: false, spike: true };
    }
    const rfcUpdated = this.#rfcAdd(sample);
    if (ok !== null) return { accepted: false, reason: ok };
    return { accepted: true, rfcUpdated };
  }

  /**
   * True when the sample just given to the estimator is a delay spike the register should not
   * take: its delay exceeds the window's minimum by more than DELAY_SPIKE_RATIO times the median
   * excess and by DELAY_SPIKE_FLOOR_SEC, unless DELAY_SPIKE_RUN such samples came in a row.
   */
  #delaySpike(): boolean {
    const delays = this.#delays;
    const n = delays.length;
    if (n < DELAY_SPIKE_MIN_SAMPLES) return false;
    // Excess over the window's minimum as it is now (not as it was when each sample came).
    const sorted = [...delays].sort((a, b) => a - b);
    const min = sorted[0]!;
    const median = sorted[n >> 1]! - min;
    const limit = Math.max(DELAY_SPIKE_FLOOR_SEC, DELAY_SPIKE_RATIO * median);
    if (!(delays[n - 1]! - min > limit)) {
      this.#spikeRun = 0;
      return false;
    }
    this.#spikeRun++;
    return this.#spikeRun < DELAY_SPIKE_RUN;
  }

  /** RFC 5905 peer variables, with dispersion grown to `now`; null before the first sample. */
  rfcState(now?: NtpTime): RfcFilterState | null {
    if (this.#rfc === null) return null;
    if (now === undefined) return { ...this.#rfc };
    const age = Math.max(0, diffSec(now, this.#rfc.at));
    return {
      ...this.#rfc,
      dispersionSec: Math.min(MAXDISPERSE, this.#rfc.dispersionSec + PHI * age),
    };
  }

  /** The estimate predicted to `now`; null before the first sample. */
  estimate(now: NtpTime): SourceEstimate | null {
    if (this.#models.length === 0 || this.#time === null) return null;
    const dt = Math.max(0, diffSec(now, this.#time));
    // Bayesian model averaging over the wander hypotheses, weighted by their recent likelihood
    // and the prior.
    let top = -Infinity;
    for (const m of this.#models) top = Math.max(top, m.score + wanderLogPrior(m.q));
    let wsum = 0;
    let x = 0;
    let f = 0;
    const w: number[] = [];
    for (const m of this.#models) {
      const wi = Math.exp(m.score + wanderLogPrior(m.q) - top);
      w.push(wi);
      wsum += wi;
      x += wi * (m.x + m.f * dt);
      f += wi * m.f;
    }
    x /= wsum;
    f /= wsum;
    let pxx = 0;
    let pff = 0;
    for (let i = 0; i < this.#models.length; i++) {
      const m = this.#models[i]!;
      const wi = w[i]! / wsum;
      const xi = m.x + m.f * dt;
      pxx += wi *
        (m.pxx + 2 * dt * m.pxf + dt * dt * m.pff + m.q * dt * dt * dt / 3 + (xi - x) ** 2);
      pff += wi * (m.pff + m.q * dt + (m.f - f) ** 2);
    }
    return {
      offsetSec: x,
      freq: f,
      offsetVar: pxx,
      freqVar: pff,
      sampleStdSec: this.#typicalSampleStd(),
      // The poll rule reads the wander from the samples alone: with the prior in, the poll
      // would follow the prior's centre instead of the clock.
      wanderQ: this.#wanderQuantile(WANDER_QUANTILE),
      samples: this.#samples,
    };
  }

  /**
   * Tells the filter that the local clock was corrected: its phase moved forward by `phaseSec`
   * and its frequency by `freq` (dimensionless) at local time `now` (after the correction when
   * `stepped`). Stored state shifts so it stays valid.
   */
  applyCorrection(phaseSec: number, freq: number, now: NtpTime, stepped = false): void {
    if (stepped) {
      // A step moves the time scale itself: stored sample times move with it.
      if (this.#time !== null) this.#time = addSec(this.#time, phaseSec);
      for (const st of this.#stages) st.at = addSec(st.at, phaseSec);
      if (this.#lastUsed !== null) this.#lastUsed = addSec(this.#lastUsed, phaseSec);
      if (this.#rfc !== null) this.#rfc.at = addSec(this.#rfc.at, phaseSec);
    }
    // The frequency change starts now, not at the last sample: keep predictions to times after
    // `now` exact by moving the phase by what the change adds back over [last sample, now].
    const sinceSec = this.#time === null ? 0 : Math.max(0, diffSec(now, this.#time));
    for (const bank of this.#banks) {
      for (const m of bank) {
        m.x -= phaseSec - freq * sinceSec;
        m.f -= freq;
      }
    }
    for (const s of this.#stages) s.offsetSec -= phaseSec;
    if (this.#rfc !== null) this.#rfc.offsetSec -= phaseSec;
  }

  /** The wander q at quantile `p` of the likelihood weights (models sorted by increasing q). */
  #wanderQuantile(p: number): number {
    let top = -Infinity;
    for (const m of this.#models) top = Math.max(top, m.score);
    const w = this.#models.map((m) => Math.exp(m.score - top));
    let wsum = 0;
    for (const wi of w) wsum += wi;
    let acc = 0;
    for (let i = 0; i < this.#models.length; i++) {
      acc += w[i]! / wsum;
      if (acc >= p) return this.#models[i]!.q;
    }
    return this.#models[this.#models.length - 1]!.q;
  }

  /** Forgets everything (new server, or a step this filter cannot follow). */
  reset(): void {
    this.#stages = [];
    this.#lastUsed = null;
    this.#rfc = null;
    this.#banks = [];
    this.#active = 0;
    this.#time = null;
    this.#samples = 0;
    this.#delays = [];
    this.#excess = [];
    this.#outlierRun = 0;
    this.#run = [];
    this.#runStart = null;
    this.#spikeRun = 0;
  }

  /**
   * The RFC register (at most NTP_SHIFT stages, newest first; a copy): what ntpq shows as
   * filtdelay, filtoffset and filtdisp.
   */
  register(): FilterStageView[] {
    return this.#stages.map((s) => ({
      offsetSec: s.offsetSec,
      delaySec: s.delaySec,
      dispersionSec: s.dispersionSec,
    }));
  }

  /** Minimum delay over the window (s), or NaN before any sample. */
  get minDelaySec(): number {
    return this.#delays.length === 0 ? NaN : Math.min(...this.#delays);
  }

  #rfcAdd(sample: Stage): boolean {
    if (this.#stages.length > 0) {
      const prev = this.#stages[0]!;
      const age = Math.max(0, diffSec(sample.at, prev.at));
      for (const s of this.#stages) {
        s.dispersionSec = Math.min(MAXDISPERSE, s.dispersionSec + PHI * age);
      }
    }
    this.#stages.unshift({ ...sample });
    if (this.#stages.length > NTP_SHIFT) this.#stages.length = NTP_SHIFT;
    const sorted = [...this.#stages].sort((a, b) => a.delaySec - b.delaySec);
    const best = sorted[0]!;
    let disp = 0;
    for (let i = 0; i < NTP_SHIFT; i++) {
      disp += (sorted[i]?.dispersionSec ?? MAXDISPERSE) / 2 ** (i + 1);
    }
    let jit = 0;
    for (let i = 1; i < sorted.length; i++) jit += (sorted[i]!.offsetSec - best.offsetSec) ** 2;
    const jitter = sorted.length > 1
      ? Math.max(Math.sqrt(jit / (sorted.length - 1)), this.#precisionSec)
      : this.#precisionSec;
    const fresh = this.#lastUsed === null || best.at > this.#lastUsed;
    if (fresh) this.#lastUsed = best.at;
    this.#rfc = {
      offsetSec: best.offsetSec,
      delaySec: best.delaySec,
      dispersionSec: disp,
      jitterSec: jitter,
      at: best.at,
      count: this.#stages.length,
    };
    return fresh;
  }

  #typicalSampleStd(): number {
    if (this.#excess.length === 0) return this.#precisionSec;
    const sorted = [...this.#excess].sort((a, b) => a - b);
    const med = sorted[sorted.length >> 1]!;
    return Math.sqrt(this.#noiseVar(this.#active, med * med / 12 + this.#precisionSec ** 2));
  }

  #measurementVar(delaySec: number): number {
    this.#delays.push(delaySec);
    if (this.#delays.length > this.#window) this.#delays.shift();
    this.#routeChange();
    let minDelay = Infinity;
    let meanDelay = 0;
    for (const d of this.#delays) {
      if (d < minDelay) minDelay = d;
      meanDelay += d;
    }
    const n = this.#delays.length;
    meanDelay /= n;
    const excess = Math.max(0, delaySec - minDelay);
    this.#excess.push(excess);
    if (this.#excess.length > this.#window) this.#excess.shift();
    // The window's minimum overestimates the true minimum delay by about the delay spread over
    // √n: widen every sample by that much so that a lucky early sample is not taken as exact.
    // With one sample nothing bounds the minimum: the error may be anywhere in ±δ/2.
    // While the spread rests on few samples of a noisy path it is widened (earlySpreadFactor),
    // never beyond the sample's own delay, which bounds its error by itself.
    const spread = meanDelay - minDelay;
    const widen = earlySpreadFactor(n, spread);
    const s = n === 1
      ? delaySec
      : widen > 1
      ? Math.min(delaySec, excess + spread / Math.sqrt(n) * widen)
      : excess + spread / Math.sqrt(n);
    this.#lastExcess = excess;
    let v = 0;
    for (const d of this.#delays) v += (d - meanDelay) ** 2;
    this.#flatVar = (n > 1 ? v / (n - 1) / 4 : s * s / 12) + this.#precisionSec ** 2;
    return s * s / 12 + this.#precisionSec ** 2;
  }

  /**
   * A route change to a longer path: when the last ROUTE_RECENT delays all exceed the older
   * samples' minimum by more than ROUTE_RISE_SEC and ROUTE_RISE_SPREADS median excesses, the
   * older delays are forgotten. Otherwise
   * every new sample counts the whole rise as delay excess (a huge, nearly constant excess,
   * with which the offset and the asymmetry term cannot be told apart: the routechange
   * scenario settled 180 µs off). A shorter path needs nothing: its delays are the new minimum.
   */
  #routeChange(): void {
    const d = this.#delays;
    if (d.length < 2 * ROUTE_RECENT) return;
    let recentMin = Infinity;
    for (let i = d.length - ROUTE_RECENT; i < d.length; i++) recentMin = Math.min(recentMin, d[i]!);
    let olderMin = Infinity;
    for (let i = 0; i < d.length - ROUTE_RECENT; i++) olderMin = Math.min(olderMin, d[i]!);
    // The rise must also stand out from the path's own spread (median delay excess).
    const older = d.slice(0, d.length - ROUTE_RECENT).map((x) => x - olderMin).sort((a, b) =>
      a - b
    );
    const medianExcess = older[older.length >> 1]!;
    if (recentMin - olderMin <= Math.max(ROUTE_RISE_SEC, ROUTE_RISE_SPREADS * medianExcess)) return;
    this.#delays = d.slice(-ROUTE_RECENT);
    this.#excess = this.#delays.map((x) => x - recentMin);
  }

  /** Starts every model of every bank from one sample with delay-shown variance r0. */
  #start(z: number, r0: number, at: NtpTime): void {
    this.#banks = NOISE_MODELS.map((h, i) =>
      this.#startBank(z, this.#noiseVar(i, r0), h.flat === undefined)
    );
    this.#active = 0;
    this.#time = at;
    this.#samples = 1;
  }

  #startBank(z: number, r: number, asym: boolean): Model[] {
    return WANDER_MODELS.map((q) => ({
      q,
      x: z,
      f: 0,
      pxx: r,
      pxf: 0,
      pff: this.#freqVar0,
      b: 0,
      pxb: 0,
      pfb: 0,
      pbb: asym ? ASYMMETRY_PRIOR_VAR : 0,
      asym,
      score: 0,
      noiseScore: 0,
    }));
  }

  /** The hypotheses within OUTLIER_MODEL_WEIGHT of the most likely one, prior included. */
  #credible(): Model[] {
    let top = -Infinity;
    for (const m of this.#models) top = Math.max(top, m.score + wanderLogPrior(m.q));
    const floor = top + Math.log(OUTLIER_MODEL_WEIGHT);
    return this.#models.filter((m) => m.score + wanderLogPrior(m.q) >= floor);
  }

  /** Records an outlier's residual against the model average's prediction. */
  #noteOutlier(z: number, r: number, dt: number, sample: FilterSample): void {
    let top = -Infinity;
    for (const m of this.#models) top = Math.max(top, m.score + wanderLogPrior(m.q));
    let wsum = 0;
    let x = 0;
    let v = 0;
    for (const m of this.#models) {
      const w = Math.exp(m.score + wanderLogPrior(m.q) - top);
      const p = predict(m, dt);
      wsum += w;
      x += w * p.x;
      v += w * p.pxx;
    }
    this.#runStart ??= sample.at;
    this.#run.push({
      tSec: diffSec(sample.at, this.#runStart),
      nu: z - x / wsum,
      v: v / wsum + r,
      delaySec: sample.delaySec,
    });
  }

  /** What the run of outliers looks like: a frequency step, a path change or a server step. */
  #classifyRun():
    | { kind: "frequency"; slope: number }
    | { kind: "path" }
    | { kind: "server"; lastedSec: number } {
    const run = this.#run;
    const last = run[run.length - 1]!;
    const first = run[0]!;
    const span = last.tSec - first.tSec;
    if (span > 0) {
      // Least-squares slope of the residuals against time, and its standard error.
      const tm = run.reduce((a, p) => a + p.tSec, 0) / run.length;
      const nm = run.reduce((a, p) => a + p.nu, 0) / run.length;
      let stt = 0;
      let stn = 0;
      let vmax = 0;
      for (const p of run) {
        stt += (p.tSec - tm) ** 2;
        stn += (p.tSec - tm) * (p.nu - nm);
        vmax = Math.max(vmax, p.v);
      }
      const slope = stn / stt;
      if (Math.abs(slope) > OUTLIER_SIGMAS * Math.sqrt(vmax / stt)) {
        return { kind: "frequency", slope };
      }
    }
    const mean = run.reduce((a, p) => a + p.nu, 0) / run.length;
    const minDelay = Math.min(...run.map((p) => p.delaySec));
    if (Math.abs(mean) <= minDelay / 2 + SERVER_STEP_MARGIN_SEC) return { kind: "path" };
    return { kind: "server", lastedSec: span };
  }

  /**
   * Restarts every model's phase at sample z (delay-shown variance r0), `dt` after the last sample, with the
   * frequency moved by `slope`.
   */
  #restartPhase(z: number, r0: number, dt: number, at: NtpTime, slope = 0): void {
    for (let i = 0; i < this.#banks.length; i++) {
      const r = this.#noiseVar(i, r0);
      for (const m of this.#banks[i]!) {
        const p = predict(m, dt);
        m.f = p.f + slope;
        m.x = z;
        m.pxx = r;
        m.pxf = 0;
        m.pxb = 0;
        m.pff = Math.max(p.pff, RESTART_FREQ_VAR);
        m.pfb = 0;
        m.pbb = p.pbb;
      }
    }
    this.#time = at;
    this.#samples = 1;
  }

  /** One Kalman update of model m with measurement z (delay excess e, variance r). */
  #update(
    m: Model,
    dt: number,
    z: number,
    e: number,
    r: number,
    scoreWander: boolean,
    scoreNoise: boolean,
  ): void {
    const p = predict(m, dt);
    // Measurement z = θ + b·e + noise, H = [1, 0, e].
    const a = p.pxx + e * p.pxb;
    const c = p.pxf + e * p.pfb;
    const d = p.pxb + e * p.pbb;
    const s = a + e * d + r;
    const nu = z - p.x - e * p.b;
    m.x = p.x + a / s * nu;
    m.f = p.f + c / s * nu;
    m.b = Math.max(-0.5, Math.min(0.5, p.b + d / s * nu));
    m.pxx = p.pxx - a * a / s;
    m.pxf = p.pxf - a * c / s;
    m.pff = p.pff - c * c / s;
    m.pxb = p.pxb - a * d / s;
    m.pfb = p.pfb - c * d / s;
    m.pbb = p.pbb - d * d / s;
    const chi2 = nu * nu / s;
    // A cold start's first residuals measure the start (the frequency prior, the first
    // slew), not the wander: scored, they made the wildest hypotheses likely for the next
    // hundred samples, and the frequency then swung by 1-2 ppm between updates for hours
    // (fixedpoll6, seed 15: worst RMS 38.9 µs, now 32.3 µs).
    if (scoreWander) m.score = this.#forget * m.score + -0.5 * (Math.log(s) + chi2);
    if (scoreNoise) {
      m.noiseScore = this.#forget * m.noiseScore +
        -0.5 * (Math.log(s) + Math.min(NOISE_CHI2_CAP, chi2));
    }
  }

  /**
   * The flat hypotheses' prior log-odds, read from the shape of the window's delays. s²/12 rests
   * on a delay floor that most samples sit near: queueing, whose delays are skewed to the right
   * (two exponential one-way delays: skewness 1.4; one: 2; heavy tails more). Symmetric jitter
   * each way gives delays without skew and no floor. So the prior against flat grows with the
   * skewness, from FLAT_PRIOR_MIN_NATS (none) to FLAT_PRIOR_MAX_NATS; FLAT_PRIOR_NATS until the
   * window has 4 delays.
   */
  #flatPriorNats(): number {
    const d = this.#delays;
    const n = d.length;
    if (n < 4) return FLAT_PRIOR_NATS;
    let m = 0;
    for (const x of d) m += x;
    m /= n;
    let m2 = 0;
    let m3 = 0;
    for (const x of d) {
      m2 += (x - m) ** 2;
      m3 += (x - m) ** 3;
    }
    m2 /= n;
    m3 /= n;
    const skew = m2 > 0 ? m3 / m2 ** 1.5 : 0;
    return Math.max(
      FLAT_PRIOR_MIN_NATS,
      Math.min(FLAT_PRIOR_MAX_NATS, FLAT_PRIOR_MIN_NATS + FLAT_PRIOR_NATS_PER_SKEW * skew),
    );
  }

  /**
   * Bayesian model comparison of the noise hypotheses: each bank's evidence is the likelihood of
   * its wander hypotheses averaged under the wander prior; every hypothesis but plain s²/12
   * starts NOISE_PRIOR_NATS behind, the flat ones #flatPriorNats() behind. Comparing whole banks
   * lets wander and white noise be told apart (wander makes successive residuals correlated,
   * noise does not), where a floor scored on one wander hypothesis's residuals lost to the
   * wildest wander, which explains any noise.
   */
  #chooseNoiseModel(): void {
    let top = -Infinity;
    const flatAllowed = !this.#cold || this.#samples >= FLAT_FROM_SAMPLES_COLD;
    const flatPrior = flatAllowed ? this.#flatPriorNats() : Infinity;
    for (let i = 0; i < this.#banks.length; i++) {
      const h = NOISE_MODELS[i]!;
      if (h.flat !== undefined && !flatAllowed) continue;
      const bank = this.#banks[i]!;
      let mtop = -Infinity;
      for (const m of bank) mtop = Math.max(mtop, m.noiseScore + wanderLogPrior(m.q));
      let sum = 0;
      for (const m of bank) sum += Math.exp(m.noiseScore + wanderLogPrior(m.q) - mtop);
      const prior = h.flat !== undefined ? flatPrior : i > 0 ? NOISE_PRIOR_NATS : 0;
      const evidence = mtop + Math.log(sum) - prior;
      if (evidence > top) {
        top = evidence;
        this.#active = i;
      }
    }
  }

  #kalmanAdd(sample: FilterSample): "outlier" | "stale" | null {
    if (this.#time !== null && sample.at <= this.#time) return "stale";
    this.#statedNoiseVar = (sample.noiseSec ?? 0) ** 2;
    const r0 = this.#measurementVar(sample.delaySec) + this.#statedNoiseVar;
    const r = this.#noiseVar(this.#active, r0);
    const z = sample.offsetSec;
    if (this.#time === null) {
      this.#start(z, r0, sample.at);
      return null;
    }
    const dt = diffSec(sample.at, this.#time);
    const e = this.#lastExcess;
    // Outlier test: a sample is refused only when no wander hypothesis can explain it. Testing
    // against the most likely model alone refused the samples that showed a wandering clock
    // after a long poll had been chosen on a few samples' evidence, and restarted the filter.
    if (this.#samples >= 4 && this.#credible().every((m) => isOutlier(m, dt, z, e, r))) {
      this.#outlierRun++;
      this.#noteOutlier(z, r, dt, sample);
      if (this.#outlierRun < OUTLIER_RUN) return "outlier";
      // A persistent change. A frequency step (the oscillator's) shows as residuals that grow;
      // a path change as a jump of at most half the round trip; anything larger is the
      // server's clock, followed only once it has lasted SERVER_STEP_HOLD_SEC (ntpd's stepout):
      // a server that steps and steps back within that time is never followed.
      const jump = this.#classifyRun();
      if (jump.kind === "server" && jump.lastedSec < SERVER_STEP_HOLD_SEC) return "outlier";
      // Restart the phase from this sample (its delay is already in the windows); the
      // frequency (moved by a frequency step's slope) and the wander evidence stay, with the
      // frequency's uncertainty widened.
      this.#outlierRun = 0;
      this.#run = [];
      this.#runStart = null;
      this.#restartPhase(z, r0, dt, sample.at, jump.kind === "frequency" ? jump.slope : 0);
      return null;
    }
    this.#run = [];
    this.#runStart = null;
    this.#outlierRun = 0;
    const scoreWander = this.#samples >= SCORE_FROM_SAMPLES || !this.#cold;
    const scoreNoise = this.#samples >=
      (this.#cold ? NOISE_SCORE_FROM_SAMPLES_COLD : NOISE_SCORE_FROM_SAMPLES);
    for (let i = 0; i < this.#banks.length; i++) {
      const rk = this.#noiseVar(i, r0);
      for (const m of this.#banks[i]!) this.#update(m, dt, z, e, rk, scoreWander, scoreNoise);
    }
    if (scoreNoise) this.#chooseNoiseModel();
    this.#time = sample.at;
    this.#samples++;
    return null;
  }
}

/** Window spread (s) from which the first samples' spread term is widened (EARLY_SPREAD_SAMPLES). */
const EARLY_SPREAD_MIN_SEC = 5e-3;
/** Samples in the delay window up to which the spread term is widened on such a path. */
const EARLY_SPREAD_SAMPLES = 8;

/**
 * Widening of the spread term (mean − min delay) while it rests on few samples, on a path whose
 * spread is at least EARLY_SPREAD_MIN_SEC. The spread is itself estimated from n − 1 spacings and
 * is near 0 whenever the first delays happen to be close: the sample that set the minimum then
 * counted as nearly exact although the true minimum was far lower (on 0.1 s of jitter the mean of
 * err²/r was 35 at n = 3, 3.1 at n = 5, 1.3 at n = 10), and the first samples anchored the
 * frequency at twice its stated σ. For a scale estimated from n − 1 spacings under a scale-free
 * prior, E[J²] ∝ Σ²/((n − 2)(n − 3)), a factor n/√((n − 2)(n − 3)) over the plain estimate; below
 * n = 4 it has no finite second moment, and 3 stands in. On ordinary paths the wander hypotheses'
 * variance already covers the understatement (the frequency error reads 0.4–1 σ there), and
 * widening their first samples too only slowed the start (default, largewander in BENCHMARKS.md).
 */
function earlySpreadFactor(n: number, spreadSec: number): number {
  if (spreadSec < EARLY_SPREAD_MIN_SEC || n > EARLY_SPREAD_SAMPLES) return 1;
  return n <= 3 ? 3 : n / Math.sqrt((n - 2) * (n - 3));
}

/** Log prior weight of wander hypothesis q (Gaussian in log10 q). */
function wanderLogPrior(q: number): number {
  return -0.5 * ((Math.log10(q) - WANDER_PRIOR_LOG10) / WANDER_PRIOR_SD_DECADES) ** 2;
}

/** True when measurement z (with delay excess e, variance r) lies beyond OUTLIER_SIGMAS of what
 * model m predicts `dt` seconds after its last sample. */
function isOutlier(m: Model, dt: number, z: number, e: number, r: number): boolean {
  const p = predict(m, dt);
  const s = p.pxx + 2 * e * p.pxb + e * e * p.pbb + r;
  const nu = z - p.x - e * p.b;
  return nu * nu > OUTLIER_SIGMAS * OUTLIER_SIGMAS * s;
}

function predict(m: Model, dt: number): Model {
  const q = m.q;
  return {
    ...m,
    x: m.x + m.f * dt,
    pxx: m.pxx + 2 * dt * m.pxf + dt * dt * m.pff + q * dt * dt * dt / 3,
    pxf: m.pxf + dt * m.pff + q * dt * dt / 2,
    pff: m.pff + q * dt,
    pxb: m.pxb + dt * m.pfb,
    pbb: m.asym ? m.pbb + ASYMMETRY_WANDER * dt : 0,
  };
}
