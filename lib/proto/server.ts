// Server mode: answers client (mode 3) requests with server (mode 4) replies, RFC 5905 §9.2 and
// ntpd 4.2.x's fast_xmit behaviour; every request that gets no answer is counted with a reason.

import {
  diffSec,
  type NtpTime,
  secToShort,
  toUnix,
  UNIX_EPOCH_OFFSET_SEC,
  writeTimestamp,
} from "./ntp_time.ts";
import { type DecodeError, decodePacket, PacketPeek } from "./packet.ts";
import { CRYPTO_NAK_LEN, KEY_ID_LEN, LEN_PKT_NOMAC, PHI } from "./constants.ts";

/** The system variables a server reply carries (RFC 5905 §11.2 "sys" variables). */
export interface SystemState {
  /** Leap indicator 0–3 (3: unsynchronised). */
  leap: number;
  /** System stratum 1–16 (16: unsynchronised, sent as 0 on the wire). */
  stratum: number;
  /** Clock precision, log2 seconds. */
  precisionLog2: number;
  /** Root delay to the primary reference, seconds. */
  rootDelaySec: number;
  /** Root dispersion at `referenceTime`, seconds. */
  rootDispersionSec: number;
  /** Reference id as a big-endian 32-bit value. */
  refid: number;
  /** When the system clock was last updated (0n: never). */
  referenceTime: NtpTime;
}

/** Why a datagram sent to the server port got no reply. */
export type ServerDropReason =
  | "too_short"
  | "bad_version"
  | "old_version"
  | "bad_length"
  | "not_request"
  | "control"
  | "private"
  | "kod"
  | "zero_transmit";

/** Server counters (ntpd's sysstats analogues). */
export interface ServerStats {
  /** Datagrams handed to the server. */
  received: number;
  /** Replies sent. */
  replied: number;
  /** Replies that were a crypto-NAK because the request carried a MAC we cannot check. */
  cryptoNak: number;
  /** Datagrams that got no reply, by reason. */
  dropped: Record<ServerDropReason, number>;
}

/** Counters with nothing counted yet. */
export function zeroServerStats(): ServerStats {
  return {
    received: 0,
    replied: 0,
    cryptoNak: 0,
    dropped: {
      too_short: 0,
      bad_version: 0,
      old_version: 0,
      bad_length: 0,
      not_request: 0,
      control: 0,
      private: 0,
      kod: 0,
      zero_transmit: 0,
    },
  };
}

/** Reference id of an unsynchronised server ("INIT", as ntpd sends before the first update). */
export const REFID_INIT = 0x494e4954;

/** How each decoder rejection is counted. */
const DROP_FOR: Record<DecodeError, ServerDropReason> = {
  too_short: "too_short",
  bad_length: "bad_length",
  bad_version: "bad_version",
  bad_extension: "bad_length",
  bad_mac_length: "bad_length",
  mode6: "control",
  mode7: "private",
};

/** Builds an unsynchronised state (leap 3, stratum 16) for a server with no time source. */
export function unsynchronisedState(precisionLog2: number): SystemState {
  return {
    leap: 3,
    stratum: 16,
    precisionLog2,
    rootDelaySec: 0,
    rootDispersionSec: 0,
    refid: REFID_INIT,
    referenceTime: 0n,
  };
}

/**
 * The I/O-free server: feed it a request and a receive time, it writes the reply.
 *
 * The reply is never longer than the request. Its transmit timestamp is set to the receive time
 * as a placeholder: the transport overwrites it as late as possible before sending.
 */
export class Server {
  #state: SystemState;
  #peek = new PacketPeek();
  #stats: ServerStats = zeroServerStats();

  // The state in the forms the per-packet path needs, computed once per setState().
  #header0 = 0;
  #stratumByte = 0;
  #rootDelayShort = 0;
  #refHi = 0;
  #refLo = 0;
  #refUnixSec = 0;
  #refUnixNsec = 0;
  #ageCounts = false;
  /** MAC trailer length of the request being answered (0: none). */
  #macLength = 0;

  /** Creates a server answering from `state` (update it with {@link setState}). */
  constructor(state: SystemState) {
    this.#state = state;
    this.#prepare();
  }

  /** Replaces the system variables used in replies. */
  setState(state: SystemState): void {
    this.#state = state;
    this.#prepare();
  }

  #prepare(): void {
    const s = this.#state;
    this.#header0 = (s.leap & 3) << 6;
    this.#stratumByte = s.stratum >= 16 ? 0 : s.stratum;
    this.#rootDelayShort = secToShort(s.rootDelaySec);
    const ref = s.referenceTime & 0xffff_ffff_ffff_ffffn;
    this.#refHi = Number(ref >> 32n);
    this.#refLo = Number(ref & 0xffff_ffffn);
    const u = toUnix(s.referenceTime);
    this.#refUnixSec = Number(u.sec);
    this.#refUnixNsec = u.nsec;
    this.#ageCounts = s.leap !== 3 && s.stratum < 16 && s.referenceTime !== 0n;
  }

  /** The current system variables. */
  get state(): SystemState {
    return this.#state;
  }

  /**
   * Answers one datagram. Writes the reply into `out` (at least as long as the request) and
   * returns its length, or 0 when there is no reply (the reason is counted).
   */
  respond(request: Uint8Array, rxTime: NtpTime, out: Uint8Array): number {
    const version = this.#admit(request);
    if (version === 0) return 0;
    const ageSec = this.#ageCounts ? Math.max(0, diffSec(rxTime, this.#state.referenceTime)) : 0;
    const o = new DataView(out.buffer, out.byteOffset, out.length);
    writeTimestamp(o, 32, rxTime);
    writeTimestamp(o, 40, rxTime);
    return this.#write(request, version, ageSec, out, o);
  }

  /**
   * `respond` for the hot path: the receive time as Unix seconds and nanoseconds (a kernel
   * timestamp as the transport has it) and a DataView over `out` supplied by the caller, so a
   * request costs no bigint arithmetic and no allocation. The receive timestamp is exact to
   * one unit of 2^-32 s.
   */
  respondAt(
    request: Uint8Array,
    rxUnixSec: number,
    rxUnixNsec: number,
    out: Uint8Array,
    view: DataView,
  ): number {
    const version = this.#admit(request);
    if (version === 0) return 0;
    const ageSec = this.#ageCounts
      ? Math.max(0, rxUnixSec - this.#refUnixSec + (rxUnixNsec - this.#refUnixNsec) * 1e-9)
      : 0;
    // writeUnixTimestamp's conversion, done once for both fields (the hot path).
    const hi = (rxUnixSec + UNIX_EPOCH_OFFSET_SEC) >>> 0;
    const lo = Math.floor(rxUnixNsec * 4.294967296) >>> 0;
    view.setUint32(32, hi);
    view.setUint32(36, lo);
    view.setUint32(40, hi); // placeholder: the transport restamps it just before sending
    view.setUint32(44, lo);
    return this.#write(request, version, ageSec, out, view);
  }

  /**
   * Answers a client (mode 3) request that the packet path has already admitted (format,
   * restrict, rate and authentication checked, transmit timestamp non-zero), as
   * {@link respondAt} does but without checking or counting it again. With `cryptoNak` the
   * reply ends in a crypto-NAK (the request's MAC could not be verified). Returns the length.
   */
  answerAdmitted(
    request: Uint8Array,
    cryptoNak: boolean,
    rxUnixSec: number,
    rxUnixNsec: number,
    out: Uint8Array,
    view: DataView,
  ): number {
    const version = (request[0]! >> 3) & 7;
    const ageSec = this.#ageCounts
      ? Math.max(0, rxUnixSec - this.#refUnixSec + (rxUnixNsec - this.#refUnixNsec) * 1e-9)
      : 0;
    this.#stampReceive(rxUnixSec, rxUnixNsec, view);
    this.#macLength = cryptoNak ? CRYPTO_NAK_LEN : 0;
    return this.#write(request, version, ageSec, out, view);
  }

  /**
   * Writes a kiss-o'-death answering `request` (mode 3, or mode 1 answered in mode 2): leap 3,
   * stratum 0, the kiss code as the reference id, the poll raised to at least `pollFloorLog2`
   * (so the client learns the rate it must keep), the request's transmit time as the origin.
   * Never longer than the header (48 bytes), so never longer than the request. Returns the
   * length, or 0 when the request is shorter than a header.
   */
  writeKiss(
    request: Uint8Array,
    refid: number,
    pollFloorLog2: number,
    rxUnixSec: number,
    rxUnixNsec: number,
    out: Uint8Array,
    view: DataView,
  ): number {
    if (request.length < LEN_PKT_NOMAC || out.length < LEN_PKT_NOMAC) return 0;
    const version = (request[0]! >> 3) & 7;
    const mode = (request[0]! & 7) === 1 ? 2 : 4;
    view.setUint8(0, (3 << 6) | (version << 3) | mode);
    view.setUint8(1, 0);
    view.setInt8(2, Math.max((request[2]! << 24) >> 24, pollFloorLog2));
    view.setInt8(3, this.#state.precisionLog2);
    view.setUint32(4, 0);
    view.setUint32(8, 0);
    view.setUint32(12, refid >>> 0);
    view.setUint32(16, 0);
    view.setUint32(20, 0);
    for (let i = 0; i < 8; i++) out[24 + i] = request[40 + i]!;
    this.#stampReceive(rxUnixSec, rxUnixNsec, view);
    return LEN_PKT_NOMAC;
  }

  /** Writes the receive time into the receive and (placeholder) transmit fields. */
  #stampReceive(rxUnixSec: number, rxUnixNsec: number, view: DataView): void {
    const hi = (rxUnixSec + UNIX_EPOCH_OFFSET_SEC) >>> 0;
    const lo = Math.floor(rxUnixNsec * 4.294967296) >>> 0;
    view.setUint32(32, hi);
    view.setUint32(36, lo);
    view.setUint32(40, hi); // placeholder: the transport restamps it just before sending
    view.setUint32(44, lo);
  }

  /** Checks a request; returns its version (2–4), or 0 after counting why it gets no reply. */
  #admit(request: Uint8Array): number {
    this.#stats.received++;
    const peek = this.#peek;
    const check = peek.read(request);
    if (check !== "ok") return this.#drop(DROP_FOR[check]);
    const version = peek.version;
    const mode = peek.mode;
    if (version === 1) return this.#drop("old_version");
    if (mode !== 3) return this.#drop(mode === 4 && peek.stratum === 0 ? "kod" : "not_request");
    if (peek.hasExtensions) {
      // Rare path: walk the extension fields once with the full decoder.
      const full = decodePacket(request);
      if (!full.ok) return this.#drop(DROP_FOR[full.reason]);
      this.#macLength = full.packet.mac === null ? 0 : KEY_ID_LEN + full.packet.mac.digest.length;
    } else {
      this.#macLength = peek.macOffset >= 0 ? request.length - peek.macOffset : 0;
    }
    if (peek.transmitSeconds === 0 && peek.transmitFraction === 0) {
      return this.#drop("zero_transmit");
    }
    return version;
  }

  /** Writes everything but the receive and transmit timestamps; returns the reply length. */
  #write(request: Uint8Array, version: number, ageSec: number, out: Uint8Array, o: DataView) {
    const s = this.#state;
    o.setUint8(0, this.#header0 | (version << 3) | 4);
    o.setUint8(1, this.#stratumByte);
    o.setUint8(2, request[2]!); // poll: echo the client's, as ntpd does
    o.setInt8(3, s.precisionLog2);
    o.setUint32(4, this.#rootDelayShort);
    o.setUint32(8, secToShort(s.rootDispersionSec + PHI * ageSec));
    o.setUint32(12, s.refid >>> 0);
    o.setUint32(16, this.#refHi);
    o.setUint32(20, this.#refLo);
    // origin = the request's transmit timestamp (byte by byte: a subarray would allocate)
    for (let i = 0; i < 8; i++) out[24 + i] = request[40 + i]!;
    this.#stats.replied++;
    if (this.#macLength > 0) {
      // The request is authenticated with a key we cannot check here: answer with a crypto-NAK
      // (key id 0, no digest) so the client learns why, never with more bytes than it sent.
      o.setUint32(LEN_PKT_NOMAC, 0);
      this.#stats.cryptoNak++;
      return LEN_PKT_NOMAC + CRYPTO_NAK_LEN;
    }
    return LEN_PKT_NOMAC;
  }

  /** A copy of the counters. */
  stats(): ServerStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  #drop(reason: ServerDropReason): 0 {
    this.#stats.dropped[reason]++;
    return 0;
  }
}
