// What the control protocol reads: a small read-only view of the system, its associations, its
// reference clocks, the sysstats counters and the MRU list, which the daemon implements from its
// snapshots (NtpSystem.snapshot(), the refclock host, SysStats, MruList). The control server
// never reaches into the daemon: everything it shows comes through this interface.

import type { MruEntry } from "../access/mru.ts";
import type { NtpTime } from "../ntp_time.ts";
import type { SysStatsSnapshot } from "../sys_stats.ts";
import type { SystemSnapshot } from "../system.ts";
import type { AssociationSnapshot, RejectReason } from "../association.ts";
import { MODE_CLIENT, MODE_SERVER } from "../constants.ts";
import type { PeerAddress } from "../events.ts";

/** Where the system's time comes from, as the system status word codes it (CTL_SST_TS_*). */
export const SyncSource = {
  UNSPEC: 0,
  ATOM: 1,
  LF: 2,
  HF: 3,
  UHF: 4,
  LOCAL: 5,
  NTP: 6,
  UDPTIME: 7,
  WRSTWTCH: 8,
  TELEPHONE: 9,
} as const;

/** Selection status of an association (the peer status word's 3-bit field, ntpq's tally). */
export const PeerSelect = {
  REJECT: 0,
  FALSETICK: 1,
  EXCESS: 2,
  OUTLIER: 3,
  CANDIDATE: 4,
  BACKUP: 5,
  SYSPEER: 6,
  PPSPEER: 7,
} as const;

/** Who the program is: the `version`, `processor` and `system` variables. */
export interface ControlIdentity {
  /** e.g. "horae 0.4.0". */
  version: string;
  /** e.g. "x86_64". */
  processor: string;
  /** e.g. "Linux/6.1.0". */
  system: string;
}

/** The system variables (ntpq `rv 0`). */
export interface ControlSystem {
  /** Leap indicator 0–3. */
  leap: number;
  /** Stratum 1–16. */
  stratum: number;
  precisionLog2: number;
  rootDelaySec: number;
  rootDispersionSec: number;
  /** Reference id, big-endian 32-bit. */
  refid: number;
  /** Last clock update (0n: never). */
  referenceTime: NtpTime;
  /** The system clock now. */
  clock: NtpTime;
  /** Where the time comes from ({@link SyncSource}). */
  source: number;
  /** Association id of the system peer (0: none). */
  systemPeer: number;
  /** The system peer's mode (0: none). */
  systemPeerMode: number;
  /** System poll exponent (`tc`). */
  pollLog2: number;
  /** Smallest system poll exponent (`mintc`). */
  minPollLog2: number;
  /** Last clock offset (s). */
  offsetSec: number;
  /** Frequency correction (ppm). */
  freqPpm: number;
  /** System jitter (s). */
  sysJitterSec: number;
  /** Clock jitter (s). */
  clockJitterSec: number;
  /** Clock frequency wander (ppm). */
  clockWanderPpm: number;
  /** Leap-second table facts when one is loaded: TAI offset, its date and expiry (NTP s). */
  leapTable?: { taiSec: number; leapAt: NtpTime; expire: NtpTime } | null;
}

/** One stage of an association's clock filter. */
export interface ControlFilterStage {
  delaySec: number;
  offsetSec: number;
  dispersionSec: number;
}

/** One association (ntpq `rv &n`). */
export interface ControlPeer {
  /** Association id. */
  id: number;
  /** The server's address and port. */
  srcAddress: string;
  srcPort: number;
  /** The configured name, or null. */
  srcHost: string | null;
  /** Local address and port its packets arrive on ("0.0.0.0" when not known). */
  dstAddress: string;
  dstPort: number;
  /** Mobilised by the configuration (not by a pool or a packet). */
  configured: boolean;
  /** A key is configured for it. */
  authEnabled: boolean;
  /** Its last packet was authenticated. */
  authentic: boolean;
  /** {@link PeerSelect} code. */
  selection: number;
  /** The server's system variables (leap 3, stratum 16 and zeros before its first reply). */
  leap: number;
  stratum: number;
  precisionLog2: number;
  rootDelaySec: number;
  rootDispersionSec: number;
  refid: number;
  referenceTime: NtpTime;
  /** When its last packet arrived (0n: never). */
  receiveTime: NtpTime;
  /** Reach register. */
  reach: number;
  /** Polls since it was last reached, null when not tracked. */
  unreach: number | null;
  /** Our mode (3 for a client association) and the peer's (4 once it answered). */
  hostMode: number;
  peerMode: number;
  /** Host and peer poll exponents. */
  hostPollLog2: number;
  peerPollLog2: number;
  /** Minimum headway (s) before the next request may go, 0 when none. */
  headwaySec: number;
  /** Tests the last packet failed (ntpd's flash bits), null when not tracked. */
  flash: number | null;
  /** Key id used (0: none). */
  keyId: number;
  /** Filter outputs, null before the first sample. */
  offsetSec: number | null;
  delaySec: number | null;
  dispersionSec: number | null;
  jitterSec: number | null;
  /** The filter register, newest first, or null when it is not available. */
  filter: ControlFilterStage[] | null;
  /** Set for a reference clock (its clock variables). */
  clock?: ControlClock | null;
  /** Set for an NTS association (`server NAME nts`): its cookies and NTS-KE counts. */
  nts?: ControlNts | null;
}

/** An NTS association's state (RFC 8915), for ntpq's NTS peer variables. */
export interface ControlNts {
  /** Cookies held now. */
  cookies: number;
  /** Successful and failed NTS-KE exchanges. */
  keCount: number;
  keFailures: number;
  /** When NTS-KE last succeeded (Unix seconds), null: never. */
  lastKeUnixSec: number | null;
  /** NTS NAKs received, replies refused by the NTS checks. */
  naks: number;
  authFailures: number;
}

/** The clock variables of a reference clock (ntpq `cv`). */
export interface ControlClock {
  /** Driver type (ntpd's 127.127.t.u `t`). */
  type: number;
  /** Driver name, e.g. "LOCAL(0)". */
  name: string;
  /** Last timecode received, "" when none. */
  timecode: string;
  /** Polls so far. */
  polls: number;
  noReply: number;
  badFormat: number;
  badData: number;
  fudgeTime1Sec: number;
  fudgeTime2Sec: number;
  stratum: number;
  refid: number;
  /** fudge flags 1–4 as bits 0–3. */
  flags: number;
  /** Clock status code (0 nominal ... 6 bad time) and last event code. */
  status: number;
  lastEvent: number;
}

/** The kernel clock's variables (ntpq `kerninfo`), as ntp_adjtime reports them. */
export interface ControlKernel {
  offsetSec: number;
  freqPpm: number;
  maxErrorSec: number;
  estErrorSec: number;
  /** STA_* status bits. */
  status: number;
  /** PLL time constant (log2). */
  constant: number;
  precisionSec: number;
  toleranceSppm: number;
  /** The kernel PPS discipline's readout (ntp_adjtime's pps fields), when the kernel has one. */
  pps?: {
    freqPpm: number;
    jitterSec: number;
    /** Calibration interval (log2 s). */
    intervalLog2: number;
    stabilityPpm: number;
    jitterExceeded: number;
    calibrations: number;
    errors: number;
    stabilityExceeded: number;
  };
}

/** Socket counters (ntpq `iostats`). */
export interface ControlIo {
  /** Seconds since the counters started. */
  sinceResetSec: number;
  received: number;
  sent: number;
  sendFailed: number;
  /** Datagrams dropped before the packet path (truncated, `interface drop`). */
  dropped: number;
}

/** The daemon's side: everything the control server reads, all read-only. */
export interface ControlView {
  /** Who we are. */
  readonly identity: ControlIdentity;
  /** The system variables at `now`. */
  system(now: NtpTime): ControlSystem;
  /** The associations at `now`, by ascending id. */
  peers(now: NtpTime): ControlPeer[];
  /** ntpd's sysstats counters (the packet path's), or null when there are none. */
  sysstats(): SysStatsSnapshot | null;
  /** MRU entries, most recent first, or null when the list is off (no monitoring). */
  mru(): MruEntry[] | null;
  /** The kernel clock, or null when there is none to read. */
  kernel?(): ControlKernel | null;
  /** Socket counters, or null. */
  io?(): ControlIo | null;
}

/**
 * Peer status byte (the high byte of the peer status word without the event fields).
 * configured 0x80, auth enabled 0x40, authentic 0x20, reachable 0x10, then the selection code.
 */
export function peerStatusByte(p: ControlPeer): number {
  return (p.configured ? 0x80 : 0) | (p.authEnabled ? 0x40 : 0) | (p.authentic ? 0x20 : 0) |
    (p.reach !== 0 ? 0x10 : 0) | (p.selection & 7);
}

/** Options for {@link peersFromSnapshot}. */
export interface PeerExtras {
  /** The local address and port the daemon polls `server` from. */
  local?: (server: PeerAddress) => { address: string; port: number } | null;
  /** Last receive time per association id. */
  receiveTime?: (id: number) => NtpTime | null;
  /** Polls without an answer per association id. */
  unreach?: (id: number) => number;
  /** Key id per association id. */
  keyId?: (id: number) => number;
  /** Filter register per association id, newest first. */
  filter?: (id: number) => ControlFilterStage[] | null;
}

/**
 * The associations of a core snapshot as control peers: selection from the snapshot's system
 * peer, survivors and falsetickers; the server's variables from its last reply. What the
 * snapshot does not carry comes from `extras` (or is given as unknown).
 */
export function peersFromSnapshot(snap: SystemSnapshot, extras: PeerExtras = {}): ControlPeer[] {
  const survivors = new Set(snap.survivors);
  const falsetickers = new Set(snap.falsetickers);
  return [...snap.associations].sort((a, b) => a.id - b.id).map((a) =>
    peerFromAssociation(a, selectionOf(a, snap.systemPeer, survivors, falsetickers), extras)
  );
}

function selectionOf(
  a: AssociationSnapshot,
  systemPeer: number | null,
  survivors: Set<number>,
  falsetickers: Set<number>,
): number {
  if (a.id === systemPeer) return PeerSelect.SYSPEER;
  if (survivors.has(a.id)) return PeerSelect.CANDIDATE;
  if (falsetickers.has(a.id)) return PeerSelect.FALSETICK;
  // Answering and measured but left out by clustering (or not yet used): an outlier.
  if (a.reach !== 0 && a.offsetSec !== null && !a.dead) return PeerSelect.OUTLIER;
  return PeerSelect.REJECT;
}

function peerFromAssociation(
  a: AssociationSnapshot,
  selection: number,
  x: PeerExtras,
): ControlPeer {
  const s = a.server;
  const local = x.local?.(a.address) ?? null;
  return {
    id: a.id,
    srcAddress: a.address.address,
    srcPort: a.address.port,
    srcHost: a.name,
    // A multicast client's packets come to its group (ntpd shows that socket's address).
    dstAddress: a.group ?? local?.address ?? (a.address.family === 6 ? "::" : "0.0.0.0"),
    dstPort: local?.port ?? 0,
    configured: a.kind !== "pool" && a.ephemeral !== true,
    authEnabled: (x.keyId?.(a.id) ?? a.keyId) !== 0,
    authentic: a.authentic,
    selection,
    leap: s?.leap ?? 3,
    stratum: s?.stratum ?? 16,
    precisionLog2: s?.precisionLog2 ?? 0,
    rootDelaySec: s?.rootDelaySec ?? 0,
    rootDispersionSec: s?.rootDispersionSec ?? 0,
    refid: s?.refid ?? 0,
    referenceTime: s?.referenceTime ?? 0n,
    receiveTime: x.receiveTime?.(a.id) ?? 0n,
    reach: a.reach,
    unreach: x.unreach?.(a.id) ?? a.unanswered ?? null,
    hostMode: a.hostMode ?? MODE_CLIENT,
    peerMode: a.peerMode ?? (s === null ? 0 : MODE_SERVER),
    hostPollLog2: a.hostPollLog2,
    peerPollLog2: s?.pollLog2 ?? a.pollLog2,
    headwaySec: 0,
    flash: a.lastReject === undefined ? null : flashBits(a.lastReject),
    keyId: x.keyId?.(a.id) ?? a.keyId,
    offsetSec: a.offsetSec,
    delaySec: a.delaySec,
    dispersionSec: a.dispersionSec,
    jitterSec: a.jitterSec,
    filter: x.filter?.(a.id) ?? a.filter ?? null,
    ...(a.nts !== undefined ? { nts: a.nts } : {}),
  };
}

/** ntpd's flash bits (TEST1–TEST13, ntpq's `flash`) for why the last reply was not used. */
export const Flash = {
  DUP: 0x0001,
  BOGUS: 0x0002,
  UNSYNC: 0x0004,
  DENIED: 0x0008,
  AUTH: 0x0010,
  STRATUM: 0x0020,
  HEADER: 0x0040,
  DIST: 0x0400,
  UNREACH: 0x1000,
} as const;

/**
 * The flash bit of a reject reason, 0 when the reply was used (or failed only Horae's own
 * filtering: an outlier, a delay spike, a stale sample, none of which ntpd has a test for).
 */
export function flashBits(reason: RejectReason | null): number {
  switch (reason) {
    case "duplicate":
      return Flash.DUP;
    case "bogus_origin":
    case "not_expected":
    case "mode":
      return Flash.BOGUS;
    case "zero_transmit":
    case "zero_receive":
      return Flash.UNSYNC;
    case "kod_unknown":
      return Flash.DENIED;
    case "unauthenticated":
    case "no_key":
    case "nts_nak":
    case "nts_no_cookie":
      return Flash.AUTH;
    case "stratum0":
    case "unsynchronized":
      return Flash.STRATUM;
    case "decode":
    case "version":
    case "bad_delay":
      return Flash.HEADER;
    case "distance":
      return Flash.DIST;
    case "dead":
      return Flash.UNREACH;
    default:
      return 0;
  }
}
