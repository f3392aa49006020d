// The restrict list: address/mask access rules and their flags, as ntp.conf(5) "Access Control
// Support" describes them for ntpd 4.2.x, with a lookup whose cost does not grow with the list.
//
// Semantics: entries are ordered by address, then mask, then how specific their port condition
// is; a source address matches an entry when (source & mask) == entry address; of all the
// entries that match, the last one in that order gives the flags. For contiguous masks that is
// the longest matching prefix. Lines with the same address, mask and port condition merge their
// flags. A default entry (0/0) exists for each family, with no flags unless configured.
//
// Lookup: per family, one hash table per prefix length present, keyed by the masked address,
// probed from the longest length down; the first hit whose port condition holds is the answer
// (O(number of distinct prefix lengths), at most 33 or 129 probes, whatever the entry count).
// Entries with a non-contiguous mask (legal, rare) are kept apart in a sorted list scanned in
// full, and the later entry in list order wins between the two searches.

import { NTP_PORT } from "../constants.ts";
import { formatIp, type IpAddress, type IpPrefix, IpWords, makePrefix, parseIp } from "../ip.ts";

/** The words of a `restrict` line (ntp.conf(5)); ntpport and non-ntpport are match modifiers. */
export type RestrictFlag =
  | "ignore"
  | "kod"
  | "limited"
  | "lowpriotrap"
  | "nomodify"
  | "noquery"
  | "nopeer"
  | "noepeer"
  | "noserve"
  | "notrap"
  | "notrust"
  | "nomrulist"
  | "mssntp"
  | "ntpport"
  | "non-ntpport"
  | "version";

/** Every restrict word, in the canonical order. */
export const RESTRICT_FLAGS: readonly RestrictFlag[] = [
  "ignore",
  "kod",
  "limited",
  "lowpriotrap",
  "nomodify",
  "noquery",
  "nopeer",
  "noepeer",
  "noserve",
  "notrap",
  "notrust",
  "nomrulist",
  "mssntp",
  "ntpport",
  "non-ntpport",
  "version",
];

/** Deny every packet, silently (also control queries). */
export const RES_IGNORE = 1 << 0;
/** Send a kiss-o'-death where a request is denied (rate limited: RATE, noserve/notrust: DENY). */
export const RES_KOD = 1 << 1;
/** Deny service to clients that exceed the `discard` rates. */
export const RES_LIMITED = 1 << 2;
/** Traps set by these hosts have low priority (control protocol). */
export const RES_LOWPRIOTRAP = 1 << 3;
/** Deny control messages that would change the server's state. */
export const RES_NOMODIFY = 1 << 4;
/** Deny control (mode 6) and private (mode 7) queries. */
export const RES_NOQUERY = 1 << 5;
/** Deny packets that would mobilise an association (unless authenticated). */
export const RES_NOPEER = 1 << 6;
/** Deny ephemeral symmetric active (mode 1) packets. */
export const RES_NOEPEER = 1 << 7;
/** Deny time service (modes 1–5); control queries are still allowed. */
export const RES_NOSERVE = 1 << 8;
/** Deny trap set requests (control protocol). */
export const RES_NOTRAP = 1 << 9;
/** Deny service unless the packet is cryptographically authenticated. */
export const RES_NOTRUST = 1 << 10;
/** Deny MRU list requests (control protocol). */
export const RES_NOMRULIST = 1 << 11;
/** MS-SNTP signing (accepted, not implemented: the daemon warns). */
export const RES_MSSNTP = 1 << 12;
/** Deny packets whose version is not the current one (4). */
export const RES_VERSION = 1 << 13;
/** Not a configurable flag: the entry is one of the daemon's own addresses. */
export const RES_INTERFACE = 1 << 14;

/** The bit of each restrict flag (ntpport and non-ntpport have none: they are match modes). */
export const RESTRICT_BITS: Readonly<Record<Exclude<RestrictFlag, PortMatch>, number>> = {
  ignore: RES_IGNORE,
  kod: RES_KOD,
  limited: RES_LIMITED,
  lowpriotrap: RES_LOWPRIOTRAP,
  nomodify: RES_NOMODIFY,
  noquery: RES_NOQUERY,
  nopeer: RES_NOPEER,
  noepeer: RES_NOEPEER,
  noserve: RES_NOSERVE,
  notrap: RES_NOTRAP,
  notrust: RES_NOTRUST,
  nomrulist: RES_NOMRULIST,
  mssntp: RES_MSSNTP,
  version: RES_VERSION,
};

/** An entry's condition on the source port. */
export type PortMatch = "ntpport" | "non-ntpport";

/**
 * Port condition, ordered by specificity: any port < any port but 123 (non-ntpport) < port
 * 123 (ntpport) < one exact port (the daemon's own address entries).
 */
const MATCH_ANY = 0;
const MATCH_NON_NTP = 1;
const MATCH_NTP = 2;
const MATCH_EXACT = 3;

/** One entry of the list, as {@link RestrictList.entries} shows it. */
export interface RestrictEntry {
  /** Address (host bits cleared) and mask. */
  prefix: IpPrefix;
  /** RES_* bits. */
  flags: number;
  /** Port condition: null (any port), "ntpport", "non-ntpport"; own entries: "own". */
  match: PortMatch | "own" | null;
  /** The port an own-address entry matches (−1 otherwise). */
  port: number;
}

/** Internal form of an entry. */
interface Entry {
  family: 4 | 6;
  /** Masked address words (IPv4: word 0 only). */
  a: [number, number, number, number];
  m: [number, number, number, number];
  prefixLength: number;
  rank: number;
  port: number;
  flags: number;
  prefix: IpPrefix;
}

function words(bytes: Uint8Array): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = 0; k < bytes.length / 4; k++) {
    out[k] = ((bytes[4 * k]! << 24) | (bytes[4 * k + 1]! << 16) | (bytes[4 * k + 2]! << 8) |
      bytes[4 * k + 3]!) >>> 0;
  }
  return out;
}

/** Order of the list: family, address, mask, then port condition (and port). */
function compareEntries(x: Entry, y: Entry): number {
  if (x.family !== y.family) return x.family - y.family;
  for (let k = 0; k < 4; k++) if (x.a[k] !== y.a[k]) return x.a[k]! < y.a[k]! ? -1 : 1;
  for (let k = 0; k < 4; k++) if (x.m[k] !== y.m[k]) return x.m[k]! < y.m[k]! ? -1 : 1;
  if (x.rank !== y.rank) return x.rank - y.rank;
  return x.port - y.port;
}

function portHolds(e: Entry, port: number): boolean {
  switch (e.rank) {
    case MATCH_ANY:
      return true;
    case MATCH_NON_NTP:
      return port !== NTP_PORT;
    case MATCH_NTP:
      return port === NTP_PORT;
    default:
      return port === e.port;
  }
}

function maskWord(prefixLength: number, k: number): number {
  const bits = Math.max(0, Math.min(32, prefixLength - 32 * k));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

// The hashes read the words from the source and the masks from the table, so that no 32-bit
// value above 2^30 is passed to or returned from a call (that would allocate per packet).

function hashV4(s: IpWords, t: PrefixTable): number {
  const h = Math.imul((s.w0 & t.m0) ^ 0x5bd1e995, 0x9e3779b1);
  return (h ^ (h >>> 15)) & t.slotMask;
}

function hashV6(s: IpWords, t: PrefixTable): number {
  let h = Math.imul((s.w0 & t.m0) ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ (s.w1 & t.m1) ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (s.w2 & t.m2) ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (s.w3 & t.m3) ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) & t.slotMask;
}

/**
 * Open-addressing table from masked address words to a group of entries (same address and mask,
 * most specific port condition first). Built once per change of the list; read per packet.
 * IPv4 tables key on one word, IPv6 tables on four.
 */
class PrefixTable {
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly #v4: boolean;
  readonly #keys: Uint32Array;
  readonly #values: Int32Array;
  readonly slotMask: number;
  readonly groups: Entry[][] = [];

  constructor(family: 4 | 6, prefixLength: number, count: number) {
    this.m0 = maskWord(prefixLength, 0);
    this.m1 = maskWord(prefixLength, 1);
    this.m2 = maskWord(prefixLength, 2);
    this.m3 = maskWord(prefixLength, 3);
    this.#v4 = family === 4;
    let slots = 8;
    while (slots < 2 * count) slots *= 2;
    this.slotMask = slots - 1;
    this.#keys = new Uint32Array((this.#v4 ? 1 : 4) * slots);
    this.#values = new Int32Array(slots).fill(-1);
  }

  add(e: Entry): void {
    const [a0, a1, a2, a3] = e.a;
    const v4 = this.#v4;
    const stride = v4 ? 1 : 4;
    const w = new IpWords();
    if (v4) w.setV4(a0);
    else {
      w.family = 6;
      [w.w0, w.w1, w.w2, w.w3] = e.a;
    }
    let i = v4 ? hashV4(w, this) : hashV6(w, this);
    for (;;) {
      const g = this.#values[i]!;
      const k = stride * i;
      if (g < 0) {
        this.#values[i] = this.groups.length;
        if (v4) this.#keys[k] = a0;
        else this.#keys.set([a0, a1, a2, a3], k);
        this.groups.push([e]);
        return;
      }
      const keys = this.#keys;
      if (
        v4
          ? keys[k] === a0
          : (keys[k] === a0 && keys[k + 1] === a1 && keys[k + 2] === a2 && keys[k + 3] === a3)
      ) {
        const group = this.groups[g]!;
        group.push(e);
        group.sort((x, y) => compareEntries(y, x)); // most specific first
        return;
      }
      i = (i + 1) & this.slotMask;
    }
  }

  /** The first entry of the group for this source whose port condition holds, or null. */
  find(s: IpWords, port: number): Entry | null {
    const keys = this.#keys;
    const slotMask = this.slotMask;
    let g = -1;
    if (this.#v4) {
      const a0 = (s.w0 & this.m0) >>> 0;
      for (let i = hashV4(s, this);; i = (i + 1) & slotMask) {
        g = this.#values[i]!;
        if (g < 0 || keys[i] === a0) break;
      }
    } else {
      const a0 = (s.w0 & this.m0) >>> 0;
      const a1 = (s.w1 & this.m1) >>> 0;
      const a2 = (s.w2 & this.m2) >>> 0;
      const a3 = (s.w3 & this.m3) >>> 0;
      for (let i = hashV6(s, this);; i = (i + 1) & slotMask) {
        g = this.#values[i]!;
        const k = 4 * i;
        if (
          g < 0 ||
          (keys[k] === a0 && keys[k + 1] === a1 && keys[k + 2] === a2 && keys[k + 3] === a3)
        ) break;
      }
    }
    if (g < 0) return null;
    const group = this.groups[g]!;
    for (let j = 0; j < group.length; j++) {
      const e = group[j]!;
      if (e.rank === MATCH_ANY || portHolds(e, port)) return e;
    }
    return null;
  }
}

/** The lookup structure of one family. */
interface FamilyIndex {
  /** Tables, longest prefix first. */
  tables: PrefixTable[];
  /** Entries with non-contiguous masks, in list order. */
  odd: Entry[];
}

/** The result of turning restrict words into bits. */
export type RestrictWordsResult =
  | { ok: true; flags: number; match: PortMatch | null }
  | { ok: false; reason: string };

/**
 * Turns restrict words into RES_* bits and a port condition. `ntpport` with `non-ntpport` on
 * one line match every port (no condition). Never throws.
 */
export function restrictWords(words: readonly string[]): RestrictWordsResult {
  let flags = 0;
  let ntp = false;
  let nonNtp = false;
  for (const w of words) {
    if (w === "ntpport") ntp = true;
    else if (w === "non-ntpport") nonNtp = true;
    else if (Object.hasOwn(RESTRICT_BITS, w)) {
      flags |= RESTRICT_BITS[w as keyof typeof RESTRICT_BITS];
    } else return { ok: false, reason: `unknown restrict flag "${w}"` };
  }
  return { ok: true, flags, match: ntp === nonNtp ? null : ntp ? "ntpport" : "non-ntpport" };
}

/** The restrict words of RES_* bits (for display), in canonical order. */
export function restrictFlagNames(flags: number): RestrictFlag[] {
  return RESTRICT_FLAGS.filter((f) =>
    f !== "ntpport" && f !== "non-ntpport" &&
    (flags & RESTRICT_BITS[f as keyof typeof RESTRICT_BITS]) !== 0
  );
}

/**
 * The restrict list. Build it from the configuration (the daemon resolves host names first and
 * adds the daemon's own addresses with {@link addOwnAddress}), then {@link lookup} per packet.
 *
 * @example
 * ```ts
 * const list = new RestrictList();
 * list.addRule("0.0.0.0", "0.0.0.0", ["kod", "limited", "nomodify", "noquery"]);
 * list.addRule("192.0.2.0", "255.255.255.0", ["noserve"]);
 * const src = ipWordsOf("192.0.2.9")!;
 * (list.lookup(src, 40000) & RES_NOSERVE) !== 0; // true
 * ```
 */
export class RestrictList {
  #entries: Entry[] = [];
  #index: [FamilyIndex, FamilyIndex] | null = null;
  #matched: Entry | null = null;
  /** Every flag used by any entry (entries are never removed, except own ones). */
  #used = 0;

  /** A list holding only the two default entries, without flags. */
  constructor() {
    for (const text of ["0.0.0.0", "::"]) {
      const ip = parseIp(text);
      if (ip.ok) this.#insert(ip.ip, 0, 0, MATCH_ANY, -1);
    }
  }

  /**
   * Adds a rule: an address literal, a mask (an address of the same family, a prefix length, or
   * null for a host) and restrict words. Flags of an existing entry with the same address, mask
   * and port condition are merged. Returns null, or why the rule was refused.
   */
  addRule(address: string, mask: string | number | null, flags: readonly string[]): string | null {
    const ip = parseIp(address);
    if (!ip.ok) return ip.reason;
    const w = restrictWords(flags);
    if (!w.ok) return w.reason;
    const rank = w.match === null ? MATCH_ANY : w.match === "ntpport" ? MATCH_NTP : MATCH_NON_NTP;
    return this.#insert(ip.ip, mask, w.flags, rank, -1);
  }

  /** Adds RES_* `flags` for a prefix (see {@link addRule}); returns null or why it was refused. */
  add(
    ip: IpAddress,
    mask: string | number | null,
    flags: number,
    match: PortMatch | null = null,
  ): string | null {
    const rank = match === null ? MATCH_ANY : match === "ntpport" ? MATCH_NTP : MATCH_NON_NTP;
    return this.#insert(ip, mask, flags & ~RES_INTERFACE, rank, -1);
  }

  /**
   * Adds one of the daemon's own addresses, as ntpd does for each interface: packets from that
   * address and the daemon's own `port` are ignored, so the daemon never answers (or syncs to)
   * itself, while local clients on other ports are still served.
   */
  addOwnAddress(ip: IpAddress | string, port: number = NTP_PORT): string | null {
    let addr: IpAddress;
    if (typeof ip === "string") {
      const r = parseIp(ip);
      if (!r.ok) return r.reason;
      addr = r.ip;
    } else addr = ip;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${port} is not valid`;
    return this.#insert(addr, null, RES_IGNORE | RES_INTERFACE, MATCH_EXACT, port);
  }

  /**
   * A list with exactly `entries` (from {@link entries} of another list, e.g. sent to a server
   * thread in a message: they are plain data). Entries that do not parse are skipped.
   */
  static fromEntries(entries: readonly RestrictEntry[]): RestrictList {
    const list = new RestrictList();
    for (const e of entries) {
      const rank = e.match === null
        ? MATCH_ANY
        : e.match === "ntpport"
        ? MATCH_NTP
        : e.match === "non-ntpport"
        ? MATCH_NON_NTP
        : MATCH_EXACT;
      list.#insert(e.prefix.ip, formatIp(e.prefix.mask), e.flags, rank, e.port);
    }
    return list;
  }

  /** Removes every own-address entry (before adding the current set after an interface scan). */
  clearOwnAddresses(): void {
    this.#entries = this.#entries.filter((e) => e.rank !== MATCH_EXACT);
    this.#index = null;
  }

  #insert(
    ip: IpAddress,
    mask: string | number | null,
    flags: number,
    rank: number,
    port: number,
  ): string | null {
    const p = makePrefix(ip, mask);
    if (!p.ok) return p.reason;
    const bare: IpPrefix = { ...p.prefix, ip: { ...p.prefix.ip, zone: "" } };
    const e: Entry = {
      family: ip.family,
      a: words(bare.ip.bytes),
      m: words(bare.mask),
      prefixLength: bare.prefixLength,
      rank,
      port,
      flags,
      prefix: bare,
    };
    this.#used |= flags;
    const same = this.#entries.find((x) => compareEntries(x, e) === 0);
    if (same !== undefined) same.flags |= flags;
    else this.#entries.push(e);
    this.#index = null;
    return null;
  }

  #build(): [FamilyIndex, FamilyIndex] {
    const sorted = [...this.#entries].sort(compareEntries);
    const index: [FamilyIndex, FamilyIndex] = [{ tables: [], odd: [] }, { tables: [], odd: [] }];
    for (const fam of [4, 6] as const) {
      const mine = sorted.filter((e) => e.family === fam);
      const fi = index[fam === 4 ? 0 : 1];
      fi.odd = mine.filter((e) => e.prefixLength < 0);
      const lengths = [
        ...new Set(mine.filter((e) => e.prefixLength >= 0).map((e) => e.prefixLength)),
      ]
        .sort((x, y) => y - x);
      for (const len of lengths) {
        const at = mine.filter((e) => e.prefixLength === len);
        const t = new PrefixTable(fam, len, at.length);
        for (const e of at) t.add(e);
        fi.tables.push(t);
      }
    }
    return index;
  }

  /**
   * The RES_* flags for a packet from `src`, source port `port`: those of the last matching
   * entry in list order (the most specific). Allocation-free once the list is built.
   */
  lookup(src: IpWords, port: number): number {
    const fi = (this.#index ??= this.#build())[src.family === 4 ? 0 : 1];
    let best: Entry | null = null;
    const tables = fi.tables;
    for (let i = 0; i < tables.length; i++) {
      best = tables[i]!.find(src, port);
      if (best !== null) break;
    }
    const odd = fi.odd;
    for (let i = 0; i < odd.length; i++) {
      const e = odd[i]!;
      if (
        ((src.w0 & e.m[0]) >>> 0) === e.a[0] && ((src.w1 & e.m[1]) >>> 0) === e.a[1] &&
        ((src.w2 & e.m[2]) >>> 0) === e.a[2] && ((src.w3 & e.m[3]) >>> 0) === e.a[3] &&
        portHolds(e, port) && (best === null || compareEntries(e, best) > 0)
      ) best = e;
    }
    this.#matched = best;
    return best === null ? 0 : best.flags;
  }

  /** The entry that decided the last {@link lookup} (null before any). */
  get matched(): RestrictEntry | null {
    return this.#matched === null ? null : publicEntry(this.#matched);
  }

  /** True when an entry uses `limited` or `kod`: monitoring (the MRU list) must then run. */
  get needsMonitor(): boolean {
    return (this.#used & (RES_LIMITED | RES_KOD)) !== 0;
  }

  /** Number of entries (the two defaults included). */
  get size(): number {
    return this.#entries.length;
  }

  /** The entries in list order (IPv4 first; within a family, the winning match is the last). */
  entries(): RestrictEntry[] {
    return [...this.#entries].sort(compareEntries).map(publicEntry);
  }
}

function publicEntry(e: Entry): RestrictEntry {
  return {
    prefix: e.prefix,
    flags: e.flags,
    match: e.rank === MATCH_ANY
      ? null
      : e.rank === MATCH_NTP
      ? "ntpport"
      : e.rank === MATCH_NON_NTP
      ? "non-ntpport"
      : "own",
    port: e.port,
  };
}

/** One entry as text: "192.0.2.0 mask 255.255.255.0 kod limited" (for logs and tests). */
export function formatRestrictEntry(e: RestrictEntry): string {
  const words = [formatIp(e.prefix.ip.bytes), "mask", formatIp(e.prefix.mask)];
  words.push(...restrictFlagNames(e.flags & ~RES_INTERFACE));
  if (e.match === "own") words.push(`interface port ${e.port}`);
  else if (e.match !== null) words.push(e.match);
  return words.join(" ");
}
