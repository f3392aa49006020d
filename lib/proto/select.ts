// Selection of truechimers by interval intersection (RFC 5905 §11.2.1, Marzullo's algorithm as
// ntpd 4.2.x applies it): the largest set of correctness intervals sharing a common point.

/** A candidate for selection: its offset and correctness-interval half-width. */
export interface SelectCandidate {
  id: number;
  /** Offset θ (seconds). */
  offsetSec: number;
  /** Root distance λ (seconds): the interval is [θ − λ, θ + λ]. */
  rootDistanceSec: number;
}

/** Result of the intersection: survivors and the intersection interval, or why there are none. */
export type SelectResult =
  | { ok: true; survivors: number[]; lowSec: number; highSec: number; falsetickers: number[] }
  | { ok: false; reason: "no_candidates" | "no_majority" | "too_few" };

/**
 * Finds the intersection interval containing the midpoints of a majority and returns the
 * candidates whose intervals overlap it. `minSane` is tos minsane: fewer survivors is failure.
 */
export function selectTruechimers(
  candidates: readonly SelectCandidate[],
  minSane = 1,
): SelectResult {
  const n = candidates.length;
  if (n === 0) return { ok: false, reason: "no_candidates" };
  const ends: { v: number; type: number }[] = [];
  for (const c of candidates) {
    const lam = Math.max(0, c.rootDistanceSec);
    ends.push({ v: c.offsetSec - lam, type: -1 });
    ends.push({ v: c.offsetSec, type: 0 });
    ends.push({ v: c.offsetSec + lam, type: 1 });
  }
  // Ties: lower ends first, then midpoints, then upper ends, so touching intervals intersect.
  ends.sort((a, b) => a.v - b.v || a.type - b.type);
  let low = Infinity;
  let high = -Infinity;
  let found = false;
  for (let allow = 0; 2 * allow < n; allow++) {
    let count = 0;
    let mids = 0;
    low = Infinity;
    for (const e of ends) {
      count -= e.type;
      if (count >= n - allow) {
        low = e.v;
        break;
      }
      if (e.type === 0) mids++;
    }
    count = 0;
    high = -Infinity;
    for (let i = ends.length - 1; i >= 0; i--) {
      const e = ends[i]!;
      count += e.type;
      if (count >= n - allow) {
        high = e.v;
        break;
      }
      if (e.type === 0) mids++;
    }
    if (mids <= allow && low <= high) {
      found = true;
      break;
    }
  }
  if (!found) return { ok: false, reason: "no_majority" };
  const survivors: number[] = [];
  const falsetickers: number[] = [];
  for (const c of candidates) {
    const lam = Math.max(0, c.rootDistanceSec);
    if (c.offsetSec + lam < low || c.offsetSec - lam > high) falsetickers.push(c.id);
    else survivors.push(c.id);
  }
  if (survivors.length < minSane) return { ok: false, reason: "too_few" };
  return { ok: true, survivors, lowSec: low, highSec: high, falsetickers };
}
