// The JSON status file (`--status-file`): the daemon's system variables, associations with their
// selection tally and reject counters, written atomically so readers never see a torn file.
//
// Offsets, so that the first one an operator reads is the real one:
// - `offsetSec` (top level): true time minus the system clock now, by the daemon's estimate;
//   per association: that server's time minus the system clock now, by its estimator.
// - `lastOffsetSec`: what the discipline was given at the last clock update, measured against
//   the clock as already corrected (ntpq's `offset`): near 0 once converged, by design.
// - association `filterOffsetSec` (with `delaySec`, `jitterSec`, `dispersionSec`): ntpq's peer
//   columns, the RFC 5905 filter's minimum-delay sample of the last eight, measured against the
//   daemon's clock at that time (the virtual clock in observe mode).

import { diffSec, type NtpTime, toUnixNs } from "../proto/ntp_time.ts";
import { refidToString } from "../proto/packet.ts";
import { ntpTimeOfSec } from "../proto/leap_seconds.ts";
import { writeFileAtomic } from "../files/safe_file.ts";
import type { DaemonStatus } from "./daemon_status.ts";
import type { AssociationSnapshot } from "../proto/association.ts";

/**
 * Format version of the document (bumped on incompatible changes). 2: `offsetSec` is the real
 * offset of the system clock (top level) or of the server from it (associations); the
 * discipline's input moved to `lastOffsetSec` and ntpq's peer offset to `filterOffsetSec`.
 */
export const STATUS_FORMAT = 2;

/** ntpq's tally characters: system peer, survivor, falseticker, anything else. */
export type Tally = "*" | "+" | "x" | " ";

/** One association in the status file. */
export interface StatusAssociation {
  id: number;
  address: string;
  port: number;
  name: string | null;
  kind: string;
  /**
   * ntpq -p's type column: "u" server, "p" pool member, "l" reference clock, "s" symmetric
   * active (`peer`), "S" symmetric passive (mobilised by a peer's packet), as NTPsec prints it.
   */
  type: string;
  /** Host and peer mode (ntpq's hmode, pmode; pmode 0 before the peer's first packet). */
  hmode: number;
  pmode: number;
  /** Mobilised by a packet (demobilised once unreachable) rather than configured. */
  ephemeral: boolean;
  /** "*" system peer, "+" survivor, "x" falseticker, " " not selectable now. */
  tally: Tally;
  /** Reach register as three octal digits, as ntpq prints it. */
  reach: string;
  pollSec: number;
  stratum: number | null;
  refid: string | null;
  /**
   * This server's time minus the system clock now, by the association's estimator (and, in
   * observe mode, the correction the daemon keeps): how far the system clock is from it.
   */
  offsetSec: number | null;
  /** ntpq's peer `offset`: the filter's minimum-delay sample, against the daemon's clock. */
  filterOffsetSec: number | null;
  delaySec: number | null;
  jitterSec: number | null;
  dispersionSec: number | null;
  sent: number;
  received: number;
  kod: number;
  dead: boolean;
  /** Replies not used, by reason (bogus_origin, zero_transmit, stratum0, distance, ...). */
  rejected: Record<string, number>;
}

/** ISO 8601 text of an NTP time (null for 0, "never"). */
export function isoTime(t: NtpTime): string | null {
  if (t === 0n) return null;
  return new Date(Number(toUnixNs(t) / 1_000_000n)).toISOString();
}

/** A refid as ntpq shows it: text for stratum 0, 1 and 16 (kiss codes, clocks, INIT), else an address. */
export function refidText(refid: number, stratum: number): string {
  return refidToString(refid, stratum >= 16 ? 0 : stratum);
}

/** ntpq -p's type letter for an association (see StatusAssociation.type). */
export function associationType(a: AssociationSnapshot): string {
  switch (a.hostMode) {
    case 1:
      return "s";
    case 2:
      return "S";
    case 5: // a broadcast server: to a group (multicast) or a broadcast address
      return isGroup(a.address.address) ? "M" : "B";
    case 6: // ntpd's broadcast client host mode: a multicast client (m) or a broadcast one (b)
      return a.group !== undefined ? "m" : "b";
  }
  // A manycast client's search names its group.
  if (a.kind === "manycast" || isGroup(a.address.address)) return "a";
  return a.kind === "refclock" ? "l" : a.kind === "pool" ? "p" : "u";
}

/** An IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) group address. */
function isGroup(address: string): boolean {
  if (address.includes(":")) return /^ff/i.test(address);
  const first = Number(address.split(".")[0]);
  return first >= 224 && first <= 239;
}

function fin(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : x;
}

/** Builds the status document (plain JSON data) from a daemon status at system time `now`. */
export function statusDocument(s: DaemonStatus, now: NtpTime): Record<string, unknown> {
  const sys = s.system;
  // Server time minus system clock = the estimate against the corrected clock + the correction
  // still outstanding (pending slew, and the virtual clock's in observe mode).
  const clockOffset = fin(s.systemClockOffsetSec);
  const survivors = new Set(sys?.survivors ?? []);
  const falsetickers = new Set(sys?.falsetickers ?? []);
  const associations: StatusAssociation[] = (sys?.associations ?? []).map((a) => {
    const tally: Tally = a.id === sys?.systemPeer
      ? "*"
      : falsetickers.has(a.id)
      ? "x"
      : survivors.has(a.id)
      ? "+"
      : " ";
    const rejected: Record<string, number> = {};
    for (const [k, v] of Object.entries(a.rejected)) if (v !== undefined) rejected[k] = v;
    return {
      id: a.id,
      address: a.address.address,
      port: a.address.port,
      name: a.name,
      kind: a.kind,
      type: associationType(a),
      hmode: a.hostMode ?? 3,
      pmode: a.peerMode ?? 0,
      ephemeral: a.ephemeral ?? false,
      tally,
      reach: a.reach.toString(8).padStart(3, "0"),
      pollSec: a.pollSec,
      stratum: a.server?.stratum ?? null,
      refid: a.server === null ? null : refidText(a.server.refid, a.server.stratum),
      offsetSec: a.estimateOffsetSec === null || clockOffset === null
        ? null
        : fin(a.estimateOffsetSec + clockOffset),
      filterOffsetSec: fin(a.offsetSec),
      delaySec: fin(a.delaySec),
      jitterSec: fin(a.jitterSec),
      dispersionSec: fin(a.dispersionSec),
      sent: a.sent,
      received: a.received,
      kod: a.kod,
      dead: a.dead,
      rejected,
      // NTS associations (`server NAME nts`): cookies held, NTS-KE, NAKs, refused replies.
      ...(a.nts !== undefined
        ? {
          nts: {
            cookies: a.nts.cookies,
            aeadId: a.nts.aeadId,
            keCount: a.nts.keCount,
            keFailures: a.nts.keFailures,
            lastKe: a.nts.lastKeUnixSec === null
              ? null
              : new Date(a.nts.lastKeUnixSec * 1000).toISOString(),
            naks: a.nts.naks,
            authFailures: a.nts.authFailures,
            needsKe: a.nts.needsKe,
          },
        }
        : {}),
    };
  });
  const st = s.state;
  const synced = st.leap !== 3 && st.stratum < 16;
  return {
    format: STATUS_FORMAT,
    time: isoTime(now),
    // False in the last document a daemon writes as it exits (see markStopped).
    running: true,
    synchronized: synced,
    source: s.source,
    leap: st.leap,
    stratum: st.stratum,
    refid: refidText(st.refid, st.stratum),
    rootDelaySec: st.rootDelaySec,
    rootDispersionSec: st.rootDispersionSec,
    referenceTime: isoTime(st.referenceTime),
    referenceAgeSec: st.referenceTime === 0n ? null : Math.max(0, diffSec(now, st.referenceTime)),
    // Orphan mode (`tos orphan`): "parent", "child", "waiting" (orphanwait runs), or null (off,
    // or a real source is followed).
    orphan: sys?.orphan ?? null,
    systemPeer: sys === null || sys.systemPeer === null ? null : {
      id: sys.systemPeer,
      address: sys.associations.find((a) => a.id === sys.systemPeer)?.address.address ?? null,
    },
    // True time minus the system clock now: how far the system clock is off.
    offsetSec: clockOffset,
    // The same, under its format 1 name.
    systemClockOffsetSec: clockOffset,
    // The discipline's input at the last clock update (ntpq's `offset`).
    lastOffsetSec: sys?.offsetSec ?? null,
    sysJitterSec: sys?.sysJitterSec ?? null,
    frequencyPpm: sys?.freqPpm ?? null,
    discipline: sys?.discipline ?? null,
    loopState: sys?.state ?? null,
    systemPollLog2: sys?.pollLog2 ?? null,
    leapSecond: sys === null ? null : {
      pending: sys.leapStatus.pending,
      armed: sys.leapStatus.armed,
      source: sys.leapStatus.source,
      at: sys.leapStatus.atNtpSec === null ? null : isoTime(ntpTimeOfSec(sys.leapStatus.atNtpSec)),
    },
    driftPpm: s.driftPpm,
    observe: s.observe === null ? null : {
      reason: s.observe.reason,
      correctionSec: s.observe.correction.correctionSec,
      relativeFreqPpm: s.observe.correction.relativeFreqPpm,
      steps: s.observe.correction.steps,
    },
    counters: {
      ...(sys?.counters ?? {}),
      ...(s.timekeeper ?? {}),
    },
    // ntpq's sysstats, exact over every thread; received = processed + the sum of `drops`.
    sysstats: s.sysstats,
    server: s.server,
    mru: s.mru,
    // Per server thread (0 = main thread); sysstats above are their sum.
    serverThreads: s.serverThreads,
    listening: s.listening.map((a) => ({ address: a.address, port: a.port })),
    dropping: s.dropping.map((a) => ({ address: a.address, port: a.port })),
    interfaceDropped: s.interfaceDropped,
    // Group sockets joined and their drops (null: no broadcast or multicast configured).
    multicast: s.multicast === undefined || s.multicast === null ? null : {
      groups: s.multicast.groups.map((a) => ({ address: a.address, port: a.port })),
      groupDropped: s.multicast.groupDropped,
      ttlErrors: s.multicast.ttlErrors,
    },
    sources: s.sources,
    associations,
    // `--loop-lag-ms`: timer lateness on the main thread (null when the probe is off).
    eventLoop: s.eventLoop,
    // NTS-KE: the server's counters (null when `nts enable` is off) and the client's exchanges
    // (null when NTS is not configured at all).
    nts: s.nts ?? null,
    // `nts enable`: the cookie master keys (key file, key id in use, keys kept, last failure).
    ntsCookieKeys: s.ntsCookieKeys ?? null,
  };
}

/**
 * The daemon's last document, written as it exits: `running` false, `stopped` the time it
 * stopped (the document's `time`), and `synchronized` false (nothing serves that time any more);
 * the rest is the state at exit, for the post-mortem.
 */
export function markStopped(doc: Record<string, unknown>): Record<string, unknown> {
  return { ...doc, running: false, stopped: doc.time ?? null, synchronized: false };
}

/** Mode of a new status file: readable by monitoring tools running as any user. */
export const STATUS_FILE_MODE = 0o644;

/**
 * Writes the document as JSON atomically (a fresh temporary file in the same folder, then
 * rename); a link planted at the path is refused, never followed (lib/files/safe_file.ts).
 */
export async function writeStatusFile(path: string, doc: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(doc, null, 2) + "\n", STATUS_FILE_MODE);
}
