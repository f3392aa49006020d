// What the protocol core tells its driver: the Action union (send, timers, clock control, status,
// events) and ntpd 4.2.x's peer and system event codes as ntpq decodes them.

import type { NtpTime } from "./ntp_time.ts";

/** A UDP peer address as the core sees it (structurally the transport's SocketAddress). */
export interface PeerAddress {
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** The address in text form ("192.0.2.1", "2001:db8::1"). */
  address: string;
  /** The UDP port. */
  port: number;
}

/** Peer event codes (ntpd 4.2.x, shown by `ntpq -c as`). */
export const PeerEvent = {
  MOBIL: 1,
  DEMOBIL: 2,
  UNREACH: 3,
  REACH: 4,
  RESTART: 5,
  REPLY: 6,
  RATE: 7,
  DENY: 8,
  ARMED: 9,
  NEWPEER: 10,
  CLOCK: 11,
  AUTH: 12,
  POPCORN: 13,
  XLEAVE: 14,
  XERR: 15,
} as const;

/** System event codes (ntpd 4.2.x). */
export const SystemEvent = {
  UNSPEC: 0,
  NSET: 1,
  FSET: 2,
  SPIK: 3,
  FREQ: 4,
  SYNC: 5,
  SYSRESTART: 6,
  SYSFAULT: 7,
  NOPEER: 8,
  ARMED: 9,
  DISARMED: 10,
  LEAP: 11,
  CLOCKRESET: 12,
  KERN: 13,
  TAI: 14,
  LEAPVAL: 15,
} as const;

/** ntpq's names for peer events, indexed by code. */
export const PEER_EVENT_NAMES: readonly string[] = [
  "",
  "mobilize",
  "demobilize",
  "unreachable",
  "reachable",
  "restart",
  "no_reply",
  "rate_exceeded",
  "access_denied",
  "leap_armed",
  "sys_peer",
  "clock_event",
  "bad_auth",
  "popcorn",
  "interleave_mode",
  "interleave_error",
];

/** ntpq's names for system events, indexed by code. */
export const SYSTEM_EVENT_NAMES: readonly string[] = [
  "unspecified",
  "freq_not_set",
  "freq_set",
  "spike_detect",
  "freq_mode",
  "clock_sync",
  "restart",
  "panic_stop",
  "no_sys_peer",
  "leap_armed",
  "leap_disarmed",
  "leap_event",
  "clock_step",
  "kern",
  "TAI",
  "stale leapsecond values",
];

/** Send a datagram now. */
export interface SendAction {
  /** Discriminant of the {@link Action} union. */
  type: "send";
  /** Association that sends (0 for the system). */
  assocId: number;
  /** Where to send. */
  to: PeerAddress;
  /** The datagram's bytes. */
  data: Uint8Array;
  /**
   * TTL (IPv4) or hop limit (IPv6) for a datagram to a multicast group (`broadcast`,
   * `manycastclient`); absent: the socket's. Unicast datagrams never carry one.
   */
  ttl?: number;
}

/** Call `onTimer` when the system clock reads `at` (replaces any earlier request). */
export interface SetTimerAction {
  /** Discriminant of the {@link Action} union. */
  type: "setTimer";
  /** When to call `onTimer`, on the system clock. */
  at: NtpTime;
}

/** Step the clock by `offsetSec` (positive: forward). */
export interface StepClockAction {
  /** Discriminant of the {@link Action} union. */
  type: "stepClock";
  /** The step, seconds (positive: forward). */
  offsetSec: number;
}

/**
 * Set the clock's frequency correction (absolute, ppm, positive: run faster). Magnitudes above
 * 500 ppm are temporary slews that a Linux adapter realises with the tick length (ADJ_TICK).
 * `offsetSec`, when present, asks the clock itself to slew that offset (adjtime semantics: the
 * kernel slews it out at 500 ppm, replacing any such slew in progress).
 */
export interface AdjustClockAction {
  /** Discriminant of the {@link Action} union. */
  type: "adjustClock";
  /** The frequency correction, ppm (positive: run faster). */
  freqPpm: number;
  /** Without `kernelPll`: an adjtime-style slew the clock carries out by itself (see above). */
  offsetSec?: number;
  /** Estimated error, seconds, for the kernel's bookkeeping. */
  estErrorSec: number;
  /** Maximum error, seconds, for the kernel's bookkeeping. */
  maxErrorSec: number;
  /**
   * Kernel PLL mode (ntpd discipline with `enable kernel`): hand `offsetSec` to the kernel PLL
   * with this time constant; `freqPpm` is then the discipline's view, not to be written.
   */
  kernelPll?: { constant: number; fll: boolean };
  /**
   * With `kernelPll`: also switch the kernel's PPS discipline on (STA_PPSTIME | STA_PPSFREQ), so
   * that a PPS signal bound to the kernel (PPS_KC_BIND) steers phase and frequency; absent or
   * false switches it off with the same status write.
   */
  kernelPps?: boolean;
  /** Kernel leap bits to arm (0 none, 1 insert, 2 delete), written with the status. */
  leap?: number;
  /**
   * The discipline lets go of the clock (the driver is about to exit): leave it at `freqPpm`
   * with the nominal tick and no slew in progress, neither adjtime-style nor the kernel PLL's
   * residual. With `kernelPll` the kernel keeps its own frequency (the kernel PLL's).
   */
  release?: boolean;
}

/** The system's synchronisation status changed (for the clock's leap/sync bits and the server). */
export interface SetStatusAction {
  /** Discriminant of the {@link Action} union. */
  type: "setStatus";
  /** Whether the system is synchronised now. */
  synchronized: boolean;
  /** Leap indicator 0–3 (3: unsynchronised). */
  leap: number;
  /** System stratum 1–16 (16: unsynchronised). */
  stratum: number;
  /** Reference id as a big-endian 32-bit value. */
  refid: number;
}

/** An event for the log and the control protocol. */
export interface EventAction {
  /** Discriminant of the {@link Action} union. */
  type: "event";
  /** "peer" events carry the association id; "system" events carry 0. */
  scope: "peer" | "system";
  /** The association the event is about (0 for system events). */
  assocId: number;
  /** ntpd's peer or system event code (`PeerEvent`, `SystemEvent`). */
  code: number;
  /** Operator text as ntpd writes it, e.g. "synchronized to 192.0.2.1, stratum 2". */
  message: string;
}

/** A system-scope event action (association id 0). */
export function systemEvent(code: number, message: string): EventAction {
  return { type: "event", scope: "system", assocId: 0, code, message };
}

/** An association went away (pool member replaced, unreachable preemptable, KoD DENY). */
export interface DemobilizeAction {
  /** Discriminant of the {@link Action} union. */
  type: "demobilize";
  /** The association that went away. */
  assocId: number;
  /** Why, for the log. */
  reason: string;
}

/** The core was reset (after a step or panic): drivers drop cached state. */
export interface ResetAction {
  /** Discriminant of the {@link Action} union. */
  type: "reset";
  /** Why, for the log. */
  reason: string;
  /** True when the driver should exit (panic, or -q mode finished). */
  exit: boolean;
  /** The exit status when `exit` is true. */
  exitCode: number;
}

/**
 * A peer statistics record (ntpd's peerstats): one per accepted sample, with the association's
 * filter output after it.
 */
export interface PeerStatsRecord {
  /** Discriminant of the {@link StatsRecord} union. */
  kind: "peerstats";
  /** Local clock time of the sample. */
  at: NtpTime;
  /** The association's id. */
  assocId: number;
  /** The server's address. */
  address: PeerAddress;
  /**
   * High byte of the peer status word: configured 0x80, authentication enabled 0x40, authentic
   * 0x20, reachable 0x10, then the 3-bit selection code (0 reject ... 6 system peer).
   */
  statusByte: number;
  /** Filter offset (s). */
  offsetSec: number;
  /** Filter round-trip delay (s). */
  delaySec: number;
  /** Filter dispersion (s). */
  dispersionSec: number;
  /** Filter jitter (s). */
  jitterSec: number;
}

/** A clock discipline statistics record (ntpd's loopstats): one per clock update. */
export interface LoopStatsRecord {
  /** Discriminant of the {@link StatsRecord} union. */
  kind: "loopstats";
  /** Local clock time of the update. */
  at: NtpTime;
  /** The offset the discipline acted on (s). */
  offsetSec: number;
  /** Frequency correction after the update (ppm). */
  freqPpm: number;
  /** System (clock) jitter (s). */
  jitterSec: number;
  /** Frequency wander (ppm). */
  wanderPpm: number;
  /** Loop time constant / system poll exponent (log2 s). */
  pollLog2: number;
}

/** A raw timestamp statistics record (ntpd's rawstats): one per valid reply. */
export interface RawStatsRecord {
  /** Discriminant of the {@link StatsRecord} union. */
  kind: "rawstats";
  /** Local clock time the reply arrived (T4). */
  at: NtpTime;
  /** The association's id. */
  assocId: number;
  /** The server's address. */
  source: PeerAddress;
  /** The local address the reply came to, when known. */
  destination: string | null;
  /** Origin (T1), receive (T2), transmit (T3) and destination (T4) times of the exchange. */
  t1: NtpTime;
  /** Receive time at the server (T2). */
  t2: NtpTime;
  /** Transmit time at the server (T3). */
  t3: NtpTime;
  /** Arrival time here (T4). */
  t4: NtpTime;
  /** The reply's leap indicator. */
  leap: number;
  /** The reply's version. */
  version: number;
  /** The reply's mode. */
  mode: number;
  /** The reply's stratum. */
  stratum: number;
  /** The reply's poll exponent (log2 s). */
  pollLog2: number;
  /** The reply's precision exponent (log2 s). */
  precisionLog2: number;
  /** The reply's root delay (s). */
  rootDelaySec: number;
  /** The reply's root dispersion (s). */
  rootDispersionSec: number;
  /** Reference id, big-endian 32-bit. */
  refid: number;
}

/** A statistics record the core produced. */
export type StatsRecord = PeerStatsRecord | LoopStatsRecord | RawStatsRecord;

/** Append a statistics record (the daemon and the simulator hand it to a statistics writer). */
export interface StatsAction {
  /** Discriminant of the {@link Action} union. */
  type: "stats";
  /** The line's content: a peerstats, loopstats or rawstats record. */
  record: StatsRecord;
}

/** Everything the core asks its driver to do. */
export type Action =
  | SendAction
  | SetTimerAction
  | StepClockAction
  | AdjustClockAction
  | SetStatusAction
  | EventAction
  | DemobilizeAction
  | ResetAction
  | StatsAction;
