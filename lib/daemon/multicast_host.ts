// The daemon's side of broadcast, multicast and manycast (ntp.conf `broadcast`,
// `broadcastclient`, `multicastclient`, `manycastserver`, `manycastclient`, `ttl`,
// `broadcastdelay`): the group sockets (bound to the group, joined, on the NTP port), the
// settings the listen sockets need (SO_BROADCAST, no deliveries of other sockets' groups), the
// policy for manycast requests, and the core's broadcast and manycast associations.

import type { Logger } from "../log/logger.ts";
import {
  allowBroadcast,
  interfaceIndexOf,
  joinGroup,
  multicastUnsupported,
  receiveOnlyOwnGroups,
} from "../net/multicast.ts";
import { formatSocketAddress } from "../net/socket_address.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";
import type { AssociationOptions } from "../proto/association.ts";
import { isGroupAddress } from "../proto/ip.ts";
import type { PacketRouter } from "./packet_router.ts";
import type { Timekeeper } from "./timekeeper.ts";
import type { HostAddress, ListenBind } from "./listen_plan.ts";
import { repeat, type Timers } from "./timers.ts";

/** One `broadcast` line. */
export interface BroadcastLine {
  /** A broadcast address or a group (literal). */
  address: string;
  /** TTL / hop limit (null: ntpd's 127 for a group). */
  ttl: number | null;
  key: number | null;
  /** Poll exponent of the sends (the line's minpoll). */
  minpoll: number;
  version: number;
}

/** One `manycastclient` line. */
export interface ManycastLine {
  /** The group (literal). */
  address: string;
  /** The line's ttl: the largest TTL of the search (null: the whole `ttl` list). */
  ttl: number | null;
  /** Poll range, key and the like of the search and of the servers it finds. */
  options: AssociationOptions;
}

/** Broadcast, multicast and manycast settings. */
export interface BroadcastSettings {
  /** `broadcast` lines. */
  servers: BroadcastLine[];
  /** `broadcastclient` (or `enable bclient`): take mode 5 from servers on our networks. */
  client: boolean;
  /** `broadcastclient novolley`: no calibration exchange. */
  novolley: boolean;
  /** `broadcastdelay` (s), or null for the default. */
  delaySec: number | null;
  /** `multicastclient` groups (joined; implies taking mode 5). */
  multicastGroups: string[];
  /** `manycastserver` groups: joined, and manycast requests on them answered while synchronised. */
  manycastServerGroups: string[];
  /** `manycastclient` lines. */
  manycastClients: ManycastLine[];
  /** The `ttl` list (empty: ntpd's default ring). */
  ttlList: number[];
}

/** ntpd's TTL for broadcast and multicast packets when a line names none. */
export const DEFAULT_BROADCAST_TTL = 127;

/** True when anything here needs the core to run (even without servers). */
export function needsCore(b: BroadcastSettings | undefined): boolean {
  if (b === undefined) return false;
  return b.client || b.multicastGroups.length > 0 || b.servers.length > 0 ||
    b.manycastClients.length > 0;
}

/** Groups that need a socket of their own, without duplicates. */
export function groupsToJoin(b: BroadcastSettings | undefined): string[] {
  if (b === undefined) return [];
  return [...new Set([...b.multicastGroups, ...b.manycastServerGroups])];
}

/** True when mode 5 packets are to be taken (`broadcastclient` or `multicastclient`). */
export function takesBroadcasts(b: BroadcastSettings | undefined): boolean {
  return b !== undefined && (b.client || b.multicastGroups.length > 0);
}

/** What the host needs from the daemon. */
export interface MulticastHostDeps {
  log: Logger;
  /** Opens a socket bound to `address` with SO_REUSEADDR (beside the wildcard on that port). */
  openGroupTransport(address: SocketAddress): Promise<Transport>;
  /** The host's addresses and their interfaces (the groups are joined on each interface). */
  hostAddresses(): HostAddress[];
  timers: Timers;
}

/** Seconds between looks for interfaces that appeared since (a group is joined on them). */
export const REJOIN_SEC = 30;

/** One group socket and the interfaces its group is joined on. */
interface GroupSocket {
  group: string;
  transport: Transport;
  /** Interface indexes joined (0: the one the group's route names). */
  joined: Set<number>;
}

/** Group sockets and listen socket settings. */
export class MulticastHost {
  readonly #b: BroadcastSettings;
  readonly #deps: MulticastHostDeps;
  #groups: GroupSocket[] = [];
  #stopRejoin: (() => void) | null = null;

  /** Prepares the host; nothing is opened before {@link open}. */
  constructor(settings: BroadcastSettings, deps: MulticastHostDeps) {
    this.#b = settings;
    this.#deps = deps;
  }

  /** True when group sockets will be opened: the listen sockets then need SO_REUSEADDR. */
  get needsGroupSockets(): boolean {
    return groupsToJoin(this.#b).length > 0;
  }

  /** The group sockets opened. */
  get groups(): readonly Transport[] {
    return this.#groups.map((g) => g.transport);
  }

  /**
   * Joins `g`'s group on every interface with an address of its family (but loopback) that it
   * has not joined yet: datagrams to a group arrive only on the interfaces that joined it, and
   * the route alone names one. Falls back to the route's interface when there is none. Returns
   * the interfaces newly joined; errors per interface are logged once, with `quiet` not at all.
   */
  #join(g: GroupSocket, quiet: boolean): string[] {
    const family = g.transport.localAddress.family;
    const names = new Set<string>();
    for (const h of this.#deps.hostAddresses()) {
      const name = h.name.replace(/:.*$/, ""); // an alias is its interface
      if (h.family === family && name !== "lo") names.add(name);
    }
    const joined: string[] = [];
    const failures: string[] = [];
    for (const name of names) {
      let index: number;
      try {
        index = interfaceIndexOf(name);
      } catch {
        continue;
      }
      if (g.joined.has(index)) continue;
      try {
        joinGroup(g.transport, g.group, index);
        g.joined.add(index);
        joined.push(name);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
    if (g.joined.size === 0 && names.size === 0) {
      try {
        joinGroup(g.transport, g.group, 0);
        g.joined.add(0);
        joined.push("(route)");
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (!quiet && failures.length > 0) {
      this.#deps.log.warn(`multicast group ${g.group}: cannot join on ${failures.join("; ")}`);
    }
    return joined;
  }

  /**
   * After the listen sockets are open: keeps them out of the groups (their datagrams come on
   * the group sockets), lets IPv4 ones send to broadcast addresses when a `broadcast` line
   * names one, opens and joins the group sockets on `port` and adds them to the router, and
   * answers manycast requests on `manycastserver` groups while `synchronized()`. Every failure
   * is logged with what it means, never thrown.
   */
  async open(router: PacketRouter, port: number, synchronized: () => boolean): Promise<void> {
    const log = this.#deps.log;
    const b = this.#b;
    const groups = groupsToJoin(b);
    const broadcast4 = b.servers.some((s) =>
      !s.address.includes(":") && !isGroupAddress(s.address)
    );
    router.transports.forEach((t, k) => {
      if (router.role(k) !== "listen" || multicastUnsupported(t) !== null) return;
      try {
        if (groups.length > 0) receiveOnlyOwnGroups(t);
        if (broadcast4) allowBroadcast(t);
      } catch (e) {
        log.warn(`${formatSocketAddress(t.localAddress)}: ${(e as Error).message}`);
      }
    });
    for (const group of groups) {
      const family = group.includes(":") ? 6 : 4;
      let t: Transport;
      try {
        t = await this.#deps.openGroupTransport({ family, address: group, port });
      } catch (e) {
        log.error(`multicast group ${group}: cannot open a socket: ${(e as Error).message}`);
        continue;
      }
      const why = multicastUnsupported(t);
      if (why !== null) {
        log.error(`multicast group ${group}: ${why}`);
        t.close();
        continue;
      }
      const g: GroupSocket = { group, transport: t, joined: new Set() };
      const on = this.#join(g, false);
      this.#groups.push(g);
      const index = router.addSocket(t, "group");
      const roles = [
        b.multicastGroups.includes(group) ? "multicast client" : null,
        b.manycastServerGroups.includes(group) ? "manycast server" : null,
      ].filter((r) => r !== null).join(", ");
      log.info(
        `Joined multicast group ${formatSocketAddress(t.localAddress)} (${roles}) on ${
          on.length > 0 ? on.join(", ") : "no interface yet"
        }`,
      );
      void router.serve(index);
    }
    if (this.#groups.length > 0) {
      this.#stopRejoin = repeat(this.#deps.timers, REJOIN_SEC, () => {
        for (const g of this.#groups) {
          const on = this.#join(g, true);
          if (on.length > 0) log.info(`Joined multicast group ${g.group} on ${on.join(", ")}`);
        }
      });
    }
    const manycast = new Set(b.manycastServerGroups);
    router.setManycastPolicy((group) => manycast.has(group) && synchronized());
  }

  /** Mobilises the `broadcast` and `manycastclient` lines in the core. */
  mobilize(tk: Timekeeper, port: number, maxclock: number): void {
    const b = this.#b;
    for (const s of b.servers) {
      const family = s.address.includes(":") ? 6 : 4;
      tk.addBroadcast({ family, address: s.address, port }, {
        pollLog2: s.minpoll,
        ttl: s.ttl ?? DEFAULT_BROADCAST_TTL,
        key: s.key,
        version: s.version,
      });
    }
    for (const m of b.manycastClients) {
      const family = m.address.includes(":") ? 6 : 4;
      tk.addManycastClient(
        { family, address: m.address, port },
        {
          ...(m.options.minpoll !== undefined ? { pollLog2: m.options.minpoll } : {}),
          ttlList: b.ttlList,
          maxTtl: m.ttl,
          key: m.options.key ?? null,
          ...(m.options.version !== undefined ? { version: m.options.version } : {}),
        },
        m.options,
        maxclock,
      );
    }
  }

  /** Stops looking for new interfaces (the router closes the group sockets with the rest). */
  stop(): void {
    this.#stopRejoin?.();
    this.#stopRejoin = null;
  }
}

/**
 * The host addresses whose interfaces a group may be joined on: those the listen plan serves (a
 * wildcard listening serves its whole family, addresses added later included). An interface the
 * `interface` rules ignore or drop then takes no group traffic either.
 */
export function joinableAddresses(
  binds: readonly ListenBind[],
  hosts: readonly HostAddress[],
): HostAddress[] {
  const listening = binds.filter((b) => b.action === "listen");
  const wild = new Set(listening.filter((b) => b.wildcard).map((b) => b.address.family));
  const served = new Set(listening.flatMap((b) => b.own));
  return hosts.filter((h) => wild.has(h.family) || served.has(h.address));
}

/** The core's `broadcastClient` option from the settings (null: mode 5 not taken). */
export function broadcastClientOption(
  b: BroadcastSettings | undefined,
): { delaySec?: number; novolley?: boolean } | null {
  if (!takesBroadcasts(b)) return null;
  return {
    ...(b!.delaySec !== null ? { delaySec: b!.delaySec } : {}),
    ...(b!.novolley ? { novolley: true } : {}),
  };
}
