// ntpq's output formats for `horae query`: the peers billboard (tally codes, the 80-column layout
// and 8-character numbers NTPsec's ntpq prints), the associations table, status word texts,
// cooked variable lists (leap in binary, reach in octal, timestamps as dates, flash bits by name)
// and the MRU list.

import { PEER_EVENT_NAMES, SYSTEM_EVENT_NAMES } from "../proto/events.ts";
import {
  CLOCK_STATUS_NAMES,
  LEAP_NAMES,
  SELECT_NAMES,
  SELECT_TALLY,
  SYNC_SOURCE_NAMES,
} from "../proto/control/control_vars.ts";
import { unquote, type VarItem } from "../proto/control/var_list.ts";
import type { MruList } from "./query_client.ts";
import { ntpHexSeconds } from "./query_client.ts";

/** Seconds from 1900 (NTP) to 1970 (Unix). */
export const NTP_UNIX_OFFSET_SEC = 2_208_988_800;

function events(n: number): string {
  return n === 0 ? "no events" : n === 1 ? "1 event" : `${n} events`;
}

/** The system status word as ntpq writes it: `leap_none, sync_ntp, 1 event, clock_sync`. */
export function systemStatusText(status: number): string {
  const leap = LEAP_NAMES[(status >> 14) & 3]!;
  const src = (status >> 8) & 0x3f;
  const source = SYNC_SOURCE_NAMES[src] ?? `sync_${src}`;
  const ev = status & 0xf;
  return `${leap}, ${source}, ${events((status >> 4) & 0xf)}, ${SYSTEM_EVENT_NAMES[ev] ?? ev}`;
}

/** The peer status word as ntpq writes it: `conf, reach, sel_sys.peer, 1 event, sys_peer`. */
export function peerStatusText(status: number): string {
  const b = status >> 8;
  const flags: string[] = [];
  if (b & 0x80) flags.push("conf");
  if (b & 0x40) flags.push("authenb");
  if (b & 0x20) flags.push("auth");
  if (b & 0x10) flags.push("reach");
  if (b & 0x08) flags.push("bcast");
  flags.push(`sel_${SELECT_NAMES[b & 7]}`);
  const ev = status & 0xf;
  flags.push(events((status >> 4) & 0xf), PEER_EVENT_NAMES[ev] || "unspecified");
  return flags.join(", ");
}

/** The clock status word: `clk_unspec, last_clk_unspec`. */
export function clockStatusText(status: number): string {
  const name = (k: number) => CLOCK_STATUS_NAMES[k] ?? `clk_${k}`;
  return `${name(status >> 8)}, last_${name(status & 0xff)}`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A hex NTP timestamp with its date (local time), as ntpq shows `reftime`. */
export function prettyDate(hexText: string, utc = false): string {
  const m = /^(?:0x)?([0-9a-fA-F]{8})\.([0-9a-fA-F]{8})$/.exec(hexText.trim());
  if (m === null) return hexText;
  const sec = ntpHexSeconds(hexText);
  if (sec === 0) return `${m[1]}.${m[2]}  (no time)`;
  // Era 0 before 2036; a timestamp below 1968 is taken as era 1.
  const unix = (sec < 2_147_483_648 ? sec + 2 ** 32 : sec) - NTP_UNIX_OFFSET_SEC;
  const d = new Date(Math.floor(unix * 1000));
  const g = utc
    ? [d.getUTCDay(), d.getUTCMonth(), d.getUTCDate(), d.getUTCFullYear(), d.getUTCHours()]
    : [d.getDay(), d.getMonth(), d.getDate(), d.getFullYear(), d.getHours()];
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  const two = (x: number) => String(x).padStart(2, "0");
  return `${m[1]!.toLowerCase()}.${m[2]!.toLowerCase()}  ${DAYS[g[0]!]}, ${MONTHS[g[1]!]} ` +
    `${String(g[2]).padStart(2)} ${g[3]} ${two(g[4]!)}:${two(mi)}:${two(s)}.` +
    String(d.getUTCMilliseconds()).padStart(3, "0");
}

const FLASH_NAMES = [
  "pkt_dup",
  "pkt_bogus",
  "pkt_unsync",
  "pkt_denied",
  "pkt_auth",
  "pkt_stratum",
  "pkt_header",
  "pkt_autokey",
  "pkt_crypto",
  "peer_stratum",
  "peer_dist",
  "peer_loop",
  "peer_unreach",
];

const TIMESTAMP_VARS = new Set(["reftime", "clock", "org", "rec", "xmt", "leapsec", "expire"]);
const FILTER_VARS = new Set(["filtdelay", "filtoffset", "filtdisp", "filterror"]);

/** One variable's value as ntpq shows it in cooked mode. */
export function cookValue(name: string, value: string | null): string {
  if (value === null) return "";
  if (TIMESTAMP_VARS.has(name)) return prettyDate(value);
  const n = Number(value);
  if (name === "leap" && Number.isInteger(n) && n >= 0 && n <= 3) {
    return n.toString(2).padStart(2, "0");
  }
  if (name === "reach" && Number.isInteger(n)) return n.toString(8).padStart(3, "0");
  if (name === "flash" && Number.isInteger(n)) {
    const hex = n.toString(16).padStart(2, "0");
    if (n === 0) return `${hex} ok`;
    return [hex, ...FLASH_NAMES.filter((_, i) => (n & (1 << i)) !== 0)].join(" ");
  }
  if (FILTER_VARS.has(name)) return value.trim().split(/\s+/).join("\t");
  return value;
}

/**
 * A variable list in ntpq's layout: `name=value` items joined by ", ", a new line before an
 * item that would pass `width` columns, the last line ending without a comma.
 */
export function formatVars(vars: readonly VarItem[], cooked: boolean, width = 78): string {
  let text = "";
  let line = 0;
  for (const [k, v] of vars.entries()) {
    const value = cooked ? cookValue(v.name, v.value) : v.value;
    const name = cooked && FILTER_VARS.has(v.name) ? `${v.name.padStart(10)} ` : v.name;
    let item = value === null ? name : `${name}=${value}`;
    item += k < vars.length - 1 ? ", " : "";
    if (line > 0 && line + item.length > width) {
      text = text.trimEnd() + "\n";
      line = 0;
    }
    text += item;
    line += item.length;
  }
  return text.trimEnd() + "\n";
}

/** ntpq's interval display: seconds up to 2048, then minutes, hours and days; "-" for none. */
export function prettyInterval(sec: number): string {
  if (!Number.isFinite(sec) || sec <= 0) return "-";
  let d = Math.floor(sec);
  if (d <= 0) return "-";
  if (d <= 2048) return String(d);
  let f = (d + 29) / 60;
  if (f <= 300) return `${Math.floor(f)}m`;
  f = (f + 29) / 60;
  if (f <= 96) return `${Math.floor(f)}h`;
  d = Math.floor((f + 11) / 24);
  return `${d}d`;
}

function pyFixed(x: number, width: number, digits: number): string {
  return x.toFixed(digits).padStart(width);
}

/** A number in 8 characters with 4 decimals when it fits (NTPsec's f8dot4). */
export function f8dot4(x: number): string {
  if (!Number.isFinite(x)) return "     nan";
  if (x >= 0) {
    if (x < 1000) return pyFixed(x, 8, 4);
    if (x < 10000) return pyFixed(x, 8, 3);
    if (x < 100000) return pyFixed(x, 8, 2);
    if (x < 1000000) return pyFixed(x, 8, 1);
  } else {
    if (x > -100) return pyFixed(x, 8, 4);
    if (x > -1000) return pyFixed(x, 8, 3);
    if (x > -10000) return pyFixed(x, 8, 2);
    if (x > -100000) return pyFixed(x, 8, 1);
  }
  return String(Math.trunc(x)).padStart(8);
}

/** A number in 8 characters with 3 decimals when it fits (NTPsec's f8dot3). */
export function f8dot3(x: number): string {
  if (!Number.isFinite(x)) return "     nan";
  if (x >= 0) {
    if (x < 10000) return pyFixed(x, 8, 3);
    if (x < 100000) return pyFixed(x, 8, 2);
    if (x < 1000000) return pyFixed(x, 8, 1);
  } else {
    if (x > -1000) return pyFixed(x, 8, 3);
    if (x > -10000) return pyFixed(x, 8, 2);
    if (x > -100000) return pyFixed(x, 8, 1);
  }
  return String(Math.trunc(x)).padStart(8);
}

/** Which billboard: `peers` (refid, jitter), `opeers` (local address, dispersion), `apeers`. */
export type PeersMode = "peers" | "opeers" | "apeers";

const NAME_WIDTH = 15;
const REFID_WIDTH = 15;

/** The billboard's header line and rule. */
export function peersHeader(mode: PeersMode): string {
  const remote = "     remote    ".padEnd(NAME_WIDTH);
  const common = "st t when poll reach   delay   offset   ";
  const head = mode === "apeers"
    ? `${remote}${"   refid   assid  ".padEnd(REFID_WIDTH)}${common}jitter`
    : mode === "opeers"
    ? `${remote}${"       local      ".padEnd(REFID_WIDTH)}${common}  disp`
    : `${remote}${"       refid      ".padEnd(REFID_WIDTH)}${common}jitter`;
  return `${head}\n${"=".repeat(79)}\n`;
}

/** What a billboard line is made of. */
export interface PeerLine {
  associd: number;
  /** The peer status word of the READVAR answer. */
  status: number;
  vars: readonly VarItem[];
}

/**
 * One billboard line (NTPsec's layout): tally, remote, refid (or local address), stratum, type,
 * when, poll, reach in octal, delay, offset and jitter (or dispersion) in ms.
 */
export function peerLine(
  p: PeerLine,
  mode: PeersMode,
  nowNtpSec: number,
  numeric: boolean,
  wide = false,
): string {
  const v = new Map(p.vars.map((i) => [i.name, i.value === null ? "" : unquote(i.value)]));
  const num = (name: string, dflt: number) => {
    const s = v.get(name);
    if (s === undefined || s === "") return dflt;
    const n = Number(s);
    return Number.isFinite(n) ? n : dflt;
  };
  const srcadr = v.get("srcadr") ?? v.get("peeradr") ?? "";
  const srchost = v.get("srchost") ?? "";
  const hmode = num("hmode", 0);
  const refid = v.get("refid") ?? "";
  let ptype = "?";
  // A group: IPv4 224.0.0.0/4 or IPv6 ff00::/8.
  const first = Number(srcadr.split(".")[0]);
  const group = srcadr.includes(":") ? /^ff/i.test(srcadr) : first >= 224 && first <= 239;
  // As ntpq: a broadcast or multicast client is "b" (its dstadr names the group of the latter).
  if (hmode === 6) ptype = "b";
  else if (hmode === 5) ptype = group ? "M" : "B";
  else if (hmode === 3) {
    if (srchost.includes("(")) ptype = "l";
    else if (refid === "POOL") ptype = "p";
    else if (group) ptype = "a";
    else ptype = "u";
  } else if (hmode === 1) ptype = "s";
  else if (hmode === 2) ptype = "S";
  let name = srcadr;
  if (srcadr === "" || srcadr === "0.0.0.0" || srcadr === "::" || srcadr.startsWith("127.127.")) {
    name = srchost || srcadr;
  } else if (!numeric && srchost !== "") name = srchost;
  const tally = SELECT_TALLY[(p.status >> 8) & 7]!;
  // -w: a long name gets a line of its own, the columns follow on the next.
  let line = wide && name.length > NAME_WIDTH
    ? `${tally}${name}\n${" ".repeat(NAME_WIDTH + 2)}`
    : `${tally}${name.slice(0, NAME_WIDTH).padEnd(NAME_WIDTH)} `;
  let visible = mode === "opeers" ? (v.get("dstadr") ?? "") : refid;
  if (!visible.includes(".") && !visible.includes(":")) visible = `.${visible}.`;
  if (mode === "apeers") {
    if (visible.length >= REFID_WIDTH - 7) visible = "...";
    line += `${visible}${" ".repeat(Math.max(0, REFID_WIDTH - visible.length - 7 + 1))}`;
    line += String(p.associd).padEnd(6);
  } else {
    const shown = visible.length <= REFID_WIDTH ? visible : `-${visible.slice(-REFID_WIDTH + 1)}`;
    line += shown + " ".repeat(Math.max(0, REFID_WIDTH - visible.length));
  }
  const rec = v.get("rec");
  const reftime = v.get("reftime");
  const stamp = rec !== undefined
    ? ntpHexSeconds(rec)
    : reftime !== undefined
    ? ntpHexSeconds(reftime)
    : 0;
  const when = stamp > 0 ? prettyInterval(Math.floor(nowNtpSec - stamp)) : "-";
  const hpoll = num("hpoll", 0), ppoll = num("ppoll", 0);
  const poll = prettyInterval(2 ** Math.min(hpoll < 0 ? 4 : hpoll, ppoll < 0 ? 4 : ppoll));
  const reach = num("reach", 0);
  const rawDelay = v.get("delay") ?? "";
  const six = rawDelay.length > 6 && rawDelay[rawDelay.length - 7] === ".";
  const fmt = six ? f8dot4 : f8dot3;
  const last = mode === "opeers" || !v.has("jitter")
    ? num("dispersion", num("rootdisp", 0))
    : num("jitter", 0);
  const stratum = num("stratum", 16);
  line += ` ${String(stratum).padStart(2)} ${ptype} ${when.slice(0, 4).padStart(4)} ` +
    `${poll.slice(0, 4).padStart(4)}  ${reach.toString(8).padStart(3)} ` +
    `${fmt(num("delay", 0))} ${fmt(num("offset", 0))} ${fmt(last)}`;
  return `${line}\n`;
}

/** What a row of `associations` is made of. */
export interface AssociationRow {
  id: number;
  status: number;
}

/** The associations table (ntpq `as`), numbered from 1. */
export function associationsTable(rows: readonly AssociationRow[]): string {
  let out = "\nind assid status  conf reach auth condition  last_event cnt\n";
  out += `${"=".repeat(59)}\n`;
  rows.forEach((r, i) => {
    const b = r.status >> 8;
    const conf = (b & 0x80) ? "yes" : "no";
    const reach = (b & 0x08) ? "none" : (b & 0x10) ? "yes" : "no";
    const auth = (b & 0x40) === 0 ? "none" : (b & 0x20) ? "ok " : "bad";
    const cond = SELECT_NAMES[b & 7]!;
    const ev = r.status & 0xf;
    const last = ev >= 1 && ev <= 11 ? PEER_EVENT_NAMES[ev]! : "";
    out += `${String(i + 1).padStart(3)} ${String(r.id).padStart(5)}  ` +
      `${r.status.toString(16).padStart(4, "0")}   ${conf.slice(0, 3).padStart(3)}  ` +
      `${reach.padStart(4)}  ${auth.slice(0, 4).padStart(4)} ${cond.slice(0, 9).padStart(9)} ` +
      `${last.padStart(11)} ${String((r.status >> 4) & 0xf).padStart(2)}\n`;
  });
  return out;
}

/** The MRU list, newest first, in ntpq 4.2.8's layout. */
export function mruTable(list: MruList): string {
  const head = "lstint avgint rstr r m v  count rport remote address";
  let out = `${head}\n${"=".repeat(78)}\n`;
  const now = list.now ?? NaN;
  for (const e of [...list.rows].reverse()) {
    const lstint = Math.floor(now - e.last + 0.5);
    const avg = e.count > 1 ? Math.floor((e.last - e.first) / (e.count - 1) + 0.5) : 0;
    const code = (e.restrict & 0x400) !== 0 ? "K" : (e.restrict & 0x20) !== 0 ? "L" : ".";
    const at = e.addr.lastIndexOf(":");
    const host = e.addr.slice(0, at).replace(/^\[|\]$/g, "");
    const port = e.addr.slice(at + 1);
    out +=
      `${String(Number.isFinite(lstint) ? lstint : 0).padStart(6)} ${String(avg).padStart(6)} ` +
      `${e.restrict.toString(16).padStart(4)} ${code} ${e.mode} ${e.version} ` +
      `${String(e.count).padStart(6)} ${port.padStart(5)} ${host}\n`;
  }
  return out;
}

/** Labels of `sysstats` (ntpq's), by variable. */
export const SYSSTATS_LABELS: readonly [string, string][] = [
  ["ss_uptime", "uptime:"],
  ["ss_reset", "sysstats reset:"],
  ["ss_received", "packets received:"],
  ["ss_thisver", "current version:"],
  ["ss_oldver", "older version:"],
  ["ss_badformat", "bad length or format:"],
  ["ss_badauth", "authentication failed:"],
  ["ss_declined", "declined:"],
  ["ss_restricted", "restricted:"],
  ["ss_limited", "rate limited:"],
  ["ss_kodsent", "KoD responses:"],
  ["ss_processed", "processed for time:"],
];

/** Labels of `sysinfo` (ntpq's), by variable. */
export const SYSINFO_LABELS: readonly [string, string][] = [
  ["peeradr", "system peer:"],
  ["peermode", "system peer mode:"],
  ["leap", "leap indicator:"],
  ["stratum", "stratum:"],
  ["precision", "log2 precision:"],
  ["rootdelay", "root delay:"],
  ["rootdisp", "root dispersion:"],
  ["refid", "reference ID:"],
  ["reftime", "reference time:"],
  ["sys_jitter", "system jitter:"],
  ["clk_jitter", "clock jitter:"],
  ["clk_wander", "clock wander:"],
];

/** A labelled report (`sysstats`, `sysinfo`): one `label value` line per variable present. */
export function labelled(labels: readonly [string, string][], vars: readonly VarItem[]): string {
  const v = new Map(vars.map((i) => [i.name, i.value === null ? "" : unquote(i.value)]));
  let out = "";
  for (const [name, label] of labels) {
    const value = v.get(name);
    if (value === undefined) continue;
    out += `${label.padEnd(23)}${cookValue(name, value)}\n`;
  }
  return out;
}

/** Labels of `kerninfo` (ntpq's), by variable. */
export const KERNINFO_LABELS: readonly [string, string][] = [
  ["koffset", "pll offset:"],
  ["kfreq", "pll frequency:"],
  ["kmaxerr", "maximum error:"],
  ["kesterr", "estimated error:"],
  ["kstflags", "kernel status:"],
  ["ktimeconst", "pll time constant:"],
  ["kprecis", "precision:"],
  ["kfreqtol", "frequency tolerance:"],
];

/** The kernel PPS lines of `kerninfo` (NTPsec's), shown when the kernel has a PPS interval. */
export const KERNINFO_PPS_LABELS: readonly [string, string][] = [
  ["kppsfreq", "pps frequency:"],
  ["kppsstab", "pps stability:"],
  ["kppsjitter", "pps jitter:"],
  ["kppscalibdur", "calibration interval:"],
  ["kppscalibs", "calibration cycles:"],
  ["kppsjitexc", "jitter exceeded:"],
  ["kppsstbexc", "stability exceeded:"],
  ["kppscaliberrs", "calibration errors:"],
];

/** Labels of `iostats` (ntpq's), by variable. */
export const IOSTATS_LABELS: readonly [string, string][] = [
  ["iostats_reset", "time since reset:"],
  ["io_dropped", "dropped packets:"],
  ["io_received", "received packets:"],
  ["io_sent", "packets sent:"],
  ["io_sendfailed", "packet send failures:"],
];
