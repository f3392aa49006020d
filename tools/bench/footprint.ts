// Resident memory of the Horae daemon against chronyd's, measured in one run (issue 14, item 8):
// each server idle (LOCAL clock / local stratum, nothing asking), then under a bounded load from
// tools/bench/loadgen.ts; VmRSS split into anonymous (the process's own) and file-backed pages
// (the program's code and libraries, shared and reclaimable), and for Horae the V8 heap as
// Deno.memoryUsage() reports it from inside the daemon.
//
//   deno run --allow-all --unstable-net tools/bench/footprint.ts [--idle-sec 20] [--load-sec 10]
//
// Horae runs as deployed, from the single-file bundle built as `deno task bundle` builds it and
// started through its shebang (with the build's Deno and V8 flags), on the ntp.conf and on the
// same configuration in TOML (what the systemd unit reads), and from main.ts (deno run). The heap figures come from a copy of the bundle with one line put
// before its first statement, which writes Deno.memoryUsage() to a file after the idle wait. All
// servers run without CAP_SYS_TIME (setpriv), on 127.0.0.1, and are stopped at the end.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { BUNDLE_ARGS, withShebang } from "../build.ts";
import { CHRONYD_PATH, chronydSpec, chronydVersion, REPO_ROOT } from "./server_commands.ts";
import { ServerProcess, type ServerSpec } from "./server_process.ts";

/** One process's memory, kB. */
export interface MemorySample {
  rssKb: number;
  anonKb: number;
  fileKb: number;
  peakKb: number;
  threads: number;
}

/** Parses the lines of /proc/PID/status this tool reads. */
export function parseStatus(text: string): MemorySample | null {
  const kb = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text);
    return m === null ? null : Number(m[1]);
  };
  const rss = kb("VmRSS");
  if (rss === null) return null;
  return {
    rssKb: rss,
    anonKb: kb("RssAnon") ?? 0,
    fileKb: kb("RssFile") ?? 0,
    peakKb: kb("VmHWM") ?? rss,
    threads: kb("Threads") ?? 0,
  };
}

function sample(pid: number): MemorySample | null {
  try {
    return parseStatus(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return null;
  }
}

/** The line put before the bundle's first statement: Deno.memoryUsage() into `file`. */
export function probeLine(file: string, afterMs: number): string {
  return `if (!("WorkerGlobalScope" in globalThis)) setTimeout(() => { try { ` +
    `Deno.writeTextFileSync(${JSON.stringify(file)}, JSON.stringify(Deno.memoryUsage())); ` +
    `} catch { /* measuring only */ } }, ${afterMs});`;
}

/** Builds the bundle as `deno task bundle` does (BUNDLE_ARGS, then the deployed shebang). */
async function bundle(dir: string): Promise<string> {
  const out = `${dir}/horae.js`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...BUNDLE_ARGS, "-q", "-o", out, `${REPO_ROOT}/main.ts`],
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno bundle: ${new TextDecoder().decode(r.stderr)}`);
  await Deno.writeTextFile(out, withShebang(await Deno.readTextFile(out)));
  return out;
}

function freePort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/**
 * Horae from `script`: the bundle runs as installed, through its own shebang (so with the flags
 * the build puts there), main.ts through `deno run`.
 */
function horaeSpec(label: string, script: string, port: number, conf: string): ServerSpec {
  const start = script.endsWith(".ts")
    ? [Deno.execPath(), "run", "--allow-all", "--unstable-net", script]
    : [script];
  return {
    label,
    command: [
      ...start,
      "run",
      "-n",
      "--observe",
      "-c",
      conf,
      "--port",
      `${port}`,
      "--listen",
      "127.0.0.1",
    ],
    port,
    cwd: REPO_ROOT,
  };
}

async function load(port: number, seconds: number, pid: number): Promise<number> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${REPO_ROOT}/tools/bench/loadgen.ts`,
      "--json",
      "--port",
      `${port}`,
      "--duration",
      `${seconds}`,
      "--warmup",
      "1",
      "--sockets",
      "4",
      "--window",
      "256",
      "--rss-pid",
      `${pid}`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((seconds + 30) * 1000),
  }).output();
  const line = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "{}";
  return (JSON.parse(line) as { repliesPerSec?: number }).repliesPerSec ?? 0;
}

/** One server's row. */
export interface FootprintRow {
  label: string;
  idle: MemorySample;
  loaded: MemorySample;
  repliesPerSec: number;
  heap: { heapUsed: number; heapTotal: number; external: number } | null;
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

/** The results as a Markdown table. */
export function markdown(rows: FootprintRow[]): string {
  const lines = [
    "| server | RSS idle | of which anonymous | file-backed | V8 heap used / total, external | RSS under load (end) | peak RSS | threads | replies/s under load |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const heap = r.heap === null
      ? ""
      : `${(r.heap.heapUsed / 2 ** 20).toFixed(1)} / ${
        (r.heap.heapTotal / 2 ** 20).toFixed(1)
      } MB, ${(r.heap.external / 2 ** 20).toFixed(1)} MB`;
    lines.push(
      `| ${r.label} | ${mb(r.idle.rssKb)} | ${mb(r.idle.anonKb)} | ${
        mb(r.idle.fileKb)
      } | ${heap} | ${mb(r.loaded.rssKb)} | ${mb(r.loaded.peakKb)} | ${r.idle.threads} | ${
        (r.repliesPerSec / 1000).toFixed(1)
      }k |`,
    );
  }
  return lines.join("\n");
}

async function measure(
  spec: ServerSpec,
  idleSec: number,
  loadSec: number,
  probeFile: string | null,
): Promise<FootprintRow> {
  // The bundle rows share the probe's file: no figure of an earlier row may be read as this one's.
  if (probeFile !== null) await Deno.remove(probeFile).catch(() => {});
  const server = await ServerProcess.start(spec, null, 60_000);
  try {
    await new Promise((r) => setTimeout(r, idleSec * 1000));
    const idle = sample(server.pid);
    if (idle === null) throw new Error(`${spec.label} ended while idle`);
    let heap: FootprintRow["heap"] = null;
    if (probeFile !== null) {
      try {
        heap = JSON.parse(await Deno.readTextFile(probeFile));
      } catch {
        heap = null;
      }
    }
    const repliesPerSec = await load(spec.port, loadSec, server.pid);
    const loaded = sample(server.pid);
    if (loaded === null) throw new Error(`${spec.label} ended under load`);
    return { label: spec.label, idle, loaded, repliesPerSec, heap };
  } finally {
    await server.stop(5000);
  }
}

/** Runs the comparison; prints the table (and the raw figures as JSON). */
export async function footprintMain(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "idle-sec": { type: "string", default: "20" },
      "load-sec": { type: "string", default: "10" },
    },
  });
  const idleSec = Number(values["idle-sec"]);
  const loadSec = Number(values["load-sec"]);
  if (!(idleSec >= 2 && idleSec <= 600 && loadSec >= 1 && loadSec <= 60)) {
    console.error("footprint: --idle-sec 2..600, --load-sec 1..60");
    return 2;
  }
  const dir = await Deno.makeTempDir({ prefix: "horae-footprint-" });
  try {
    const conf = `${dir}/ntp.conf`;
    await Deno.writeTextFile(conf, "server 127.127.1.0\nfudge 127.127.1.0 stratum 8\n");
    // The same configuration in TOML, as the systemd unit reads /etc/horae/horae.toml.
    const toml = `${dir}/horae.toml`;
    await Deno.writeTextFile(toml, "[[refclock]]\ntype = 1\nunit = 0\nstratum = 8\n");
    const js = await bundle(dir);
    const probeFile = `${dir}/memory.json`;
    const text = await Deno.readTextFile(js);
    const nl = text.indexOf("\n");
    const probed = `${dir}/horae-probe.js`;
    await Deno.writeTextFile(
      probed,
      `${text.slice(0, nl + 1)}${probeLine(probeFile, (idleSec - 1) * 1000)}\n${
        text.slice(nl + 1)
      }`,
    );
    await Deno.chmod(probed, 0o755);
    // One start before the rows: Deno keeps a V8 code cache per script, and the first start of a
    // new file runs without it (4-5 MB more resident, for good); every later start of an
    // installed bundle has it, so the first would measure the cold start, not the daemon.
    await (await ServerProcess.start(horaeSpec("warm-up", probed, freePort(), conf), null, 60_000))
      .stop(5000);
    const rows: FootprintRow[] = [];
    if (chronydVersion() !== null) {
      const port = freePort();
      rows.push(
        await measure(
          { ...chronydSpec(port, dir), label: `chronyd ${chronydVersion()}` },
          idleSec,
          loadSec,
          null,
        ),
      );
    } else {
      console.error(`footprint: ${CHRONYD_PATH} not installed; Horae only`);
    }
    rows.push(
      await measure(
        horaeSpec("horae (bundle)", probed, freePort(), conf),
        idleSec,
        loadSec,
        probeFile,
      ),
    );
    rows.push(
      await measure(
        horaeSpec("horae (bundle, TOML)", probed, freePort(), toml),
        idleSec,
        loadSec,
        probeFile,
      ),
    );
    rows.push(
      await measure(
        horaeSpec("horae (main.ts)", `${REPO_ROOT}/main.ts`, freePort(), conf),
        idleSec,
        loadSec,
        null,
      ),
    );
    console.log(markdown(rows));
    console.log(JSON.stringify(rows));
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await footprintMain(Deno.args));
