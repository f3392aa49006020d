// Broadcast and multicast settings of a transport's socket (ffi/multicast.ts): joining a group,
// the TTL of what is sent to a group or a broadcast address, SO_BROADCAST, and keeping a
// wildcard socket out of groups other sockets joined. Only the FFI UdpTransport has a socket to
// set; the Deno.listenDatagram fallback cannot do any of this (the caller says so).

import {
  interfaceIndex,
  joinGroup4,
  joinGroup6,
  setBroadcast,
  setMulticastAll,
  setMulticastInterface,
  setMulticastLoop,
  setMulticastTtl,
} from "../../ffi/multicast.ts";
import { isGroupAddress, parseIp } from "../proto/ip.ts";
import type { SocketAddress, Transport } from "./transport.ts";
import { UdpTransport } from "./udp_transport.ts";

/** Why a transport cannot take multicast settings, or null when it can. */
export function multicastUnsupported(t: Transport): string | null {
  return t instanceof UdpTransport && t.fd >= 0
    ? null
    : "the socket is not an FFI socket (Deno.listenDatagram fallback): no multicast options";
}

function fdOf(t: Transport): number {
  const why = multicastUnsupported(t);
  if (why !== null) throw new Error(why);
  return (t as UdpTransport).fd;
}

/** The interface index of a name, or 0 (any) for null. Throws when the name is unknown. */
export function interfaceIndexOf(name: string | null): number {
  if (name === null || name === "") return 0;
  const i = interfaceIndex(name);
  if (i === 0) throw new Error(`no interface named "${name}"`);
  return i;
}

/**
 * Joins `group` on the transport's socket (on interface `ifIndex`, 0: the one the group's route
 * names). Throws an Error (OsError from the kernel) when it cannot.
 */
export function joinGroup(t: Transport, group: string, ifIndex = 0): void {
  const p = parseIp(group);
  if (!p.ok) throw new Error(`"${group}" is not an address: ${p.reason}`);
  if (!isGroupAddress(group)) throw new Error(`${group} is not a multicast group`);
  const fd = fdOf(t);
  if (p.ip.family !== t.localAddress.family) {
    throw new Error(`${group} is not of the socket's family (IPv${t.localAddress.family})`);
  }
  if (p.ip.family === 4) joinGroup4(fd, p.ip.bytes, ifIndex);
  else joinGroup6(fd, p.ip.bytes, ifIndex);
}

/**
 * Keeps a wildcard socket out of the groups other sockets joined (Linux delivers them to every
 * socket bound to the port unless told otherwise). False when the kernel has no such option.
 */
export function receiveOnlyOwnGroups(t: Transport): boolean {
  return setMulticastAll(fdOf(t), t.localAddress.family, false);
}

/** Lets the socket send to broadcast addresses (IPv4). */
export function allowBroadcast(t: Transport): void {
  if (t.localAddress.family === 4) setBroadcast(fdOf(t), true);
}

/**
 * Sets the TTL (IPv4) or hop limit (IPv6) the next datagrams to group `to` leave with (the
 * socket's multicast setting: replies, which are unicast, keep theirs). `ifIndex` (when not 0)
 * is the interface group datagrams leave from; `loop` whether the host's own sockets see them.
 * Nothing for a broadcast address: broadcast is never routed, its TTL does not matter.
 */
export function setSendTtl(
  t: Transport,
  to: SocketAddress,
  ttl: number,
  opts: { ifIndex?: number; loop?: boolean } = {},
): void {
  if (!isGroupAddress(to.address)) return;
  const fd = fdOf(t);
  const family = t.localAddress.family;
  setMulticastTtl(fd, family, ttl);
  if (opts.ifIndex !== undefined && opts.ifIndex !== 0) {
    setMulticastInterface(fd, family, opts.ifIndex);
  }
  if (opts.loop !== undefined) setMulticastLoop(fd, family, opts.loop);
}
