// The daemon's point-in-time view: what the status file shows and tests read (and, later, the
// control protocol).

import type { SocketAddress } from "../net/transport.ts";
import type { DiscardSettings, MruStats } from "../proto/access/mru.ts";
import type { SystemState } from "../proto/server.ts";
import type { SysStatsSnapshot } from "../proto/sys_stats.ts";
import type { SystemSnapshot } from "../proto/system.ts";
import type { VirtualCorrection } from "../clock/virtual_clock.ts";
import type { TimekeeperCounters } from "./timekeeper.ts";
import type { LoopLagSummary } from "./loop_lag.ts";
import type { ServerThreadStatus } from "./server_workers.ts";
import type { NtsKeStatus } from "./daemon_nts.ts";
import type { NtsNtpServerStatus } from "./nts_ntp_server.ts";

/** The MRU list as the status file shows it. */
export interface MruStatus extends MruStats {
  /** True while packets are recorded (`enable monitor`, or restrict uses limited/kod). */
  monitoring: boolean;
  /** The list's memory, bytes (fixed: allocated at start). */
  bytes: number;
  /** The `discard` settings in force. */
  discard: DiscardSettings;
}

/** A point-in-time view for tests, the status file and the control protocol. */
export interface DaemonStatus {
  /** What replies carry now. */
  state: SystemState;
  /** ntpd's sysstats counters, exact, summed over every thread. */
  sysstats: SysStatsSnapshot;
  /** Server replies sent by every thread (kisses are in sysstats). */
  server: { replied: number; cryptoNak: number };
  /** The MRU list (monitoring and rate control). */
  mru: MruStatus;
  /** Per server thread (0 = main thread); only the main thread without `--server-threads`. */
  serverThreads: ServerThreadStatus[];
  /** Sockets that answer. */
  listening: SocketAddress[];
  kernelTimestamps: boolean[];
  /** `interface drop` sockets: opened, everything read is discarded. */
  dropping: SocketAddress[];
  /** Datagrams discarded on `interface drop` sockets. */
  interfaceDropped: number;
  /**
   * Group sockets (`multicastclient`, `manycastserver`) and what they dropped: datagrams of
   * other modes than 5 and 3, and manycast requests while not answering; sends to a group whose
   * TTL could not be set. Null when no broadcast or multicast line is configured.
   */
  multicast?: { groups: SocketAddress[]; groupDropped: number; ttlErrors: number } | null;
  driftPpm: number | null;
  /** The core's view, or null when there are no network sources. */
  system: SystemSnapshot | null;
  /** Observe mode: why, and the correction that would have been applied. */
  observe: { reason: string; correction: VirtualCorrection } | null;
  /** Server time minus system clock (s) by the core's estimate; null without a core. */
  systemClockOffsetSec: number | null;
  timekeeper: TimekeeperCounters | null;
  /** Where the served time comes from. */
  source: "network" | "refclock" | "none";
  /** Sources and the association ids they mobilised. */
  sources: { kind: string; address: string; ids: number[] }[];
  /** The event-loop lag probe's windows (`--loop-lag-ms`), or null when it is off. */
  eventLoop: LoopLagSummary | null;
  /** NTS-KE server and client counters; null or absent when NTS is not configured. */
  nts?: NtsKeStatus | null;
  /** `nts enable`: the cookie master keys; null or absent when NTS service is off. */
  ntsCookieKeys?: NtsNtpServerStatus | null;
}
