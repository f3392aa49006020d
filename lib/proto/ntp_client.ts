// The client half of the protocol core as the library (mod.ts) offers it: NtpSystem behind a
// small documented interface, so that library users depend neither on the system's internals
// (loop filter, association objects, discipline state) nor on the daemon's options, which change
// with the daemon. The behaviour is NtpSystem's own (RFC 5905 §9–§12, ntpd 4.2.x selection).

import type { Action, PeerAddress } from "./events.ts";
import type { NtpTime } from "./ntp_time.ts";
import type { Rng } from "./rng.ts";
import type { SystemState } from "./server.ts";
import { NtpSystem } from "./system.ts";

/** Options of {@link createNtpClient}. */
export interface NtpClientOptions {
  /** Precision of the local clock, log2 seconds (-20 is about 1 µs). */
  precisionLog2: number;
  /** Random numbers for poll jitter: a `SeededRng` makes a run repeatable. */
  rng: Rng;
}

/** How one server is polled: the options of an ntp.conf `server` line that the core uses. */
export interface ServerOptions {
  /** Send a burst of packets when the server is first polled (ntp.conf `iburst`). */
  iburst?: boolean;
  /** Send a burst of packets at every poll while the server answers (ntp.conf `burst`). */
  burst?: boolean;
  /** Shortest poll interval, log2 seconds (ntp.conf `minpoll`, 4–17; default 6). */
  minpoll?: number;
  /** Longest poll interval, log2 seconds (ntp.conf `maxpoll`, 4–17; default 10). */
  maxpoll?: number;
  /** Prefer this server when several are equally good (ntp.conf `prefer`). */
  prefer?: boolean;
  /** Poll the server but never select it (ntp.conf `noselect`). */
  noselect?: boolean;
}

/** A datagram that arrived for the client, with the local time it was received. */
export interface ReceivedPacket {
  /** The datagram's bytes. */
  data: Uint8Array;
  /** Who sent it. */
  peer: PeerAddress;
  /** Local receive time (the kernel's timestamp when there is one). */
  rxTime: NtpTime;
}

/**
 * The client side of the core: polls servers, filters and selects their samples, and disciplines
 * the clock, all through returned {@link Action}s (it performs no I/O). Feed it every datagram and
 * call {@link NtpClient.onTimer} when a `setTimer` action asks; carry out the other actions.
 */
export interface NtpClient {
  /**
   * Adds a server to poll; returns its association id. Call {@link NtpClient.start} afterwards,
   * or apply the actions of the next timer.
   */
  addServer(address: PeerAddress, options: ServerOptions, now: NtpTime): number;
  /** Starts polling: the first requests and the first timer. */
  start(now: NtpTime): Action[];
  /** Handles a datagram received on the client's socket. */
  onPacket(packet: ReceivedPacket, now: NtpTime): Action[];
  /** Handles the timer a `setTimer` action asked for. */
  onTimer(now: NtpTime): Action[];
  /** The system variables a server answers with (leap, stratum, refid, root delay, ...). */
  snapshot(now: NtpTime): SystemState;
}

/** Creates the client side of the core (see {@link NtpClient}). */
export function createNtpClient(options: NtpClientOptions): NtpClient {
  return new NtpSystem({ precisionLog2: options.precisionLog2, rng: options.rng });
}
