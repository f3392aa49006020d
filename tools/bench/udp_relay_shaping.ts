// The delay model of the benchmark relay (tools/bench/udp_relay.ts): per direction a base delay plus
// random terms (constant, uniform, normal, exponential, Pareto, log-normal), congestion periods,
// loss, held packets (reordering), and scripted changes at set times (a route change). Pure: time
// and randomness come in, so the model is tested without sockets.
// Owned by the bench:accuracy engineer of issue 18 (item 3).

import { exponential, normal, type Rng } from "../../lib/proto/rng.ts";

/** A random delay term (seconds). */
export type DelayDistribution =
  | { kind: "constant"; sec: number }
  | { kind: "uniform"; minSec: number; maxSec: number }
  /** Normal jitter; the direction's total delay is never below 0. */
  | { kind: "normal"; meanSec: number; sdSec: number }
  | { kind: "exponential"; meanSec: number }
  /**
   * Pareto above 0 (Lomax): scaleSec·(U^(−1/shape) − 1). Heavy-tailed; the mean is
   * scaleSec/(shape − 1) for shape > 1, the median scaleSec·(2^(1/shape) − 1).
   */
  | { kind: "pareto"; scaleSec: number; shape: number }
  /** exp(ln(medianSec) + sigma·N(0,1)). */
  | { kind: "lognormal"; medianSec: number; sigma: number };

/** On/off congestion: while on, every packet gets `delay` more. Period lengths are exponential. */
export interface Congestion {
  /** Mean length of a congested period (s). */
  meanOnSec: number;
  /** Mean length of a quiet period (s). */
  meanOffSec: number;
  /** Extra delay while congested. */
  delay: DelayDistribution;
}

/** How one direction treats packets. */
export interface DirectionShape {
  /** Fixed delay (s), the path's propagation. */
  baseSec: number;
  /** Random terms added to the base (each sampled per packet). */
  delays?: DelayDistribution[];
  /** Probability a packet is dropped. */
  lossProb?: number;
  /** Probability a packet is held `reorderHoldSec` longer, so that later packets pass it. */
  reorderProb?: number;
  /** Extra hold of a reordered packet (s). */
  reorderHoldSec?: number;
  /** Congestion periods. */
  congestion?: Congestion;
}

/** A scripted change: from `atSec` (since the relay started) a direction takes a new shape. */
export interface ShapeChange {
  atSec: number;
  up?: DirectionShape;
  down?: DirectionShape;
}

/** The relay's whole model: `up` is client to server, `down` server to client. */
export interface Shaping {
  up: DirectionShape;
  down: DirectionShape;
  changes?: ShapeChange[];
  /** Largest delay applied (s); longer draws are cut to it and counted (default 2). */
  maxDelaySec?: number;
}

/** What happens to one packet. */
export type Decision =
  | { drop: true }
  | { drop: false; delaySec: number; reordered: boolean; congested: boolean; capped: boolean };

/** The two directions. */
export type Direction = "up" | "down";

/** Draws one value of `d` (s). */
export function sampleDelay(d: DelayDistribution, rng: Rng): number {
  switch (d.kind) {
    case "constant":
      return d.sec;
    case "uniform":
      return d.minSec + (d.maxSec - d.minSec) * rng.nextFloat();
    case "normal":
      return d.meanSec + d.sdSec * normal(rng);
    case "exponential":
      return d.meanSec * exponential(rng);
    case "pareto": {
      let u = rng.nextFloat();
      while (u <= 0) u = rng.nextFloat();
      return d.scaleSec * (Math.pow(u, -1 / d.shape) - 1);
    }
    case "lognormal":
      return Math.exp(Math.log(d.medianSec) + d.sigma * normal(rng));
  }
}

/** Problems with a shaping model (empty when it is usable). */
export function validateShaping(s: Shaping): string[] {
  const out: string[] = [];
  const finite = (x: unknown, what: string, min = 0) => {
    if (typeof x !== "number" || !Number.isFinite(x) || x < min) {
      out.push(`${what} must be a number ≥ ${min}`);
    }
  };
  const prob = (x: unknown, what: string) => {
    if (x !== undefined && (typeof x !== "number" || !(x >= 0 && x <= 1))) {
      out.push(`${what} must be a probability`);
    }
  };
  const dist = (d: DelayDistribution, what: string) => {
    switch (d?.kind) {
      case "constant":
        return finite(d.sec, `${what}.sec`);
      case "uniform":
        finite(d.minSec, `${what}.minSec`);
        return finite(d.maxSec, `${what}.maxSec`, d.minSec);
      case "normal":
        finite(d.meanSec, `${what}.meanSec`, -Infinity);
        return finite(d.sdSec, `${what}.sdSec`);
      case "exponential":
        return finite(d.meanSec, `${what}.meanSec`);
      case "pareto":
        finite(d.scaleSec, `${what}.scaleSec`);
        return finite(d.shape, `${what}.shape`, 1e-3);
      case "lognormal":
        finite(d.medianSec, `${what}.medianSec`, 1e-12);
        return finite(d.sigma, `${what}.sigma`);
      default:
        out.push(
          `${what}: unknown distribution ${JSON.stringify((d as { kind?: unknown })?.kind)}`,
        );
    }
  };
  const dir = (d: DirectionShape | undefined, what: string) => {
    if (d === undefined || typeof d !== "object") return out.push(`${what} is missing`);
    finite(d.baseSec, `${what}.baseSec`);
    (d.delays ?? []).forEach((x, k) => dist(x, `${what}.delays[${k}]`));
    prob(d.lossProb, `${what}.lossProb`);
    prob(d.reorderProb, `${what}.reorderProb`);
    if (d.reorderProb !== undefined) finite(d.reorderHoldSec, `${what}.reorderHoldSec`);
    if (d.congestion !== undefined) {
      finite(d.congestion.meanOnSec, `${what}.congestion.meanOnSec`, 1e-6);
      finite(d.congestion.meanOffSec, `${what}.congestion.meanOffSec`, 1e-6);
      dist(d.congestion.delay, `${what}.congestion.delay`);
    }
  };
  dir(s.up, "up");
  dir(s.down, "down");
  (s.changes ?? []).forEach((c, k) => {
    finite(c.atSec, `changes[${k}].atSec`);
    if (c.up !== undefined) dir(c.up, `changes[${k}].up`);
    if (c.down !== undefined) dir(c.down, `changes[${k}].down`);
  });
  if (s.maxDelaySec !== undefined) finite(s.maxDelaySec, "maxDelaySec", 1e-6);
  return out;
}

interface CongestionState {
  on: boolean;
  /** When the current period ends (s since start). */
  untilSec: number;
}

/**
 * Decides per packet: drop, or the delay from its kernel receive time to its send. Each direction
 * draws from its own generator stream, so a change in one direction's traffic does not change the
 * other's draws.
 */
export class Shaper {
  readonly #shaping: Shaping;
  readonly #rng: Record<Direction, Rng>;
  readonly #maxDelaySec: number;
  #congestion: Record<Direction, CongestionState | null> = { up: null, down: null };
  #congestionOf: Record<Direction, Congestion | undefined> = { up: undefined, down: undefined };

  /** `rngs` gives one generator per direction. Throws on an invalid model. */
  constructor(shaping: Shaping, rngs: Record<Direction, Rng>) {
    const problems = validateShaping(shaping);
    if (problems.length > 0) throw new RangeError(`invalid shaping: ${problems.join("; ")}`);
    this.#shaping = shaping;
    this.#rng = rngs;
    this.#maxDelaySec = shaping.maxDelaySec ?? 2;
  }

  /** The shape of direction `dir` at `atSec` (the latest change at or before it). */
  shapeAt(dir: Direction, atSec: number): DirectionShape {
    let shape = this.#shaping[dir];
    let latest = -Infinity;
    for (const c of this.#shaping.changes ?? []) {
      const s = c[dir];
      if (s !== undefined && c.atSec <= atSec && c.atSec >= latest) {
        shape = s;
        latest = c.atSec;
      }
    }
    return shape;
  }

  /** Whether direction `dir` is congested at `atSec` (call with non-decreasing times). */
  congestedAt(dir: Direction, atSec: number): boolean {
    const c = this.shapeAt(dir, atSec).congestion;
    if (c === undefined) return false;
    const rng = this.#rng[dir];
    let st = this.#congestion[dir];
    if (st === null || this.#congestionOf[dir] !== c) {
      // A new congestion model starts in a quiet period.
      st = { on: false, untilSec: atSec + c.meanOffSec * exponential(rng) };
      this.#congestion[dir] = st;
      this.#congestionOf[dir] = c;
    }
    // Bounded: a long gap between packets is skipped period by period, at most 100000 of them.
    for (let k = 0; k < 100_000 && st.untilSec <= atSec; k++) {
      st.on = !st.on;
      st.untilSec += (st.on ? c.meanOnSec : c.meanOffSec) * exponential(rng);
    }
    return st.on;
  }

  /** What to do with a packet going `dir`, received at `atSec` since the start. */
  decide(dir: Direction, atSec: number): Decision {
    const shape = this.shapeAt(dir, atSec);
    const rng = this.#rng[dir];
    if (shape.lossProb !== undefined && shape.lossProb > 0 && rng.nextFloat() < shape.lossProb) {
      return { drop: true };
    }
    let delay = shape.baseSec;
    for (const d of shape.delays ?? []) delay += sampleDelay(d, rng);
    const congested = this.congestedAt(dir, atSec);
    if (congested) delay += sampleDelay(shape.congestion!.delay, rng);
    const reordered = shape.reorderProb !== undefined && shape.reorderProb > 0 &&
      rng.nextFloat() < shape.reorderProb;
    if (reordered) delay += shape.reorderHoldSec ?? 0;
    if (!(delay >= 0)) delay = 0;
    const capped = delay > this.#maxDelaySec;
    if (capped) delay = this.#maxDelaySec;
    return { drop: false, delaySec: delay, reordered, congested, capped };
  }
}

/**
 * Packets waiting for their send time, taken out in order of due time (equal times in arrival
 * order). A binary heap: the relay holds few packets, but a heavy tail can hold many at once.
 */
export class DelayQueue<T> {
  #heap: { dueNs: number; seq: number; item: T }[] = [];
  #seq = 0;

  /** Packets waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Adds `item`, due at `dueNs` (any monotonic nanosecond count). */
  push(dueNs: number, item: T): void {
    const h = this.#heap;
    h.push({ dueNs, seq: this.#seq++, item });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Due time of the earliest packet, or null when empty. */
  peekDueNs(): number | null {
    return this.#heap[0]?.dueNs ?? null;
  }

  /** Removes and returns the earliest packet if it is due at `nowNs`, else null. */
  popDue(nowNs: number): T | null {
    const h = this.#heap;
    const top = h[0];
    if (top === undefined || top.dueNs > nowNs) return null;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top.item;
  }
}

function before(a: { dueNs: number; seq: number }, b: { dueNs: number; seq: number }): boolean {
  return a.dueNs < b.dueNs || (a.dueNs === b.dueNs && a.seq < b.seq);
}
