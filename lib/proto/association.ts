// Client associations (RFC 5905 §9–§13, ntpd 4.2.x server/pool behaviour): polling with
// iburst/burst, the reach register, unreachable back-off, origin checks, kiss-o'-death handling,
// and the on-wire offset/delay computation feeding the per-association clock filter. With a
// symmetric key (`key N`), requests are signed and only replies authenticated with that key are
// looked at: nothing else, a kiss-o'-death included, changes the association's state.
// Symmetric associations (`peer`: active, mode 1; a mobilised passive one, mode 2) carry the
// system's own state in every packet and keep RFC 5905 §8's origin/receive timestamps: the
// peer's last transmit time and when it arrived, echoed in the next packet.

import type { SystemState } from "./server.ts";
import {
  addSec,
  diffSec,
  fromTimestamp,
  type NtpTime,
  secToShort,
  toTimestamp,
} from "./ntp_time.ts";
import {
  ClockFilter,
  type FilterSample,
  type FilterStageView,
  type SourceEstimate,
} from "./clock_filter.ts";
import { type Action, type PeerAddress, PeerEvent } from "./events.ts";
import {
  decodePacket,
  encodeClientRequest,
  encodePacket,
  kissCode,
  type LeapIndicator,
  type Mode,
  type NtpPacket,
  rootDelaySec,
  rootDispersionSec,
} from "./packet.ts";
import {
  MAXDISPERSE,
  MAXDIST,
  MAXSTRAT,
  MODE_ACTIVE,
  MODE_BROADCAST,
  MODE_CLIENT,
  MODE_PASSIVE,
  MODE_SERVER,
  NTP_BURST,
  NTP_MAXDPOLL,
  NTP_MAXPOLL,
  NTP_MINDPOLL,
  NTP_MINPOLL,
  PHI,
} from "./constants.ts";
import type { Rng } from "./rng.ts";
import type { RefclockIdentity, RefclockSample } from "./refclock_sample.ts";
import { REFCLOCK_MINPOLL } from "./options/refclock.ts";
import type { KeyStore } from "./auth/key_store.ts";
import { withMac } from "./auth/mac.ts";
import type { NtsClient, NtsClientSnapshot } from "./nts/nts_client.ts";

/** Spacing of burst packets (s). */
export const BURST_INTERVAL_SEC = 2;

/**
 * Kind of association: a network server, a pool member, a reference clock (127.127.t.u), a
 * symmetric active peer (`peer`, mode 1) or a symmetric passive one (mode 2, mobilised by an
 * authenticated mode 1 packet).
 */
export type AssociationKind =
  | "server"
  | "pool"
  | "refclock"
  | "peer"
  | "passive"
  | BroadcastKind;

/**
 * The broadcast and manycast kinds: a broadcast or multicast server (`broadcast`, mode 5 sent;
 * lib/proto/broadcast_server.ts), a broadcast client association mobilised by a server's mode 5
 * packets ("bclient", ntpd's hmode 6), and a manycast client's search of a group
 * (lib/proto/manycast_client.ts; the servers it finds are "server" associations).
 */
export type BroadcastKind = "broadcast" | "bclient" | "manycast";

/** ntpd's host mode of a broadcast client association (MODE_BCLIENT). */
export const MODE_BCLIENT = 6;

/** Calibration requests a broadcast client sends to a new server (2 s apart). */
export const BCLIENT_VOLLEY = 4;

/** `broadcastdelay` default (s): the round-trip delay assumed when no calibration is possible. */
export const DEFAULT_BROADCAST_DELAY_SEC = 0.004;

/** True for the symmetric kinds, which send modes 1/2 with the system's state. */
export function isSymmetric(kind: AssociationKind | undefined): boolean {
  return kind === "peer" || kind === "passive";
}

/**
 * The host mode an association runs in (ntpq's hmode): 1 or 2 for the symmetric kinds, else 3
 * (a reference clock too, as ntpd shows it: ntpq then prints its type as "l").
 */
export function hostModeOf(kind: AssociationKind | undefined): number {
  if (kind === "broadcast") return MODE_BROADCAST;
  if (kind === "bclient") return MODE_BCLIENT;
  return kind === "peer" ? MODE_ACTIVE : kind === "passive" ? MODE_PASSIVE : MODE_CLIENT;
}

/** The options of a `server`/`pool` line that the core uses. */
export interface AssociationOptions {
  kind?: AssociationKind;
  minpoll?: number;
  maxpoll?: number;
  iburst?: boolean;
  burst?: boolean;
  prefer?: boolean;
  noselect?: boolean;
  version?: number;
  /** Configured name (for logs and re-resolution); the address is what is polled. */
  name?: string;
  /** tos maxdist (s). */
  maxDistanceSec?: number;
  /** Start with a frequency prior (s/s std) instead of the 500 ppm default (good drift file). */
  initialFreqStd?: number;
  /**
   * Symmetric key id (`key N`, 1–65535): requests are signed with it, and a reply counts only
   * when its MAC verified with this key. Null or absent: unauthenticated.
   */
  key?: number | null;
  /** The clock a `refclock` association reads (required for that kind, ignored otherwise). */
  refclock?: RefclockIdentity;
  /**
   * Mobilised by a packet rather than configured: the system demobilises it once it is
   * unreachable (see NtpSystem.mobilize).
   */
  ephemeral?: boolean;
  /**
   * A broadcast client ("bclient"): the round-trip delay to assume (`broadcastdelay`) until, or
   * instead of, the calibration exchange measuring it (default DEFAULT_BROADCAST_DELAY_SEC).
   */
  broadcastDelaySec?: number;
  /** A broadcast client: skip the calibration exchange (`broadcastclient novolley`). */
  novolley?: boolean;
  /** A broadcast client mobilised by a packet to this multicast group (a multicast client). */
  group?: string;
}

/** Why a reply was not used. */
export type RejectReason =
  | "decode"
  | "mode"
  | "version"
  | "not_expected"
  | "bogus_origin"
  | "duplicate"
  | "zero_transmit"
  | "zero_receive"
  | "stratum0"
  | "unsynchronized"
  | "distance"
  | "bad_delay"
  | "kod_unknown"
  | "stale"
  | "outlier"
  | "delay_spike"
  | "dead"
  | "unauthenticated"
  | "calibrating"
  | "no_key"
  | "nts_nak" // an NTS NAK: the server could not use our cookie (NTS-KE runs again)
  | "nts_no_cookie" // no NTS cookie left to send a request with (waiting for NTS-KE)
  | "bad_sample";

/** What `receive` made of a datagram. */
export type ReceiveResult =
  | { kind: "sample"; sample: FilterSample; actions: Action[] }
  | { kind: "kod"; code: string; actions: Action[] }
  | { kind: "rejected"; reason: RejectReason; actions?: Action[] };

/** What the server told us about itself in the last valid reply. */
export interface ServerVariables extends SystemState {
  pollLog2: number;
}

/** Control-protocol view of an association. */
export interface AssociationSnapshot {
  id: number;
  address: PeerAddress;
  name: string | null;
  kind: AssociationKind;
  /** Mobilised by a packet (demobilised when unreachable). */
  ephemeral?: boolean;
  /** The mode this association sends (ntpq's hmode). */
  hostMode?: number;
  /** A multicast client's group (the address its server's mode 5 packets were sent to). */
  group?: string;
  /** The mode of the last packet accepted from the peer (ntpq's pmode; 0 before one). */
  peerMode?: number;
  reach: number;
  pollLog2: number;
  pollSec: number;
  hostPollLog2: number;
  server: ServerVariables | null;
  /** RFC 5905 filter (ntpq's peer variables): the minimum-delay sample of the last eight. */
  offsetSec: number | null;
  /**
   * The estimator's offset of this server from the local clock (as corrected, i.e. with any
   * pending slew done), predicted to the snapshot time; null before the first sample.
   */
  estimateOffsetSec: number | null;
  delaySec: number | null;
  dispersionSec: number | null;
  jitterSec: number | null;
  sent: number;
  received: number;
  rejected: Partial<Record<RejectReason, number>>;
  kod: number;
  dead: boolean;
  /** The key id it signs with and requires (`key N`), 0 for none. */
  keyId: number;
  /** The last reply it accepted was authenticated with that key. */
  authentic: boolean;
  /** Requests since the last valid reply (ntpd's `unreach`). */
  unanswered?: number;
  /** Why the last datagram from the server was not used; null when it was (ntpd's flash). */
  lastReject?: RejectReason | null;
  /** The clock filter's register, newest first (ntpq's filtdelay/filtoffset/filtdisp). */
  filter?: FilterStageView[];
  /** NTS state (cookies, NTS-KE, NAKs) of an association with `nts`; absent otherwise. */
  nts?: NtsClientSnapshot;
}

/** Phase drift (s, one sigma) the wander model may add over one poll interval. */
export const POLL_PHASE_BUDGET_SEC = 9e-6;
/**
 * The phase budget grows as n^this with the number n of combined sources (more than √n: the
 * combination averages their errors, and n sources share one packet budget). Fitted with
 * POLL_PHASE_BUDGET_SEC to chronyd's packet rates (SIM_SCENARIOS.md): one source polls as in
 * default, warm and asymjitter, four as in wan4 and warmwan4.
 */
export const POLL_SOURCES_EXPONENT = 1.18;
/**
 * Phase drift (s, one sigma) the frequency's own uncertainty may add over one poll interval,
 * at the reference noise: while the frequency is still being learnt the poll stays short
 * (packets go to the start, where the error is), once it is known the wander rule takes over.
 */
export const POLL_FREQ_BUDGET_SEC = 6.9e-6;
/** With a noisier path the frequency budget grows to this fraction of its sample error. */
export const POLL_FREQ_BUDGET_NOISE = 0.75;
/** Sample noise (s) at which the phase budget applies unscaled (the budget scales with the
 * cube root of this over the measured noise, between ½ and 2). */
export const POLL_REFERENCE_NOISE_SEC = 50e-6;
/**
 * Typical sample error (s) above which a path counts as noisy: its poll follows
 * NOISY_POLL_FREQ_FRACTION instead of the wander and frequency budgets.
 */
export const NOISY_PATH_SEC = 1e-3;
/**
 * On a noisy path the poll is held to where the frequency's uncertainty adds this fraction of
 * the estimate's own phase uncertainty over one interval (τ = fraction · σ_x / σ_f). There the
 * phase budgets mean nothing (each sample errs by milliseconds), and a packet is worth sending
 * only while it still teaches the frequency: the start polls at minpoll, and the poll grows as
 * σ_f falls. It relies on σ_f being honest, which the first samples' widened spread term gives
 * (clock_filter.ts earlySpreadFactor). Fitted on largejitter (J = 0.1 s, 20 seeds): 1/8 sends
 * 4.50 packets per 1000 s at 15.75 ms median RMS (worst 32.13 ms), against chronyd's 4.4 at
 * 16.5 ms; 1/10 sends 5.2 at 16.25 ms, 1/7 4.2 at 18.06 ms. Minpoll throughout sent 15.9.
 */
export const NOISY_POLL_FREQ_FRACTION = 0.125;
/**
 * Smallest wander (1/s) the poll rule believes. Below it wander cannot be told from noise at
 * short polls, and the wander rule would stretch the poll to maxpoll on a quiet clock, where
 * accuracy is then bounded by the noise averaged, not by the wander. 7e-19 caps the rule's poll
 * near 700 s at the reference noise, about chronyd's steady-state interval (1.7 packets per
 * 1000 s in warm), so a quiet clock spends the packet budget a wandering one would: default at
 * w = 1e-10 went from 2.95 to 3.20 packets per 1000 s and from 32.2 to 30.1 µs median RMS (20
 * seeds). 1e-18 did as well there but took asymjitter to 2.33 packets, over its 2.31.
 */
export const POLL_MIN_WANDER_Q = 7e-19;
/** Samples before the poll may grow above minpoll. */
export const POLL_WARMUP_SAMPLES = 4;
/**
 * Smallest round trip (root delay + delay) a selection interval assumes (s). COMPAT: ntpd's
 * MINDISPERSE floor on the root distance. With kernel timestamps a LAN or loopback round trip
 * is a few µs, while a server's own transmit stamp (taken in user space by chronyd and ntpd)
 * may be off by more: without a floor, truechimers on one clock fail to intersect.
 */
export const SELECT_MIN_ROUND_TRIP_SEC = 1e-3;

/** One client association (mode 3 → mode 4). */
export class Association {
  /** Association id (ntpq assID). */
  readonly id: number;
  /** The server's address. */
  readonly address: PeerAddress;
  /** The filter and estimator. */
  readonly filter: ClockFilter;
  #opts:
    & Required<
      Omit<
        AssociationOptions,
        | "name"
        | "initialFreqStd"
        | "key"
        | "refclock"
        | "ephemeral"
        | "broadcastDelaySec"
        | "novolley"
        | "group"
      >
    >
    & {
      name: string | null;
    };
  /** The reference clock this association reads, or null for a network source. */
  readonly #refclock: RefclockIdentity | null;
  /** A reference clock sample arrived since the last poll. */
  #sampleSincePoll = false;
  /** A reference clock's last offset and its jitter variance (s²) from successive samples. */
  #lastRefOffset: number | null = null;
  #refJitterVar = 0;
  /** `key N` (0: none) and the key list it is looked up in. */
  readonly #keyId: number;
  readonly #keys: KeyStore | null;
  #authentic = false;
  /** NTS (RFC 8915) state of a `server NAME nts` association; null: plain NTP. */
  #nts: NtsClient | null = null;
  #lastReject: RejectReason | null = null;
  #rng: Rng;
  #precisionLog2: number;
  #reach = 0;
  #pollSec: number;
  #kodFloorSec = 0;
  #nextPoll: NtpTime;
  #burstLeft = 0;
  #xmt: bigint | null = null;
  /** When the pending request really left (see `transmitted`); null: its own timestamp. */
  #xmtTime: NtpTime | null = null;
  #xmtKernel = false;
  #lastXmt: bigint | null = null;
  #lastT3: bigint | null = null;
  #unreached = 0;
  #server: ServerVariables | null = null;
  #sent = 0;
  #received = 0;
  #rejected: Partial<Record<RejectReason, number>> = {};
  #kod = 0;
  #dead = false;
  #staleRequest = false;
  #lastSend: NtpTime | null = null;
  #firstSend: NtpTime | null = null;
  #unanswered = 0;
  /** A valid answer arrived since the last request went out. */
  #answered = false;
  /** Mobilised by a packet (see AssociationOptions.ephemeral). */
  readonly #ephemeral: boolean;
  /** Polls since the association last became reachable or was created (for ephemeral expiry). */
  #pollsUnreached = 0;
  #everReached = false;
  /**
   * Symmetric state (RFC 5905 §8): the peer's last transmit timestamp (`org`, echoed as our
   * origin) and when it arrived (`rec`, echoed as our receive timestamp); 0n before any.
   */
  #org = 0n;
  #rec: NtpTime = 0n;
  #peerMode = 0;
  /**
   * Broadcast client state: calibration requests still to send (the calibration is over once
   * they are sent and the next poll comes), the round-trip delay mode 5 samples assume, and the
   * transmit timestamp of the last mode 5 packet (the duplicate test).
   */
  #volleyLeft = 0;
  #calibrating = false;
  #bcastDelaySec = DEFAULT_BROADCAST_DELAY_SEC;
  #bcastDelayMeasured = false;
  #lastBcastXmt = 0n;
  readonly #group: string | null;

  /** Creates an association that first polls shortly after `now`. */
  constructor(
    id: number,
    address: PeerAddress,
    options: AssociationOptions,
    rng: Rng,
    precisionLog2: number,
    now: NtpTime,
    keys: KeyStore | null = null,
  ) {
    this.id = id;
    this.address = address;
    this.#keyId = options.key ?? 0;
    this.#keys = keys;
    this.#ephemeral = options.ephemeral ?? false;
    this.#group = options.group ?? null;
    this.#refclock = options.kind === "refclock" ? options.refclock ?? null : null;
    // A reference clock may poll (age its reach register) every 8 s, as ntpd's do; network
    // associations keep RFC 5905's MINPOLL.
    const floor = this.#refclock !== null ? REFCLOCK_MINPOLL : NTP_MINPOLL;
    const minpoll = clampPoll(options.minpoll ?? NTP_MINDPOLL, floor);
    const maxpoll = Math.max(minpoll, clampPoll(options.maxpoll ?? NTP_MAXDPOLL, floor));
    this.#opts = {
      kind: options.kind ?? "server",
      minpoll,
      maxpoll,
      iburst: options.iburst ?? false,
      burst: options.burst ?? false,
      prefer: options.prefer ?? false,
      noselect: options.noselect ?? false,
      version: options.version ?? 4,
      maxDistanceSec: options.maxDistanceSec ?? MAXDIST,
      name: options.name ?? null,
    };
    this.#rng = rng;
    this.#precisionLog2 = precisionLog2;
    this.#pollSec = 2 ** minpoll;
    this.filter = new ClockFilter({
      precisionSec: 2 ** precisionLog2,
      ...(options.initialFreqStd !== undefined ? { initialFreqStd: options.initialFreqStd } : {}),
    });
    // First poll within a couple of seconds (ntpd spreads start-up polls the same way).
    this.#nextPoll = addSec(now, 1 + rng.nextFloat());
    if (this.#refclock !== null) {
      // A clock is "asked" from the moment it is started; its poll only ages the reach register.
      this.#firstSend = now;
      this.#nextPoll = addSec(now, this.#pollSec);
    }
    if (this.#opts.kind === "bclient") {
      this.#bcastDelaySec = options.broadcastDelaySec ?? DEFAULT_BROADCAST_DELAY_SEC;
      this.#calibrating = options.novolley !== true;
      this.#volleyLeft = this.#calibrating ? BCLIENT_VOLLEY : 0;
      if (!this.#calibrating) this.#nextPoll = addSec(now, this.#pollSec);
    }
  }

  /**
   * A broadcast client: true while the calibration exchange runs (mode 5 packets then only
   * mark the server reachable).
   */
  get calibrating(): boolean {
    return this.#calibrating;
  }

  /** A broadcast client: the round-trip delay its mode 5 samples assume (s). */
  get broadcastDelaySec(): number {
    return this.#bcastDelaySec;
  }

  /** A broadcast client: true when that delay was measured (else `broadcastdelay`). */
  get broadcastDelayMeasured(): boolean {
    return this.#bcastDelayMeasured;
  }

  /**
   * A broadcast client's timer: during calibration a client request (BCLIENT_VOLLEY of them,
   * BURST_INTERVAL_SEC apart); at the first poll after the last one, the calibration ends with
   * the smallest delay measured (or `broadcastdelay` when nothing answered). Afterwards the
   * poll only ages the reach register at the server's broadcast interval: the server's mode 5
   * packets are the samples, and nothing more is sent.
   */
  #broadcastClientTimer(now: NtpTime): Action[] {
    const actions: Action[] = [];
    if (this.#volleyLeft > 0) {
      this.#volleyLeft--;
      const request = this.#request(now);
      if (request !== null) actions.push(request);
      this.#nextPoll = addSec(now, BURST_INTERVAL_SEC);
      return actions;
    }
    if (this.#calibrating) {
      this.#calibrating = false;
      this.#xmt = null;
      if (this.filter.samples > 0 && Number.isFinite(this.filter.minDelaySec)) {
        this.#bcastDelaySec = this.filter.minDelaySec;
        this.#bcastDelayMeasured = true;
      }
    }
    this.#ageReach(actions);
    if (this.#reach === 0) this.#pollsUnreached++;
    this.#nextPoll = addSec(now, this.#pollSec);
    return actions;
  }

  /**
   * A broadcast server's mode 5 packet (RFC 5905 §9.2 "broadcast client"): T3 is the server's
   * time when it left, T4 ours when it arrived, and the path takes half the calibrated round
   * trip, so offset = T3 + δ/2 − T4 with δ the calibration's (or `broadcastdelay`). The key the
   * association was mobilised with must sign every packet; a repeated transmit timestamp is a
   * duplicate. During calibration the packet only marks the server reachable.
   */
  #receiveBroadcast(p: NtpPacket, rxTime: NtpTime, keyId: number): ReceiveResult {
    if (this.#keyId !== 0 && keyId !== this.#keyId) return this.#reject("unauthenticated");
    if (p.transmitTimestamp === 0n) return this.#reject("zero_transmit");
    if (p.transmitTimestamp === this.#lastBcastXmt) return this.#reject("duplicate");
    this.#lastBcastXmt = p.transmitTimestamp;
    this.#peerMode = p.mode;
    const actions: Action[] = [];
    if (p.leap === 3 || p.stratum === 0 || p.stratum >= MAXSTRAT) {
      return this.#reject("unsynchronized");
    }
    const rootDelay = rootDelaySec(p);
    const rootDisp = rootDispersionSec(p);
    if (rootDelay / 2 + rootDisp >= this.#opts.maxDistanceSec) return this.#reject("distance");
    this.#reached(actions);
    // The reach register ages at the server's interval.
    this.#pollSec = 2 ** Math.max(NTP_MINPOLL, Math.min(NTP_MAXPOLL, p.pollLog2));
    this.#server = this.#serverVars(p, rxTime);
    this.#authentic = this.#keyId !== 0;
    this.#unanswered = 0;
    if (this.#calibrating) return this.#reject("calibrating", actions);
    this.#lastReject = null;
    this.#received++;
    const t3 = fromTimestamp(p.transmitTimestamp, rxTime);
    const delaySec = Math.max(this.#bcastDelaySec, 2 ** this.#precisionLog2);
    const precisionSec = 2 ** p.precisionLog2 + 2 ** this.#precisionLog2;
    const sample: FilterSample = {
      offsetSec: diffSec(t3, rxTime) + delaySec / 2,
      delaySec,
      dispersionSec: precisionSec,
      at: rxTime,
    };
    return { kind: "sample", sample, actions };
  }

  /** Options in force. */
  get options(): Readonly<AssociationOptions> {
    const { name, ...rest } = this.#opts;
    const base = name === null ? rest : { ...rest, name };
    return this.#refclock === null ? base : { ...base, refclock: this.#refclock };
  }

  /** The reference clock this association reads, or null for a network source. */
  get refclock(): RefclockIdentity | null {
    return this.#refclock;
  }

  /** Mobilised by a packet rather than configured. */
  get ephemeral(): boolean {
    return this.#ephemeral;
  }

  /** Regular polls since the association was last reachable (or created). */
  get pollsUnreached(): number {
    return this.#pollsUnreached;
  }

  /** The reach register has had a bit set at least once. */
  get everReached(): boolean {
    return this.#everReached;
  }

  /** The reach register (8 bits). */
  get reach(): number {
    return this.#reach;
  }

  /** True after DENY/RSTR: the association no longer polls. */
  get dead(): boolean {
    return this.#dead;
  }

  /** Variables from the server's last valid reply. */
  get server(): ServerVariables | null {
    return this.#server;
  }

  /** Current poll interval (s). */
  get pollSec(): number {
    return this.#pollSec;
  }

  /** Poll exponent as sent on the wire. */
  get pollLog2(): number {
    return Math.round(Math.log2(this.#pollSec));
  }

  /**
   * Requests in a row that got no valid answer, counted when the next one is sent (0 once a
   * reply is accepted). The system stops relying on a source after a few of these.
   */
  get unanswered(): number {
    return this.#unanswered;
  }

  /** When the first request went out, or null before it. */
  get firstRequestAt(): NtpTime | null {
    return this.#firstSend;
  }

  /** Valid replies so far. */
  get received(): number {
    return this.#received;
  }

  /** When this association next needs `onTimer`. */
  get deadline(): NtpTime | null {
    return this.#dead ? null : this.#nextPoll;
  }

  /** Root distance λ (RFC 5905 §11.2): δ/2 + ε + root delay/2 + root dispersion + jitter. */
  rootDistanceSec(now: NtpTime): number {
    const f = this.filter.rfcState(now);
    const s = this.#server;
    if (f === null || s === null) return Infinity;
    return Math.max(1e-3, s.rootDelaySec + f.delaySec) / 2 + s.rootDispersionSec + f.dispersionSec +
      f.jitterSec;
  }

  /**
   * Distance used for selection (s): half the server's root delay plus the minimum delay (a
   * static asymmetry can hide there), at least SELECT_MIN_ROUND_TRIP_SEC, the root dispersion,
   * the estimate's 3σ and aging at PHI since the estimator's last sample. The RFC register's
   * dispersion (which needs several samples to fall) stays visible for ntpq; its sample may be
   * eight polls old, which at long polls made a fresh, stepped server's interval overlap the
   * others' (issue 18's serverstep3).
   */
  selectionDistanceSec(now: NtpTime): number {
    const s = this.#server;
    const est = this.filter.estimate(now);
    const last = this.filter.lastSampleAt ?? this.filter.rfcState()?.at ?? null;
    if (s === null || est === null || last === null) return Infinity;
    const roundTrip = Math.max(SELECT_MIN_ROUND_TRIP_SEC, s.rootDelaySec + this.filter.minDelaySec);
    return roundTrip / 2 + s.rootDispersionSec + 3 * Math.sqrt(est.offsetVar) +
      2 ** this.#precisionLog2 + PHI * Math.max(0, diffSec(now, last));
  }

  /** The estimator's current view, or null. */
  estimate(now: NtpTime): SourceEstimate | null {
    return this.filter.estimate(now);
  }

  /**
   * The clock was stepped by `stepSec`: a request in flight can no longer give a valid sample,
   * and the poll schedule moves with the time scale.
   */
  clockStepped(stepSec: number): void {
    if (this.#xmt !== null) this.#staleRequest = true;
    this.#nextPoll = addSec(this.#nextPoll, stepSec);
  }

  /**
   * The daemon measured when the request with transmit timestamp `xmt` left: `at` on the local
   * clock, from the kernel (`kernel`) or from a clock read just before the send call. The
   * exchange then uses `at` as T1 (the request's own timestamp is written when the core builds
   * it, earlier by the event loop's and the send path's latency, and only serves the origin
   * check). A kernel time is never replaced by a clock read; a report for any other request is
   * ignored. Returns true when the time was taken.
   */
  transmitted(xmt: bigint, at: NtpTime, kernel: boolean): boolean {
    if (this.#xmt === null || xmt !== this.#xmt) return false;
    if (this.#xmtKernel && !kernel) return false;
    this.#xmtTime = at;
    this.#xmtKernel = kernel;
    return true;
  }

  /**
   * Sends the poll (or burst packet) when due. A symmetric association sends `sys`, the
   * system's own state (unsynchronised when absent).
   */
  onTimer(now: NtpTime, sys: SystemState | null = null): Action[] {
    if (this.#dead || now < this.#nextPoll) return [];
    if (this.#refclock !== null) return this.#refclockPoll(now);
    if (this.#opts.kind === "bclient") return this.#broadcastClientTimer(now);
    const actions: Action[] = [];
    if (this.#burstLeft > 0) {
      this.#burstLeft--;
    } else {
      // A regular poll: age the reach register first.
      this.#ageReach(actions);
      if (this.#reach === 0) this.#pollsUnreached++;
      if (this.#reach === 0) {
        this.#unreached++;
        if (this.#opts.iburst && this.#unreached <= 1) this.#burstLeft = NTP_BURST - 1;
        else if (this.#unreached > NTP_BURST) {
          // Unreachable back-off: double the interval up to maxpoll.
          this.#pollSec = Math.min(2 ** this.#opts.maxpoll, this.#pollSec * 2);
        }
      } else if (this.#opts.burst) {
        this.#burstLeft = NTP_BURST - 1;
      }
    }
    const request = isSymmetric(this.#opts.kind)
      ? this.#symmetricPacket(now, sys)
      : this.#request(now);
    if (request !== null) actions.push(request);
    const interval = this.#burstLeft > 0
      ? BURST_INTERVAL_SEC
      : this.#pollSec * (1 - this.#rng.nextFloat() / 32);
    this.#nextPoll = addSec(now, interval);
    return actions;
  }

  /**
   * Processes a datagram from this association's address, received at local time `rxTime`;
   * `keyId` is the key its MAC verified with (0: none, or a MAC that failed).
   */
  receive(data: Uint8Array, rxTime: NtpTime, keyId = 0): ReceiveResult {
    if (this.#dead) return this.#reject("dead");
    const r = decodePacket(data);
    if (!r.ok) return this.#reject("decode");
    const p = r.packet;
    if (isSymmetric(this.#opts.kind)) return this.#receiveSymmetric(p, rxTime, keyId);
    if (p.mode === MODE_BROADCAST && this.#opts.kind === "bclient") {
      return this.#receiveBroadcast(p, rxTime, keyId);
    }
    if (p.mode !== MODE_SERVER) return this.#reject("mode");
    if (this.#nts !== null) {
      // NTS (RFC 8915 §5.7): nothing in a reply counts before it verifies; a NAK counts only with
      // our unique identifier and origin, and sends the association back to NTS-KE.
      const xmt = this.#xmt;
      const v = this.#nts.checkReply(data, xmt !== null && p.originTimestamp === xmt);
      if (v === "nak") {
        this.#lastXmt = xmt;
        this.#xmt = null;
        return this.#reject("nts_nak");
      }
      if (v !== "ok") return this.#reject("unauthenticated");
    }
    // A configured key requires a present, valid MAC with that key, before anything can change
    // (an unauthenticated kiss-o'-death could otherwise silence or demobilise the association).
    if (this.#keyId !== 0 && keyId !== this.#keyId) return this.#reject("unauthenticated");
    if (this.#xmt === null) {
      const dup = this.#lastXmt !== null && p.originTimestamp === this.#lastXmt;
      return this.#reject(dup ? "duplicate" : "not_expected");
    }
    if (p.originTimestamp !== this.#xmt) return this.#reject("bogus_origin");
    if (p.stratum === 0) {
      const code = kissCode(p);
      if (code === null) return this.#reject("stratum0");
      return this.#kiss(code, p);
    }
    if (this.#staleRequest) {
      // Answer to a request sent before a clock step: its timestamps straddle the step.
      this.#lastXmt = this.#xmt;
      this.#xmt = null;
      return this.#reject("stale");
    }
    if (p.transmitTimestamp === 0n) return this.#reject("zero_transmit");
    if (p.receiveTimestamp === 0n) return this.#reject("zero_receive");
    if (this.#lastT3 !== null && p.transmitTimestamp === this.#lastT3) {
      return this.#reject("duplicate");
    }
    if (p.leap === 3 || p.stratum >= 16) return this.#reject("unsynchronized");
    const t1 = this.#xmtTime ?? fromTimestamp(p.originTimestamp, rxTime);
    const m = this.#measure(p, rxTime, t1);
    if (typeof m === "string") return this.#reject(m);
    // The exchange is valid: it consumes the request.
    this.#lastXmt = this.#xmt;
    this.#xmt = null;
    this.#lastT3 = p.transmitTimestamp;
    const actions: Action[] = [];
    this.#reached(actions);
    const sample = this.#accept(p, rxTime, t1, m, actions);
    return { kind: "sample", sample, actions };
  }

  /**
   * A symmetric packet (mode 1 or 2) from the peer (RFC 5905 §8–9). After the duplicate test,
   * its transmit time and arrival are kept to be echoed whatever else is wrong with it (that is
   * how two peers whose packets crossed find each other again); only a packet whose origin is
   * our last transmit time measures anything. Reach counts every such exchange, a peer that is
   * not synchronised itself included: it answers, it just gives no sample.
   */
  #receiveSymmetric(p: NtpPacket, rxTime: NtpTime, keyId: number): ReceiveResult {
    if (p.mode !== MODE_ACTIVE && p.mode !== MODE_PASSIVE) return this.#reject("mode");
    if (this.#keyId !== 0 && keyId !== this.#keyId) return this.#reject("unauthenticated");
    if (p.transmitTimestamp === 0n) return this.#reject("zero_transmit");
    if (p.transmitTimestamp === this.#org) return this.#reject("duplicate");
    this.#org = p.transmitTimestamp;
    this.#rec = rxTime;
    this.#peerMode = p.mode;
    if (p.originTimestamp === 0n || p.receiveTimestamp === 0n) {
      return this.#reject("not_expected"); // the peer has not heard from us yet
    }
    if (this.#xmt === null || p.originTimestamp !== this.#xmt) return this.#reject("bogus_origin");
    const code = p.stratum === 0 ? kissCode(p) : null;
    if (code === "RATE" || code === "DENY" || code === "RSTR") return this.#kiss(code, p);
    if (this.#staleRequest) return this.#reject("stale");
    const actions: Action[] = [];
    // The origin matched: the peer is there, whatever its own state (an answer that gives no
    // sample still counts as unanswered for failover).
    this.#reached(actions);
    if (p.leap === 3 || p.stratum === 0 || p.stratum >= MAXSTRAT) {
      this.#server = this.#serverVars(p, rxTime);
      return this.#reject("unsynchronized", actions);
    }
    const t1 = this.#xmtTime ?? fromTimestamp(p.originTimestamp, rxTime);
    // RFC 5905's header test (MAXDISP): a peer's root distance is judged by selection (`tos
    // maxdist`), not here, or a peer that has just synchronised (with the large dispersion of
    // a young filter) would not even be measured.
    const m = this.#measure(p, rxTime, t1, MAXDISPERSE);
    if (typeof m === "string") return this.#reject(m, actions);
    const sample = this.#accept(p, rxTime, t1, m, actions);
    return { kind: "sample", sample, actions };
  }

  /** Offset and delay of a valid exchange started at `t1`, or why it is not usable. */
  #measure(
    p: NtpPacket,
    rxTime: NtpTime,
    t1: NtpTime,
    maxDistanceSec = this.#opts.maxDistanceSec,
  ): { offsetSec: number; delaySec: number; precisionSec: number } | RejectReason {
    const rootDelay = rootDelaySec(p);
    const rootDisp = rootDispersionSec(p);
    if (rootDelay / 2 + rootDisp >= maxDistanceSec) return "distance";
    const t2 = fromTimestamp(p.receiveTimestamp, rxTime);
    const t3 = fromTimestamp(p.transmitTimestamp, rxTime);
    const precisionSec = 2 ** p.precisionLog2 + 2 ** this.#precisionLog2;
    const offsetSec = (diffSec(t2, t1) + diffSec(t3, rxTime)) / 2;
    const delaySec = diffSec(rxTime, t1) - diffSec(t3, t2);
    if (delaySec < -precisionSec || delaySec > 16) return "bad_delay";
    return { offsetSec, delaySec: Math.max(delaySec, 2 ** this.#precisionLog2), precisionSec };
  }

  /** The reach bit of a valid answer, with the REACH event when it is news. */
  #reached(actions: Action[]): void {
    if (this.#reach === 0) actions.push(this.#event(PeerEvent.REACH, "reachable"));
    this.#reach |= 1;
    this.#everReached = true;
    this.#unreached = 0;
    this.#pollsUnreached = 0;
  }

  /** What a packet says about its sender's own state. */
  #serverVars(p: NtpPacket, rxTime: NtpTime): ServerVariables {
    return {
      leap: p.leap,
      stratum: p.stratum === 0 ? MAXSTRAT : p.stratum,
      precisionLog2: p.precisionLog2,
      rootDelaySec: rootDelaySec(p),
      rootDispersionSec: rootDispersionSec(p),
      refid: p.refid,
      referenceTime: fromTimestamp(p.referenceTimestamp, rxTime),
      pollLog2: p.pollLog2,
    };
  }

  /** Records a valid exchange: counters, the server's variables, rawstats; the sample. */
  #accept(
    p: NtpPacket,
    rxTime: NtpTime,
    t1: NtpTime,
    m: { offsetSec: number; delaySec: number; precisionSec: number },
    actions: Action[],
  ): FilterSample {
    this.#authentic = this.#keyId !== 0 || this.#nts !== null;
    this.#unanswered = 0;
    this.#answered = true;
    this.#lastReject = null;
    this.#received++;
    this.#server = this.#serverVars(p, rxTime);
    const t4 = rxTime;
    const sample: FilterSample = {
      offsetSec: m.offsetSec,
      delaySec: m.delaySec,
      dispersionSec: m.precisionSec + PHI * diffSec(t4, t1),
      at: t4,
    };
    // rawstats: the four times this exchange measured with (T1 when the request really left,
    // where the daemon reported it), and the reply's header.
    actions.push({
      type: "stats",
      record: {
        kind: "rawstats",
        at: t4,
        assocId: this.id,
        source: this.address,
        destination: null,
        t1,
        t2: fromTimestamp(p.receiveTimestamp, rxTime),
        t3: fromTimestamp(p.transmitTimestamp, rxTime),
        t4,
        leap: p.leap,
        version: p.version,
        mode: p.mode,
        stratum: p.stratum,
        pollLog2: p.pollLog2,
        precisionLog2: p.precisionLog2,
        rootDelaySec: rootDelaySec(p),
        rootDispersionSec: rootDispersionSec(p),
        refid: p.refid,
      },
    });
    return sample;
  }

  /**
   * A sample from this association's reference clock (see drivers/driver.ts). It sets the reach
   * bit, answers the poll and becomes a clock filter sample with the clock's own dispersion and
   * no path delay beyond the precision; a clock that says it is unsynchronised (leap 3) or an
   * offset that is not a finite number is counted and dropped.
   */
  refclockSample(s: RefclockSample): ReceiveResult {
    const rc = this.#refclock;
    if (rc === null) return this.#reject("not_expected");
    if (s.leap === 3) return this.#reject("unsynchronized");
    if (!Number.isFinite(s.offsetSec) || !(s.dispersionSec >= 0) || s.leap < 0 || s.leap > 3) {
      return this.#reject("bad_sample");
    }
    const actions: Action[] = [];
    if (this.#reach === 0) actions.push(this.#event(PeerEvent.REACH, "reachable"));
    this.#reach |= 1;
    this.#sampleSincePoll = true;
    this.#unreached = 0;
    this.#unanswered = 0;
    this.#lastReject = null;
    this.#received++;
    this.#server = {
      leap: s.leap,
      stratum: rc.stratum,
      precisionLog2: rc.precisionLog2,
      rootDelaySec: 0,
      rootDispersionSec: s.rootDispersionSec ?? 0,
      refid: rc.refid,
      referenceTime: s.time,
      pollLog2: this.pollLog2,
    };
    const precisionSec = 2 ** rc.precisionLog2 + 2 ** this.#precisionLog2;
    // The clock's jitter from successive differences (half their mean square, averaged over
    // about eight samples): its stated precision is often far better than what arrives (NMEA
    // sentences timed on reception jitter by milliseconds), and the estimator must know.
    if (this.#lastRefOffset !== null) {
      const d = s.offsetSec - this.#lastRefOffset;
      const v = Math.min(d * d / 2, 1);
      this.#refJitterVar = this.#received <= 2
        ? v
        : this.#refJitterVar + (v - this.#refJitterVar) / 8;
    }
    this.#lastRefOffset = s.offsetSec;
    const sample: FilterSample = {
      offsetSec: s.offsetSec,
      delaySec: 2 ** this.#precisionLog2,
      dispersionSec: s.dispersionSec + precisionSec,
      at: s.time,
      noiseSec: Math.sqrt(this.#refJitterVar + s.dispersionSec ** 2),
    };
    return { kind: "sample", sample, actions };
  }

  /** A poll went by: the reach register shifts, with an event when the last bit leaves it. */
  #ageReach(actions: Action[]): void {
    const wasReachable = this.#reach !== 0;
    this.#reach = (this.#reach << 1) & 0xff;
    if (wasReachable && this.#reach === 0) {
      actions.push(this.#event(PeerEvent.UNREACH, "unreachable"));
    }
  }

  /**
   * A reference clock's poll: the reach register ages, and a poll interval without a sample
   * counts as an unanswered request. The poll stays at minpoll (COMPAT: as ntpd's refclocks,
   * whose drivers set their own pace; maxpoll only bounds the discipline's time constant).
   */
  #refclockPoll(now: NtpTime): Action[] {
    const actions: Action[] = [];
    this.#ageReach(actions);
    if (!this.#sampleSincePoll) this.#unanswered++;
    this.#sampleSincePoll = false;
    this.#sent++;
    this.#lastSend = now;
    this.#nextPoll = addSec(now, this.#pollSec);
    return actions;
  }

  /**
   * Counts a sample the filter refused (outlier/stale) against this association. After an
   * outlier the poll drops to minpoll so that a real change is confirmed (or not) quickly.
   */
  countFilterReject(reason: "outlier" | "stale"): void {
    this.#count(reason);
    if (reason === "outlier") {
      this.#pollSec = Math.max(2 ** this.#opts.minpoll, this.#kodFloorSec);
      this.#nextPoll = this.#lastSend === null
        ? this.#nextPoll
        : addSec(this.#lastSend, this.#pollSec);
    }
  }

  /**
   * Counts a delay spike: a sample the estimator used at its low weight but the RFC register
   * (ntpq's offset, delay and jitter) did not take.
   */
  countDelaySpike(): void {
    this.#count("delay_spike");
  }

  /**
   * Adapts the poll interval after an accepted sample (COMPAT: ntpd moves the poll exponent with
   * a jiggle counter of |offset| against jitter). Horae picks the interval over which the
   * estimator's frequency-wander model lets the phase drift by POLL_PHASE_BUDGET_SEC (one sigma):
   * τ = ∛(3·K²/q), K growing with the number of combined sources and shrinking gently with the
   * path's noise, and no longer than what the frequency's uncertainty allows. Very noisy paths
   * (typical sample error above NOISY_PATH_SEC) poll by NOISY_POLL_FREQ_FRACTION instead. The
   * interval grows by at most √2 and shrinks by at most half per sample, and stays at minpoll
   * for the first samples.
   */
  updatePoll(est: SourceEstimate, sources = 1): void {
    // A broadcast client's poll is the server's interval.
    if (this.#refclock !== null || this.#opts.kind === "bclient") return;
    const minSec = Math.max(2 ** this.#opts.minpoll, this.#kodFloorSec);
    const maxSec = Math.max(minSec, 2 ** this.#opts.maxpoll);
    let target = minSec;
    if (est.samples >= POLL_WARMUP_SAMPLES && est.sampleStdSec < NOISY_PATH_SEC) {
      const q = Math.max(POLL_MIN_WANDER_Q, est.wanderQ);
      // With n sources combined, each may drift more before its next sample
      // (POLL_SOURCES_EXPONENT). Noisier paths poll a little faster: their samples are worth
      // more than the wander.
      const noise = Math.max(
        0.5,
        Math.min(2, Math.cbrt(POLL_REFERENCE_NOISE_SEC / Math.max(1e-9, est.sampleStdSec))),
      );
      const n = Math.max(1, sources);
      const k = POLL_PHASE_BUDGET_SEC * n ** POLL_SOURCES_EXPONENT * noise;
      target = Math.cbrt(3 * k * k / q);
      // While the frequency is uncertain, what it adds over a poll (σ_f·τ) is held to the
      // frequency budget: the first hours poll short, the steady state long (issue 18's packet
      // budget: the steady state at chronyd's rate, the start where the error is).
      const kf = Math.max(
        POLL_FREQ_BUDGET_SEC * n * noise,
        POLL_FREQ_BUDGET_NOISE * est.sampleStdSec,
      );
      target = Math.min(target, kf / Math.sqrt(Math.max(1e-30, est.freqVar)));
    } else if (est.samples >= POLL_WARMUP_SAMPLES) {
      // A noisy path: poll while the samples still teach the frequency (see
      // NOISY_POLL_FREQ_FRACTION); its sample error dwarfs any phase budget.
      target = NOISY_POLL_FREQ_FRACTION * Math.sqrt(Math.max(0, est.offsetVar)) /
        Math.sqrt(Math.max(1e-30, est.freqVar));
    }
    // An estimate that went non-finite (it never should) must not stop the polls.
    if (!Number.isFinite(target)) target = minSec;
    target = Math.max(minSec, Math.min(maxSec, target));
    if (target > this.#pollSec) this.#pollSec = Math.min(target, this.#pollSec * Math.SQRT2);
    else this.#pollSec = Math.max(target, this.#pollSec / 2);
  }

  /** Control-protocol snapshot. */
  snapshot(now: NtpTime): AssociationSnapshot {
    const f = this.filter.rfcState(now);
    return {
      id: this.id,
      address: { ...this.address },
      name: this.#opts.name,
      kind: this.#opts.kind,
      ephemeral: this.#ephemeral,
      hostMode: hostModeOf(this.#opts.kind),
      ...(this.#group !== null ? { group: this.#group } : {}),
      peerMode: this.#refclock !== null
        ? 0
        : isSymmetric(this.#opts.kind)
        ? this.#peerMode
        : this.#received > 0
        ? MODE_SERVER
        : 0,
      reach: this.#reach,
      pollLog2: this.pollLog2,
      pollSec: this.#pollSec,
      hostPollLog2: this.pollLog2,
      server: this.#server === null ? null : { ...this.#server },
      offsetSec: f?.offsetSec ?? null,
      estimateOffsetSec: this.filter.estimate(now)?.offsetSec ?? null,
      delaySec: f?.delaySec ?? null,
      dispersionSec: f?.dispersionSec ?? null,
      jitterSec: f?.jitterSec ?? null,
      sent: this.#sent,
      received: this.#received,
      rejected: { ...this.#rejected },
      kod: this.#kod,
      dead: this.#dead,
      keyId: this.#keyId,
      authentic: this.#authentic,
      unanswered: this.#unanswered,
      lastReject: this.#lastReject,
      filter: this.filter.register(),
      ...(this.#nts !== null ? { nts: this.#nts.snapshot() } : {}),
    };
  }

  /**
   * Protects this association with NTS (its keys and cookies from NTS-KE), or turns NTS off
   * (null). With NTS, every request carries a cookie and an authenticator, and only replies that
   * verify are used; without a cookie no request goes out.
   */
  setNts(nts: NtsClient | null): void {
    this.#nts = nts;
  }

  /** The NTS state, or null for plain NTP. */
  get nts(): NtsClient | null {
    return this.#nts;
  }

  /** A packet goes out at `now`: returns its fresh transmit timestamp (also kept as `#xmt`). */
  #noteSend(now: NtpTime): bigint {
    const xmt = fuzzedTransmit(now, this.#precisionLog2, this.#rng);
    // The previous request is still unanswered: a late reply to it will fail the origin test.
    if (this.#xmt !== null && !this.#answered) this.#unanswered++;
    this.#answered = false;
    this.#firstSend ??= now;
    this.#xmt = xmt;
    this.#xmtTime = null;
    this.#xmtKernel = false;
    this.#staleRequest = false;
    this.#lastSend = now;
    this.#sent++;
    return xmt;
  }

  /** The next request, signed with the association's key; null when that key is missing. */
  #request(now: NtpTime): Action | null {
    const xmt = this.#noteSend(now);
    // COMPAT: like chrony and ntpd-rs, the request reveals nothing of the client's own state
    // (leap 3, stratum 0, zero timestamps) apart from the transmit timestamp that must be echoed.
    const data = encodeClientRequest({
      version: this.#opts.version,
      pollLog2: this.pollLog2,
      precisionLog2: this.#precisionLog2,
      transmitTimestamp: xmt,
    });
    // Signed after the transmit timestamp is written (the MAC covers it); the transport sends
    // the request unchanged. COMPAT: without its key ntpd does not send either; the daemon warns.
    return this.#signed(data);
  }

  /**
   * The next symmetric packet (RFC 5905 §8): our system state (unsynchronised without `sys`),
   * the peer's last transmit time as origin and its arrival as receive time, a fresh transmit
   * time; signed with the association's key. Null when that key is missing.
   */
  #symmetricPacket(now: NtpTime, sys: SystemState | null): Action | null {
    const xmt = this.#noteSend(now);
    const synced = sys !== null && sys.leap !== 3 && sys.stratum < MAXSTRAT;
    const data = encodePacket({
      leap: (synced ? sys.leap : 3) as LeapIndicator,
      version: this.#opts.version,
      mode: hostModeOf(this.#opts.kind) as Mode,
      // Stratum 16 goes on the wire as 0 (RFC 5905 §7.3), with the refid INIT as ntpd sends.
      stratum: synced ? sys.stratum : 0,
      pollLog2: this.pollLog2,
      precisionLog2: this.#precisionLog2,
      rootDelayShort: synced ? secToShort(sys.rootDelaySec) : 0,
      rootDispersionShort: synced ? secToShort(sys.rootDispersionSec) : 0,
      refid: synced ? sys.refid : 0x494e4954,
      referenceTimestamp: synced && sys.referenceTime !== 0n ? toTimestamp(sys.referenceTime) : 0n,
      originTimestamp: this.#org,
      receiveTimestamp: this.#rec === 0n ? 0n : toTimestamp(this.#rec),
      transmitTimestamp: xmt,
      extensions: [],
      mac: null,
    });
    return this.#signed(data);
  }

  /** `data` signed with the association's key (as is without one); null when it is missing. */
  #signed(data: Uint8Array): Action | null {
    if (this.#nts !== null) {
      const sealed = this.#nts.protect(data);
      if (sealed === null) {
        this.#count("nts_no_cookie");
        return null;
      }
      return { type: "send", assocId: this.id, to: this.address, data: sealed };
    }
    if (this.#keyId === 0) return { type: "send", assocId: this.id, to: this.address, data };
    const key = this.#keys?.get(this.#keyId);
    if (key === undefined) {
      this.#count("no_key");
      return null;
    }
    const signed = withMac(data, key, this.#opts.version);
    return { type: "send", assocId: this.id, to: this.address, data: signed };
  }

  #kiss(code: string, p: NtpPacket): ReceiveResult {
    const actions: Action[] = [];
    this.#kod++;
    this.#lastXmt = this.#xmt;
    this.#xmt = null;
    if (code === "RATE") {
      // Slow down: at least double the interval and never poll faster than the server asked.
      const asked = p.pollLog2 >= NTP_MINPOLL && p.pollLog2 <= NTP_MAXPOLL ? 2 ** p.pollLog2 : 0;
      this.#kodFloorSec = Math.min(2 ** NTP_MAXPOLL, Math.max(this.#pollSec * 2, asked));
      this.#pollSec = Math.max(this.#pollSec, this.#kodFloorSec);
      this.#burstLeft = 0;
      actions.push(this.#event(PeerEvent.RATE, "rate_exceeded"));
      return { kind: "kod", code, actions };
    }
    if (code === "DENY" || code === "RSTR") {
      this.#dead = true;
      actions.push(this.#event(PeerEvent.DENY, `access_denied (${code})`));
      actions.push({ type: "demobilize", assocId: this.id, reason: `kiss-o'-death ${code}` });
      return { kind: "kod", code, actions };
    }
    this.#count("kod_unknown");
    return { kind: "kod", code, actions };
  }

  #reject(reason: RejectReason, actions?: Action[]): ReceiveResult {
    this.#count(reason);
    this.#lastReject = reason;
    return actions === undefined || actions.length === 0
      ? { kind: "rejected", reason }
      : { kind: "rejected", reason, actions };
  }

  #count(reason: RejectReason): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1;
  }

  #event(code: number, what: string): Action {
    const who = this.#opts.name ?? this.address.address;
    return { type: "event", scope: "peer", assocId: this.id, code, message: `${who} ${what}` };
  }
}

/**
 * A transmit timestamp for a packet sent at `now`: the bits below the precision `precisionLog2`
 * randomised (a reply must echo it, so an off-path sender cannot guess it), never zero.
 */
export function fuzzedTransmit(now: NtpTime, precisionLog2: number, rng: Rng): bigint {
  const lowBits = Math.max(0, Math.min(32, 32 + precisionLog2));
  const mask = (1n << BigInt(lowBits)) - 1n;
  const xmt = (toTimestamp(now) & ~mask) | (BigInt(rng.nextU32()) & mask);
  return xmt === 0n ? 1n : xmt;
}

/** A poll exponent rounded and held within [floor, NTP_MAXPOLL] (floor: NTP_MINPOLL). */
export function clampPoll(p: number, floor = NTP_MINPOLL): number {
  return Math.max(floor, Math.min(NTP_MAXPOLL, Math.round(p)));
}
