// ntpdate's choice among the servers it sampled (ntpdate(8) of ntpd 4.2.8: "a subset of the NTP
// clock filter and selection algorithms"), built from the core's pieces: each server's samples
// go through the core's clock filter (the minimum-delay sample of the register, RFC 5905 §10),
// the servers that qualify go through selection (select.ts, RFC 5905 §11.2.1) and clustering
// (cluster.ts, §11.2.2), and the system peer is the survivor of least merit, whose offset is the
// result. combine.ts (§11.2.3) adds the weighted offset and selection jitter of the survivors.
//
// COMPAT: the filter dispersion sums over the samples a server answered, not over the eight
// stages of a daemon's register (whose empty stages count MAXDISPERSE each): a one-shot tool has
// a few samples by design, and `ntpdate -p 1` or a server that lost half the requests still
// qualifies, as it does for ntpdate.

import { type ClusterCandidate, clusterSurvivors } from "../proto/cluster.ts";
import { combineSurvivors } from "../proto/combine.ts";
import type { ClockFilter, FilterSample } from "../proto/clock_filter.ts";
import {
  LEAP_NOTINSYNC,
  MAXDISPERSE,
  MAXDIST,
  MAXSTRAT,
  MINDISP,
  NTP_MINCLOCK,
} from "../proto/constants.ts";
import type { NtpTime } from "../proto/ntp_time.ts";
import { type SelectCandidate, selectTruechimers } from "../proto/select.ts";

/** What the last valid reply of a server said about it. */
export interface ServerVars {
  leap: number;
  stratum: number;
  precisionLog2: number;
  rootDelaySec: number;
  rootDispersionSec: number;
  refid: number;
}

/** The filter's view of one server: its minimum-delay sample, dispersion and jitter. */
export interface FilterResult {
  offsetSec: number;
  delaySec: number;
  /** The filter dispersion over the samples answered (see the file comment). */
  dispersionSec: number;
  jitterSec: number;
  /** Samples the filter took. */
  count: number;
}

/**
 * The filter dispersion of `samples` (one entry per request: a sample, or null for one that got
 * no usable answer): the answered ones sorted by delay, the i-th weighing 2^-(i+1) (RFC 5905
 * §10's sum, over the samples there are).
 */
export function filterDispersion(samples: readonly (FilterSample | null)[]): number {
  const kept = samples.filter((s): s is FilterSample => s !== null).sort((a, b) =>
    a.delaySec - b.delaySec
  );
  let sum = 0;
  for (let i = 0; i < kept.length; i++) {
    sum += Math.min(MAXDISPERSE, kept[i]!.dispersionSec) / 2 ** (i + 1);
  }
  return sum;
}

/** The filter result of a server from its core clock filter, or null before any sample. */
export function filterResult(
  filter: ClockFilter,
  samples: readonly (FilterSample | null)[],
  now: NtpTime,
): FilterResult | null {
  const rfc = filter.rfcState(now);
  if (rfc === null) return null;
  return {
    offsetSec: rfc.offsetSec,
    delaySec: rfc.delaySec,
    dispersionSec: filterDispersion(samples),
    jitterSec: rfc.jitterSec,
    count: rfc.count,
  };
}

/** A server as selection sees it. */
export interface Contender {
  /** Index in the command line's server list. */
  index: number;
  vars: ServerVars | null;
  filter: FilterResult | null;
}

/** Why a server took no part in the final choice. */
export type DropReason =
  | "no_data" // no usable reply
  | "unsynchronized" // leap 3 or stratum 0/16
  | "distance" // root distance at or beyond MAXDIST
  | "falseticker" // outside the intersection
  | "outlier"; // cast off by clustering

/** The outcome of selection. */
export interface DateChoice {
  /** Index of the system peer, or null when no server qualifies. */
  chosen: number | null;
  /** Its offset (s): the result ntpdate applies. */
  offsetSec: number | null;
  /** Survivors of selection and clustering, best first. */
  survivors: number[];
  /** Each server that did not survive, and why. */
  dropped: Map<number, DropReason>;
  /** Root distance λ of each server with data (s). */
  distanceSec: Map<number, number>;
  /** The survivors' offsets weighted by 1/λ (s), and their selection jitter. */
  combinedOffsetSec: number | null;
  selectionJitterSec: number | null;
}

/**
 * Root distance λ (RFC 5905 Appendix A.5.5.2): half the round trip to the primary (at least
 * MINDISP), plus the root dispersion, the filter dispersion and the jitter.
 */
export function rootDistanceSec(vars: ServerVars, f: FilterResult): number {
  return Math.max(MINDISP, vars.rootDelaySec + f.delaySec) / 2 + vars.rootDispersionSec +
    f.dispersionSec + f.jitterSec;
}

/** Chooses the server whose offset ntpdate applies (pure). */
export function chooseServer(contenders: readonly Contender[]): DateChoice {
  const dropped = new Map<number, DropReason>();
  const distance = new Map<number, number>();
  const select: SelectCandidate[] = [];
  const byIndex = new Map<number, Contender>();
  for (const c of contenders) {
    const v = c.vars;
    if (v !== null && (v.leap === LEAP_NOTINSYNC || v.stratum <= 0 || v.stratum >= MAXSTRAT)) {
      dropped.set(c.index, "unsynchronized");
      continue;
    }
    if (v === null || c.filter === null) {
      dropped.set(c.index, "no_data");
      continue;
    }
    const lambda = rootDistanceSec(v, c.filter);
    distance.set(c.index, lambda);
    if (!(lambda < MAXDIST)) {
      dropped.set(c.index, "distance");
      continue;
    }
    select.push({ id: c.index, offsetSec: c.filter.offsetSec, rootDistanceSec: lambda });
    byIndex.set(c.index, c);
  }
  const none: DateChoice = {
    chosen: null,
    offsetSec: null,
    survivors: [],
    dropped,
    distanceSec: distance,
    combinedOffsetSec: null,
    selectionJitterSec: null,
  };
  const sel = selectTruechimers(select);
  if (!sel.ok) {
    for (const s of select) dropped.set(s.id, "falseticker");
    return none;
  }
  for (const id of sel.falsetickers) dropped.set(id, "falseticker");
  // Merit: stratum first, then root distance (ntpd's stratum × MAXDIST + λ).
  const cluster: ClusterCandidate[] = sel.survivors.map((id) => {
    const c = byIndex.get(id)!;
    return {
      id,
      offsetSec: c.filter!.offsetSec,
      jitterSec: c.filter!.jitterSec,
      merit: c.vars!.stratum * MAXDIST + distance.get(id)!,
    };
  });
  const cl = clusterSurvivors(cluster, NTP_MINCLOCK);
  for (const id of cl.outliers) dropped.set(id, "outlier");
  const chosen = cl.survivors[0]!;
  const combined = combineSurvivors(cl.survivors.map((id) => ({
    offsetSec: byIndex.get(id)!.filter!.offsetSec,
    weight: 1 / distance.get(id)!,
  })));
  return {
    chosen,
    offsetSec: byIndex.get(chosen)!.filter!.offsetSec,
    survivors: cl.survivors,
    dropped,
    distanceSec: distance,
    combinedOffsetSec: combined?.offsetSec ?? null,
    selectionJitterSec: combined?.selectionJitterSec ?? null,
  };
}
