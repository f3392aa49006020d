// IP addresses for the whole tree: parse and format IPv4/IPv6 text (RFC 4291 §2.2, RFC 5952
// canonical form, "%zone" scope ids), masks and prefixes, and a compact numeric form for lookups.

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

/** An address with a mask: what `restrict`, `interface` and access rules match against. */
export interface IpPrefix {
  /** The address, with every bit outside the mask cleared. */
  ip: IpAddress;
  /** The mask, as many bytes as the address. */
  mask: Uint8Array;
  /** Length of the mask's run of leading ones when the mask is contiguous, else −1. */
  prefixLength: number;
}

/** Result of parsing a prefix or mask. */
export type IpPrefixResult = { ok: true; prefix: IpPrefix } | { ok: false; reason: string };

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
    // Leading zeros are refused: some resolvers read them as octal, inet_pton rejects them.
    if (!DEC_OCTET.test(p)) return `"${text}": bad IPv4 octet "${p}"`;
    const v = Number(p);
    if (v > 255) return `"${text}": IPv4 octet ${v} is larger than 255`;
    out[at + k] = v;
  }
  return null;
}

function parseIpv6Into(text: string, out: Uint8Array): string | null {
  const gap = text.indexOf("::");
  if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) return `"${text}" has more than one "::"`;
  const head = gap >= 0 ? text.slice(0, gap) : text;
  const tail = gap >= 0 ? text.slice(gap + 2) : "";
  const split = (part: string): string[] | null => {
    if (part === "") return [];
    const g = part.split(":");
    return g.some((x) => x === "") ? null : g;
  };
  const h = split(head);
  const t = split(tail);
  if (h === null || t === null) return `"${text}": empty group`;
  // An embedded IPv4 address may end the address; it stands for the last two groups.
  const last = gap >= 0 ? t : h;
  let v4: string | null = null;
  if (last.length > 0 && last[last.length - 1]!.includes(".")) v4 = last.pop()!;
  for (const g of [...h, ...t]) {
    if (!HEX_GROUP.test(g)) return `"${text}": bad IPv6 group "${g}"`;
  }
  const explicit = h.length + t.length + (v4 === null ? 0 : 2);
  if (gap < 0 && explicit !== 8) return `"${text}" does not have 8 groups`;
  if (gap >= 0 && explicit > 7) return `"${text}" has too many groups for "::"`;
  out.fill(0);
  h.forEach((g, k) => {
    const w = parseInt(g, 16);
    out[2 * k] = w >> 8;
    out[2 * k + 1] = w & 0xff;
  });
  const tailStart = 8 - (v4 === null ? 0 : 2) - t.length;
  t.forEach((g, k) => {
    const w = parseInt(g, 16);
    out[2 * (tailStart + k)] = w >> 8;
    out[2 * (tailStart + k) + 1] = w & 0xff;
  });
  return v4 === null ? null : parseIpv4Into(v4, out, 12);
}

/**
 * Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address (RFC 4291 text, optional
 * "%zone"). Never throws.
 *
 * @example
 * ```ts
 * const r = parseIp("2001:db8::1");
 * if (r.ok) formatIp(r.ip.bytes); // "2001:db8::1"
 * ```
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
  const err = parseIpv6Into(body, bytes);
  return err === null ? { ok: true, ip: { family: 6, bytes, zone } } : fail(err);
}

/** The family of an IP address literal, or null when `text` is not one. */
export function ipFamilyOf(text: string): 4 | 6 | null {
  const r = parseIp(text);
  return r.ok ? r.ip.family : null;
}

/** True for an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) group address. */
export function isGroupAddress(address: string): boolean {
  const p = parseIp(address);
  if (!p.ok) return false;
  return p.ip.family === 4 ? (p.ip.bytes[0]! & 0xf0) === 0xe0 : p.ip.bytes[0] === 0xff;
}

/** True for 16 bytes of the form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
export function isV4Mapped(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
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

/** Address bytes of a family: 4 or 16. */
export function addressBytes(family: 4 | 6): number {
  return family === 4 ? 4 : 16;
}

/** The mask of `length` leading one bits for a family. */
export function prefixMask(family: 4 | 6, length: number): Uint8Array {
  const out = new Uint8Array(addressBytes(family));
  for (let k = 0; k < out.length; k++) {
    const bits = Math.max(0, Math.min(8, length - 8 * k));
    out[k] = (0xff00 >> bits) & 0xff;
  }
  return out;
}

/** The all-ones host mask of a family, as text. */
export function hostMaskText(family: 4 | 6): string {
  return formatIp(prefixMask(family, family === 4 ? 32 : 128));
}

/** The unspecified address (and all-zeros mask) of a family, as text. */
export function unspecifiedText(family: 4 | 6): string {
  return family === 4 ? "0.0.0.0" : "::";
}

/** Length of the leading run of ones in `mask` when the rest is all zeros, else −1. */
export function prefixLengthOf(mask: Uint8Array): number {
  let n = 0;
  let k = 0;
  for (; k < mask.length && mask[k] === 0xff; k++) n += 8;
  if (k === mask.length) return n;
  const b = mask[k]!;
  let ones = 0;
  while (ones < 8 && (b & (0x80 >> ones)) !== 0) ones++;
  if (((b << ones) & 0xff) !== 0) return -1;
  for (k++; k < mask.length; k++) if (mask[k] !== 0) return -1;
  return n + ones;
}

/**
 * Builds a prefix from an address and a mask given as an address of the same family, a prefix
 * length, or null (a host: all ones). Bits of the address outside the mask are cleared, as the
 * restrict list does. Never throws.
 */
export function makePrefix(ip: IpAddress, mask: string | number | null): IpPrefixResult {
  const max = ip.family === 4 ? 32 : 128;
  let m: Uint8Array;
  if (mask === null) m = prefixMask(ip.family, max);
  else if (typeof mask === "number") {
    if (!Number.isInteger(mask) || mask < 0 || mask > max) {
      return fail(`prefix length ${mask} is not in 0..${max}`);
    }
    m = prefixMask(ip.family, mask);
  } else {
    const r = parseIp(mask);
    if (!r.ok) return fail(`mask "${mask}": ${r.reason}`);
    if (r.ip.family !== ip.family) {
      return fail(`mask "${mask}" is not of the same family as the address`);
    }
    m = r.ip.bytes;
  }
  const bytes = ip.bytes.map((b, k) => b & m[k]!);
  return {
    ok: true,
    prefix: {
      ip: { family: ip.family, bytes, zone: ip.zone },
      mask: m,
      prefixLength: prefixLengthOf(m),
    },
  };
}

/** Parses "address", "address/length" (CIDR) or an address with a separate mask text. */
export function parsePrefix(text: string, mask: string | null = null): IpPrefixResult {
  const slash = text.indexOf("/");
  if (slash < 0) {
    const r = parseIp(text);
    return r.ok ? makePrefix(r.ip, mask) : r;
  }
  if (mask !== null) return fail(`"${text}": a prefix length and a mask together`);
  const r = parseIp(text.slice(0, slash));
  if (!r.ok) return r;
  const len = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(len)) return fail(`"${text}": bad prefix length "${len}"`);
  return makePrefix(r.ip, Number(len));
}

/** True when `ip` lies inside `prefix` (same family; zones are ignored). */
export function prefixContains(prefix: IpPrefix, ip: IpAddress): boolean {
  if (prefix.ip.family !== ip.family) return false;
  const m = prefix.mask;
  for (let k = 0; k < m.length; k++) {
    if ((ip.bytes[k]! & m[k]!) !== prefix.ip.bytes[k]) return false;
  }
  return true;
}

/**
 * An IP address as four 32-bit words in network order, for lookups on the packet path with no
 * allocation: transports fill one object per datagram. IPv4 uses `w0` (the others are 0);
 * IPv4-mapped IPv6 addresses are stored as IPv4, which is how a dual-stack socket's peer is
 * matched against IPv4 rules. Scope ids are not part of the key.
 */
export class IpWords {
  family: 4 | 6 = 4;
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;

  /** Sets an IPv4 address from its 32-bit value. */
  setV4(value: number): this {
    this.family = 4;
    this.w0 = value >>> 0;
    this.w1 = this.w2 = this.w3 = 0;
    return this;
  }

  /** Sets an IPv6 address from four words (an IPv4-mapped one becomes IPv4). */
  setV6(w0: number, w1: number, w2: number, w3: number): this {
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) return this.setV4(w3);
    this.family = 6;
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
    return this;
  }

  /** Sets the address from 4 or 16 bytes at `offset` of `b` (network order). */
  setBytes(b: Uint8Array, offset: number, family: 4 | 6): this {
    // Written out (no helper calls): a 32-bit value above 2^30 passed to or returned from a
    // call that is not inlined costs an allocation, and transports call this per datagram.
    const o = offset;
    const w0 = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    if (family === 4) {
      this.family = 4;
      this.w0 = w0;
      this.w1 = this.w2 = this.w3 = 0;
      return this;
    }
    const w1 = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    const w2 = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
    const w3 = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
      this.family = 4;
      this.w0 = w3;
      this.w1 = this.w2 = this.w3 = 0;
      return this;
    }
    this.family = 6;
    this.w0 = w0;
    this.w1 = w1;
    this.w2 = w2;
    this.w3 = w3;
    return this;
  }

  /** Sets the address from a parsed address. */
  setIp(ip: IpAddress): this {
    return this.setBytes(ip.bytes, 0, ip.family);
  }

  /** Parses address text into this object; false (unchanged) when it is not an address. */
  parse(text: string): boolean {
    const r = parseIp(text);
    if (!r.ok) return false;
    this.setIp(r.ip);
    return true;
  }

  /** Copies another address. */
  copy(o: IpWords): this {
    this.family = o.family;
    this.w0 = o.w0;
    this.w1 = o.w1;
    this.w2 = o.w2;
    this.w3 = o.w3;
    return this;
  }

  /** True when both hold the same address. */
  equals(o: IpWords): boolean {
    return this.family === o.family && this.w0 === o.w0 && this.w1 === o.w1 &&
      this.w2 === o.w2 && this.w3 === o.w3;
  }

  /** Word `k` (0–3). */
  word(k: number): number {
    return k === 0 ? this.w0 : k === 1 ? this.w1 : k === 2 ? this.w2 : this.w3;
  }

  /** The address bytes (4 or 16; allocates). */
  toBytes(): Uint8Array {
    const n = this.family === 4 ? 1 : 4;
    const out = new Uint8Array(4 * n);
    for (let k = 0; k < n; k++) {
      const w = this.word(k);
      out[4 * k] = w >>> 24;
      out[4 * k + 1] = (w >>> 16) & 0xff;
      out[4 * k + 2] = (w >>> 8) & 0xff;
      out[4 * k + 3] = w & 0xff;
    }
    return out;
  }

  /** Canonical text (allocates). */
  toString(): string {
    return formatIp(this.toBytes());
  }

  /**
   * True for a source address no datagram can honestly come from: unspecified, broadcast
   * (255.255.255.255), multicast (224.0.0.0/4, ff00::/8).
   */
  isInvalidSource(): boolean {
    if (this.family === 4) {
      const w = this.w0;
      return w === 0 || w === 0xffffffff || (w >>> 28) === 0xe;
    }
    if ((this.w0 >>> 24) === 0xff) return true;
    return this.w0 === 0 && this.w1 === 0 && this.w2 === 0 && this.w3 === 0;
  }
}

/** A new {@link IpWords} holding `text`, or null when it is not an address. */
export function ipWordsOf(text: string): IpWords | null {
  const w = new IpWords();
  return w.parse(text) ? w : null;
}
