// In-memory datagram network for unit tests and the simulator: transports exchange datagrams
// through a queue the caller drives (`deliver`/`flush`); no real timers, fully deterministic.

import { MinHeap } from "../proto/min_heap.ts";
import { addSec, type NtpTime, toUnix, writeTimestamp } from "../proto/ntp_time.ts";
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
import { formatSocketAddress, parseSocketAddress, socketAddress } from "./socket_address.ts";

/** A datagram in flight, as the delay hook sees it. */
export interface MemoryPacket {
  readonly from: SocketAddress;
  readonly to: SocketAddress;
  readonly data: Uint8Array;
  /** Network time when it was sent. */
  readonly sentAt: NtpTime;
}

/**
 * One-way delay in seconds for a datagram, or null to drop it (loss). Called once per datagram
 * at send time, so a seeded random generator inside keeps runs reproducible.
 */
export type DelayHook = (packet: MemoryPacket) => number | null;

/** Options of a `MemoryNetwork`. */
export interface MemoryNetworkOptions {
  /** Network time at the start (default 2024-01-01T00:00:00Z as an NTP time). */
  startTime?: NtpTime;
  /** Delay and loss (default: no delay, no loss). */
  delay?: DelayHook;
  /** Datagrams a bound transport holds while it is not serving (default 1024). */
  inboxLimit?: number;
}

/** Options of one `MemoryTransport`. */
export interface MemoryTransportOptions {
  /** The host's clock, for receive times and transmit stamps (default: network time). */
  clock?: () => NtpTime;
  /** Report receive times as kernel timestamps (default true: they are exact arrival times). */
  kernelTimestamps?: boolean;
  /** Reply buffer size (default 2048, grown for larger requests). */
  bufferBytes?: number;
}

/** Counters of a `MemoryNetwork`. */
export interface MemoryNetworkStats {
  /** Datagrams handed to a handler. */
  delivered: number;
  /** Datagrams the delay hook dropped, or that overflowed an inbox. */
  dropped: number;
  /** Datagrams for an address nobody has bound. */
  undeliverable: number;
}

interface Flight {
  packet: MemoryPacket;
  at: NtpTime;
  seq: number;
}

/** 2024-01-01T00:00:00Z in NTP seconds, 32.32 fixed point. */
const DEFAULT_START: NtpTime = 3_913_056_000n << 32n;

/**
 * An in-memory network. Transports opened on it exchange datagrams in order of arrival time
 * (ties in order of sending); the caller moves time forward with `deliver(until)` or delivers
 * everything with `flush()`. Handlers run synchronously inside those calls.
 */
export class MemoryNetwork {
  readonly #delay: DelayHook | null;
  readonly #inboxLimit: number;
  readonly #bound = new Map<string, MemoryTransport>();
  readonly #heap = new MinHeap<Flight>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #now: NtpTime;
  #seq = 0;
  #nextPort = 49152;
  #delivered = 0;
  #dropped = 0;
  #undeliverable = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.#now = options.startTime ?? DEFAULT_START;
    this.#delay = options.delay ?? null;
    this.#inboxLimit = options.inboxLimit ?? 1024;
  }

  /** Current network time. */
  get now(): NtpTime {
    return this.#now;
  }

  /**
   * Binds a transport to `address` ("10.0.0.1:123", "[fd00::1]:123", ...). Port 0 picks a
   * free port. Throws when the address is invalid or already bound (a test setup error).
   */
  open(address: string | SocketAddress, options: MemoryTransportOptions = {}): MemoryTransport {
    const r = typeof address === "string"
      ? parseSocketAddress(address, 0)
      : socketAddress(address.address, address.port);
    if (!r.ok) throw new TypeError(`MemoryNetwork.open: ${r.reason}`);
    let local = r.address;
    if (local.port === 0) {
      for (let tries = 0; tries < 16384; tries++) {
        const port = this.#nextPort;
        this.#nextPort = port >= 65535 ? 49152 : port + 1;
        if (!this.#bound.has(formatSocketAddress({ ...local, port }))) {
          local = { ...local, port };
          break;
        }
      }
    }
    const key = formatSocketAddress(local);
    if (local.port === 0 || this.#bound.has(key)) {
      throw new Error(`MemoryNetwork.open: ${key} is already in use`);
    }
    const t = new MemoryTransport(this, local, options);
    this.#bound.set(key, t);
    return t;
  }

  /** Datagrams in flight. */
  pending(): number {
    return this.#heap.size;
  }

  /** Arrival time of the next datagram in flight, or null when none. */
  nextDeliveryTime(): NtpTime | null {
    return this.#heap.peek()?.at ?? null;
  }

  /**
   * Delivers, in order, every datagram arriving at or before `until` (replies included when
   * they also arrive by then), then sets the network time to `until` (time never goes back).
   * Returns the number delivered; stops after `maxDeliveries`.
   */
  deliver(until: NtpTime, maxDeliveries = 1_000_000): number {
    let count = 0;
    while (count < maxDeliveries && this.#heap.size > 0 && this.#heap.peek()!.at <= until) {
      if (this.#deliverNext()) count++;
    }
    if (until > this.#now) this.#now = until;
    return count;
  }

  /**
   * Delivers everything in flight, including replies sent meanwhile, moving network time to
   * each arrival. Stops after `maxDeliveries` (guards against endless ping-pong). Returns the
   * number delivered.
   */
  flush(maxDeliveries = 100_000): number {
    let count = 0;
    while (count < maxDeliveries && this.#heap.size > 0) {
      if (this.#deliverNext()) count++;
    }
    return count;
  }

  /** Current counters. */
  stats(): MemoryNetworkStats {
    return {
      delivered: this.#delivered,
      dropped: this.#dropped,
      undeliverable: this.#undeliverable,
    };
  }

  /** Called by transports: puts a datagram in flight (already copied and stamped). */
  transmit(packet: MemoryPacket): void {
    const delaySec = this.#delay === null ? 0 : this.#delay(packet);
    if (delaySec === null || !Number.isFinite(delaySec)) {
      this.#dropped++;
      return;
    }
    this.#heap.push({ packet, at: addSec(packet.sentAt, Math.max(0, delaySec)), seq: this.#seq++ });
  }

  /** Called by transports: requeues held datagrams for delivery now. */
  requeue(packets: readonly MemoryPacket[]): void {
    for (const packet of packets) this.#heap.push({ packet, at: this.#now, seq: this.#seq++ });
  }

  /** Called by transports when they close. */
  unbind(t: MemoryTransport): void {
    const key = formatSocketAddress(t.localAddress);
    if (this.#bound.get(key) === t) this.#bound.delete(key);
  }

  /** Delivers the earliest datagram; true when a handler received it. */
  #deliverNext(): boolean {
    const f = this.#heap.pop()!;
    if (f.at > this.#now) this.#now = f.at;
    const to = this.#bound.get(formatSocketAddress(f.packet.to));
    if (to === undefined) {
      this.#undeliverable++;
      return false;
    }
    const outcome = to.receive(f.packet);
    if (outcome === "held") return false;
    if (outcome === "dropped") {
      this.#dropped++;
      return false;
    }
    this.#delivered++;
    return true;
  }

  /** Inbox limit per transport. */
  get inboxLimit(): number {
    return this.#inboxLimit;
  }
}

/** A `Transport` bound to an address of a `MemoryNetwork` (open it with `network.open`). */
export class MemoryTransport implements Transport {
  /** The bound address. */
  readonly localAddress: SocketAddress;
  /** As configured (default true). */
  readonly kernelTimestamps: boolean;
  /** Same as `kernelTimestamps`: request send times count as kernel ones with it. */
  get txTimestamps(): boolean {
    return this.kernelTimestamps;
  }

  readonly #network: MemoryNetwork;
  readonly #clock: () => NtpTime;
  readonly #bufferBytes: number;
  #handler: DatagramHandler | null = null;
  #inbox: MemoryPacket[] = [];
  #resolve: (() => void) | null = null;
  #closed = false;
  #received = 0;
  #sent = 0;
  #sendErrors = 0;

  /** Use `MemoryNetwork.open` instead. */
  constructor(network: MemoryNetwork, local: SocketAddress, options: MemoryTransportOptions) {
    this.#network = network;
    this.localAddress = local;
    this.kernelTimestamps = options.kernelTimestamps ?? true;
    this.#clock = options.clock ?? (() => network.now);
    this.#bufferBytes = options.bufferBytes ?? 2048;
  }

  /** Handles datagrams as the network delivers them; resolves after `close()`. */
  serve(handler: DatagramHandler): Promise<void> {
    if (this.#handler !== null) {
      return Promise.reject(new Error("MemoryTransport: serve() is already running"));
    }
    if (this.#closed) return Promise.resolve();
    this.#handler = handler;
    if (this.#inbox.length > 0) {
      this.#network.requeue(this.#inbox);
      this.#inbox = [];
    }
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /**
   * Puts a copy of `data` in flight to `to` (stamped with this host's clock when asked, then
   * finalized).
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
    const r = socketAddress(to.address, to.port);
    if (!r.ok || r.address.family !== this.localAddress.family) {
      this.#sendErrors++;
      return;
    }
    const copy = data.slice();
    if (stampTransmit && copy.length >= 48) {
      writeTimestamp(new DataView(copy.buffer), 40, this.#clock());
    }
    finalize?.finalize(copy, copy.length);
    this.#sent++;
    this.#network.transmit({
      from: this.localAddress,
      to: r.address,
      data: copy,
      sentAt: this.#network.now,
    });
  }

  /**
   * Sends a client request and reports the host's clock at once, as a kernel timestamp when
   * receive times count as kernel ones (`kernelTimestamps`), like a socket with both.
   */
  sendRequest(data: Uint8Array, to: SocketAddress, onTransmit: TransmitHandler): boolean {
    const before = this.#sendErrors;
    const at = this.#clock();
    this.send(data, to, false);
    if (this.#sendErrors !== before) return false;
    onTransmit({ time: at, kernel: this.kernelTimestamps });
    return true;
  }

  /** Called by the network: hands a datagram to the handler (or holds it while not serving). */
  receive(packet: MemoryPacket): "delivered" | "held" | "dropped" {
    const handler = this.#handler;
    if (handler === null) {
      if (this.#inbox.length >= this.#network.inboxLimit) return "dropped";
      this.#inbox.push(packet);
      return "held";
    }
    this.#received++;
    const rxTime = this.#clock();
    const rxUnix = toUnix(rxTime);
    const datagram: ReceivedDatagram = {
      data: packet.data,
      peer: packet.from,
      rxTime,
      rxKernel: this.kernelTimestamps,
      rxUnixSec: Number(rxUnix.sec),
      rxUnixNsec: rxUnix.nsec,
    };
    const buffer = new Uint8Array(Math.max(this.#bufferBytes, packet.data.length));
    const reply: ReplySlot = {
      buffer,
      view: new DataView(buffer.buffer),
      length: 0,
      stampTransmit: false,
      finalize: null,
    };
    handler(datagram, reply);
    const length = reply.length;
    if (length > 0) {
      if (!(length <= reply.buffer.length) || !Number.isInteger(length)) {
        this.#sendErrors++;
      } else {
        this.send(
          reply.buffer.subarray(0, length),
          packet.from,
          reply.stampTransmit,
          reply.finalize,
        );
      }
    }
    return "delivered";
  }

  /** Current counters. */
  stats(): TransportStats {
    return {
      received: this.#received,
      sent: this.#sent,
      sendErrors: this.#sendErrors,
      noKernelTimestamp: 0,
      truncated: 0,
    };
  }

  /** Unbinds from the network and makes `serve()` resolve. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler = null;
    this.#inbox = [];
    this.#network.unbind(this);
    this.#resolve?.();
    this.#resolve = null;
  }
}
