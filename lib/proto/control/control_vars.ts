// The mode 6 variables with ntpd 4.2.x's names, units and formats (ntpq(1) "System Variables",
// "Peer Variables", "Clock Variables"): times in milliseconds, frequencies in ppm, timestamps
// as hex NTP timestamps, the reach register and flash bits in hex. Each table lists the
// variables in ntpd's order; `default` marks those a READVAR without names returns.

import { MAXDISPERSE, NTP_SHIFT } from "../constants.ts";
import { fromUnix } from "../ntp_time.ts";
import type { SysStatsSnapshot } from "../sys_stats.ts";
import type {
  ControlClock,
  ControlIo,
  ControlKernel,
  ControlPeer,
  ControlSystem,
} from "./control_view.ts";
import { fixed, hex, hexTimestamp, quote, refidText } from "./var_list.ts";

/** How to show one variable of a source `T` (null: not shown now). */
export interface VarDef<T> {
  name: string;
  /** Returned when a READVAR names no variables. */
  default: boolean;
  get: (src: T) => string | null;
}

function ms(sec: number, digits: number): string {
  return fixed(sec * 1e3, digits);
}

/** What the system variables are read from. */
export interface SystemVarSource {
  sys: ControlSystem;
  /** The system peer's `address:port`, or null. */
  peerAddress: string | null;
  /** Control requests received. */
  controlRequests: number;
  version: string;
  processor: string;
  system: string;
}

/** The system variables, in ntpd's order. */
export const SYSTEM_VARS: readonly VarDef<SystemVarSource>[] = [
  { name: "version", default: true, get: (s) => quote(s.version) },
  { name: "processor", default: true, get: (s) => quote(s.processor) },
  { name: "system", default: true, get: (s) => quote(s.system) },
  { name: "leap", default: true, get: (s) => String(s.sys.leap) },
  { name: "stratum", default: true, get: (s) => String(s.sys.stratum) },
  { name: "precision", default: true, get: (s) => String(s.sys.precisionLog2) },
  { name: "rootdelay", default: true, get: (s) => ms(s.sys.rootDelaySec, 3) },
  { name: "rootdisp", default: true, get: (s) => ms(s.sys.rootDispersionSec, 3) },
  { name: "refid", default: true, get: (s) => refidText(s.sys.refid, s.sys.stratum) },
  { name: "reftime", default: true, get: (s) => hexTimestamp(s.sys.referenceTime) },
  { name: "clock", default: true, get: (s) => hexTimestamp(s.sys.clock) },
  { name: "peer", default: true, get: (s) => String(s.sys.systemPeer) },
  { name: "tc", default: true, get: (s) => String(s.sys.pollLog2) },
  { name: "mintc", default: true, get: (s) => String(s.sys.minPollLog2) },
  { name: "offset", default: true, get: (s) => ms(s.sys.offsetSec, 6) },
  { name: "frequency", default: true, get: (s) => fixed(s.sys.freqPpm, 3) },
  { name: "sys_jitter", default: true, get: (s) => ms(s.sys.sysJitterSec, 6) },
  { name: "clk_jitter", default: true, get: (s) => ms(s.sys.clockJitterSec, 3) },
  { name: "clk_wander", default: true, get: (s) => fixed(s.sys.clockWanderPpm, 3) },
  {
    name: "tai",
    default: true,
    get: (s) => s.sys.leapTable ? String(s.sys.leapTable.taiSec) : null,
  },
  {
    name: "leapsec",
    default: true,
    get: (s) => s.sys.leapTable ? hexTimestamp(s.sys.leapTable.leapAt) : null,
  },
  {
    name: "expire",
    default: true,
    get: (s) => s.sys.leapTable ? hexTimestamp(s.sys.leapTable.expire) : null,
  },
  // Named only (ntpq's sysinfo and sysstats read these).
  { name: "peeradr", default: false, get: (s) => s.peerAddress },
  // COMPAT: ntpd's authdelay setting is gone; Horae corrects no authentication delay.
  { name: "authdelay", default: false, get: () => "0.000" },
  { name: "ss_numctlreq", default: false, get: (s) => String(s.controlRequests) },
  { name: "peermode", default: false, get: (s) => String(s.sys.systemPeerMode) },
  {
    name: "rootdist",
    default: false,
    get: (s) => ms(s.sys.rootDelaySec / 2 + s.sys.rootDispersionSec, 3),
  },
];

/** The sysstats variables (ntpq `sysstats`), read by name only. */
export const SYSSTATS_VARS: readonly VarDef<SysStatsSnapshot>[] = [
  { name: "ss_uptime", default: false, get: (s) => String(Math.floor(s.sinceRestartSec)) },
  { name: "ss_reset", default: false, get: (s) => String(Math.floor(s.sinceResetSec)) },
  { name: "ss_received", default: false, get: (s) => String(s.received) },
  { name: "ss_thisver", default: false, get: (s) => String(s.currentVersion) },
  { name: "ss_oldver", default: false, get: (s) => String(s.oldVersion) },
  {
    name: "ss_ver1",
    default: false,
    get: (s) =>
      String(
        (s.drops.v1_client ?? 0) + (s.drops.v1_symmetric ?? 0) + (s.drops.v1_mode0 ?? 0) +
          (s.drops.v1_other ?? 0),
      ),
  },
  { name: "ss_ver1client", default: false, get: (s) => String(s.drops.v1_client ?? 0) },
  { name: "ss_ver1zero", default: false, get: (s) => String(s.drops.v1_mode0 ?? 0) },
  { name: "ss_ver1symm", default: false, get: (s) => String(s.drops.v1_symmetric ?? 0) },
  { name: "ss_badformat", default: false, get: (s) => String(s.badFormat) },
  { name: "ss_badauth", default: false, get: (s) => String(s.badAuth) },
  { name: "ss_declined", default: false, get: (s) => String(s.declined) },
  { name: "ss_restricted", default: false, get: (s) => String(s.accessDenied) },
  { name: "ss_limited", default: false, get: (s) => String(s.rateExceeded) },
  { name: "ss_kodsent", default: false, get: (s) => String(s.kissesSent) },
  { name: "ss_processed", default: false, get: (s) => String(s.processed) },
];

/** Names of the kernel's STA_* status bits, lowest first (ntpq's `kstflags`). */
const STA_NAMES = [
  "pll",
  "ppsfreq",
  "ppstime",
  "fll",
  "ins",
  "del",
  "unsync",
  "freqhold",
  "ppssignal",
  "ppsjitter",
  "ppswander",
  "ppserror",
  "clockerr",
  "nano",
  "mode=fll",
  "src=B",
];

/** The kernel STA_* bits as names. */
export function kernelStatusText(status: number): string {
  return STA_NAMES.filter((_, i) => (status & (1 << i)) !== 0).join(" ");
}

/** The kernel variables (ntpq `kerninfo`), read by name only. */
export const KERNEL_VARS: readonly VarDef<ControlKernel>[] = [
  { name: "koffset", default: false, get: (k) => ms(k.offsetSec, 3) },
  { name: "kfreq", default: false, get: (k) => fixed(k.freqPpm, 3) },
  { name: "kmaxerr", default: false, get: (k) => ms(k.maxErrorSec, 3) },
  { name: "kesterr", default: false, get: (k) => ms(k.estErrorSec, 3) },
  { name: "kstflags", default: false, get: (k) => quote(kernelStatusText(k.status)) },
  { name: "ktimeconst", default: false, get: (k) => String(k.constant) },
  { name: "kprecis", default: false, get: (k) => ms(k.precisionSec, 6) },
  { name: "kfreqtol", default: false, get: (k) => String(Math.round(k.toleranceSppm / 65536)) },
  // The kernel PPS discipline (NTPsec ntpq's kerninfo names).
  { name: "kppsfreq", default: false, get: (k) => fixed(k.pps?.freqPpm ?? 0, 3) },
  { name: "kppsstab", default: false, get: (k) => fixed(k.pps?.stabilityPpm ?? 0, 3) },
  { name: "kppsjitter", default: false, get: (k) => ms(k.pps?.jitterSec ?? 0, 3) },
  {
    name: "kppscalibdur",
    default: false,
    get: (k) =>
      String(k.pps === undefined || k.pps.intervalLog2 === 0 ? 0 : 2 ** k.pps.intervalLog2),
  },
  { name: "kppscalibs", default: false, get: (k) => String(k.pps?.calibrations ?? 0) },
  { name: "kppscaliberrs", default: false, get: (k) => String(k.pps?.errors ?? 0) },
  { name: "kppsjitexc", default: false, get: (k) => String(k.pps?.jitterExceeded ?? 0) },
  { name: "kppsstbexc", default: false, get: (k) => String(k.pps?.stabilityExceeded ?? 0) },
];

/** The socket counters (ntpq `iostats`), read by name only. */
export const IO_VARS: readonly VarDef<ControlIo>[] = [
  { name: "iostats_reset", default: false, get: (io) => String(Math.floor(io.sinceResetSec)) },
  { name: "io_dropped", default: false, get: (io) => String(io.dropped) },
  { name: "io_received", default: false, get: (io) => String(io.received) },
  { name: "io_sent", default: false, get: (io) => String(io.sent) },
  { name: "io_sendfailed", default: false, get: (io) => String(io.sendFailed) },
];

function filterArray(
  p: ControlPeer,
  pick: (s: { delaySec: number; offsetSec: number; dispersionSec: number }) => number,
  empty: number,
): string | null {
  if (p.filter === null) return null;
  const parts: string[] = [];
  for (let i = 0; i < NTP_SHIFT; i++) {
    const s = p.filter[i];
    parts.push(fixed((s === undefined ? empty : pick(s)) * 1e3, 3));
  }
  return parts.join(" ");
}

/** The peer variables, in ntpd's order. */
export const PEER_VARS: readonly VarDef<ControlPeer>[] = [
  { name: "srcadr", default: true, get: (p) => p.srcAddress },
  { name: "srcport", default: true, get: (p) => String(p.srcPort) },
  { name: "srchost", default: true, get: (p) => p.srcHost === null ? null : quote(p.srcHost) },
  { name: "dstadr", default: true, get: (p) => p.dstAddress },
  { name: "dstport", default: true, get: (p) => String(p.dstPort) },
  { name: "leap", default: true, get: (p) => String(p.leap) },
  { name: "stratum", default: true, get: (p) => String(p.stratum) },
  { name: "precision", default: true, get: (p) => String(p.precisionLog2) },
  { name: "rootdelay", default: true, get: (p) => ms(p.rootDelaySec, 3) },
  { name: "rootdisp", default: true, get: (p) => ms(p.rootDispersionSec, 3) },
  // A reference clock's refid is its name (".LOCL."), whatever stratum it is fudged to.
  { name: "refid", default: true, get: (p) => refidText(p.refid, p.clock ? 0 : p.stratum) },
  { name: "reftime", default: true, get: (p) => hexTimestamp(p.referenceTime) },
  { name: "rec", default: true, get: (p) => hexTimestamp(p.receiveTime) },
  { name: "reach", default: true, get: (p) => hex(p.reach & 0xff) },
  {
    name: "unreach",
    default: true,
    get: (p) => p.unreach === null ? null : String(p.unreach),
  },
  { name: "hmode", default: true, get: (p) => String(p.hostMode) },
  { name: "pmode", default: true, get: (p) => String(p.peerMode) },
  { name: "hpoll", default: true, get: (p) => String(p.hostPollLog2) },
  { name: "ppoll", default: true, get: (p) => String(p.peerPollLog2) },
  { name: "headway", default: true, get: (p) => String(Math.round(p.headwaySec)) },
  { name: "flash", default: true, get: (p) => p.flash === null ? null : hex(p.flash) },
  { name: "keyid", default: true, get: (p) => String(p.keyId) },
  { name: "offset", default: true, get: (p) => ms(p.offsetSec ?? 0, 6) },
  { name: "delay", default: true, get: (p) => ms(p.delaySec ?? 0, 6) },
  { name: "dispersion", default: true, get: (p) => ms(p.dispersionSec ?? MAXDISPERSE, 6) },
  { name: "jitter", default: true, get: (p) => ms(p.jitterSec ?? 0, 6) },
  { name: "xleave", default: true, get: () => ms(0, 3) },
  { name: "filtdelay", default: true, get: (p) => filterArray(p, (s) => s.delaySec, 0) },
  { name: "filtoffset", default: true, get: (p) => filterArray(p, (s) => s.offsetSec, 0) },
  {
    name: "filtdisp",
    default: true,
    get: (p) => filterArray(p, (s) => s.dispersionSec, MAXDISPERSE),
  },
  // NTS (RFC 8915), shown for NTS associations only: cookies held, NTS-KE exchanges and
  // failures, when the last one succeeded, NAKs and replies refused by the NTS checks.
  { name: "nts", default: true, get: (p) => p.nts ? "1" : null },
  { name: "ntscookies", default: true, get: (p) => p.nts ? String(p.nts.cookies) : null },
  { name: "ntske", default: true, get: (p) => p.nts ? String(p.nts.keCount) : null },
  { name: "ntskefail", default: true, get: (p) => p.nts ? String(p.nts.keFailures) : null },
  {
    name: "ntsketime",
    default: true,
    get: (p) => {
      const t = p.nts?.lastKeUnixSec;
      return t === undefined || t === null ? null : hexTimestamp(fromUnix(Math.floor(t)));
    },
  },
  { name: "ntsnak", default: true, get: (p) => p.nts ? String(p.nts.naks) : null },
  { name: "ntsauthfail", default: true, get: (p) => p.nts ? String(p.nts.authFailures) : null },
];

/** The clock variables, in ntpd's order. */
export const CLOCK_VARS: readonly VarDef<ControlClock>[] = [
  { name: "type", default: true, get: (c) => String(c.type) },
  { name: "timecode", default: true, get: (c) => quote(c.timecode) },
  { name: "poll", default: true, get: (c) => String(c.polls) },
  { name: "noreply", default: true, get: (c) => String(c.noReply) },
  { name: "badformat", default: true, get: (c) => String(c.badFormat) },
  { name: "baddata", default: true, get: (c) => String(c.badData) },
  { name: "fudgetime1", default: true, get: (c) => ms(c.fudgeTime1Sec, 3) },
  { name: "fudgetime2", default: true, get: (c) => ms(c.fudgeTime2Sec, 3) },
  { name: "stratum", default: true, get: (c) => String(c.stratum) },
  { name: "refid", default: true, get: (c) => refidText(c.refid, 0) },
  { name: "flags", default: true, get: (c) => String(c.flags & 0xf) },
  { name: "device", default: true, get: (c) => quote(c.name) },
];

/** Finds a variable definition by name. */
export function findVar<T>(table: readonly VarDef<T>[], name: string): VarDef<T> | undefined {
  return table.find((v) => v.name === name);
}

/** The system status word: leap (2 bits), source (6), event counter (4), last event (4). */
export function systemStatusWord(
  leap: number,
  source: number,
  events: number,
  lastEvent: number,
): number {
  return ((leap & 3) << 14) | ((source & 0x3f) << 8) | ((Math.min(events, 15) & 0xf) << 4) |
    (lastEvent & 0xf);
}

/** The peer status word: status byte, event counter (4 bits), last event (4 bits). */
export function peerStatusWord(statusByte: number, events: number, lastEvent: number): number {
  return ((statusByte & 0xff) << 8) | ((Math.min(events, 15) & 0xf) << 4) | (lastEvent & 0xf);
}

/** The clock status word: clock status code (8 bits), last clock event (8 bits). */
export function clockStatusWord(status: number, lastEvent: number): number {
  return ((status & 0xff) << 8) | (lastEvent & 0xff);
}

/** ntpq's names for the system status word's source field. */
export const SYNC_SOURCE_NAMES: readonly string[] = [
  "sync_unspec",
  "sync_pps",
  "sync_lf_radio",
  "sync_hf_radio",
  "sync_uhf_radio",
  "sync_local",
  "sync_ntp",
  "sync_other",
  "sync_wristwatch",
  "sync_telephone",
];

/** ntpq's names for the leap field. */
export const LEAP_NAMES: readonly string[] = [
  "leap_none",
  "leap_add_sec",
  "leap_del_sec",
  "leap_alarm",
];

/** ntpq's names for the selection field (`as`'s condition column). */
export const SELECT_NAMES: readonly string[] = [
  "reject",
  "falsetick",
  "excess",
  "outlier",
  "candidate",
  "backup",
  "sys.peer",
  "pps.peer",
];

/** The tally character of each selection code (ntpq `peers`). */
export const SELECT_TALLY = " x.-+#*o";

/** ntpq's names for the clock status codes. */
export const CLOCK_STATUS_NAMES: readonly string[] = [
  "clk_unspec",
  "clk_no_reply",
  "clk_bad_format",
  "clk_fault",
  "clk_bad_signal",
  "clk_bad_date",
  "clk_bad_time",
];
