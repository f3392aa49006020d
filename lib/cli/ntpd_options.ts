// ntpd's command line (ntpd 4.2.4 options and meanings) for `horae run` and the multi-call `ntpd`,
// plus Horae's --toml and --observe; and how those options override the configuration model.

import { parseArgs } from "node:util";
import { DEFAULT_MULTICAST_GROUP, type NtpConfig } from "../config/config_model.ts";
import { normalizeConfig } from "../config/normalize.ts";
import { MAX_KEY_ID, MIN_KEY_ID } from "../config/validate.ts";
import { longOptions, type OptionHelp, optionHelp, parseArgsMessage } from "./usage.ts";

/** Everything ntpd's command line can say. Options a later issue implements are stored as given. */
export interface NtpdOptions {
  /** -4: resolve and use IPv4 addresses only. */
  ipv4Only: boolean;
  /** -6: resolve and use IPv6 addresses only. */
  ipv6Only: boolean;
  /** -a (true) / -A (false): require authentication for broadcast, multicast and symmetric
   * passive associations (`enable auth` / `disable auth`); null when neither was given. */
  authRequired: boolean | null;
  /** -b: listen for broadcast servers (`broadcastclient`). */
  broadcastClient: boolean;
  /** -c file: the configuration file; null for the embedded default. */
  configFile: string | null;
  /** Debug level: one per -d, or set by -D level. */
  debugLevel: number;
  /** -f file: the drift file (overrides `driftfile`). */
  driftFile: string | null;
  /** -g: allow the first adjustment to exceed the panic threshold. */
  panicGate: boolean;
  /** -i dir: chroot to this directory after start-up. */
  jailDir: string | null;
  /** -I iface: listen on this interface or address (repeatable). */
  interfaces: string[];
  /** -k file: the symmetric key file (overrides `keys`). */
  keysFile: string | null;
  /** -l file: log to this file (overrides `logfile`). */
  logFile: string | null;
  /** -L: do not listen on virtual interfaces (alias addresses). */
  noVirtualIps: boolean;
  /** -m: listen for multicast servers on 224.0.1.1 (`multicastclient`). */
  multicastClient: boolean;
  /** -n: do not fork (stay in the foreground). */
  noFork: boolean;
  /** -N: run at the highest priority. */
  nice: boolean;
  /** -p file: write the process id here (overrides `pidfile`). */
  pidFile: string | null;
  /** -P priority: run at this (real-time) priority. */
  priority: number | null;
  /** -q: set the time once and exit (like ntpdate). */
  quit: boolean;
  /** -r delay: broadcast/multicast propagation delay in seconds (`broadcastdelay`). */
  broadcastDelaySec: number | null;
  /** -s dir: statistics directory (overrides `statsdir`). */
  statsDir: string | null;
  /** -t key: add a trusted key id (repeatable). */
  trustedKeys: number[];
  /** -u user[:group]: drop root privileges to this user. */
  user: string | null;
  /** The group part of -u user:group. */
  group: string | null;
  /** -U seconds: interface rescan interval (0 disables). */
  updateIntervalSec: number | null;
  /** -v name=value: system variables (`setvar`). */
  vars: string[];
  /** -V name=value: system variables listed by default (`setvar ... default`). */
  defaultVars: string[];
  /** -x: slew only up to 600 s (step threshold raised to 600 s). */
  slew: boolean;
  /** --toml: the configuration file is TOML whatever its name. */
  toml: boolean;
  /** --observe: never steer the clock (read it only, like `chronyd -x`). */
  observe: boolean;
  /** --help was given. */
  help: boolean;
  /** --version was given. */
  version: boolean;
}

/** Result of parsing ntpd's command line: the options, or a usage error (exit 2). */
export type NtpdArgsResult = { ok: true; options: NtpdOptions } | { ok: false; message: string };

/** Usage text of `horae run` / `ntpd`. */
export const NTPD_USAGE =
  `usage: ntpd [ -46aAbdgLmnNqx ] [ -c config ] [ -D level ] [ -f driftfile ]
            [ -i jaildir ] [ -I iface ] [ -k keyfile ] [ -l logfile ] [ -p pidfile ]
            [ -P priority ] [ -r broadcastdelay ] [ -s statsdir ] [ -t key ]
            [ -u user[:group] ] [ -U interval ] [ -v var ] [ -V var ] [ --toml ] [ --observe ]
`;

function defaults(): NtpdOptions {
  return {
    ipv4Only: false,
    ipv6Only: false,
    authRequired: null,
    broadcastClient: false,
    configFile: null,
    debugLevel: 0,
    driftFile: null,
    panicGate: false,
    jailDir: null,
    interfaces: [],
    keysFile: null,
    logFile: null,
    noVirtualIps: false,
    multicastClient: false,
    noFork: false,
    nice: false,
    pidFile: null,
    priority: null,
    quit: false,
    broadcastDelaySec: null,
    statsDir: null,
    trustedKeys: [],
    user: null,
    group: null,
    updateIntervalSec: null,
    vars: [],
    defaultVars: [],
    slew: false,
    toml: false,
    observe: false,
    help: false,
    version: false,
  };
}

const OPTIONS = {
  ipv4: { type: "boolean", short: "4" },
  ipv6: { type: "boolean", short: "6" },
  authreq: { type: "boolean", short: "a" },
  authnoreq: { type: "boolean", short: "A" },
  bcastsync: { type: "boolean", short: "b" },
  configfile: { type: "string", short: "c" },
  "debug-level": { type: "boolean", short: "d", multiple: true },
  "set-debug-level": { type: "string", short: "D" },
  driftfile: { type: "string", short: "f" },
  panicgate: { type: "boolean", short: "g" },
  jaildir: { type: "string", short: "i" },
  interface: { type: "string", short: "I", multiple: true },
  keyfile: { type: "string", short: "k" },
  logfile: { type: "string", short: "l" },
  novirtualips: { type: "boolean", short: "L" },
  mcastsync: { type: "boolean", short: "m" },
  nofork: { type: "boolean", short: "n" },
  nice: { type: "boolean", short: "N" },
  pidfile: { type: "string", short: "p" },
  priority: { type: "string", short: "P" },
  quit: { type: "boolean", short: "q" },
  propagationdelay: { type: "string", short: "r" },
  statsdir: { type: "string", short: "s" },
  trustedkey: { type: "string", short: "t", multiple: true },
  user: { type: "string", short: "u" },
  updateinterval: { type: "string", short: "U" },
  var: { type: "string", short: "v", multiple: true },
  dvar: { type: "string", short: "V", multiple: true },
  slew: { type: "boolean", short: "x" },
  toml: { type: "boolean" },
  observe: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/**
 * The one-line help of each option, with the value's name for those that take one: the keys are
 * OPTIONS' own, so an option cannot be added without its help.
 */
const HELP: { [K in keyof typeof OPTIONS]: readonly [value: string, help: string] } = {
  ipv4: ["", "resolve and use IPv4 addresses only"],
  ipv6: ["", "resolve and use IPv6 addresses only"],
  authreq: ["", "require authentication for broadcast and symmetric passive peers (enable auth)"],
  authnoreq: ["", "do not require that authentication (disable auth)"],
  bcastsync: ["", "listen for broadcast servers (broadcastclient)"],
  configfile: ["FILE", "read the configuration from FILE (default: the embedded configuration)"],
  "debug-level": ["", "raise the debug level by one (repeatable)"],
  "set-debug-level": ["LEVEL", "set the debug level (0-255)"],
  driftfile: ["FILE", "the drift file (overrides driftfile)"],
  panicgate: ["", "allow the first correction to exceed the panic threshold"],
  jaildir: ["DIR", "chroot to DIR after start-up (with -u)"],
  interface: ["IFACE", "listen on this interface or address (repeatable)"],
  keyfile: ["FILE", "the symmetric key file (overrides keys)"],
  logfile: ["FILE", "log to FILE instead of standard error (overrides logfile)"],
  novirtualips: ["", "do not listen on virtual (alias) addresses"],
  mcastsync: ["", "listen for multicast servers on 224.0.1.1 (multicastclient)"],
  nofork: [
    "",
    "stay in the foreground (without -n the daemon goes into the background once ready)",
  ],
  nice: ["", "run at the highest priority"],
  pidfile: ["FILE", "write the process id to FILE (overrides pidfile)"],
  priority: ["N", "run at this real-time priority"],
  quit: ["", "set the time once and exit, like ntpdate"],
  propagationdelay: ["SEC", "broadcast/multicast propagation delay, seconds (broadcastdelay)"],
  statsdir: ["DIR", "the statistics folder (overrides statsdir)"],
  trustedkey: ["KEY", "trust this key id (repeatable)"],
  user: ["USER[:GROUP]", "drop root privileges to this user after binding"],
  updateinterval: ["SEC", "rescan the interfaces every SEC seconds (0: never)"],
  var: ["NAME=VALUE", "set a system variable (setvar)"],
  dvar: ["NAME=VALUE", "set a system variable listed by default (setvar ... default)"],
  slew: ["", "slew only, for offsets up to 600 s (step threshold 600 s)"],
  toml: ["", "the configuration file is TOML whatever its name"],
  observe: ["", "never steer the system clock (corrections go to a virtual clock)"],
  help: ["", "print this help and exit"],
  version: ["", "print the version and exit"],
};

/** ntpd's long options, `--name`, for "did you mean". */
export const NTPD_LONG_OPTIONS: readonly string[] = longOptions(OPTIONS);

/** Every option of `horae run` / `ntpd` that is ntpd's (or --toml, --observe), one line each. */
export const NTPD_OPTION_HELP: readonly OptionHelp[] = optionHelp(OPTIONS, HELP);

/**
 * Parses ntpd's command line (without the program name). Short options combine (`-gqx`), take
 * their value attached or separate (`-c/etc/ntp.conf`, `-c /etc/ntp.conf`), and each `-d` adds
 * one to the debug level. Returns a usage error message instead of throwing; an unknown long
 * option gets "did you mean" among ntpd's and `alsoKnown` (the caller's own options).
 */
export function parseNtpdArgs(argv: string[], alsoKnown: readonly string[] = []): NtpdArgsResult {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return { ok: false, message: parseArgsMessage(e, [...NTPD_LONG_OPTIONS, ...alsoKnown]) };
  }
  const v = parsed.values;
  if (parsed.positionals.length > 0) {
    return { ok: false, message: `unexpected argument "${parsed.positionals[0]}"` };
  }
  const o = defaults();
  if (v.ipv4 && v.ipv6) return { ok: false, message: "-4 and -6 cannot be used together" };
  if (v.authreq && v.authnoreq) return { ok: false, message: "-a and -A cannot be used together" };
  o.ipv4Only = v.ipv4 ?? false;
  o.ipv6Only = v.ipv6 ?? false;
  o.authRequired = v.authreq ? true : v.authnoreq ? false : null;
  o.broadcastClient = v.bcastsync ?? false;
  o.configFile = v.configfile ?? null;
  o.debugLevel = v["debug-level"]?.length ?? 0;
  if (v["set-debug-level"] !== undefined) {
    const level = v["set-debug-level"];
    if (!/^[0-9]{1,3}$/.test(level)) {
      return { ok: false, message: `-D needs a debug level (0-255), got "${level}"` };
    }
    o.debugLevel = Number(level);
  }
  o.driftFile = v.driftfile ?? null;
  o.panicGate = v.panicgate ?? false;
  o.jailDir = v.jaildir ?? null;
  o.interfaces = [...(v.interface ?? [])];
  o.keysFile = v.keyfile ?? null;
  o.logFile = v.logfile ?? null;
  o.noVirtualIps = v.novirtualips ?? false;
  o.multicastClient = v.mcastsync ?? false;
  o.noFork = v.nofork ?? false;
  o.nice = v.nice ?? false;
  o.pidFile = v.pidfile ?? null;
  if (v.priority !== undefined) {
    if (!/^-?[0-9]{1,3}$/.test(v.priority)) {
      return { ok: false, message: `-P needs a priority number, got "${v.priority}"` };
    }
    o.priority = Number(v.priority);
  }
  o.quit = v.quit ?? false;
  if (v.propagationdelay !== undefined) {
    const d = Number(v.propagationdelay);
    if (!/^[0-9.]+$/.test(v.propagationdelay) || !Number.isFinite(d) || d > 1) {
      return {
        ok: false,
        message: `-r needs a delay in seconds (0-1), got "${v.propagationdelay}"`,
      };
    }
    o.broadcastDelaySec = d;
  }
  o.statsDir = v.statsdir ?? null;
  for (const k of v.trustedkey ?? []) {
    const id = Number(k);
    if (!/^[0-9]+$/.test(k) || id < MIN_KEY_ID || id > MAX_KEY_ID) {
      return { ok: false, message: `-t needs a key id (${MIN_KEY_ID}-${MAX_KEY_ID}), got "${k}"` };
    }
    o.trustedKeys.push(id);
  }
  if (v.user !== undefined) {
    const [user, group, extra] = v.user.split(":");
    if (!user || extra !== undefined || group === "") {
      return { ok: false, message: `-u needs user or user:group, got "${v.user}"` };
    }
    o.user = user;
    o.group = group ?? null;
  }
  if (v.updateinterval !== undefined) {
    if (!/^[0-9]{1,9}$/.test(v.updateinterval)) {
      return {
        ok: false,
        message: `-U needs an interval in seconds, got "${v.updateinterval}"`,
      };
    }
    o.updateIntervalSec = Number(v.updateinterval);
  }
  for (
    const [flag, list, target] of [
      ["-v", v.var ?? [], o.vars],
      ["-V", v.dvar ?? [], o.defaultVars],
    ] as const
  ) {
    for (const item of list) {
      if (!/^[A-Za-z0-9_.-]+\s*=/.test(item)) {
        return { ok: false, message: `${flag} needs name=value, got "${item}"` };
      }
      target.push(item);
    }
  }
  o.slew = v.slew ?? false;
  o.toml = v.toml ?? false;
  o.observe = v.observe ?? false;
  o.help = v.help ?? false;
  o.version = v.version ?? false;
  return { ok: true, options: o };
}

/** Step threshold ntpd uses with -x (seconds). */
export const SLEW_ONLY_STEP_SEC = 600;

/**
 * Applies the command-line options that override configuration settings (ntpd gives the command
 * line the last word): -f, -k, -l, -p, -s, -t, -b, -m, -r, -a/-A, -v/-V and -x. Returns a new
 * model; the input is not changed. Runtime-only options (-g, -q, -n, -d, -u, ...) stay in
 * `NtpdOptions` for the daemon.
 */
export function applyNtpdOptions(config: NtpConfig, o: NtpdOptions): NtpConfig {
  const c = structuredClone(config);
  if (o.driftFile !== null) c.files.driftFile = o.driftFile;
  if (o.keysFile !== null) c.auth.keysFile = o.keysFile;
  if (o.logFile !== null) c.files.logFile = o.logFile;
  if (o.pidFile !== null) c.files.pidFile = o.pidFile;
  if (o.statsDir !== null) c.stats.statsDir = o.statsDir;
  c.auth.trustedKeys.push(...o.trustedKeys);
  if (o.broadcastClient) c.broadcast.client = true;
  if (o.multicastClient && c.broadcast.multicastClient.length === 0) {
    c.broadcast.multicastClient = [DEFAULT_MULTICAST_GROUP];
  }
  if (o.broadcastDelaySec !== null) c.broadcast.delaySec = o.broadcastDelaySec;
  if (o.authRequired !== null) c.system.auth = o.authRequired;
  for (const [list, isDefault] of [[o.vars, false], [o.defaultVars, true]] as const) {
    for (const item of list) {
      const eq = item.indexOf("=");
      c.setvar.push({
        name: item.slice(0, eq).trim(),
        value: item.slice(eq + 1).trim(),
        isDefault,
      });
    }
  }
  if (o.slew) c.tinker.stepSec = SLEW_ONLY_STEP_SEC;
  // Sorts the merged trusted keys and sets `bclient` along with -b's `broadcastclient`.
  return normalizeConfig(c);
}
