// `horae dc` (multi-call `ntpdc`, ntpdc(1) of ntpd 4.2.8): asks a daemon over mode 7 for its
// peers, one peer's details, the system's state and counters, the discipline and the kernel
// clock, and prints them in ntpdc's formats (or as JSON with --json). Only the read-only
// requests exist: Horae answers nothing else, and only with `enable mode7`.

import {
  decodeIoStatsItem,
  decodeKernelItem,
  decodeLoopInfoItem,
  decodeMemStatsItem,
  decodePeerInfoItem,
  decodePeerListItem,
  decodePeerSummaryItem,
  decodeSysInfoItem,
  decodeSysStatsItem,
  encodePeerListItem,
  IMPL_XNTPD_OLD,
  ItemSize,
  Mode7Req,
} from "../proto/control/mode7.ts";
import { parseIp } from "../proto/ip.ts";
import { EXIT_USAGE } from "./check.ts";
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
import { Mode7Client, Mode7Error, type Mode7Response } from "./dc_client.ts";
import {
  ioStatsText,
  kernelText,
  listPeersText,
  loopInfoText,
  memStatsText,
  peersText,
  showPeerText,
  sysInfoText,
  sysStatsText,
} from "./dc_format.ts";
import { denoQueryEnv, type QueryEnv } from "./query.ts";
import { helpText, optionHelp } from "./usage.ts";

const DC_OPTIONS = {
  command: { type: "string", short: "c", multiple: true },
  debug: { type: "boolean", short: "d", multiple: true },
  interactive: { type: "boolean", short: "i" },
  listpeers: { type: "boolean", short: "l" },
  numeric: { type: "boolean", short: "n" },
  peers: { type: "boolean", short: "p" },
  showpeers: { type: "boolean", short: "s" },
  ipv4: { type: "boolean", short: "4" },
  ipv6: { type: "boolean", short: "6" },
  port: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const DC_USAGE = "usage: horae dc [options] [host ...]     (ntpdc)";

/** `horae dc --help`. */
export const DC_HELP = helpText(
  DC_USAGE,
  optionHelp(DC_OPTIONS, {
    command: ["CMD", "run CMD (may repeat); without -c, -l, -p, -s or -i: the prompt"],
    debug: ["", "print each request and answer"],
    interactive: ["", "read commands from standard input after any -c"],
    listpeers: ["", "list the peers (as -c listpeers)"],
    numeric: ["", "show addresses, not host names"],
    peers: ["", "print the peers table (as -c peers)"],
    showpeers: ["", "print the peers table, ntpdc's dmpeers style (as -c dmpeers)"],
    ipv4: ["", "resolve host names to IPv4 addresses"],
    ipv6: ["", "resolve host names to IPv6 addresses"],
    port: ["N", "the daemon's port (default 123)"],
    json: ["", "print answers as JSON"],
    help: ["", "print this help and exit"],
  }),
  "Commands: peers dmpeers listpeers showpeer sysinfo sysstats loopinfo kerninfo iostats\n" +
    "memstats host timeout help quit. The daemon answers only with `enable mode7`.\n",
);

/** What `runDc` needs from the world: `horae query`'s, plus reverse name lookups. */
export interface DcEnv extends QueryEnv {
  /** A name for an address, or null (only asked without -n). */
  reverse?(address: string): Promise<string | null>;
}

/** The real environment. */
export function denoDcEnv(): DcEnv {
  return {
    ...denoQueryEnv(),
    async reverse(address) {
      const ip = parseIp(address);
      if (!ip.ok) return null;
      const b = [...ip.ip.bytes];
      const name = ip.ip.family === 4
        ? `${b.reverse().join(".")}.in-addr.arpa`
        : `${
          b.flatMap((x) => [x >> 4, x & 15]).reverse().map((n) => n.toString(16)).join(".")
        }.ip6.arpa`;
      try {
        const names = await Deno.resolveDns(name, "PTR");
        return names[0]?.replace(/\.$/, "") ?? null;
      } catch {
        return null;
      }
    },
  };
}

interface Session extends CliSession<Mode7Client> {
  env: DcEnv;
  numeric: boolean;
  json: boolean;
}

/** Reference clock type names for 127.127.t.u addresses (ntpd's refnumtoa). */
const CLOCK_NAMES: Record<number, string> = { 1: "LOCAL", 20: "NMEA", 22: "PPS", 28: "SHM" };

/** Names for the addresses of `addresses` (ntpdc's nntohost): numeric with -n. */
async function namer(s: Session, addresses: string[]): Promise<(a: string) => string> {
  const names = new Map<string, string>();
  for (const a of new Set(addresses)) {
    const m = /^127\.127\.(\d+)\.(\d+)$/.exec(a);
    if (s.numeric || a === "0.0.0.0" || a === "::") names.set(a, a);
    else if (m !== null) names.set(a, `${CLOCK_NAMES[Number(m[1])] ?? "REFCLK"}(${m[2]})`);
    else names.set(a, (await s.env.reverse?.(a)) ?? a);
  }
  return (a) => names.get(a) ?? a;
}

async function openHost(s: Session, host: string): Promise<boolean> {
  const found = await findHost(s, host, { namePort: false, literalAsAddress: true });
  if (found === null) return false;
  s.client?.close();
  const client = new Mode7Client(s.env.connect(found.server));
  client.timeoutMs = s.timeoutMs;
  if (s.debug > 0) client.debug = (line) => warn(s, line);
  s.client = client;
  s.hostName = found.name;
  return true;
}

function json(s: Session, value: unknown): void {
  out(
    s,
    `${JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `0x${v.toString(16)}` : v, 2)}\n`,
  );
}

/** The answer's items, or null after ntpdc's message when there are none. */
function someItems(s: Session, r: Mode7Response, one: boolean): Uint8Array[] | null {
  if (r.items.length === 0) {
    out(s, "No data returned in response to query\n");
    return null;
  }
  if (one && r.items.length > 1) {
    out(s, `Expected one item in response, got ${r.items.length}\n`);
    return null;
  }
  return r.items;
}

async function peerCommand(s: Session, kind: "peers" | "dmpeers" | "listpeers", arg?: string) {
  const c = s.client!;
  const fam = arg === "-4" ? 4 : arg === "-6" ? 6 : null;
  const keep = (a: string) => fam === null || (fam === 6) === a.includes(":");
  if (kind === "listpeers") {
    const r = await c.query(Mode7Req.PEER_LIST);
    const items = someItems(s, r, false);
    if (items === null) return;
    const list = items.map(decodePeerListItem).filter((p) => keep(p.address));
    if (s.json) return json(s, list);
    out(s, listPeersText(list, await namer(s, list.map((p) => p.address))));
    return;
  }
  const r = await c.query(Mode7Req.PEER_LIST_SUM);
  const items = someItems(s, r, false);
  if (items === null) return;
  const list = items.map(decodePeerSummaryItem).filter((p) => keep(p.srcAddress));
  if (s.json) return json(s, list);
  out(s, peersText(list, await namer(s, list.map((p) => p.srcAddress)), kind === "dmpeers"));
}

async function showpeer(s: Session, args: string[]): Promise<void> {
  if (args.length === 0) {
    warn(s, "***Command `showpeer' requires an argument");
    return;
  }
  const c = s.client!;
  const addresses: string[] = [];
  for (const a of args.slice(0, 4)) {
    const ip = parseIp(a);
    const found = ip.ok ? [a] : await s.env.resolve(a, s.family);
    if (found.length === 0) {
      warn(s, `***Can't find host ${a}`);
      return;
    }
    addresses.push(found[0]!);
  }
  const query = () => {
    const old = c.implementation === IMPL_XNTPD_OLD;
    const size = old ? ItemSize.PEER_LIST.v4 : ItemSize.PEER_LIST.v6;
    return c.query(Mode7Req.PEER_INFO, {
      items: addresses.map((a) =>
        encodePeerListItem({ address: a, port: s.port, hmode: 0, flags: 0 }, size)
      ),
      itemSize: ItemSize.PEER_LIST.v6,
      v4ItemSize: ItemSize.PEER_LIST.v4,
    });
  };
  const r = await query();
  const items = someItems(s, r, false);
  if (items === null) return;
  const infos = items.map(decodePeerInfoItem);
  if (s.json) return json(s, infos);
  const now = s.env.nowNtpSec() - 2_208_988_800;
  out(s, infos.map((p) => showPeerText(p, now)).join("\n"));
}

async function single(
  s: Session,
  request: number,
  render: (item: Uint8Array, size: number) => { text: string; value: unknown },
): Promise<void> {
  const r = await s.client!.query(request);
  const items = someItems(s, r, true);
  if (items === null) return;
  const { text, value } = render(items[0]!, r.itemSize);
  if (s.json) json(s, value);
  else out(s, text);
}

const HELP_LIST = [
  "peers",
  "dmpeers",
  "listpeers",
  "showpeer",
  "sysinfo",
  "sysstats",
  "loopinfo",
  "kerninfo",
  "iostats",
  "memstats",
  "host",
  "timeout",
  "help",
  "quit",
  "exit",
];

function hooks(s: Session) {
  return {
    open: (host: string) => openHost(s, host),
    applyTimeout: (ms: number) => s.client!.timeoutMs = ms,
    helpList: HELP_LIST,
  };
}

/** Runs one command line; errors are printed, never thrown. */
async function command(s: Session, line: string): Promise<void> {
  const words = commandWords(s, line, []);
  if (words === null) return;
  const { word, cmd, args } = words;
  const now = () => s.env.nowNtpSec() - 2_208_988_800;
  try {
    switch (cmd) {
      case "peers":
      case "dmpeers":
      case "listpeers":
        return await peerCommand(s, cmd, args[0]);
      case "showpeer":
        return await showpeer(s, args);
      case "sysinfo": {
        const r = await s.client!.query(Mode7Req.SYS_INFO);
        const items = someItems(s, r, true);
        if (items === null) return;
        const v = decodeSysInfoItem(items[0]!);
        if (s.json) return json(s, v);
        out(s, sysInfoText(v, await namer(s, [v.peerAddress]), now()));
        return;
      }
      case "sysstats":
        return await single(s, Mode7Req.SYS_STATS, (b, size) => {
          const v = decodeSysStatsItem(b);
          return { text: sysStatsText(v, size >= ItemSize.SYS_STATS), value: v };
        });
      case "iostats":
        return await single(s, Mode7Req.IO_STATS, (b) => {
          const v = decodeIoStatsItem(b);
          return { text: ioStatsText(v), value: v };
        });
      case "memstats":
        return await single(s, Mode7Req.MEM_STATS, (b) => {
          const v = decodeMemStatsItem(b);
          return { text: memStatsText(v), value: v };
        });
      case "loopinfo": {
        const mode = args[0] ?? "multiline";
        if (mode !== "oneline" && mode !== "multiline") {
          warn(s, "How many lines?");
          return;
        }
        return await single(s, Mode7Req.LOOP_INFO, (b) => {
          const v = decodeLoopInfoItem(b);
          return { text: loopInfoText(v, mode === "oneline"), value: v };
        });
      }
      case "kerninfo":
        return await single(s, Mode7Req.GET_KERNEL, (b) => {
          const v = decodeKernelItem(b);
          return { text: kernelText(v), value: v };
        });
      default:
        if (!await sessionCommand(s, cmd, args, hooks(s))) warn(s, `***Command \`${word}' unknown`);
    }
  } catch (e) {
    if (e instanceof Mode7Error) warn(s, e.message);
    else throw e;
  }
}

/** Runs `horae dc`; returns the exit status (0, 1 when a host cannot be reached, 2 usage). */
export async function runDc(args: string[], env: DcEnv = denoDcEnv()): Promise<number> {
  const io = env.io;
  const parsed = parseToolArgs(io, "horae dc", args, DC_OPTIONS, DC_HELP);
  if (typeof parsed === "number") return parsed;
  const v = parsed.values;
  const port = portOption(io, "horae dc", v.port, 123);
  if (port === null) return EXIT_USAGE;
  const s: Session = {
    env,
    client: null,
    hostName: "",
    port,
    family: v.ipv6 ? 6 : v.ipv4 ? 4 : null,
    numeric: v.numeric ?? false,
    json: v.json ?? false,
    debug: v.debug?.length ?? 0,
    timeoutMs: 5000,
    done: false,
  };
  const commands = [...(v.command ?? [])];
  if (v.listpeers) commands.push("listpeers");
  if (v.peers) commands.push("peers");
  if (v.showpeers) commands.push("dmpeers");
  return await runSession(s, {
    hosts: parsed.positionals.length > 0 ? parsed.positionals : ["localhost"],
    commands,
    interactive: v.interactive || commands.length === 0,
    prompt: "ntpdc> ",
    hostPrefix: (name) => `${name}: `,
    open: (host) => openHost(s, host),
    command: (line) => command(s, line),
  });
}
