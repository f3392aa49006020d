// Portable UDP transport over Deno.listenDatagram (needs --unstable-net and --allow-net): the
// fallback when FFI is not permitted. No kernel timestamps; receive times come from a clock read.

import { LIBC_PATH, realtime } from "../../ffi/libc.ts";
import { fromUnix, writeUnixTimestamp } from "../proto/ntp_time.ts";
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
import { socketAddress } from "./socket_address.ts";
import { type RealtimeReader, resolveBindAddress } from "./udp_transport.ts";

/** Options of a `DatagramTransport`. */
export interface DatagramTransportOptions {
  /** Local address: "127.0.0.1", "::", "[::1]:1123" or a SocketAddress. */
  address: string | SocketAddress;
  /** Local port (overrides one in `address`; 0 or absent: an ephemeral port). */
  port?: number;
  /** Allow binding an address already bound (e.g. a wildcard and 127.0.0.1 on one port). */
  reuseAddress?: boolean;
  /** Largest datagram accepted (default 2048; larger ones are counted as truncated). */
  bufferBytes?: number;
  /** Clock for receive times and transmit stamps (default: FFI clock_gettime when permitted). */
  clock?: RealtimeReader;
}

/** Reads CLOCK_REALTIME without FFI (Temporal: about 1 µs resolution). */
export function portableRealtime(): [number, number] {
  const ns = Temporal.Now.instant().epochNanoseconds;
  const sec = ns / 1_000_000_000n;
  return [Number(sec), Number(ns - sec * 1_000_000_000n)];
}

/** The best clock reader available without prompting: FFI when permitted, else Temporal. */
export function defaultRealtimeReader(): RealtimeReader {
  try {
    if (Deno.permissions.querySync({ name: "ffi", path: LIBC_PATH }).state === "granted") {
      realtime();
      return realtime;
    }
  } catch {
    // FFI unusable: fall through to the portable clock.
  }
  return portableRealtime;
}

class PlainDatagram implements ReceivedDatagram {
  data: Uint8Array = new Uint8Array(0);
  peer: SocketAddress = { family: 4, address: "", port: 0 };
  rxTime = 0n;
  rxKernel = false;
  rxUnixSec = 0;
  rxUnixNsec = 0;
}

class PlainReply implements ReplySlot {
  buffer: Uint8Array;
  view: DataView;
  length = 0;
  stampTransmit = false;
  finalize: ReplyFinalizer | null = null;
  constructor(size: number) {
    this.buffer = new Uint8Array(size);
    this.view = new DataView(this.buffer.buffer);
  }
}

/**
 * `Transport` over `Deno.listenDatagram`: one datagram per receive and per send, about a
 * quarter of the FFI transport's rate, but it needs no FFI permission.
 */
export class DatagramTransport implements Transport {
  /** The bound local address. */
  readonly localAddress: SocketAddress;
  /** Always false: Deno.listenDatagram gives no kernel timestamps. */
  readonly kernelTimestamps = false;
  /** Always false: requests are reported with clock reads. */
  readonly txTimestamps = false;

  readonly #conn: Deno.DatagramConn;
  readonly #clock: RealtimeReader;
  readonly #bufferBytes: number;
  readonly #rxBuffer: Uint8Array;
  readonly #datagram = new PlainDatagram();
  readonly #reply: PlainReply;
  #pending: Promise<void> = Promise.resolve();
  #closed = false;
  #serving = false;
  #received = 0;
  #sent = 0;
  #sendErrors = 0;
  #truncated = 0;

  /** Binds the socket (throws on a bad address or a failed bind). */
  constructor(options: DatagramTransportOptions) {
    const bind = resolveBindAddress(options.address, options.port);
    this.#bufferBytes = options.bufferBytes ?? 2048;
    // One spare byte tells a datagram that filled the buffer from one that did not fit.
    this.#rxBuffer = new Uint8Array(this.#bufferBytes + 1);
    this.#reply = new PlainReply(this.#bufferBytes);
    this.#clock = options.clock ?? defaultRealtimeReader();
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: bind.address,
      port: bind.port,
      reuseAddress: options.reuseAddress ?? false,
    });
    const addr = this.#conn.addr as Deno.NetAddr;
    this.localAddress = toSocketAddress(addr.hostname, addr.port) ?? bind;
  }

  /** Receives until `close()`. Rejects if already serving. */
  async serve(handler: DatagramHandler): Promise<void> {
    if (this.#serving) throw new Error("DatagramTransport: serve() is already running");
    if (this.#closed) return;
    this.#serving = true;
    const datagram = this.#datagram;
    const reply = this.#reply;
    try {
      while (!this.#closed) {
        let data: Uint8Array;
        let from: Deno.Addr;
        try {
          [data, from] = await this.#conn.receive(this.#rxBuffer);
        } catch (e) {
          if (this.#closed) break;
          throw e;
        }
        const [sec, nsec] = this.#clock();
        if (data.length > this.#bufferBytes) {
          this.#truncated++;
          continue;
        }
        const net = from as Deno.NetAddr;
        const peer = toSocketAddress(net.hostname, net.port);
        if (peer === null) continue;
        this.#received++;
        datagram.data = data;
        datagram.peer = peer;
        datagram.rxTime = fromUnix(sec, nsec);
        datagram.rxUnixSec = sec;
        datagram.rxUnixNsec = nsec;
        reply.length = 0;
        reply.stampTransmit = false;
        reply.finalize = null;
        handler(datagram, reply);
        const length = reply.length;
        if (length <= 0) continue;
        if (!(length <= this.#bufferBytes) || !Number.isInteger(length)) {
          this.#sendErrors++;
          continue;
        }
        if (reply.stampTransmit && length >= 48) stamp(reply.buffer, this.#clock());
        // The handler may have set it (TypeScript still sees the null assigned above).
        (reply.finalize as ReplyFinalizer | null)?.finalize(reply.buffer, length);
        try {
          await this.#conn.send(reply.buffer.subarray(0, length), from);
          this.#sent++;
        } catch {
          this.#sendErrors++;
        }
      }
      await this.#pending;
    } finally {
      this.#serving = false;
    }
  }

  /** Queues one datagram (sent asynchronously, in order; failures are counted). */
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
    const copy = data.slice();
    if (stampTransmit && copy.length >= 48) stamp(copy, this.#clock());
    finalize?.finalize(copy, copy.length);
    const conn = this.#conn;
    const addr: Deno.NetAddr = { transport: "udp", hostname: to.address, port: to.port };
    this.#pending = this.#pending.then(() => conn.send(copy, addr)).then(
      () => {
        this.#sent++;
      },
      () => {
        this.#sendErrors++;
      },
    );
  }

  /**
   * Queues one client request; the clock is read just before it is handed to the kernel and
   * reported then (no kernel transmit timestamps here).
   */
  sendRequest(data: Uint8Array, to: SocketAddress, onTransmit: TransmitHandler): boolean {
    if (this.#closed) {
      this.#sendErrors++;
      return false;
    }
    const copy = data.slice();
    const conn = this.#conn;
    const addr: Deno.NetAddr = { transport: "udp", hostname: to.address, port: to.port };
    this.#pending = this.#pending.then(() => {
      const [sec, nsec] = this.#clock();
      onTransmit({ time: fromUnix(sec, nsec), kernel: false });
      return conn.send(copy, addr);
    }).then(
      () => {
        this.#sent++;
      },
      () => {
        this.#sendErrors++;
      },
    );
    return true;
  }

  /** Resolves when every datagram queued by `send()` so far has been handed to the kernel. */
  flush(): Promise<void> {
    return this.#pending;
  }

  /** Current counters. */
  stats(): TransportStats {
    return {
      received: this.#received,
      sent: this.#sent,
      sendErrors: this.#sendErrors,
      noKernelTimestamp: 0,
      truncated: this.#truncated,
    };
  }

  /** Stops serving (a pending receive ends) and releases the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

function stamp(buffer: Uint8Array, now: readonly [number, number]): void {
  writeUnixTimestamp(new DataView(buffer.buffer, buffer.byteOffset, 48), 40, now[0], now[1]);
}

function toSocketAddress(hostname: string, port: number): SocketAddress | null {
  // socketAddress() already puts the address in canonical form.
  const r = socketAddress(hostname, port);
  return r.ok ? r.address : null;
}
