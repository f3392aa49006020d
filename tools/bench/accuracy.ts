// `deno task bench:accuracy` (issue 18, item 3): Horae --observe and chronyd 4.3 -x side by side on
// a real kernel. Both are clients of one chronyd server across a veth pair between two network
// namespaces that this benchmark creates (and always deletes), through a delaying UDP relay in the
// server's namespace (tools/bench/udp_relay.ts; these kernels have no netem). Both clients run in
// the same client namespace on the same kernel clock as the server, so the true offset is exactly
// 0 and each daemon's estimate of the offset is its error. Not part of CI.
// OWNER: the bench:accuracy engineer of issue 18 (item 3: the real-kernel benchmark). Other
// engineers: please leave tools/bench/accuracy*.ts and udp_relay*.ts to that session.
//
// What is compared, for both daemons alike: the estimate of true time minus the system clock that
// each would apply to the clock now (its whole correction, including what it has not slewed yet):
// - Horae: the status file's `systemClockOffsetSec` (observe mode's virtual correction plus the
//   pending slew; ntpq's sense of "how far the system clock is off");
// - chronyd: `chronyc tracking`'s "System time" (with -x, the correction its null clock driver
//   holds: "slow of NTP time" is positive, as Horae's).
// Both are read at the same moments every `--sample-sec`, between updates as well as after them.

import { type ErrorSummary, errorSummary, ratio, type Reading } from "./accuracy_metrics.ts";
import type { Shaping } from "./udp_relay_shaping.ts";
import {
  chronydCommand,
  NO_SYS_TIME,
  Proc,
  readJson,
  ROOT,
  sh,
  startChronydServer,
  tempDir,
  which,
} from "../../tests/support/peers.ts";

export { type ErrorSummary, errorSummary, ratio, type Reading } from "./accuracy_metrics.ts";

/** The veth pair's addresses (TEST-NET-1, only inside the benchmark's namespaces). */
const SERVER = "192.0.2.1";
const HORAE_ADDR = "192.0.2.2";
const CHRONYD_ADDR = "192.0.2.3";

/** One benchmark scenario. */
export interface Scenario {
  name: string;
  /** What the path does, for the table. */
  description: string;
  /** The relay's model, or null for the direct (unshaped) veth path without a relay. */
  shaping: (durationSec: number) => Shaping | null;
  /** The error both daemons cannot avoid at the end (half the path's asymmetry), s. */
  inherentBiasSec?: number;
}

const jitter100 = { kind: "normal", meanSec: 0, sdSec: 100e-6 } as const;

/** The scenarios, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "unshaped",
    description: "the veth pair itself, no relay",
    shaping: () => null,
  },
  {
    name: "relay",
    description: "through the relay with no added delay (the relay's own share of the error)",
    shaping: () => ({ up: { baseSec: 0 }, down: { baseSec: 0 } }),
  },
  {
    name: "jitter",
    description: "1 ms ± 200 µs (normal) each way, independent",
    shaping: () => ({
      up: { baseSec: 1e-3, delays: [{ kind: "normal", meanSec: 0, sdSec: 200e-6 }] },
      down: { baseSec: 1e-3, delays: [{ kind: "normal", meanSec: 0, sdSec: 200e-6 }] },
    }),
  },
  {
    name: "onesided",
    description: "1 ms each way; client-to-server queueing only, exponential, mean 1 ms",
    shaping: () => ({
      up: { baseSec: 1e-3, delays: [{ kind: "exponential", meanSec: 1e-3 }] },
      down: { baseSec: 1e-3, delays: [{ kind: "exponential", meanSec: 20e-6 }] },
    }),
  },
  {
    name: "pareto",
    description: "1 ms + Pareto (Lomax, scale 0.5 ms, shape 1.5: mean 1 ms, heavy tail) each way",
    shaping: () => ({
      up: { baseSec: 1e-3, delays: [{ kind: "pareto", scaleSec: 0.5e-3, shape: 1.5 }] },
      down: { baseSec: 1e-3, delays: [{ kind: "pareto", scaleSec: 0.5e-3, shape: 1.5 }] },
      maxDelaySec: 0.5,
    }),
  },
  {
    name: "lognormal-loss",
    description: "1 ms + log-normal (median 300 µs, σ 1) each way, 5% loss, 5% held 50 ms",
    shaping: () => {
      const d = {
        baseSec: 1e-3,
        delays: [{ kind: "lognormal", medianSec: 300e-6, sigma: 1 }] as const,
        lossProb: 0.05,
        reorderProb: 0.05,
        reorderHoldSec: 0.05,
      };
      return { up: { ...d, delays: [...d.delays] }, down: { ...d, delays: [...d.delays] } };
    },
  },
  {
    name: "congestion",
    description: "1 ms ± 100 µs each way; client-to-server congestion periods " +
      "(on 20 s / off 40 s on average, +exponential 5 ms while on)",
    shaping: () => ({
      up: {
        baseSec: 1e-3,
        delays: [jitter100],
        congestion: {
          meanOnSec: 20,
          meanOffSec: 40,
          delay: { kind: "exponential", meanSec: 5e-3 },
        },
      },
      down: { baseSec: 1e-3, delays: [jitter100] },
    }),
  },
  {
    name: "routechange",
    description: "1 ms ± 100 µs each way, then at 55% of the run 2 ms up / 1.2 ms down " +
      "(a 1.2 ms longer round trip, 400 µs of offset no client can see)",
    shaping: (d) => ({
      up: { baseSec: 1e-3, delays: [jitter100] },
      down: { baseSec: 1e-3, delays: [jitter100] },
      changes: [{
        atSec: 0.55 * d,
        up: { baseSec: 2e-3, delays: [jitter100] },
        down: { baseSec: 1.2e-3, delays: [jitter100] },
      }],
    }),
    inherentBiasSec: 400e-6,
  },
];

/** Options of a run. */
export interface BenchOptions {
  /** Seconds per scenario (from both daemons' start). */
  durationSec: number;
  /** Readings before this (from the later daemon's start) are not in RMS/max. */
  settleSec: number;
  /** Seconds between readings. */
  sampleSec: number;
  /** Poll options of both `server` lines. */
  poll: string;
  /** Seed of the relay's model. */
  seed: number;
  /** Scenario names to run (all when empty). */
  only: string[];
  /** Run Horae from the working tree (others' unfinished edits included) instead of HEAD. */
  worktree: boolean;
  /** The commit to measure (default HEAD); a `git archive` snapshot of it. */
  commit: string;
}

/** The Horae a run measures: main.ts of a snapshot of HEAD (or of the working tree). */
export interface HoraeBuild {
  main: string;
  /** The commit, with "+working tree" when run from the working tree. */
  version: string;
}

/**
 * A snapshot of HEAD (`git archive`) in .tmp/bench, so every scenario of a run measures the same
 * committed code while other engineers edit the checkout.
 */
async function horaeBuild(worktree: boolean, rev = "HEAD"): Promise<HoraeBuild> {
  // --commit pins the code across runs split into chunks while others commit.
  const commit = (await sh(["git", "-C", ROOT, "rev-parse", "--verify", `${rev}^{commit}`])).trim();
  if (worktree) return { main: `${ROOT}main.ts`, version: `${commit} + working tree` };
  const dir = `${ROOT}.tmp/bench/horae-${commit.slice(0, 12)}`;
  try {
    await Deno.stat(`${dir}/main.ts`);
  } catch {
    await Deno.mkdir(dir, { recursive: true });
    await sh([
      "sh",
      "-c",
      'git -C "$1" archive --format=tar "$3" | tar -x -C "$2"',
      "-",
      ROOT,
      dir,
      commit,
    ]);
  }
  return { main: `${dir}/main.ts`, version: commit };
}

/** Horae --observe in `ns`, from `build`, without CAP_SYS_TIME; resolves once it listens. */
async function startHoraeFrom(build: HoraeBuild, ns: string, conf: string) {
  const dir = await tempDir("bench-horae-");
  await Deno.writeTextFile(`${dir}/ntp.conf`, conf);
  const proc = new Proc([
    "ip",
    "netns",
    "exec",
    ns,
    ...NO_SYS_TIME,
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-net",
    build.main,
    "run",
    "-n",
    "--observe",
    "-c",
    `${dir}/ntp.conf`,
    "--port",
    "123",
    "--listen",
    HORAE_ADDR,
    "--status-file",
    "status.json",
  ], { cwd: dir });
  await proc.waitFor(/Listening on/, 30_000);
  return {
    proc,
    dir,
    stop: async () => {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** One daemon's figures in one scenario. */
export interface DaemonResult extends ErrorSummary {
  /** Requests counted at the relay from its address (null without a relay). */
  packets: number | null;
  /** Requests the daemon itself says it sent (Horae: association `sent`; chronyd: Total TX). */
  ownCount: number | null;
  readings: Reading[];
}

/** One scenario's result. */
export interface ScenarioResult {
  name: string;
  description: string;
  durationSec: number;
  settleSec: number;
  horae: DaemonResult;
  chronyd: DaemonResult;
  /** The relay's counters (null without a relay). */
  relay: Record<string, unknown> | null;
  inherentBiasSec: number | null;
  /** Load average before and after. */
  loadBefore: string;
  loadAfter: string;
  /**
   * What each daemon said of its source at the end, for reading the figures: Horae's association
   * from the status file, chronyd's `ntpdata`, `sourcestats` and `tracking` text.
   */
  final?: { horae: unknown; chronyd: string };
}

let aborted = false;

/**
 * The relay's timing is the instrument, so it runs ahead of other work on this shared machine:
 * SCHED_FIFO (`chrt -f 10`) when the kernel throttles real-time tasks (sched_rt_runtime_us is not
 * −1, so even a runaway relay leaves 5% of each core to others), else `nice -n -10`. It sleeps
 * between packets and spins at most 1.4 ms before each send. (On a loaded 2-core VM, 150 round
 * trips through a 1 ms relay: sends late by p50 31 µs, p90 1.0 ms, p99 3.0 ms under nice, and
 * p50 31 µs, p90 245 µs, p99 1.4 ms under SCHED_FIFO.)
 */
export function relayPriority(): string[] {
  try {
    const rt = Number(Deno.readTextFileSync("/proc/sys/kernel/sched_rt_runtime_us").trim());
    if (rt >= 0 && which("chrt") !== null) return ["chrt", "-f", "10"];
  } catch { /* no such file: no real-time throttling to rely on */ }
  return ["nice", "-n", "-10"];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** Two namespaces joined by a veth pair, deleted (with every process in them gone) by `fn`'s end. */
async function withVethPair<T>(fn: (server: string, client: string) => Promise<T>): Promise<T> {
  const tag = `${Deno.pid % 100000}`;
  const sns = `bas${tag}`;
  const cns = `bac${tag}`;
  const created: string[] = [];
  try {
    for (const ns of [sns, cns]) {
      await sh(["ip", "netns", "add", ns]);
      created.push(ns);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const [a, b] = [`bav${tag}a`, `bav${tag}b`];
    await sh([
      "ip",
      "link",
      "add",
      a,
      "netns",
      sns,
      "type",
      "veth",
      "peer",
      "name",
      b,
      "netns",
      cns,
    ]);
    await sh(["ip", "-n", sns, "addr", "add", `${SERVER}/24`, "dev", a]);
    await sh(["ip", "-n", cns, "addr", "add", `${HORAE_ADDR}/24`, "dev", b]);
    await sh(["ip", "-n", cns, "addr", "add", `${CHRONYD_ADDR}/24`, "dev", b]);
    await sh(["ip", "-n", sns, "link", "set", a, "up"]);
    await sh(["ip", "-n", cns, "link", "set", b, "up"]);
    return await fn(sns, cns);
  } finally {
    // Deleting a namespace deletes its end of the pair, and with it the other end.
    for (const ns of created) await sh(["ip", "netns", "del", ns]).catch(() => {});
  }
}

/** chronyd -x as a client in `ns`, its requests from CHRONYD_ADDR, queried with chronyc. */
async function startChronydClient(chronyd: string, ns: string, serverLine: string) {
  const dir = await tempDir("bench-chronyc-");
  // The true frequency is 0 (one kernel clock): both daemons start from a drift file saying so.
  await Deno.writeTextFile(`${dir}/drift`, "0.000000 1.000000\n");
  await Deno.writeTextFile(
    `${dir}/client.conf`,
    [
      serverLine,
      `bindacqaddress ${CHRONYD_ADDR}`,
      "port 0",
      // chronyc talks to it through a Unix socket of its own (not /run/chrony, which is the
      // machine's): ntpdata, unlike tracking, is not served over UDP.
      "cmdport 0",
      `bindcmdaddress ${dir}/chronyd.sock`,
      `pidfile ${dir}/client.pid`,
      `driftfile ${dir}/drift`,
      "",
    ].join("\n"),
  );
  const proc = new Proc(chronydCommand(chronyd, `${dir}/client.conf`, { netns: ns }));
  await proc.waitFor(/Disabled control of system clock/, 10_000);
  const chronyc = which("chronyc");
  if (chronyc === null) throw new Error("chronyc not found");
  const query = async (cmd: string): Promise<string> => {
    const out = await new Deno.Command(NO_SYS_TIME[0]!, {
      args: [...NO_SYS_TIME.slice(1), chronyc, "-h", `${dir}/chronyd.sock`, "-n", cmd],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  };
  return {
    proc,
    query,
    stop: async () => {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** chronyd's estimate from `chronyc tracking` (null while not synchronised). */
export function parseTracking(text: string): number | null {
  if (/Leap status\s*:\s*Not synchronised/.test(text)) return null;
  const m = /System time\s*:\s*([\d.]+) seconds (slow|fast) of NTP time/.exec(text);
  if (!m) return null;
  return (m[2] === "slow" ? 1 : -1) * Number(m[1]);
}

/** chronyd's frequency correction from `chronyc tracking` (ppm, "fast" positive), or null. */
export function parseTrackingFreq(text: string): number | null {
  const m = /Frequency\s*:\s*([\d.]+) ppm (slow|fast)/.exec(text);
  return m ? (m[2] === "fast" ? 1 : -1) * Number(m[1]) : null;
}

/** chronyd's count of requests sent (`chronyc ntpdata`: Total TX), or null. */
export function parseTotalTx(text: string): number | null {
  const m = /Total TX\s*:\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Horae's estimate from its status document (null while not synchronised). */
export function horaeEstimate(s: Json): number | null {
  if (s === null || s.synchronized !== true) return null;
  const x = s.systemClockOffsetSec ?? s.offsetSec;
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

async function runScenario(
  sc: Scenario,
  o: BenchOptions,
  build: HoraeBuild,
): Promise<ScenarioResult> {
  const chronyd = which("chronyd");
  if (chronyd === null) throw new Error("chronyd not found (run tools/fetch_peers.sh)");
  const loadBefore = loadAverage();
  const shaping = sc.shaping(o.durationSec);
  return await withVethPair(async (sns, cns) => {
    const stops: (() => Promise<unknown>)[] = [];
    const work = await tempDir("bench-acc-");
    try {
      const server = await startChronydServer(chronyd, {
        port: 123,
        bindAddress: shaping === null ? SERVER : "127.0.0.1",
        netns: sns,
        extra: ["allow 192.0.2.0/24"],
      });
      stops.push(() => server.stop());
      let relay: Proc | null = null;
      const statsPath = `${work}/relay.json`;
      if (shaping !== null) {
        await Deno.writeTextFile(`${work}/shaping.json`, JSON.stringify(shaping));
        relay = new Proc([
          "ip",
          "netns",
          "exec",
          sns,
          ...NO_SYS_TIME,
          ...relayPriority(),
          Deno.execPath(),
          "run",
          "--allow-all",
          "--unstable-net",
          `${ROOT}tools/bench/udp_relay.ts`,
          "--listen",
          `${SERVER}:123`,
          "--server",
          "127.0.0.1:123",
          "--upstream-bind",
          "127.0.0.1",
          "--shaping",
          `${work}/shaping.json`,
          "--seed",
          String(o.seed),
          "--stats",
          statsPath,
          "--max-sec",
          String(o.durationSec + 120),
        ]);
        const r = relay;
        stops.push(() => r.stop());
        await relay.waitFor(/relay ready/, 30_000);
      }
      const serverLine = `server ${SERVER} ${o.poll}`;
      const driftDir = await tempDir("bench-drift-");
      stops.push(() => Deno.remove(driftDir, { recursive: true }).catch(() => {}));
      await Deno.writeTextFile(`${driftDir}/drift`, "0.000\n");
      // Both start together; each one's clock of the run starts when it is up.
      const [horae, client] = await Promise.all([
        startHoraeFrom(build, cns, `${serverLine}\ndriftfile ${driftDir}/drift\n`)
          .then((h) => ({ h, t0: Date.now() })),
        startChronydClient(chronyd, cns, serverLine).then((c) => ({ c, t0: Date.now() })),
      ]);
      stops.push(() => horae.h.stop(), () => client.c.stop());
      const start = Math.max(horae.t0, client.t0);
      const end = Math.min(horae.t0, client.t0) + o.durationSec * 1000;
      const hr: Reading[] = [];
      const cr: Reading[] = [];
      const status = `${horae.h.dir}/status.json`;
      for (let k = 0; Date.now() < end && !aborted && k < 1_000_000; k++) {
        const next = Math.min(horae.t0, client.t0) + (k + 1) * o.sampleSec * 1000;
        const [tracking, doc] = await Promise.all([client.c.query("tracking"), readJson(status)]);
        const now = Date.now();
        cr.push({
          atSec: (now - client.t0) / 1000,
          offsetSec: parseTracking(tracking),
          freqPpm: parseTrackingFreq(tracking),
        });
        const f = (doc as Json)?.frequencyPpm;
        hr.push({
          atSec: (now - horae.t0) / 1000,
          offsetSec: horaeEstimate(doc),
          freqPpm: typeof f === "number" ? f : null,
        });
        const left = next - Date.now();
        if (left > 0) await sleep(left);
      }
      if (aborted) throw new Error("interrupted");
      const ntpdata = await client.c.query("ntpdata");
      const chronydFinal = [
        ntpdata,
        await client.c.query("sourcestats"),
        await client.c.query("tracking"),
      ]
        .join("\n");
      const doc = await readJson(status) as Json;
      const horaeSent = doc?.associations?.[0]?.sent ?? null;
      let relayStats: Json = null;
      if (relay !== null) {
        await relay.stop(5000);
        relayStats = await readJson(statsPath);
      }
      const settleH = (start - horae.t0) / 1000 + o.settleSec;
      const settleC = (start - client.t0) / 1000 + o.settleSec;
      const counted = (addr: string) => relayStats?.clients?.[addr]?.requests ?? null;
      return {
        name: sc.name,
        description: sc.description,
        durationSec: o.durationSec,
        settleSec: o.settleSec,
        horae: {
          ...errorSummary(hr, settleH),
          packets: relay === null ? null : counted(HORAE_ADDR) ?? 0,
          ownCount: horaeSent,
          readings: hr,
        },
        chronyd: {
          ...errorSummary(cr, settleC),
          packets: relay === null ? null : counted(CHRONYD_ADDR) ?? 0,
          ownCount: parseTotalTx(ntpdata),
          readings: cr,
        },
        relay: relayStats,
        inherentBiasSec: sc.inherentBiasSec ?? null,
        loadBefore,
        loadAfter: loadAverage(),
        final: { horae: doc?.associations?.[0] ?? null, chronyd: chronydFinal },
      };
    } finally {
      for (const s of stops.reverse()) await s().catch(() => {});
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  });
}

function us(x: number | null): string {
  return x === null ? "—" : `${(x * 1e6).toFixed(1)}`;
}

function x2(x: number | null): string {
  return x === null ? "—" : `${x.toFixed(2)}x`;
}

function sec(x: number | null): string {
  return x === null ? "never" : `${x.toFixed(0)} s`;
}

/** The results as a Markdown table (ratios are Horae / chronyd). */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| scenario | RMS µs Horae / chronyd | ratio | max µs Horae / chronyd | mean µs Horae / chronyd | time to 1 ms Horae / chronyd | packets Horae / chronyd | ratio |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    const h = r.horae;
    const c = r.chronyd;
    const hp = h.packets ?? h.ownCount;
    const cp = c.packets ?? c.ownCount;
    rows.push(
      `| ${r.name} | ${us(h.rmsSec)} / ${us(c.rmsSec)} | ${x2(ratio(h.rmsSec, c.rmsSec))} | ${
        us(h.maxSec)
      } / ${us(c.maxSec)} | ${us(h.meanSec)} / ${us(c.meanSec)} | ${sec(h.timeToThresholdSec)} / ${
        sec(c.timeToThresholdSec)
      } | ${hp ?? "—"} / ${cp ?? "—"}${h.packets === null ? " (own counts)" : ""} | ${
        x2(ratio(hp, cp))
      } |`,
    );
  }
  return rows.join("\n");
}

/** p50/p90/p99/max of a list (µs), as text. */
export function percentiles(xs: readonly number[]): string {
  if (xs.length === 0) return "—";
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(0);
  return `${at(0.5)}/${at(0.9)}/${at(0.99)}/${s[s.length - 1]!.toFixed(0)}`;
}

/** The relay's own figures per scenario: sends late by direction, drops, holds. */
export function relayTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| scenario | sends late µs p50/p90/p99/max, client→server | server→client | dropped (requests/replies) | held longer | congested | capped |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    // deno-lint-ignore no-explicit-any
    const x = r.relay as any;
    if (x === null) continue;
    const clients = Object.values(x.clients ?? {}) as Record<string, number>[];
    const sum = (k: string) => clients.reduce((a, c) => a + (c[k] ?? 0), 0);
    rows.push(
      `| ${r.name} | ${percentiles(x.lateUs?.up ?? [])} | ${percentiles(x.lateUs?.down ?? [])} | ${
        sum("requestsDropped")
      }/${sum("repliesDropped")} | ${x.reordered} | ${x.congested} | ${x.capped} |`,
    );
  }
  return rows.join("\n");
}

function parseArgs(args: string[]): BenchOptions {
  const o: BenchOptions = {
    durationSec: 270,
    settleSec: 90,
    sampleSec: 2,
    poll: "iburst minpoll 4 maxpoll 6",
    seed: 1,
    only: [],
    worktree: false,
    commit: "HEAD",
  };
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    const v = args[k + 1];
    const num = () => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n <= 0) {
        throw new RangeError(`${a} needs a number`);
      }
      k++;
      return n;
    };
    if (a === "--duration") o.durationSec = num();
    else if (a === "--settle") o.settleSec = num();
    else if (a === "--sample") o.sampleSec = num();
    else if (a === "--seed") o.seed = num();
    else if (a === "--poll" && v !== undefined) (o.poll = v, k++);
    else if (a === "--only" && v !== undefined) (o.only = v.split(","), k++);
    else if (a === "--worktree") o.worktree = true;
    else if (a === "--commit" && v !== undefined && /^[0-9a-zA-Z._\/~^-]+$/.test(v)) {
      (o.commit = v, k++);
    } else {
      throw new RangeError(
        `unknown argument ${a}; usage: bench:accuracy [--duration S] [--settle S] [--sample S] ` +
          `[--seed N] [--poll "iburst minpoll 4 maxpoll 6"] [--only a,b] [--worktree] ` +
          `[--commit REV]`,
      );
    }
  }
  if (o.settleSec >= o.durationSec) throw new RangeError("--settle must be below --duration");
  const names = SCENARIOS.map((s) => s.name);
  for (const n of o.only) {
    if (!names.includes(n)) throw new RangeError(`unknown scenario ${n} (${names.join(", ")})`);
  }
  return o;
}

async function main(): Promise<number> {
  const o = parseArgs(Deno.args);
  if (Deno.uid() !== 0) throw new Error("bench:accuracy needs root for its network namespaces");
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      aborted = true;
    });
  }
  const chosen = SCENARIOS.filter((s) => o.only.length === 0 || o.only.includes(s.name));
  const uptime = (await sh(["uptime"])).trim();
  const started = new Date().toISOString();
  const log = (s: string) => void Deno.stderr.writeSync(new TextEncoder().encode(s + "\n"));
  log(`bench:accuracy ${started}, ${chosen.length} scenarios of ${o.durationSec} s; ${uptime}`);
  const build = await horaeBuild(o.worktree, o.commit);
  log(`Horae ${build.version} (${build.main})`);
  // Compile Horae's modules once, so its start-up time is not in the first scenario.
  await new Deno.Command(Deno.execPath(), { args: ["cache", build.main] }).output();
  const results: ScenarioResult[] = [];
  for (const sc of chosen) {
    if (aborted) break;
    log(`${sc.name}: ${sc.description}`);
    const r = await runScenario(sc, o, build);
    results.push(r);
    log(markdownTable([r]).split("\n")[2]!);
  }
  const uptimeEnd = (await sh(["uptime"])).trim();
  const out = `${ROOT}.tmp/bench/accuracy-${started.replace(/[:.]/g, "-")}.json`;
  await Deno.mkdir(`${ROOT}.tmp/bench`, { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      { started, horae: build.version, options: o, uptime, uptimeEnd, results },
      null,
      1,
    ),
  );
  const say = (s: string) => void Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  say(markdownTable(results));
  say("");
  say(relayTable(results));
  say(`\nHorae ${build.version}\nstart: ${uptime}\nend:   ${uptimeEnd}`);
  say(`readings and relay counters: ${out}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`bench:accuracy: ${e instanceof Error ? e.stack : e}\n`),
    );
    Deno.exit(e instanceof RangeError ? 2 : 1);
  }
}
