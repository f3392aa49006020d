// Which local addresses the daemon serves: ntp.conf's `interface`/`nic` rules and ntpd's -I and -L
// options applied to the host's addresses (ntp.conf(5) "interface", ntpd(8) -I/-L), and Horae's
// own --listen. The result is a list of sockets to bind, each answering ("listen") or opened only
// to swallow what arrives ("drop").
//
// Rules: the last rule matching an address decides. `all` matches every address but the wildcard
// and loopback ones; `ipv4`/`ipv6` the same within one family; `wildcard` the unspecified
// addresses; otherwise an interface name, an address or a prefix. An address no rule matches is
// served when it is a loopback address, or when no rule names specific addresses to listen on.
// COMPAT: ntpd serves every unmatched address, so `interface listen 127.0.0.1` alone changes
// nothing there; Horae reads a listen rule naming an address, prefix or interface (and -I) as the
// list of what to serve, which is what such lines are written for.
//
// Sockets: with no rule at all (or when every address of a family is served and the wildcard is
// not refused) one wildcard socket per family serves everything, addresses added later included.
// Otherwise each served address gets its own socket and the wildcard is not opened: a wildcard
// socket would answer on the refused addresses too.

import type { SocketAddress } from "../net/transport.ts";
import { parseIp, parsePrefix, prefixContains } from "../proto/ip.ts";
import { familyAllows, type ResolveFamily } from "./resolver.ts";

/** What an interface rule does with the addresses it matches. */
export type InterfaceAction = "listen" | "ignore" | "drop";

/** One `interface`/`nic` rule (or a -I option turned into one). */
export interface InterfaceRuleSetting {
  action: InterfaceAction;
  /** all, ipv4, ipv6, wildcard, an interface name, an address or address/prefix. */
  match: string;
}

/** One address of the host (Deno.networkInterfaces()). */
export interface HostAddress {
  /** Interface name ("lo", "eth0", "eth0:1" for an alias). */
  name: string;
  family: 4 | 6;
  /** The address, without a zone. */
  address: string;
  /** IPv6 scope id (link-local addresses need it to bind), else null. */
  scopeId: number | null;
}

/** What decides the sockets. */
export interface ListenRequest {
  /** UDP port to serve on. */
  port: number;
  /** -4 / -6. */
  family: ResolveFamily;
  /** Horae's --listen addresses (with their ports): exactly these, whatever the rules say. */
  explicit: readonly SocketAddress[];
  /** `interface`/`nic` rules in file order. */
  rules: readonly InterfaceRuleSetting[];
  /** -I: interface names or addresses to serve (ntpd: the configured rules are then unused). */
  interfaceOptions: readonly string[];
  /** -L: do not serve virtual (alias) interfaces, those whose name has a colon. */
  noVirtual: boolean;
}

/** One socket to open. */
export interface ListenBind {
  address: SocketAddress;
  /** "listen": answer; "drop": read and discard everything (counted). */
  action: "listen" | "drop";
  /** True for 0.0.0.0 / ::. */
  wildcard: boolean;
  /** The daemon's own addresses this socket serves (restrict's "never answer yourself"). */
  own: string[];
}

/** The sockets to open, and what to log about them. */
export interface ListenPlan {
  binds: ListenBind[];
  /** One line per decision worth logging. */
  notes: string[];
  /** Configuration that cannot be honoured as written. */
  warnings: string[];
}

/** The host's addresses, from the runtime (empty when it may not list them). */
export function hostAddresses(): HostAddress[] {
  try {
    return Deno.networkInterfaces().map((i) => ({
      name: i.name,
      family: i.family === "IPv6" ? 6 as const : 4 as const,
      address: i.address.replace(/%.*$/, ""),
      scopeId: i.family === "IPv6" && i.scopeid !== null && i.scopeid !== 0 ? i.scopeid : null,
    }));
  } catch {
    return [];
  }
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(family: 4 | 6, address: string): boolean {
  const r = parseIp(address);
  if (!r.ok) return false;
  const b = r.ip.bytes;
  if (family === 4) return b[0] === 127;
  return b.every((x, i) => x === (i === 15 ? 1 : 0));
}

const CLASSES = new Set(["all", "ipv4", "ipv6", "wildcard"]);

/** A candidate for the rules: a host address, or a family's wildcard (name null). */
interface Candidate {
  family: 4 | 6;
  address: string;
  name: string | null;
  wildcard: boolean;
  loopback: boolean;
}

function matches(match: string, c: Candidate): boolean {
  switch (match) {
    case "all":
      return !c.wildcard && !c.loopback;
    case "ipv4":
      return c.family === 4 && !c.wildcard && !c.loopback;
    case "ipv6":
      return c.family === 6 && !c.wildcard && !c.loopback;
    case "wildcard":
      return c.wildcard;
  }
  const p = parsePrefix(match);
  if (!p.ok) return c.name !== null && c.name === match;
  const ip = parseIp(c.address);
  return ip.ok && ip.ip.family === p.prefix.ip.family && prefixContains(p.prefix, ip.ip);
}

/** True when a listen rule names what to serve (an interface, an address or a prefix). */
function namesWhatToServe(rules: readonly InterfaceRuleSetting[]): boolean {
  return rules.some((r) => r.action === "listen" && !CLASSES.has(r.match));
}

function wildcardText(family: 4 | 6): string {
  return family === 4 ? "0.0.0.0" : "::";
}

function bindAddress(h: HostAddress, port: number): SocketAddress {
  const zone = h.family === 6 && h.scopeId !== null ? `%${h.scopeId}` : "";
  return { family: h.family, address: `${h.address}${zone}`, port };
}

/** Decides the sockets for `req` on a host with `host` addresses. */
export function planListen(req: ListenRequest, host: readonly HostAddress[]): ListenPlan {
  const plan: ListenPlan = { binds: [], notes: [], warnings: [] };
  const fromCommandLine = req.interfaceOptions.length > 0 || req.noVirtual;

  if (req.explicit.length > 0) {
    if (req.rules.length > 0 || fromCommandLine) {
      plan.warnings.push(
        "--listen names the addresses to serve: interface/nic rules and -I/-L are not applied",
      );
    }
    for (const a of req.explicit) {
      if (!familyAllows(req.family, a.family)) continue;
      const bare = a.address.replace(/%.*$/, "");
      const ip = parseIp(bare);
      const wildcard = ip.ok && ip.ip.bytes.every((x) => x === 0);
      plan.binds.push({
        address: { ...a },
        action: "listen",
        wildcard,
        own: wildcard ? ownOfFamily(host, a.family) : [bare],
      });
    }
    return plan;
  }

  let rules: InterfaceRuleSetting[];
  if (fromCommandLine) {
    if (req.rules.length > 0) {
      plan.notes.push("-I/-L given: the configuration's interface/nic rules are not applied");
    }
    rules = req.interfaceOptions.map((m) => ({ action: "listen" as const, match: m }));
  } else {
    rules = [...req.rules];
  }
  const noRules = rules.length === 0;
  const onlyNamed = namesWhatToServe(rules);

  for (const family of [4, 6] as const) {
    if (!familyAllows(req.family, family)) continue;
    const seen = new Set<string>();
    const mine = host.filter((h) => {
      if (h.family !== family || seen.has(h.address)) return false;
      seen.add(h.address);
      return true;
    });
    const decided = mine.map((h) => {
      const c: Candidate = {
        family,
        address: h.address,
        name: h.name,
        wildcard: false,
        loopback: isLoopback(family, h.address),
      };
      let action: InterfaceAction | null = null;
      for (const r of rules) if (matches(r.match, c)) action = r.action;
      let why = action === null ? "" : "rule";
      if (action === null) {
        if (req.noVirtual && h.name.includes(":")) {
          action = "ignore";
          why = "-L: virtual interface";
        } else if (c.loopback) {
          action = "listen";
          why = "loopback";
        } else if (onlyNamed) {
          action = "ignore";
          why = "no listen rule names it";
        } else {
          action = "listen";
          why = "default";
        }
      }
      return { h, action, why };
    });
    const w: Candidate = {
      family,
      address: wildcardText(family),
      name: null,
      wildcard: true,
      loopback: false,
    };
    let wildAction: InterfaceAction | null = null;
    for (const r of rules) if (matches(r.match, w)) wildAction = r.action;
    const wildExplicit = wildAction !== null;
    wildAction ??= noRules ? "listen" : "ignore";

    const refused = decided.filter((d) => d.action !== "listen");
    if (wildAction === "listen" && refused.length === 0) {
      plan.binds.push({
        address: { family, address: wildcardText(family), port: req.port },
        action: "listen",
        wildcard: true,
        own: ownOfFamily(host, family),
      });
      if (!noRules) plan.notes.push(`interface ${wildcardText(family)}: listen (every address)`);
      continue;
    }
    if (wildAction === "listen" && wildExplicit) {
      plan.warnings.push(
        `interface listen wildcard would also answer on ${
          refused.map((d) => d.h.address).join(", ")
        }: serving each listened address on its own socket instead`,
      );
    }
    if (!noRules || req.noVirtual) {
      plan.notes.push(
        `interface ${wildcardText(family)}: not opened (${
          wildExplicit && wildAction !== "listen" ? `rule: ${wildAction}` : "each address instead"
        })`,
      );
    }
    for (const d of decided) {
      plan.notes.push(`interface ${d.h.name} ${d.h.address}: ${d.action} (${d.why})`);
      if (d.action === "ignore") continue;
      plan.binds.push({
        address: bindAddress(d.h, req.port),
        action: d.action,
        wildcard: false,
        own: [d.h.address],
      });
    }
  }
  return plan;
}

function ownOfFamily(host: readonly HostAddress[], family: 4 | 6): string[] {
  const out: string[] = [];
  for (const h of host) if (h.family === family && !out.includes(h.address)) out.push(h.address);
  return out;
}
