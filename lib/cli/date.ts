// `horae date` (multi-call `ntpdate`, ntpdate(8) of ntpd 4.2.8): asks its servers for -p samples
// each, in parallel, chooses one with ntpdate's filter and selection (date_select.ts, over the
// core's clock filter, selection, clustering and combining), then steps the clock when the
// offset exceeds 0.5 s (or with -b) and slews it otherwise (or always with -B), through the
// core's clock adapters. Without CAP_SYS_TIME it changes nothing: it prints what it would have
// done ("would step" / "would slew") and exits 0. Unless -u, -q or -d, it sends from port 123 and
// refuses politely when another program (a daemon) holds that port.
//
// Output as ntpdate's: with -q a `server ...` line per server, then one log line, on standard
// output or, with -s, to syslog:
//
//    5 Oct 13:38:46 ntpdate[13215]: adjust time server 192.0.2.1 offset 0.001114 sec
//
// Exit status 0 when a server was found (and the clock set, or would have been), 1 otherwise.
//
// COMPAT: ntpdate slews 50 % more than the offset it measured (its manual lists this as a bug);
// Horae slews the offset itself. -e only moves the transmit timestamp of signed requests, as in
// ntpdate: the offset is computed from when the request really left (a kernel timestamp), which
// already includes the time the MAC took.

import { parseArgs } from "node:util";
import { Errno, OsError } from "../../ffi/libc.ts";
import { loadKeysFile } from "../config/keys_file.ts";
import type { Clock } from "../clock/clock.ts";
import { KeyStore, type SymmetricKey } from "../proto/auth/key_store.ts";
import { MacVerifier } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { refidToString } from "../proto/packet.ts";
import { diffSec, fromTimestamp, fromUnixNs, type NtpTime, toUnix } from "../proto/ntp_time.ts";
import { type Rng, SeededRng } from "../proto/rng.ts";
import { parseSocketAddress } from "../net/socket_address.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";
import { hasSysTimeCapability } from "./clock_privilege.ts";
import { chooseServer, type DateChoice, type DropReason } from "./date_select.ts";
import {
  type DateEvent,
  type DateServer,
  DateSession,
  type DateSessionOptions,
  SAMPLE_SPACING_SEC,
} from "./date_session.ts";
import { prettyDate } from "./time.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";
import { HORAE_VERSION } from "./version.ts";

/** ntpdate's step threshold: larger offsets are stepped unless -B (s). */
export const STEP_THRESHOLD_SEC = 0.5;
/** Default -p. */
export const DEFAULT_SAMPLES = 4;
/** Default -t (s): ntpdate 4.2.8's. */
export const DEFAULT_TIMEOUT_SEC = 2;
/** Default -k. */
export const DEFAULT_KEYS_FILE = "/etc/ntp.keys";
/** The program name in ntpdate's log lines. */
const LOG_NAME = "ntpdate";

const DATE_OPTIONS = {
  ipv4: { type: "boolean", short: "4" },
  ipv6: { type: "boolean", short: "6" },
  keyid: { type: "string", short: "a" },
  "slew-only": { type: "boolean", short: "B" },
  step: { type: "boolean", short: "b" },
  debug: { type: "boolean", short: "d" },
  authdelay: { type: "string", short: "e" },
  keyfile: { type: "string", short: "k" },
  "ntp-version": { type: "string", short: "o" },
  samples: { type: "string", short: "p" },
  query: { type: "boolean", short: "q" },
  syslog: { type: "boolean", short: "s" },
  timeout: { type: "string", short: "t" },
  unprivileged: { type: "boolean", short: "u" },
  verbose: { type: "boolean", short: "v" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const DATE_USAGE =
  "usage: horae date [-46bBdqsuv] [-a key] [-e authdelay] [-k keyfile] [-o version]\n" +
  "                  [-p samples] [-t timeout] server ...     (ntpdate)";

/** `horae date --help`. */
export const DATE_HELP = helpText(
  DATE_USAGE,
  optionHelp(DATE_OPTIONS, {
    ipv4: ["", "resolve server names to IPv4 addresses only"],
    ipv6: ["", "resolve server names to IPv6 addresses only"],
    keyid: ["ID", "sign requests with key ID and accept only replies signed with it"],
    "slew-only": ["", "always slew (adjtime), even beyond 0.5 s"],
    step: ["", "always step (settimeofday), even within 0.5 s"],
    debug: ["", "go through every step but change nothing; print the details (port > 1023)"],
    authdelay: ["SEC", "add SEC to the transmit timestamp of signed requests"],
    keyfile: ["FILE", `keys file for -a (default ${DEFAULT_KEYS_FILE})`],
    "ntp-version": ["N", "NTP version of the requests (1-4, default 4)"],
    samples: ["N", `samples from each server (1-8, default ${DEFAULT_SAMPLES})`],
    query: ["", "query only: print the servers' offsets, change nothing (port > 1023)"],
    syslog: ["", "log to syslog instead of standard output"],
    timeout: ["SEC", `wait for each reply (multiple of 0.2, default ${DEFAULT_TIMEOUT_SEC})`],
    unprivileged: ["", "send from a port above 1023, not 123"],
    verbose: ["", "log the version first"],
    json: ["", "print the servers, the choice and the action as JSON"],
    help: ["", "print this help and exit"],
  }),
  "Offsets above 0.5 s are stepped, smaller ones slewed. Setting the clock needs CAP_SYS_TIME:\n" +
    "without it nothing is changed, the log says what would have been done, and the exit\n" +
    "status is still 0. Without -u, -q or -d the requests leave from port 123, and a daemon\n" +
    "holding that port makes the command refuse (exit 1).\n",
);

/** What `runDate` needs from the world (tests use a memory network and a pretend clock). */
export interface DateEnv {
  io: CliIo;
  /** Opens a UDP socket on the wildcard address of `family`, port `port` (0: any). Throws. */
  openSocket(family: 4 | 6, port: number): Transport;
  /** True when some socket in this network namespace holds UDP port 123. */
  port123Busy(): boolean;
  /** Addresses of a host name (not an address literal) of `family` (null: any). */
  resolve(name: string, family: 4 | 6 | null): Promise<string[]>;
  /** True when this process may set the clock (CAP_SYS_TIME). */
  canSetClock(): boolean;
  /** The clock: one that can steer when `steer`, else an observe-only one. */
  clock(steer: boolean): Clock;
  /** The time the session runs on (the sockets' clock). */
  now(): NtpTime;
  /** Resolves at `t` or when `wake` resolves, whichever comes first. */
  waitUntil(t: NtpTime, wake: Promise<void>): Promise<void>;
  /** Sends `message` to syslog; false when the system logger cannot be reached. */
  syslog(message: string): boolean;
  /** Keys of a keys file (throws with the reason when it cannot be read). */
  loadKeys(path: string): Promise<SymmetricKey[]>;
  /** This process's id, for the log lines. */
  pid: number;
  /** The local date, for the log lines. */
  date(): Date;
  /** Random numbers for the transmit timestamps. */
  rng: Rng;
}

/** The real environment: FFI sockets and clocks, DNS, syslog. */
export async function denoDateEnv(): Promise<DateEnv> {
  const { openUdpTransport } = await import("../net/open_transport.ts");
  const { realtimeNs, ffiAvailable } = await import("../../ffi/libc.ts");
  const { LinuxClock } = await import("../clock/linux_clock.ts");
  const { NullClock } = await import("../clock/null_clock.ts");
  const { SyslogSink } = await import("../log/log_sinks.ts");
  let sink: InstanceType<typeof SyslogSink> | null | undefined;
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  const now = ffiAvailable()
    ? () => fromUnixNs(realtimeNs())
    : () => fromUnixNs(BigInt(Date.now()) * 1_000_000n);
  return {
    io: denoIo(),
    openSocket: (family, port) =>
      openUdpTransport({
        address: family === 6 ? "::" : "0.0.0.0",
        port,
        batchSize: 8,
        receiveBufferBytes: 1 << 16,
        pollTimeoutMs: 100,
      }).transport,
    port123Busy,
    async resolve(name, family) {
      const out: string[] = [];
      for (const rr of family === 6 ? ["AAAA"] : family === 4 ? ["A"] : ["A", "AAAA"]) {
        try {
          out.push(
            ...await Deno.resolveDns(name, rr as "A" | "AAAA", {
              signal: AbortSignal.timeout(5000),
            }),
          );
        } catch { /* none of this type */ }
      }
      return out;
    },
    canSetClock: hasSysTimeCapability,
    clock: (steer) => steer ? new LinuxClock() : new NullClock(),
    now,
    waitUntil(t, wake) {
      const ms = Math.max(0, diffSec(t, now()) * 1000);
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        new Promise<void>((r) => timer = setTimeout(r, Math.ceil(ms))),
        wake,
      ]).finally(() => clearTimeout(timer));
    },
    syslog(message) {
      if (sink === undefined) {
        try {
          sink = new SyslogSink({ program: LOG_NAME });
        } catch {
          sink = null;
        }
      }
      if (sink === null) return false;
      sink.write(message, "info", "date", message);
      return true;
    },
    loadKeys: async (path) => (await loadKeysFile(path)).keys,
    pid: Deno.pid,
    date: () => new Date(),
    rng: new SeededRng(seed),
  };
}

/** True when /proc/net/udp or udp6 lists a socket bound to local port 123. */
export function port123Busy(): boolean {
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local !== undefined && /:007B$/i.test(local)) return true;
    }
  }
  return false;
}

/** The parsed command line. */
export interface DateOptions {
  servers: string[];
  family: 4 | 6 | null;
  keyId: number | null;
  keyFile: string;
  authDelaySec: number;
  version: number;
  samples: number;
  timeoutSec: number;
  query: boolean;
  debug: boolean;
  syslog: boolean;
  unprivileged: boolean;
  verbose: boolean;
  json: boolean;
  force: "step" | "slew" | null;
}

/** Parses and checks the options; a string is the usage error. */
export function parseDateOptions(args: string[]): DateOptions | "help" | string {
  let parsed;
  try {
    parsed = parseArgs({ args, options: DATE_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    return parseArgsMessage(e, longOptions(DATE_OPTIONS));
  }
  const v = parsed.values;
  if (v.help === true) return "help";
  const num = (text: string | undefined, fallback: number) =>
    text === undefined
      ? fallback
      : /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(text)
      ? Number(text)
      : NaN;
  const samples = num(v.samples, DEFAULT_SAMPLES);
  if (!Number.isInteger(samples) || samples < 1 || samples > 8) {
    return `-p ${JSON.stringify(v.samples)} is not a number of samples from 1 to 8`;
  }
  const version = num(v["ntp-version"], 4);
  if (!Number.isInteger(version) || version < 1 || version > 4) {
    return `-o ${JSON.stringify(v["ntp-version"])} is not an NTP version from 1 to 4`;
  }
  const timeout = num(v.timeout, DEFAULT_TIMEOUT_SEC);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 60) {
    return `-t ${JSON.stringify(v.timeout)} is not a timeout in seconds (up to 60)`;
  }
  const authDelay = num(v.authdelay, 0);
  if (!Number.isFinite(authDelay) || authDelay < 0 || authDelay >= 1) {
    return `-e ${JSON.stringify(v.authdelay)} is not a delay in seconds (0 to 1)`;
  }
  let keyId: number | null = null;
  if (v.keyid !== undefined) {
    keyId = num(v.keyid, NaN);
    if (!Number.isInteger(keyId) || keyId < 1 || keyId > 65535) {
      return `-a ${JSON.stringify(v.keyid)} is not a key id from 1 to 65535`;
    }
  }
  if (v.step === true && v["slew-only"] === true) return "-b (step) and -B (slew) contradict";
  if (v.ipv4 === true && v.ipv6 === true) return "-4 and -6 contradict";
  if (parsed.positionals.length === 0) return "no server given";
  return {
    servers: parsed.positionals,
    family: v.ipv4 === true ? 4 : v.ipv6 === true ? 6 : null,
    keyId,
    keyFile: v.keyfile ?? DEFAULT_KEYS_FILE,
    authDelaySec: authDelay,
    version,
    samples,
    // ntpdate counts its timeout in 0.2 s steps.
    timeoutSec: Math.max(0.2, Math.round(timeout * 5) / 5),
    query: v.query === true,
    debug: v.debug === true,
    syslog: v.syslog === true,
    unprivileged: v.unprivileged === true,
    verbose: v.verbose === true,
    json: v.json === true,
    force: v.step === true ? "step" : v["slew-only"] === true ? "slew" : null,
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ntpdate's log line on standard output: ` 5 Oct 13:38:46 ntpdate[13215]: message`. */
export function logLine(d: Date, pid: number, message: string): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${String(d.getDate()).padStart(2, " ")} ${MONTHS[d.getMonth()]} ${p2(d.getHours())}:${
    p2(d.getMinutes())
  }:${p2(d.getSeconds())} ${LOG_NAME}[${pid}]: ${message}\n`;
}

/** ntpdate's fixed-point text of an offset: six decimals. */
function fmtOffset(sec: number): string {
  return (Object.is(sec, -0) ? 0 : sec).toFixed(6);
}

/** ntpdate's text of a delay: five decimals. */
function fmtDelay(sec: number): string {
  return sec.toFixed(5);
}

/** What was (or would be) done with the offset. */
export type DateAction = "step" | "slew";

/** ntpdate's rule: -b steps, -B slews, otherwise step beyond 0.5 s. */
export function actionFor(offsetSec: number, force: "step" | "slew" | null): DateAction {
  if (force !== null) return force;
  return Math.abs(offsetSec) > STEP_THRESHOLD_SEC ? "step" : "slew";
}

function addrText(a: SocketAddress): string {
  return a.address;
}

/** Resolves the command line's servers (one address each, duplicates dropped). */
async function resolveServers(
  env: DateEnv,
  o: DateOptions,
  log: (m: string) => void,
): Promise<DateServer[]> {
  const out: DateServer[] = [];
  const seen = new Set<string>();
  for (const name of o.servers) {
    const bare = name.replace(/^\[(.*)\]$/, "$1");
    let address: SocketAddress | null = null;
    const lit = parseSocketAddress(bare.includes(":") ? `[${bare}]:123` : `${bare}:123`);
    if (lit.ok && (o.family === null || lit.address.family === o.family)) {
      address = lit.address;
    } else if (!lit.ok) {
      const found = bare === "localhost"
        ? [o.family === 6 ? "::1" : "127.0.0.1"]
        : await env.resolve(bare, o.family);
      for (const a of found) {
        const r = parseSocketAddress(a.includes(":") ? `[${a}]:123` : `${a}:123`);
        if (r.ok) {
          address = r.address;
          break;
        }
      }
    }
    if (address === null) {
      log(`can't find host ${name}`);
      continue;
    }
    const key = `${address.family}/${address.address}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name, address });
  }
  return out;
}

/** Why opening the sockets failed, as the user should read it. */
type OpenFailure = { kind: "in_use" } | { kind: "error"; message: string };

function isAddrInUse(e: unknown): boolean {
  return (e instanceof OsError && e.errno === Errno.EADDRINUSE) ||
    e instanceof Deno.errors.AddrInUse;
}

function isNoPermission(e: unknown): boolean {
  return (e instanceof OsError && e.errno === Errno.EACCES) ||
    e instanceof Deno.errors.PermissionDenied;
}

/** Runs the session to its end over the transports (bounded in time). */
async function drive(
  env: DateEnv,
  session: DateSession,
  sockets: Map<4 | 6, Transport>,
  maxSec: number,
): Promise<void> {
  let wake: () => void = () => {};
  let wakePromise = new Promise<void>((r) => wake = r);
  const serving: Promise<void>[] = [];
  for (const t of sockets.values()) {
    serving.push(
      t.serve((d) => {
        session.receive(d.data.slice(), { ...d.peer }, d.rxTime);
        wake();
      }).catch(() => {}),
    );
  }
  const start = env.now();
  try {
    for (let round = 0; round < 100_000; round++) {
      const now = env.now();
      for (const s of session.poll(now)) {
        const t = sockets.get(s.to.family);
        if (t === undefined) continue;
        // A request that cannot be sent (no route) counts as lost when it times out.
        t.sendRequest(
          s.data,
          s.to,
          (tx) => session.transmitted(s.server, s.xmt, tx.time, tx.kernel),
        );
      }
      if (session.done || diffSec(env.now(), start) > maxSec) break;
      const deadline = session.deadline;
      if (deadline === null) continue;
      await env.waitUntil(deadline, wakePromise);
      wakePromise = new Promise<void>((r) => wake = r);
    }
  } finally {
    for (const t of sockets.values()) t.close();
    await Promise.all(serving);
  }
}

/** The -d block of one server. */
function debugBlock(
  r: ReturnType<DateSession["results"]>[number],
  samples: number,
  now: NtpTime,
): string {
  const a = r.server.address;
  const p = r.lastReply;
  const hex = (ts: bigint) =>
    `${(ts >> 32n).toString(16).padStart(8, "0")}.${
      (ts & 0xffff_ffffn).toString(16).padStart(8, "0")
    }`;
  const when = (ts: bigint) => {
    if (ts === 0n) return `${hex(ts)}  (none)`;
    const u = toUnix(fromTimestamp(ts, now));
    return `${hex(ts)}  ${prettyDate(Number(u.sec), u.nsec / 1e9)}`;
  };
  let out = `server ${addrText(a)}, port ${a.port}\n`;
  if (p !== null) {
    out += `stratum ${p.stratum}, precision ${p.precisionLog2}, leap ${
      p.leap.toString(2).padStart(2, "0")
    }\n`;
    out += `refid [${refidToString(p.refid, p.stratum)}], root delay ${
      (r.vars?.rootDelaySec ?? 0).toFixed(6)
    }, root dispersion ${(r.vars?.rootDispersionSec ?? 0).toFixed(6)}\n`;
    out += `reference time:      ${when(p.referenceTimestamp)}\n`;
    out += `originate timestamp: ${when(p.originTimestamp)}\n`;
    out += `transmit timestamp:  ${when(p.transmitTimestamp)}\n`;
  } else {
    out += "no reply\n";
  }
  const cols = Array.from({ length: 8 }, (_, i) => r.samples[i] ?? null);
  const delays = cols.map((s) => fmtDelay(s?.delaySec ?? 0).padStart(8));
  const offsets = cols.map((s) => fmtOffset(s?.offsetSec ?? 0).padStart(9));
  out += `filter delay: ${delays.slice(0, 4).join(" ")}\n              ${
    delays.slice(4).join(" ")
  }\n`;
  out += `filter offset:${offsets.slice(0, 4).join(" ")}\n              ${
    offsets.slice(4).join(" ")
  }\n`;
  if (r.filter !== null) {
    out += `delay ${fmtDelay(r.filter.delaySec)}, dispersion ${fmtDelay(r.filter.dispersionSec)}\n`;
    out += `offset ${fmtOffset(r.filter.offsetSec)}\n`;
  }
  out += `samples ${r.samples.filter((s) => s !== null).length} of ${samples}` +
    (r.kiss !== null ? `, kiss code ${r.kiss}` : "") +
    (Object.keys(r.rejected).length > 0
      ? `, rejected ${Object.entries(r.rejected).map(([k, n]) => `${k} ${n}`).join(", ")}`
      : "") +
    "\n\n";
  return out;
}

function eventLine(e: DateEvent, servers: readonly DateServer[]): string {
  const name = (i: number | null) => i === null ? "?" : addrText(servers[i]!.address);
  switch (e.kind) {
    case "transmit":
      return `transmit(${name(e.server)})\n`;
    case "receive":
      return `receive(${name(e.server)}): offset ${fmtOffset(e.offsetSec)}, delay ${
        fmtDelay(e.delaySec)
      }\n`;
    case "kiss":
      return `receive(${name(e.server)}): kiss-o'-death ${e.code}\n`;
    case "reject":
      return e.reason === "timeout"
        ? `timeout(${name(e.server)})\n`
        : `receive(${e.from}): ${e.reason.replaceAll("_", " ")}\n`;
  }
}

/** `horae date` / `ntpdate`: returns the exit status. */
export async function runDate(
  args: string[],
  program = "horae date",
  env?: DateEnv,
): Promise<number> {
  const io0 = env?.io ?? denoIo();
  const o = parseDateOptions(args);
  if (o === "help") {
    io0.stdout(DATE_HELP);
    return 0;
  }
  if (typeof o === "string") {
    io0.stderr(usageError(program, o));
    return EXIT_USAGE;
  }
  let e: DateEnv;
  try {
    e = env ?? await denoDateEnv();
  } catch (err) {
    io0.stderr(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const io = e.io;
  // ntpdate's log: standard output, or syslog with -s (standard output when that fails).
  const log = (message: string) => {
    if (o.json) {
      io.stderr(`${LOG_NAME}: ${message}\n`);
      return;
    }
    if (o.syslog && e.syslog(message)) return;
    io.stdout(logLine(e.date(), e.pid, message));
  };
  if (o.verbose) log(`horae ${HORAE_VERSION} (ntpdate)`);

  // Keys (-a, -k).
  let key: SessionKey | null = null;
  if (o.keyId !== null) {
    try {
      key = sessionKey(await e.loadKeys(o.keyFile), o.keyId);
    } catch (err) {
      log(`cannot read the keys file ${o.keyFile}: ${err instanceof Error ? err.message : err}`);
      return 1;
    }
    if (key === null) {
      log(`authentication key ${o.keyId} unknown in ${o.keyFile}`);
      return 1;
    }
  }

  const servers = await resolveServers(e, o, log);
  if (servers.length === 0) {
    log("no servers can be used, exiting");
    return 1;
  }

  const setting = !o.query && !o.debug;
  const wantPort = setting && !o.unprivileged ? 123 : 0;
  const families = [...new Set(servers.map((s) => s.address.family))];
  const sockets = new Map<4 | 6, Transport>();
  const failure = openSockets(e, families, wantPort, sockets, log);
  if (failure !== null) {
    for (const t of sockets.values()) t.close();
    if (failure.kind === "in_use") log("the NTP socket is in use, exiting");
    else log(failure.message);
    return 1;
  }

  const steer = setting && e.canSetClock();
  const clock = e.clock(steer);
  const sessionOptions: DateSessionOptions = {
    samples: o.samples,
    timeoutSec: o.timeoutSec,
    version: o.version,
    precisionLog2: clock.precisionLog2,
    rng: e.rng,
    authDelaySec: o.authDelaySec,
    key: key?.key ?? null,
    verifier: key?.verifier ?? null,
  };
  const session = new DateSession(servers, sessionOptions);
  const maxSec = o.samples * (o.timeoutSec + SAMPLE_SPACING_SEC) + 2;
  await drive(e, session, sockets, maxSec);

  const now = e.now();
  const results = session.results(now);
  const choice = chooseServer(
    results.map((r, index) => ({ index, vars: r.vars, filter: r.filter })),
  );

  if (o.debug && !o.json) {
    let text = session.events.map((ev) => eventLine(ev, servers)).join("");
    text += "\n";
    for (const r of results) text += debugBlock(r, o.samples, now);
    io.stdout(text);
  }
  if ((o.query || o.debug) && !o.json) {
    let text = "";
    for (const r of results) {
      text += `server ${addrText(r.server.address)}, stratum ${r.vars?.stratum ?? 0}, offset ${
        fmtOffset(r.filter?.offsetSec ?? 0)
      }, delay ${fmtDelay(r.filter?.delaySec ?? 0)}\n`;
    }
    io.stdout(text);
  }

  if (choice.chosen === null || choice.offsetSec === null) {
    if (o.json) io.stdout(jsonReport(results, choice, null, false, !steer && setting, 1));
    log("no server suitable for synchronization found");
    return 1;
  }
  const offset = choice.offsetSec;
  const action = actionFor(offset, o.force);
  const chosen = addrText(results[choice.chosen]!.server.address);
  const what = `${action === "step" ? "step" : "adjust"} time server ${chosen} offset ${
    fmtOffset(offset)
  } sec`;
  if (!setting) {
    if (o.json) io.stdout(jsonReport(results, choice, action, false, false, 0));
    log(what);
    return 0;
  }
  if (!clock.canSteer) {
    if (o.json) io.stdout(jsonReport(results, choice, action, false, true, 0));
    log(
      `would ${action} time server ${chosen} offset ${fmtOffset(offset)} sec ` +
        "(no CAP_SYS_TIME: the clock was not changed)",
    );
    return 0;
  }
  try {
    if (action === "step") clock.step(offset);
    else clock.adjust({ offsetSec: offset });
  } catch (err) {
    if (o.json) io.stdout(jsonReport(results, choice, action, false, false, 1));
    log(`cannot ${action} the clock: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (o.json) io.stdout(jsonReport(results, choice, action, true, false, 0));
  log(what);
  return 0;
}

/** A key for the session: the stored key and a verifier trusting it. */
interface SessionKey {
  key: NonNullable<DateSessionOptions["key"]>;
  verifier: MacVerifier;
}

function sessionKey(keys: readonly SymmetricKey[], id: number): SessionKey | null {
  const store = new KeyStore(new PureCrypto(), keys, [id]);
  const key = store.get(id);
  if (key === undefined) return null;
  return { key, verifier: new MacVerifier(store) };
}

/** Opens one socket per family; a failure says whether port 123 is held by someone else. */
function openSockets(
  e: DateEnv,
  families: readonly (4 | 6)[],
  port: number,
  out: Map<4 | 6, Transport>,
  log: (m: string) => void,
): OpenFailure | null {
  for (const family of families) {
    try {
      out.set(family, e.openSocket(family, port));
      continue;
    } catch (err) {
      if (port !== 0 && isAddrInUse(err)) return { kind: "in_use" };
      if (port !== 0 && isNoPermission(err)) {
        // Not allowed to bind port 123: the kernel says so before it looks whether the port is
        // taken, so look in the socket tables.
        if (e.port123Busy()) return { kind: "in_use" };
        log("no privilege to bind port 123: sending from an unprivileged port (as -u)");
        try {
          out.set(family, e.openSocket(family, 0));
          continue;
        } catch (err2) {
          return { kind: "error", message: `cannot open a UDP socket: ${describe(err2)}` };
        }
      }
      return { kind: "error", message: `cannot open a UDP socket: ${describe(err)}` };
    }
  }
  return null;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function jsonReport(
  results: ReturnType<DateSession["results"]>,
  choice: DateChoice,
  action: DateAction | null,
  applied: boolean,
  observeOnly: boolean,
  exitCode: number,
): string {
  const servers = results.map((r, i) => ({
    name: r.server.name,
    address: r.server.address.address,
    port: r.server.address.port,
    stratum: r.vars?.stratum ?? 0,
    leap: r.vars?.leap ?? null,
    refid: r.vars === null ? null : refidToString(r.vars.refid, r.vars.stratum),
    rootDelaySec: r.vars?.rootDelaySec ?? null,
    rootDispersionSec: r.vars?.rootDispersionSec ?? null,
    offsetSec: r.filter?.offsetSec ?? null,
    delaySec: r.filter?.delaySec ?? null,
    dispersionSec: r.filter?.dispersionSec ?? null,
    jitterSec: r.filter?.jitterSec ?? null,
    rootDistanceSec: choice.distanceSec.get(i) ?? null,
    sent: r.sent,
    samples: r.samples.filter((s) => s !== null).length,
    kiss: r.kiss,
    rejected: r.rejected,
    selected: choice.chosen === i,
    survivor: choice.survivors.includes(i),
    dropped: (choice.dropped.get(i) ?? null) as DropReason | null,
  }));
  return `${
    JSON.stringify(
      {
        servers,
        chosen: choice.chosen === null ? null : results[choice.chosen]!.server.address.address,
        offsetSec: choice.offsetSec,
        combinedOffsetSec: choice.combinedOffsetSec,
        selectionJitterSec: choice.selectionJitterSec,
        action,
        applied,
        observeOnly,
        exitCode,
      },
      null,
      2,
    )
  }\n`;
}
