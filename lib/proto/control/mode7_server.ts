// The daemon's side of mode 7 (ntpd 4.2.x's private requests, `enable mode7`): read-only
// requests only: the peer list and summary, peer details, system information and counters, the
// discipline, the kernel clock, socket and association-table counters. Every other request
// (configuration, the restrict list, monlist and the rest) is refused as not implemented.
//
// Amplification. ntpd answers mode 7 with up to 128 datagrams of 500 bytes to anyone restrict
// lets query. Here (beside `noquery`, which the packet path applies):
// - an answer to a source that is not a loopback address is never longer, all datagrams
//   together, than the request it answers; a longer one is refused with an 8-byte "permission
//   denied" (COMPAT). Loopback sources cannot be spoofed from outside the host (the kernel drops
//   such martians) and their answers only reach the host itself, so they get whole answers:
//   this is how collectd and `horae dc` on the same host read everything;
// - every answer spends a per-source and a global byte budget; over budget, nothing is sent;
// - malformed requests get nothing (as ntpd), errors are 8 bytes (never more than a request).
// No I/O: requests go in, datagrams to send come out.

import { MODE_CLIENT } from "../constants.ts";
import type { IpWords } from "../ip.ts";
import { diffSec, type NtpTime } from "../ntp_time.ts";
import { ByteBudget, type ByteBudgetLimits } from "./byte_budget.ts";
import type { ControlPeer, ControlView } from "./control_view.ts";
import { PeerSelect } from "./control_view.ts";
import {
  decodeMode7,
  decodePeerListItem,
  encodeIoStatsItem,
  encodeKernelItem,
  encodeLoopInfoItem,
  encodeMemStatsItem,
  encodeMode7Answer,
  encodeMode7Error,
  encodePeerInfoItem,
  encodePeerListItem,
  encodePeerSummaryItem,
  encodeSysInfoItem,
  encodeSysStatsItem,
  IMPL_UNIV,
  IMPL_XNTPD,
  IMPL_XNTPD_OLD,
  isV6Text,
  ItemSize,
  type Mode7AnswerTo,
  Mode7Err,
  mode7Items,
  type Mode7Message,
  Mode7Req,
  NTP_HASH_SIZE,
  PeerFlag,
  type PeerInfoItem,
} from "./mode7.ts";

/** STA_NANO: the kernel's offset and precision are in nanoseconds. */
const STA_NANO = 0x2000;

/** What mode 7 shows beyond the control protocol's view. */
export interface Mode7Extras {
  /** The sysinfo flags now ({@link SysFlag} bits: enable/disable settings). */
  systemFlags(): number;
  /** The association table's counters. */
  memory(): { findPeerCalls: number; allocations: number; demobilizations: number };
  /** The discipline's poll-adjust counter (ntpd's loopinfo "poll adjust"), if it has one. */
  pollAdjust?(): number;
}

/** Options of a {@link Mode7Server}. */
export interface Mode7ServerOptions {
  view: ControlView;
  extras: Mode7Extras;
  limits?: Partial<ByteBudgetLimits>;
}

/** Default budgets: 8 KiB burst and 1 KiB/s per source, 32 KiB/s for all. */
export const DEFAULT_MODE7_LIMITS: Readonly<ByteBudgetLimits> = {
  sourceBurstBytes: 8 * 1024,
  sourceBytesPerSec: 1024,
  globalBurstBytes: 32 * 1024,
  globalBytesPerSec: 32 * 1024,
  maxSources: 1024,
};

/** One mode 7 datagram arriving (the packet path's PacketIn has this shape). */
export interface Mode7RequestIn {
  readonly data: Uint8Array;
  readonly src: IpWords;
  readonly srcPort: number;
}

/** What became of a request. */
export type Mode7Outcome = "answered" | "error" | "bad_format" | "rate_limited" | "too_large";

/** The answer to one request. */
export interface Mode7Answer {
  /** Datagrams to send back, in order (empty: nothing). */
  replies: Uint8Array[];
  outcome: Mode7Outcome;
  /** The error code sent, or −1. */
  errorCode: number;
}

/** Counters of the mode 7 server. */
export interface Mode7Counters {
  requests: number;
  answered: number;
  errors: number;
  badFormat: number;
  rateLimited: number;
  /** Answers refused because they would have been larger than the request. */
  tooLarge: number;
  bytesSent: number;
}

/** The read-only requests answered. */
const READ_ONLY = new Set<number>([
  Mode7Req.PEER_LIST,
  Mode7Req.PEER_LIST_SUM,
  Mode7Req.PEER_INFO,
  Mode7Req.SYS_INFO,
  Mode7Req.SYS_STATS,
  Mode7Req.IO_STATS,
  Mode7Req.MEM_STATS,
  Mode7Req.LOOP_INFO,
  Mode7Req.GET_KERNEL,
]);

interface Req {
  msg: Mode7Message;
  to: Mode7AnswerTo;
  src: IpWords;
  requestBytes: number;
  /** IPv4-only client (IMPL_XNTPD_OLD): IPv4 layouts, IPv6 peers left out. */
  v4only: boolean;
  now: NtpTime;
  nowSec: number;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopbackSource(src: IpWords): boolean {
  if (src.family === 4) return (src.w0 >>> 24) === 127;
  return src.w0 === 0 && src.w1 === 0 && src.w2 === 0 && src.w3 === 1;
}

/**
 * The mode 7 server.
 *
 * @example
 * ```ts
 * const m7 = new Mode7Server({ view, extras });
 * for (const d of m7.handle(packetIn, now).replies) socket.send(d, sender);
 * ```
 */
export class Mode7Server {
  readonly #view: ControlView;
  readonly #extras: Mode7Extras;
  readonly #budget: ByteBudget;
  readonly #counters: Mode7Counters = {
    requests: 0,
    answered: 0,
    errors: 0,
    badFormat: 0,
    rateLimited: 0,
    tooLarge: 0,
    bytesSent: 0,
  };

  /** A server over `o.view`. */
  constructor(o: Mode7ServerOptions) {
    this.#view = o.view;
    this.#extras = o.extras;
    this.#budget = new ByteBudget({ ...DEFAULT_MODE7_LIMITS, ...o.limits });
  }

  /** The counters. */
  counters(): Mode7Counters {
    return { ...this.#counters };
  }

  /** Answers one mode 7 datagram the packet path forwarded; `now` is the served clock. */
  handle(p: Mode7RequestIn, now: NtpTime): Mode7Answer {
    this.#counters.requests++;
    const d = decodeMode7(p.data);
    if (!d.ok) return this.#none("bad_format");
    const m = d.message;
    // As ntpd: what cannot be a request gets nothing at all.
    if (
      m.response || m.more || m.version < 1 || m.version > 4 || m.sequence !== 0 ||
      m.error !== 0 || m.mbz !== 0
    ) return this.#none("bad_format");
    const nowSec = Number(now >> 32n) + Number(now & 0xffffffffn) / 2 ** 32;
    const r: Req = {
      msg: m,
      to: { version: m.version, implementation: m.implementation, request: m.request },
      src: p.src,
      requestBytes: p.data.length,
      v4only: m.implementation === IMPL_XNTPD_OLD,
      now,
      nowSec,
    };
    if (m.implementation === IMPL_UNIV) return this.#error(r, Mode7Err.REQ);
    if (m.implementation !== IMPL_XNTPD && m.implementation !== IMPL_XNTPD_OLD) {
      return this.#error(r, Mode7Err.IMPL);
    }
    // COMPAT: only the read-only requests; monlist, configuration and the rest are refused.
    if (!READ_ONLY.has(m.request)) return this.#error(r, Mode7Err.REQ);
    if (m.request === Mode7Req.PEER_INFO) return this.#peerInfo(r);
    // Requests without data must say so (item size 0), as ntpd checks.
    if (m.itemSize !== 0) return this.#error(r, Mode7Err.FMT);
    switch (m.request) {
      case Mode7Req.PEER_LIST:
        return this.#peerList(r, false);
      case Mode7Req.PEER_LIST_SUM:
        return this.#peerList(r, true);
      case Mode7Req.SYS_INFO:
        return this.#sysInfo(r);
      case Mode7Req.SYS_STATS:
        return this.#sysStats(r);
      case Mode7Req.IO_STATS:
        return this.#ioStats(r);
      case Mode7Req.MEM_STATS:
        return this.#memStats(r);
      case Mode7Req.LOOP_INFO:
        return this.#loopInfo(r);
      default:
        return this.#kernel(r);
    }
  }

  // --- requests ---

  #peers(r: Req): ControlPeer[] {
    const all = this.#view.peers(r.now);
    return r.v4only ? all.filter((p) => !isV6Text(p.srcAddress)) : all;
  }

  #peerList(r: Req, summary: boolean): Mode7Answer {
    const peers = this.#peers(r);
    if (summary) {
      const size = r.v4only ? ItemSize.PEER_SUMMARY.v4 : ItemSize.PEER_SUMMARY.v6;
      return this.#items(
        r,
        peers.map((p) =>
          encodePeerSummaryItem({
            dstAddress: p.dstAddress,
            srcAddress: p.srcAddress,
            srcPort: p.srcPort,
            stratum: p.stratum,
            hpollLog2: p.hostPollLog2,
            ppollLog2: p.peerPollLog2,
            reach: p.reach,
            flags: peerFlags(p),
            hmode: p.hostMode,
            delaySec: p.delaySec ?? 0,
            offsetSec: p.offsetSec ?? 0,
            dispersionSec: p.dispersionSec ?? 16,
          }, size)
        ),
        size,
      );
    }
    const size = r.v4only ? ItemSize.PEER_LIST.v4 : ItemSize.PEER_LIST.v6;
    return this.#items(
      r,
      peers.map((p) =>
        encodePeerListItem({
          address: p.srcAddress,
          port: p.srcPort,
          hmode: p.hostMode,
          flags: peerFlags(p),
        }, size)
      ),
      size,
    );
  }

  #peerInfo(r: Req): Mode7Answer {
    const m = r.msg;
    if (m.itemSize !== ItemSize.PEER_LIST.v4 && m.itemSize !== ItemSize.PEER_LIST.v6) {
      return this.#error(r, Mode7Err.FMT);
    }
    const asked = mode7Items(m);
    if (asked === null) return this.#error(r, Mode7Err.FMT);
    const peers = this.#peers(r);
    const size = r.v4only ? ItemSize.PEER_INFO.v4 : ItemSize.PEER_INFO.v6;
    const items: Uint8Array[] = [];
    for (const raw of asked) {
      const q = decodePeerListItem(raw);
      const same = peers.filter((p) => p.srcAddress === q.address);
      // The port picks among associations of one address; ntpdc sends its own server port.
      const p = same.find((x) => x.srcPort === q.port) ?? same[0];
      if (p !== undefined) items.push(encodePeerInfoItem(peerInfo(p), size));
    }
    return this.#items(r, items, size);
  }

  #sysInfo(r: Req): Mode7Answer {
    const sys = this.#view.system(r.now);
    const peer = sys.systemPeer === 0
      ? undefined
      : this.#view.peers(r.now).find((p) => p.id === sys.systemPeer);
    const size = r.v4only ? ItemSize.SYS_INFO.v4 : ItemSize.SYS_INFO.v6;
    const peerAddress = peer === undefined || (r.v4only && isV6Text(peer.srcAddress))
      ? "0.0.0.0"
      : peer.srcAddress;
    return this.#items(r, [
      encodeSysInfoItem({
        peerAddress,
        peerMode: peer?.hostMode ?? 0,
        leap: sys.leap,
        stratum: sys.stratum,
        precisionLog2: sys.precisionLog2,
        rootDelaySec: sys.rootDelaySec,
        rootDispersionSec: sys.rootDispersionSec,
        refid: sys.refid,
        reftime: sys.referenceTime,
        pollLog2: sys.pollLog2,
        flags: this.#extras.systemFlags(),
        broadcastDelaySec: 0,
        jitterSec: sys.sysJitterSec,
        authDelaySec: 0,
        stabilityPpm: sys.clockWanderPpm,
      }, size),
    ], size);
  }

  #sysStats(r: Req): Mode7Answer {
    const s = this.#view.sysstats();
    if (s === null) return this.#error(r, Mode7Err.NODATA);
    return this.#items(r, [
      encodeSysStatsItem({
        timeUpSec: s.sinceRestartSec,
        timeResetSec: s.sinceResetSec,
        denied: s.accessDenied,
        oldVersion: s.oldVersion,
        newVersion: s.currentVersion,
        unknownVersion: s.declined,
        badLength: s.badFormat,
        processed: s.processed,
        badAuth: s.badAuth,
        received: s.received,
        limitRejected: s.rateExceeded,
      }),
    ], ItemSize.SYS_STATS);
  }

  #ioStats(r: Req): Mode7Answer {
    const io = this.#view.io?.() ?? null;
    if (io === null) return this.#error(r, Mode7Err.NODATA);
    // COMPAT: Horae has no receive buffer pool and no signal-driven input: those fields are 0.
    return this.#items(r, [
      encodeIoStatsItem({
        timeResetSec: Math.floor(io.sinceResetSec),
        totalRecvBufs: 0,
        freeRecvBufs: 0,
        fullRecvBufs: 0,
        lowWater: 0,
        dropped: io.dropped,
        ignored: 0,
        received: io.received,
        sent: io.sent,
        notSent: io.sendFailed,
        interrupts: 0,
        intReceived: 0,
      }),
    ], ItemSize.IO_STATS);
  }

  #memStats(r: Req): Mode7Answer {
    const peers = this.#view.peers(r.now);
    const mem = this.#extras.memory();
    const hash = new Array<number>(NTP_HASH_SIZE).fill(0);
    for (const p of peers) hash[addressHash(p.srcAddress)]!++;
    const stats = this.#view.sysstats();
    return this.#items(r, [
      encodeMemStatsItem({
        timeResetSec: Math.floor(stats?.sinceRestartSec ?? 0),
        // COMPAT: associations are allocated one by one, so none is ever free.
        totalPeerMem: peers.length,
        freePeerMem: 0,
        findPeerCalls: mem.findPeerCalls,
        allocations: mem.allocations,
        demobilizations: mem.demobilizations,
        hashCount: hash,
      }),
    ], ItemSize.MEM_STATS);
  }

  #loopInfo(r: Req): Mode7Answer {
    const sys = this.#view.system(r.now);
    const watchdog = sys.referenceTime === 0n ? 0 : Math.max(0, diffSec(r.now, sys.referenceTime));
    return this.#items(r, [
      encodeLoopInfoItem({
        lastOffsetSec: sys.offsetSec,
        driftPpm: sys.freqPpm,
        compliance: this.#extras.pollAdjust?.() ?? 0,
        watchdogSec: watchdog,
      }),
    ], ItemSize.LOOP_INFO);
  }

  #kernel(r: Req): Mode7Answer {
    const k = this.#view.kernel?.() ?? null;
    if (k === null) return this.#error(r, Mode7Err.NODATA);
    const unit = (k.status & STA_NANO) !== 0 ? 1e9 : 1e6;
    return this.#items(r, [
      encodeKernelItem({
        offset: Math.round(k.offsetSec * unit),
        freq: Math.round(k.freqPpm * 65536),
        maxError: Math.round(k.maxErrorSec * 1e6),
        estError: Math.round(k.estErrorSec * 1e6),
        status: k.status,
        shift: k.pps?.intervalLog2 ?? 0,
        constant: k.constant,
        precision: Math.round(k.precisionSec * unit),
        tolerance: Math.round(k.toleranceSppm),
        ppsFreq: Math.round((k.pps?.freqPpm ?? 0) * 65536),
        jitter: Math.round((k.pps?.jitterSec ?? 0) * unit),
        stabil: Math.round((k.pps?.stabilityPpm ?? 0) * 65536),
        jitCnt: k.pps?.jitterExceeded ?? 0,
        calCnt: k.pps?.calibrations ?? 0,
        errCnt: k.pps?.errors ?? 0,
        stbCnt: k.pps?.stabilityExceeded ?? 0,
      }),
    ], ItemSize.KERNEL);
  }

  // --- answers and bounds ---

  /** Sends `items`: nothing to send is "no data", as ntpd answers. */
  #items(r: Req, items: Uint8Array[], itemSize: number): Mode7Answer {
    if (items.length === 0) return this.#error(r, Mode7Err.NODATA);
    const frags = encodeMode7Answer(r.to, items, itemSize);
    const bytes = frags.reduce((s, f) => s + f.length, 0);
    if (bytes > r.requestBytes && !isLoopbackSource(r.src)) {
      this.#counters.tooLarge++;
      return this.#error(r, Mode7Err.AUTH);
    }
    if (!this.#budget.spend(r.src, bytes, r.nowSec)) return this.#none("rate_limited");
    this.#counters.answered++;
    this.#counters.bytesSent += bytes;
    return { replies: frags, outcome: "answered", errorCode: -1 };
  }

  #error(r: Req, code: number): Mode7Answer {
    const reply = encodeMode7Error(r.to, code);
    if (!this.#budget.spend(r.src, reply.length, r.nowSec)) return this.#none("rate_limited");
    this.#counters.errors++;
    this.#counters.bytesSent += reply.length;
    return { replies: [reply], outcome: "error", errorCode: code };
  }

  #none(outcome: "bad_format" | "rate_limited"): Mode7Answer {
    if (outcome === "bad_format") this.#counters.badFormat++;
    else this.#counters.rateLimited++;
    return { replies: [], outcome, errorCode: -1 };
  }
}

/** The peer flags of mode 7 items from an association's state. */
export function peerFlags(p: ControlPeer): number {
  let f = 0;
  if (p.configured) f |= PeerFlag.CONFIG;
  if (p.clock) f |= PeerFlag.REFCLOCK;
  if (p.authEnabled) f |= PeerFlag.AUTHENABLE;
  if (p.selection >= PeerSelect.SYSPEER) f |= PeerFlag.SYSPEER;
  // Survivors of clustering are ntpdc's short list; those past intersection its candidates.
  if (p.selection >= PeerSelect.CANDIDATE) f |= PeerFlag.SHORTLIST;
  if (p.selection >= PeerSelect.OUTLIER) f |= PeerFlag.SEL_CANDIDATE;
  return f;
}

function peerInfo(p: ControlPeer): PeerInfoItem {
  // The register newest first; `order` ranks the stages by delay, as the filter sorts them.
  const stages = p.filter ?? [];
  const ranked = stages.map((s, i) => ({ i, d: s.delaySec })).sort((a, b) => a.d - b.d);
  const order = new Array<number>(8).fill(0).map((_, i) => i);
  ranked.forEach((x, rank) => order[rank] = x.i);
  return {
    dstAddress: p.dstAddress,
    srcAddress: p.srcAddress,
    srcPort: p.srcPort,
    flags: peerFlags(p),
    leap: p.leap,
    hmode: p.hostMode || MODE_CLIENT,
    pmode: p.peerMode,
    stratum: p.stratum,
    ppollLog2: p.peerPollLog2,
    hpollLog2: p.hostPollLog2,
    precisionLog2: p.precisionLog2,
    version: 4,
    reach: p.reach,
    unreach: Math.min(255, p.unreach ?? 0),
    flash: p.flash ?? 0,
    ttl: 0,
    associd: p.id,
    keyId: p.keyId,
    refid: p.refid,
    timerSec: 0,
    rootDelaySec: p.rootDelaySec,
    rootDispersionSec: p.rootDispersionSec,
    reftime: p.referenceTime,
    org: 0n,
    rec: p.receiveTime,
    xmt: 0n,
    filter: stages.slice(0, 8).map((s, i) => ({
      delaySec: s.delaySec,
      offsetSec: s.offsetSec,
      order: order[i]!,
    })),
    delaySec: p.delaySec ?? 0,
    dispersionSec: p.dispersionSec ?? 16,
    offsetSec: p.offsetSec ?? 0,
    selectDispersionSec: p.jitterSec ?? 0,
  };
}

/** Bucket of an address in memstats' hash table: its bytes folded by exclusive or. */
export function addressHash(address: string): number {
  let h = 0;
  for (const part of address.split(/[.:]/)) {
    const n = address.includes(":") ? parseInt(part || "0", 16) : Number(part);
    if (Number.isFinite(n)) h ^= (n >>> 8) ^ (n & 0xff);
  }
  return h & (NTP_HASH_SIZE - 1);
}
