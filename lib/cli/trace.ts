// `horae trace` (multi-call `ntptrace`, ntptrace(1) of ntpd 4.2.8 and NTPsec): follows the chain
// of system peers from a host to its primary source. At each host a mode 6 `rv` (READVAR of
// association 0) gives the stratum, offset, root delay and dispersion, refid and the system
// peer's association id; a second READVAR of that association gives its `srcadr`, the next host.
// Each host prints ntptrace's line:
//
//   127.0.0.4: stratum 3, offset 0.000012, synch distance 0.001234
//   127.0.0.2: stratum 1, offset 0.000000, synch distance 0.000450, refid 'LOCL'
//
// The walk ends at stratum 0, 1 or 16, at a reference clock (127.127.t.u), at a host that does
// not answer, at a host seen before (a loop), after -m hosts or when --time-limit passes.

import { parseArgs } from "node:util";
import { unquote, type VarItem } from "../proto/control/var_list.ts";
import { DatagramTransport } from "../net/datagram_transport.ts";
import { parseSocketAddress } from "../net/socket_address.ts";
import type { SocketAddress } from "../net/transport.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";
import { ControlClient, ControlError, type ControlLink, transportLink } from "./query_client.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

/** ntptrace's default limit on hosts. */
export const DEFAULT_MAX_HOSTS = 99;
/** Wait for an answer from one host (s); one retry follows, as ntpq does. */
export const DEFAULT_TIMEOUT_SEC = 2;
/** Longest a whole trace may take (s). */
export const DEFAULT_TIME_LIMIT_SEC = 60;

const TRACE_OPTIONS = {
  numeric: { type: "boolean", short: "n" },
  "max-hosts": { type: "string", short: "m" },
  host: { type: "string", short: "r" },
  timeout: { type: "string", short: "t" },
  "time-limit": { type: "string" },
  port: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const TRACE_USAGE = "usage: horae trace [-n] [-m max_hosts] [-r host] [host]     (ntptrace)";

/** `horae trace --help`. */
export const TRACE_HELP = helpText(
  TRACE_USAGE,
  optionHelp(TRACE_OPTIONS, {
    numeric: ["", "print addresses, not host names"],
    "max-hosts": ["N", `follow at most N hosts (default ${DEFAULT_MAX_HOSTS})`],
    host: ["HOST", "the host to start from (as the positional host; default localhost)"],
    timeout: ["SEC", `wait for each answer (default ${DEFAULT_TIMEOUT_SEC}; one retry)`],
    "time-limit": ["SEC", `give up the whole trace after SEC (default ${DEFAULT_TIME_LIMIT_SEC})`],
    port: ["N", "the daemons' control port (default 123)"],
    json: ["", "print the chain as JSON"],
    help: ["", "print this help and exit"],
  }),
  "Each host must answer mode 6 read requests (restrict without noquery for this client).\n",
);

/** What `runTrace` needs from the world (tests replace it). */
export interface TraceEnv {
  io: CliIo;
  /** Opens a mode 6 link to `server`. */
  connect(server: SocketAddress): ControlLink;
  /** Addresses of a host name (not an address literal). */
  resolve(name: string): Promise<string[]>;
  /** A name for `address`, or null (bounded in time). */
  reverse(address: string): Promise<string | null>;
  /** Milliseconds on a monotonic clock. */
  nowMs(): number;
}

/** Reads /etc/hosts for a name of `address` (first name on its first line), or null. */
function hostsFileName(address: string): string | null {
  try {
    for (const line of Deno.readTextFileSync("/etc/hosts").split("\n")) {
      const f = line.replace(/#.*/, "").trim().split(/\s+/);
      if (f.length >= 2 && f[0] === address) return f[1]!;
    }
  } catch { /* no hosts file */ }
  return null;
}

/** The PTR name of an IPv4 or IPv6 address. */
function ptrName(address: string): string | null {
  const sa = parseSocketAddress(address.includes(":") ? `[${address}]:1` : `${address}:1`);
  if (!sa.ok) return null;
  if (sa.address.family === 4) return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
  const groups = address.split("::");
  const head = groups[0] === "" ? [] : groups[0]!.split(":");
  const tail = groups.length > 1 && groups[1] !== "" ? groups[1]!.split(":") : [];
  const full = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  const nibbles = full.map((g) => g.padStart(4, "0")).join("");
  return `${[...nibbles].reverse().join(".")}.ip6.arpa`;
}

/** The real environment: UDP sockets, DNS, /etc/hosts. */
export function denoTraceEnv(): TraceEnv {
  return {
    io: denoIo(),
    connect(server) {
      const t = new DatagramTransport({ address: server.family === 6 ? "::" : "0.0.0.0" });
      return transportLink(t, server);
    },
    async resolve(name) {
      const out: string[] = [];
      for (const rr of ["A", "AAAA"] as const) {
        try {
          out.push(...await Deno.resolveDns(name, rr, { signal: AbortSignal.timeout(3000) }));
        } catch { /* none of this type */ }
      }
      return out;
    },
    async reverse(address) {
      const local = hostsFileName(address);
      if (local !== null) return local;
      const ptr = ptrName(address);
      if (ptr === null) return null;
      try {
        const names = await Deno.resolveDns(ptr, "PTR", { signal: AbortSignal.timeout(1000) });
        return names[0]?.replace(/\.$/, "") ?? null;
      } catch {
        return null;
      }
    },
    nowMs: () => performance.now(),
  };
}

/** One host of the chain. */
export interface TraceHop {
  /** As printed: the name, or the address with -n. */
  host: string;
  address: string;
  stratum: number;
  offsetSec: number;
  /** Root dispersion plus half the root delay (s). */
  syncDistanceSec: number;
  refid: string;
}

/** Why a trace ended. */
export type TraceEnd =
  | "primary"
  | "unsynchronized"
  | "refclock"
  | "no_peer"
  | "no_answer"
  | "loop"
  | "max_hosts"
  | "time_limit";

/** ntptrace's line for one host. */
export function traceLine(h: TraceHop): string {
  const refid = h.stratum === 1 ? `, refid '${h.refid}'` : "";
  return `${h.host}: stratum ${h.stratum}, offset ${h.offsetSec.toFixed(6)}, ` +
    `synch distance ${h.syncDistanceSec.toFixed(6)}${refid}\n`;
}

const REFCLOCK = /^127\.127\.\d{1,3}\.\d{1,3}$/;

function varMap(vars: readonly VarItem[]): Map<string, string> {
  return new Map(vars.filter((v) => v.value !== null).map((v) => [v.name, unquote(v.value!)]));
}

/** A number from the variables, or NaN. */
function num(m: Map<string, string>, ...names: string[]): number {
  for (const n of names) {
    const v = m.get(n);
    if (v !== undefined && v.trim() !== "") return Number(v);
  }
  return NaN;
}

/** A host argument as an address: a literal, localhost, or a name resolved; null when none. */
async function addressOf(env: TraceEnv, host: string, port: number): Promise<SocketAddress | null> {
  const lit = parseSocketAddress(
    host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`,
  );
  if (lit.ok) return lit.address;
  const bare = host.replace(/^\[|\]$/g, "");
  const direct = parseSocketAddress(bare.includes(":") ? `[${bare}]:${port}` : `${bare}:${port}`);
  if (direct.ok) return direct.address;
  const found = host === "localhost" ? ["127.0.0.1"] : await env.resolve(host);
  for (const a of found) {
    const r = parseSocketAddress(a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`);
    if (r.ok) return r.address;
  }
  return null;
}

function positive(text: string | undefined, fallback: number, integer: boolean): number | null {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) return null;
  return v;
}

/** `horae trace` / `ntptrace`: returns the exit status (0 when the first host answered). */
export async function runTrace(
  args: string[],
  program = "horae trace",
  env: TraceEnv = denoTraceEnv(),
): Promise<number> {
  const io = env.io;
  let parsed: ReturnType<typeof parseTraceArgs>;
  try {
    parsed = parseTraceArgs(args);
  } catch (e) {
    io.stderr(usageError(program, parseArgsMessage(e, longOptions(TRACE_OPTIONS))));
    return EXIT_USAGE;
  }
  const v = parsed.values;
  if (v.help === true) {
    io.stdout(TRACE_HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    io.stderr(usageError(program, "trace one host at a time"));
    return EXIT_USAGE;
  }
  const maxHosts = positive(v["max-hosts"], DEFAULT_MAX_HOSTS, true);
  const timeoutSec = positive(v.timeout, DEFAULT_TIMEOUT_SEC, false);
  const limitSec = positive(v["time-limit"], DEFAULT_TIME_LIMIT_SEC, false);
  const port = positive(v.port, 123, true);
  for (
    const [opt, value, given] of [
      ["-m", maxHosts, v["max-hosts"]],
      ["-t", timeoutSec, v.timeout],
      ["--time-limit", limitSec, v["time-limit"]],
      ["--port", port !== null && port <= 65535 ? port : null, v.port],
    ] as const
  ) {
    if (value === null) {
      io.stderr(usageError(program, `${opt} ${JSON.stringify(given)} is not a positive number`));
      return EXIT_USAGE;
    }
  }
  const numeric = v.numeric === true;
  const start = parsed.positionals[0] ?? v.host ?? "localhost";
  const deadline = env.nowMs() + limitSec! * 1000;
  const hops: TraceHop[] = [];
  const seen = new Set<string>();
  let end: TraceEnd = "max_hosts";
  let failure: string | null = null;
  let host = start;
  let label = start;
  const say = (text: string) => {
    if (v.json !== true) io.stdout(text);
  };

  for (let n = 0; n < maxHosts!; n++) {
    if (env.nowMs() >= deadline) {
      end = "time_limit";
      failure = `${label}: not asked, the trace took longer than ${limitSec} s`;
      break;
    }
    const address = await addressOf(env, host, port!);
    if (address === null) {
      end = "no_answer";
      failure = `${label}: cannot find this host`;
      break;
    }
    seen.add(address.address);
    const client = new ControlClient(env.connect(address));
    client.primaryTimeoutMs = Math.max(1, Math.min(timeoutSec! * 1000, deadline - env.nowMs()));
    client.secondaryTimeoutMs = client.primaryTimeoutMs;
    let sys: Map<string, string>;
    let next: string | null = null;
    try {
      sys = varMap((await client.readVars(0)).vars);
      const stratum = num(sys, "stratum");
      if (!Number.isFinite(stratum)) throw new ControlError("no stratum in its system variables");
      const hop: TraceHop = {
        host: label,
        address: address.address,
        stratum,
        offsetSec: num(sys, "offset", "phase") / 1000,
        syncDistanceSec: (num(sys, "rootdisp", "rootdispersion") + num(sys, "rootdelay") / 2) /
          1000,
        refid: sys.get("refid") ?? "",
      };
      hops.push(hop);
      say(traceLine(hop));
      if (stratum === 1 || stratum === 0) {
        end = stratum === 1 ? "primary" : "unsynchronized";
        break;
      }
      if (stratum >= 16) {
        end = "unsynchronized";
        break;
      }
      if (REFCLOCK.test(hop.refid)) {
        end = "refclock";
        break;
      }
      const peer = num(sys, "peer");
      if (!Number.isInteger(peer) || peer <= 0) {
        end = "no_peer";
        break;
      }
      const pv = varMap((await client.readVars(peer, ["srcadr"])).vars);
      next = (pv.get("srcadr") ?? "").replace(/^\[(.*)\](:\d+)?$/, "$1");
      if (next === "" || REFCLOCK.test(next)) {
        end = next === "" ? "no_peer" : "refclock";
        break;
      }
    } catch (e) {
      end = "no_answer";
      const why = e instanceof ControlError && /timed out/.test(e.message)
        ? "timed out, nothing received"
        : (e instanceof Error ? e.message : String(e)).replace(/^\*+/, "");
      failure = `${label}: ${why}`;
      break;
    } finally {
      client.close();
    }
    if (seen.has(next)) {
      end = "loop";
      failure = `${next}: already in the chain (a loop), stopping`;
      break;
    }
    host = next;
    label = numeric ? next : (await env.reverse(next)) ?? next;
  }
  if (v.json === true) {
    io.stdout(
      `${JSON.stringify({ hops, end, ...(failure ? { message: failure } : {}) }, null, 2)}\n`,
    );
  } else if (failure !== null) {
    io.stderr(`${failure}\n`);
  }
  return hops.length > 0 ? 0 : 1;
}

function parseTraceArgs(args: string[]) {
  return parseArgs({ args, options: TRACE_OPTIONS, strict: true, allowPositionals: true });
}
