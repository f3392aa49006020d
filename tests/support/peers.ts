// Test support for interop tests: finding the real peer programs, running them (and Horae) without
// CAP_SYS_TIME, free loopback ports, and throw-away network namespaces.

import { recordSkip } from "./skips.ts";

/** Prefix that removes CAP_SYS_TIME from a command: even a bug cannot change the clock. */
export const NO_SYS_TIME = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--"];

/** The project's root folder. */
export const ROOT = new URL("../../", import.meta.url).pathname;

const SEARCH = [
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
  "/usr/local/bin",
  `${ROOT}.tmp/peers/ntpsec/usr/bin`,
];

/** Absolute path of a program, or null. */
export function which(name: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...SEARCH];
  for (const d of dirs) {
    if (d === "") continue;
    try {
      const p = `${d}/${name}`;
      const st = Deno.statSync(p);
      if (st.isFile && (st.mode ?? 0) & 0o111) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** Finds a peer program or records a visible skip (CI fails on skips; recordSkip prints it). */
export function requirePeer(name: string, test: string): string | null {
  const p = which(name);
  if (p === null) recordSkip(test, `${name} not installed`);
  return p;
}

/** True when running as root (needed for network namespaces). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/**
 * Finds every program of a test that runs in a network namespace, by name, or records a skip
 * (the first program missing, or `rootWhy` when not root) and returns null.
 */
export function requireNetnsPeers(
  test: string,
  programs: string[],
  rootWhy = "needs root for a network namespace",
): Record<string, string> | null {
  const found: Record<string, string> = {};
  for (const p of programs) {
    const path = requirePeer(p, test);
    if (path === null) return null;
    found[p] = path;
  }
  if (!isRoot()) {
    recordSkip(test, rootWhy);
    return null;
  }
  return found;
}

/** A free UDP port on 127.0.0.1 (bound and released; good enough for tests). */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** A temporary folder removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
  await Deno.mkdir(`${ROOT}.tmp`, { recursive: true });
  return await Deno.makeTempDir({ dir: `${ROOT}.tmp`, prefix });
}

/** A running child process with its output collected. */
export class Proc {
  readonly child: Deno.ChildProcess;
  #out = "";
  #done: Promise<Deno.CommandStatus>;
  #readers: Promise<void>[] = [];

  constructor(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
    this.child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    }).spawn();
    this.#readers.push(this.#collect(this.child.stdout), this.#collect(this.child.stderr));
    this.#done = this.child.status;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) this.#out += dec.decode(chunk, { stream: true });
  }

  /** Everything printed so far (stdout and stderr interleaved by arrival). */
  get output(): string {
    return this.#out;
  }

  /** Waits until `pattern` appears in the output, or throws after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    let exited = false;
    this.#done.then(() => exited = true);
    while (Date.now() < end) {
      const m = this.#out.match(pattern);
      if (m) return m;
      if (exited) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${pattern}; output:\n${this.#out.slice(-3000)}`);
  }

  /** Waits for exit and the end of its output (with a timeout, then kills). */
  async wait(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      const st = await this.#done;
      await Promise.all(this.#readers);
      return st;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal (ignores a process that is already gone). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Stops the process: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs = 3000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    return this.wait(graceMs);
  }
}

let bundled: Promise<string> | null = null;

/** Builds the single-file bundle (`deno bundle`, as `deno task bundle` does) once per process. */
export function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await tempDir("bundle-");
    const out = `${dir}/horae.js`;
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "-o", out, `${ROOT}main.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(r.stderr)}`);
    return out;
  })();
  return bundled;
}

/** Options for {@link startHorae}. */
export interface HoraeOptions {
  /** ntp.conf text. */
  conf: string;
  /** Port to answer on (default: a free one). */
  port?: number;
  /** Addresses to listen on (default 127.0.0.1). */
  listen?: string[];
  /** Extra arguments for `horae run`. */
  args?: string[];
  /** Run inside this network namespace. */
  netns?: string;
  /** Invoke as this multi-call program name through a symlink (e.g. "ntpd"). */
  asProgram?: string;
}

/** A running Horae daemon. */
export interface RunningHorae {
  proc: Proc;
  port: number;
  dir: string;
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `horae run -n -c <conf>` without CAP_SYS_TIME and waits until it listens. */
export async function startHorae(opts: HoraeOptions): Promise<RunningHorae> {
  const dir = await tempDir("horae-");
  const confPath = `${dir}/ntp.conf`;
  await Deno.writeTextFile(confPath, opts.conf);
  const port = opts.port ?? freeUdpPort();
  let entry = [`${ROOT}main.ts`, "run"];
  if (opts.asProgram) {
    // Multi-call needs a program file whose name is the link: the single-file bundle (a symlink to
    // main.ts cannot work under `deno run`, whose relative imports resolve next to the link).
    const link = `${dir}/${opts.asProgram}`;
    await Deno.symlink(await bundle(), link);
    entry = [link];
  }
  const listen = (opts.listen ?? ["127.0.0.1"]).flatMap((a) => ["--listen", a]);
  const cmd = [
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...NO_SYS_TIME,
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-net",
    ...(opts.asProgram ? ["--ext=js"] : []),
    ...entry,
    "-n",
    "-c",
    confPath,
    "--port",
    String(port),
    ...listen,
    ...(opts.args ?? []),
  ];
  const proc = new Proc(cmd, { cwd: dir });
  await proc.waitFor(/Listening on/, 20_000);
  return {
    proc,
    port,
    dir,
    stop: async () => {
      const st = await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return st;
    },
  };
}

/** Runs a command to completion without CAP_SYS_TIME, with a timeout. */
export async function runGuarded(
  cmd: string[],
  opts: { timeoutMs?: number; netns?: string; cwd?: string } = {},
): Promise<{ code: number; output: string }> {
  const full = [...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []), ...NO_SYS_TIME, ...cmd];
  const p = new Proc(full, opts.cwd ? { cwd: opts.cwd } : {});
  const st = await p.wait(opts.timeoutMs ?? 30_000);
  return { code: st.code, output: p.output };
}

/** Runs a plain command (setup tools such as `ip`) and throws on failure. */
export async function sh(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** Creates a network namespace with loopback up, runs `fn`, and always deletes it. */
export async function withNetns<T>(prefix: string, fn: (name: string) => Promise<T>): Promise<T> {
  const name = `${prefix}${Deno.pid}${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
  await sh(["ip", "netns", "add", name]);
  try {
    await sh(["ip", "-n", name, "link", "set", "lo", "up"]);
    return await fn(name);
  } finally {
    await sh(["ip", "netns", "del", name]).catch(() => {});
  }
}

/** Starts chronyd as a server (`-x`: never touches the clock) on a loopback port. */
export async function startChronydServer(
  chronyd: string,
  opts: {
    port: number;
    stratum?: number;
    extra?: string[];
    netns?: string;
    wrapper?: string[];
    /** Address to serve on (default 127.0.0.1; clients from 127.0.0.1 are always allowed). */
    bindAddress?: string;
  },
): Promise<{ proc: Proc; dir: string; stop(): Promise<void> }> {
  const dir = await tempDir("chronyd-");
  const conf = [
    `port ${opts.port}`,
    `bindaddress ${opts.bindAddress ?? "127.0.0.1"}`,
    "allow 127.0.0.1",
    `local stratum ${opts.stratum ?? 8}`,
    "cmdport 0",
    `pidfile ${dir}/chronyd.pid`,
    `driftfile ${dir}/drift`,
    ...(opts.extra ?? []),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/chrony.conf`, conf + "\n");
  const proc = new Proc([
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...NO_SYS_TIME,
    ...(opts.wrapper ?? []),
    chronyd,
    "-x",
    "-d",
    "-u",
    "root",
    "-f",
    `${dir}/chrony.conf`,
  ]);
  await proc.waitFor(/Disabled control of system clock/, 10_000);
  return {
    proc,
    dir,
    stop: async () => {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Measures a server with chronyd as a one-shot client (`-Q`: print the offset, never set the
 * clock). Returns chronyd's offset in seconds (chronyd reports "System clock wrong by X seconds").
 */
export async function chronydMeasure(
  chronyd: string,
  host: string,
  port: number,
  extraServerOptions = "",
  opts: { netns?: string } = {},
): Promise<{ offsetSec: number | null; output: string }> {
  const dir = await tempDir("chronyq-");
  try {
    const r = await runGuarded([
      chronyd,
      "-Q",
      "-u",
      "root",
      "-f",
      "/dev/null",
      `server ${host} port ${port} iburst maxsamples 4 ${extraServerOptions}`.trim(),
      "cmdport 0",
      `pidfile ${dir}/q.pid`,
    ], { timeoutMs: 30_000, ...(opts.netns ? { netns: opts.netns } : {}) });
    const m = r.output.match(/System clock wrong by (-?[\d.]+) seconds/);
    return { offsetSec: m ? Number(m[1]) : null, output: r.output };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs a small Deno program (its source given as text) without CAP_SYS_TIME, optionally inside a
 * network namespace, with network permission only. For scripted peers such as a responder that
 * sends malformed replies. Call `stop()` to end it and remove its folder.
 */
export async function startDenoScript(
  code: string,
  opts: { netns?: string; args?: string[] } = {},
): Promise<{ proc: Proc; stop(): Promise<Deno.CommandStatus> }> {
  const dir = await tempDir("script-");
  const file = `${dir}/script.ts`;
  await Deno.writeTextFile(file, code);
  const proc = new Proc([
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...NO_SYS_TIME,
    Deno.execPath(),
    "run",
    "--allow-net",
    "--unstable-net",
    "--no-config",
    file,
    ...(opts.args ?? []),
  ], { cwd: dir });
  return {
    proc,
    stop: async () => {
      const st = await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return st;
    },
  };
}

/** Reads a JSON file written atomically by Horae (`--status-file`), or null when absent. */
export async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Polls a JSON file (Horae's `--status-file`) until `pred` holds; throws with the last one. */
export async function waitForJson<T = Record<string, unknown>>(
  path: string,
  pred: (doc: T) => boolean,
  timeoutMs: number,
  proc?: Proc,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | null = null;
  while (Date.now() < end) {
    last = await readJson(path) as T | null;
    if (last !== null && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${path}: condition not met in ${timeoutMs} ms; last:\n${
      JSON.stringify(last, null, 1)?.slice(0, 3000)
    }${proc ? `\noutput:\n${proc.output.slice(-3000)}` : ""}`,
  );
}

/** DNS names and the addresses dnsmasq answers for them (several per name for a pool). */
export type DnsRecords = Record<string, string[]>;

/** A running dnsmasq (see {@link startDnsmasq}). */
export interface RunningDnsmasq {
  proc: Proc;
  /** Replaces the records: rewrites the hosts file, sends SIGHUP, waits until it was reread. */
  setRecords(records: DnsRecords): Promise<void>;
  /** How many queries of `type` (A, AAAA) for `name` dnsmasq has logged so far. */
  queries(name: string, type?: string): number;
  /** Stops dnsmasq and removes its files and the namespace's resolv.conf. */
  stop(): Promise<void>;
}

function hostsText(records: DnsRecords): string {
  return Object.entries(records).flatMap(([name, addrs]) => addrs.map((a) => `${a} ${name}\n`))
    .join("");
}

/**
 * Starts dnsmasq as the only DNS server of network namespace `netns`, on 127.0.0.1 port 53,
 * answering `records` from a hosts file (`--addn-hosts`) that {@link RunningDnsmasq.setRecords}
 * changes. Writes `/etc/netns/<netns>/resolv.conf` pointing at it, so programs started later with
 * `ip netns exec` resolve through it. Names under the records' top-level domains are answered
 * locally only (no upstream; unknown names are NXDOMAIN). Runs without CAP_SYS_TIME.
 */
export async function startDnsmasq(
  dnsmasq: string,
  opts: { netns: string; records: DnsRecords },
): Promise<RunningDnsmasq> {
  const dir = await tempDir("dnsmasq-");
  const hosts = `${dir}/hosts`;
  const etc = `/etc/netns/${opts.netns}`;
  await Deno.writeTextFile(hosts, hostsText(opts.records));
  await Deno.mkdir(etc, { recursive: true });
  await Deno.writeTextFile(`${etc}/resolv.conf`, "nameserver 127.0.0.1\n");
  const tlds = [...new Set(Object.keys(opts.records).map((n) => n.split(".").pop()!))];
  const proc = new Proc([
    "ip",
    "netns",
    "exec",
    opts.netns,
    ...NO_SYS_TIME,
    dnsmasq,
    "--no-daemon",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--port=53",
    `--addn-hosts=${hosts}`,
    ...tlds.map((t) => `--local=/${t}/`),
    // The hosts file lives in a private folder: stay root to reread it on SIGHUP.
    "--user=root",
    "--group=root",
    "--pid-file",
    "--log-queries",
    "--log-facility=-",
  ]);
  const reads = () => proc.output.match(/read \S+ - \d+ names?/g)?.length ?? 0;
  const stop = async () => {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(etc, { recursive: true }).catch(() => {});
  };
  try {
    await proc.waitFor(/read \S+ - \d+ names?/, 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    proc,
    stop,
    queries: (name, type = "A") => {
      const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return proc.output.match(new RegExp(`query\\[${type}\\] ${esc} from`, "g"))?.length ?? 0;
    },
    setRecords: async (records) => {
      const before = reads();
      await Deno.writeTextFile(`${hosts}.new`, hostsText(records));
      await Deno.rename(`${hosts}.new`, hosts);
      proc.kill("SIGHUP");
      const end = Date.now() + 10_000;
      while (reads() === before) {
        if (Date.now() > end) throw new Error(`dnsmasq did not reread ${hosts}:\n${proc.output}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
