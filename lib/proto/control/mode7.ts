// Mode 7, ntpd's private query protocol (the one ntpdc and collectd's ntpd plugin speak; the
// layout of ntpd 4.2.x's ntp_request.h, which no RFC describes): an 8-byte header, then data
// items of one size. Answers carry at most 500 bytes of items per datagram, numbered 0..127
// with the "more" bit on all but the last. This file is the codec and the read-only items'
// layouts (both directions, for the daemon and for `horae dc`); no I/O.

import { formatIp, parseIp } from "../ip.ts";
import type { NtpTime } from "../ntp_time.ts";

/** The header before the data items. */
export const MODE7_HEADER_LEN = 8;
/** Most item bytes in one answer datagram. */
export const MODE7_DATA_LEN = 500;
/** Bytes of data a request carries (ntpd's request data area). */
export const MODE7_REQUEST_DATA_LEN = 176;
/** A request without a MAC: header, data area and the (unused) authentication timestamp. */
export const MODE7_REQUEST_LEN = MODE7_HEADER_LEN + MODE7_REQUEST_DATA_LEN + 8;
/** Highest sequence number of an answer's datagrams. */
export const MODE7_MAXSEQ = 127;

/** Header bits. */
export const M7_RESPONSE = 0x80;
export const M7_MORE = 0x40;
export const M7_AUTH = 0x80;

/** Implementation numbers: the old (IPv4-only) and the current ntpd request sets. */
export const IMPL_UNIV = 0;
export const IMPL_XNTPD_OLD = 2;
export const IMPL_XNTPD = 3;

/** Request codes (ntpd's REQ_*). Only the read-only ones are ever answered. */
export const Mode7Req = {
  PEER_LIST: 0,
  PEER_LIST_SUM: 1,
  PEER_INFO: 2,
  PEER_STATS: 3,
  SYS_INFO: 4,
  SYS_STATS: 5,
  IO_STATS: 6,
  MEM_STATS: 7,
  LOOP_INFO: 8,
  TIMER_STATS: 9,
  CONFIG: 10,
  MON_GETLIST: 20,
  GET_KERNEL: 38,
  MON_GETLIST_1: 42,
} as const;

/** Error codes of an answer's `err` field. */
export const Mode7Err = {
  OKAY: 0,
  /** Incompatible implementation number. */
  IMPL: 1,
  /** Request code not implemented. */
  REQ: 2,
  /** Format error (item size, count or packet size). */
  FMT: 3,
  /** No data for this request (an unknown peer). */
  NODATA: 4,
  /** Authentication failure: permission denied. */
  AUTH: 7,
} as const;

/** What ntpdc prints for each error code. */
export const MODE7_ERROR_TEXT: Readonly<Record<number, string>> = {
  1: "***Server implementation incompatible with our own",
  2: "***Server doesn't implement this request",
  3: "***Server reports a format error in the received packet (shouldn't happen)",
  4: "***Server reports data not found",
  7: "***Permission denied",
};

/** Item sizes: the IPv4-only layout (IMPL_XNTPD_OLD) and the current one. */
export const ItemSize = {
  PEER_LIST: { v4: 8, v6: 32 },
  PEER_SUMMARY: { v4: 32, v6: 72 },
  PEER_INFO: { v4: 240, v6: 280 },
  SYS_INFO: { v4: 56, v6: 80 },
  SYS_STATS: 44,
  OLD_SYS_STATS: 40,
  IO_STATS: 40,
  MEM_STATS: 148,
  LOOP_INFO: 24,
  KERNEL: 60,
} as const;

/** Buckets of ntpd's peer hash table (memstats shows how many peers are in each). */
export const NTP_HASH_SIZE = 128;

/** Peer flags of peer items (INFO_FLAG_*). */
export const PeerFlag = {
  CONFIG: 0x1,
  SYSPEER: 0x2,
  BURST: 0x4,
  REFCLOCK: 0x8,
  PREFER: 0x10,
  AUTHENABLE: 0x20,
  SEL_CANDIDATE: 0x40,
  SHORTLIST: 0x80,
} as const;

/** System flags of the sysinfo item (INFO_FLAG_*; the same bits mean other things there). */
export const SysFlag = {
  BCLIENT: 0x1,
  AUTHENTICATE: 0x2,
  NTP: 0x4,
  KERNEL: 0x8,
  CAL: 0x10,
  PPS_SYNC: 0x20,
  MONITOR: 0x40,
  FILEGEN: 0x80,
} as const;

/** A mode 7 header. */
export interface Mode7Header {
  response: boolean;
  more: boolean;
  version: number;
  auth: boolean;
  sequence: number;
  implementation: number;
  request: number;
  error: number;
  nitems: number;
  mbz: number;
  itemSize: number;
}

/** A decoded mode 7 datagram: the header and what follows it. */
export interface Mode7Message extends Mode7Header {
  data: Uint8Array;
}

/** Why a datagram is not a mode 7 message. */
export type Mode7DecodeError = "too_short" | "not_mode7";

/** {@link decodeMode7}'s result. */
export type Mode7DecodeResult =
  | { ok: true; message: Mode7Message }
  | { ok: false; reason: Mode7DecodeError };

/** Reads a mode 7 datagram's header; never throws ({@link mode7Items} cuts the items). */
export function decodeMode7(bytes: Uint8Array): Mode7DecodeResult {
  if (bytes.length < MODE7_HEADER_LEN) return { ok: false, reason: "too_short" };
  if ((bytes[0]! & 7) !== 7) return { ok: false, reason: "not_mode7" };
  const en = (bytes[4]! << 8) | bytes[5]!;
  const ms = (bytes[6]! << 8) | bytes[7]!;
  const message: Mode7Message = {
    response: (bytes[0]! & M7_RESPONSE) !== 0,
    more: (bytes[0]! & M7_MORE) !== 0,
    version: (bytes[0]! >> 3) & 7,
    auth: (bytes[1]! & M7_AUTH) !== 0,
    sequence: bytes[1]! & 0x7f,
    implementation: bytes[2]!,
    request: bytes[3]!,
    error: en >> 12,
    nitems: en & 0xfff,
    mbz: ms >> 12,
    itemSize: ms & 0xfff,
    data: bytes.subarray(MODE7_HEADER_LEN),
  };
  return { ok: true, message };
}

/** The message's items, or null when `nitems` items of `itemSize` do not fit in its data. */
export function mode7Items(m: Mode7Message): Uint8Array[] | null {
  if (m.nitems * m.itemSize > m.data.length) return null;
  const out: Uint8Array[] = [];
  for (let i = 0; i < m.nitems; i++) {
    out.push(m.data.subarray(i * m.itemSize, (i + 1) * m.itemSize));
  }
  return out;
}

function writeHeader(out: Uint8Array, h: Mode7Header): void {
  out[0] = (h.response ? M7_RESPONSE : 0) | (h.more ? M7_MORE : 0) | ((h.version & 7) << 3) | 7;
  out[1] = (h.auth ? M7_AUTH : 0) | (h.sequence & 0x7f);
  out[2] = h.implementation & 0xff;
  out[3] = h.request & 0xff;
  const en = ((h.error & 0xf) << 12) | (h.nitems & 0xfff);
  const ms = ((h.mbz & 0xf) << 12) | (h.itemSize & 0xfff);
  out[4] = en >> 8;
  out[5] = en & 0xff;
  out[6] = ms >> 8;
  out[7] = ms & 0xff;
}

/** Options of {@link encodeMode7Request}. */
export interface Mode7RequestSpec {
  request: number;
  implementation?: number;
  /** Version in the header (ntpdc and collectd send 2). */
  version?: number;
  /** Items, each `itemSize` bytes. */
  items?: readonly Uint8Array[];
  itemSize?: number;
}

/**
 * A request as ntpdc sends it: the header, the items in a zeroed 176-byte data area and the
 * unused authentication timestamp (192 bytes), unauthenticated.
 */
export function encodeMode7Request(spec: Mode7RequestSpec): Uint8Array {
  const items = spec.items ?? [];
  const itemSize = spec.itemSize ?? 0;
  if (items.length * itemSize > MODE7_REQUEST_DATA_LEN) {
    throw new RangeError(`${items.length} items of ${itemSize} bytes do not fit in a request`);
  }
  const out = new Uint8Array(MODE7_REQUEST_LEN);
  writeHeader(out, {
    response: false,
    more: false,
    version: spec.version ?? 2,
    auth: false,
    sequence: 0,
    implementation: spec.implementation ?? IMPL_XNTPD,
    request: spec.request,
    error: 0,
    nitems: items.length,
    mbz: 0,
    itemSize,
  });
  items.forEach((it, k) => out.set(it.subarray(0, itemSize), MODE7_HEADER_LEN + k * itemSize));
  return out;
}

/** What an answer echoes from its request. */
export interface Mode7AnswerTo {
  version: number;
  implementation: number;
  request: number;
}

/**
 * An answer: the items packed into datagrams of at most 500 item bytes, numbered from 0, the
 * "more" bit on all but the last, at most 128 datagrams (items beyond are left out, as ntpd
 * does). No items: one empty datagram.
 */
export function encodeMode7Answer(
  to: Mode7AnswerTo,
  items: readonly Uint8Array[],
  itemSize: number,
): Uint8Array[] {
  const perDatagram = itemSize === 0 ? 1 : Math.max(1, Math.floor(MODE7_DATA_LEN / itemSize));
  const out: Uint8Array[] = [];
  let k = 0;
  do {
    const n = Math.min(perDatagram, items.length - k);
    const d = new Uint8Array(MODE7_HEADER_LEN + n * itemSize);
    for (let i = 0; i < n; i++) {
      d.set(items[k + i]!.subarray(0, itemSize), MODE7_HEADER_LEN + i * itemSize);
    }
    k += n;
    out.push(d);
    writeHeader(d, {
      response: true,
      more: false,
      version: to.version,
      auth: false,
      sequence: out.length - 1,
      implementation: to.implementation,
      request: to.request,
      error: 0,
      nitems: n,
      mbz: 0,
      itemSize,
    });
  } while (k < items.length && out.length <= MODE7_MAXSEQ);
  for (let i = 0; i < out.length - 1; i++) out[i]![0]! |= M7_MORE;
  return out;
}

/** An error answer: the header alone, with `code` and no items. */
export function encodeMode7Error(to: Mode7AnswerTo, code: number): Uint8Array {
  const d = new Uint8Array(MODE7_HEADER_LEN);
  writeHeader(d, {
    response: true,
    more: false,
    version: to.version,
    auth: false,
    sequence: 0,
    implementation: to.implementation,
    request: to.request,
    error: code,
    nitems: 0,
    mbz: 0,
    itemSize: 0,
  });
  return d;
}

// --- fixed-point fields ---

const TWO32 = 4294967296;

/** Seconds as ntpd's s_fp (signed 16.16), saturated. */
export function toSFp(sec: number): number {
  const v = Math.round(sec * 65536);
  return Number.isFinite(v) ? Math.max(-0x80000000, Math.min(0x7fffffff, v)) : 0;
}

/** Seconds as ntpd's u_fp (unsigned 16.16), saturated. */
export function toUFp(sec: number): number {
  const v = Math.round(sec * 65536);
  return Number.isFinite(v) ? Math.max(0, Math.min(0xffffffff, v)) : 0;
}

/** Seconds as a signed 32.32 l_fp (two's complement in 64 bits), saturated. */
export function toSignedLfp(sec: number): bigint {
  if (!Number.isFinite(sec)) return 0n;
  const lim = 2 ** 31 - 1;
  const v = BigInt(Math.round(Math.max(-lim, Math.min(lim, sec)) * TWO32));
  return BigInt.asUintN(64, v);
}

/** A signed 32.32 l_fp as seconds. */
export function fromSignedLfp(v: bigint): number {
  return Number(BigInt.asIntN(64, v)) / TWO32;
}

/** An item under construction: fields at byte offsets, network order. */
class Item {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(at: number, v: number): this {
    this.bytes[at] = v & 0xff;
    return this;
  }
  u16(at: number, v: number): this {
    this.view.setUint16(at, v & 0xffff);
    return this;
  }
  u32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0);
    return this;
  }
  i32(at: number, v: number): this {
    this.view.setInt32(at, v | 0);
    return this;
  }
  u64(at: number, v: bigint): this {
    this.view.setBigUint64(at, BigInt.asUintN(64, v));
    return this;
  }
}

/**
 * Writes `address` at the v4 slot `v4At` or, for IPv6, at `v6At` with the v6 flag at `flagAt`
 * (an item cut to the IPv4 layout has neither). Unparsable text leaves both zero.
 */
function putAddress(it: Item, address: string, v4At: number, v6At: number, flagAt: number): void {
  const r = parseIp(address);
  if (!r.ok) return;
  if (r.ip.family === 4) it.bytes.set(r.ip.bytes, v4At);
  else if (v6At + 16 <= it.bytes.length) {
    it.bytes.set(r.ip.bytes, v6At);
    it.u32(flagAt, 1);
  }
}

function getAddress(v: DataView, b: Uint8Array, v4At: number, v6At: number, flagAt: number) {
  if (flagAt + 4 <= b.length && v.getUint32(flagAt) !== 0 && v6At + 16 <= b.length) {
    return formatIp(b.subarray(v6At, v6At + 16));
  }
  return formatIp(b.subarray(v4At, v4At + 4));
}

/** True when the address is IPv6 (such items cannot be sent to an IPv4-only client). */
export function isV6Text(address: string): boolean {
  const r = parseIp(address);
  return r.ok && r.ip.family === 6;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

// --- items ---

/** One entry of the peer list (REQ_PEER_LIST), also the request item of REQ_PEER_INFO. */
export interface PeerListItem {
  address: string;
  port: number;
  hmode: number;
  flags: number;
}

/** Encodes a peer list item in `size` bytes (8: IPv4 layout, 32: current). */
export function encodePeerListItem(p: PeerListItem, size: number): Uint8Array {
  const it = new Item(size);
  putAddress(it, p.address, 0, 16, 8);
  return it.u16(4, p.port).u8(6, p.hmode).u8(7, p.flags).bytes;
}

/** Decodes a peer list item (either layout). */
export function decodePeerListItem(b: Uint8Array): PeerListItem {
  const v = view(b);
  return {
    address: getAddress(v, b, 0, 16, 8),
    port: v.getUint16(4),
    hmode: b[6]!,
    flags: b[7]!,
  };
}

/** One peer of the summary list (REQ_PEER_LIST_SUM: ntpdc `peers`, collectd). */
export interface PeerSummaryItem {
  dstAddress: string;
  srcAddress: string;
  srcPort: number;
  stratum: number;
  hpollLog2: number;
  ppollLog2: number;
  reach: number;
  flags: number;
  hmode: number;
  delaySec: number;
  offsetSec: number;
  dispersionSec: number;
}

/** Encodes a peer summary in `size` bytes (32 or 72). */
export function encodePeerSummaryItem(p: PeerSummaryItem, size: number): Uint8Array {
  const it = new Item(size);
  putAddress(it, p.dstAddress, 0, 40, 32);
  putAddress(it, p.srcAddress, 4, 56, 32);
  return it.u16(8, p.srcPort).u8(10, p.stratum).u8(11, p.hpollLog2).u8(12, p.ppollLog2)
    .u8(13, p.reach).u8(14, p.flags).u8(15, p.hmode).i32(16, toSFp(p.delaySec))
    .u64(20, toSignedLfp(p.offsetSec)).u32(28, toUFp(p.dispersionSec)).bytes;
}

/** Decodes a peer summary (either layout). */
export function decodePeerSummaryItem(b: Uint8Array): PeerSummaryItem {
  const v = view(b);
  return {
    dstAddress: getAddress(v, b, 0, 40, 32),
    srcAddress: getAddress(v, b, 4, 56, 32),
    srcPort: v.getUint16(8),
    stratum: b[10]!,
    hpollLog2: v.getInt8(11),
    ppollLog2: v.getInt8(12),
    reach: b[13]!,
    flags: b[14]!,
    hmode: b[15]!,
    delaySec: v.getInt32(16) / 65536,
    offsetSec: fromSignedLfp(v.getBigUint64(20)),
    dispersionSec: v.getUint32(28) / 65536,
  };
}

/** One stage of the clock filter as REQ_PEER_INFO carries it. */
export interface FilterStageItem {
  delaySec: number;
  offsetSec: number;
  /** The stage's rank in the filter's last sort (ntpd's `order`). */
  order: number;
}

/** Everything about one peer (REQ_PEER_INFO: ntpdc `showpeer`). */
export interface PeerInfoItem {
  dstAddress: string;
  srcAddress: string;
  srcPort: number;
  flags: number;
  leap: number;
  hmode: number;
  pmode: number;
  stratum: number;
  ppollLog2: number;
  hpollLog2: number;
  precisionLog2: number;
  version: number;
  reach: number;
  unreach: number;
  flash: number;
  ttl: number;
  associd: number;
  keyId: number;
  refid: number;
  /** Seconds until the next poll. */
  timerSec: number;
  rootDelaySec: number;
  rootDispersionSec: number;
  reftime: NtpTime;
  org: NtpTime;
  rec: NtpTime;
  xmt: NtpTime;
  /** Exactly 8 stages (missing ones as zeros). */
  filter: FilterStageItem[];
  delaySec: number;
  dispersionSec: number;
  offsetSec: number;
  /** The peer's jitter (ntpd's "filter error"). */
  selectDispersionSec: number;
}

/** Encodes a peer info item in `size` bytes (240 or 280). */
export function encodePeerInfoItem(p: PeerInfoItem, size: number): Uint8Array {
  const it = new Item(size);
  putAddress(it, p.dstAddress, 0, 248, 240);
  putAddress(it, p.srcAddress, 4, 264, 240);
  it.u16(8, p.srcPort).u8(10, p.flags).u8(11, p.leap).u8(12, p.hmode).u8(13, p.pmode)
    .u8(14, p.stratum).u8(15, p.ppollLog2).u8(16, p.hpollLog2).u8(17, p.precisionLog2)
    .u8(18, p.version).u8(20, p.reach).u8(21, p.unreach).u8(22, p.flash & 0xff).u8(23, p.ttl)
    .u16(24, p.flash).u16(26, p.associd).u32(28, p.keyId).u32(36, p.refid)
    .u32(40, Math.max(0, Math.round(p.timerSec))).i32(44, toSFp(p.rootDelaySec))
    .u32(48, toUFp(p.rootDispersionSec)).u64(52, p.reftime).u64(60, p.org).u64(68, p.rec)
    .u64(76, p.xmt);
  for (let i = 0; i < 8; i++) {
    const s = p.filter[i];
    it.i32(84 + 4 * i, toSFp(s?.delaySec ?? 0));
    it.u64(116 + 8 * i, toSignedLfp(s?.offsetSec ?? 0));
    it.u8(180 + i, s?.order ?? i);
  }
  return it.i32(188, toSFp(p.delaySec)).u32(192, toUFp(p.dispersionSec))
    .u64(196, toSignedLfp(p.offsetSec)).u32(204, toUFp(p.selectDispersionSec)).bytes;
}

/** Decodes a peer info item (either layout). */
export function decodePeerInfoItem(b: Uint8Array): PeerInfoItem {
  const v = view(b);
  const filter: FilterStageItem[] = [];
  for (let i = 0; i < 8; i++) {
    filter.push({
      delaySec: v.getInt32(84 + 4 * i) / 65536,
      offsetSec: fromSignedLfp(v.getBigUint64(116 + 8 * i)),
      order: b[180 + i]!,
    });
  }
  return {
    dstAddress: getAddress(v, b, 0, 248, 240),
    srcAddress: getAddress(v, b, 4, 264, 240),
    srcPort: v.getUint16(8),
    flags: b[10]!,
    leap: b[11]!,
    hmode: b[12]!,
    pmode: b[13]!,
    stratum: b[14]!,
    ppollLog2: v.getInt8(15),
    hpollLog2: v.getInt8(16),
    precisionLog2: v.getInt8(17),
    version: b[18]!,
    reach: b[20]!,
    unreach: b[21]!,
    flash: v.getUint16(24),
    ttl: b[23]!,
    associd: v.getUint16(26),
    keyId: v.getUint32(28),
    refid: v.getUint32(36),
    timerSec: v.getUint32(40),
    rootDelaySec: v.getInt32(44) / 65536,
    rootDispersionSec: v.getUint32(48) / 65536,
    reftime: v.getBigUint64(52),
    org: v.getBigUint64(60),
    rec: v.getBigUint64(68),
    xmt: v.getBigUint64(76),
    filter,
    delaySec: v.getInt32(188) / 65536,
    dispersionSec: v.getUint32(192) / 65536,
    offsetSec: fromSignedLfp(v.getBigUint64(196)),
    selectDispersionSec: v.getUint32(204) / 65536,
  };
}

/** The system (REQ_SYS_INFO: ntpdc `sysinfo`). */
export interface SysInfoItem {
  /** The system peer's address ("0.0.0.0" when none). */
  peerAddress: string;
  peerMode: number;
  leap: number;
  stratum: number;
  precisionLog2: number;
  rootDelaySec: number;
  rootDispersionSec: number;
  refid: number;
  reftime: NtpTime;
  pollLog2: number;
  flags: number;
  broadcastDelaySec: number;
  /** The system jitter, s (ntpd sends it in the old `frequency` field). */
  jitterSec: number;
  authDelaySec: number;
  /** Clock wander, ppm (the `stability` field). */
  stabilityPpm: number;
}

/** Encodes the sysinfo item in `size` bytes (56 or 80). */
export function encodeSysInfoItem(s: SysInfoItem, size: number): Uint8Array {
  const it = new Item(size);
  putAddress(it, s.peerAddress, 0, 64, 56);
  return it.u8(4, s.peerMode).u8(5, s.leap).u8(6, s.stratum).u8(7, s.precisionLog2)
    .i32(8, toSFp(s.rootDelaySec)).u32(12, toUFp(s.rootDispersionSec)).u32(16, s.refid)
    .u64(20, s.reftime).u32(28, s.pollLog2).u8(32, s.flags).i32(36, toSFp(s.broadcastDelaySec))
    .i32(40, toSFp(s.jitterSec)).u64(44, toSignedLfp(s.authDelaySec))
    .u32(52, toUFp(s.stabilityPpm)).bytes;
}

/** Decodes the sysinfo item (either layout). */
export function decodeSysInfoItem(b: Uint8Array): SysInfoItem {
  const v = view(b);
  return {
    peerAddress: getAddress(v, b, 0, 64, 56),
    peerMode: b[4]!,
    leap: b[5]!,
    stratum: b[6]!,
    precisionLog2: v.getInt8(7),
    rootDelaySec: v.getInt32(8) / 65536,
    rootDispersionSec: v.getUint32(12) / 65536,
    refid: v.getUint32(16),
    reftime: v.getBigUint64(20),
    pollLog2: v.getUint32(28),
    flags: b[32]!,
    broadcastDelaySec: v.getInt32(36) / 65536,
    jitterSec: v.getInt32(40) / 65536,
    authDelaySec: fromSignedLfp(v.getBigUint64(44)),
    stabilityPpm: v.getUint32(52) / 65536,
  };
}

/** The packet counters (REQ_SYS_STATS: ntpdc `sysstats`). */
export interface SysStatsItem {
  timeUpSec: number;
  timeResetSec: number;
  denied: number;
  oldVersion: number;
  newVersion: number;
  /** ntpd sends `declined` here. */
  unknownVersion: number;
  badLength: number;
  processed: number;
  badAuth: number;
  received: number;
  limitRejected: number;
}

const SYS_STATS_ORDER = [
  "timeUpSec",
  "timeResetSec",
  "denied",
  "oldVersion",
  "newVersion",
  "unknownVersion",
  "badLength",
  "processed",
  "badAuth",
  "received",
  "limitRejected",
] as const;

/** Encodes the sysstats item (44 bytes). */
export function encodeSysStatsItem(s: SysStatsItem): Uint8Array {
  const it = new Item(ItemSize.SYS_STATS);
  SYS_STATS_ORDER.forEach((k, i) => it.u32(4 * i, Math.max(0, Math.floor(s[k]))));
  return it.bytes;
}

/** Decodes a sysstats item (the old 40-byte one has no `limitRejected`: 0). */
export function decodeSysStatsItem(b: Uint8Array): SysStatsItem {
  const v = view(b);
  const out = {} as Record<(typeof SYS_STATS_ORDER)[number], number>;
  SYS_STATS_ORDER.forEach((k, i) => out[k] = 4 * i + 4 <= b.length ? v.getUint32(4 * i) : 0);
  return out;
}

/** The socket counters (REQ_IO_STATS: ntpdc `iostats`). */
export interface IoStatsItem {
  timeResetSec: number;
  totalRecvBufs: number;
  freeRecvBufs: number;
  fullRecvBufs: number;
  lowWater: number;
  dropped: number;
  ignored: number;
  received: number;
  sent: number;
  notSent: number;
  interrupts: number;
  intReceived: number;
}

/** Encodes the iostats item (40 bytes). */
export function encodeIoStatsItem(s: IoStatsItem): Uint8Array {
  const it = new Item(ItemSize.IO_STATS);
  it.u32(0, s.timeResetSec).u16(4, s.totalRecvBufs).u16(6, s.freeRecvBufs)
    .u16(8, s.fullRecvBufs).u16(10, s.lowWater);
  [s.dropped, s.ignored, s.received, s.sent, s.notSent, s.interrupts, s.intReceived].forEach(
    (x, i) => it.u32(12 + 4 * i, x),
  );
  return it.bytes;
}

/** Decodes the iostats item. */
export function decodeIoStatsItem(b: Uint8Array): IoStatsItem {
  const v = view(b);
  return {
    timeResetSec: v.getUint32(0),
    totalRecvBufs: v.getUint16(4),
    freeRecvBufs: v.getUint16(6),
    fullRecvBufs: v.getUint16(8),
    lowWater: v.getUint16(10),
    dropped: v.getUint32(12),
    ignored: v.getUint32(16),
    received: v.getUint32(20),
    sent: v.getUint32(24),
    notSent: v.getUint32(28),
    interrupts: v.getUint32(32),
    intReceived: v.getUint32(36),
  };
}

/** The association table's counters (REQ_MEM_STATS: ntpdc `memstats`). */
export interface MemStatsItem {
  timeResetSec: number;
  totalPeerMem: number;
  freePeerMem: number;
  findPeerCalls: number;
  allocations: number;
  demobilizations: number;
  /** Peers per hash bucket ({@link NTP_HASH_SIZE} of them). */
  hashCount: number[];
}

/** Encodes the memstats item (148 bytes). */
export function encodeMemStatsItem(s: MemStatsItem): Uint8Array {
  const it = new Item(ItemSize.MEM_STATS);
  it.u32(0, s.timeResetSec).u16(4, Math.min(0xffff, s.totalPeerMem))
    .u16(6, Math.min(0xffff, s.freePeerMem)).u32(8, s.findPeerCalls).u32(12, s.allocations)
    .u32(16, s.demobilizations);
  for (let i = 0; i < NTP_HASH_SIZE; i++) it.u8(20 + i, Math.min(255, s.hashCount[i] ?? 0));
  return it.bytes;
}

/** Decodes the memstats item. */
export function decodeMemStatsItem(b: Uint8Array): MemStatsItem {
  const v = view(b);
  return {
    timeResetSec: v.getUint32(0),
    totalPeerMem: v.getUint16(4),
    freePeerMem: v.getUint16(6),
    findPeerCalls: v.getUint32(8),
    allocations: v.getUint32(12),
    demobilizations: v.getUint32(16),
    hashCount: [...b.subarray(20, 20 + NTP_HASH_SIZE)],
  };
}

/** The discipline (REQ_LOOP_INFO: ntpdc `loopinfo`). */
export interface LoopInfoItem {
  lastOffsetSec: number;
  /** Frequency correction, ppm (ntpd sends ppm as an l_fp). */
  driftPpm: number;
  /** Poll adjust (ntpd's time constant counter). */
  compliance: number;
  /** Seconds since the last clock update. */
  watchdogSec: number;
}

/** Encodes the loopinfo item (24 bytes). */
export function encodeLoopInfoItem(l: LoopInfoItem): Uint8Array {
  const it = new Item(ItemSize.LOOP_INFO);
  return it.u64(0, toSignedLfp(l.lastOffsetSec)).u64(8, toSignedLfp(l.driftPpm))
    .i32(16, l.compliance).u32(20, Math.max(0, Math.floor(l.watchdogSec))).bytes;
}

/** Decodes the loopinfo item. */
export function decodeLoopInfoItem(b: Uint8Array): LoopInfoItem {
  const v = view(b);
  return {
    lastOffsetSec: fromSignedLfp(v.getBigUint64(0)),
    driftPpm: fromSignedLfp(v.getBigUint64(8)),
    compliance: v.getInt32(16),
    watchdogSec: v.getUint32(20),
  };
}

/**
 * The kernel's clock variables as ntp_adjtime gives them (REQ_GET_KERNEL: ntpdc `kerninfo`,
 * collectd): offset and precision in µs, or ns when `status` has STA_NANO; frequency and
 * tolerance in ppm scaled by 2^16; errors in µs.
 */
export interface KernelItem {
  offset: number;
  freq: number;
  maxError: number;
  estError: number;
  status: number;
  shift: number;
  constant: number;
  precision: number;
  tolerance: number;
  ppsFreq: number;
  jitter: number;
  stabil: number;
  jitCnt: number;
  calCnt: number;
  errCnt: number;
  stbCnt: number;
}

/** Encodes the kerninfo item (60 bytes). */
export function encodeKernelItem(k: KernelItem): Uint8Array {
  const it = new Item(ItemSize.KERNEL);
  it.i32(0, k.offset).i32(4, k.freq).i32(8, k.maxError).i32(12, k.estError).u16(16, k.status)
    .u16(18, k.shift).i32(20, k.constant).i32(24, k.precision).i32(28, k.tolerance);
  [k.ppsFreq, k.jitter, k.stabil, k.jitCnt, k.calCnt, k.errCnt, k.stbCnt].forEach((x, i) =>
    it.i32(32 + 4 * i, x)
  );
  return it.bytes;
}

/** Decodes the kerninfo item. */
export function decodeKernelItem(b: Uint8Array): KernelItem {
  const v = view(b);
  const i = (at: number) => v.getInt32(at);
  return {
    offset: i(0),
    freq: i(4),
    maxError: i(8),
    estError: i(12),
    status: v.getUint16(16),
    shift: v.getUint16(18),
    constant: i(20),
    precision: i(24),
    tolerance: i(28),
    ppsFreq: i(32),
    jitter: i(36),
    stabil: i(40),
    jitCnt: i(44),
    calCnt: i(48),
    errCnt: i(52),
    stbCnt: i(56),
  };
}
