// The daemon's side of mode 7 (`enable mode7`): the Mode7Server over the control protocol's
// view (ControlHost), with what only mode 7 shows: the `enable` flags for sysinfo and the
// association table's counters for memstats. Answers go back to the sender; nothing else.

import type { Clock } from "../clock/clock.ts";
import type { ControlView } from "../proto/control/control_view.ts";
import { type Mode7Counters, Mode7Server } from "../proto/control/mode7_server.ts";
import { SysFlag } from "../proto/control/mode7.ts";
import type { PacketIn } from "../proto/packet_path.ts";
import type { SystemSnapshot } from "../proto/system.ts";

/** The `enable`/`disable` flags sysinfo reports. */
export interface Mode7Flags {
  auth: boolean;
  monitor: boolean;
  ntp: boolean;
  kernel: boolean;
  stats: boolean;
}

/** What the host reads from the daemon. */
export interface Mode7HostDeps {
  /** The clock replies are served on. */
  clock: Clock;
  /** The flags now. */
  flags: () => Mode7Flags;
  /** The core's snapshot (null without network sources). */
  snapshot: () => SystemSnapshot | null;
  /** Datagrams handed to the core so far. */
  coreDatagrams: () => number;
}

/** The sysinfo flag bits of `f`. */
export function sysInfoFlags(f: Mode7Flags): number {
  return (f.auth ? SysFlag.AUTHENTICATE : 0) | (f.monitor ? SysFlag.MONITOR : 0) |
    (f.ntp ? SysFlag.NTP : 0) | (f.kernel ? SysFlag.KERNEL : 0) | (f.stats ? SysFlag.FILEGEN : 0);
}

/** The daemon's mode 7 server. */
export class Mode7Host {
  readonly #server: Mode7Server;
  readonly #clock: Clock;

  /** A host answering from `view` (the daemon's ControlHost). */
  constructor(view: ControlView, deps: Mode7HostDeps) {
    this.#clock = deps.clock;
    this.#server = new Mode7Server({
      view,
      extras: {
        systemFlags: () => sysInfoFlags(deps.flags()),
        memory: () => {
          const snap = deps.snapshot();
          const mobilized = snap?.mobilized ?? 0;
          return {
            findPeerCalls: deps.coreDatagrams(),
            allocations: mobilized,
            demobilizations: Math.max(0, mobilized - (snap?.associations.length ?? 0)),
          };
        },
      },
    });
  }

  /** Answers a mode 7 datagram the packet path forwarded; `send` sends back to its sender. */
  handle(p: PacketIn, _restrictFlags: number, send: (data: Uint8Array) => void): void {
    const a = this.#server.handle(p, this.#clock.now());
    for (const d of a.replies) send(d);
  }

  /** The mode 7 server's counters. */
  counters(): Mode7Counters {
    return this.#server.counters();
  }
}
