// Socket addresses: parse, format (RFC 5952 canonical text) and order IPv4/IPv6 endpoints such as
// "192.0.2.1:123" or "[2001:db8::1]:123", and convert them to and from kernel sockaddr bytes.

import type { SocketAddress } from "./transport.ts";
import {
  decodeSockaddr,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  SOCKADDR_IN6_BYTES,
} from "../../ffi/socket.ts";

/** The NTP port, used when an address has none. */
export const NTP_PORT = 123;

/** An IP address in binary form. */
export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** IPv6 zone ("eth0" or "2" in "fe80::1%eth0"); empty when none. */
  zone: string;
}

/** Result of parsing an IP address. */
export type IpParseResult = { ok: true; ip: IpAddress } | { ok: false; reason: string };

/** Result of parsing or building a socket address. */
export type SocketAddressResult =
  | { ok: true; address: SocketAddress }
  | { ok: false; reason: string };

/** Result of encoding a sockaddr. */
export type SockaddrResult = { ok: true; length: number } | { ok: false; reason: string };

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE = /^[0-9A-Za-z_.-]{1,32}$/;

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function parseIpv4Into(text: string, out: Uint8Array, at: number): string | null {
  const parts = text.split(".");
  if (parts.length !== 4) return `"${text}" is not a dotted-quad IPv4 address`;
  for (let k = 0; k < 4; k++) {
    const p = parts[k]!;
    if (!DEC_OCTET.test(p)) return `"${text}": bad IPv4 octet "${p}"`;
    const v = Number(p);
    if (v > 255) return `"${text}": IPv4 octet ${v} is larger than 255`;
    out[at + k] = v;
  }
  return null;
}

function parseIpv6Groups(text: string, out: Uint8Array): string | null {
  let head = text;
  let tail = "";
  const gap = text.indexOf("::");
  if (gap >= 0) {
    if (text.indexOf("::", gap + 1) >= 0) return `"${text}" has more than one "::"`;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (part: string, where: string): string[] | string => {
    if (part === "") return [];
    const g = part.split(":");
    if (g.some((x) => x === "")) return `"${text}": empty group ${where}`;
    return g;
  };
  const h = groups(head, 'before "::"');
  const t = groups(tail, 'after "::"');
  if (typeof h === "string") return h;
  if (typeof t === "string") return t;
  // An embedded IPv4 address may end the address and counts as two groups.
  const last = gap >= 0 ? t : h;
  const words: number[] = [];
  const tailWords: number[] = [];
  let v4: string | null = null;
  if (last.length > 0 && last[last.length - 1]!.includes(".")) v4 = last.pop()!;
  for (const g of h) {
    if (!HEX_GROUP.test(g)) return `"${text}": bad IPv6 group "${g}"`;
    words.push(parseInt(g, 16));
  }
  for (const g of t) {
    if (!HEX_GROUP.test(g)) return `"${text}": bad IPv6 group "${g}"`;
    tailWords.push(parseInt(g, 16));
  }
  const explicit = words.length + tailWords.length + (v4 === null ? 0 : 2);
  if (gap < 0 && explicit !== 8) return `"${text}" does not have 8 groups`;
  if (gap >= 0 && explicit > 7) return `"${text}" has too many groups for "::"`;
  const all = [...words, ...new Array<number>(8 - explicit).fill(0), ...tailWords];
  for (let k = 0; k < all.length; k++) {
    out[2 * k] = all[k]! >> 8;
    out[2 * k + 1] = all[k]! & 0xff;
  }
  if (v4 !== null) {
    const err = parseIpv4Into(v4, out, 12);
    if (err !== null) return err;
  }
  return null;
}

/**
 * Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address (RFC 4291 text, optional
 * "%zone"). Never throws.
 */
export function parseIp(text: string): IpParseResult {
  if (typeof text !== "string" || text.length === 0) return fail("empty address");
  if (text.length > 64) return fail("address text is too long");
  if (!text.includes(":")) {
    const bytes = new Uint8Array(4);
    const err = parseIpv4Into(text, bytes, 0);
    return err === null ? { ok: true, ip: { family: 4, bytes, zone: "" } } : fail(err);
  }
  let body = text;
  let zone = "";
  const pct = text.indexOf("%");
  if (pct >= 0) {
    body = text.slice(0, pct);
    zone = text.slice(pct + 1);
    if (!ZONE.test(zone)) return fail(`"${text}": bad zone "${zone}"`);
  }
  const bytes = new Uint8Array(16);
  const err = parseIpv6Groups(body, bytes);
  return err === null ? { ok: true, ip: { family: 6, bytes, zone } } : fail(err);
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let k = 0; k < 10; k++) if (b[k] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Formats 4 or 16 address bytes as canonical text (RFC 5952 for IPv6; "::ffff:a.b.c.d"). */
export function formatIp(bytes: Uint8Array, zone = ""): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return "";
  const suffix = zone === "" ? "" : `%${zone}`;
  if (isV4Mapped(bytes)) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}${suffix}`;
  }
  const w: number[] = [];
  for (let k = 0; k < 8; k++) w.push((bytes[2 * k]! << 8) | bytes[2 * k + 1]!);
  // The longest run of two or more zero groups becomes "::" (the first one on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (w[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && w[e] === 0) e++;
    if (e - k > bestLen) {
      bestAt = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(w) + suffix;
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}${suffix}`;
}

/** Canonical text of an address string (null when it is not an IP address). */
export function canonicalIp(text: string): string | null {
  const r = parseIp(text);
  return r.ok ? formatIp(r.ip.bytes, r.ip.zone) : null;
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
