// NTS server throughput (RFC 8915) on loopback: Horae (`nts enable`) against chronyd 4.3's NTS
// server in the same run, interleaved, each server capped at a share of one core in its own CPU
// cgroup (tools/bench/cgroup.ts), loaded by tools/bench/nts_loadgen.ts (NTS-KE, then every
// request with a fresh cookie and an authenticator; replies verified and their cookies reused).
// Prints the table and, unless --no-write, updates BENCHMARKS.md between its own markers.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { CpuCgroup } from "./cgroup.ts";
import { CHRONYD_PATH, chronydSpec, horaeDaemonSpec, REPO_ROOT } from "./server_commands.ts";
import { ServerProcess } from "./server_process.ts";
import type { NtsLoadResult } from "./nts_loadgen.ts";

const START = "<!-- nts-server-bench:start -->";
const END = "<!-- nts-server-bench:end -->";

interface Options {
  runs: number;
  durationSec: number;
  warmupSec: number;
  cores: number;
  window: number;
  sockets: number;
  threads: number;
  /** Generator processes (each with `sockets` sockets and `window` outstanding). */
  generators: number;
  write: boolean;
  out: string;
}

function parse(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "5" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "2" },
      cores: { type: "string", default: "0.5" },
      window: { type: "string", default: "128" },
      sockets: { type: "string", default: "4" },
      threads: { type: "string", default: "1" },
      generators: { type: "string", default: "2" },
      "no-write": { type: "boolean", default: false },
      out: { type: "string", default: `${REPO_ROOT}/BENCHMARKS.md` },
    },
  });
  return {
    runs: Number(values.runs),
    durationSec: Number(values.duration),
    warmupSec: Number(values.warmup),
    cores: Number(values.cores),
    window: Number(values.window),
    sockets: Number(values.sockets),
    threads: Number(values.threads),
    generators: Number(values.generators),
    write: !values["no-write"],
    out: values.out,
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function sh(cmd: string[]): Promise<void> {
  const r = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "null", stderr: "piped" })
    .output();
  if (!r.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** A CA and a leaf for localhost / 127.0.0.1 (openssl CLI). */
async function makePki(dir: string): Promise<{ ca: string; chain: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await sh([
    "openssl",
    "req",
    "-x509",
    ...ec,
    "-days",
    "2",
    "-subj",
    "/CN=bench-ca",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  ]);
  await sh([
    "openssl",
    "req",
    ...ec,
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/leaf.key`,
    "-out",
    `${dir}/leaf.csr`,
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await sh([
    "openssl",
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${dir}/leaf.ext`,
    "-out",
    `${dir}/leaf.pem`,
  ]);
  await Deno.writeTextFile(
    `${dir}/chain.pem`,
    (await Deno.readTextFile(`${dir}/leaf.pem`)) + (await Deno.readTextFile(`${dir}/ca.pem`)),
  );
  return { ca: `${dir}/ca.pem`, chain: `${dir}/chain.pem`, key: `${dir}/leaf.key` };
}

interface Run {
  label: "horae" | "chronyd";
  run: number;
  load: NtsLoadResult;
  serverCores: number;
  throttledShare: number;
}

let group = 0;

async function measure(
  label: "horae" | "chronyd",
  run: number,
  o: Options,
  dir: string,
  pki: { ca: string; chain: string; key: string },
): Promise<Run> {
  const port = freePort();
  const kePort = freePort();
  let spec;
  if (label === "chronyd") {
    spec = chronydSpec(port, dir);
    const conf = `${dir}/chronyd_${port}.conf`;
    await Deno.writeTextFile(
      conf,
      [
        `ntsport ${kePort}`,
        `ntsserverkey ${pki.key}`,
        `ntsservercert ${pki.chain}`,
        "ntsprocesses 0",
        "",
      ].join("\n"),
      { append: true },
    );
  } else {
    spec = horaeDaemonSpec(port, dir, o.threads > 1 ? { serverThreads: o.threads } : {});
    await Deno.writeTextFile(
      `${dir}/horae_${port}.conf`,
      [
        "nts enable",
        `nts cert ${pki.chain}`,
        `nts key ${pki.key}`,
        `nts cookie ${dir}/cookies_${port}`,
        `nts port ${kePort}`,
        "",
      ].join("\n"),
      { append: true },
    );
  }
  const g = CpuCgroup.create({ name: `horae_ntsbench_${Deno.pid}_${++group}`, cores: o.cores });
  let server: ServerProcess | null = null;
  try {
    server = await ServerProcess.start(spec, g);
    // The KE port listens shortly after NTP answers.
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: kePort })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = server.cpuSec() ?? NaN;
    const thr0 = g.throttling();
    const t0 = performance.now();
    const loads = await Promise.all(
      Array.from({ length: o.generators }, () => runGenerator(port, kePort, pki.ca, o)),
    );
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = server.cpuSec() ?? NaN;
    const thr1 = g.throttling();
    const periods = thr1.periods - thr0.periods;
    return {
      label,
      run,
      load: combine(loads),
      serverCores: (cpu1 - cpu0) / wall,
      throttledShare: periods === 0 ? 0 : (thr1.throttledPeriods - thr0.throttledPeriods) / periods,
    };
  } finally {
    await server?.stop();
    for (let i = 0; i < 20 && !g.remove(); i++) await new Promise((r) => setTimeout(r, 50));
  }
}

/** One generator process to its end: its result. */
async function runGenerator(
  port: number,
  kePort: number,
  ca: string,
  o: Options,
): Promise<NtsLoadResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${REPO_ROOT}/tools/bench/nts_loadgen.ts`,
      "--json",
      "--port",
      `${port}`,
      "--ke-port",
      `${kePort}`,
      "--ca",
      ca,
      "--window",
      `${o.window}`,
      "--sockets",
      `${o.sockets}`,
      "--warmup",
      `${o.warmupSec}`,
      "--duration",
      `${o.durationSec}`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // Bounded: the generator stops itself; this only catches a hung one.
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, (o.warmupSec + o.durationSec + 30) * 1000);
  const out = await child.output();
  clearTimeout(killer);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success || !text.startsWith("{")) {
    throw new Error(`generator failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return JSON.parse(text) as NtsLoadResult;
}

/** The generators' results as one (rates and counts summed). */
function combine(rs: NtsLoadResult[]): NtsLoadResult {
  const sum = (f: (r: NtsLoadResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const invalid: Record<string, number> = {};
  for (const r of rs) {
    for (const [k, v] of Object.entries(r.invalid)) invalid[k] = (invalid[k] ?? 0) + v;
  }
  return {
    repliesPerSec: sum((r) => r.repliesPerSec),
    requestsPerSec: sum((r) => r.requestsPerSec),
    measuredSec: rs[0]?.measuredSec ?? 0,
    sent: sum((r) => r.sent),
    valid: sum((r) => r.valid),
    invalid,
    lost: sum((r) => r.lost),
    refills: sum((r) => r.refills),
    refillsInWindow: sum((r) => r.refillsInWindow),
    starved: sum((r) => r.starved),
    window: sum((r) => r.window),
    sockets: sum((r) => r.sockets),
    generatorCores: sum((r) => r.generatorCores),
    keExchanges: sum((r) => r.keExchanges),
    keMs: Math.max(...rs.map((r) => r.keMs)),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function render(runs: Run[], o: Options, version: string): string {
  const h = runs.filter((r) => r.label === "horae");
  const c = runs.filter((r) => r.label === "chronyd");
  const hm = median(h.map((r) => r.load.repliesPerSec));
  const cm = median(c.map((r) => r.load.repliesPerSec));
  const paired = median(h.map((r, i) => r.load.repliesPerSec / (c[i]?.load.repliesPerSec ?? NaN)));
  // Replies per second of server CPU: what each server would answer with its whole cap, even
  // when the generators, not the cap, set the pace (a server that was not throttled).
  const perCpu = (r: Run) => r.load.repliesPerSec / Math.max(1e-3, r.serverCores);
  const hc = median(h.map(perCpu));
  const cc = median(c.map(perCpu));
  const unthrottled = c.filter((r) => r.throttledShare < 0.05).length;
  const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
  const rows = runs.map((r) =>
    `| ${r.run} | ${r.label} | ${k(r.load.repliesPerSec)} | ${r.load.lost} | ${
      Object.values(r.load.invalid).reduce((a, b) => a + b, 0)
    } | ${r.load.refillsInWindow} | ${r.serverCores.toFixed(2)} | ${k(perCpu(r))} | ${
      (r.throttledShare * 100).toFixed(0)
    }% | ${r.load.generatorCores.toFixed(2)} |`
  );
  return [
    START,
    "### NTS server throughput (RFC 8915)",
    "",
    `\`deno run --allow-all tools/bench/nts_throughput.ts --runs ${o.runs}\`: each server capped at ` +
    `${o.cores} of a core (CFS cgroup), interleaved, ${o.durationSec} s measured after ` +
    `${o.warmupSec} s of warm-up; chronyd ${version} (\`ntsprocesses 0\`) against Horae ` +
    `(\`nts enable\`${o.threads > 1 ? `, ${o.threads} server threads` : ", main thread only"}). ` +
    `Load: ${o.generators} \`tools/bench/nts_loadgen.ts\` processes, each ${o.sockets} sockets and ` +
    `${o.window} outstanding, one ` +
    "NTS-KE per socket, then every request with a fresh cookie, a unique identifier and an " +
    "AES-SIV-CMAC-256 authenticator; a reply counts only when its authenticator opens under the " +
    "S2C key, and its cookie feeds the next request (no cookie is ever reused).",
    "",
    `**Horae ${k(hm)}/s, chronyd ${k(cm)}/s: ${(hm / cm).toFixed(2)}x chronyd (medians), ` +
    `${paired.toFixed(2)}x paired.** Target: ≥ 1.0x. Per second of server CPU: Horae ` +
    `${k(hc)}, chronyd ${k(cc)} (${(hc / cc).toFixed(2)}x)` +
    (unthrottled > 0
      ? `; chronyd was not held back by its cap in ${unthrottled} of ${c.length} runs (the ` +
        "generators set its pace), so its figure per CPU-second is the fairer measure of it."
      : "."),
    "",
    "| run | server | valid replies/s | lost | invalid | refills measured | server cores | replies per CPU-s | throttled | generator cores |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    END,
  ].join("\n");
}

if (import.meta.main) {
  const o = parse(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "horae-ntsbench-" });
  try {
    const pki = await makePki(dir);
    const v = new Deno.Command(CHRONYD_PATH, { args: ["-v"], stdout: "piped" }).outputSync();
    const version = /version (\S+)/.exec(new TextDecoder().decode(v.stdout))?.[1] ?? "?";
    const runs: Run[] = [];
    for (let i = 1; i <= o.runs; i++) {
      // Alternate which server goes first, so drift in machine load falls on both.
      const order: ("horae" | "chronyd")[] = i % 2 === 1
        ? ["horae", "chronyd"]
        : ["chronyd", "horae"];
      for (const label of order) {
        const r = await measure(label, i, o, dir, pki);
        runs.push(r);
        console.error(
          `run ${i} ${label}: ${r.load.repliesPerSec.toFixed(0)}/s, lost ${r.load.lost}, invalid ${
            JSON.stringify(r.load.invalid)
          }, server ${r.serverCores.toFixed(2)} cores, throttled ${
            (r.throttledShare * 100).toFixed(0)
          }%`,
        );
      }
    }
    runs.sort((a, b) => a.run - b.run || a.label.localeCompare(b.label));
    const section = render(runs, o, version);
    console.log(section);
    if (o.write) {
      const doc = await Deno.readTextFile(o.out).catch(() => "");
      const s = doc.indexOf(START), e = doc.indexOf(END);
      const next = s >= 0 && e > s
        ? doc.slice(0, s) + section + doc.slice(e + END.length)
        : `${doc.replace(/\n*$/, "")}\n\n${section}\n`;
      await Deno.writeTextFile(o.out, next);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
