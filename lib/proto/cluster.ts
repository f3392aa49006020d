// Clustering (RFC 5905 §11.2.2): repeatedly drop the survivor that adds the most selection
// jitter until the rest agree within their own jitter or only `minClock` remain.

/** A survivor entering the cluster algorithm. */
export interface ClusterCandidate {
  id: number;
  offsetSec: number;
  /** Peer jitter ψ (seconds). */
  jitterSec: number;
  /** Merit for ordering: lower is better (ntpd: stratum × MAXDISTANCE + root distance). */
  merit: number;
  /**
   * Never cast off (the prefer peer): the algorithm stops instead, as ntpd's does when the
   * survivor it would drop is the prefer peer or a `true` source.
   */
  keep?: boolean;
}

/** Survivors in merit order (best first) and the ids cast off as outliers. */
export interface ClusterResult {
  survivors: number[];
  outliers: number[];
}

/** Runs the cluster algorithm; `minClock` is tos minclock (default 3). */
export function clusterSurvivors(
  candidates: readonly ClusterCandidate[],
  minClock = 3,
): ClusterResult {
  const list = [...candidates].sort((a, b) => a.merit - b.merit);
  const outliers: number[] = [];
  while (list.length > Math.max(1, minClock)) {
    let maxSel = -1;
    let maxAt = 0;
    let minPeer = Infinity;
    for (let i = 0; i < list.length; i++) {
      const ci = list[i]!;
      let sum = 0;
      for (const cj of list) sum += (ci.offsetSec - cj.offsetSec) ** 2;
      const sel = Math.sqrt(sum / (list.length - 1));
      if (sel > maxSel) {
        maxSel = sel;
        maxAt = i;
      }
      if (ci.jitterSec < minPeer) minPeer = ci.jitterSec;
    }
    if (maxSel <= minPeer || list[maxAt]!.keep) break;
    outliers.push(list[maxAt]!.id);
    list.splice(maxAt, 1);
  }
  return { survivors: list.map((c) => c.id), outliers };
}
