// Socket addresses: parse, format (RFC 5952 canonical text) and order IPv4/IPv6 endpoints such as
// "192.0.2.1:123" or "[2001:db8::1]:123", and convert them to and from kernel sockaddr bytes.

import type { SocketAddress } from "./transport.ts";
import { formatIp, type IpWords, isV4Mapped, parseIp } from "../proto/ip.ts";
import {
  AF_INET,
  AF_INET6,
  decodeSockaddr,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  SOCKADDR_IN6_BYTES,
  SOCKADDR_IN_BYTES,
} from "../../ffi/socket.ts";

/** The NTP port, used when an address has none. */
export const NTP_PORT = 123;

/** Result of parsing or building a socket address. */
export type SocketAddressResult =
  | { ok: true; address: SocketAddress }
  | { ok: false; reason: string };

/** Result of encoding a sockaddr. */
export type SockaddrResult = { ok: true; length: number } | { ok: false; reason: string };

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function validPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Builds a normalized SocketAddress from address text and a port. Never throws. */
export function socketAddress(address: string, port: number): SocketAddressResult {
  if (!validPort(port)) return fail(`port ${port} is not in 0..65535`);
  const r = parseIp(address);
  if (!r.ok) return r;
  return {
    ok: true,
    address: { family: r.ip.family, address: formatIp(r.ip.bytes, r.ip.zone), port },
  };
}

/**
 * Parses "a.b.c.d", "a.b.c.d:port", an IPv6 address, "[v6]" or "[v6]:port" (with optional
 * "%zone"). A missing port is `defaultPort`. The address is normalized. Never throws.
 */
export function parseSocketAddress(text: string, defaultPort = NTP_PORT): SocketAddressResult {
  if (typeof text !== "string") return fail("address is not text");
  const s = text.trim();
  let host: string;
  let portText: string | null = null;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return fail(`"${text}": missing "]"`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return fail(`"${text}": unexpected text after "]"`);
      portText = rest.slice(1);
    }
    if (!host.includes(":")) return fail(`"${text}": brackets are for IPv6 addresses`);
  } else {
    const colons = s.split(":").length - 1;
    if (colons === 1) {
      const c = s.indexOf(":");
      host = s.slice(0, c);
      portText = s.slice(c + 1);
    } else {
      host = s;
    }
  }
  let port = defaultPort;
  if (portText !== null) {
    if (!/^[0-9]{1,5}$/.test(portText)) return fail(`"${text}": bad port "${portText}"`);
    port = Number(portText);
  }
  return socketAddress(host, port);
}

/** Formats an address as "a.b.c.d:port" or "[v6]:port". */
export function formatSocketAddress(a: SocketAddress): string {
  return a.family === 6 || a.address.includes(":")
    ? `[${a.address}]:${a.port}`
    : `${a.address}:${a.port}`;
}

/**
 * Total order on socket addresses: IPv4 before IPv6, then address bytes, zone and port.
 * Unparsable addresses sort after valid ones, by text.
 */
export function compareSocketAddresses(a: SocketAddress, b: SocketAddress): number {
  const pa = parseIp(a.address);
  const pb = parseIp(b.address);
  if (pa.ok && pb.ok) {
    if (pa.ip.family !== pb.ip.family) return pa.ip.family - pb.ip.family;
    for (let k = 0; k < pa.ip.bytes.length; k++) {
      const d = pa.ip.bytes[k]! - pb.ip.bytes[k]!;
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    if (pa.ip.zone !== pb.ip.zone) return pa.ip.zone < pb.ip.zone ? -1 : 1;
  } else if (pa.ok !== pb.ok) {
    return pa.ok ? -1 : 1;
  } else if (a.address !== b.address) {
    return a.address < b.address ? -1 : 1;
  }
  return a.port === b.port ? 0 : a.port < b.port ? -1 : 1;
}

/** True when both name the same endpoint (whatever the spelling of the address). */
export function sameSocketAddress(a: SocketAddress, b: SocketAddress): boolean {
  if (a.port !== b.port) return false;
  if (a.address === b.address) return true;
  return compareSocketAddresses(a, b) === 0;
}

/** True for the unspecified address (0.0.0.0 or ::). */
export function isUnspecified(a: SocketAddress): boolean {
  const r = parseIp(a.address);
  return r.ok && r.ip.bytes.every((x) => x === 0);
}

/**
 * Decodes kernel sockaddr bytes. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) become IPv4 addresses
 * unless `unmapV4` is false; a non-zero IPv6 scope id becomes a numeric zone. Null when the
 * bytes are not an IP sockaddr.
 */
export function sockaddrToSocketAddress(
  bytes: Uint8Array,
  length: number,
  unmapV4 = true,
): SocketAddress | null {
  const d = decodeSockaddr(bytes, length);
  if (d === null) return null;
  if (d.family === 4) return { family: 4, address: formatIp(d.addr), port: d.port };
  if (unmapV4 && isV4Mapped(d.addr)) {
    return { family: 4, address: formatIp(d.addr.subarray(12)), port: d.port };
  }
  const zone = d.scopeId === 0 ? "" : String(d.scopeId);
  return { family: 6, address: formatIp(d.addr, zone), port: d.port };
}

/**
 * Encodes an address as kernel sockaddr bytes into `out` (at least 28 bytes) for a socket of
 * the given family: an IPv4 address on an IPv6 socket becomes IPv4-mapped; an IPv4-mapped
 * address on an IPv4 socket becomes plain IPv4. Zones must be numeric scope ids. Never throws.
 */
export function socketAddressToSockaddr(
  addr: SocketAddress,
  out: Uint8Array,
  socketFamily: 4 | 6,
): SockaddrResult {
  if (out.length < SOCKADDR_IN6_BYTES) return fail("sockaddr buffer shorter than 28 bytes");
  if (!validPort(addr.port)) return fail(`port ${addr.port} is not in 0..65535`);
  const r = parseIp(addr.address);
  if (!r.ok) return r;
  const { bytes, zone } = r.ip;
  let scopeId = 0;
  if (zone !== "") {
    if (!/^[0-9]{1,10}$/.test(zone) || Number(zone) > 0xffffffff) {
      return fail(`zone "${zone}" is not a numeric scope id`);
    }
    scopeId = Number(zone);
  }
  if (socketFamily === 4) {
    if (bytes.length === 4) return { ok: true, length: encodeSockaddrIn(out, bytes, addr.port) };
    if (isV4Mapped(bytes)) {
      return { ok: true, length: encodeSockaddrIn(out, bytes.subarray(12), addr.port) };
    }
    return fail(`IPv6 address ${addr.address} on an IPv4 socket`);
  }
  if (bytes.length === 4) {
    const mapped = new Uint8Array(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(bytes, 12);
    return { ok: true, length: encodeSockaddrIn6(out, mapped, addr.port) };
  }
  return { ok: true, length: encodeSockaddrIn6(out, bytes, addr.port, scopeId) };
}

/**
 * Reads the address of kernel sockaddr bytes into `out` without allocating (the packet path's
 * form of a datagram's sender; IPv4-mapped peers become IPv4) and returns the port, or −1 when
 * the bytes are not an IP sockaddr (`out` is then unchanged).
 */
export function sockaddrToIpWords(bytes: Uint8Array, length: number, out: IpWords): number {
  if (length > bytes.length || length < 2) return -1;
  const family = bytes[0]! | (bytes[1]! << 8);
  if (family === AF_INET && length >= SOCKADDR_IN_BYTES) {
    out.setBytes(bytes, 4, 4);
  } else if (family === AF_INET6 && length >= SOCKADDR_IN6_BYTES) {
    out.setBytes(bytes, 8, 6);
  } else {
    return -1;
  }
  return (bytes[2]! << 8) | bytes[3]!;
}
