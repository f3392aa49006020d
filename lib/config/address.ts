// Address classification for configuration values: IP literals (parsed by lib/proto/ip.ts),
// hostnames and the reference clock pseudo-addresses 127.127.t.u (ntp.conf(5), ntp_clock).

import { ipFamilyOf } from "../proto/ip.ts";

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
  const family = ipFamilyOf(s);
  if (family === 4) return { kind: "ipv4" };
  if (family === 6) return { kind: "ipv6" };
  if (/^[0-9.]+$/.test(s)) return { kind: "invalid", reason: `"${s}" is not a valid IPv4 address` };
  if (s.includes(":")) return { kind: "invalid", reason: `"${s}" is not a valid IPv6 address` };
  if (isHostname(s)) return { kind: "hostname" };
  return { kind: "invalid", reason: `"${s}" is not a valid hostname or address` };
}
