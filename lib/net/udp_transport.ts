// Native UDP transport: a non-blocking FFI socket drained with recvmmsg and answered with one
// sendmmsg per batch, kernel receive timestamps (SO_TIMESTAMPNS) and late transmit stamps; client
// requests ask for a kernel transmit timestamp each (SO_TIMESTAMPING, read from the error queue).

import { OsError, realtime } from "../../ffi/libc.ts";
import {
  bindSocket,
  closeSocket,
  getSocketName,
  getSocketOption,
  IP_TOS,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_TCLASS,
  IPV6_V6ONLY,
  MmsgBatch,
  MSG_DONTWAIT,
  MSG_TRUNC,
  openUdpSocket,
  POLLERR,
  PollSet,
  receiveBatch,
  sendBatch,
  sendTo,
  setSocketOption,
  shutdownSocket,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_TIMESTAMPING,
  SO_TIMESTAMPNS,
  SocketErrno,
  SOF_TIMESTAMPING_OPT_ID,
  SOF_TIMESTAMPING_OPT_RX_FILTER,
  SOF_TIMESTAMPING_OPT_TSONLY,
  SOF_TIMESTAMPING_SOFTWARE,
  SOL_SOCKET,
  TxTimestamper,
  type TxTimestampReport,
} from "../../ffi/socket.ts";
import { fromUnix, type NtpTime, toUnix, writeUnixTimestamp } from "../proto/ntp_time.ts";
import type {
  DatagramHandler,
  ReceivedDatagram,
  ReplyFinalizer,
  ReplySlot,
  SocketAddress,
  TransmitHandler,
  Transport,
  TransportStats,
} from "./transport.ts";
import type { IpWords } from "../proto/ip.ts";
import {
  parseSocketAddress,
  sockaddrToIpWords,
  sockaddrToSocketAddress,
  socketAddress,
  socketAddressToSockaddr,
} from "./socket_address.ts";

/** Reads the realtime clock as Unix [seconds, nanoseconds] (like ffi/libc.ts `realtime()`). */
export type RealtimeReader = () => readonly [sec: number, nsec: number];

/** A {@link RealtimeReader} over a clock read as NTP time (e.g. observe mode's virtual clock). */
export function realtimeReaderOf(read: () => NtpTime): RealtimeReader {
  return () => {
    const u = toUnix(read());
    return [Number(u.sec), u.nsec];
  };
}

/** Options of a `UdpTransport`. */
export interface UdpTransportOptions {
  /** Local address: "127.0.0.1", "::", "[::1]:1123", "0.0.0.0:123" or a SocketAddress. */
  address: string | SocketAddress;
  /** Local port (overrides one in `address`; 0 or absent: an ephemeral port). */
  port?: number;
  /** Datagrams per recvmmsg/sendmmsg batch (default 64). */
  batchSize?: number;
  /** Receive and transmit buffer per datagram (default 2048; larger datagrams are dropped). */
  bufferBytes?: number;
  /** SO_RCVBUF in bytes (default 4 MiB; the kernel caps it at net.core.rmem_max). */
  receiveBufferBytes?: number;
  /** SO_SNDBUF in bytes (default: the kernel's). */
  sendBufferBytes?: number;
  /** Ask for kernel receive timestamps (default true). */
  kernelTimestamps?: boolean;
  /**
   * Ask for a kernel transmit timestamp for each datagram sent with `sendRequest` (default
   * false). Other datagrams are not timestamped. On Linux 6.12 and later received datagrams
   * are unaffected (SOF_TIMESTAMPING_OPT_RX_FILTER); before that each also carries an unused
   * timestamp message, which the receive control buffer truncates. Without kernel support
   * (before Linux 4.13) the transport reports clock reads only.
   */
  txTimestamps?: boolean;
  /** SO_REUSEADDR (default false). */
  reuseAddress?: boolean;
  /** SO_REUSEPORT, so several processes can serve one port (default false). */
  reusePort?: boolean;
  /** IPV6_V6ONLY for IPv6 sockets (default true: IPv4 gets its own socket). */
  v6Only?: boolean;
  /** IP_TOS / IPV6_TCLASS byte for sent datagrams (default: the kernel's). */
  tos?: number;
  /** Clock for receive times without a kernel timestamp and for transmit stamps. */
  clock?: RealtimeReader;
  /** poll() timeout in ms while idle; close() wakes it earlier (default 500). */
  pollTimeoutMs?: number;
  /**
   * Under load, how long the loop may wait for the next datagram with a blocking poll() on its
   * own thread before it falls back to poll() on a helper thread, ms (default 1; 0: never).
   * The hand-off to a helper thread and back costs more CPU than a blocking wait, and at
   * saturation the socket is empty only for moments; the event loop waits at most this long.
   */
  blockingWaitMs?: number;
  /**
   * Datagrams handled since the loop last woke from a helper-thread poll() before an empty
   * socket counts as "under load" for `blockingWaitMs` (default: half the batch size). A socket
   * with light traffic never blocks the thread, so other sockets on it are not held up.
   */
  blockingWaitAfter?: number;
  /** Batches handled back to back before yielding to the event loop (default 16). */
  maxBusyBatches?: number;
  /**
   * Longest stretch of back-to-back batches before yielding to the event loop, ms (default 2):
   * bounds timer lateness under load whatever the batch sizes are.
   */
  maxBusyMs?: number;
}

/** Counters of a `UdpTransport`: the Transport ones plus loop diagnostics. */
export interface UdpTransportStats extends TransportStats {
  /** recvmmsg calls that returned datagrams. */
  batches: number;
  /** Receive errors other than "no data" (the loop went on). */
  receiveErrors: number;
  /** Times the loop waited in poll() on a helper thread for an empty socket. */
  polls: number;
  /** Times the loop waited in a short blocking poll() under load (see `blockingWaitMs`). */
  blockingWaits: number;
  /** Times the loop yielded to the event loop while still busy. */
  yields: number;
  /** Requests whose kernel transmit timestamp was read and reported. */
  txTimestamped: number;
  /** Requests whose kernel transmit timestamp never came (given up after later ones). */
  txTimestampMissing: number;
  /** Error-queue messages that matched no request (unknown key, or not a timestamp). */
  txReportsUnmatched: number;
}

/** Requests whose kernel transmit timestamp is awaited at most (older ones are given up). */
export const TX_PENDING_MAX = 16;

interface PendingTx {
  key: number;
  onTransmit: TransmitHandler;
}

/** The datagram view handed to handlers: reused for every datagram of the batch. */
class BatchDatagram implements ReceivedDatagram {
  readonly #batch: MmsgBatch;
  readonly #views: (Uint8Array | undefined)[];
  #slot = 0;
  #length = 0;
  #peer: SocketAddress | null = null;
  #rxTime: NtpTime | null = null;
  /** Receive time, Unix seconds (number form of rxTime, free of bigint work). */
  rxUnixSec = 0;
  /** Receive time, nanoseconds within the second. */
  rxUnixNsec = 0;
  rxKernel = false;

  constructor(batch: MmsgBatch) {
    this.#batch = batch;
    this.#views = new Array(batch.count);
  }

  set(slot: number, length: number, sec: number, nsec: number, kernel: boolean): void {
    this.#slot = slot;
    this.#length = length;
    this.#peer = null;
    this.#rxTime = null;
    this.rxUnixSec = sec;
    this.rxUnixNsec = nsec;
    this.rxKernel = kernel;
  }

  get data(): Uint8Array {
    // Most NTP datagrams have the same length, so a slot's last view is usually reusable.
    let v = this.#views[this.#slot];
    if (v === undefined || v.length !== this.#length) {
      v = this.#batch.rxBuffer(this.#slot).subarray(0, this.#length);
      this.#views[this.#slot] = v;
    }
    return v;
  }

  get peer(): SocketAddress {
    if (this.#peer === null) {
      const b = this.#batch;
      this.#peer = sockaddrToSocketAddress(b.rxName(this.#slot), b.rxNameLength(this.#slot)) ??
        { family: 4, address: "", port: 0 };
    }
    return this.#peer;
  }

  get rxTime(): NtpTime {
    if (this.#rxTime === null) this.#rxTime = fromUnix(this.rxUnixSec, this.rxUnixNsec);
    return this.#rxTime;
  }

  readPeer(out: IpWords): number {
    const b = this.#batch;
    return sockaddrToIpWords(b.rxName(this.#slot), b.rxNameLength(this.#slot), out);
  }
}

class Reply implements ReplySlot {
  buffer: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  length = 0;
  stampTransmit = false;
  finalize: ReplyFinalizer | null = null;
}

function yieldToEventLoop(): Promise<void> {
  // Deno's global setImmediate: importing node:timers for it loaded that module at every start
  // (the bundle hoists node: imports), about 0.3 MB more resident for one function.
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A UDP socket through FFI (IPv4 or IPv6) implementing `Transport` with batched recvmmsg and
 * sendmmsg, kernel receive timestamps and a loop that never blocks the event loop.
 *
 * `serve()` drains the socket with non-blocking recvmmsg, calls the handler for each datagram
 * with a reused datagram object (its peer decoded on first use) and a reply slot over the
 * slot's transmit buffer, then sends the batch's replies with one sendmmsg, stamping transmit
 * timestamps from one clock read just before it. An empty socket is awaited with poll() on a
 * helper thread; after `maxBusyMs` of busy batches (or `maxBusyBatches` of them) the loop yields
 * with setImmediate.
 */
export class UdpTransport implements Transport {
  /** The bound local address (the real port when 0 was asked). */
  readonly localAddress: SocketAddress;
  /** True when datagrams carry kernel receive timestamps. */
  readonly kernelTimestamps: boolean;
  /** Effective SO_RCVBUF as the kernel reports it (it doubles the asked value). */
  readonly receiveBufferBytes: number;
  /** False when `sendRequest` reports clock reads only (not asked, or no kernel support). */
  get txTimestamps(): boolean {
    return this.#tx !== null;
  }

  #fd: number;
  readonly #family: 4 | 6;
  readonly #batch: MmsgBatch;
  readonly #poll: PollSet;
  readonly #clock: RealtimeReader;
  readonly #pollTimeoutMs: number;
  readonly #maxBusyBatches: number;
  readonly #maxBusyMs: number;
  readonly #blockingWaitMs: number;
  readonly #blockingWaitAfter: number;
  readonly #txViews: DataView[] = [];
  readonly #datagram: BatchDatagram;
  readonly #reply = new Reply();
  readonly #tsOut = new Float64Array(2);
  readonly #stampSlots: Int32Array;
  /** Replies of the batch that have a finalize step: their slots, lengths and finalizers. */
  readonly #finalSlots: Int32Array;
  readonly #finalLengths: Int32Array;
  readonly #finalizers: (ReplyFinalizer | null)[];
  readonly #sendName = new Uint8Array(new ArrayBuffer(32));
  readonly #sendScratch: Uint8Array;
  #closed = false;
  #serving = false;
  #received = 0;
  #sent = 0;
  #sendErrors = 0;
  #noKernelTimestamp = 0;
  #truncated = 0;
  #batches = 0;
  #receiveErrors = 0;
  #polls = 0;
  #blockingWaits = 0;
  #yields = 0;
  #tx: TxTimestamper | null = null;
  readonly #txReport: TxTimestampReport = { key: 0, sec: 0, nsec: 0 };
  #txNextKey = 0;
  #txPending: PendingTx[] = [];
  #txTimestamped = 0;
  #txMissing = 0;
  #txUnmatched = 0;

  /** Opens and binds the socket (throws OsError on failure, TypeError on a bad address). */
  constructor(options: UdpTransportOptions) {
    const bind = resolveBindAddress(options.address, options.port);
    const batchSize = options.batchSize ?? 64;
    const bufferBytes = options.bufferBytes ?? 2048;
    const timestamps = options.kernelTimestamps ?? true;
    this.#family = bind.family;
    this.#clock = options.clock ?? realtime;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 500;
    this.#maxBusyBatches = Math.max(1, options.maxBusyBatches ?? 16);
    this.#maxBusyMs = Math.max(0, options.maxBusyMs ?? 2);
    this.#blockingWaitMs = Math.max(0, Math.floor(options.blockingWaitMs ?? 1));
    this.#blockingWaitAfter = Math.max(1, options.blockingWaitAfter ?? Math.ceil(batchSize / 2));
    this.#batch = new MmsgBatch({
      count: batchSize,
      bufferBytes,
      controlBytes: timestamps ? 64 : 0,
    });
    for (let i = 0; i < batchSize; i++) {
      this.#txViews.push(
        new DataView(this.#batch.memory, this.#batch.txBufferOffset(i), bufferBytes),
      );
    }
    this.#datagram = new BatchDatagram(this.#batch);
    this.#stampSlots = new Int32Array(batchSize);
    this.#finalSlots = new Int32Array(batchSize);
    this.#finalLengths = new Int32Array(batchSize);
    this.#finalizers = new Array(batchSize).fill(null);
    this.#sendScratch = new Uint8Array(new ArrayBuffer(bufferBytes));
    const fd = openUdpSocket(bind.family);
    try {
      if (options.reuseAddress) setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) setSocketOption(fd, SOL_SOCKET, SO_REUSEPORT, 1);
      if (bind.family === 6) {
        setSocketOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6Only === false ? 0 : 1);
      }
      setSocketOption(fd, SOL_SOCKET, SO_RCVBUF, options.receiveBufferBytes ?? 4 * 1024 * 1024);
      if (options.sendBufferBytes !== undefined) {
        setSocketOption(fd, SOL_SOCKET, SO_SNDBUF, options.sendBufferBytes);
      }
      if (options.tos !== undefined) {
        if (bind.family === 4) setSocketOption(fd, IPPROTO_IP, IP_TOS, options.tos);
        else setSocketOption(fd, IPPROTO_IPV6, IPV6_TCLASS, options.tos);
      }
      if (timestamps) setSocketOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (options.txTimestamps === true) this.#tx = enableTxTimestamps(fd);
      const sa = new Uint8Array(new ArrayBuffer(32));
      const enc = socketAddressToSockaddr(bind, sa, bind.family);
      if (!enc.ok) throw new TypeError(`UdpTransport: ${enc.reason}`);
      bindSocket(fd, sa.subarray(0, enc.length));
      const name = getSocketName(fd);
      this.localAddress = sockaddrToSocketAddress(name, name.length, false) ?? bind;
      this.receiveBufferBytes = getSocketOption(fd, SOL_SOCKET, SO_RCVBUF);
    } catch (e) {
      closeSocket(fd);
      if (e instanceof OsError && e.syscall === "bind") {
        throw new OsError("bind", e.errno, `(UDP ${bind.address} port ${bind.port})`);
      }
      throw e;
    }
    this.#fd = fd;
    this.kernelTimestamps = timestamps;
    this.#poll = new PollSet([fd]);
  }

  /** The socket's file descriptor (−1 once released after close()). */
  get fd(): number {
    return this.#fd;
  }

  /** Receives until `close()`, answering through the reply slot. Rejects if already serving. */
  async serve(handler: DatagramHandler): Promise<void> {
    if (this.#serving) throw new Error("UdpTransport: serve() is already running");
    if (this.#closed) return;
    this.#serving = true;
    const batch = this.#batch;
    try {
      let busy = 0;
      let busySinceMs = performance.now();
      let sinceWake = 0;
      while (!this.#closed) {
        const n = receiveBatch(this.#fd, batch, batch.count, MSG_DONTWAIT);
        if (n > 0) {
          this.#batches++;
          sinceWake += n;
          this.#handleBatch(n, handler);
          if (
            ++busy >= this.#maxBusyBatches ||
            performance.now() - busySinceMs >= this.#maxBusyMs
          ) {
            busy = 0;
            this.#yields++;
            await yieldToEventLoop();
            busySinceMs = performance.now();
          }
          continue;
        }
        busy = 0;
        if (n === 0) {
          // End of file: the socket was shut down (by close() or from outside).
          break;
        }
        const e = -n;
        if (e === SocketErrno.EINTR) continue;
        if (e !== SocketErrno.EAGAIN) {
          if (!isTransientReceiveError(e)) throw new OsError("recvmmsg", e);
          this.#receiveErrors++;
        }
        if (
          this.#blockingWaitMs > 0 && sinceWake >= this.#blockingWaitAfter &&
          this.#poll.waitBlocking(this.#blockingWaitMs) > 0
        ) {
          if ((this.#poll.revents(0) & POLLERR) !== 0) this.#readTxReports();
          // More arrived within the short wait: stay on this thread (yields still bound the
          // time the event loop waits, as busySinceMs keeps running).
          this.#blockingWaits++;
          continue;
        }
        this.#polls++;
        await this.#poll.wait(this.#pollTimeoutMs);
        // A transmit timestamp that came after its send call: read it before any reply.
        if ((this.#poll.revents(0) & POLLERR) !== 0) this.#readTxReports();
        sinceWake = 0;
        busySinceMs = performance.now();
      }
    } finally {
      this.#serving = false;
      if (this.#closed) this.#release();
    }
  }

  #handleBatch(n: number, handler: DatagramHandler): void {
    const batch = this.#batch;
    const datagram = this.#datagram;
    const reply = this.#reply;
    const ts = this.#tsOut;
    const timestamps = this.kernelTimestamps;
    const maxLength = batch.bufferBytes;
    let clockRead = false;
    let clockSec = 0;
    let clockNsec = 0;
    let m = 0;
    let stamps = 0;
    let finals = 0;
    try {
      for (let i = 0; i < n; i++) {
        if ((batch.rxFlags(i) & MSG_TRUNC) !== 0) {
          this.#truncated++;
          continue;
        }
        this.#received++;
        let sec: number;
        let nsec: number;
        let kernel = false;
        if (timestamps && batch.rxTimestamp(i, ts)) {
          sec = ts[0]!;
          nsec = ts[1]!;
          kernel = true;
        } else {
          if (timestamps) this.#noKernelTimestamp++;
          if (!clockRead) {
            const now = this.#clock();
            clockSec = now[0];
            clockNsec = now[1];
            clockRead = true;
          }
          sec = clockSec;
          nsec = clockNsec;
        }
        datagram.set(i, batch.rxLength(i), sec, nsec, kernel);
        reply.buffer = batch.txBuffer(i);
        reply.view = this.#txViews[i]!;
        reply.length = 0;
        reply.stampTransmit = false;
        reply.finalize = null;
        handler(datagram, reply);
        const length = reply.length;
        if (length > 0) {
          if (!(length <= maxLength) || !Number.isInteger(length)) {
            this.#sendErrors++;
            continue;
          }
          batch.setTxToRxPeer(m, i, length);
          if (reply.stampTransmit && length >= 48) this.#stampSlots[stamps++] = i;
          if (reply.finalize !== null) {
            this.#finalSlots[finals] = i;
            this.#finalLengths[finals] = length;
            this.#finalizers[finals++] = reply.finalize;
          }
          m++;
        }
      }
      if (m > 0) this.#sendPrepared(m, stamps, finals);
    } finally {
      batch.resetReceive(n);
    }
  }

  #sendPrepared(m: number, stamps: number, finals: number): void {
    const batch = this.#batch;
    if (stamps > 0) {
      const view = batch.view;
      const now = this.#clock();
      for (let k = 0; k < stamps; k++) {
        writeUnixTimestamp(view, batch.txBufferOffset(this.#stampSlots[k]!) + 40, now[0], now[1]);
      }
    }
    // After the stamps: a MAC must cover the transmit timestamp the client will read.
    for (let k = 0; k < finals; k++) {
      const f = this.#finalizers[k]!;
      this.#finalizers[k] = null;
      f.finalize(batch.txBuffer(this.#finalSlots[k]!), this.#finalLengths[k]!);
    }
    let first = 0;
    let interrupted = 0;
    while (first < m) {
      const r = sendBatch(this.#fd, batch, first, m - first);
      if (r > 0) {
        this.#sent += r;
        first += r;
        continue;
      }
      const e = -r;
      if (e === SocketErrno.EINTR && interrupted++ < 8) continue;
      if (r === 0 || e === SocketErrno.EAGAIN || e === SocketErrno.ENOBUFS) {
        // The send queue is full: the rest of the batch would fail the same way.
        this.#sendErrors += m - first;
        break;
      }
      // Only the first remaining message failed (a bad or unreachable peer): skip it.
      this.#sendErrors++;
      first++;
    }
  }

  /**
   * Sends one datagram with sendto (counted in stats on failure, never throws); a stamped or
   * finalized datagram is sent from a copy.
   */
  send(
    data: Uint8Array,
    to: SocketAddress,
    stampTransmit = false,
    finalize: ReplyFinalizer | null = null,
  ): void {
    if (this.#closed) {
      this.#sendErrors++;
      return;
    }
    const enc = socketAddressToSockaddr(to, this.#sendName, this.#family);
    if (!enc.ok) {
      this.#sendErrors++;
      return;
    }
    let payload = data;
    const stamp = stampTransmit && data.length >= 48;
    if (stamp || finalize !== null) {
      payload = data.length <= this.#sendScratch.length
        ? this.#sendScratch.subarray(0, data.length)
        : new Uint8Array(data.length);
      payload.set(data);
    }
    if (stamp) {
      const now = this.#clock();
      writeUnixTimestamp(
        new DataView(payload.buffer, payload.byteOffset, payload.length),
        40,
        now[0],
        now[1],
      );
    }
    if (finalize !== null) finalize.finalize(payload, payload.length);
    const r = sendTo(this.#fd, payload, this.#sendName.subarray(0, enc.length));
    if (r < 0) this.#sendErrors++;
    else this.#sent++;
  }

  /**
   * Sends a client request unchanged, as late as the caller allows: the clock is read just
   * before sendmsg and reported at once; the kernel's software transmit timestamp follows
   * (usually from the error queue right after the call, else when the serve loop sees it).
   */
  sendRequest(data: Uint8Array, to: SocketAddress, onTransmit: TransmitHandler): boolean {
    if (this.#closed) {
      this.#sendErrors++;
      return false;
    }
    const enc = socketAddressToSockaddr(to, this.#sendName, this.#family);
    if (!enc.ok) {
      this.#sendErrors++;
      return false;
    }
    const name = this.#sendName.subarray(0, enc.length);
    const tx = this.#tx;
    let now = this.#clock();
    let r: number;
    if (tx !== null) {
      r = tx.send(this.#fd, data, name, enc.length, true);
      if (r === -SocketErrno.EINVAL) {
        // The kernel refuses the per-datagram request (before Linux 4.13): clock reads only.
        this.#tx = null;
        this.#txPending = [];
        now = this.#clock();
        r = sendTo(this.#fd, data, name);
      }
    } else {
      r = sendTo(this.#fd, data, name);
    }
    if (r < 0) {
      this.#sendErrors++;
      return false;
    }
    this.#sent++;
    if (this.#tx !== null) {
      if (this.#txPending.length >= TX_PENDING_MAX) {
        this.#txPending.shift();
        this.#txMissing++;
      }
      this.#txPending.push({ key: this.#txNextKey, onTransmit });
      this.#txNextKey = (this.#txNextKey + 1) >>> 0;
    }
    onTransmit({ time: fromUnix(now[0], now[1]), kernel: false });
    if (this.#tx !== null) this.#readTxReports();
    return true;
  }

  /** Reads the error queue: kernel transmit timestamps go to their request's handler. */
  #readTxReports(): void {
    const tx = this.#tx;
    if (tx === null || this.#fd < 0) return;
    const rep = this.#txReport;
    // Bounded: the queue holds at most what the socket buffer allows, and the loop must go on.
    for (let k = 0; k < 4 * TX_PENDING_MAX; k++) {
      const r = tx.readReport(this.#fd, rep);
      if (r < 0) {
        if (r === -SocketErrno.EINTR) continue;
        return;
      }
      if (r === 0) {
        this.#txUnmatched++;
        continue;
      }
      const i = this.#txPending.findIndex((p) => p.key === rep.key);
      if (i < 0) {
        this.#txUnmatched++;
        // The kernel numbered a datagram this side did not count: follow its numbering.
        if (((rep.key - this.#txNextKey) >>> 0) < 0x80000000) this.#txNextKey = (rep.key + 1) >>> 0;
        continue;
      }
      const pending = this.#txPending[i]!;
      this.#txPending.splice(i, 1);
      this.#txTimestamped++;
      pending.onTransmit({ time: fromUnix(rep.sec, rep.nsec), kernel: true });
    }
  }

  /** Current counters. */
  stats(): UdpTransportStats {
    return {
      received: this.#received,
      sent: this.#sent,
      sendErrors: this.#sendErrors,
      noKernelTimestamp: this.#noKernelTimestamp,
      truncated: this.#truncated,
      batches: this.#batches,
      receiveErrors: this.#receiveErrors,
      polls: this.#polls,
      blockingWaits: this.#blockingWaits,
      yields: this.#yields,
      txTimestamped: this.#txTimestamped,
      txTimestampMissing: this.#txMissing,
      txReportsUnmatched: this.#txUnmatched,
    };
  }

  /**
   * Stops serving and releases the socket: shutdown() wakes a pending poll so `serve()`
   * resolves promptly; the descriptor is closed once nothing uses it any more.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    shutdownSocket(this.#fd);
    if (!this.#serving) this.#release();
  }

  #release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      closeSocket(fd);
    } catch {
      // Nothing useful to do about a failed close of a socket we are done with.
    }
  }
}

/**
 * Asks for numbered, payload-free software transmit timestamp reports on `fd` (no datagram is
 * timestamped until it asks for it itself). Returns the sender, or null when the kernel has no
 * SO_TIMESTAMPING reports. Without SOF_TIMESTAMPING_OPT_RX_FILTER (before Linux 6.12) it goes on
 * without: received datagrams then carry an extra timestamp message that is ignored.
 */
function enableTxTimestamps(fd: number): TxTimestamper | null {
  const base = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
  for (const flags of [base | SOF_TIMESTAMPING_OPT_RX_FILTER, base]) {
    try {
      setSocketOption(fd, SOL_SOCKET, SO_TIMESTAMPING, flags);
      return new TxTimestamper();
    } catch (e) {
      // An older kernel refuses a flag it does not know: try with fewer, then go without.
      if (!(e instanceof OsError)) throw e;
    }
  }
  return null;
}

function isTransientReceiveError(e: number): boolean {
  return e === SocketErrno.ECONNREFUSED || e === SocketErrno.ENOBUFS ||
    e === SocketErrno.ENOMEM || e === SocketErrno.EHOSTUNREACH ||
    e === SocketErrno.ENETUNREACH;
}

/** Resolves a bind address option to a normalized SocketAddress (throws TypeError if invalid). */
export function resolveBindAddress(address: string | SocketAddress, port?: number): SocketAddress {
  const r = typeof address === "string"
    ? parseSocketAddress(address, port ?? 0)
    : socketAddress(address.address, address.port);
  if (!r.ok) throw new TypeError(`bad local address: ${r.reason}`);
  if (port === undefined || port === r.address.port) return r.address;
  const withPort = socketAddress(r.address.address, port);
  if (!withPort.ok) throw new TypeError(`bad local address: ${withPort.reason}`);
  return withPort.address;
}
