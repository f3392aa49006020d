// The configuration model: one typed, plain-data description of a Horae/ntpd configuration,
// produced by both readers (ntp.conf and TOML) and consumed by the daemon (ntp.conf(5), ntpd 4.2.x).

import type { RestrictFlag } from "../proto/access/restrict.ts";

/** Which address family a command is restricted to: the `-4` / `-6` qualifiers. */
export type AddressFamily = "any" | "ipv4" | "ipv6";

/** The association-creating commands of ntp.conf (refclocks are kept apart, see `RefclockConfig`). */
export type SourceKind = "server" | "peer" | "pool" | "broadcast" | "manycastclient";

/** All source kinds, in the order the TOML writer lists them. */
export const SOURCE_KINDS: readonly SourceKind[] = [
  "server",
  "peer",
  "pool",
  "broadcast",
  "manycastclient",
];

/** A network time source: one `server`, `peer`, `pool`, `broadcast` or `manycastclient` line. */
export interface SourceConfig {
  kind: SourceKind;
  /** Hostname, IPv4 or IPv6 literal exactly as written (no brackets, no port). */
  address: string;
  /** `-4` / `-6`: resolve (and use) only that family. */
  family: AddressFamily;
  /** Symmetric key id (1–65534) used to authenticate packets, or null for none. */
  key: number | null;
  /** Use Autokey (public-key) authentication. */
  autokey: boolean;
  /** Send a burst of packets at each poll while the source is reachable. */
  burst: boolean;
  /** Send a burst of packets when the source is unreachable (fast initial sync). */
  iburst: boolean;
  /** NTP version to send (1–4, default 4). */
  version: number;
  /** Prefer this source in selection. */
  prefer: boolean;
  /** Never select this source (monitor only). */
  noselect: boolean;
  /** `true`: always treat this source as a truechimer (survives the selection algorithm). */
  trueChimer: boolean;
  /** Demobilise this (ephemeral) association when it is not useful. */
  preempt: boolean;
  /** Interleaved mode. */
  xleave: boolean;
  /** Minimum poll interval, log2 seconds (4–17, default 6). */
  minpollLog2: number;
  /** Maximum poll interval, log2 seconds (4–17, default 10). */
  maxpollLog2: number;
  /** Time-to-live for broadcast/manycast packets (0–255), null when not given. */
  ttl: number | null;
  /** The `mode` option (driver- or mode-specific value), null when not given. */
  mode: number | null;
}

/** Fudge settings of a reference clock: every field is null when not set (driver default). */
export interface FudgeConfig {
  /** Constant offset added to the clock's time (seconds). */
  time1Sec: number | null;
  /** Second, driver-specific time constant (seconds). */
  time2Sec: number | null;
  /** Stratum to advertise for this clock (0–15). */
  stratum: number | null;
  /** Reference id (1–4 ASCII characters). */
  refid: string | null;
  /** Driver-specific flags. */
  flag1: boolean | null;
  flag2: boolean | null;
  flag3: boolean | null;
  flag4: boolean | null;
}

/** A reference clock: a `server 127.127.t.u` line plus its `fudge` line. */
export interface RefclockConfig {
  /** Driver type number t (1 = LOCAL, 20 = NMEA, 22 = PPS, 28 = SHM, ...). */
  type: number;
  /** Unit number u (0–255; most drivers use 0–3). */
  unit: number;
  /** The pseudo-address `127.127.t.u`. */
  address: string;
  /** Driver mode (the `mode` option of the server line), null when not given. */
  mode: number | null;
  prefer: boolean;
  noselect: boolean;
  /** `true`: always a truechimer. */
  trueChimer: boolean;
  /** Poll interval bounds, log2 seconds (default 6 and 10). */
  minpollLog2: number;
  maxpollLog2: number;
  fudge: FudgeConfig;
}

// The core owns the restrict words (lib/proto/access/restrict.ts); the model re-exports them.
export { RESTRICT_FLAGS, type RestrictFlag } from "../proto/access/restrict.ts";

/**
 * One `restrict` rule. `restrict default` without `-4`/`-6` becomes two rules (IPv4 0.0.0.0/0
 * and IPv6 ::/0), so every default rule has a concrete family.
 */
export interface RestrictRule {
  /** "default": every address of `family`; "source": template for sources' addresses; "address". */
  match: "default" | "source" | "address";
  /** "0.0.0.0" or "::" for default rules, "" for source rules, else the address or hostname. */
  address: string;
  /**
   * Mask as an address of the same family: "0.0.0.0"/"::" for default rules, the given mask, or
   * the all-ones host mask for a literal (255.255.255.255 by default). Null for a hostname given
   * without a mask (a host match in whichever family it resolves to) and for source rules.
   */
  mask: string | null;
  family: AddressFamily;
  /** Sorted, without duplicates. Empty means "no restriction" for this range. */
  flags: RestrictFlag[];
}

/** `discard`: rate-limit parameters for `restrict limited` / `kod`. */
export interface DiscardConfig {
  /** Minimum average interval between packets from one client, log2 seconds (default 3). */
  averageLog2: number;
  /** Minimum interval between two packets from one client, seconds (default 2). */
  minimumSec: number;
  /** Monitor (MRU list) sampling threshold (default 3000). */
  monitor: number;
}

/** Action of an `interface` / `nic` rule. */
export type InterfaceAction = "listen" | "ignore" | "drop";

/** Every interface action. */
export const INTERFACE_ACTIONS: readonly InterfaceAction[] = ["listen", "ignore", "drop"];

/** The address-class words an interface rule may match (kept lower-case in the model). */
export const INTERFACE_CLASSES: readonly string[] = ["all", "ipv4", "ipv6", "wildcard"];

/** One `interface`/`nic` rule: which addresses to listen on. */
export interface InterfaceRule {
  action: InterfaceAction;
  /** "all", "ipv4", "ipv6", "wildcard", an interface name, or an address with optional /prefix. */
  match: string;
}

/** Autokey `crypto` options; all null when not given. */
export interface CryptoConfig {
  /** True when a `crypto` line was present (Autokey enabled). */
  enabled: boolean;
  cert: string | null;
  digest: string | null;
  gqpar: string | null;
  host: string | null;
  ident: string | null;
  iffpar: string | null;
  leap: string | null;
  mvpar: string | null;
  pw: string | null;
  randfile: string | null;
  sign: string | null;
}

/** The option words of `crypto`, which are also the `CryptoConfig` fields and TOML keys. */
export const CRYPTO_OPTIONS: readonly Exclude<keyof CryptoConfig, "enabled">[] = [
  "cert",
  "digest",
  "gqpar",
  "host",
  "ident",
  "iffpar",
  "leap",
  "mvpar",
  "pw",
  "randfile",
  "sign",
];

/** Authentication settings (ntp_auth). */
export interface AuthConfig {
  /** Symmetric key file (`keys`). */
  keysFile: string | null;
  /** Directory of Autokey files (`keysdir`). */
  keysDir: string | null;
  /** Trusted key ids, sorted, without duplicates. */
  trustedKeys: number[];
  /** Key id for mode 7 (ntpdc) requests. */
  requestKey: number | null;
  /** Key id for mode 6 (ntpq) control requests. */
  controlKey: number | null;
  /** Autokey re-randomisation interval, log2 seconds (`autokey`). */
  autokeyLog2: number | null;
  /** Autokey key regeneration interval, log2 seconds (`revoke`). */
  revokeLog2: number | null;
  crypto: CryptoConfig;
  /** Socket of Samba's signing daemon for MS-SNTP (`ntpsigndsocket`), null when not given. */
  ntpSigndSocket: string | null;
}

/** Names of the statistics files (filegens) ntpd knows. */
export type StatName =
  | "clockstats"
  | "cryptostats"
  | "loopstats"
  | "peerstats"
  | "protostats"
  | "rawstats"
  | "sysstats"
  | "timingstats";

/** Every statistics name, sorted. */
export const STAT_NAMES: readonly StatName[] = [
  "clockstats",
  "cryptostats",
  "loopstats",
  "peerstats",
  "protostats",
  "rawstats",
  "sysstats",
  "timingstats",
];

/** How a statistics file generation set rolls over. */
export type FilegenType = "none" | "pid" | "day" | "week" | "month" | "year" | "age";

/** Every filegen type. */
export const FILEGEN_TYPES: readonly FilegenType[] = [
  "none",
  "pid",
  "day",
  "week",
  "month",
  "year",
  "age",
];

/** One `filegen` line (enable/disable goes to `StatsConfig.enabled`). */
export interface FilegenConfig {
  name: StatName;
  /** File name prefix relative to `statsDir` (default: the statistics name). */
  file: string;
  /** Generation type (default "day"). */
  type: FilegenType;
  /** Keep a link from the plain name to the current generation (default true). */
  link: boolean;
}

/** Statistics files (ntp_mon). */
export interface StatsConfig {
  /** Directory for statistics files (`statsdir`), null for the current directory. */
  statsDir: string | null;
  /** Enabled statistics (`statistics` plus `filegen ... enable/disable`), sorted. */
  enabled: StatName[];
  /** Explicit `filegen` settings, one per name, in order of first appearance. */
  filegens: FilegenConfig[];
}

/** `tos`: selection and orphan-mode parameters (ntp_misc). */
export interface TosConfig {
  /** Orphan-mode beacon interval (seconds, default 3600). */
  beaconSec: number;
  /** Sources at or above this stratum are not used (default 15). */
  ceiling: number;
  /** Cohort: 1 accepts servers of the same stratum (default 0). */
  cohort: number;
  /** Sources below this stratum are not used (default 1). */
  floor: number;
  /** Most survivors the cluster algorithm keeps (default 10). */
  maxclock: number;
  /** Selection threshold: maximum root distance (seconds, default 1.5). */
  maxdistSec: number;
  /** Fewest survivors the cluster algorithm keeps (default 3). */
  minclock: number;
  /** Minimum distance / dispersion increment (seconds, default 0.001). */
  mindistSec: number;
  /** Fewest truechimers needed to synchronise (default 1). */
  minsane: number;
  /** Orphan stratum (1–16); 16 means orphan mode is off (default). */
  orphan: number;
  /** Seconds to wait before entering orphan mode (default 300). */
  orphanwaitSec: number;
}

/** `tinker`: clock-discipline constants (ntp_misc). */
export interface TinkerConfig {
  /** Allan intercept (seconds, default 1500). */
  allanSec: number;
  /** Dispersion increase rate (ppm, default 15). */
  dispersionPpm: number;
  /** Initial frequency offset (ppm) overriding the drift file, null when not given. */
  freqPpm: number | null;
  /** Huff-n'-puff filter span (seconds), null when the filter is off (default). */
  huffpuffSec: number | null;
  /** Panic threshold (seconds, default 1000; 0 disables the check). */
  panicSec: number;
  /** Step threshold (seconds, default 0.128; 0 never steps). */
  stepSec: number;
  /** Stepout (spike) interval (seconds, default 900). */
  stepoutSec: number;
  /** Kernel tick value override (seconds), null when not given. */
  tickSec: number | null;
  /**
   * Horae only (`tinker discipline ntpd`, TOML `[tinker] discipline = "ntpd"`): the clock
   * discipline, Horae's estimator ("horae", the default when absent) or ntpd 4.2.x's PLL/FLL
   * ("ntpd"). Optional rather than null-defaulted so that every ntpd `tinker` default stays
   * exactly ntpd's.
   */
  discipline?: DisciplineChoice;
}

/** The clock disciplines Horae can run. */
export type DisciplineChoice = "horae" | "ntpd";

/** Every discipline name, in the order `check` lists them. */
export const DISCIPLINES: readonly DisciplineChoice[] = ["horae", "ntpd"];

/** Names of the `enable` / `disable` flags. */
export type SystemFlag =
  | "auth"
  | "bclient"
  | "calibrate"
  | "kernel"
  | "mode7"
  | "monitor"
  | "ntp"
  | "pps"
  | "stats";

/** Every system flag, sorted. */
export const SYSTEM_FLAGS: readonly SystemFlag[] = [
  "auth",
  "bclient",
  "calibrate",
  "kernel",
  "mode7",
  "monitor",
  "ntp",
  "pps",
  "stats",
];

/** Final state of each `enable`/`disable` flag. */
export type SystemFlags = Record<SystemFlag, boolean>;

/** Broadcast, multicast and manycast receive settings. */
export interface BroadcastConfig {
  /** `broadcastclient` (also `enable bclient`): listen for broadcast servers. */
  client: boolean;
  /** `broadcastclient novolley`: skip the initial client/server delay calibration. */
  novolley: boolean;
  /** `multicastclient` group addresses (empty: not a multicast client). */
  multicastClient: string[];
  /** `manycastserver` group addresses (empty: not a manycast server). */
  manycastServer: string[];
  /** `ttl` command: manycast expanding-ring TTL values, up to 8. */
  ttl: number[];
  /** `broadcastdelay`: assumed one-way broadcast delay (seconds), null for the default. */
  delaySec: number | null;
}

/** One `trap` line: where to send mode 6 traps. */
export interface TrapConfig {
  address: string;
  /** UDP port (default 18447 in ntpd), null when not given. */
  port: number | null;
  /** Local interface address to send from, null when not given. */
  interface: string | null;
}

/** One `setvar` line: a system variable shown through mode 6. */
export interface SetvarConfig {
  name: string;
  value: string;
  /** `default`: include the variable in the default list of read variables. */
  isDefault: boolean;
}

/** `mru`: monitor list sizing (all null when not given). */
export interface MruConfig {
  maxdepth: number | null;
  maxmem: number | null;
  mindepth: number | null;
  maxage: number | null;
  initalloc: number | null;
  initmem: number | null;
  incalloc: number | null;
  incmem: number | null;
}

/** The option words of `mru`, which are also the `MruConfig` fields and TOML keys. */
export const MRU_OPTIONS: readonly (keyof MruConfig)[] = [
  "maxdepth",
  "maxmem",
  "mindepth",
  "maxage",
  "initalloc",
  "initmem",
  "incalloc",
  "incmem",
];

/** `rlimit`: process resource limits (all null when not given). */
export interface RlimitConfig {
  memlock: number | null;
  stacksize: number | null;
  filenum: number | null;
}

/** The option words of `rlimit`, which are also the `RlimitConfig` fields and TOML keys. */
export const RLIMIT_OPTIONS: readonly (keyof RlimitConfig)[] = ["memlock", "stacksize", "filenum"];

/** Files the daemon reads or writes. */
export interface FilesConfig {
  /** Frequency drift file. */
  driftFile: string | null;
  /** Leap-second file (NIST/IERS leap-seconds.list). */
  leapFile: string | null;
  /** PID file. */
  pidFile: string | null;
  /** Log file (otherwise syslog/stderr). */
  logFile: string | null;
  /** Directory for `saveconfig` files. */
  saveconfigDir: string | null;
}

/** The file commands of ntp.conf (also the TOML `[daemon]` keys) and the field each one sets. */
export const FILE_OPTIONS: Readonly<Record<string, keyof FilesConfig>> = {
  driftfile: "driftFile",
  leapfile: "leapFile",
  pidfile: "pidFile",
  logfile: "logFile",
  saveconfigdir: "saveconfigDir",
};

/** The options of `discard` (also the TOML `[discard]` keys) and the field each one sets. */
export const DISCARD_OPTIONS: Readonly<Record<string, keyof DiscardConfig>> = {
  average: "averageLog2",
  minimum: "minimumSec",
  monitor: "monitor",
};

/** The options of `tos` (also the TOML `[tos]` keys) and the field each one sets. */
export const TOS_OPTIONS: Readonly<Record<string, keyof TosConfig>> = {
  beacon: "beaconSec",
  ceiling: "ceiling",
  cohort: "cohort",
  floor: "floor",
  maxclock: "maxclock",
  maxdist: "maxdistSec",
  minclock: "minclock",
  mindist: "mindistSec",
  minsane: "minsane",
  orphan: "orphan",
  orphanwait: "orphanwaitSec",
};

/** The numeric options of `tinker` (also the TOML `[tinker]` keys) and the field each one sets. */
export const TINKER_OPTIONS: Readonly<Record<string, Exclude<keyof TinkerConfig, "discipline">>> = {
  allan: "allanSec",
  dispersion: "dispersionPpm",
  freq: "freqPpm",
  huffpuff: "huffpuffSec",
  panic: "panicSec",
  step: "stepSec",
  stepout: "stepoutSec",
  tick: "tickSec",
};

/** ntpd's default multicast group for `multicastclient` / `-m`: the IANA NTP address. */
export const DEFAULT_MULTICAST_GROUP = "224.0.1.1";

/** The whole configuration. */
export interface NtpConfig {
  files: FilesConfig;
  /** `logconfig` tokens as written (e.g. "=syncall", "+clockall"). */
  logConfig: string[];
  /** Network sources in file order. */
  sources: SourceConfig[];
  /** Reference clocks in file order. */
  refclocks: RefclockConfig[];
  broadcast: BroadcastConfig;
  /** Restrict rules in file order (first match is not the rule: the most specific match is). */
  restrict: RestrictRule[];
  discard: DiscardConfig;
  /** Interface rules in file order. */
  interfaces: InterfaceRule[];
  auth: AuthConfig;
  stats: StatsConfig;
  traps: TrapConfig[];
  setvar: SetvarConfig[];
  tos: TosConfig;
  tinker: TinkerConfig;
  system: SystemFlags;
  /** `calldelay` (modem drivers), seconds, null when not given. */
  callDelaySec: number | null;
  /** `phone` numbers for modem drivers. */
  phone: string[];
  mru: MruConfig;
  rlimit: RlimitConfig;
}

/** Default NTP version sent by sources. */
export const DEFAULT_VERSION = 4;
/** Default minimum poll, log2 s (ntpd NTP_MINDPOLL). */
export const DEFAULT_MINPOLL_LOG2 = 6;
/** Default maximum poll, log2 s (ntpd NTP_MAXDPOLL). */
export const DEFAULT_MAXPOLL_LOG2 = 10;
/** Lowest accepted poll, log2 s. */
export const MIN_POLL_LOG2 = 4;
/** Highest accepted poll, log2 s. */
export const MAX_POLL_LOG2 = 17;

/** A source with every option at its default. */
export function defaultSource(kind: SourceKind, address: string): SourceConfig {
  return {
    kind,
    address,
    family: "any",
    key: null,
    autokey: false,
    burst: false,
    iburst: false,
    version: DEFAULT_VERSION,
    prefer: false,
    noselect: false,
    trueChimer: false,
    preempt: false,
    xleave: false,
    minpollLog2: DEFAULT_MINPOLL_LOG2,
    maxpollLog2: DEFAULT_MAXPOLL_LOG2,
    ttl: null,
    mode: null,
  };
}

/** Fudge settings with nothing set. */
export function emptyFudge(): FudgeConfig {
  return {
    time1Sec: null,
    time2Sec: null,
    stratum: null,
    refid: null,
    flag1: null,
    flag2: null,
    flag3: null,
    flag4: null,
  };
}

/** A reference clock of driver `type`, unit `unit`, with default options. */
export function defaultRefclock(type: number, unit: number): RefclockConfig {
  return {
    type,
    unit,
    address: `127.127.${type}.${unit}`,
    mode: null,
    prefer: false,
    noselect: false,
    trueChimer: false,
    minpollLog2: DEFAULT_MINPOLL_LOG2,
    maxpollLog2: DEFAULT_MAXPOLL_LOG2,
    fudge: emptyFudge(),
  };
}

/** ntpd's `tos` defaults. */
export function defaultTos(): TosConfig {
  return {
    beaconSec: 3600,
    ceiling: 15,
    cohort: 0,
    floor: 1,
    maxclock: 10,
    maxdistSec: 1.5,
    minclock: 3,
    mindistSec: 0.001,
    minsane: 1,
    orphan: 16,
    orphanwaitSec: 300,
  };
}

/** ntpd's `tinker` defaults. */
export function defaultTinker(): TinkerConfig {
  return {
    allanSec: 1500,
    dispersionPpm: 15,
    freqPpm: null,
    huffpuffSec: null,
    panicSec: 1000,
    stepSec: 0.128,
    stepoutSec: 900,
    tickSec: null,
  };
}

/**
 * ntpd's defaults for `enable`/`disable` flags.
 * COMPAT: `stats` defaults to enabled, which is what ntpd 4.2.x does in practice.
 */
export function defaultSystemFlags(): SystemFlags {
  return {
    auth: true,
    bclient: false,
    calibrate: false,
    kernel: true,
    mode7: false,
    monitor: true,
    ntp: true,
    pps: false,
    stats: true,
  };
}

/** `discard` defaults. */
export function defaultDiscard(): DiscardConfig {
  return { averageLog2: 3, minimumSec: 2, monitor: 3000 };
}

/** A crypto section with nothing set (Autokey off). */
export function defaultCrypto(): CryptoConfig {
  return {
    enabled: false,
    cert: null,
    digest: null,
    gqpar: null,
    host: null,
    ident: null,
    iffpar: null,
    leap: null,
    mvpar: null,
    pw: null,
    randfile: null,
    sign: null,
  };
}

/** Default filegen settings for statistics `name`. */
export function defaultFilegen(name: StatName): FilegenConfig {
  return { name, file: name, type: "day", link: true };
}

/**
 * An empty configuration: no sources, no restrictions, every setting at ntpd's default.
 * This is what an empty ntp.conf or an empty TOML file loads to.
 */
export function emptyConfig(): NtpConfig {
  return {
    files: { driftFile: null, leapFile: null, pidFile: null, logFile: null, saveconfigDir: null },
    logConfig: [],
    sources: [],
    refclocks: [],
    broadcast: {
      client: false,
      novolley: false,
      multicastClient: [],
      manycastServer: [],
      ttl: [],
      delaySec: null,
    },
    restrict: [],
    discard: defaultDiscard(),
    interfaces: [],
    auth: {
      keysFile: null,
      keysDir: null,
      trustedKeys: [],
      requestKey: null,
      controlKey: null,
      autokeyLog2: null,
      revokeLog2: null,
      crypto: defaultCrypto(),
      ntpSigndSocket: null,
    },
    stats: { statsDir: null, enabled: [], filegens: [] },
    traps: [],
    setvar: [],
    tos: defaultTos(),
    tinker: defaultTinker(),
    system: defaultSystemFlags(),
    callDelaySec: null,
    phone: [],
    mru: {
      maxdepth: null,
      maxmem: null,
      mindepth: null,
      maxage: null,
      initalloc: null,
      initmem: null,
      incalloc: null,
      incmem: null,
    },
    rlimit: { memlock: null, stacksize: null, filenum: null },
  };
}
