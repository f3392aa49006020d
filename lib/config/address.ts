// Address syntax checks for configuration values: IPv4/IPv6 literals, hostnames and the
// reference clock pseudo-addresses 127.127.t.u (ntp.conf(5), ntp_clock).

/** What an address string is. */
export type AddressClass =
  | { kind: "ipv4" }
  | { kind: "ipv6" }
  | { kind: "hostname" }
  | { kind: "refclock"; type: number; unit: number }
  | { kind: "invalid"; reason: string };

/** Highest reference clock driver type accepted. */
export const MAX_REFCLOCK_TYPE = 46;
/** Highest reference clock unit accepted. */
export const MAX_REFCLOCK_UNIT = 255;

/** True for a dotted-quad IPv4 literal with every part 0–255. */
export function isIpv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  return parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

/** True for an IPv6 literal (optionally with an embedded IPv4 tail and a %zone). */
export function isIpv6(s: string): boolean {
  let text = s;
  const pct = text.indexOf("%");
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(zone)) return false;
    text = text.slice(0, pct);
  }
  if (!text.includes(":")) return false;
  const groupsNeeded = 8;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    // An embedded IPv4 tail counts as two 16-bit groups.
    if (!isIpv4(tail)) return false;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const groupsOf = (h: string): string[] | null => {
    if (h === "") return [];
    const g = h.split(":");
    return g.every((x) => hex.test(x)) ? g : null;
  };
  if (halves.length === 1) {
    const g = groupsOf(halves[0] ?? "");
    return g !== null && g.length === groupsNeeded;
  }
  const a = groupsOf(halves[0] ?? "");
  const b = groupsOf(halves[1] ?? "");
  return a !== null && b !== null && a.length + b.length < groupsNeeded;
}

/** True for a DNS hostname (RFC 1123 labels; underscores tolerated, a trailing dot allowed). */
export function isHostname(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (labels.every((l) => /^[0-9]+$/.test(l))) return false; // looks like a broken IPv4 literal
  return labels.every((l) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

/** Classifies an address token; a 127.127.t.u address is a refclock. */
export function classifyAddress(s: string): AddressClass {
  const ref = /^127\.127\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(s);
  if (ref) {
    const type = Number(ref[1]);
    const unit = Number(ref[2]);
    if (type < 1 || type > MAX_REFCLOCK_TYPE) {
      return {
        kind: "invalid",
        reason: `reference clock type ${type} is not in 1–${MAX_REFCLOCK_TYPE}`,
      };
    }
    if (unit > MAX_REFCLOCK_UNIT) {
      return {
        kind: "invalid",
        reason: `reference clock unit ${unit} is not in 0–${MAX_REFCLOCK_UNIT}`,
      };
    }
    return { kind: "refclock", type, unit };
  }
  if (isIpv4(s)) return { kind: "ipv4" };
  if (isIpv6(s)) return { kind: "ipv6" };
  if (/^[0-9.]+$/.test(s)) return { kind: "invalid", reason: `"${s}" is not a valid IPv4 address` };
  if (s.includes(":")) return { kind: "invalid", reason: `"${s}" is not a valid IPv6 address` };
  if (isHostname(s)) return { kind: "hostname" };
  return { kind: "invalid", reason: `"${s}" is not a valid hostname or address` };
}

/** The all-ones host mask of a family. */
export function hostMask(family: "ipv4" | "ipv6"): string {
  return family === "ipv4" ? "255.255.255.255" : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
}

/** The all-zeros mask (and address) of a family. */
export function anyAddress(family: "ipv4" | "ipv6"): string {
  return family === "ipv4" ? "0.0.0.0" : "::";
}
