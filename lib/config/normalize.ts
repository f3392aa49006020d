// Shared construction rules for both readers, so that an ntp.conf file and its TOML translation
// load to identical models: restrict defaults (ntp_acc) and canonical spelling and ordering.

import {
  type AddressFamily,
  INTERFACE_CLASSES,
  type NtpConfig,
  RESTRICT_FLAGS,
  type RestrictFlag,
  type RestrictRule,
  STAT_NAMES,
  type StatName,
} from "./config_model.ts";
import { classifyAddress } from "./address.ts";
import { formatIp, hostMaskText, parsePrefix, unspecifiedText } from "../proto/ip.ts";

/**
 * Builds the rules of one `restrict` line. `target` is "default", "source" or an address;
 * `default` without a family yields an IPv4 and an IPv6 rule; a literal without a mask gets the
 * all-ones host mask (255.255.255.255 for IPv4); a literal fixes the family when none was given.
 */
export function restrictRulesFor(
  target: string,
  family: AddressFamily,
  mask: string | null,
  flags: readonly string[],
): RestrictRule[] {
  const cleanFlags = sortFlags(flags);
  if (target === "default") {
    const families: ("ipv4" | "ipv6")[] = family === "any" ? ["ipv4", "ipv6"] : [family];
    return families.map((f) => ({
      match: "default",
      address: unspecifiedText(f === "ipv4" ? 4 : 6),
      mask: unspecifiedText(f === "ipv4" ? 4 : 6),
      family: f,
      flags: [...cleanFlags],
    }));
  }
  if (target === "source") {
    return [{ match: "source", address: "", mask: null, family, flags: cleanFlags }];
  }
  // COMPAT: a prefix ("192.0.2.0/24", as NTPsec accepts) is the address and its mask.
  if (target.includes("/") && mask === null) {
    const p = parsePrefix(target);
    if (p.ok) {
      return restrictRulesFor(formatIp(p.prefix.ip.bytes), family, formatIp(p.prefix.mask), flags);
    }
  }
  const c = classifyAddress(target);
  let fam = family;
  if (fam === "any" && (c.kind === "ipv4" || c.kind === "refclock")) fam = "ipv4";
  if (fam === "any" && c.kind === "ipv6") fam = "ipv6";
  let m = mask;
  if (m === null && (c.kind === "ipv4" || c.kind === "ipv6" || c.kind === "refclock")) {
    m = hostMaskText(c.kind === "ipv6" ? 6 : 4);
  }
  return [{ match: "address", address: target, mask: m, family: fam, flags: cleanFlags }];
}

/** Restrict flags sorted in the model's canonical order, without duplicates. */
export function sortFlags(flags: readonly string[]): RestrictFlag[] {
  const set = new Set(flags);
  const known = RESTRICT_FLAGS.filter((f) => set.has(f));
  const unknown = [...set].filter((f) => !(RESTRICT_FLAGS as readonly string[]).includes(f))
    .sort();
  return [...known, ...unknown as RestrictFlag[]];
}

/** Statistics names sorted, without duplicates (unknown names kept at the end for validation). */
export function sortStats(names: readonly string[]): StatName[] {
  const set = new Set(names);
  const known = STAT_NAMES.filter((n) => set.has(n));
  const unknown = [...set].filter((n) => !(STAT_NAMES as readonly string[]).includes(n)).sort();
  return [...known, ...unknown as StatName[]];
}

/**
 * Puts a model into canonical form in place: sorted key and statistics sets, `broadcastclient`
 * and `enable bclient` made the same thing, interface address-class words in lower case. Both
 * readers call it last.
 */
export function normalizeConfig(config: NtpConfig): NtpConfig {
  for (const r of config.interfaces) {
    const lower = r.match.toLowerCase();
    if (INTERFACE_CLASSES.includes(lower)) r.match = lower;
  }
  config.auth.trustedKeys = [...new Set(config.auth.trustedKeys)].sort((a, b) => a - b);
  config.stats.enabled = sortStats(config.stats.enabled);
  for (const r of config.restrict) r.flags = sortFlags(r.flags);
  const bclient = config.broadcast.client || config.system.bclient;
  config.broadcast.client = bclient;
  config.system.bclient = bclient;
  return config;
}
