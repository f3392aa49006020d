// UDP sockets through libc FFI (Linux x86_64, glibc): socket calls, sockaddr codecs and the
// batch structures (struct mmsghdr arrays) that recvmmsg/sendmmsg work on. Layouts: PLATFORM.md.

import { errno, openLibc, OsError } from "./libc.ts";

/** Address family IPv4. */
export const AF_INET = 2;
/** Address family IPv6. */
export const AF_INET6 = 10;
/** Datagram socket type. */
export const SOCK_DGRAM = 2;
/** socket() type flag: non-blocking file descriptor. */
export const SOCK_NONBLOCK = 0o4000;
/** socket() type flag: close on exec. */
export const SOCK_CLOEXEC = 0o2000000;

/** Socket-level options. */
export const SOL_SOCKET = 1;
/** Allow binding an address in TIME_WAIT or alongside a wildcard bind. */
export const SO_REUSEADDR = 2;
/** Send buffer size (the kernel doubles the value and caps it at wmem_max). */
export const SO_SNDBUF = 7;
/** Receive buffer size (the kernel doubles the value and caps it at rmem_max). */
export const SO_RCVBUF = 8;
/** Several sockets (processes) share one port; the kernel spreads datagrams between them. */
export const SO_REUSEPORT = 15;
/** SO_SNDBUF ignoring wmem_max (needs CAP_NET_ADMIN). */
export const SO_SNDBUFFORCE = 32;
/** SO_RCVBUF ignoring rmem_max (needs CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;
/** Ask for a struct timespec receive timestamp per datagram (SO_TIMESTAMPNS_OLD, 64-bit layout). */
export const SO_TIMESTAMPNS = 35;
/** Control message type carrying the SO_TIMESTAMPNS timestamp. */
export const SCM_TIMESTAMPNS = 35;
/** Timestamping with reports on the error queue (SO_TIMESTAMPING_OLD, 64-bit layout). */
export const SO_TIMESTAMPING = 37;
/** Control message type carrying three struct timespec: software, (deprecated), hardware. */
export const SCM_TIMESTAMPING = 37;
/** SO_TIMESTAMPING: record a software timestamp when the datagram is handed to the device. */
export const SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1;
/** SO_TIMESTAMPING: record software receive timestamps. */
export const SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3;
/** SO_TIMESTAMPING: report software timestamps (in the first timespec of SCM_TIMESTAMPING). */
export const SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
/** SO_TIMESTAMPING: number the timestamped datagrams (ee_data of the error queue message). */
export const SOF_TIMESTAMPING_OPT_ID = 1 << 7;
/** SO_TIMESTAMPING: queue only the timestamp, not a copy of the datagram. */
export const SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11;
/**
 * SO_TIMESTAMPING (Linux 6.12): report a receive timestamp only when the socket asked for one,
 * so that asking for transmit reports adds nothing to received datagrams.
 */
export const SOF_TIMESTAMPING_OPT_RX_FILTER = 1 << 17;
/** IPv4 level option / cmsg type of an extended error (struct sock_extended_err). */
export const IP_RECVERR = 11;
/** IPv6 level option / cmsg type of an extended error. */
export const IPV6_RECVERR = 25;
/** sock_extended_err.ee_origin of a timestamp report. */
export const SO_EE_ORIGIN_TIMESTAMPING = 4;
/** sock_extended_err.ee_info of a timestamp taken when the datagram left for the device. */
export const SCM_TSTAMP_SND = 0;
/** IPv4 protocol level. */
export const IPPROTO_IP = 0;
/** IPv4 type of service / DSCP byte. */
export const IP_TOS = 1;
/** IPv6 protocol level. */
export const IPPROTO_IPV6 = 41;
/** Restrict an IPv6 socket to IPv6 (no v4-mapped peers). */
export const IPV6_V6ONLY = 26;
/** IPv6 traffic class (the IPv6 counterpart of IP_TOS). */
export const IPV6_TCLASS = 67;

/** msg_flags: control data was truncated. */
export const MSG_CTRUNC = 0x8;
/** msg_flags: the datagram was larger than the buffer and was truncated. */
export const MSG_TRUNC = 0x20;
/** Call flag: do not block. */
export const MSG_DONTWAIT = 0x40;
/** recvmsg() flag: read the socket's error queue (transmit timestamps). */
export const MSG_ERRQUEUE = 0x2000;

/** poll(): data to read. */
export const POLLIN = 0x1;
/** poll(): writing will not block. */
export const POLLOUT = 0x4;
/** poll(): error condition. */
export const POLLERR = 0x8;
/** poll(): hang up (also after shutdown). */
export const POLLHUP = 0x10;
/** poll(): the descriptor is not open. */
export const POLLNVAL = 0x20;

/** shutdown(): both directions; wakes a poll() pending on another thread. */
export const SHUT_RDWR = 2;

/** errno values the socket code tells apart. */
export const SocketErrno = {
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EINVAL: 22,
  ENOMSG: 42,
  EMSGSIZE: 90,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
} as const;

/** sizeof(struct sockaddr_in). */
export const SOCKADDR_IN_BYTES = 16;
/** sizeof(struct sockaddr_in6). */
export const SOCKADDR_IN6_BYTES = 28;
/** sizeof(struct msghdr) on x86_64. */
export const MSGHDR_BYTES = 56;
/** sizeof(struct mmsghdr): msghdr + u32 msg_len, padded to 8. */
export const MMSGHDR_BYTES = 64;
/** sizeof(struct iovec). */
export const IOVEC_BYTES = 16;
/** sizeof(struct cmsghdr) (the header before the data). */
export const CMSGHDR_BYTES = 16;
/** sizeof(struct pollfd). */
export const POLLFD_BYTES = 8;

/** CMSG_SPACE(n) on x86_64: header plus data, each aligned to 8 bytes. */
export function cmsgSpace(dataBytes: number): number {
  return CMSGHDR_BYTES + ((dataBytes + 7) & ~7);
}

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  // Runs on a helper thread and returns a Promise: the way to wait without blocking the event loop.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // Same symbol, synchronous: zero-timeout checks, and short waits that block the calling thread.
  poll_now: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/** The typed libc socket symbols. */
export type SocketSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/** Opens the socket bindings once (throws when FFI is not permitted). */
export function socketLib(): SocketSymbols {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

const intBox = new Int32Array(new ArrayBuffer(8));
const intBytes = new Uint8Array(intBox.buffer, 0, 4);
const lenBytes = new Uint8Array(intBox.buffer, 4, 4);

/** Creates a UDP socket (close-on-exec; non-blocking unless asked otherwise). */
export function openUdpSocket(family: 4 | 6, nonBlocking = true): number {
  const type = SOCK_DGRAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0);
  const fd = socketLib().socket(family === 4 ? AF_INET : AF_INET6, type, 0);
  if (fd < 0) throw new OsError("socket", errno(), `(IPv${family} UDP)`);
  return fd;
}

/** setsockopt() with an int value. */
export function setSocketOption(fd: number, level: number, name: number, value: number): void {
  intBox[0] = value;
  if (socketLib().setsockopt(fd, level, name, intBytes, 4) !== 0) {
    throw new OsError("setsockopt", errno(), `(level ${level}, option ${name})`);
  }
}

/** getsockopt() of an int value. */
export function getSocketOption(fd: number, level: number, name: number): number {
  intBox[0] = 0;
  intBox[1] = 4;
  if (socketLib().getsockopt(fd, level, name, intBytes, lenBytes) !== 0) {
    throw new OsError("getsockopt", errno(), `(level ${level}, option ${name})`);
  }
  return intBox[0]!;
}

/** bind() to an encoded sockaddr (16 bytes for IPv4, 28 for IPv6). */
export function bindSocket(fd: number, sockaddr: Uint8Array): void {
  if (socketLib().bind(fd, sockaddr, sockaddr.length) !== 0) {
    throw new OsError("bind", errno());
  }
}

/** getsockname(): the bound address as sockaddr bytes (decode with `decodeSockaddr`). */
export function getSocketName(fd: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(SOCKADDR_IN6_BYTES));
  intBox[1] = SOCKADDR_IN6_BYTES;
  if (socketLib().getsockname(fd, out, lenBytes) !== 0) throw new OsError("getsockname", errno());
  return out.subarray(0, Math.min(intBox[1]!, SOCKADDR_IN6_BYTES));
}

/**
 * sendto() one datagram. Returns the bytes sent, or −errno on failure (no throw: send errors
 * such as EAGAIN or ECONNREFUSED are routine for a server).
 */
export function sendTo(fd: number, data: Uint8Array, sockaddr: Uint8Array, flags = 0): number {
  const r = Number(
    socketLib().sendto(fd, data, BigInt(data.length), flags, sockaddr, sockaddr.length),
  );
  return r < 0 ? -errno() : r;
}

/**
 * recvmmsg() into the receive side of `batch` (up to `count` messages, no timeout).
 * Returns the number of messages, or −errno. Call `batch.resetReceive()` before reusing slots.
 */
export function receiveBatch(fd: number, batch: MmsgBatch, count: number, flags: number): number {
  const n = socketLib().recvmmsg(fd, batch.rxHeaders, Math.min(count, batch.count), flags, null);
  return n < 0 ? -errno() : n;
}

/**
 * sendmmsg() of `count` prepared transmit headers starting at `first`. Returns how many were
 * sent (possibly fewer than asked), or −errno when the first one failed.
 */
export function sendBatch(
  fd: number,
  batch: MmsgBatch,
  first: number,
  count: number,
  flags = 0,
): number {
  const n = socketLib().sendmmsg(fd, batch.txHeadersFrom(first), count, flags);
  return n < 0 ? -errno() : n;
}

/** shutdown(); returns 0 or the errno (ENOTCONN is normal for UDP and still wakes pollers). */
export function shutdownSocket(fd: number, how = SHUT_RDWR): number {
  return socketLib().shutdown(fd, how) === 0 ? 0 : errno();
}

/** close() a descriptor. */
export function closeSocket(fd: number): void {
  if (socketLib().close(fd) !== 0) throw new OsError("close", errno());
}

/** Encodes a struct sockaddr_in (16 bytes) into `out` at `offset`; returns its length. */
export function encodeSockaddrIn(
  out: Uint8Array,
  addr: ArrayLike<number>,
  port: number,
  offset = 0,
): number {
  out.fill(0, offset, offset + SOCKADDR_IN_BYTES);
  out[offset] = AF_INET & 0xff; // sa_family is host order (little-endian)
  out[offset + 1] = AF_INET >> 8;
  out[offset + 2] = (port >> 8) & 0xff; // sin_port is network order
  out[offset + 3] = port & 0xff;
  for (let k = 0; k < 4; k++) out[offset + 4 + k] = addr[k]! & 0xff;
  return SOCKADDR_IN_BYTES;
}

/** Encodes a struct sockaddr_in6 (28 bytes) into `out` at `offset`; returns its length. */
export function encodeSockaddrIn6(
  out: Uint8Array,
  addr: ArrayLike<number>,
  port: number,
  scopeId = 0,
  flowInfo = 0,
  offset = 0,
): number {
  const v = new DataView(out.buffer, out.byteOffset + offset, SOCKADDR_IN6_BYTES);
  out.fill(0, offset, offset + SOCKADDR_IN6_BYTES);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  v.setUint32(4, flowInfo, false); // sin6_flowinfo is network order
  for (let k = 0; k < 16; k++) out[offset + 8 + k] = addr[k]! & 0xff;
  v.setUint32(24, scopeId, true); // sin6_scope_id is host order
  return SOCKADDR_IN6_BYTES;
}

/** A decoded sockaddr_in or sockaddr_in6. */
export interface DecodedSockaddr {
  family: 4 | 6;
  port: number;
  /** 4 or 16 address bytes (a copy). */
  addr: Uint8Array;
  /** IPv6 scope id (0 for IPv4). */
  scopeId: number;
  /** IPv6 flow label field (0 for IPv4). */
  flowInfo: number;
}

/** Decodes sockaddr bytes of the given length; null when the family or length is not IP. */
export function decodeSockaddr(bytes: Uint8Array, length = bytes.length): DecodedSockaddr | null {
  if (length > bytes.length || length < 2) return null;
  const family = bytes[0]! | (bytes[1]! << 8);
  if (family === AF_INET && length >= SOCKADDR_IN_BYTES) {
    return {
      family: 4,
      port: (bytes[2]! << 8) | bytes[3]!,
      addr: bytes.slice(4, 8),
      scopeId: 0,
      flowInfo: 0,
    };
  }
  if (family === AF_INET6 && length >= SOCKADDR_IN6_BYTES) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, SOCKADDR_IN6_BYTES);
    return {
      family: 6,
      port: v.getUint16(2, false),
      addr: bytes.slice(8, 24),
      scopeId: v.getUint32(24, true),
      flowInfo: v.getUint32(4, false),
    };
  }
  return null;
}

/**
 * Finds an SCM_TIMESTAMPNS control message in `length` bytes of control data at `offset` and
 * writes its seconds and nanoseconds to `out[0]`, `out[1]`. Walks every cmsghdr (other
 * messages may come first); returns false when there is none or the data is malformed.
 */
export function findTimestampNs(
  view: DataView,
  offset: number,
  length: number,
  out: Float64Array,
): boolean {
  let at = 0;
  while (at + CMSGHDR_BYTES <= length) {
    const p = offset + at;
    // cmsg_len is a size_t: a high word other than 0 can only be garbage.
    if (view.getUint32(p + 4, true) !== 0) return false;
    const len = view.getUint32(p, true);
    if (len < CMSGHDR_BYTES || at + len > length) return false;
    if (
      view.getInt32(p + 8, true) === SOL_SOCKET && view.getInt32(p + 12, true) === SCM_TIMESTAMPNS
    ) {
      if (len < CMSGHDR_BYTES + 16) return false;
      const nsec = view.getUint32(p + 24, true);
      if (nsec >= 1_000_000_000 || view.getUint32(p + 28, true) !== 0) return false;
      out[0] = view.getInt32(p + 20, true) * 4294967296 + view.getUint32(p + 16, true);
      out[1] = nsec;
      return true;
    }
    at += (len + 7) & ~7;
  }
  return false;
}

/** A transmit timestamp report from a socket's error queue. */
export interface TxTimestampReport {
  /** The datagram's number (SOF_TIMESTAMPING_OPT_ID: 0 for the first timestamped datagram). */
  key: number;
  /** Kernel software timestamp, Unix seconds. */
  sec: number;
  /** Nanoseconds within `sec`. */
  nsec: number;
}

/** Largest datagram a `TxTimestamper` sends (it is copied into stable memory first). */
export const TX_TIMESTAMPER_DATA_BYTES = 2048;
const TXT_SEND_HDR = 0;
const TXT_SEND_IOV = 64;
const TXT_SEND_NAME = 80;
const TXT_SEND_CTL = 112;
const TXT_SEND_CTL_BYTES = 24; // CMSG_SPACE(sizeof(u32))
const TXT_RECV_HDR = 144;
const TXT_RECV_IOV = 208;
const TXT_RECV_DATA = 224;
const TXT_RECV_DATA_BYTES = 64;
const TXT_RECV_CTL = 288;
const TXT_RECV_CTL_BYTES = 256;
const TXT_SEND_DATA = 576;
const TXT_BYTES = TXT_SEND_DATA + TX_TIMESTAMPER_DATA_BYTES;

/**
 * Sends datagrams that each ask the kernel for a software transmit timestamp (an SO_TIMESTAMPING
 * control message on sendmsg, Linux 4.13, so other datagrams of the socket are not timestamped)
 * and reads the reports back from the error queue (recvmsg with MSG_ERRQUEUE). The socket needs
 * SO_TIMESTAMPING with SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID (and best
 * SOF_TIMESTAMPING_OPT_TSONLY). Every structure lives in one ArrayBuffer whose address never
 * moves; the datagram is copied there, so callers may pass any buffer.
 */
export class TxTimestamper {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor() {
    this.#bytes = new Uint8Array(new ArrayBuffer(TXT_BYTES));
    this.#view = new DataView(this.#bytes.buffer);
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#bytes)));
    const v = this.#view;
    // Send: msghdr → name, one iovec over the data copy, and the control message.
    v.setBigUint64(TXT_SEND_HDR, base + BigInt(TXT_SEND_NAME), true);
    v.setBigUint64(TXT_SEND_HDR + 16, base + BigInt(TXT_SEND_IOV), true);
    v.setBigUint64(TXT_SEND_HDR + 24, 1n, true);
    v.setBigUint64(TXT_SEND_HDR + 32, base + BigInt(TXT_SEND_CTL), true);
    v.setBigUint64(TXT_SEND_IOV, base + BigInt(TXT_SEND_DATA), true);
    v.setBigUint64(TXT_SEND_CTL, BigInt(CMSGHDR_BYTES + 4), true);
    v.setInt32(TXT_SEND_CTL + 8, SOL_SOCKET, true);
    v.setInt32(TXT_SEND_CTL + 12, SO_TIMESTAMPING, true);
    v.setUint32(TXT_SEND_CTL + 16, SOF_TIMESTAMPING_TX_SOFTWARE, true);
    // Receive (error queue): no name, a small data buffer, the control buffer.
    v.setBigUint64(TXT_RECV_HDR + 16, base + BigInt(TXT_RECV_IOV), true);
    v.setBigUint64(TXT_RECV_HDR + 24, 1n, true);
    v.setBigUint64(TXT_RECV_HDR + 32, base + BigInt(TXT_RECV_CTL), true);
    v.setBigUint64(TXT_RECV_IOV, base + BigInt(TXT_RECV_DATA), true);
    v.setBigUint64(TXT_RECV_IOV + 8, BigInt(TXT_RECV_DATA_BYTES), true);
  }

  /**
   * sendmsg() of `data` to `sockaddr` (its first `sockaddrLength` bytes); with `timestamp` the
   * datagram carries the request for a transmit timestamp. Returns the bytes sent or −errno
   * (−EMSGSIZE for data larger than TX_TIMESTAMPER_DATA_BYTES).
   */
  send(
    fd: number,
    data: Uint8Array,
    sockaddr: Uint8Array,
    sockaddrLength: number,
    timestamp = true,
  ): number {
    if (data.length > TX_TIMESTAMPER_DATA_BYTES) return -SocketErrno.EMSGSIZE;
    const nameLength = Math.min(sockaddrLength, sockaddr.length, 32);
    const v = this.#view;
    this.#bytes.set(data, TXT_SEND_DATA);
    this.#bytes.set(sockaddr.subarray(0, nameLength), TXT_SEND_NAME);
    v.setUint32(TXT_SEND_HDR + 8, nameLength, true);
    v.setBigUint64(TXT_SEND_IOV + 8, BigInt(data.length), true);
    v.setBigUint64(TXT_SEND_HDR + 40, timestamp ? BigInt(TXT_SEND_CTL_BYTES) : 0n, true);
    v.setInt32(TXT_SEND_HDR + 48, 0, true);
    const r = Number(socketLib().sendmsg(fd, this.#bytes.subarray(TXT_SEND_HDR, TXT_SEND_IOV), 0));
    return r < 0 ? -errno() : r;
  }

  /**
   * Reads one message from the error queue without waiting. Returns 1 when it was a software
   * transmit timestamp (written to `out`), 0 for any other message (dropped), or −errno
   * (−EAGAIN: the queue is empty).
   */
  readReport(fd: number, out: TxTimestampReport): number {
    const v = this.#view;
    v.setUint32(TXT_RECV_HDR + 8, 0, true);
    v.setBigUint64(TXT_RECV_HDR + 40, BigInt(TXT_RECV_CTL_BYTES), true);
    v.setInt32(TXT_RECV_HDR + 48, 0, true);
    const r = Number(
      socketLib().recvmsg(
        fd,
        this.#bytes.subarray(TXT_RECV_HDR, TXT_RECV_IOV),
        MSG_ERRQUEUE | MSG_DONTWAIT,
      ),
    );
    if (r < 0) return -errno();
    const used = Math.min(Number(v.getBigUint64(TXT_RECV_HDR + 40, true)), TXT_RECV_CTL_BYTES);
    return parseTxTimestampReport(v, TXT_RECV_CTL, used, out) ? 1 : 0;
  }
}

/**
 * Parses the control data of an error queue message (`length` bytes at `offset`): true, with
 * `out` filled, when it reports a software transmit timestamp (an SCM_TIMESTAMPING message and
 * an IP_RECVERR/IPV6_RECVERR extended error of origin SO_EE_ORIGIN_TIMESTAMPING, ENOMSG,
 * SCM_TSTAMP_SND). Malformed data is never trusted: false.
 */
export function parseTxTimestampReport(
  view: DataView,
  offset: number,
  length: number,
  out: TxTimestampReport,
): boolean {
  let haveTime = false;
  let haveKey = false;
  let at = 0;
  while (at + CMSGHDR_BYTES <= length) {
    const p = offset + at;
    if (view.getUint32(p + 4, true) !== 0) return false;
    const len = view.getUint32(p, true);
    if (len < CMSGHDR_BYTES || at + len > length) return false;
    const level = view.getInt32(p + 8, true);
    const type = view.getInt32(p + 12, true);
    if (level === SOL_SOCKET && type === SCM_TIMESTAMPING && len >= CMSGHDR_BYTES + 16) {
      // The first of three struct timespec is the software timestamp.
      const sec = Number(view.getBigInt64(p + 16, true));
      const nsec = Number(view.getBigInt64(p + 24, true));
      if (sec > 0 && nsec >= 0 && nsec < 1_000_000_000) {
        out.sec = sec;
        out.nsec = nsec;
        haveTime = true;
      }
    } else if (
      ((level === IPPROTO_IP && type === IP_RECVERR) ||
        (level === IPPROTO_IPV6 && type === IPV6_RECVERR)) && len >= CMSGHDR_BYTES + 16
    ) {
      const e = p + CMSGHDR_BYTES;
      if (
        view.getUint32(e, true) === SocketErrno.ENOMSG &&
        view.getUint8(e + 4) === SO_EE_ORIGIN_TIMESTAMPING &&
        view.getUint32(e + 8, true) === SCM_TSTAMP_SND
      ) {
        out.key = view.getUint32(e + 12, true);
        haveKey = true;
      }
    }
    at += (len + 7) & ~7;
  }
  return haveTime && haveKey;
}

/** Sizes of an `MmsgBatch`. */
export interface MmsgBatchOptions {
  /** Messages per batch (default 64). */
  count?: number;
  /** Bytes per datagram buffer, receive and transmit (default 2048). */
  bufferBytes?: number;
  /** Control bytes per received message (default 64; 0 for no control data). */
  controlBytes?: number;
}

const NAME_STRIDE = 32; // room for a sockaddr_in6, 8-aligned

function align64(n: number): number {
  return (n + 63) & ~63;
}

/**
 * Every structure a batched UDP socket needs, in one ArrayBuffer whose address never moves:
 * receive side (mmsghdr, iovec, sockaddr, control buffer and data buffer per slot) and
 * transmit side (mmsghdr, iovec, sockaddr and data buffer per slot). The receive headers are
 * ready for recvmmsg; a transmit header `j` is prepared with `setTxToRxPeer` (reply to the
 * sender of received slot `i`, zero copy) or `setTx` (to any address), then sent with
 * `sendBatch`. Reusable by load generators as well as by the server transport.
 */
export class MmsgBatch {
  /** Messages per batch. */
  readonly count: number;
  /** Bytes per datagram buffer. */
  readonly bufferBytes: number;
  /** Control bytes per received message. */
  readonly controlBytes: number;
  /** The backing memory. */
  readonly memory: ArrayBuffer;
  /** The whole memory as bytes. */
  readonly bytes: Uint8Array;
  /** The whole memory as a DataView. */
  readonly view: DataView;
  /** The receive mmsghdr array (pass to recvmmsg). */
  readonly rxHeaders: Uint8Array;
  /** The transmit mmsghdr array (pass to sendmmsg). */
  readonly txHeaders: Uint8Array;

  #rxHdr: number;
  #txHdr: number;
  #rxName: number;
  #txName: number;
  #rxCtl: number;
  #rxBuf: Uint8Array[] = [];
  #txBuf: Uint8Array[] = [];
  #txBufPtr: bigint[] = [];
  #rxNamePtr: bigint[] = [];
  #txNamePtr: bigint[] = [];
  #rxNameView: Uint8Array[] = [];
  #txFrom: (Uint8Array | undefined)[] = [];
  #txIov: number;
  #rxBufAt: number;
  #txBufAt: number;

  constructor(options: MmsgBatchOptions = {}) {
    const count = options.count ?? 64;
    const bufferBytes = options.bufferBytes ?? 2048;
    const controlBytes = options.controlBytes ?? 64;
    if (!Number.isInteger(count) || count < 1 || count > 1024) {
      throw new RangeError(`MmsgBatch: count ${count} is not in 1..1024`);
    }
    if (!Number.isInteger(bufferBytes) || bufferBytes < 48 || bufferBytes > 65536) {
      throw new RangeError(`MmsgBatch: bufferBytes ${bufferBytes} is not in 48..65536`);
    }
    if (!Number.isInteger(controlBytes) || controlBytes < 0 || controlBytes % 8 !== 0) {
      throw new RangeError(`MmsgBatch: controlBytes ${controlBytes} must be a multiple of 8`);
    }
    this.count = count;
    this.bufferBytes = bufferBytes;
    this.controlBytes = controlBytes;
    let size = 0;
    const take = (n: number) => {
      const at = size;
      size += align64(n);
      return at;
    };
    this.#rxHdr = take(count * MMSGHDR_BYTES);
    this.#txHdr = take(count * MMSGHDR_BYTES);
    const rxIov = take(count * IOVEC_BYTES);
    this.#txIov = take(count * IOVEC_BYTES);
    this.#rxName = take(count * NAME_STRIDE);
    this.#txName = take(count * NAME_STRIDE);
    this.#rxCtl = take(count * controlBytes);
    this.#rxBufAt = take(count * bufferBytes);
    this.#txBufAt = take(count * bufferBytes);
    // new ArrayBuffer always has an off-heap backing store, so pointers into it stay valid.
    this.memory = new ArrayBuffer(size);
    this.bytes = new Uint8Array(this.memory);
    this.view = new DataView(this.memory);
    this.rxHeaders = new Uint8Array(this.memory, this.#rxHdr, count * MMSGHDR_BYTES);
    this.txHeaders = new Uint8Array(this.memory, this.#txHdr, count * MMSGHDR_BYTES);
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.bytes)));
    const dv = this.view;
    const ptr = (at: number) => base + BigInt(at);
    for (let i = 0; i < count; i++) {
      const rxBuf = this.#rxBufAt + i * bufferBytes;
      const txBuf = this.#txBufAt + i * bufferBytes;
      this.#rxBuf.push(new Uint8Array(this.memory, rxBuf, bufferBytes));
      this.#txBuf.push(new Uint8Array(this.memory, txBuf, bufferBytes));
      this.#txBufPtr.push(ptr(txBuf));
      this.#rxNamePtr.push(ptr(this.#rxName + i * NAME_STRIDE));
      this.#txNamePtr.push(ptr(this.#txName + i * NAME_STRIDE));
      this.#rxNameView.push(
        new Uint8Array(this.memory, this.#rxName + i * NAME_STRIDE, SOCKADDR_IN6_BYTES),
      );
      // Receive: one iovec over the slot buffer, name and control buffers.
      const ri = rxIov + i * IOVEC_BYTES;
      dv.setBigUint64(ri, ptr(rxBuf), true);
      dv.setBigUint64(ri + 8, BigInt(bufferBytes), true);
      const rh = this.#rxHdr + i * MMSGHDR_BYTES;
      dv.setBigUint64(rh, ptr(this.#rxName + i * NAME_STRIDE), true);
      dv.setBigUint64(rh + 16, ptr(ri), true);
      dv.setBigUint64(rh + 24, 1n, true);
      if (controlBytes > 0) dv.setBigUint64(rh + 32, ptr(this.#rxCtl + i * controlBytes), true);
      // Transmit: header j always uses iovec j; its base and the name are set per send.
      const ti = this.#txIov + i * IOVEC_BYTES;
      dv.setBigUint64(ti, ptr(txBuf), true);
      const th = this.#txHdr + i * MMSGHDR_BYTES;
      dv.setBigUint64(th, ptr(this.#txName + i * NAME_STRIDE), true);
      dv.setBigUint64(th + 16, ptr(ti), true);
      dv.setBigUint64(th + 24, 1n, true);
    }
    this.resetReceive(count);
  }

  /** Restores the in/out fields (msg_namelen, msg_controllen) of the first `n` receive slots. */
  resetReceive(n: number = this.count): void {
    const dv = this.view;
    const ctl = this.controlBytes;
    for (let i = 0, h = this.#rxHdr; i < n; i++, h += MMSGHDR_BYTES) {
      dv.setUint32(h + 8, SOCKADDR_IN6_BYTES, true);
      dv.setUint32(h + 40, ctl, true);
      dv.setInt32(h + 48, 0, true);
    }
  }

  /** The full-size receive buffer of slot `i`. */
  rxBuffer(i: number): Uint8Array {
    return this.#rxBuf[i]!;
  }

  /** The full-size transmit buffer of slot `i`. */
  txBuffer(i: number): Uint8Array {
    return this.#txBuf[i]!;
  }

  /** Byte offset of receive buffer `i` in `memory`. */
  rxBufferOffset(i: number): number {
    return this.#rxBufAt + i * this.bufferBytes;
  }

  /** Byte offset of transmit buffer `i` in `memory`. */
  txBufferOffset(i: number): number {
    return this.#txBufAt + i * this.bufferBytes;
  }

  /** Bytes received in slot `i` (msg_len). */
  rxLength(i: number): number {
    return this.view.getUint32(this.#rxHdr + i * MMSGHDR_BYTES + 56, true);
  }

  /** msg_flags of received slot `i` (MSG_TRUNC, MSG_CTRUNC). */
  rxFlags(i: number): number {
    return this.view.getInt32(this.#rxHdr + i * MMSGHDR_BYTES + 48, true);
  }

  /** Length of the sender address of slot `i` (msg_namelen after the call). */
  rxNameLength(i: number): number {
    return this.view.getUint32(this.#rxHdr + i * MMSGHDR_BYTES + 8, true);
  }

  /** The sender sockaddr of slot `i` (28-byte view; decode with `rxNameLength`). */
  rxName(i: number): Uint8Array {
    return this.#rxNameView[i]!;
  }

  /** Kernel receive timestamp of slot `i` into `out` ([sec, nsec]); false when absent. */
  rxTimestamp(i: number, out: Float64Array): boolean {
    if (this.controlBytes === 0) return false;
    const used = this.view.getUint32(this.#rxHdr + i * MMSGHDR_BYTES + 40, true);
    return findTimestampNs(
      this.view,
      this.#rxCtl + i * this.controlBytes,
      Math.min(used, this.controlBytes),
      out,
    );
  }

  /**
   * Prepares transmit header `j` to send `length` bytes of transmit buffer `i` back to the
   * sender of received slot `i` (the name is referenced, not copied: send before receiving
   * into the batch again).
   */
  setTxToRxPeer(j: number, i: number, length: number): void {
    const dv = this.view;
    const th = this.#txHdr + j * MMSGHDR_BYTES;
    dv.setBigUint64(th, this.#rxNamePtr[i]!, true);
    dv.setUint32(th + 8, dv.getUint32(this.#rxHdr + i * MMSGHDR_BYTES + 8, true), true);
    const ti = this.#txIov + j * IOVEC_BYTES;
    dv.setBigUint64(ti, this.#txBufPtr[i]!, true);
    dv.setUint32(ti + 8, length, true);
  }

  /** Prepares transmit header `j` to send `length` bytes of transmit buffer `i` to `sockaddr`. */
  setTx(j: number, i: number, length: number, sockaddr: Uint8Array): void {
    const dv = this.view;
    const th = this.#txHdr + j * MMSGHDR_BYTES;
    const nameAt = this.#txName + j * NAME_STRIDE;
    const nameLength = Math.min(sockaddr.length, SOCKADDR_IN6_BYTES);
    this.bytes.set(sockaddr.subarray(0, nameLength), nameAt);
    dv.setBigUint64(th, this.#txNamePtr[j]!, true);
    dv.setUint32(th + 8, nameLength, true);
    const ti = this.#txIov + j * IOVEC_BYTES;
    dv.setBigUint64(ti, this.#txBufPtr[i]!, true);
    dv.setUint32(ti + 8, length, true);
  }

  /** Bytes sent for transmit header `j` (msg_len after sendmmsg). */
  txLength(j: number): number {
    return this.view.getUint32(this.#txHdr + j * MMSGHDR_BYTES + 56, true);
  }

  /** The transmit headers from `j` on (for continuing after a partial sendmmsg). */
  txHeadersFrom(j: number): Uint8Array {
    if (j === 0) return this.txHeaders;
    let v = this.#txFrom[j];
    if (v === undefined) {
      v = new Uint8Array(
        this.memory,
        this.#txHdr + j * MMSGHDR_BYTES,
        (this.count - j) * MMSGHDR_BYTES,
      );
      this.#txFrom[j] = v;
    }
    return v;
  }
}

/**
 * A struct pollfd array in stable memory, for waiting on sockets: `wait()` runs poll() on a
 * helper thread (the event loop keeps running), `check()` polls synchronously with no timeout.
 */
export class PollSet {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #n: bigint;

  constructor(fds: readonly number[], events = POLLIN) {
    this.#bytes = new Uint8Array(new ArrayBuffer(Math.max(1, fds.length) * POLLFD_BYTES));
    this.#view = new DataView(this.#bytes.buffer);
    this.#n = BigInt(fds.length);
    fds.forEach((fd, k) => {
      this.#view.setInt32(k * POLLFD_BYTES, fd, true);
      this.#view.setInt16(k * POLLFD_BYTES + 4, events, true);
    });
  }

  /** Waits up to `timeoutMs` (−1: forever) on a helper thread; resolves to poll()'s result. */
  wait(timeoutMs: number): Promise<number> {
    return socketLib().poll(this.#bytes, this.#n, timeoutMs);
  }

  /**
   * Waits up to `timeoutMs` on the calling thread, blocking it (and so the event loop); returns
   * the number of ready descriptors, 0 on timeout, or −errno. Only for short waits.
   */
  waitBlocking(timeoutMs: number): number {
    const r = socketLib().poll_now(this.#bytes, this.#n, timeoutMs);
    return r < 0 ? -errno() : r;
  }

  /** Polls without waiting; returns the number of ready descriptors or −errno. */
  check(): number {
    const r = socketLib().poll_now(this.#bytes, this.#n, 0);
    return r < 0 ? -errno() : r;
  }

  /** revents of descriptor `k` after the last wait or check. */
  revents(k: number): number {
    return this.#view.getInt16(k * POLLFD_BYTES + 6, true);
  }
}
