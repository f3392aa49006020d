// The Transport interface: datagram I/O for the daemon, shared by the FFI UDP socket, the
// Deno.listenDatagram fallback and the in-memory transport used by tests and the simulator.

import type { IpWords } from "../proto/ip.ts";
import type { NtpTime } from "../proto/ntp_time.ts";
import type { ReplyFinalizer } from "../proto/packet_path.ts";

export type { ReplyFinalizer } from "../proto/packet_path.ts";

/** A UDP endpoint. IPv6 addresses are written without brackets. */
export interface SocketAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

/**
 * One received datagram. Transports may reuse this object and its buffer between calls:
 * it is valid only during the handler call that receives it.
 */
export interface ReceivedDatagram {
  /** The datagram's bytes. */
  readonly data: Uint8Array;
  /** The sender. */
  readonly peer: SocketAddress;
  /** Receive time: the kernel timestamp when `rxKernel`, else a clock read after receipt. */
  readonly rxTime: NtpTime;
  /** True when `rxTime` came from the kernel (SO_TIMESTAMPNS). */
  readonly rxKernel: boolean;
  /** `rxTime` as Unix seconds and nanoseconds: the same reading, free of bigint work. */
  readonly rxUnixSec: number;
  /** Nanoseconds within `rxUnixSec` (0–999 999 999). */
  readonly rxUnixNsec: number;
  /**
   * Optional: writes the sender's address into `out` without building `peer` (no allocation)
   * and returns the sender's port, or −1 when the address is not an IP one. Transports that
   * decode `peer` lazily provide it for the packet path's per-datagram checks.
   */
  readPeer?(out: IpWords): number;
}

/**
 * Where a handler writes its reply to a received datagram. The buffer is at least as long as
 * the request; set `length` to reply (0: no reply).
 */
export interface ReplySlot {
  readonly buffer: Uint8Array;
  /** A DataView over exactly `buffer` (transports keep one per slot: no allocation per reply). */
  readonly view: DataView;
  /** Bytes to send (0 means no reply). */
  length: number;
  /**
   * When true the transport writes the current time into bytes 40–47 (the NTP transmit
   * timestamp) immediately before sending.
   */
  stampTransmit: boolean;
  /**
   * The reply's last step, or null (the transport resets it before each handler call): run
   * after the transmit stamp is written and just before sending, e.g. to sign the reply with a
   * MAC that must cover the final transmit timestamp. It fills bytes in place; the length stays.
   */
  finalize: ReplyFinalizer | null;
}

/** When a datagram left: one report of {@link Transport.sendRequest}. */
export interface TransmitTimestamp {
  /**
   * The transmit time. A kernel timestamp is a reading of the system clock (like a kernel
   * receive timestamp); otherwise it is the transport's clock read just before the send call.
   */
  readonly time: NtpTime;
  /** True when `time` is the kernel's software transmit timestamp (SO_TIMESTAMPING). */
  readonly kernel: boolean;
}

/**
 * Receives the transmit timestamps of one request: first the clock read just before the send
 * call (`kernel` false, during the call), then, when the socket gives one, the kernel's (possibly
 * later, but before any datagram received after it is handed to the serve handler).
 */
export type TransmitHandler = (t: TransmitTimestamp) => void;

/** Called for every received datagram. */
export type DatagramHandler = (datagram: ReceivedDatagram, reply: ReplySlot) => void;

/** Counters every transport keeps. */
export interface TransportStats {
  received: number;
  sent: number;
  sendErrors: number;
  /** Datagrams received without a kernel timestamp while kernel timestamps were requested. */
  noKernelTimestamp: number;
  /** Datagrams truncated because they were larger than the receive buffer. */
  truncated: number;
}

/** A bound datagram socket. */
export interface Transport {
  /** The bound local address (with the real port when 0 was asked). */
  readonly localAddress: SocketAddress;
  /** True when received datagrams carry kernel timestamps. */
  readonly kernelTimestamps: boolean;
  /** Receives until closed, passing each datagram to `handler`. Resolves after `close()`. */
  serve(handler: DatagramHandler): Promise<void>;
  /** True when {@link sendRequest} reports kernel transmit timestamps. */
  readonly txTimestamps: boolean;
  /**
   * Sends one datagram (stampTransmit and finalize as in ReplySlot; `data` itself is left
   * unchanged when either is used).
   */
  send(
    data: Uint8Array,
    to: SocketAddress,
    stampTransmit?: boolean,
    finalize?: ReplyFinalizer | null,
  ): void;
  /**
   * Sends one client request as is and reports when it left (see {@link TransmitHandler}): the
   * measured transmit time, not the request's own transmit timestamp, is what the exchange's
   * offset and delay are computed from. False when it could not be sent (counted in stats).
   */
  sendRequest(data: Uint8Array, to: SocketAddress, onTransmit: TransmitHandler): boolean;
  /** Current counters. */
  stats(): TransportStats;
  /** Stops serving and releases the socket. */
  close(): void;
}
