// `deno task bench`: server replies per second on loopback, Horae against chronyd 4.3 in the
// same run, interleaved, each server CPU-capped; SO_REUSEPORT scaling; writes BENCHMARKS.md.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import {
  bindSocket,
  closeSocket,
  encodeSockaddrIn,
  getSocketName,
  openUdpSocket,
} from "../../ffi/socket.ts";
import { cgroupSupport, CpuCgroup } from "./cgroup.ts";
import type { LoadResult } from "./loadgen.ts";
import {
  type BenchReport,
  type LagSummary,
  renderMarkdown,
  renderTable,
  replaceSection,
  type RunRecord,
} from "./report.ts";
import { chronydSpec, chronydVersion, horaeDaemonSpec, REPO_ROOT } from "./server_commands.ts";
import { ServerProcess, type ServerSpec } from "./server_process.ts";
import { keyTypeFromText } from "../../lib/config/keys_file.ts";
import type { MacAlgorithm } from "../../lib/proto/crypto.ts";

const HELP = `usage: deno task bench [options]
  --quick            2 runs per server and 1 per scaling configuration
  --runs N           interleaved runs per server in the main comparison (default 5)
  --access-runs N    runs of the access-list comparison, interleaved with the main one
                     (default: --runs; 0 skips it)
  --auth-runs N      runs of the symmetric-key comparison (signed requests, signed replies),
                     interleaved with the main one (default: --runs; 0 skips it)
  --auth-types LIST  key types of that comparison (default MD5,AES128CMAC)
  --scaling-runs N   runs per SO_REUSEPORT configuration (default 3; 0 skips scaling)
  --duration S       measured seconds per run (default 5)
  --warmup S         seconds of load before measuring (default 1)
  --cores X          CPU cap per server process, in cores (default 0.5)
  --period-us N      CFS period of the cap (default 100000)
  --window N         outstanding requests in the main comparison (default 128)
  --scaling-window N outstanding requests in the SO_REUSEPORT runs (default 512)
  --sockets N        generator sockets in the main comparison (default 2; scaling uses 8)
  --out FILE         markdown file to update between the server-bench markers
                     (default BENCHMARKS.md; repeatable)
  --no-write         print only
  --json FILE        also write every run as JSON`;

interface BenchOptions {
  runs: number;
  accessRuns: number;
  authRuns: number;
  authTypes: MacAlgorithm[];
  scalingRuns: number;
  durationSec: number;
  warmupSec: number;
  cores: number;
  periodUs: number;
  window: number;
  scalingWindow: number;
  sockets: number;
  out: string[];
  json: string | null;
}

/** Parses the command line (throws RangeError on bad values). */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      "access-runs": { type: "string" },
      "auth-runs": { type: "string" },
      "auth-types": { type: "string", default: "MD5,AES128CMAC" },
      "scaling-runs": { type: "string" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      cores: { type: "string", default: "0.5" },
      "period-us": { type: "string", default: "100000" },
      window: { type: "string", default: "128" },
      "scaling-window": { type: "string", default: "512" },
      sockets: { type: "string", default: "2" },
      out: { type: "string", multiple: true },
      "no-write": { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const num = (v: string, name: string, min: number, max: number): number => {
    const x = Number(v);
    if (!(x >= min && x <= max)) throw new RangeError(`--${name} ${v} is not in ${min}..${max}`);
    return x;
  };
  const runs = Math.round(num(values.runs ?? (values.quick ? "2" : "5"), "runs", 1, 50));
  const authTypes = values["auth-types"].split(",").map((t) => {
    const a = keyTypeFromText(t.trim());
    if (a === null) throw new RangeError(`--auth-types: "${t}" is not a key type`);
    return a;
  });
  return {
    runs,
    accessRuns: Math.round(num(values["access-runs"] ?? `${runs}`, "access-runs", 0, 50)),
    authRuns: Math.round(num(values["auth-runs"] ?? `${runs}`, "auth-runs", 0, 50)),
    authTypes: [...new Set(authTypes)],
    scalingRuns: Math.round(
      num(values["scaling-runs"] ?? (values.quick ? "1" : "3"), "scaling-runs", 0, 50),
    ),
    durationSec: num(values.duration, "duration", 0.5, 60),
    warmupSec: num(values.warmup, "warmup", 0, 30),
    cores: num(values.cores, "cores", 0.05, 2),
    periodUs: Math.round(num(values["period-us"], "period-us", 1000, 1_000_000)),
    window: Math.round(num(values.window, "window", 1, 16384)),
    scalingWindow: Math.round(num(values["scaling-window"], "scaling-window", 1, 16384)),
    sockets: Math.round(num(values.sockets, "sockets", 1, 16)),
    out: values["no-write"] ? [] : (values.out ?? ["BENCHMARKS.md"]),
    json: values.json ?? null,
  };
}

/** A free UDP port on 127.0.0.1 (bound to port 0, read back, released). */
function freePort(): number {
  const fd = openUdpSocket(4);
  try {
    const sa = new Uint8Array(new ArrayBuffer(16));
    encodeSockaddrIn(sa, [127, 0, 0, 1], 0);
    bindSocket(fd, sa);
    const name = getSocketName(fd);
    return (name[2]! << 8) | name[3]!;
  } finally {
    closeSocket(fd);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readFirstLine(path: string, pattern: RegExp): string {
  try {
    const m = pattern.exec(Deno.readTextFileSync(path));
    return m === null ? "unknown" : m[1]!.trim();
  } catch {
    return "unknown";
  }
}

/** One key of the symmetric-key comparison: as the generator takes it, and its type. */
interface BenchKey {
  id: number;
  algorithm: MacAlgorithm;
  /** `ID:TYPE:HEX` for the generator's --key. */
  arg: string;
}

/** chrony's names of the key types. */
const CHRONY_TYPE: Record<MacAlgorithm, string> = {
  MD5: "MD5",
  SHA1: "SHA1",
  SHA256: "SHA256",
  AES128CMAC: "AES128",
};

/** Random keys of `types` (ids 1…), written as a Horae keys file and a chrony keyfile. */
function writeBenchKeys(
  dir: string,
  types: MacAlgorithm[],
): { keys: BenchKey[]; ntpFile: string; chronyFile: string } {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const made = types.map((algorithm, i) => {
    const secret = hex(
      crypto.getRandomValues(new Uint8Array(algorithm === "AES128CMAC" ? 16 : 20)),
    );
    return { id: i + 1, algorithm, secret, arg: `${i + 1}:${algorithm}:${secret}` };
  });
  const ntpFile = `${dir}/bench.keys`;
  const chronyFile = `${dir}/bench_chrony.keys`;
  Deno.writeTextFileSync(
    ntpFile,
    made.map((k) => `${k.id} ${k.algorithm} ${k.secret}\n`).join(""),
    {
      mode: 0o600,
    },
  );
  Deno.writeTextFileSync(
    chronyFile,
    made.map((k) => `${k.id} ${CHRONY_TYPE[k.algorithm]} HEX:${k.secret}\n`).join(""),
    { mode: 0o600 },
  );
  return {
    keys: made.map(({ id, algorithm, arg }) => ({ id, algorithm, arg })),
    ntpFile,
    chronyFile,
  };
}

/** Everything that must be undone if the benchmark stops early. */
class Live {
  servers = new Set<ServerProcess>();
  groups = new Set<CpuCgroup>();

  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.servers].map((s) => s.stop()));
    this.servers.clear();
    for (const g of this.groups) {
      for (let i = 0; i < 20 && !g.remove(); i++) await sleep(50);
    }
    this.groups.clear();
  }
}

interface MeasureConfig {
  group: string;
  label: string;
  run: number;
  specs: ServerSpec[];
  capCores: number | null;
  sockets: number;
  window: number;
  /**
   * The daemon runs with `--loop-lag-ms` and writes this status file: the generator sends it
   * SIGUSR2 when measuring starts and ends, and the window between is read from the file.
   */
  lagStatusFile: string | null;
  /** The one spec is a daemon with this many server threads (capCores is then its total). */
  threads?: number;
  /** The generator signs with this key and requires signed replies (`ID:TYPE:HEX`). */
  key?: string;
}

let groupCounter = 0;

async function runGenerator(
  port: number,
  opts: BenchOptions,
  sockets: number,
  window: number,
  signalPid: number | null,
  workers: ServerProcess[],
  key: string | undefined,
): Promise<{ result: LoadResult; peakRssKb: number | null }> {
  const args = [
    "run",
    "--allow-all",
    `${REPO_ROOT}/tools/bench/loadgen.ts`,
    "--json",
    "--port",
    `${port}`,
    "--duration",
    `${opts.durationSec}`,
    "--warmup",
    `${opts.warmupSec}`,
    "--window",
    `${window}`,
    "--sockets",
    `${sockets}`,
    ...(signalPid === null ? [] : ["--signal-pid", `${signalPid}`]),
    ...(key === undefined ? [] : ["--key", key]),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Bounded: the generator stops itself; this only catches a hung one.
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, (opts.warmupSec + opts.durationSec + 20) * 1000);
  let peak: number | null = null;
  const sampler = setInterval(() => {
    let sum = 0;
    for (const w of workers) {
      const r = w.rssKb();
      if (r === null) return;
      sum += r;
    }
    if (peak === null || sum > peak) peak = sum;
  }, 250);
  const out = await child.output();
  clearInterval(sampler);
  clearTimeout(killer);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success || !text.startsWith("{")) {
    throw new Error(`load generator failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return { result: JSON.parse(text) as LoadResult, peakRssKb: peak };
}

/**
 * The measured window from a stopped daemon's status file: window 2, which the generator's first
 * SIGUSR2 opened (window 1 held start-up and warm-up) and its second closed. Null, with a
 * warning, when the file does not show exactly that.
 */
function readLagWindow(path: string): LagSummary | null {
  try {
    const doc = JSON.parse(Deno.readTextFileSync(path));
    const w = doc?.eventLoop?.previous;
    if (w?.window !== 2 || typeof w.lateMedianMs !== "number") {
      console.error(`bench: ${path} has no measured lag window (previous: ${JSON.stringify(w)})`);
      return null;
    }
    return {
      samples: w.samples,
      expectedSamples: w.expectedSamples,
      windowSec: w.windowSec,
      medianMs: w.lateMedianMs,
      p99Ms: w.lateP99Ms,
      maxMs: w.lateMaxMs,
    };
  } catch (e) {
    console.error(`bench: cannot read the lag window from ${path}: ${(e as Error).message}`);
    return null;
  }
}

async function measure(c: MeasureConfig, opts: BenchOptions, live: Live): Promise<RunRecord> {
  const groups: CpuCgroup[] = [];
  const workers: ServerProcess[] = [];
  try {
    for (const spec of c.specs) {
      let g: CpuCgroup | null = null;
      if (c.capCores !== null) {
        g = CpuCgroup.create({
          name: `horae_srvbench_${Deno.pid}_${++groupCounter}`,
          cores: c.capCores,
          periodUs: opts.periodUs,
        });
        groups.push(g);
        live.groups.add(g);
      }
      const w = await ServerProcess.start(spec, g);
      workers.push(w);
      live.servers.add(w);
    }
    await sleep(1000); // idle: let start-up work finish before reading idle memory
    const idle = workers.map((w) => w.rssKb());
    const idleRssKb = idle.some((r) => r === null)
      ? null
      : idle.reduce((a: number, r) => a + r!, 0);
    const cpu0 = workers.map((w) => w.cpuSec() ?? NaN);
    const thr0 = groups.map((g) => g.throttling());
    const t0 = performance.now();
    const signalPid = c.lagStatusFile !== null ? workers[0]!.pid : null;
    const { result, peakRssKb } = await runGenerator(
      c.specs[0]!.port,
      opts,
      c.sockets,
      c.window,
      signalPid,
      workers,
      c.key,
    );
    const wallSec = (performance.now() - t0) / 1000;
    const cpu1 = workers.map((w) => w.cpuSec() ?? NaN);
    const thr1 = groups.map((g) => g.throttling());
    const cpuUsedSec = cpu1.reduce((a, v, i) => a + (v - cpu0[i]!), 0);
    const serverCores = cpuUsedSec / (wallSec - 0.15); // minus the generator's start-up, roughly
    let throttledShare: number | null = null;
    if (groups.length > 0) {
      let periods = 0, throttled = 0;
      thr1.forEach((t, i) => {
        periods += t.periods - thr0[i]!.periods;
        throttled += t.throttledPeriods - thr0[i]!.throttledPeriods;
      });
      throttledShare = periods === 0 ? 0 : throttled / periods;
    }
    const exits = await Promise.all(workers.map((w) => w.stop()));
    for (const w of workers) live.servers.delete(w);
    exits.forEach((e, i) => {
      // A server gone before the load ended (its CPU time unreadable): say how, with its output.
      if (!Number.isNaN(cpu1[i]!)) return;
      console.error(
        `bench: ${c.label} (${c.group} run ${c.run}) ended during the load: code ${e.code}, ` +
          `signal ${e.signal}; its last output:\n${e.stderr.slice(-3000)}${e.stdout.slice(-1000)}`,
      );
    });
    let lag: LagSummary | null = null;
    let kernelTimestamps: boolean | null = null;
    if (c.specs[0]!.label !== "chronyd") {
      // The daemon logs "Listening on ADDR (kernel timestamps)" for each socket that has them.
      kernelTimestamps = exits.every((e) => e.stderr.includes("(kernel timestamps)"));
      if (c.lagStatusFile !== null) lag = readLagWindow(c.lagStatusFile);
    }
    return {
      group: c.group,
      label: c.label,
      run: c.run,
      workers: c.threads ?? c.specs.length,
      ...(c.threads !== undefined ? { threads: true } : {}),
      capCores: c.capCores,
      repliesPerSec: result.repliesPerSec,
      sent: result.sent,
      valid: result.valid,
      invalidTotal: result.invalidTotal,
      invalid: result.invalid,
      late: result.late,
      lost: result.lost,
      lossFraction: result.lossFraction,
      idleRssKb,
      loadRssKb: peakRssKb,
      serverCores,
      repliesPerCpuSec: cpuUsedSec > 0 ? result.valid / cpuUsedSec : NaN,
      generatorCores: result.generatorCores,
      throttledShare,
      kernelTimestamps,
      lag,
      rttMedianUs: result.rttMedianUs,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
    for (const w of workers) live.servers.delete(w);
    for (const g of groups) {
      for (let i = 0; i < 20 && !g.remove(); i++) await sleep(50);
      live.groups.delete(g);
    }
  }
}

function describe(r: RunRecord): string {
  const mbOf = (kb: number | null) => kb === null ? "?" : (kb / 1024).toFixed(0);
  const lag = r.lag === null
    ? ""
    : `, lag median ${r.lag.medianMs.toFixed(1)} / p99 ${r.lag.p99Ms.toFixed(1)} ms`;
  return `${(r.repliesPerSec / 1000).toFixed(1)}k/s, invalid ${r.invalidTotal}, lost ${
    (r.lossFraction * 100).toFixed(3)
  }%, RSS ${mbOf(r.idleRssKb)}→${mbOf(r.loadRssKb)} MB, server CPU ${
    (r.serverCores * 100).toFixed(0)
  }%, generator ${(r.generatorCores * 100).toFixed(0)}%${lag}`;
}

/** Timer interval of the daemon's event-loop lag probe in the scaling runs, ms. */
const LAG_INTERVAL_MS = 10;

/** What the main comparison runs as Horae, in words. */
const HORAE_VARIANT = "the daemon, `main.ts run -n` with the LOCAL clock (`fudge 127.127.1.0" +
  " stratum 9`)";

/** Runs the whole benchmark; returns the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  let opts: BenchOptions | null;
  try {
    opts = parseBenchArgs(args);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${HELP}`);
    return 2;
  }
  if (opts === null) {
    console.log(HELP);
    return 0;
  }
  const support = cgroupSupport();
  if (!support.ok) {
    console.error(`bench: cannot cap servers: ${support.reason}`);
    return 1;
  }
  const chronyd = chronydVersion();
  if (chronyd === null) {
    console.error("bench: chronyd is not installed (/usr/sbin/chronyd); it is the reference");
    return 1;
  }
  const started = performance.now();
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const loadAverage = readFirstLine("/proc/loadavg", /^(\S+ \S+ \S+)/);
  const dir = Deno.makeTempDirSync({ prefix: "horae_bench_" });
  const live = new Live();
  const onSignal = () => {
    console.error("bench: interrupted, stopping servers");
    live.cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const notes: string[] = [];
  const runs: RunRecord[] = [];
  let horaeVariant = "";
  try {
    horaeVariant = HORAE_VARIANT;
    console.log(`Horae: ${HORAE_VARIANT}`);

    // Main comparison: chronyd, horae, chronyd, horae, ... each capped the same way; the
    // access-list comparison interleaved with it (chronyd and horae with 1,000-entry lists), so
    // Horae with its list is measured against chronyd with its list and against itself without;
    // and the symmetric-key comparison (one group per key type: every request signed, every
    // reply signed and verified by the generator).
    const keys = opts.authRuns > 0 ? writeBenchKeys(dir, opts.authTypes) : null;
    const rounds = Math.max(opts.runs, opts.accessRuns, opts.authRuns);
    for (let run = 1; run <= rounds; run++) {
      const plan: { group: string; which: "chronyd" | "horae"; of: number; key?: BenchKey }[] = [];
      const pair = (group: string, of: number, key?: BenchKey) => {
        for (const which of ["chronyd", "horae"] as const) {
          plan.push({ group, which, of, ...(key === undefined ? {} : { key }) });
        }
      };
      if (run <= opts.runs) pair("main", opts.runs);
      if (run <= opts.accessRuns) pair("access", opts.accessRuns);
      if (keys !== null && run <= opts.authRuns) {
        for (const k of keys.keys) pair(`auth-${k.algorithm}`, opts.authRuns, k);
      }
      for (const { group, which, of, key } of plan) {
        const port = freePort();
        const accessList = group === "access";
        const spec = which === "chronyd"
          ? chronydSpec(port, dir, { accessList, ...(key ? { keyfile: keys!.chronyFile } : {}) })
          : horaeDaemonSpec(port, dir, {
            accessList,
            ...(key ? { keys: { file: keys!.ntpFile, ids: keys!.keys.map((k) => k.id) } } : {}),
          });
        const r = await measure(
          {
            group,
            label: which,
            run,
            specs: [spec],
            capCores: opts.cores,
            sockets: opts.sockets,
            window: opts.window,
            lagStatusFile: null,
            ...(key === undefined ? {} : { key: key.arg }),
          },
          opts,
          live,
        );
        runs.push(r);
        console.log(`${group} ${run}/${of} ${which}: ${describe(r)}`);
      }
    }
    if (keys !== null) {
      notes.push(
        "Symmetric-key rows: every request is signed with the key of its type (NTPv4; SHA1 and" +
          " SHA256 digests cut to 20 bytes), a reply counts only when it carries a MAC with that" +
          " key that the generator verifies; chronyd reads the key from its `keyfile`, Horae from" +
          " its keys file (`keys`, `trustedkey`), with random keys made for the run.",
      );
    }
    if (opts.accessRuns > 0) {
      notes.push(
        "Access-list rows: Horae with 1,000 `restrict` lines (IPv4 hosts and /16–/24 prefixes," +
          " IPv6 /64s and hosts; ignore, noserve kod, kod limited, nomodify noquery) none of" +
          " which matches the generator, and monitoring on (every client recorded in the MRU" +
          " list); chronyd with the same 1,000 entries as `allow`/`deny` lines plus `allow" +
          " 127.0.0.1`, and its client log on (`clientloglimit 1048576`). Generated by" +
          " `tools/bench/access_list.ts`; run interleaved with the main comparison.",
      );
    }

    // SO_REUSEPORT: the daemon with 1 and 2 server threads (one process; capped at N times the
    // per-server cap, then uncapped). These runs also give the event-loop table: the daemon's
    // own lag probe (`--loop-lag-ms`) on its main thread, over the measured window.
    for (const capped of [true, false]) {
      for (let run = 1; run <= opts.scalingRuns; run++) {
        for (const workers of [1, 2]) {
          const port = freePort();
          const group = capped ? "scaling-capped" : "scaling-uncapped";
          const label = `horae --server-threads ${workers}`;
          const statusFile = `${dir}/status_${port}.json`;
          const spec = horaeDaemonSpec(port, dir, {
            serverThreads: workers,
            loopLagMs: LAG_INTERVAL_MS,
            statusFile,
          });
          const r = await measure(
            {
              group,
              label,
              run,
              specs: [{ ...spec, label }],
              capCores: capped ? opts.cores * workers : null,
              sockets: 8,
              window: opts.scalingWindow,
              lagStatusFile: statusFile,
              threads: workers,
            },
            opts,
            live,
          );
          runs.push(r);
          console.log(`${group} ${run}/${opts.scalingRuns} ×${workers}: ${describe(r)}`);
        }
      }
    }
    if (opts.scalingRuns > 0) {
      notes.push(
        "SO_REUSEPORT rows run the daemon with `--server-threads N` (`main.ts run -n`, LOCAL" +
          " clock): one process whose N threads each have their own SO_REUSEPORT socket on the" +
          ` port; capped rows give that process a quota of N × ${
            (opts.cores * 100).toFixed(0)
          }% of a core. The generator uses 8 source ports (${opts.scalingWindow} requests` +
          " outstanding) so the kernel spreads them over the workers.",
        `On this ${navigator.hardwareConcurrency}-core` +
          " machine the generator needs about one core, so uncapped workers compete with it" +
          " for the CPU: uncapped rows show the machine's limit, not the server's.",
        `The event-loop table comes from the same runs: the daemon ran with \`--loop-lag-ms ${LAG_INTERVAL_MS}` +
          " --status-file FILE`, the generator sent it SIGUSR2 when measuring started and" +
          " ended (each SIGUSR2 closes the probe's window), and the window between was read" +
          " from the status file's `eventLoop.previous` after the run.",
      );
    }
    notes.push(
      `A CFS quota runs a capped process for ${
        (opts.cores * opts.periodUs / 1000).toFixed(0)
      } ms and then freezes it for the rest of each ${
        (opts.periodUs / 1000).toFixed(0)
      } ms period, so timer lateness in capped rows includes that freeze; uncapped rows show` +
        " the event loop itself (but share the CPU with the generator and anything else running).",
    );
  } catch (e) {
    console.error(`bench: ${(e as Error).stack ?? e}`);
    await live.cleanup();
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await live.cleanup();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // A leftover temp dir is harmless.
    }
  }

  const report: BenchReport = {
    context: {
      date,
      command: ["deno task bench", ...args].join(" "),
      nproc: navigator.hardwareConcurrency,
      kernel: readFirstLine("/proc/sys/kernel/osrelease", /^(.*)$/m),
      cpuModel: readFirstLine("/proc/cpuinfo", /^model name\s*:\s*(.*)$/m),
      deno: Deno.version.deno,
      chronyd,
      capMethod: `a cgroup v${support.version} CPU quota of ${
        Math.round(opts.cores * opts.periodUs)
      } µs per ${opts.periodUs} µs period (${(opts.cores * 100).toFixed(0)}% of one core)`,
      load: `\`tools/bench/loadgen.ts\` (FFI sendmmsg/recvmmsg, batches of 64), ${opts.window}` +
        ` requests outstanding over ${opts.sockets} sockets, ${opts.warmupSec} s warm-up then` +
        ` ${opts.durationSec} s measured per run, ${opts.runs} runs per server interleaved` +
        " (chronyd, horae, chronyd, …), medians",
      horaeVariant,
      loadAverage,
      elapsedSec: (performance.now() - started) / 1000,
    },
    runs,
    notes,
  };
  console.log(`\n${renderTable(report)}`);
  const section = renderMarkdown(report);
  for (const file of opts.out) {
    const path = file.startsWith("/") ? file : `${REPO_ROOT}/${file}`;
    let doc = "";
    try {
      doc = Deno.readTextFileSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      doc = "# Benchmarks\n";
    }
    Deno.writeTextFileSync(path, replaceSection(doc, section));
    // `deno task check` runs `deno fmt --check` over markdown too: leave the file formatted.
    const fmt = new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", path],
      cwd: REPO_ROOT,
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!fmt.success) console.error(`bench: deno fmt ${path} failed`);
    console.log(`wrote ${path}`);
  }
  if (opts.json !== null) Deno.writeTextFileSync(opts.json, JSON.stringify(report, null, 2));
  return 0;
}

if (import.meta.main) Deno.exit(await benchMain(Deno.args));
