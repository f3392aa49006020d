// Combining survivors into the system offset (RFC 5905 §11.2.3): a weighted average, where the
// RFC weight is 1/λ; Horae passes inverse variances from its estimator instead.

/** One survivor's contribution. */
export interface CombineInput {
  offsetSec: number;
  /** Weight (> 0): 1/root distance per RFC 5905, or an inverse variance. */
  weight: number;
  /** Frequency estimate (optional, combined the same way). */
  freq?: number;
}

/** Combined offset, frequency and the selection jitter about the first (system peer) input. */
export interface CombineResult {
  offsetSec: number;
  freq: number;
  /** RMS of offsets about the system peer's, weighted (RFC 5905 sys jitter component). */
  selectionJitterSec: number;
  /** Sum of weights. */
  weight: number;
}

/** Weighted combination; the first input is the system peer. Returns null for no inputs. */
export function combineSurvivors(inputs: readonly CombineInput[]): CombineResult | null {
  if (inputs.length === 0) return null;
  const peer = inputs[0]!;
  let w = 0;
  let x = 0;
  let f = 0;
  let j = 0;
  for (const i of inputs) {
    const wi = i.weight > 0 && Number.isFinite(i.weight) ? i.weight : 0;
    w += wi;
    x += wi * i.offsetSec;
    f += wi * (i.freq ?? 0);
    j += wi * (i.offsetSec - peer.offsetSec) ** 2;
  }
  if (w === 0) {
    return { offsetSec: peer.offsetSec, freq: peer.freq ?? 0, selectionJitterSec: 0, weight: 0 };
  }
  return { offsetSec: x / w, freq: f / w, selectionJitterSec: Math.sqrt(j / w), weight: w };
}
