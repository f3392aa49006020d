// The access list of the access-control benchmark: 1,000 entries, none matching the load
// generator (127.0.0.1), written as ntp.conf `restrict` lines for Horae and as `allow`/`deny`
// lines for chronyd. Deterministic: the same list every run.

/** One entry: an address, its prefix length and what the entry does. */
export interface AccessEntry {
  address: string;
  prefixLength: number;
  /** Refuse (restrict ignore/noserve, chronyd deny) or grant (restrict flags, chronyd allow). */
  deny: boolean;
  /** Horae's restrict words. */
  words: string[];
}

const HORAE_WORDS = [["ignore"], ["noserve", "kod"], ["kod", "limited"], ["nomodify", "noquery"]];

/** `count` entries over 10/8, 172.16/12, 192.168/16 and 2001:db8::/32, mixed prefix lengths. */
export function accessEntries(count = 1000): AccessEntry[] {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const out: AccessEntry[] = [];
  const seen = new Set<string>();
  while (out.length < count) {
    const r = next();
    const kind = r % 10;
    let address: string;
    let prefixLength: number;
    if (kind < 2) {
      // IPv6: 2001:db8:xxxx:yyyy::/64 or a host.
      const a = (next() & 0xffff).toString(16);
      const b = (next() & 0xffff).toString(16);
      prefixLength = kind === 0 ? 64 : 128;
      const host = ((r >>> 8) & 0xffff || 1).toString(16);
      address = prefixLength === 64 ? `2001:db8:${a}:${b}::` : `2001:db8:${a}:${b}::${host}`;
    } else {
      const lengths = [32, 32, 32, 24, 24, 20, 16];
      prefixLength = lengths[(r >>> 4) % lengths.length]!;
      const base = kind < 6 ? 0x0a000000 : kind < 8 ? 0xac100000 : 0xc0a80000;
      const span = kind < 6 ? 24 : kind < 8 ? 20 : 16;
      const host = (next() & ((1 << span) - 1)) >>> 0;
      const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
      const v = ((base | host) & mask) >>> 0;
      address = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
    }
    const key = `${address}/${prefixLength}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const words = HORAE_WORDS[out.length % HORAE_WORDS.length]!;
    out.push({
      address,
      prefixLength,
      deny: words[0] === "ignore" || words[0] === "noserve",
      words,
    });
  }
  return out;
}

function maskText(family: 4 | 6, length: number): string {
  if (family === 4) {
    const m = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}`;
  }
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) {
    const bits = Math.max(0, Math.min(16, length - 16 * g));
    groups.push((bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  return groups.join(":");
}

/** The entries as ntp.conf `restrict` lines (address, mask, words). */
export function restrictLines(entries: readonly AccessEntry[]): string[] {
  return entries.map((e) => {
    const family = e.address.includes(":") ? 6 : 4;
    return `restrict ${e.address} mask ${maskText(family, e.prefixLength)} ${e.words.join(" ")}`;
  });
}

/** The entries as chronyd `allow`/`deny` lines. */
export function chronyLines(entries: readonly AccessEntry[]): string[] {
  return entries.map((e) => `${e.deny ? "deny" : "allow"} ${e.address}/${e.prefixLength}`);
}
