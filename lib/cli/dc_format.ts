// ntpdc's output formats (ntpd 4.2.8's ntpdc): the peers table, showpeer's details, sysinfo,
// sysstats, iostats, memstats, loopinfo and kerninfo, byte for byte, from decoded mode 7 items.
// The number formats are ntpd's: fixed-point values printed with a set number of decimals
// (fptoa/lfptoa), C's %g, and timestamps as hex with a local date (prettydate).

import type {
  IoStatsItem,
  KernelItem,
  LoopInfoItem,
  MemStatsItem,
  PeerInfoItem,
  PeerListItem,
  PeerSummaryItem,
  SysInfoItem,
  SysStatsItem,
} from "../proto/control/mode7.ts";
import { NTP_HASH_SIZE, PeerFlag, SysFlag } from "../proto/control/mode7.ts";
import { kernelStatusText } from "../proto/control/control_vars.ts";
import type { NtpTime } from "../proto/ntp_time.ts";

/** How addresses are shown: numeric, or through a name lookup already done. */
export type HostNamer = (address: string) => string;

/** ntpd's mode names (modetoa). */
const MODE_NAMES = [
  "unspec",
  "sym_active",
  "sym_passive",
  "client",
  "server",
  "broadcast",
  "control",
  "private",
  "bclient",
];

/** A mode's name, as ntpdc prints it. */
export function modeText(mode: number): string {
  return MODE_NAMES[mode] ?? `mode#${mode}`;
}

/** A value with `decimals` decimals, as ntpd prints its fixed-point numbers (fptoa, lfptoa). */
export function fixedText(value: number, decimals: number): string {
  return value.toFixed(decimals);
}

/** C's printf %g (6 significant digits, trailing zeros dropped). */
export function cG(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [m, e] = x.toExponential(5).split("e");
    const mant = m!.includes(".") ? m!.replace(/0+$/, "").replace(/\.$/, "") : m!;
    const n = Number(e);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const s = x.toFixed(Math.max(0, 5 - exp));
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const NTP_UNIX = 2_208_988_800;

/**
 * A timestamp as ntpd's prettydate writes it: hex seconds and fraction, then the local date to
 * the millisecond; the era is the one nearest `nowUnixSec`.
 */
export function prettyDate(t: NtpTime, nowUnixSec: number, utc = false): string {
  let sec = Number((t >> 32n) & 0xffffffffn);
  const frac = Number(t & 0xffffffffn);
  let ms = Math.floor(frac / 4294967);
  if (ms >= 1000) {
    ms -= 1000;
    sec++;
  }
  let unix = sec - NTP_UNIX;
  while (unix < nowUnixSec - 2 ** 31) unix += 2 ** 32;
  const d = new Date(unix * 1000);
  const f = utc
    ? [d.getUTCDay(), d.getUTCMonth(), d.getUTCDate(), d.getUTCFullYear(), d.getUTCHours()]
    : [d.getDay(), d.getMonth(), d.getDate(), d.getFullYear(), d.getHours()];
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  const hex8 = (n: number) => n.toString(16).padStart(8, "0");
  const two = (n: number) => String(n).padStart(2, "0");
  return `${hex8(Number((t >> 32n) & 0xffffffffn))}.${hex8(frac)}  ${DAYS[f[0]!]}, ` +
    `${MONTHS[f[1]!]} ${String(f[2]).padStart(2)} ${String(f[3]).padStart(4)} ` +
    `${String(f[4]).padStart(2)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, "0")}`;
}

/** A refid as ntpdc shows it: four characters at stratum 0–1, else a dotted quad. */
export function refidText(refid: number, stratum: number): string {
  if (stratum <= 1) {
    let s = "";
    for (let i = 3; i >= 0; i--) {
      const c = (refid >>> (8 * i)) & 0xff;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }
  return [24, 16, 8, 0].map((sh) => (refid >>> sh) & 0xff).join(".");
}

function cut(s: string, width: number, left = true): string {
  const t = s.slice(0, width);
  return left ? t.padEnd(width) : t.padStart(width);
}

/** `listpeers`: one line per peer, mode and address. */
export function listPeersText(items: readonly PeerListItem[], name: HostNamer): string {
  return items.map((p) => `${cut(modeText(p.hmode), 9)} ${name(p.address)}\n`).join("");
}

/** `peers` (and `dmpeers` with `dm`): the summary table. */
export function peersText(items: readonly PeerSummaryItem[], name: HostNamer, dm = false): string {
  let out = "     remote           local      st poll reach  delay   offset    disp\n" +
    `${"=".repeat(71)}\n`;
  for (const p of items) {
    let c = " ";
    if ((p.flags & PeerFlag.SYSPEER) !== 0) c = "*";
    else if (dm) {
      if ((p.flags & PeerFlag.SHORTLIST) !== 0) c = "+";
      else if ((p.flags & PeerFlag.SEL_CANDIDATE) !== 0) c = ".";
    } else {c = ({ 1: "+", 2: "-", 3: "=", 5: "^", 6: "~" } as Record<number, string>)[p.hmode] ??
        " ";}
    // ntpd 4.2.8's poll limits: 2^3 .. 2^17 s.
    const poll = 2 ** Math.max(Math.min(p.ppollLog2, p.hpollLog2, 17), 3);
    out += `${c}${cut(name(p.srcAddress), 15)} ${cut(p.dstAddress, 15)} ` +
      `${String(p.stratum).padStart(2)} ${String(poll).padStart(4)}  ` +
      `${p.reach.toString(8).padStart(3)} ${cut(fixedText(p.delaySec, 5), 7, false)} ` +
      `${cut(fixedText(p.offsetSec, 6), 9, false)} ${
        cut(fixedText(p.dispersionSec, 5), 7, false)
      }\n`;
  }
  return out;
}

/** The peer flags as showpeer lists them. */
export function peerFlagsText(flags: number): string {
  if (flags === 0) return " none";
  const names: [number, string][] = [
    [PeerFlag.SYSPEER, "system_peer"],
    [PeerFlag.CONFIG, "config"],
    [PeerFlag.REFCLOCK, "refclock"],
    [PeerFlag.AUTHENABLE, "auth"],
    [PeerFlag.PREFER, "prefer"],
    [PeerFlag.BURST, "burst"],
    [PeerFlag.SEL_CANDIDATE, "candidate"],
    [PeerFlag.SHORTLIST, "shortlist"],
  ];
  return names.filter(([bit]) => (flags & bit) !== 0).map(([, n], i) => `${i > 0 ? "," : ""} ${n}`)
    .join("");
}

/** `showpeer`: every detail of one peer. */
export function showPeerText(p: PeerInfoItem, nowUnixSec: number): string {
  const leap = `${(p.leap & 2) !== 0 ? 1 : 0}${(p.leap & 1) !== 0 ? 1 : 0}`;
  let out = `remote ${p.srcAddress}, local ${p.dstAddress}\n` +
    `hmode ${modeText(p.hmode)}, pmode ${modeText(p.pmode)}, stratum ${p.stratum}, ` +
    `precision ${p.precisionLog2}\n` +
    `leap ${leap}, refid [${refidText(p.refid, p.stratum)}], rootdistance ` +
    `${fixedText(p.rootDelaySec, 5)}, rootdispersion ${fixedText(p.rootDispersionSec, 5)}\n` +
    `ppoll ${p.ppollLog2}, hpoll ${p.hpollLog2}, keyid ${p.keyId}, version ${p.version}, ` +
    `association ${p.associd}\n` +
    `reach ${p.reach.toString(8).padStart(3, "0")}, unreach ${p.unreach}, flash 0x` +
    `${p.flash.toString(16).padStart(4, "0")}, boffset ${fixedText(0, 5)}, ttl/mode ${p.ttl}\n` +
    `timer ${p.timerSec}s, flags${peerFlagsText(p.flags)}\n` +
    `reference time:      ${prettyDate(p.reftime, nowUnixSec)}\n` +
    `originate timestamp: ${prettyDate(p.org, nowUnixSec)}\n` +
    `receive timestamp:   ${prettyDate(p.rec, nowUnixSec)}\n` +
    `transmit timestamp:  ${prettyDate(p.xmt, nowUnixSec)}\n`;
  const row = (label: string, cells: string[]) => {
    let s = label;
    cells.forEach((c, i) => {
      s += ` ${cut(c, 8)}`;
      if (i === 3) s += "\n              ";
    });
    return `${s}\n`;
  };
  out += row("filter delay: ", p.filter.map((f) => fixedText(f.delaySec, 5)));
  out += row("filter offset:", p.filter.map((f) => fixedText(f.offsetSec, 6)));
  out += row("filter order: ", p.filter.map((f) => String(f.order)));
  out += `offset ${fixedText(p.offsetSec, 6)}, delay ${fixedText(p.delaySec, 5)}, ` +
    `error bound ${fixedText(p.dispersionSec, 5)}, filter error ` +
    `${fixedText(p.selectDispersionSec, 5)}\n`;
  return out;
}

/** `sysinfo`. */
export function sysInfoText(s: SysInfoItem, name: HostNamer, nowUnixSec: number): string {
  const flags: [number, string][] = [
    [SysFlag.BCLIENT, "bclient"],
    [SysFlag.AUTHENTICATE, "auth"],
    [SysFlag.MONITOR, "monitor"],
    [SysFlag.NTP, "ntp"],
    [SysFlag.KERNEL, "kernel"],
    [SysFlag.FILEGEN, "stats"],
    [SysFlag.CAL, "calibrate"],
    [SysFlag.PPS_SYNC, "pps"],
  ];
  const set = flags.filter(([b]) => (s.flags & b) !== 0);
  const leap = `${(s.leap & 2) !== 0 ? 1 : 0}${(s.leap & 1) !== 0 ? 1 : 0}`;
  return `system peer:          ${name(s.peerAddress)}\n` +
    `system peer mode:     ${modeText(s.peerMode)}\n` +
    `leap indicator:       ${leap}\n` +
    `stratum:              ${s.stratum}\n` +
    `precision:            ${s.precisionLog2}\n` +
    `root distance:        ${fixedText(s.rootDelaySec, 5)} s\n` +
    `root dispersion:      ${fixedText(s.rootDispersionSec, 5)} s\n` +
    `reference ID:         [${refidText(s.refid, s.stratum)}]\n` +
    `reference time:       ${prettyDate(s.reftime, nowUnixSec)}\n` +
    `system flags:         ${set.length === 0 ? "none" : set.map(([, n]) => `${n} `).join("")}\n` +
    `jitter:               ${fixedText(s.jitterSec, 6)} s\n` +
    `stability:            ${fixedText(s.stabilityPpm, 3)} ppm\n` +
    `broadcastdelay:       ${fixedText(s.broadcastDelaySec, 6)} s\n` +
    `authdelay:            ${fixedText(s.authDelaySec, 6)} s\n`;
}

/** `sysstats` (`withLimited` false for the old 40-byte item). */
export function sysStatsText(s: SysStatsItem, withLimited = true): string {
  const rows: [string, number][] = [
    ["time since restart:", s.timeUpSec],
    ["time since reset:", s.timeResetSec],
    ["packets received:", s.received],
    ["packets processed:", s.processed],
    ["current version:", s.newVersion],
    ["previous version:", s.oldVersion],
    ["declined:", s.unknownVersion],
    ["access denied:", s.denied],
    ["bad length or format:", s.badLength],
    ["bad authentication:", s.badAuth],
  ];
  if (withLimited) rows.push(["rate exceeded:", s.limitRejected]);
  return rows.map(([l, v]) => `${l.padEnd(24)}${v}\n`).join("");
}

/** `iostats`. */
export function ioStatsText(s: IoStatsItem): string {
  const rows: [string, number][] = [
    ["time since reset:", s.timeResetSec],
    ["receive buffers:", s.totalRecvBufs],
    ["free receive buffers:", s.freeRecvBufs],
    ["used receive buffers:", s.fullRecvBufs],
    ["low water refills:", s.lowWater],
    ["dropped packets:", s.dropped],
    ["ignored packets:", s.ignored],
    ["received packets:", s.received],
    ["packets sent:", s.sent],
    ["packets not sent:", s.notSent],
    ["interrupts handled:", s.interrupts],
    ["received by int:", s.intReceived],
  ];
  return rows.map(([l, v]) => `${l.padEnd(22)}${v}\n`).join("");
}

/** `memstats`. */
export function memStatsText(s: MemStatsItem): string {
  let out = `time since reset:     ${s.timeResetSec}\n` +
    `total peer memory:    ${s.totalPeerMem}\n` +
    `free peer memory:     ${s.freePeerMem}\n` +
    `calls to findpeer:    ${s.findPeerCalls}\n` +
    `new peer allocations: ${s.allocations}\n` +
    `peer demobilizations: ${s.demobilizations}\n` +
    "hash table counts:   ";
  for (let i = 0; i < NTP_HASH_SIZE; i++) {
    out += String(s.hashCount[i] ?? 0).padStart(4);
    if (i % 8 === 7 && i !== NTP_HASH_SIZE - 1) out += `\n${" ".repeat(21)}`;
  }
  return `${out}\n`;
}

/** `loopinfo` (`oneline` as `loopinfo oneline`). */
export function loopInfoText(l: LoopInfoItem, oneline = false): string {
  if (oneline) {
    return `offset ${fixedText(l.lastOffsetSec, 6)}, frequency ${fixedText(l.driftPpm, 3)}, ` +
      `time_const ${l.compliance}, watchdog ${l.watchdogSec}\n`;
  }
  return `offset:               ${fixedText(l.lastOffsetSec, 6)} s\n` +
    `frequency:            ${fixedText(l.driftPpm, 3)} ppm\n` +
    `poll adjust:          ${l.compliance}\n` +
    `watchdog timer:       ${l.watchdogSec} s\n`;
}

/** `kerninfo`: the kernel's clock variables (the PPS ones only when the kernel has them). */
export function kernelText(k: KernelItem): string {
  const scale = (k.status & 0x2000) !== 0 ? 1e-9 : 1e-6;
  const flags = kernelStatusText(k.status);
  let out = `pll offset:           ${cG(k.offset * scale)} s\n` +
    `pll frequency:        ${fixedText(k.freq / 65536, 3)} ppm\n` +
    `maximum error:        ${cG((k.maxError >>> 0) * 1e-6)} s\n` +
    `estimated error:      ${cG((k.estError >>> 0) * 1e-6)} s\n` +
    `status:               ${k.status.toString(16).padStart(4, "0")} ${
      flags === "" ? "" : ` ${flags}`
    }\n` +
    `pll time constant:    ${k.constant}\n` +
    `precision:            ${cG((k.precision >>> 0) * scale)} s\n` +
    `frequency tolerance:  ${fixedText(k.tolerance / 65536, 0)} ppm\n`;
  if (k.shift === 0) return out;
  out += `pps frequency:        ${fixedText(k.ppsFreq / 65536, 3)} ppm\n` +
    `pps stability:        ${fixedText(k.stabil / 65536, 3)} ppm\n` +
    `pps jitter:           ${cG((k.jitter >>> 0) * scale)} s\n` +
    `calibration interval: ${2 ** k.shift} s\n` +
    `calibration cycles:   ${k.calCnt}\n` +
    `jitter exceeded:      ${k.jitCnt}\n` +
    `stability exceeded:   ${k.stbCnt}\n` +
    `calibration errors:   ${k.errCnt}\n`;
  return out;
}
