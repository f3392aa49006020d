// The system process (RFC 5905 §11, ntpd 4.2.x clock_select/clock_update): routes replies to
// associations, runs select → cluster → combine → loop_filter, keeps the system variables, tos,
// and the leap second state (leapfile and the survivors' leap indicator vote).

import { REFID_INIT, type SystemState } from "./server.ts";
import { TOS_DEFAULTS } from "./options/tos.ts";
import { addSec, diffSec, type NtpTime, readTimestamp } from "./ntp_time.ts";
import { type Action, type PeerAddress, PeerEvent, SystemEvent, systemEvent } from "./events.ts";
import {
  Association,
  type AssociationKind,
  type AssociationOptions,
  type AssociationSnapshot,
} from "./association.ts";
import { RES_NOEPEER, RES_NOPEER } from "./access/restrict.ts";
import { BroadcastServer, type BroadcastServerOptions } from "./broadcast_server.ts";
import { ManycastClient, type ManycastClientOptions, manycastSurplus } from "./manycast_client.ts";
import type { FilterSample } from "./clock_filter.ts";
import { selectTruechimers } from "./select.ts";
import { clusterSurvivors } from "./cluster.ts";
import { combineSurvivors } from "./combine.ts";
import type { Discipline, DisciplineKind, DisciplineState } from "./discipline.ts";
import { createDiscipline, type LoopFilterOptions } from "./loop_filter.ts";
import { LeapSeconds, type LeapSecondTable, type LeapStatus, leapVote } from "./leap_seconds.ts";
import type { Rng } from "./rng.ts";
import type { KeyStore } from "./auth/key_store.ts";
import { MacVerifier } from "./auth/mac.ts";
import { PacketPeek } from "./packet.ts";
import { IpWords } from "./ip.ts";
import {
  refclockAddressText,
  type RefclockIdentity,
  type RefclockSample,
} from "./refclock_sample.ts";
import { LEAP_NOTINSYNC, MAXSTRAT, NTP_MAXDPOLL, NTP_MINDPOLL, NTP_MINPOLL } from "./constants.ts";

/** `tos` settings (ntpd defaults). */
export interface TosOptions {
  /** Survivors the cluster algorithm keeps at least. */
  minclock: number;
  /** Survivors needed to synchronise at all. */
  minsane: number;
  /** Servers with a lower stratum are ignored. */
  floor: number;
  /** Servers with this stratum or higher are ignored. */
  ceiling: number;
  /** Accept servers of our own stratum (peer cohorts). */
  cohort: boolean;
  /** Orphan stratum (16: off). */
  orphan: number;
  /** Seconds without a system peer (from start or its loss) before orphan mode starts. */
  orphanwait: number;
  /** Largest root distance for selection (s). */
  maxdist: number;
}

/** ntpd 4.2.x tos defaults. */
export const DEFAULT_TOS: TosOptions = {
  minclock: TOS_DEFAULTS.minclock,
  minsane: TOS_DEFAULTS.minsane,
  floor: TOS_DEFAULTS.floor,
  ceiling: TOS_DEFAULTS.ceiling,
  cohort: TOS_DEFAULTS.cohort !== 0,
  orphan: TOS_DEFAULTS.orphan,
  orphanwait: TOS_DEFAULTS.orphanwaitSec,
  maxdist: TOS_DEFAULTS.maxdistSec,
};

/** Options for the system. */
export interface SystemOptions {
  /** Local clock precision (log2 s). */
  precisionLog2: number;
  rng: Rng;
  tos?: Partial<TosOptions>;
  loop?: LoopFilterOptions;
  /** A checked leap-seconds table (`leapfile`), authoritative until it expires. */
  leapTable?: LeapSecondTable | null;
  /**
   * The refid of an IPv6 system peer. ntpd uses the first four bytes of the MD5 of the address;
   * the core has no MD5, so the daemon passes that in (default: {@link refidOf}'s FNV-1a stand-in).
   */
  ipv6Refid?: (address: string) => number;
  /**
   * The symmetric keys (`keys`, `trustedkey`): associations with `key N` sign their requests
   * with them; replies handed in without a verdict (`keyId` absent) are verified with them.
   */
  keys?: KeyStore | null;
  /**
   * `enable auth` (default true): a packet mobilises an association only when authenticated
   * with a trusted key.
   */
  authRequired?: boolean;
  /** Most ephemeral (packet-mobilised) associations at once (default MAX_EPHEMERAL). */
  maxEphemeral?: number;
  /**
   * This host's own addresses: a source whose refid names one of them is synchronised to us
   * (a timing loop) and is not selected; the lowest also ranks this host in orphan mode.
   */
  localAddresses?: readonly PeerAddress[];
  /**
   * `broadcastclient` / `multicastclient`: a server's mode 5 packets mobilise a broadcast client
   * association (authenticated with a trusted key unless `authRequired` is false), which first
   * measures the delay with a few client requests unless `novolley`, else assumes `delaySec`
   * (`broadcastdelay`). Absent or null: mode 5 packets from unknown senders are not used.
   */
  broadcastClient?: { delaySec?: number; novolley?: boolean } | null;
}

/** The refid an orphan parent shows (127.0.0.1, as ntpd). */
export const LOOPBACK_REFID = 0x7f000001;

/** Default cap on ephemeral associations: a flood of senders cannot grow the core beyond it. */
export const MAX_EPHEMERAL = 64;
/**
 * Regular polls without a valid exchange after which an ephemeral association is demobilised:
 * at once when its reach register empties after it was reachable, else after this many.
 */
export const EPHEMERAL_GRACE_POLLS = 4;

/** Why a packet did not mobilise an association (counted in `counters.mobilizeRefused`). */
export type MobilizeRefusal =
  | "not_authenticated"
  | "untrusted_key"
  | "restricted"
  | "limit"
  | "exists"
  | "invalid";

/** What {@link NtpSystem.mobilize} did. */
export type MobilizeResult =
  | { ok: true; id: number; actions: Action[] }
  | { ok: false; reason: MobilizeRefusal };

/** A datagram handed to the core. */
export interface InboundDatagram {
  data: Uint8Array;
  peer: PeerAddress;
  /** Local receive time (kernel timestamp when available). */
  rxTime: NtpTime;
  /**
   * The key id its MAC verified with, as the daemon's packet path found it (0: not
   * authenticated; a MAC that failed never reaches the core there). Absent: the core checks the
   * MAC itself with `SystemOptions.keys` (the simulator, tests).
   */
  keyId?: number;
  /** The RES_* flags of the sender's restrict entry (nopeer/noepeer); absent: none. */
  restrictFlags?: number;
  /** The multicast group it was sent to, when it came to one (a multicast server's mode 5). */
  group?: string;
}

/** System variables (ntpq `rv 0`). */
export interface SystemSnapshot extends SystemState {
  systemPeer: number | null;
  offsetSec: number;
  sysJitterSec: number;
  freqPpm: number;
  state: DisciplineState;
  survivors: number[];
  falsetickers: number[];
  counters: {
    received: number;
    noAssociation: number;
    clockUpdates: number;
    noMajority: number;
    /** Packets that mobilised an ephemeral association. */
    ephemeralMobilized?: number;
    /** Ephemeral associations demobilised once unreachable. */
    ephemeralDemobilized?: number;
    /** Packets that would have mobilised one, refused, by reason. */
    mobilizeRefused?: Partial<Record<MobilizeRefusal, number>>;
  };
  associations: AssociationSnapshot[];
  /** The discipline in use. */
  discipline: DisciplineKind;
  /**
   * The system poll exponent: the ntpd discipline's, or under the horae discipline the system
   * peer's poll (the shortest association's while unsynchronised); null without associations.
   */
  pollLog2: number | null;
  /** Leap second at the end of this month, when it is armed, and where it comes from. */
  leapStatus: LeapStatus;
  /** Associations mobilised so far (ids are handed out from 1 in order); ntpdc's memstats. */
  mobilized?: number;
  /**
   * Orphan mode (`tos orphan`): "parent" while this host serves as the orphan parent, "child"
   * while its system peer is one, "waiting" while it has no system peer and orphanwait runs,
   * null when orphan mode is off or a real source is followed.
   */
  orphan?: "parent" | "child" | "waiting" | null;
}

/**
 * Before the first clock update, how long a server that has not answered is waited for after
 * its first request (s). With iburst that is four requests; a live server answers in a second.
 */
export const STARTUP_SILENT_SEC = 6;
/** A start-up wait is logged once a server has been waited for this long (s). */
export const STARTUP_QUIET_SEC = 2;
/** Longest start-up hold whatever the servers do (s): a backstop, not the usual wait. */
export const STARTUP_HOLD_SEC = 130;
/**
 * How far a PPS clock's offset may be from its anchor's (the prefer peer or a clock with its
 * own PPS) for the pulses to be numbered by it (s): ntpd's 0.4 s.
 */
export const PPS_AGREE_SEC = 0.4;
/**
 * Requests in a row without a valid answer after which a source is no longer used for selection
 * and a system peer is replaced by an answering survivor at once (failover).
 */
export const FAILOVER_UNANSWERED = 2;

/** A selectable association with what select, cluster and combine use. */
interface Candidate {
  a: Association;
  offsetSec: number;
  varS: number;
  freq: number;
  freqVar: number;
  dist: number;
  jitterSec: number;
  rfcOffsetSec: number;
  rootDistanceSec: number;
}

/** The protocol core's top level. */
export class NtpSystem {
  #opts: SystemOptions;
  readonly #verifier: MacVerifier | null;
  readonly #peek = new PacketPeek();
  #tos: TosOptions;
  #loop: Discipline;
  /** Reference clocks whose last sample came through the kernel's PPS discipline. */
  readonly #kernelPpsClocks = new Set<number>();
  #assocs = new Map<number, Association>();
  #byAddr = new Map<string, Association>();
  readonly #peerWords = new IpWords();
  #nextId = 1;
  #leap = LEAP_NOTINSYNC;
  #stratum = MAXSTRAT;
  #refid = REFID_INIT;
  #rootDelaySec = 0;
  #rootDispSec = 0;
  #refTime: NtpTime = 0n;
  #sysPeer: Association | null = null;
  #offsetSec = 0;
  #jitterSec = 0;
  #survivors: number[] = [];
  #falsetickers: number[] = [];
  #anyReachable = false;
  #counters = { received: 0, noAssociation: 0, clockUpdates: 0, noMajority: 0 };
  #ephemeralMobilized = 0;
  #ephemeralDemobilized = 0;
  #mobilizeRefused: Partial<Record<MobilizeRefusal, number>> = {};
  #ephemeralCount = 0;
  /** `broadcast` lines (mode 5 senders) and `manycastclient` searches, by association id. */
  #broadcasts = new Map<number, BroadcastServer>();
  #manycasts = new Map<
    number,
    { search: ManycastClient; options: AssociationOptions; maxclock: number }
  >();
  /** Servers a manycast search mobilised: association id → the search's id. */
  #manycastOf = new Map<number, number>();
  /** Refids of this host's own addresses (see SystemOptions.localAddresses). */
  #localRefids = new Set<number>();
  /** This host's rank in the orphan parent election, per address family (see below). */
  #orphanMetrics = { 4: 0xffffffff, 6: 0xffffffff };
  /** This host is the orphan parent (no system peer, serving at the orphan stratum). */
  #orphanParent = false;
  /** Since when there has been no system peer (start, or the loss of the last), or null. */
  #lostAt: NtpTime | null = null;
  /** The time of the latest input (for what happens inside without a `now`). */
  #lastNow: NtpTime = 0n;
  #minSamples: number;
  #startedAt: NtpTime | null = null;
  #leapState: LeapSeconds;
  /** When the leap state must be looked at again (set by each evaluation). */
  #leapDue: NtpTime | null = null;
  /** Time of each peer's filter output last used for a clock update (freshOutputOnly). */
  #usedAt = new Map<number, NtpTime>();
  /** Start-up hold: associations waited for at the last check, and their ids as one key. */
  #waitingFor: number[] = [];
  #waitingKey = "";

  /** Creates the system with no associations. */
  constructor(opts: SystemOptions) {
    this.#opts = opts;
    this.#verifier = opts.keys ? new MacVerifier(opts.keys) : null;
    this.#tos = { ...DEFAULT_TOS, ...opts.tos };
    this.#loop = createDiscipline({ precisionSec: 2 ** opts.precisionLog2, ...opts.loop });
    this.#minSamples = opts.loop?.setOnce ? 4 : 1;
    this.#leapState = new LeapSeconds(opts.leapTable ?? null);
    this.setLocalAddresses(opts.localAddresses ?? []);
  }

  /** This host's addresses changed (see SystemOptions.localAddresses). */
  setLocalAddresses(addresses: readonly PeerAddress[]): void {
    this.#localRefids = new Set(addresses.map((a) => this.#refidOf(a)));
    // The orphan election ranks by the addresses peers reach this host at: not loopback, not
    // IPv6 link-local (a per-link address no configured peer uses).
    const metric = { 4: 0xffffffff, 6: 0xffffffff };
    for (const a of addresses) {
      const text = a.address.toLowerCase();
      if (a.family === 4 ? text.startsWith("127.") : text === "::1" || /^fe[89ab]/.test(text)) {
        continue;
      }
      metric[a.family] = Math.min(metric[a.family], this.#refidOf(a));
    }
    this.#orphanMetrics = metric;
  }

  /** The refid naming `addr` (IPv6: the daemon's digest when it supplied one). */
  #refidOf(addr: PeerAddress): number {
    return addr.family === 6 && this.#opts.ipv6Refid !== undefined
      ? this.#opts.ipv6Refid(addr.address)
      : refidOf(addr);
  }

  /**
   * A timing loop (RFC 5905 §11.2.1's synchronisation-loop test): a network source above
   * stratum 1 whose refid names this host, or the reference this host follows itself.
   */
  #loops(a: Association): boolean {
    const srv = a.server;
    if (srv === null || a.refclock !== null || srv.stratum <= 1) return false;
    if (srv.refid === LOOPBACK_REFID) return false;
    if (this.#localRefids.has(srv.refid)) return true;
    return this.#sysPeer !== null && this.#sysPeer !== a && srv.refid === this.#refid;
  }

  /** Changes `tos` settings from the next selection on (reload, run-time configuration). */
  setTos(tos: Partial<TosOptions>): void {
    this.#tos = { ...this.#tos, ...tos };
  }

  /** The discipline (for the drift file and tests). */
  get loop(): Discipline {
    return this.#loop;
  }

  /** The leap second state (table, vote, status). */
  get leapSeconds(): LeapSeconds {
    return this.#leapState;
  }

  /**
   * Installs a (re)loaded leap-seconds table, or removes it with null; returns the events and
   * the kernel arming the new table implies at `now`.
   */
  setLeapTable(table: LeapSecondTable | null, now: NtpTime): Action[] {
    const actions: Action[] = [];
    this.#leapState.setTable(table);
    this.#leapEvaluate(now, actions);
    this.#pushTimer(actions, now);
    return actions;
  }

  /** Associations by id. */
  get associations(): ReadonlyMap<number, Association> {
    return this.#assocs;
  }

  /** Mobilises a client association; returns its id. */
  addServer(address: PeerAddress, options: AssociationOptions, now: NtpTime): number {
    const id = this.#nextId++;
    const drift = this.#opts.loop?.driftPpm;
    const opts = drift !== undefined && drift !== null && options.initialFreqStd === undefined
      ? { ...options, initialFreqStd: 2e-6 }
      : options;
    const a = new Association(
      id,
      address,
      opts,
      this.#opts.rng,
      this.#opts.precisionLog2,
      now,
      this.#opts.keys ?? null,
    );
    this.#assocs.set(id, a);
    this.#byAddr.set(addrKey(address), a);
    return id;
  }

  /**
   * Mobilises a reference clock association (127.127.t.u) that `onRefclockSample` feeds; returns
   * its id. It goes through the clock filter, selection, clustering and combining like a server,
   * with `prefer`, `noselect` and `minpoll`/`maxpoll` from `options`.
   */
  addRefclock(
    clock: RefclockIdentity,
    options: Omit<AssociationOptions, "kind" | "refclock" | "iburst" | "burst" | "key">,
    now: NtpTime,
  ): number {
    const id = this.#nextId++;
    const address: PeerAddress = {
      family: 4,
      address: refclockAddressText(clock.type, clock.unit),
      port: 0,
    };
    const a = new Association(
      id,
      address,
      { ...options, kind: "refclock", refclock: clock },
      this.#opts.rng,
      this.#opts.precisionLog2,
      now,
      null,
    );
    // Not in #byAddr: no datagram ever comes from a reference clock.
    this.#assocs.set(id, a);
    return id;
  }

  /**
   * A sample from the reference clock of association `assocId` (ntpd's refclock_receive): into
   * its clock filter, then selection and possibly a clock update, as a server's reply.
   */
  onRefclockSample(assocId: number, sample: RefclockSample, now: NtpTime): Action[] {
    const actions: Action[] = [];
    const a = this.#assocs.get(assocId);
    if (a === undefined || a.refclock === null) {
      this.#counters.noAssociation++;
      return actions;
    }
    this.#counters.received++;
    if (sample.kernelPps === true) this.#kernelPpsClocks.add(a.id);
    else this.#kernelPpsClocks.delete(a.id);
    const r = a.refclockSample(sample);
    if (r.kind === "sample") this.#sampleIn(a, r.sample, r.actions, now, actions);
    this.#pushTimer(actions, now);
    return actions;
  }

  /**
   * A `broadcast` line: mode 5 packets to `address` (a broadcast address or a group) at its poll
   * interval while synchronised, with its TTL and key. Returns its association id.
   */
  addBroadcast(address: PeerAddress, options: BroadcastServerOptions, now: NtpTime): number {
    const id = this.#nextId++;
    const b = new BroadcastServer(
      id,
      address,
      options,
      this.#opts.rng,
      now,
      this.#opts.keys ?? null,
    );
    this.#broadcasts.set(id, b);
    return id;
  }

  /**
   * A `manycastclient` line: requests to the group `address` over the TTL ring; each server that
   * answers is mobilised with `options` (poll range, key...) as an ephemeral client, and beyond
   * `maxclock` of them the worst by selection are dropped. Returns the search's association id.
   */
  addManycastClient(
    address: PeerAddress,
    search: ManycastClientOptions,
    options: AssociationOptions,
    maxclock: number,
    now: NtpTime,
  ): number {
    const id = this.#nextId++;
    const m = new ManycastClient(
      id,
      address,
      search,
      this.#opts.rng,
      this.#opts.precisionLog2,
      now,
      this.#opts.keys ?? null,
    );
    this.#manycasts.set(id, { search: m, options, maxclock: Math.max(1, maxclock) });
    return id;
  }

  /** Demobilises an association (e.g. a pool member being replaced). */
  removeAssociation(id: number): Action[] {
    if (this.#broadcasts.delete(id) || this.#manycasts.delete(id)) {
      return [{ type: "demobilize", assocId: id, reason: "removed" }];
    }
    this.#manycastOf.delete(id);
    const a = this.#assocs.get(id);
    if (a === undefined) return [];
    this.#assocs.delete(id);
    if (a.refclock === null) this.#byAddr.delete(addrKey(a.address));
    if (a.ephemeral) this.#ephemeralCount--;
    this.#usedAt.delete(id);
    this.#kernelPpsClocks.delete(id);
    const out: Action[] = [];
    if (this.#sysPeer === a) {
      this.#sysPeer = null;
      out.push(...(this.#loop.kernelPpsLost?.() ?? []));
    }
    return [...out, { type: "demobilize", assocId: id, reason: "removed" }];
  }

  /** Start-up actions: initial frequency and the first timer. */
  start(now: NtpTime): Action[] {
    this.#startedAt = now;
    this.#lostAt = now;
    this.#lastNow = now;
    const actions = this.#loop.start(now);
    actions.push({
      type: "setStatus",
      synchronized: false,
      leap: LEAP_NOTINSYNC,
      stratum: MAXSTRAT,
      refid: REFID_INIT,
    });
    this.#leapEvaluate(now, actions);
    this.#pushTimer(actions, now);
    return actions;
  }

  /**
   * True when a configured symmetric active association (a `peer` line) has `src`:`port`. Its
   * mode 1 packets are answers within that association, not requests to mobilise one, so
   * `enable auth` does not make them need a MAC: a keyless association accepts the peer
   * unauthenticated, as ntpd does (one with a key still takes only packets signed with it).
   */
  hasConfiguredPeer(src: IpWords, port: number): boolean {
    for (const a of this.#assocs.values()) {
      if (a.options.kind !== "peer" || a.address.port !== port) continue;
      if (this.#peerWords.parse(a.address.address) && this.#peerWords.equals(src)) return true;
    }
    return false;
  }

  /** Handles a received datagram addressed to one of our associations. */
  onPacket(dg: InboundDatagram, now: NtpTime): Action[] {
    const actions: Action[] = [];
    this.#lastNow = now;
    this.#counters.received++;
    const a = this.#byAddr.get(addrKey(dg.peer));
    if (a === undefined) {
      this.#unknownSender(dg, now, actions);
      this.#pushTimer(actions, now);
      return actions;
    }
    const r = a.receive(dg.data, dg.rxTime, dg.keyId ?? this.#verify(dg));
    if (r.kind === "kod") actions.push(...r.actions);
    if (r.kind === "rejected" && r.actions !== undefined) actions.push(...r.actions);
    if (r.kind === "sample") this.#sampleIn(a, r.sample, r.actions, now, actions);
    this.#pushTimer(actions, now);
    return actions;
  }

  /**
   * A packet from an address without an association: a symmetric active packet (mode 1) may
   * mobilise a passive association (RFC 5905 §9.2's "new symmetric passive"); anything else
   * is counted as having no association.
   */
  #unknownSender(dg: InboundDatagram, now: NtpTime, actions: Action[]): void {
    const mode = dg.data.length > 0 ? dg.data[0]! & 7 : 0;
    if (mode === 1) {
      const flags = dg.restrictFlags ?? 0;
      const keyId = dg.keyId ?? this.#verify(dg);
      // noepeer refuses ephemeral peers outright; nopeer only unauthenticated ones.
      const restricted = (flags & RES_NOEPEER) !== 0 || ((flags & RES_NOPEER) !== 0 && keyId === 0);
      // The passive side keeps the active peer's pace (its poll field), within NTP's range.
      const poll = dg.data.length > 2 ? (dg.data[2]! << 24) >> 24 : NTP_MINDPOLL;
      const pace = Math.max(NTP_MINPOLL, Math.min(NTP_MAXDPOLL, poll));
      const r = restricted ? this.#refuse("restricted") : this.mobilize(
        "passive",
        dg.peer,
        dg.data,
        keyId,
        now,
        { rxTime: dg.rxTime, options: { minpoll: pace, maxpoll: pace } },
      );
      if (r.ok) actions.push(...r.actions);
      return;
    }
    if (mode === 5 && this.#opts.broadcastClient) {
      const bc = this.#opts.broadcastClient;
      const keyId = dg.keyId ?? this.#verify(dg);
      if (restrictsMobilizing(dg.restrictFlags ?? 0, keyId)) {
        this.#refuse("restricted");
        return;
      }
      const r = this.mobilize("bclient", dg.peer, dg.data, keyId, now, {
        rxTime: dg.rxTime,
        options: {
          ...(bc.delaySec !== undefined ? { broadcastDelaySec: bc.delaySec } : {}),
          ...(bc.novolley === true ? { novolley: true } : {}),
          ...(dg.group !== undefined ? { group: dg.group } : {}),
          maxDistanceSec: this.#tos.maxdist,
        },
      });
      if (r.ok) actions.push(...r.actions);
      return;
    }
    if (mode === 4 && this.#manycasts.size > 0 && this.#manycastAnswer(dg, now, actions)) return;
    this.#counters.noAssociation++;
  }

  /**
   * A server's answer to one of our manycast requests (its origin timestamp is one of theirs):
   * the server is mobilised as an ephemeral client of that search. True when it was one.
   */
  #manycastAnswer(dg: InboundDatagram, now: NtpTime, actions: Action[]): boolean {
    if (dg.data.length < 48) return false;
    const origin = new DataView(dg.data.buffer, dg.data.byteOffset, 48).getBigUint64(24, false);
    const keyId = dg.keyId ?? this.#verify(dg);
    for (const [id, m] of this.#manycasts) {
      if (!m.search.matches(origin, keyId)) continue;
      if (restrictsMobilizing(dg.restrictFlags ?? 0, keyId)) {
        this.#refuse("restricted");
        return true;
      }
      const r = this.mobilize("server", dg.peer, dg.data, keyId, now, {
        rxTime: dg.rxTime,
        options: { ...m.options, name: dg.peer.address },
      });
      if (r.ok) {
        m.search.noteMobilized();
        this.#manycastOf.set(r.id, id);
        actions.push(...r.actions);
      }
      return true;
    }
    return false;
  }

  /**
   * Each manycast search keeps at most its `maxclock` servers: beyond that, the worst as the
   * last selection ranked them (survivors in order, then outliers by distance, falsetickers and
   * servers never heard last) are demobilised.
   */
  #pruneManycast(now: NtpTime, actions: Action[]): void {
    for (const [id, m] of this.#manycasts) {
      const members: { id: number; rank: number }[] = [];
      for (const [member, search] of this.#manycastOf) {
        if (search !== id) continue;
        const a = this.#assocs.get(member);
        if (a === undefined) {
          this.#manycastOf.delete(member);
          continue;
        }
        const place = this.#survivors.indexOf(member);
        const dist = a.rootDistanceSec(now);
        const rank = place >= 0
          ? place
          : this.#falsetickers.includes(member) || !Number.isFinite(dist)
          ? 1e9 + member
          : 1e6 + dist;
        members.push({ id: member, rank });
      }
      const surplus = manycastSurplus(members, m.maxclock);
      for (const drop of surplus) {
        const a = this.#assocs.get(drop)!;
        actions.push(...this.removeAssociation(drop), {
          type: "event",
          scope: "peer",
          assocId: drop,
          code: PeerEvent.DEMOBIL,
          message: `${a.address.address} demobilize assoc ${drop}: beyond manycast maxclock`,
        });
      }
      m.search.notePruned(surplus.length);
    }
  }

  /**
   * Mobilises an ephemeral association of `kind` with `from`, because of the packet `packet`
   * (whose MAC verified with `keyId`, 0: none) received at `now` (or at `extra.rxTime`), and
   * hands that packet to it, so that its timestamps are kept (a symmetric passive association
   * echoes them in its first packet). Used for symmetric passive peers (mode 1), and meant for
   * broadcast clients (mode 5) and manycast replies too; `extra.options` adds association
   * options (poll range, version, a key other than `keyId`).
   *
   * Refused, counted in `counters.mobilizeRefused`, when the packet is not authenticated with a
   * trusted key while `SystemOptions.authRequired` (default true), when it does not decode as an
   * NTP packet with a transmit timestamp, when `from` already has an association, or when
   * `SystemOptions.maxEphemeral` are already mobilised. The association is demobilised by
   * `onTimer` once unreachable (EPHEMERAL_GRACE_POLLS). Restrict flags are the caller's to
   * apply (as `onPacket` does with nopeer/noepeer).
   */
  mobilize(
    kind: AssociationKind,
    from: PeerAddress,
    packet: Uint8Array,
    keyId: number,
    now: NtpTime,
    extra: { rxTime?: NtpTime; options?: AssociationOptions } = {},
  ): MobilizeResult {
    if (this.#byAddr.has(addrKey(from))) return this.#refuse("exists");
    if (this.#opts.authRequired !== false) {
      if (keyId === 0) return this.#refuse("not_authenticated");
      if (this.#opts.keys?.isTrusted(keyId) !== true) return this.#refuse("untrusted_key");
    }
    const peek = this.#peek;
    if (peek.read(packet) !== "ok" || packet.length < 48 || isZeroTransmit(packet)) {
      return this.#refuse("invalid");
    }
    if (this.#ephemeralCount >= (this.#opts.maxEphemeral ?? MAX_EPHEMERAL)) {
      return this.#refuse("limit");
    }
    const version = (packet[0]! >> 3) & 7;
    const id = this.addServer(from, {
      version: version >= 3 && version <= 4 ? version : 4,
      ...extra.options,
      kind,
      ephemeral: true,
      ...(keyId !== 0 ? { key: extra.options?.key ?? keyId } : {}),
    }, now);
    this.#ephemeralCount++;
    this.#ephemeralMobilized++;
    const a = this.#assocs.get(id)!;
    const actions: Action[] = [{
      type: "event",
      scope: "peer",
      assocId: id,
      code: PeerEvent.MOBIL,
      message: `${from.address} mobilize assoc ${id}: ${kind}${keyId !== 0 ? ` key ${keyId}` : ""}`,
    }];
    const r = a.receive(packet, extra.rxTime ?? now, keyId);
    if (r.kind === "sample") this.#sampleIn(a, r.sample, r.actions, now, actions);
    else if (r.kind === "kod") actions.push(...r.actions);
    else if (r.actions !== undefined) actions.push(...r.actions);
    return { ok: true, id, actions };
  }

  #refuse(reason: MobilizeRefusal): MobilizeResult {
    this.#mobilizeRefused[reason] = (this.#mobilizeRefused[reason] ?? 0) + 1;
    return { ok: false, reason };
  }

  /**
   * Ephemeral associations that are no longer reachable: the reach register emptied after the
   * peer was heard, or EPHEMERAL_GRACE_POLLS polls passed without it ever being heard.
   */
  #expireEphemeral(actions: Action[]): void {
    for (const a of [...this.#assocs.values()]) {
      if (!a.ephemeral || a.reach !== 0) continue;
      if (a.pollsUnreached < (a.everReached ? 1 : EPHEMERAL_GRACE_POLLS)) continue;
      this.removeAssociation(a.id);
      this.#ephemeralDemobilized++;
      actions.push(
        {
          type: "event",
          scope: "peer",
          assocId: a.id,
          code: PeerEvent.DEMOBIL,
          message: `${a.address.address} demobilize assoc ${a.id}: unreachable`,
        },
        { type: "demobilize", assocId: a.id, reason: "unreachable" },
      );
    }
  }

  /** A measured sample of `a` (a reply or a reference clock's): filter, then selection. */
  #sampleIn(
    a: Association,
    s: FilterSample,
    produced: Action[],
    now: NtpTime,
    actions: Action[],
  ): void {
    actions.push(...produced);
    s.offsetSec -= this.#loop.pendingSlewSec(s.at);
    const added = a.filter.add(s);
    this.#peerStats(a, now, actions);
    if (!added.accepted) a.countFilterReject(added.reason);
    else if (added.spike) a.countDelaySpike();
    // The RFC 5905 filter register took the sample even when the estimator did not.
    if (added.accepted || this.#loop.sampleSource === "register") {
      const est = added.accepted && this.#loop.pollFromEstimator ? a.filter.estimate(now) : null;
      this.#clockSelect(now, a, actions);
      if (est !== null) a.updatePoll(est, Math.max(1, this.#survivors.length));
    }
  }

  /** The key id a datagram's MAC verifies with, 0 when it has none or it fails. */
  #verify(dg: InboundDatagram): number {
    const v = this.#verifier;
    if (v === null) return 0;
    const peek = this.#peek;
    if (peek.read(dg.data) !== "ok" || peek.macOffset < 0) return 0;
    return v.verify(dg.data, dg.data.length, peek.macOffset, null) === "ok" ? v.lastKeyId : 0;
  }

  /**
   * The daemon reports when a request of association `assocId` left: `data` is the datagram
   * of the send action (its transmit timestamp names the request), `at` the local time, from the
   * kernel when `kernel`. That exchange then measures from `at` (see Association.transmitted).
   * Nothing to do in return.
   */
  onTransmit(assocId: number, data: Uint8Array, at: NtpTime, kernel: boolean): void {
    const a = this.#assocs.get(assocId);
    if (a === undefined || data.length < 48) return;
    a.transmitted(readTimestamp(new DataView(data.buffer, data.byteOffset, 48), 40), at, kernel);
  }

  /** Runs due timers (polls, slew ends). */
  onTimer(now: NtpTime): Action[] {
    const actions: Action[] = [];
    this.#lastNow = now;
    actions.push(...this.#loop.onTimer(now));
    if (this.#leapDue !== null && this.#leapDue <= now) this.#leapEvaluate(now, actions);
    const sys = this.#ownState();
    for (const a of this.#assocs.values()) {
      const d = a.deadline;
      if (d !== null && d <= now) actions.push(...a.onTimer(now, sys));
    }
    for (const b of this.#broadcasts.values()) {
      if (b.deadline <= now) actions.push(...b.onTimer(now, sys));
    }
    if (this.#manycasts.size > 0) {
      this.#pruneManycast(now, actions);
      for (const [id, m] of this.#manycasts) {
        if (m.search.deadline > now) continue;
        let held = 0;
        for (const search of this.#manycastOf.values()) if (search === id) held++;
        actions.push(...m.search.onTimer(now, held, m.maxclock));
      }
    }
    this.#expireEphemeral(actions);
    let reachable = false;
    for (const a of this.#assocs.values()) if (a.reach !== 0) reachable = true;
    // An orphan parent goes on serving its clients when its peers fall silent.
    if (this.#anyReachable && !reachable && !this.#orphanParent) {
      actions.push(systemEvent(SystemEvent.NOPEER, "no servers reachable"));
      this.#unsync(actions);
    }
    this.#anyReachable = reachable;
    this.#failover(now, actions);
    // A silent server given up on must not delay the first update until the next sample.
    if (this.#loop.updates === 0 && this.#waitingFor.length > 0) {
      this.#clockSelect(now, null, actions);
    } else if (this.#sysPeer === null && this.#orphanDue(now)) {
      this.#clockSelect(now, null, actions);
    }
    // Orphan mode turned off (a reload) while this host is the parent: it stops serving.
    if (this.#orphanParent && this.#tos.orphan >= MAXSTRAT) this.#unsync(actions);
    if (this.#orphanParent) this.#refTime = now;
    this.#pushTimer(actions, now);
    return actions;
  }

  /** System variables and associations for the control protocol. */
  snapshot(now: NtpTime): SystemSnapshot {
    return {
      leap: this.#leap,
      stratum: this.#stratum,
      precisionLog2: this.#opts.precisionLog2,
      rootDelaySec: this.#rootDelaySec,
      rootDispersionSec: this.#rootDispSec,
      refid: this.#refid,
      referenceTime: this.#refTime,
      systemPeer: this.#sysPeer?.id ?? null,
      offsetSec: this.#offsetSec,
      sysJitterSec: this.#jitterSec,
      freqPpm: this.#loop.freqPpm,
      state: this.#loop.state,
      survivors: [...this.#survivors],
      falsetickers: [...this.#falsetickers],
      counters: {
        ...this.#counters,
        ephemeralMobilized: this.#ephemeralMobilized,
        ephemeralDemobilized: this.#ephemeralDemobilized,
        mobilizeRefused: { ...this.#mobilizeRefused },
      },
      associations: [
        ...[...this.#assocs.values()].map((a) => a.snapshot(now)),
        ...[...this.#broadcasts.values()].map((b) => b.snapshot(now)),
        ...[...this.#manycasts.values()].map((m) => m.search.snapshot(now)),
      ].sort((x, y) => x.id - y.id),
      discipline: this.#loop.kind,
      pollLog2: this.#loop.pollLog2 ?? this.#systemPollLog2(),
      leapStatus: { ...this.#leapState.status },
      mobilized: this.#nextId - 1,
      orphan: this.#tos.orphan >= MAXSTRAT
        ? null
        : this.#orphanParent
        ? "parent"
        : this.#sysPeer !== null
        ? (this.#sysPeer.server?.stratum === this.#tos.orphan ? "child" : null)
        : "waiting",
    };
  }

  /** The associations selection may use now, with what select/cluster/combine need. */
  #candidates(now: NtpTime): Candidate[] {
    const tos = this.#tos;
    const cands: Candidate[] = [];
    for (const a of this.#assocs.values()) {
      const srv = a.server;
      if (a.options.noselect || a.reach === 0 || srv === null || a.dead) continue;
      // A source that stopped answering is not relied on: its estimate only ages.
      if (a.unanswered >= FAILOVER_UNANSWERED) continue;
      // The floor is for network servers: a reference clock's stratum is 0 unless fudged.
      if ((a.refclock === null && srv.stratum < tos.floor) || srv.stratum >= tos.ceiling) continue;
      if (this.#loops(a)) continue;
      // With orphan mode on, a network source at or above the orphan stratum may have this
      // host's orphan mesh among its ancestors: only the orphan parent election looks at it.
      if (a.refclock === null && srv.stratum >= tos.orphan) continue;
      const est = a.estimate(now);
      if (est === null || est.samples < this.#minSamples) continue;
      const dist = a.selectionDistanceSec(now);
      if (!(dist < tos.maxdist)) continue;
      const rfc = a.filter.rfcState(now);
      cands.push({
        a,
        offsetSec: est.offsetSec,
        varS: est.offsetVar,
        freq: est.freq,
        freqVar: est.freqVar,
        dist,
        jitterSec: rfc?.jitterSec ?? 0,
        rfcOffsetSec: rfc?.offsetSec ?? est.offsetSec,
        rootDistanceSec: a.rootDistanceSec(now),
      });
    }
    return cands;
  }

  /**
   * Before the first clock update: the associations worth waiting for, so that one early
   * falseticker cannot be followed (let alone stepped to) before the others can outvote it.
   * One that has not answered STARTUP_SILENT_SEC after its first request is not waited for
   * (a live server answers within a second or two), nor one that answered but is not usable,
   * nor anything after STARTUP_HOLD_SEC. What the other servers do cannot hold the start longer.
   */
  #awaited(now: NtpTime, cands: readonly Candidate[]): Association[] {
    const out: Association[] = [];
    if (this.#startedAt !== null && diffSec(now, this.#startedAt) >= STARTUP_HOLD_SEC) return out;
    for (const a of this.#assocs.values()) {
      if (a.options.noselect || a.dead || cands.some((c) => c.a === a)) continue;
      if (a.received === 0) {
        const first = a.firstRequestAt;
        if (first === null || diffSec(now, first) < STARTUP_SILENT_SEC) out.push(a);
      } else if (
        a.unanswered < FAILOVER_UNANSWERED && a.filter.samples < this.#minSamples &&
        a.server !== null && a.server.stratum < this.#tos.ceiling
      ) {
        // Answering, still gathering the samples it needs (-q wants four).
        out.push(a);
      }
    }
    return out;
  }

  /**
   * The start-up hold: true while associations are awaited. Logs what it waits for when that
   * changes, and each server given up for silence.
   */
  #holdForStartup(now: NtpTime, cands: readonly Candidate[], actions: Action[]): boolean {
    if (this.#loop.updates > 0) return false;
    const awaited = this.#awaited(now, cands);
    for (const id of this.#waitingFor) {
      const a = this.#assocs.get(id);
      if (a === undefined || awaited.includes(a) || a.received > 0) continue;
      actions.push({
        type: "event",
        scope: "peer",
        assocId: a.id,
        code: PeerEvent.REPLY,
        message: `${nameOf(a)} no reply ${
          Math.round(diffSec(now, a.firstRequestAt ?? now))
        } s after the first request: not waiting for it`,
      });
    }
    // Say what the hold waits for once it lasts: a start where every server answers at once
    // logs nothing.
    const overdue = cands.length === 0 ? [] : awaited.filter((a) => {
      const first = a.firstRequestAt;
      return first !== null && diffSec(now, first) >= STARTUP_QUIET_SEC;
    });
    const key = overdue.map((a) => a.id).join(",");
    if (overdue.length > 0 && key !== this.#waitingKey) {
      const what = overdue.map((a) =>
        `${nameOf(a)} (${a.received === 0 ? "no reply yet" : `${a.filter.samples} samples`})`
      );
      const usable = `${cands.length} of ${this.#assocs.size} servers usable`;
      actions.push(
        systemEvent(
          SystemEvent.UNSPEC,
          `waiting for ${what.join(", ")} before the first clock update; ${usable}`,
        ),
      );
    }
    this.#waitingKey = key;
    this.#waitingFor = awaited.map((a) => a.id);
    return awaited.length > 0;
  }

  /**
   * Select and cluster (Horae's under both disciplines: the estimator's offsets and selection
   * distances, so a falseticker is never followed). Updates survivors, falsetickers and the
   * leap vote; without a majority the system peer is dropped. Survivors best first, or null.
   */
  #survivorsOf(now: NtpTime, cands: Candidate[], actions: Action[]): Candidate[] | null {
    const tos = this.#tos;
    const sel = selectTruechimers(
      cands.map((c) => ({ id: c.a.id, offsetSec: c.offsetSec, rootDistanceSec: c.dist })),
      tos.minsane,
    );
    if (!sel.ok) {
      this.#counters.noMajority++;
      this.#falsetickers = cands.map((c) => c.a.id);
      this.#survivors = [];
      if (this.#sysPeer !== null) {
        actions.push(
          systemEvent(SystemEvent.NOPEER, `no majority of ${cands.length} servers agree`),
        );
        this.#unsync(actions);
      }
      return null;
    }
    this.#falsetickers = sel.falsetickers;
    const surv = cands.filter((c) => sel.survivors.includes(c.a.id));
    const cl = clusterSurvivors(
      surv.map((c) => ({
        id: c.a.id,
        offsetSec: c.offsetSec,
        jitterSec: c.jitterSec,
        merit: (c.a.server?.stratum ?? 16) * tos.maxdist + c.dist,
        // The prefer peer is never clustered out (ntpd's mitigation rules).
        ...(c.a.options.prefer ? { keep: true } : {}),
      })),
      tos.minclock,
    );
    this.#survivors = cl.survivors;
    // Leap indicator: what more than half of the survivors announce.
    this.#leapState.setVote(
      leapVote(cl.survivors.map((id) => this.#assocs.get(id)?.server?.leap ?? 0)),
    );
    this.#leapEvaluate(now, actions);
    return cl.survivors.map((id) => surv.find((c) => c.a.id === id)!);
  }

  /**
   * Select and cluster with the mitigation rules (ntpd's "Mitigation Rules and the prefer
   * Keyword"): last-resort clocks (the LOCAL driver) are left out while any other candidate
   * exists, and used alone only when the others are none or have no majority; a PPS clock takes
   * no part in selection and joins the survivors, first, only when an anchor agrees with it
   * (see #withPps). Survivors best first, or null.
   */
  #select(now: NtpTime, cands: Candidate[], actions: Action[]): Candidate[] | null {
    const real = cands.filter((c) => !c.a.refclock?.lastResort && !c.a.refclock?.pps);
    const last = cands.filter((c) => c.a.refclock?.lastResort);
    if (real.length > 0) {
      const ordered = this.#survivorsOf(now, real, actions);
      if (ordered !== null) return this.#withPps(ordered, cands);
      if (last.length === 0) return ordered;
    }
    const falsetickers = this.#falsetickers;
    const ordered = this.#survivorsOf(now, last, actions);
    if (real.length > 0) this.#falsetickers = [...falsetickers, ...this.#falsetickers];
    return ordered;
  }

  /**
   * The survivors with a PPS clock put first when one may be used: it knows where each second
   * begins but not which second it is, so it needs an anchor among the survivors, the prefer
   * peer or a clock with its own PPS (NMEA or gpsd with flag1), or, for a PPS clock that is
   * itself the prefer peer, the best survivor (ntpd: the system offset within 0.4 s), whose
   * offset is within PPS_AGREE_SEC of the pulse's. Otherwise the survivors as they are.
   */
  #withPps(ordered: Candidate[], cands: Candidate[]): Candidate[] {
    const anchor = ordered.find((c) => c.a.options.prefer || c.a.refclock?.ppsCapable);
    const pps = cands.find((c) => {
      if (!c.a.refclock?.pps) return false;
      const a = anchor ?? (c.a.options.prefer ? ordered[0] : undefined);
      return a !== undefined && Math.abs(c.offsetSec - a.offsetSec) < PPS_AGREE_SEC;
    });
    if (pps === undefined) return ordered;
    this.#survivors = [pps.a.id, ...this.#survivors];
    return [pps, ...ordered];
  }

  /**
   * The system peer among survivors: a PPS clock (which #withPps lets in only with an anchor),
   * else prefer, else the current one at the best stratum.
   */
  #peerOf(ordered: Candidate[]): Candidate {
    const pps = ordered.find((c) => c.a.refclock?.pps);
    if (pps !== undefined) return pps;
    const prefer = ordered.find((c) => c.a.options.prefer);
    // Keep the current system peer while it survives at the best stratum (ntpd's hysteresis):
    // swapping peers on every small change only churns the logs and the refid.
    const stay = ordered.find((c) =>
      c.a === this.#sysPeer && c.a.server?.stratum === ordered[0]!.a.server?.stratum
    );
    return prefer ?? stay ?? ordered[0]!;
  }

  /**
   * Selection and a clock update after a sample of `updated` (null: the start-up check on the
   * timer, which may make the first update without a new sample).
   */
  #clockSelect(now: NtpTime, updated: Association | null, actions: Action[]): void {
    const cands = this.#candidates(now);
    if (cands.length === 0 && this.#orphanDue(now)) {
      this.#orphanSelect(now, updated, actions);
      return;
    }
    if (this.#holdForStartup(now, cands, actions) || cands.length === 0) return;
    const ordered = this.#select(now, cands, actions);
    if (ordered === null) return;
    if (updated !== null && !ordered.some((c) => c.a === updated)) return;
    this.#update(now, ordered, actions);
  }

  /** A clock update from the survivors `ordered` (best first), adopting the system peer. */
  #update(now: NtpTime, ordered: Candidate[], actions: Action[]): void {
    const loop = this.#loop;
    const register = loop.sampleSource === "register";
    const byVariance = loop.weightsByVariance;
    const peer = this.#peerOf(ordered);
    // A PPS system peer is used alone (ntpd): the others only numbered its seconds.
    const inputs = peer.a.refclock?.pps ? [peer] : [peer, ...ordered.filter((c) => c !== peer)];
    const comb = combineSurvivors(inputs.map((c) => ({
      offsetSec: register ? c.rfcOffsetSec : c.offsetSec,
      freq: register ? 0 : c.freq,
      // By the estimator's variance, or as RFC 5905 §11.2.3 by 1/λ (root distance).
      weight: byVariance ? 1 / (c.varS + 1e-14) : 1 / c.rootDistanceSec,
    })));
    if (comb === null) return;
    let freqW = 0;
    let freqVar = Infinity;
    for (const c of inputs) freqW += 1 / c.freqVar;
    if (freqW > 0) freqVar = 1 / freqW;
    const peerRfc = peer.a.filter.rfcState(now);
    if (loop.freshOutputOnly) {
      // Only a filter output of the system peer not used before updates the clock (ntpd).
      const used = this.#usedAt.get(peer.a.id);
      if (peerRfc === null || (used !== undefined && peerRfc.at <= used)) return;
      this.#usedAt.set(peer.a.id, peerRfc.at);
    }
    const peerSrv = peer.a.server!;
    const res = loop.update(
      {
        offsetSec: comb.offsetSec,
        freq: comb.freq,
        offsetVar: byVariance ? 1 / comb.weight : 0,
        freqVar,
        ...(peerRfc !== null ? { delaySec: peerRfc.delaySec } : {}),
        minPollLog2: peer.a.options.minpoll ?? NTP_MINDPOLL,
        maxPollLog2: peer.a.options.maxpoll ?? NTP_MAXDPOLL,
        maxErrorSec: peerSrv.rootDelaySec / 2 + peerSrv.rootDispersionSec +
          (peerRfc?.dispersionSec ?? 0) + (peerRfc?.delaySec ?? 0) / 2,
        kernelPps: peer.a.refclock?.pps === true && this.#kernelPpsClocks.has(peer.a.id),
      },
      now,
    );
    actions.push(...res.actions);
    if (res.ignored) return;
    this.#counters.clockUpdates++;
    for (const a of this.#assocs.values()) {
      a.filter.applyCorrection(
        res.phaseSec,
        res.freq,
        res.stepped ? addSec(now, res.phaseSec) : now,
        res.stepped,
      );
      if (res.stepped) a.clockStepped(res.phaseSec);
    }
    if (res.stepped) {
      for (const [id, t] of this.#usedAt) this.#usedAt.set(id, addSec(t, res.phaseSec));
    }
    // Read again: a step has moved the register's sample time, and with it the dispersion.
    const rfc = peer.a.filter.rfcState(now);
    this.#offsetSec = comb.offsetSec;
    this.#jitterSec = Math.sqrt(comb.selectionJitterSec ** 2 + (rfc?.jitterSec ?? 0) ** 2);
    this.#refTime = now;
    this.#adopt(peer.a, now, actions);
    this.#loopStats(now, freqVar, actions);
  }

  /** A peerstats record: the association's filter output after a sample, and its status. */
  #peerStats(a: Association, now: NtpTime, actions: Action[]): void {
    const f = a.filter.rfcState(now);
    if (f === null) return;
    let selection = 0; // reject
    if (a === this.#sysPeer) selection = 6; // system peer
    else if (this.#survivors.includes(a.id)) selection = 4; // candidate
    else if (this.#falsetickers.includes(a.id)) selection = 1; // falseticker
    else if (a.reach !== 0) selection = 3; // outlier
    const configured = a.options.kind !== "pool";
    actions.push({
      type: "stats",
      record: {
        kind: "peerstats",
        at: now,
        assocId: a.id,
        address: a.address,
        statusByte: (configured ? 0x80 : 0) | (a.reach !== 0 ? 0x10 : 0) | selection,
        offsetSec: f.offsetSec,
        delaySec: f.delaySec,
        dispersionSec: f.dispersionSec,
        jitterSec: f.jitterSec,
      },
    });
  }

  /**
   * A loopstats record after a clock update: the offset the discipline acted on, the frequency,
   * the clock jitter and wander (the ntpd discipline's own; under Horae's, the system jitter and
   * the combined frequency estimate's standard deviation) and the time constant / system poll.
   */
  #loopStats(now: NtpTime, freqVar: number, actions: Action[]): void {
    const loop = this.#loop;
    const wanderPpm = loop.clockWanderPpm ??
      (Number.isFinite(freqVar) ? Math.sqrt(freqVar) * 1e6 : 0);
    actions.push({
      type: "stats",
      record: {
        kind: "loopstats",
        at: now,
        offsetSec: loop.lastOffsetSec,
        freqPpm: loop.freqPpm,
        jitterSec: loop.clockJitterSec ?? this.#jitterSec,
        wanderPpm,
        pollLog2: loop.pollLog2 ?? this.#systemPollLog2() ?? 0,
      },
    });
  }

  /**
   * Failover on the timer: when the system peer has stopped answering (FAILOVER_UNANSWERED
   * requests in a row) or is unreachable, choose another survivor now instead of at the next
   * sample, without a clock update. With no other survivor the peer is kept while still
   * reachable (holdover, as ntpd), and dropped once unreachable.
   */
  #failover(now: NtpTime, actions: Action[]): void {
    const peer = this.#sysPeer;
    if (peer === null) return;
    // A peer that has become unfit is never held over: one that says it is unsynchronised, one
    // that now follows this host (a timing loop: two peers that lost their common source at
    // once would otherwise follow each other), one beyond the orphan stratum (this host's
    // orphan mesh may be among its ancestors).
    const srv = peer.server;
    const unfit = srv !== null && peer.refclock === null &&
      (srv.leap === LEAP_NOTINSYNC || srv.stratum >= MAXSTRAT || this.#loops(peer) ||
        srv.stratum > this.#tos.orphan);
    if (!unfit && peer.reach !== 0 && peer.unanswered < FAILOVER_UNANSWERED) return;
    const cands = this.#candidates(now);
    const ordered = cands.length === 0 ? [] : this.#select(now, cands, actions);
    if (ordered === null) return; // no majority: already unsynchronised
    if (ordered.length > 0) {
      this.#adopt(this.#peerOf(ordered).a, now, actions);
      return;
    }
    if (peer.reach === 0 || unfit) {
      const why = peer.reach === 0 ? "unreachable" : "no longer fit to follow";
      actions.push(systemEvent(SystemEvent.NOPEER, `system peer ${nameOf(peer)} ${why}, no other`));
      this.#unsync(actions);
    }
  }

  /**
   * True when orphan mode applies now: it is on (`tos orphan` below 16), there is no system
   * peer, and there has been none for `tos orphanwait` seconds (or this host is the parent).
   */
  #orphanDue(now: NtpTime): boolean {
    if (this.#tos.orphan >= MAXSTRAT || this.#sysPeer !== null) return false;
    if (this.#orphanParent) return true;
    return this.#lostAt !== null && diffSec(now, this.#lostAt) >= this.#tos.orphanwait;
  }

  /**
   * The orphan parent election (RFC 5905's orphan mode, ntpd's `tos orphan`): among the
   * reachable network sources that serve at the orphan stratum (each an orphan parent itself),
   * the one whose address has the lowest refid, if lower than this host's own (the lowest
   * refid of its own addresses of that family, loopback and link-local left out; the largest
   * value when it knows none, so it never claims the role over a peer that does); null when
   * this host ranks first and must be the parent.
   */
  #orphanParentCandidate(now: NtpTime): Candidate | null {
    const orphan = this.#tos.orphan;
    let best: Candidate | null = null;
    let bestMetric = Infinity;
    for (const a of this.#assocs.values()) {
      const srv = a.server;
      if (a.refclock !== null || a.options.noselect || a.dead || a.reach === 0) continue;
      if (srv === null || srv.stratum !== orphan || srv.leap === LEAP_NOTINSYNC) continue;
      if (a.unanswered >= FAILOVER_UNANSWERED) continue;
      const metric = this.#refidOf(a.address);
      if (metric >= bestMetric || metric >= this.#orphanMetrics[a.address.family]) continue;
      const est = a.estimate(now);
      if (est === null || est.samples < this.#minSamples) continue;
      const rfc = a.filter.rfcState(now);
      best = {
        a,
        offsetSec: est.offsetSec,
        varS: est.offsetVar,
        freq: est.freq,
        freqVar: est.freqVar,
        dist: a.selectionDistanceSec(now),
        jitterSec: rfc?.jitterSec ?? 0,
        rfcOffsetSec: rfc?.offsetSec ?? est.offsetSec,
        rootDistanceSec: a.rootDistanceSec(now),
      };
      bestMetric = metric;
    }
    return best;
  }

  /**
   * Orphan mode with no real source: follow the elected orphan parent (a clock update from its
   * samples only), or become the parent: stratum `tos orphan`, refid 127.0.0.1, synchronised to
   * nothing but serving, the clock left to run free.
   */
  #orphanSelect(now: NtpTime, updated: Association | null, actions: Action[]): void {
    const parent = this.#orphanParentCandidate(now);
    if (parent !== null) {
      if (updated !== null && updated !== parent.a) return;
      this.#survivors = [parent.a.id];
      this.#falsetickers = [];
      this.#update(now, [parent], actions);
      return;
    }
    if (this.#orphanParent) return;
    this.#orphanParent = true;
    this.#survivors = [];
    this.#stratum = this.#tos.orphan;
    this.#refid = LOOPBACK_REFID;
    this.#rootDelaySec = 0;
    this.#rootDispSec = 0;
    this.#refTime = now;
    this.#leap = this.#leapState.status.armed;
    actions.push(
      systemEvent(
        SystemEvent.UNSPEC,
        `orphan mode: serving as orphan parent at stratum ${this.#stratum}`,
      ),
      this.#status(true),
    );
  }

  /** Makes `a` the system peer: stratum, refid, root delay and dispersion, leap, log lines. */
  #adopt(a: Association, now: NtpTime, actions: Action[]): void {
    const srv = a.server!;
    const rfc = a.filter.rfcState(now);
    this.#rootDelaySec = srv.rootDelaySec + (rfc?.delaySec ?? 0);
    this.#rootDispSec = srv.rootDispersionSec + (rfc?.dispersionSec ?? 0) + this.#jitterSec +
      Math.abs(this.#offsetSec);
    const newStratum = Math.min(MAXSTRAT, srv.stratum + 1);
    const addr = a.address;
    // RFC 5905: a primary server names its reference clock; above that the refid is the
    // system peer's address, for a reference clock its 127.127.t.u.
    const newRefid = a.refclock !== null && newStratum === 1
      ? a.refclock.refid
      : addr.family === 6 && this.#opts.ipv6Refid !== undefined
      ? this.#opts.ipv6Refid(addr.address)
      : refidOf(addr);
    const newLeap = this.#leapState.status.armed;
    const prevPeer = this.#sysPeer;
    const prevStratum = this.#stratum;
    const changed = this.#sysPeer !== a || this.#stratum !== newStratum ||
      this.#leap !== newLeap;
    const wasUnsync = this.#leap === LEAP_NOTINSYNC;
    if (this.#orphanParent) {
      this.#orphanParent = false;
      actions.push(systemEvent(SystemEvent.UNSPEC, `orphan mode: following ${nameOf(a)}`));
    }
    this.#lostAt = null;
    this.#sysPeer = a;
    this.#stratum = newStratum;
    this.#refid = newRefid;
    this.#leap = newLeap;
    if (changed) {
      if (wasUnsync) actions.push(systemEvent(SystemEvent.SYNC, "clock_sync"));
      if (wasUnsync || this.#sysPeer !== prevPeer || this.#stratum !== prevStratum) {
        actions.push({
          type: "event",
          scope: "peer",
          assocId: a.id,
          code: PeerEvent.NEWPEER,
          message: `synchronized to ${
            a.refclock !== null ? nameOf(a) : a.address.address
          }, stratum ${srv.stratum}`,
        });
      }
      actions.push(this.#status(true));
    }
  }

  /**
   * The system poll exponent under the horae discipline, which has no loop time constant: the
   * system peer's poll, else the shortest among the associations (null without any).
   */
  #systemPollLog2(): number | null {
    if (this.#sysPeer !== null) return this.#sysPeer.pollLog2;
    let min: number | null = null;
    for (const a of this.#assocs.values()) if (min === null || a.pollLog2 < min) min = a.pollLog2;
    return min;
  }

  #unsync(actions: Action[]): void {
    if (this.#leap === LEAP_NOTINSYNC && this.#sysPeer === null) return;
    this.#sysPeer = null;
    actions.push(...(this.#loop.kernelPpsLost?.() ?? []));
    this.#orphanParent = false;
    // Orphan mode, when on, starts `tos orphanwait` from now (see #orphanDue).
    this.#lostAt = this.#lastNow;
    this.#leap = LEAP_NOTINSYNC;
    this.#stratum = MAXSTRAT;
    this.#refid = REFID_INIT;
    actions.push(this.#status(false));
  }

  /**
   * Re-evaluates the leap second at `now`: its events, the kernel arming through the discipline
   * and, while synchronised, the leap indicator in the status (set only during the last day).
   */
  #leapEvaluate(now: NtpTime, actions: Action[]): void {
    actions.push(...this.#leapState.evaluate(now));
    this.#leapDue = this.#leapState.deadline(now);
    const armed = this.#leapState.status.armed;
    actions.push(...this.#loop.setLeap(armed));
    if (this.#leap !== LEAP_NOTINSYNC && this.#leap !== armed) {
      this.#leap = armed;
      actions.push(this.#status(true));
    }
  }

  /** The system state symmetric packets carry (null: unsynchronised). */
  #ownState(): SystemState | null {
    if (this.#leap === LEAP_NOTINSYNC || this.#stratum >= MAXSTRAT) return null;
    return {
      leap: this.#leap,
      stratum: this.#stratum,
      precisionLog2: this.#opts.precisionLog2,
      rootDelaySec: this.#rootDelaySec,
      rootDispersionSec: this.#rootDispSec,
      refid: this.#refid,
      referenceTime: this.#refTime,
    };
  }

  /** The status action for the system variables as they are now. */
  #status(synchronized: boolean): Action {
    return {
      type: "setStatus",
      synchronized,
      leap: this.#leap,
      stratum: this.#stratum,
      refid: this.#refid,
    };
  }

  #pushTimer(actions: Action[], now: NtpTime): void {
    let next: NtpTime | null = this.#loop.deadline;
    const leap = this.#leapDue;
    if (leap !== null && (next === null || leap < next)) next = leap;
    for (const a of this.#assocs.values()) {
      const d = a.deadline;
      if (d !== null && (next === null || d < next)) next = d;
    }
    for (const b of this.#broadcasts.values()) {
      if (next === null || b.deadline < next) next = b.deadline;
    }
    for (const m of this.#manycasts.values()) {
      if (next === null || m.search.deadline < next) next = m.search.deadline;
    }
    // Orphan mode starts when orphanwait has run out.
    if (
      this.#tos.orphan < MAXSTRAT && this.#sysPeer === null && !this.#orphanParent &&
      this.#lostAt !== null
    ) {
      const d = addSec(this.#lostAt, this.#tos.orphanwait);
      if (d > now && (next === null || d < next)) next = d;
    }
    // The start-up hold is logged, and ends, at points of a silent server's wait: look then.
    if (this.#loop.updates === 0) {
      for (const id of this.#waitingFor) {
        const first = this.#assocs.get(id)?.firstRequestAt ?? null;
        if (first === null) continue;
        for (const sec of [STARTUP_QUIET_SEC, STARTUP_SILENT_SEC]) {
          const d = addSec(first, sec);
          if (d > now && (next === null || d < next)) next = d;
        }
      }
    }
    if (next !== null) actions.push({ type: "setTimer", at: next < now ? now : next });
  }
}

/** The refid a client shows for a server: its IPv4 address, or a hash of an IPv6 one. */
export function refidOf(addr: PeerAddress): number {
  if (addr.family === 4) {
    const parts = addr.address.split(".").map((p) => Number(p) & 0xff);
    return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) |
      (parts[3] ?? 0)) >>> 0;
  }
  // COMPAT: ntpd uses the first four bytes of the MD5 of the address; lib/proto has no MD5, so
  // this is FNV-1a of the text form unless SystemOptions.ipv6Refid supplies the digest.
  let h = 0x811c9dc5;
  for (let i = 0; i < addr.address.length; i++) {
    h = Math.imul(h ^ addr.address.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** How logs name an association: its configured name, else its address. */
function nameOf(a: Association): string {
  return a.options.name ?? a.address.address;
}

function isZeroTransmit(data: Uint8Array): boolean {
  for (let i = 40; i < 48; i++) if (data[i] !== 0) return false;
  return true;
}

/**
 * ntpd's nopeer and noepeer for a packet that would mobilise an association (a broadcast
 * server's mode 5, a manycast server's answer): noepeer refuses it, nopeer unless authenticated.
 */
function restrictsMobilizing(flags: number, keyId: number): boolean {
  return (flags & RES_NOEPEER) !== 0 || ((flags & RES_NOPEER) !== 0 && keyId === 0);
}

function addrKey(a: PeerAddress): string {
  return `${a.address}|${a.port}`;
}

/** Age of a time in seconds (helper for callers formatting snapshots). */
export function ageSec(now: NtpTime, then: NtpTime): number {
  return then === 0n ? Infinity : diffSec(now, then);
}
