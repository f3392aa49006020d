// The simulated network path (SIM_SCENARIOS.md): one-way delay d = D + a·J·E with E ~ Exp(1),
// a = 1 − 2·asym towards the server and 1 + 2·asym back, and independent loss per direction.
// Beyond that model (issue 18): E from heavier-tailed laws (Pareto, log-normal), queueing on one
// direction only (always, or in bursts), correlated congestion (on/off periods of high delay),
// route changes at set times, outages (loss bursts), symmetric normal jitter each way and the
// replay of a recorded delay trace.

import { exponential, normal, type Rng } from "../proto/rng.ts";

/** Law of the jitter term E (unit mean in every case, so J keeps its meaning). */
export type JitterLaw =
  | { kind: "exp" }
  /** Pareto with tail index `alpha` (> 1; below 2 its variance is infinite). */
  | { kind: "pareto"; alpha: number }
  /** Log-normal with log standard deviation `sigma`. */
  | { kind: "lognormal"; sigma: number }
  /**
   * Normal, mean 1 and standard deviation `sigma`: symmetric jitter, independent each way, whose
   * offset error (ε_up − ε_down)/2 is independent of the round trip (ε_up + ε_down), so a
   * low-delay sample is no more accurate than any other. Cut at 0 (no draw goes below it).
   */
  | { kind: "normal"; sigma: number };

/** Alternating on/off periods with exponential lengths (a two-state Markov process). */
export interface OnOff {
  /** Mean length of an "on" period (s). */
  onMeanSec: number;
  /** Mean length of an "off" period (s). */
  offMeanSec: number;
}

/** Queueing that adds Exp(mean) delay to one or both directions, optionally only in bursts. */
export interface Queueing {
  /** Mean queueing delay towards the server (s); 0 for none. */
  upMeanSec: number;
  /** Mean queueing delay back from the server (s); 0 for none. */
  downMeanSec: number;
  /** Present only during the on periods of this process; always when absent. */
  bursts?: OnOff;
  /** Extra fixed delay while the queue is present (s), per direction with a mean above 0. */
  standingSec?: number;
}

/** A change of the path's parameters at a time (a route change). */
export interface PathChange {
  atSec: number;
  baseDelaySec?: number;
  jitterSec?: number;
  asymmetry?: number;
  extraUpSec?: number;
  extraDownSec?: number;
}

/** One recorded exchange: up and down one-way delays (s), null for a lost packet. */
export interface TraceEntry {
  upSec: number | null;
  downSec: number | null;
}

/** Parameters of one client–server path. */
export interface PathOptions {
  baseDelaySec: number;
  jitterSec: number;
  asymmetry: number;
  lossProbability: number;
  /** Static extra delay per direction (s). */
  extraUpSec?: number;
  extraDownSec?: number;
  /** Law of E (default Exp(1)). */
  jitterLaw?: JitterLaw;
  /** Queueing on top of the jitter (one-sided when one mean is 0). */
  queueing?: Queueing;
  /** Route changes, in time order. */
  changes?: readonly PathChange[];
  /** Periods in which every packet is lost ([from, to) in true seconds). */
  outages?: readonly { fromSec: number; toSec: number }[];
  /**
   * A recorded trace that replaces the model: each request takes the next entry's up delay and
   * its reply the same entry's down delay (cycling), starting at a seeded position.
   */
  trace?: readonly TraceEntry[];
}

/** An on/off process advanced lazily to nondecreasing times. */
class OnOffState {
  #p: OnOff;
  #rng: Rng;
  #on = false;
  #until: number;

  constructor(p: OnOff, rng: Rng) {
    this.#p = p;
    this.#rng = rng;
    // Start in the stationary distribution.
    this.#on = rng.nextFloat() < p.onMeanSec / (p.onMeanSec + p.offMeanSec);
    this.#until = this.#length();
  }

  /** Whether the process is on at true time `t` (calls must not go back in time). */
  at(t: number): boolean {
    let guard = 0;
    while (t >= this.#until && guard++ < 1_000_000) {
      this.#on = !this.#on;
      this.#until += this.#length();
    }
    return this.#on;
  }

  #length(): number {
    const mean = this.#on ? this.#p.onMeanSec : this.#p.offMeanSec;
    return Math.max(1e-3, mean * exponential(this.#rng));
  }
}

/** A path with its own random stream. */
export class NetworkPath {
  #o: PathOptions;
  #rng: Rng;
  #bursts: OnOffState | null;
  #change = 0;
  #cur: {
    baseDelaySec: number;
    jitterSec: number;
    asymmetry: number;
    extraUpSec: number;
    extraDownSec: number;
  };
  #traceAt = 0;
  #pendingDown: number | null = null;

  /** Creates a path drawing from `rng`. */
  constructor(opts: PathOptions, rng: Rng) {
    this.#o = opts;
    this.#rng = rng;
    this.#cur = {
      baseDelaySec: opts.baseDelaySec,
      jitterSec: opts.jitterSec,
      asymmetry: opts.asymmetry,
      extraUpSec: opts.extraUpSec ?? 0,
      extraDownSec: opts.extraDownSec ?? 0,
    };
    const q = opts.queueing;
    this.#bursts = q?.bursts === undefined ? null : new OnOffState(q.bursts, rng);
    if (opts.trace !== undefined && opts.trace.length > 0) {
      this.#traceAt = Math.floor(rng.nextFloat() * opts.trace.length);
    }
  }

  /** One-way delay client→server (s) for a packet sent at true time `t`, or null when lost. */
  up(t = 0): number | null {
    const tr = this.#o.trace;
    if (tr !== undefined && tr.length > 0) {
      const e = tr[this.#traceAt % tr.length]!;
      this.#traceAt++;
      this.#pendingDown = e.downSec;
      return e.upSec;
    }
    this.#advance(t);
    const c = this.#cur;
    return this.#draw(t, 1 - 2 * c.asymmetry, c.extraUpSec, this.#o.queueing?.upMeanSec ?? 0);
  }

  /** One-way delay server→client (s) for a packet sent at true time `t`, or null when lost. */
  down(t = 0): number | null {
    const tr = this.#o.trace;
    if (tr !== undefined && tr.length > 0) {
      const d = this.#pendingDown;
      this.#pendingDown = null;
      return d;
    }
    this.#advance(t);
    const c = this.#cur;
    return this.#draw(t, 1 + 2 * c.asymmetry, c.extraDownSec, this.#o.queueing?.downMeanSec ?? 0);
  }

  /** Applies the route changes due by `t`. */
  #advance(t: number): void {
    const ch = this.#o.changes;
    if (ch === undefined) return;
    while (this.#change < ch.length && ch[this.#change]!.atSec <= t) {
      const c = ch[this.#change++]!;
      this.#cur = {
        baseDelaySec: c.baseDelaySec ?? this.#cur.baseDelaySec,
        jitterSec: c.jitterSec ?? this.#cur.jitterSec,
        asymmetry: c.asymmetry ?? this.#cur.asymmetry,
        extraUpSec: c.extraUpSec ?? this.#cur.extraUpSec,
        extraDownSec: c.extraDownSec ?? this.#cur.extraDownSec,
      };
    }
  }

  #draw(t: number, a: number, extra: number, queueMeanSec: number): number | null {
    const o = this.#o;
    if (o.outages !== undefined && o.outages.some((w) => t >= w.fromSec && t < w.toSec)) {
      return null;
    }
    if (o.lossProbability > 0 && this.#rng.nextFloat() < o.lossProbability) return null;
    const c = this.#cur;
    let d = c.baseDelaySec + extra + a * c.jitterSec * this.#jitter();
    if (queueMeanSec > 0 && (this.#bursts === null || this.#bursts.at(t))) {
      d += (o.queueing?.standingSec ?? 0) + queueMeanSec * exponential(this.#rng);
    }
    return d;
  }

  /** One draw of E (unit mean). */
  #jitter(): number {
    const law = this.#o.jitterLaw;
    if (law === undefined || law.kind === "exp") return exponential(this.#rng);
    if (law.kind === "pareto") {
      // Scale xm = (α − 1)/α gives mean 1 (the smallest draw is xm, not 0).
      const xm = (law.alpha - 1) / law.alpha;
      let u = this.#rng.nextFloat();
      while (u <= 0) u = this.#rng.nextFloat();
      return xm / u ** (1 / law.alpha);
    }
    if (law.kind === "normal") return Math.max(0, 1 + law.sigma * normal(this.#rng));
    // Log-normal with mean 1: μ = −σ²/2.
    return Math.exp(-law.sigma * law.sigma / 2 + law.sigma * normal(this.#rng));
  }
}

/** A line of a delay trace that could not be read. */
export class TraceSyntaxError extends SyntaxError {
  /** Creates the error for `file`, 1-based `line`. */
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = "TraceSyntaxError";
  }
}

/** Largest one-way delay a trace may hold (s). */
export const TRACE_MAX_DELAY_SEC = 60;

/**
 * Reads a delay trace: one exchange per line, "UP DOWN" in seconds (whitespace or a comma
 * between them), "-" or "lost" for a lost packet; "#" starts a comment; blank lines are skipped.
 * Throws a {@link TraceSyntaxError} naming the line for anything else, and for an empty trace.
 */
export function parseDelayTrace(text: string, file = "trace"): TraceEntry[] {
  const out: TraceEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const body = lines[i]!.replace(/#.*/, "").trim();
    if (body === "") continue;
    const fields = body.split(/[\s,]+/);
    if (fields.length !== 2) {
      throw new TraceSyntaxError(file, i + 1, `want "UP DOWN" delays, got ${fields.length} fields`);
    }
    const [up, down] = fields.map((f) => parseDelay(f, file, i + 1)) as [
      number | null,
      number | null,
    ];
    out.push({ upSec: up, downSec: down });
  }
  if (out.length === 0) throw new TraceSyntaxError(file, lines.length, "no delays in the trace");
  return out;
}

function parseDelay(field: string, file: string, line: number): number | null {
  if (field === "-" || field.toLowerCase() === "lost") return null;
  const v = Number(field);
  if (!Number.isFinite(v) || v < 0 || v > TRACE_MAX_DELAY_SEC || !/^[0-9.eE+-]+$/.test(field)) {
    throw new TraceSyntaxError(
      file,
      line,
      `"${field}" is not a delay in seconds (0 to ${TRACE_MAX_DELAY_SEC}, or - for lost)`,
    );
  }
  return v;
}
