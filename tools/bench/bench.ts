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
import type { LagSummary } from "./lag_probe.ts";
import type { LoadResult } from "./loadgen.ts";
import {
  type BenchReport,
  renderMarkdown,
  renderTable,
  replaceSection,
  type RunRecord,
} from "./report.ts";
import {
  chronydSpec,
  chronydVersion,
  horaeCoreSpec,
  horaeDaemonPresent,
  horaeDaemonSpec,
  REPO_ROOT,
} from "./server_commands.ts";
import { ServerProcess, type ServerSpec } from "./server_process.ts";

const HELP = `usage: deno task bench [options]
  --quick            2 runs per server and 1 per scaling configuration
  --runs N           interleaved runs per server in the main comparison (default 5)
  --scaling-runs N   runs per SO_REUSEPORT configuration (default 3; 0 skips scaling)
  --duration S       measured seconds per run (default 5)
  --warmup S         seconds of load before measuring (default 1)
  --cores X          CPU cap per server process, in cores (default 0.5)
  --period-us N      CFS period of the cap (default 100000)
  --window N         outstanding requests in the main comparison (default 128)
  --scaling-window N outstanding requests in the SO_REUSEPORT runs (default 512)
  --sockets N        generator sockets in the main comparison (default 2; scaling uses 8)
  --horae V          auto | daemon | core (default auto: the daemon when main.ts run exists)
  --out FILE         markdown file to update between the server-bench markers
                     (default BENCHMARKS.md; repeatable)
  --no-write         print only
  --json FILE        also write every run as JSON`;

interface BenchOptions {
  runs: number;
  scalingRuns: number;
  durationSec: number;
  warmupSec: number;
  cores: number;
  periodUs: number;
  window: number;
  scalingWindow: number;
  sockets: number;
  horae: "auto" | "daemon" | "core";
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
      "scaling-runs": { type: "string" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      cores: { type: "string", default: "0.5" },
      "period-us": { type: "string", default: "100000" },
      window: { type: "string", default: "128" },
      "scaling-window": { type: "string", default: "512" },
      sockets: { type: "string", default: "2" },
      horae: { type: "string", default: "auto" },
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
  const horae = values.horae;
  if (horae !== "auto" && horae !== "daemon" && horae !== "core") {
    throw new RangeError(`--horae ${horae}: expected auto, daemon or core`);
  }
  return {
    runs: Math.round(num(values.runs ?? (values.quick ? "2" : "5"), "runs", 1, 50)),
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
    horae,
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
  /** Collect the lag probe of worker 1 (core server only). */
  lag: boolean;
  /** The one spec is a daemon with this many server threads (capCores is then its total). */
  threads?: number;
}

let groupCounter = 0;

async function runGenerator(
  port: number,
  opts: BenchOptions,
  sockets: number,
  window: number,
  signalPid: number | null,
  workers: ServerProcess[],
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

function parseJsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // Not one of our lines.
    }
  }
  return out;
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
    const signalPid = c.lag ? workers[0]!.pid : null;
    const { result, peakRssKb } = await runGenerator(
      c.specs[0]!.port,
      opts,
      c.sockets,
      c.window,
      signalPid,
      workers,
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
    let lag: LagSummary | null = null;
    let kernelTimestamps: boolean | null = null;
    if (c.specs[0]!.label !== "chronyd") {
      kernelTimestamps = exits.every((e) => e.stderr.includes("(kernel timestamps)"));
      for (const e of exits) {
        for (const rec of parseJsonLines(e.stdout)) {
          const final = rec.final as { transport?: { noKernelTimestamp?: number } } | undefined;
          if (final?.transport?.noKernelTimestamp !== undefined) {
            if (final.transport.noKernelTimestamp > 0) kernelTimestamps = false;
          }
        }
      }
      if (c.lag) {
        const rec = parseJsonLines(exits[0]!.stdout).find((r) => "lag" in r);
        lag = rec === undefined ? null : rec.lag as LagSummary;
      }
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

/** Picks the Horae server for the main comparison; says why in `notes`. */
async function chooseHorae(
  opts: BenchOptions,
  dir: string,
  notes: string[],
): Promise<{ spec: (port: number) => ServerSpec; variant: string; core: boolean }> {
  const core = {
    spec: (port: number) => ({ ...horaeCoreSpec(port), label: "horae" }),
    variant: "the benchmark core server `tools/bench/core_server.ts` (UdpTransport + Server with" +
      " the daemon's packet handler), not the daemon",
    core: true,
  };
  const daemon = {
    spec: (port: number) => horaeDaemonSpec(port, dir),
    variant: "the daemon, `main.ts run -n` with the LOCAL clock (`fudge 127.127.1.0 stratum 9`)",
    core: false,
  };
  if (opts.horae === "core") return core;
  if (opts.horae === "daemon") return daemon;
  if (!horaeDaemonPresent()) {
    notes.push(
      "The daemon's `run` command (lib/daemon/run_command.ts) was not in this checkout, so the" +
        " main comparison used the core server script instead of the daemon.",
    );
    return core;
  }
  try {
    const s = await ServerProcess.start(daemon.spec(freePort()), null);
    await s.stop();
    return daemon;
  } catch (e) {
    notes.push(
      `The daemon did not start (${
        (e as Error).message.split("\n")[0]!.slice(0, 200)
      }), so the main comparison used the core server script.`,
    );
    return core;
  }
}

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
    const horae = await chooseHorae(opts, dir, notes);
    horaeVariant = horae.variant;
    console.log(`Horae: ${horae.variant}`);

    // Main comparison: chronyd, horae, chronyd, horae, ... each capped the same way.
    for (let run = 1; run <= opts.runs; run++) {
      for (const which of ["chronyd", "horae"] as const) {
        const port = freePort();
        const spec = which === "chronyd" ? chronydSpec(port, dir) : horae.spec(port);
        const r = await measure(
          {
            group: "main",
            label: which,
            run,
            specs: [spec],
            capCores: opts.cores,
            sockets: opts.sockets,
            window: opts.window,
            lag: which === "horae" && horae.core,
          },
          opts,
          live,
        );
        runs.push(r);
        console.log(`main ${run}/${opts.runs} ${which}: ${describe(r)}`);
      }
    }

    // SO_REUSEPORT: the daemon with 1 and 2 server threads (one process; capped at N times the
    // per-server cap, then uncapped), or 1 and 2 core-server processes when the daemon is not
    // the Horae under test. Then the event-loop lag of the core server, which the daemon does
    // not expose.
    for (const capped of [true, false]) {
      for (let run = 1; run <= opts.scalingRuns; run++) {
        for (const workers of [1, 2]) {
          const port = freePort();
          const group = capped ? "scaling-capped" : "scaling-uncapped";
          const label = horae.core ? `horae-core ×${workers}` : `horae --server-threads ${workers}`;
          const config: MeasureConfig = horae.core
            ? {
              group,
              label,
              run,
              specs: Array.from({ length: workers }, () => ({
                ...horaeCoreSpec(port, { reusePort: true }),
                label,
              })),
              capCores: capped ? opts.cores : null,
              sockets: 8,
              window: opts.scalingWindow,
              lag: true,
            }
            : {
              group,
              label,
              run,
              specs: [{ ...horaeDaemonSpec(port, dir, { serverThreads: workers }), label }],
              capCores: capped ? opts.cores * workers : null,
              sockets: 8,
              window: opts.scalingWindow,
              lag: false,
              threads: workers,
            };
          const r = await measure(config, opts, live);
          runs.push(r);
          console.log(`${group} ${run}/${opts.scalingRuns} ×${workers}: ${describe(r)}`);
        }
        if (horae.core) continue;
        const group = capped ? "lag-capped" : "lag-uncapped";
        const r = await measure(
          {
            group,
            label: "horae-core",
            run,
            specs: [horaeCoreSpec(freePort())],
            capCores: capped ? opts.cores : null,
            sockets: 8,
            window: opts.scalingWindow,
            lag: true,
          },
          opts,
          live,
        );
        runs.push(r);
        console.log(`${group} ${run}/${opts.scalingRuns}: ${describe(r)}`);
      }
    }
    if (opts.scalingRuns > 0) {
      const rows = horae.core
        ? "SO_REUSEPORT rows run `tools/bench/core_server.ts --reuse-port` (UdpTransport +" +
          " Server, the daemon's handler) in separate processes, each capped on its own"
        : "SO_REUSEPORT rows run the daemon with `--server-threads N` (`main.ts run -n`, LOCAL" +
          " clock): one process whose N threads each have their own SO_REUSEPORT socket on the" +
          ` port; capped rows give that process a quota of N × ${
            (opts.cores * 100).toFixed(0)
          }% of a core`;
      notes.push(
        `${rows}. The generator uses 8 source ports (${opts.scalingWindow} requests` +
          " outstanding) so the kernel spreads them over the workers.",
        `On this ${navigator.hardwareConcurrency}-core` +
          " machine the generator needs about one core, so uncapped workers compete with it" +
          " for the CPU: uncapped rows show the machine's limit, not the server's.",
      );
    }
    if (!horae.core && opts.scalingRuns > 0) {
      notes.push(
        "The daemon exposes no event-loop lag measurement; the lag table comes from the core" +
          " server script (`tools/bench/core_server.ts`: same transport and handler, one" +
          " process), run with the scaling load.",
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
