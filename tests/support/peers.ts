// Test support for interop tests: finding the real peer programs, running them (and Horae) without
// CAP_SYS_TIME, free loopback ports, and throw-away network namespaces.

import { BUNDLE_ARGS, withShebang } from "../../tools/build.ts";
import { recordSkip } from "./skips.ts";

/** Prefix that removes CAP_SYS_TIME from a command: even a bug cannot change the clock. */
export const NO_SYS_TIME = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--"];

/** The project's root folder. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Where tools/fetch_peers.sh unpacks Debian's chrony and NTPsec packages (`apt-get download` +
 * `dpkg-deb -x`, nothing installed): one root-filesystem layout per package group.
 */
export const PEERS_DIR = `${ROOT}.tmp/peers`;

/** The unpacked programs come first: the tests run the versions the set-up fetched. */
const UNPACKED = ["chrony", "ntpsec", "prometheus", "collectd"].flatMap((p) => [
  `${PEERS_DIR}/${p}/usr/sbin`,
  `${PEERS_DIR}/${p}/usr/bin`,
]);
const SYSTEM = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"];

/** NTPsec's Python module, unpacked beside its programs (ntpq and ntpdig import it). */
const NTPSEC_PYTHON = `${PEERS_DIR}/ntpsec/usr/lib/python3/dist-packages`;

/** Environment every child started through {@link Proc} gets on top of the test's own. */
export const PEER_ENV: Record<string, string> = (() => {
  try {
    Deno.statSync(NTPSEC_PYTHON);
  } catch {
    return {};
  }
  const old = Deno.env.get("PYTHONPATH");
  return { PYTHONPATH: old ? `${NTPSEC_PYTHON}:${old}` : NTPSEC_PYTHON };
})();

/**
 * True when `path` is a program of its own and not a link to Horae's multi-call entry point
 * (an `ntpd` or `ntptime` that is Horae would make a comparison with itself prove nothing).
 */
function isForeignProgram(path: string): boolean {
  try {
    const real = Deno.realPathSync(path);
    return !/^(horae|main\.ts$)/.test(real.slice(real.lastIndexOf("/") + 1));
  } catch {
    return false;
  }
}

/**
 * Absolute path of a program, or null: the unpacked peers first, then PATH and the usual system
 * folders. Links to Horae itself do not count.
 */
export function which(name: string): string | null {
  const dirs = [...UNPACKED, ...(Deno.env.get("PATH") ?? "").split(":"), ...SYSTEM];
  for (const d of dirs) {
    if (d === "") continue;
    try {
      const p = `${d}/${name}`;
      const st = Deno.statSync(p);
      if (st.isFile && (st.mode ?? 0) & 0o111 && isForeignProgram(p)) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** True when running as root (needed for network namespaces). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** What a test needs from the machine; see {@link needPeers}. */
export interface PeerNeeds {
  /** Programs that must be found by {@link which}. */
  programs?: readonly string[];
  /** Root is needed, for this (e.g. "a network namespace"). */
  root?: string;
  /** Files that must exist (a preload library, say). */
  files?: readonly string[];
  /** Any other condition: returns why it is not met, or null. */
  check?: () => string | null;
}

/** What {@link needPeers} decided: `ignore` for Deno.test's options, and the programs found. */
export interface NeededPeers {
  /** True when something is missing: the test is declared ignored (and the skip recorded). */
  readonly ignore: boolean;
  /** Why the test is skipped, or null. */
  readonly why: string | null;
  /** Path of a program named in `programs` (throws for any other, or when ignored). */
  path(name: string): string;
}

/**
 * Decides when a test module loads whether a test can run here, so that Deno reports a test it
 * cannot run as ignored, never as passed. Call it with top-level await and pass `ignore` to
 * `Deno.test(name, { ignore }, fn)`. When something is missing it prints
 * `skipped: <why> (<test>)` and appends the line to `.tmp/skipped.txt` (before returning), so
 * `.ci/run` fails a run with skips.
 */
export async function needPeers(test: string, needs: PeerNeeds): Promise<NeededPeers> {
  const found = new Map<string, string>();
  const missing: string[] = [];
  for (const p of needs.programs ?? []) {
    const at = which(p);
    if (at === null) missing.push(p);
    else found.set(p, at);
  }
  const reasons: string[] = [];
  if (missing.length > 0) reasons.push(`${missing.join(", ")} not installed`);
  for (const f of needs.files ?? []) {
    try {
      Deno.statSync(f);
    } catch {
      reasons.push(`${f} missing`);
    }
  }
  if (needs.root !== undefined && !isRoot()) reasons.push(`needs root for ${needs.root}`);
  const other = needs.check?.() ?? null;
  if (other !== null) reasons.push(other);
  const why = reasons.length > 0 ? reasons.join("; ") : null;
  if (why !== null) await recordSkip(test, why);
  return {
    ignore: why !== null,
    why,
    path(name: string): string {
      const p = found.get(name);
      if (p === undefined || why !== null) {
        throw new Error(`${test}: ${name} was not found or not asked for (${why ?? "not asked"})`);
      }
      return p;
    },
  };
}

/**
 * Largest offset chronyd (4 samples, kernel timestamps) may measure against Horae on loopback.
 * Both ends read the same clock, so a correct server is off by at most half the round trip: a
 * few µs on an idle machine, up to milliseconds when other work delays a timestamp between the
 * kernel and the socket (ntpdig, in user space, once saw 741 µs and 6.4 ms under the full suite).
 * Timestamp bugs (wrong era, fraction, byte order) are off by far more. Where a client reports
 * the round trip, assert against half of it instead (see the ntpdig test).
 */
export const LOOPBACK_OFFSET_SEC = 5e-3;

/** A free UDP port on 127.0.0.1 (bound and released; good enough for tests). */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough for tests). */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A temporary folder removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
  await Deno.mkdir(`${ROOT}.tmp`, { recursive: true });
  return await Deno.makeTempDir({ dir: `${ROOT}.tmp`, prefix });
}

/**
 * A temporary folder another user can reach (for a daemon that switches to nobody, or a file that
 * user plants): below /tmp, not the checkout, which may sit below a folder only its owner may
 * enter (a clone under `mktemp -d`). Remove it when done.
 */
export async function sharedTempDir(prefix: string): Promise<string> {
  return await Deno.makeTempDir({ dir: "/tmp", prefix: `horae-${prefix}` });
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
      env: { ...PEER_ENV, ...(opts.env ?? {}) },
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

/**
 * Builds the single-file bundle once per process as `deno task bundle` does: minified, with the
 * deployed shebang (its Deno and V8 flags) and the execute bit, so that a link to it runs as on
 * an installed host.
 */
export function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await tempDir("bundle-");
    const out = `${dir}/horae.js`;
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const r = await new Deno.Command(Deno.execPath(), {
      args: [...BUNDLE_ARGS, "-o", out, `${ROOT}main.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(r.stderr)}`);
    await Deno.writeTextFile(out, withShebang(await Deno.readTextFile(out)));
    await Deno.chmod(out, 0o755);
    return out;
  })();
  return bundled;
}

/** True when the tests run every Horae program as installed (HORAE_TEST_BUNDLE=1). */
export function testingBundle(): boolean {
  return Deno.env.get("HORAE_TEST_BUNDLE") === "1";
}

const programLinks = new Map<string, Promise<string>>();

/** A link named `name` (ntpd, horae, ...) to the bundle, made once per process. */
export function bundleLink(name: string): Promise<string> {
  let link = programLinks.get(name);
  if (link === undefined) {
    link = (async () => {
      const target = await bundle();
      const path = `${target.slice(0, target.lastIndexOf("/"))}/${name}`;
      await Deno.symlink(target, path);
      return path;
    })();
    programLinks.set(name, link);
  }
  return link;
}

/**
 * The command that runs the `horae` program (a subcommand and its arguments follow): main.ts
 * through `deno run`, or with HORAE_TEST_BUNDLE=1 a link named horae to the bundle, started
 * through its shebang as an installed host starts it.
 */
export async function horaeCommand(): Promise<string[]> {
  if (testingBundle()) return [await bundleLink("horae")];
  return [Deno.execPath(), "run", "--allow-all", "--unstable-net", `${ROOT}main.ts`];
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

/** Starts `horae run -n --observe -c <conf>` without CAP_SYS_TIME and waits until it listens. */
export async function startHorae(opts: HoraeOptions): Promise<RunningHorae> {
  const dir = await tempDir("horae-");
  const confPath = `${dir}/ntp.conf`;
  await Deno.writeTextFile(confPath, opts.conf);
  const port = opts.port ?? freeUdpPort();
  let entry = [Deno.execPath(), "run", "--allow-all", "--unstable-net", `${ROOT}main.ts`, "run"];
  // HORAE_TEST_BUNDLE=1: every daemon runs as installed, the bundle through a link named ntpd.
  const asProgram = opts.asProgram ?? (testingBundle() ? "ntpd" : null);
  if (asProgram) {
    // Multi-call through a link to the single-file bundle, started through its shebang (with the
    // deployed V8 flags), as an installed host runs it.
    const link = `${dir}/${asProgram}`;
    await Deno.symlink(await bundle(), link);
    entry = [link];
  }
  const listen = (opts.listen ?? ["127.0.0.1"]).flatMap((a) => ["--listen", a]);
  const cmd = [
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...NO_SYS_TIME,
    ...entry,
    "-n",
    // Never steers the clock (the daemon refuses to start without CAP_SYS_TIME otherwise).
    "--observe",
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

/**
 * Horae's `query -n` to 127.0.0.1:`port` with `-c` for each of `commands` (inside network
 * namespace `netns` when given): its stdout and stderr.
 */
export async function queryHorae(
  port: number,
  commands: string[],
  netns?: string,
): Promise<string> {
  const cmd = [
    ...(netns === undefined ? [] : ["ip", "netns", "exec", netns]),
    ...await horaeCommand(),
    "query",
    "--port",
    String(port),
    "-n",
    ...commands.flatMap((c) => ["-c", c]),
    "127.0.0.1",
  ];
  const q = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(q.stdout) + new TextDecoder().decode(q.stderr);
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

/**
 * The TCP ports process `pid` listens on: its socket inodes matched against the tables of its own
 * network namespace. Checks one process, so tests running beside it cannot disturb the answer.
 */
export function tcpListeners(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
        if (m) inodes.add(m[1]!);
      } catch { /* closed meanwhile */ }
    }
  } catch {
    return []; // the process is gone
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/net/${table}`);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode (field 9)
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9]!)) {
        ports.push(parseInt(f[1]!.split(":").pop()!, 16));
      }
    }
  }
  return ports;
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

let netnsCount = 0;

/**
 * Creates a network namespace with loopback up, runs `fn`, and always deletes it. The name is
 * unique among test processes running at the same time: up to 4 letters of `prefix`, this
 * process's id and a counter (at most 15 characters, the kernel's limit for interface names).
 */
export async function withNetns<T>(prefix: string, fn: (name: string) => Promise<T>): Promise<T> {
  const name = `${prefix.slice(0, 4)}${Deno.pid}-${(netnsCount++).toString(36)}`;
  if (name.length > 15) throw new Error(`netns name ${name} is too long`);
  await sh(["ip", "netns", "add", name]);
  try {
    await sh(["ip", "-n", name, "link", "set", "lo", "up"]);
    return await fn(name);
  } finally {
    await sh(["ip", "netns", "del", name]).catch(() => {});
  }
}

/**
 * The command that runs `chronyd` in the foreground with `conf` and never controls the clock
 * (`-x`, and without CAP_SYS_TIME), inside network namespace `netns` and after `wrapper` when
 * given. It logs "Disabled control of system clock" once started.
 */
export function chronydCommand(
  chronyd: string,
  conf: string,
  opts: { netns?: string; wrapper?: string[] } = {},
): string[] {
  return [
    ...(opts.netns ? ["ip", "netns", "exec", opts.netns] : []),
    ...NO_SYS_TIME,
    ...(opts.wrapper ?? []),
    chronyd,
    "-x",
    "-d",
    "-u",
    "root",
    "-f",
    conf,
  ];
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
    // No command socket: /run/chrony belongs to the machine's own chronyd, if any.
    "bindcmdaddress /",
    `pidfile ${dir}/chronyd.pid`,
    `driftfile ${dir}/drift`,
    ...(opts.extra ?? []),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/chrony.conf`, conf + "\n");
  const proc = new Proc(
    chronydCommand(chronyd, `${dir}/chrony.conf`, {
      ...(opts.netns ? { netns: opts.netns } : {}),
      ...(opts.wrapper ? { wrapper: opts.wrapper } : {}),
    }),
  );
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
      "bindcmdaddress /",
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
