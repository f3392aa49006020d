// The simulated network path (SIM_SCENARIOS.md): one-way delay d = D + a·J·E with E ~ Exp(1),
// a = 1 − 2·asym towards the server and 1 + 2·asym back, and independent loss per direction.

import { exponential, type Rng } from "../proto/rng.ts";

/** Parameters of one client–server path. */
export interface PathOptions {
  baseDelaySec: number;
  jitterSec: number;
  asymmetry: number;
  lossProbability: number;
  /** Static extra delay per direction (s). */
  extraUpSec?: number;
  extraDownSec?: number;
}

/** A path with its own random stream. */
export class NetworkPath {
  #o: PathOptions;
  #rng: Rng;

  /** Creates a path drawing from `rng`. */
  constructor(opts: PathOptions, rng: Rng) {
    this.#o = opts;
    this.#rng = rng;
  }

  /** One-way delay client→server (s), or null when the packet is lost. */
  up(): number | null {
    return this.#draw(1 - 2 * this.#o.asymmetry, this.#o.extraUpSec ?? 0);
  }

  /** One-way delay server→client (s), or null when the packet is lost. */
  down(): number | null {
    return this.#draw(1 + 2 * this.#o.asymmetry, this.#o.extraDownSec ?? 0);
  }

  #draw(a: number, extra: number): number | null {
    const o = this.#o;
    if (o.lossProbability > 0 && this.#rng.nextFloat() < o.lossProbability) return null;
    return o.baseDelaySec + extra + a * o.jitterSec * exponential(this.#rng);
  }
}
