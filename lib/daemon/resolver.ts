// Name resolution for `server` and `pool` sources (ntpd resolves names asynchronously, honours
// -4/-6 and re-resolves names that stop answering): literals, /etc/hosts, then DNS.

import { formatIp, parseIp } from "../proto/ip.ts";

/** Which address families a lookup may return (`-4`, `-6`, or both). */
export type ResolveFamily = "any" | "ipv4" | "ipv6";

/** One resolved address (canonical text, no brackets, no port). */
export interface ResolvedAddress {
  family: 4 | 6;
  address: string;
}

/** A lookup's outcome: addresses in preference order, or why there are none. Never throws. */
export type ResolveResult =
  | { ok: true; addresses: ResolvedAddress[] }
  | { ok: false; reason: string };

/** Resolves a host name or address literal. Implementations never throw. */
export type Resolver = (name: string, family: ResolveFamily) => Promise<ResolveResult>;

/** How long one DNS query may take (ms). */
export const DNS_TIMEOUT_MS = 5000;

/** True when `family` allows addresses of `f`. */
export function familyAllows(family: ResolveFamily, f: 4 | 6): boolean {
  return family === "any" || (family === "ipv4") === (f === 4);
}

/** An IP literal as a resolved address (canonical form), or null when `text` is a name. */
export function literalAddress(text: string): ResolvedAddress | null {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  const p = parseIp(bare);
  if (!p.ok) return null;
  return { family: p.ip.family, address: formatIp(p.ip.bytes, p.ip.zone) };
}

/** Parses hosts-file text: the addresses listed for `name` (case-insensitive), in file order. */
export function hostsLookup(text: string, name: string): ResolvedAddress[] {
  const want = name.toLowerCase().replace(/\.$/, "");
  const out: ResolvedAddress[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [addr, ...names] = line.split(/\s+/);
    if (addr === undefined) continue;
    if (!names.some((n) => n.toLowerCase().replace(/\.$/, "") === want)) continue;
    const lit = literalAddress(addr);
    if (lit !== null && !out.some((a) => a.address === lit.address)) out.push(lit);
  }
  return out;
}

/** Options of {@link systemResolver}. */
export interface SystemResolverOptions {
  /** Hosts file to consult first (default /etc/hosts; null to skip). */
  hostsFile?: string | null;
  /** DNS timeout per query (ms). */
  timeoutMs?: number;
}

/**
 * The resolver the daemon uses: IP literals as they are, then the hosts file, then DNS
 * (`Deno.resolveDns`, A before AAAA) with a timeout. Failures come back as a reason.
 */
export function systemResolver(opts: SystemResolverOptions = {}): Resolver {
  const hostsFile = opts.hostsFile === undefined ? "/etc/hosts" : opts.hostsFile;
  const timeoutMs = opts.timeoutMs ?? DNS_TIMEOUT_MS;
  return async (name, family) => {
    const lit = literalAddress(name);
    if (lit !== null) {
      return familyAllows(family, lit.family)
        ? { ok: true, addresses: [lit] }
        : { ok: false, reason: `${name} is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address` };
    }
    if (hostsFile !== null) {
      try {
        const hosts = hostsLookup(await Deno.readTextFile(hostsFile), name)
          .filter((a) => familyAllows(family, a.family));
        if (hosts.length > 0) return { ok: true, addresses: hosts };
      } catch { /* no hosts file: DNS only */ }
    }
    const addresses: ResolvedAddress[] = [];
    const reasons: string[] = [];
    const kinds: ("A" | "AAAA")[] = family === "ipv4"
      ? ["A"]
      : family === "ipv6"
      ? ["AAAA"]
      : ["A", "AAAA"];
    for (const kind of kinds) {
      try {
        const records = await Deno.resolveDns(name, kind, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        for (const r of records) {
          const a = literalAddress(r);
          if (a !== null && !addresses.some((x) => x.address === a.address)) addresses.push(a);
        }
      } catch (e) {
        reasons.push(`${kind}: ${dnsErrorText(e)}`);
      }
    }
    if (addresses.length > 0) return { ok: true, addresses };
    return { ok: false, reason: reasons.length > 0 ? reasons.join("; ") : "no addresses" };
  };
}

/** A short reason for a failed lookup (Deno's messages carry the resolver's debug dump). */
export function dnsErrorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such name";
  if (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return "timed out";
  }
  const m = (e as Error).message ?? String(e);
  if (/no records found/i.test(m)) return "no records";
  return m.replace(/ for Query \{.*$/s, "").slice(0, 120);
}
