// Broadcast and multicast socket options through libc FFI (Linux x86_64, glibc): SO_BROADCAST,
// group membership (struct ip_mreqn, struct ipv6_mreq), the multicast TTL / hop limit, the
// outgoing interface and loopback of sent datagrams. The struct layouts and option numbers were
// checked against gcc's sizeof/offsetof and the glibc headers on these machines (multicast_test.ts).

import { errno, openLibc, OsError } from "./libc.ts";
import { IPPROTO_IP, IPPROTO_IPV6, setSocketOption, socketLib, SOL_SOCKET } from "./socket.ts";

/** Allow sending to a broadcast address. */
export const SO_BROADCAST = 6;
/** Unicast TTL of IPv4 datagrams. */
export const IP_TTL = 2;
/** Outgoing interface of IPv4 multicast (struct ip_mreqn or struct in_addr). */
export const IP_MULTICAST_IF = 32;
/** TTL of IPv4 multicast datagrams (int, 0–255; the kernel's default is 1). */
export const IP_MULTICAST_TTL = 33;
/** Loop sent IPv4 multicast back to local sockets (int 0/1; default 1). */
export const IP_MULTICAST_LOOP = 34;
/** Join an IPv4 group (struct ip_mreqn). */
export const IP_ADD_MEMBERSHIP = 35;
/** Leave an IPv4 group (struct ip_mreqn). */
export const IP_DROP_MEMBERSHIP = 36;
/**
 * Deliver to this socket datagrams of every group any socket of the host joined (Linux default
 * 1). A wildcard socket must set it to 0, or it also receives what a group socket joined.
 */
export const IP_MULTICAST_ALL = 49;
/** Unicast hop limit of IPv6 datagrams. */
export const IPV6_UNICAST_HOPS = 16;
/** Outgoing interface of IPv6 multicast (int interface index). */
export const IPV6_MULTICAST_IF = 17;
/** Hop limit of IPv6 multicast datagrams (int, −1 for the route's default, or 0–255). */
export const IPV6_MULTICAST_HOPS = 18;
/** Loop sent IPv6 multicast back to local sockets (int 0/1). */
export const IPV6_MULTICAST_LOOP = 19;
/** Join an IPv6 group (struct ipv6_mreq; IPV6_ADD_MEMBERSHIP in Linux headers). */
export const IPV6_JOIN_GROUP = 20;
/** Leave an IPv6 group (struct ipv6_mreq). */
export const IPV6_LEAVE_GROUP = 21;
/** The IPv6 counterpart of IP_MULTICAST_ALL (Linux 4.20). */
export const IPV6_MULTICAST_ALL = 29;

/** sizeof(struct ip_mreqn): imr_multiaddr@0 (4), imr_address@4 (4), imr_ifindex i32@8. */
export const IP_MREQN_BYTES = 12;
/** sizeof(struct ipv6_mreq): ipv6mr_multiaddr@0 (16), ipv6mr_interface u32@16. */
export const IPV6_MREQ_BYTES = 20;

const SYMBOLS = {
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/**
 * Encodes a struct ip_mreqn: the group, the local address to use (0.0.0.0: any) and the
 * interface index (0: the kernel picks by route). Addresses are 4 bytes in network order.
 */
export function encodeIpMreqn(
  group: ArrayLike<number>,
  local: ArrayLike<number> | null,
  ifIndex: number,
): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(IP_MREQN_BYTES));
  for (let k = 0; k < 4; k++) out[k] = group[k]! & 0xff;
  if (local !== null) { for (let k = 0; k < 4; k++) out[4 + k] = local[k]! & 0xff; }
  new DataView(out.buffer).setInt32(8, ifIndex, true); // host order
  return out;
}

/** Encodes a struct ipv6_mreq: the group (16 bytes) and the interface index (0: by route). */
export function encodeIpv6Mreq(group: ArrayLike<number>, ifIndex: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(IPV6_MREQ_BYTES));
  for (let k = 0; k < 16; k++) out[k] = group[k]! & 0xff;
  new DataView(out.buffer).setUint32(16, ifIndex >>> 0, true); // host order
  return out;
}

/** setsockopt() with a structure. */
export function setSocketOptionBytes(fd: number, level: number, name: number, value: Uint8Array) {
  if (socketLib().setsockopt(fd, level, name, value, value.length) !== 0) {
    throw new OsError("setsockopt", errno(), `(level ${level}, option ${name})`);
  }
}

/** SO_BROADCAST on or off. */
export function setBroadcast(fd: number, on: boolean): void {
  setSocketOption(fd, SOL_SOCKET, SO_BROADCAST, on ? 1 : 0);
}

/** Joins an IPv4 group (`group` 4 bytes) on interface `ifIndex` (0: the route's). */
export function joinGroup4(fd: number, group: ArrayLike<number>, ifIndex = 0): void {
  setSocketOptionBytes(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, encodeIpMreqn(group, null, ifIndex));
}

/** Joins an IPv6 group (`group` 16 bytes) on interface `ifIndex` (0: the route's). */
export function joinGroup6(fd: number, group: ArrayLike<number>, ifIndex = 0): void {
  setSocketOptionBytes(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, encodeIpv6Mreq(group, ifIndex));
}

/** Multicast TTL (IPv4) or hop limit (IPv6) of datagrams sent from `fd`. */
export function setMulticastTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (family === 4) setSocketOption(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl);
  else setSocketOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
}

/** Unicast and broadcast TTL (IPv4) or hop limit (IPv6) of datagrams sent from `fd`. */
export function setUnicastTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (family === 4) setSocketOption(fd, IPPROTO_IP, IP_TTL, ttl);
  else setSocketOption(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
}

/** The interface multicast leaves from (index; 0: by route). */
export function setMulticastInterface(fd: number, family: 4 | 6, ifIndex: number): void {
  if (family === 4) {
    setSocketOptionBytes(
      fd,
      IPPROTO_IP,
      IP_MULTICAST_IF,
      encodeIpMreqn([0, 0, 0, 0], null, ifIndex),
    );
  } else {
    setSocketOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifIndex);
  }
}

/** Whether multicast sent from `fd` is looped back to the host's own sockets. */
export function setMulticastLoop(fd: number, family: 4 | 6, on: boolean): void {
  setSocketOption(
    fd,
    family === 4 ? IPPROTO_IP : IPPROTO_IPV6,
    family === 4 ? IP_MULTICAST_LOOP : IPV6_MULTICAST_LOOP,
    on ? 1 : 0,
  );
}

/**
 * IP_MULTICAST_ALL / IPV6_MULTICAST_ALL: with `on` false the socket receives only the groups it
 * joined itself. Returns false when the kernel does not know the option (IPv6 before 4.20).
 */
export function setMulticastAll(fd: number, family: 4 | 6, on: boolean): boolean {
  try {
    setSocketOption(
      fd,
      family === 4 ? IPPROTO_IP : IPPROTO_IPV6,
      family === 4 ? IP_MULTICAST_ALL : IPV6_MULTICAST_ALL,
      on ? 1 : 0,
    );
    return true;
  } catch (e) {
    if (e instanceof OsError && (e.errno === 92 /* ENOPROTOOPT */ || e.errno === 22)) return false;
    throw e;
  }
}

/** The index of interface `name` (if_nametoindex), or 0 when there is none. */
export function interfaceIndex(name: string): number {
  lib ??= openLibc(SYMBOLS);
  const bytes = new TextEncoder().encode(`${name}\0`);
  return lib.symbols.if_nametoindex(bytes);
}
