// `horae query` (multi-call `ntpq`, ntpq(1) of ntpd 4.2.8 and NTPsec): asks a daemon over mode 6
// for its system variables, associations, clock variables, sysstats and MRU list, and prints them
// in ntpq's formats (or as JSON with --json). Commands come from -c, -p, or an interactive
// prompt with history. Changes (writevar, :config) are signed with a key from -k/-a or the
// keyid/passwd commands.

import { decodeKey, keyTypeFromText, loadKeysFile } from "../config/keys_file.ts";
import type { MacAlgorithm } from "../proto/crypto.ts";
import { CtlOp } from "../proto/control/mode6.ts";
import { unquote, type VarItem } from "../proto/control/var_list.ts";
import { DatagramTransport } from "../net/datagram_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";
import {
  ControlClient,
  ControlError,
  type ControlLink,
  type MruList,
  transportLink,
} from "./query_client.ts";
import {
  associationsTable,
  clockStatusText,
  formatVars,
  IOSTATS_LABELS,
  KERNINFO_LABELS,
  KERNINFO_PPS_LABELS,
  labelled,
  mruTable,
  NTP_UNIX_OFFSET_SEC,
  peerLine,
  peersHeader,
  type PeersMode,
  peerStatusText,
  SYSINFO_LABELS,
  SYSSTATS_LABELS,
  systemStatusText,
} from "./query_format.ts";
import {
  type CliSession,
  commandWords,
  findHost,
  out,
  parseToolArgs,
  portOption,
  runSession,
  sessionCommand,
  warn,
} from "./_session.ts";
import { helpText, optionHelp, usageError } from "./usage.ts";

/** The control port ntpq talks to. */
export const CONTROL_PORT = 123;

const QUERY_OPTIONS = {
  command: { type: "string", short: "c", multiple: true },
  peers: { type: "boolean", short: "p" },
  numeric: { type: "boolean", short: "n" },
  ipv4: { type: "boolean", short: "4" },
  ipv6: { type: "boolean", short: "6" },
  debug: { type: "boolean", short: "d", multiple: true },
  interactive: { type: "boolean", short: "i" },
  wide: { type: "boolean", short: "w" },
  keyfile: { type: "string", short: "k" },
  keyid: { type: "string", short: "a" },
  port: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const QUERY_USAGE = "usage: horae query [options] [host ...]     (ntpq)";

/** `horae query --help`. */
export const QUERY_HELP = helpText(
  QUERY_USAGE,
  optionHelp(QUERY_OPTIONS, {
    command: ["CMD", "run CMD (may repeat); without -c, -p or -i: the interactive prompt"],
    peers: ["", "print the peers billboard (as -c peers)"],
    numeric: ["", "show addresses, not host names"],
    ipv4: ["", "resolve host names to IPv4 addresses"],
    ipv6: ["", "resolve host names to IPv6 addresses"],
    debug: ["", "print each request and answer (repeat for more)"],
    interactive: ["", "read commands from standard input after any -c"],
    wide: ["", "full-width remote names in the billboard"],
    keyfile: ["FILE", "keys file for signed requests (writevar, :config)"],
    keyid: ["ID", "key id from the keys file to sign requests with"],
    port: ["N", "the daemon's control port (default 123)"],
    json: ["", "print listings (peers, associations, readvar, mrulist ...) as JSON"],
    help: ["", "print this help and exit"],
  }),
  "Commands: peers lpeers opeers lopeers apeers associations lassociations readvar (rv)\n" +
    "readlist (rl) writevar clockvar (cv) pstatus mrulist sysinfo sysstats kerninfo iostats\n" +
    "host keyid keytype " +
    "passwd timeout version raw cooked :config saveconfig history help quit. `help` lists them.\n",
);

/** What `runQuery` needs from the world (tests replace it). */
export interface QueryEnv {
  io: CliIo;
  /** Opens a link to `server`. */
  connect(server: SocketAddress): ControlLink;
  /** Resolves a host name (not an address literal) to addresses of `family` (null: any). */
  resolve(name: string, family: 4 | 6 | null): Promise<string[]>;
  /** The time, NTP seconds. */
  nowNtpSec(): number;
  /** Lines typed at the prompt (null at end of input); `prompt` is shown first when a terminal. */
  readLine(prompt: string): Promise<string | null>;
}

/** The real environment: UDP sockets, DNS, the clock and standard input. */
export function denoQueryEnv(): QueryEnv {
  const io = denoIo();
  return {
    io,
    connect(server) {
      const t = new DatagramTransport({ address: server.family === 6 ? "::" : "0.0.0.0" });
      return transportLink(t, server);
    },
    async resolve(name, family) {
      const out: string[] = [];
      for (const rr of family === 6 ? ["AAAA"] : family === 4 ? ["A"] : ["A", "AAAA"]) {
        try {
          out.push(...await Deno.resolveDns(name, rr as "A" | "AAAA"));
        } catch { /* none of this type */ }
      }
      return out;
    },
    nowNtpSec: () => Date.now() / 1000 + NTP_UNIX_OFFSET_SEC,
    readLine: (() => {
      const dec = new TextDecoder();
      let buffered = "";
      const buf = new Uint8Array(4096);
      return async (prompt: string) => {
        if (Deno.stdin.isTerminal()) io.stdout(prompt);
        for (;;) {
          const nl = buffered.indexOf("\n");
          if (nl >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            return line;
          }
          const n = await Deno.stdin.read(buf);
          if (n === null) {
            if (buffered === "") return null;
            const line = buffered;
            buffered = "";
            return line;
          }
          buffered += dec.decode(buf.subarray(0, n), { stream: true });
        }
      };
    })(),
  };
}

interface Session extends CliSession<ControlClient> {
  env: QueryEnv;
  numeric: boolean;
  wide: boolean;
  json: boolean;
  raw: boolean;
  keyfile: Map<number, { algorithm: MacAlgorithm; key: Uint8Array }> | null;
  keyId: number | null;
  keyType: MacAlgorithm;
  /** The association list of the last `associations`, for &n. */
  assocs: { id: number; status: number }[];
  history: string[];
  version: number;
}

async function openHost(s: Session, host: string): Promise<boolean> {
  const found = await findHost(s, host, { namePort: true, literalAsAddress: false });
  if (found === null) return false;
  s.client?.close();
  const client = new ControlClient(s.env.connect(found.server));
  client.primaryTimeoutMs = s.timeoutMs;
  client.version = s.version;
  if (s.debug > 0) client.debug = (line) => warn(s, line);
  s.client = client;
  s.hostName = found.name;
  s.assocs = [];
  applyKey(s);
  return true;
}

function applyKey(s: Session): void {
  if (s.client === null) return;
  if (s.keyId === null) {
    s.client.setKey(null);
    return;
  }
  const k = s.keyfile?.get(s.keyId);
  if (k !== undefined) s.client.setKey({ id: s.keyId, algorithm: k.algorithm, key: k.key });
}

/** The association id an argument names: a number, or `&n` (the n-th of the last list). */
async function assocArg(s: Session, arg: string | undefined): Promise<number | null> {
  if (arg === undefined || arg === "") return 0;
  if (arg.startsWith("&")) {
    const k = Number(arg.slice(1));
    if (s.assocs.length === 0) await fetchAssocs(s);
    const a = s.assocs[k - 1];
    if (!Number.isInteger(k) || a === undefined) {
      warn(s, `No such association as ${arg.slice(1)}.`);
      return null;
    }
    return a.id;
  }
  const id = Number(arg);
  if (!Number.isInteger(id) || id < 0 || id > 65535) {
    warn(s, "Invalid associd literal.");
    return null;
  }
  return id;
}

async function fetchAssocs(s: Session): Promise<number> {
  const r = await s.client!.associations();
  s.assocs = r.list;
  return r.status;
}

function json(s: Session, value: unknown): void {
  out(s, `${JSON.stringify(value, null, 2)}\n`);
}

function varsObject(vars: readonly VarItem[]): Record<string, string | null> {
  return Object.fromEntries(vars.map((v) => [v.name, v.value === null ? null : unquote(v.value)]));
}

async function peers(s: Session, mode: PeersMode, all: boolean): Promise<void> {
  await fetchAssocs(s);
  const rows: { associd: number; status: number; vars: VarItem[] }[] = [];
  for (const a of s.assocs) {
    const b = a.status >> 8;
    if (!all && (b & 0x90) === 0) continue; // neither configured nor reachable
    const r = await s.client!.readVars(a.id);
    rows.push({ associd: a.id, status: r.status, vars: r.vars });
  }
  if (s.json) {
    json(s, rows.map((r) => ({ associd: r.associd, status: r.status, ...varsObject(r.vars) })));
    return;
  }
  let text = peersHeader(mode);
  const now = s.env.nowNtpSec();
  for (const r of rows) text += peerLine(r, mode, now, s.numeric, s.wide);
  out(s, text);
}

function printVars(
  s: Session,
  associd: number,
  status: number,
  vars: VarItem[],
  kind: "system" | "peer" | "clock",
  quiet: boolean,
): void {
  if (s.json) {
    json(s, { associd, status, ...varsObject(vars) });
    return;
  }
  let text = "";
  if (!quiet) {
    const st = kind === "system"
      ? systemStatusText(status)
      : kind === "clock"
      ? clockStatusText(status)
      : peerStatusText(status);
    text += s.raw
      ? `associd=${associd} status=0x${status.toString(16).padStart(4, "0")},\n`
      : `associd=${associd} status=${status.toString(16).padStart(4, "0")} ${st},\n`;
  }
  out(s, text + formatVars(vars, !s.raw));
}

async function readvar(s: Session, args: string[], op: number): Promise<void> {
  const id = await assocArg(s, args[0]);
  if (id === null) return;
  const names = args.slice(1).join(" ").split(/[\s,]+/).filter((n) => n !== "");
  const r = await s.client!.readVars(id, names, op);
  const kind = op === CtlOp.READCLOCK ? "clock" : id === 0 ? "system" : "peer";
  printVars(s, r.associd, r.status, r.vars, kind, false);
}

async function labelledReport(
  s: Session,
  labels: readonly [string, string][],
): Promise<void> {
  const r = await s.client!.readVars(0, labels.map(([n]) => n).filter((n) => n !== "peeradr"));
  let vars = r.vars;
  if (labels === SYSINFO_LABELS) {
    // The system peer's address (a variable ntpd and NTPsec have, older servers may not).
    try {
      const extra = await s.client!.readVars(0, ["peeradr"]);
      vars = [...extra.vars, ...vars];
    } catch { /* an older server: no address */ }
  }
  if (labels === KERNINFO_LABELS) {
    // The kernel PPS variables, when the server has them and the kernel a PPS interval.
    try {
      const pps = await s.client!.readVars(0, KERNINFO_PPS_LABELS.map(([n]) => n));
      const dur = pps.vars.find((v) => v.name === "kppscalibdur")?.value;
      if (dur !== undefined && dur !== null && dur !== "0") {
        vars = [...vars, ...pps.vars];
        labels = [...labels, ...KERNINFO_PPS_LABELS];
      }
    } catch { /* a server without them */ }
  }
  if (s.json) json(s, varsObject(vars));
  else out(s, labelled(labels, vars));
}

async function mrulist(s: Session, args: string[]): Promise<void> {
  const params: string[] = [];
  let sort: string | null = null;
  for (const a of args) {
    const m = /^([a-z.0-9]+)(?:=(.*))?$/.exec(a);
    if (m === null) {
      warn(s, `***Unknown parameter '${a}'`);
      return;
    }
    const [, k, v] = m;
    if (k === "sort") sort = v ?? null;
    else if (k === "kod") params.push("resany=0x400");
    else if (k === "limited") params.push("resany=0x20");
    else if (
      ["mincount", "resall", "resany", "maxlstint", "minlstint", "laddr", "recent", "limit"]
        .includes(k!)
    ) params.push(`${k}=${v ?? ""}`);
    else {
      warn(s, `***Unknown parameter '${a}'`);
      return;
    }
  }
  const list: MruList = await s.client!.mrulist(params);
  const limitArg = params.find((p) => p.startsWith("limit="));
  if (limitArg !== undefined) {
    const n = Number(limitArg.slice(6));
    if (Number.isInteger(n) && n > 0 && list.rows.length > n) {
      list.rows.splice(0, list.rows.length - n);
    }
  }
  if (sort !== null) {
    const key = sort.replace(/^-/, "");
    const sorters: Record<string, (a: MruList["rows"][0]) => number | string> = {
      lstint: (e) => e.last,
      avgint: (e) => e.count > 1 ? (e.last - e.first) / (e.count - 1) : 0,
      count: (e) => e.count,
      addr: (e) => e.addr,
    };
    const f = sorters[key];
    if (f === undefined) {
      warn(s, `***Invalid sort order: ${sort}`);
      return;
    }
    // The table prints the rows in reverse: sort the other way round.
    list.rows.sort((a, b) => {
      const x = f(a), y = f(b);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sort!.startsWith("-") ? c : -c;
    });
  }
  if (s.json) json(s, list);
  else out(s, mruTable(list));
}

const HELP_LIST = [
  "peers",
  "lpeers",
  "opeers",
  "lopeers",
  "apeers",
  "associations",
  "lassociations",
  "readvar",
  "rv",
  "readlist",
  "rl",
  "writevar",
  "clockvar",
  "cv",
  "pstatus",
  "mrulist",
  "sysinfo",
  "sysstats",
  "kerninfo",
  "iostats",
  "host",
  "keyid",
  "keytype",
  "passwd",
  "timeout",
  "ntpversion",
  "version",
  "raw",
  "cooked",
  ":config",
  "saveconfig",
  "history",
  "help",
  "quit",
  "exit",
];

function hooks(s: Session) {
  return {
    open: (host: string) => openHost(s, host),
    applyTimeout: (ms: number) => s.client!.primaryTimeoutMs = ms,
    helpList: HELP_LIST,
  };
}

/** Runs one command line; errors are printed, never thrown. */
async function command(s: Session, line: string): Promise<void> {
  const words = commandWords(s, line, [
    "keyid",
    "keytype",
    "passwd",
    "version",
    "raw",
    "cooked",
    "history",
    "ntpversion",
  ]);
  if (words === null) return;
  const { trimmed, word, cmd, args } = words;
  try {
    switch (cmd) {
      case "peers":
      case "pe":
        return await peers(s, "peers", false);
      case "lpeers":
        return await peers(s, "peers", true);
      case "opeers":
        return await peers(s, "opeers", false);
      case "lopeers":
        return await peers(s, "opeers", true);
      case "apeers":
        return await peers(s, "apeers", false);
      case "associations":
      case "as":
      case "lassociations": {
        await fetchAssocs(s);
        const all = cmd === "lassociations";
        const rows = s.assocs.filter((a) => all || ((a.status >> 8) & 0x90) !== 0);
        if (s.json) return json(s, rows);
        out(s, associationsTable(rows));
        return;
      }
      case "readvar":
      case "rv":
        return await readvar(s, args, CtlOp.READVAR);
      case "readlist":
      case "rl":
        return await readvar(s, args.slice(0, 1), CtlOp.READVAR);
      case "clockvar":
      case "cv":
        return await readvar(s, args, CtlOp.READCLOCK);
      case "pstatus": {
        const id = await assocArg(s, args[0]);
        if (id === null) return;
        if (id === 0) {
          warn(s, "An associd argument is required.");
          return;
        }
        return await readvar(s, [String(id)], CtlOp.READVAR);
      }
      case "writevar": {
        const id = await assocArg(s, args[0]);
        if (id === null) return;
        const status = await s.client!.writeVars(id, args.slice(1).join(" "));
        out(s, `done! (status=${status.toString(16).padStart(4, "0")})\n`);
        return;
      }
      case ":config":
      case "config": {
        const text = trimmed.slice(word!.length).trim();
        const answer = await s.client!.configure(text);
        out(s, `${answer}\n`);
        return;
      }
      case "saveconfig": {
        if (args[0] === undefined) return warn(s, "***Command `saveconfig' requires an argument");
        const r = await s.client!.request(CtlOp.SAVECONFIG, 0, args[0], true);
        out(s, `${new TextDecoder().decode(r.data).replace(/\0+$/, "")}\n`);
        return;
      }
      case "mrulist":
        return await mrulist(s, args);
      case "sysinfo":
        return await labelledReport(s, SYSINFO_LABELS);
      case "sysstats":
        return await labelledReport(s, SYSSTATS_LABELS);
      case "kerninfo":
        return await labelledReport(s, KERNINFO_LABELS);
      case "iostats":
        return await labelledReport(s, IOSTATS_LABELS);
      case "keyid":
        if (args[0] === undefined) {
          out(s, s.keyId === null ? "no keyid defined\n" : `keyid is ${s.keyId}\n`);
          return;
        }
        s.keyId = Number(args[0]) || null;
        applyKey(s);
        return;
      case "keytype": {
        if (args[0] === undefined) return out(s, `keytype is ${s.keyType}\n`);
        const t = keyTypeFromText(args[0]);
        if (t === null) return warn(s, `keytype ${args[0]} is not supported`);
        s.keyType = t;
        return;
      }
      case "passwd": {
        if (s.keyId === null) return warn(s, "Keyid must be defined");
        const key = decodeKey(args[0] ?? "");
        if (typeof key === "string") return warn(s, key);
        s.keyfile ??= new Map();
        s.keyfile.set(s.keyId, { algorithm: s.keyType, key });
        applyKey(s);
        return;
      }
      case "ntpversion":
        if (args[0] === undefined) return out(s, `NTP version being claimed is ${s.version}\n`);
        if (!/^[1-4]$/.test(args[0])) return warn(s, "versions 1 to 4 are supported");
        s.version = Number(args[0]);
        if (s.client !== null) s.client.version = s.version;
        return;
      case "version":
        out(s, `horae query (ntpq) ${(await import("./version.ts")).HORAE_VERSION}\n`);
        return;
      case "raw":
        s.raw = true;
        return out(s, "Output set to raw\n");
      case "cooked":
        s.raw = false;
        return out(s, "Output set to cooked\n");
      case "history":
        s.history.forEach((h, i) => out(s, `${String(i + 1).padStart(4)}  ${h}\n`));
        return;
      default:
        if (!await sessionCommand(s, cmd, args, hooks(s))) warn(s, `***Command \`${word}' unknown`);
    }
  } catch (e) {
    if (e instanceof ControlError) warn(s, e.message);
    else throw e;
  }
}

/** Loads `-k FILE` into the session; false (after a message) when it cannot be read. */
async function loadKeys(s: Session, path: string): Promise<boolean> {
  try {
    const loaded = await loadKeysFile(path);
    s.keyfile = new Map(loaded.keys.map((k) => [k.id, { algorithm: k.algorithm, key: k.key }]));
    return true;
  } catch (e) {
    warn(s, `horae query: ${(e as Error).message}`);
    return false;
  }
}

/** Runs `horae query`; returns the exit status (0, 1 when a host cannot be reached, 2 usage). */
export async function runQuery(args: string[], env: QueryEnv = denoQueryEnv()): Promise<number> {
  const io = env.io;
  const parsed = parseToolArgs(io, "horae query", args, QUERY_OPTIONS, QUERY_HELP);
  if (typeof parsed === "number") return parsed;
  const v = parsed.values;
  const port = portOption(io, "horae query", v.port, CONTROL_PORT);
  if (port === null) return EXIT_USAGE;
  const s: Session = {
    env,
    client: null,
    hostName: "",
    port,
    family: v.ipv6 ? 6 : v.ipv4 ? 4 : null,
    numeric: v.numeric ?? false,
    wide: v.wide ?? false,
    json: v.json ?? false,
    raw: false,
    debug: v.debug?.length ?? 0,
    keyfile: null,
    keyId: null,
    keyType: "MD5",
    assocs: [],
    history: [],
    timeoutMs: 5000,
    version: 2,
    done: false,
  };
  if (v.keyfile !== undefined && !await loadKeys(s, v.keyfile)) return 1;
  if (v.keyid !== undefined) {
    const id = Number(v.keyid);
    if (!Number.isInteger(id) || id < 1 || id > 65535) {
      io.stderr(usageError("horae query", `-a ${v.keyid} is not a key id`));
      return EXIT_USAGE;
    }
    s.keyId = id;
  }
  const commands = [...(v.command ?? [])];
  if (v.peers) commands.push("peers");
  return await runSession(s, {
    hosts: parsed.positionals.length > 0 ? parsed.positionals : ["localhost"],
    commands,
    interactive: v.interactive || commands.length === 0,
    prompt: "ntpq> ",
    hostPrefix: (name) => `server=${name} `,
    open: (host) => openHost(s, host),
    command: (line) => command(s, line),
    onCommand: (line) => s.history.push(line),
    typed(line) {
      const bang = /^!(\d+)$/.exec(line.trim());
      const run = bang !== null ? s.history[Number(bang[1]) - 1] ?? "" : line;
      if (run.trim() !== "" && run.trim() !== "history") s.history.push(run.trim());
      return run;
    },
  });
}
