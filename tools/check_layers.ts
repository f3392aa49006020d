// Layer check (STYLE.md §1–2): which folders may import which (`import type` included), no import
// cycles, no source folder the rules do not know, and a protocol core (lib/proto) that imports
// nothing outside itself and reaches no runtime global (Deno, timers, performance, crypto, Date).
// Reads the module graph with `deno info --json` from every source file under lib/, ffi/,
// drivers/, and runs tools/_proto_purity_lint.ts over lib/proto with `deno lint`.
// deno-lint-ignore-file no-console

/** Folder → folders it may import (besides itself). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  "ffi": [],
  "lib/proto": [],
  // Safe file creation and appends (no link followed) for every writer, down to the log sinks.
  "lib/files": ["ffi"],
  // Syslog reaches /dev/log through a unix datagram socket (ffi/unix_datagram.ts).
  "lib/log": ["lib/proto", "lib/files", "ffi"],
  "lib/clock": ["lib/proto", "ffi"],
  "lib/net": ["lib/proto", "ffi"],
  "lib/config": ["lib/proto"],
  "lib/stats": ["lib/proto", "lib/log", "lib/files"],
  "drivers": ["lib/proto", "ffi", "lib/clock"],
  "lib/sim": ["lib/proto", "lib/clock", "lib/net", "lib/config"],
  "lib/cli": [
    "lib/proto",
    "lib/net",
    "lib/config",
    "lib/clock",
    "lib/log",
    "lib/sim",
    "lib/stats",
    "lib/files",
    "ffi",
  ],
  "lib/daemon": [
    "lib/cli",
    "lib/proto",
    "lib/config",
    "lib/clock",
    "lib/net",
    "lib/log",
    "lib/stats",
    "drivers",
    "lib/files",
    "ffi",
  ],
};

/** The folders whose source files are checked. */
const ROOTS = ["lib", "ffi", "drivers"];

/** `deno lint` configuration running only the plugin that keeps runtime globals out of lib/proto. */
const PURITY_CONFIG = new URL("./proto_purity_lint.json", import.meta.url).pathname;

function layerOf(rel: string): string | null {
  for (const l of Object.keys(ALLOWED).sort((a, b) => b.length - a.length)) {
    if (rel === l || rel.startsWith(`${l}/`)) return l;
  }
  return null;
}

function isSource(name: string): boolean {
  return name.endsWith(".ts") && !/_(test|bench)\.ts$/.test(name);
}

async function sources(root: string, dir: string, out: string[]): Promise<void> {
  try {
    for await (const e of Deno.readDir(`${root}${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) await sources(root, rel, out);
      else if (isSource(e.name)) out.push(rel);
    }
  } catch { /* folder absent */ }
}

/** Folders directly under lib/ that no rule names (with or without source files in them). */
async function unknownFolders(root: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${root}lib`)) {
      if (e.isDirectory && !(`lib/${e.name}` in ALLOWED)) out.push(`lib/${e.name}`);
    }
  } catch { /* no lib/ */ }
  return out.sort();
}

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** Every dependency of `file`, value and type imports alike (absolute specifiers). */
async function dependencies(root: string, file: string): Promise<string[] | null> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!info.success) return null;
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as { modules: InfoModule[] };
  const me = graph.modules.find((m) => m.specifier === `file://${root}${file}`);
  const deps = new Set<string>();
  for (const d of me?.dependencies ?? []) {
    for (const s of [d.code?.specifier, d.type?.specifier]) if (s) deps.add(s);
  }
  return [...deps];
}

/** Runs the purity plugin over `files` (lib/proto); returns one line per finding. */
async function purityProblems(root: string, files: string[]): Promise<string[]> {
  if (files.length === 0) return [];
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["lint", "--config", PURITY_CONFIG, "--json", ...files.map((f) => `${root}${f}`)],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  let report: {
    diagnostics?: { filename: string; range: { start: { line: number } }; message: string }[];
    errors?: { file_path: string; message: string }[];
  };
  try {
    report = JSON.parse(new TextDecoder().decode(r.stdout));
  } catch {
    return [`deno lint failed: ${new TextDecoder().decode(r.stderr).trim()}`];
  }
  const prefix = `file://${root}`;
  const rel = (f: string) => f.startsWith(prefix) ? f.slice(prefix.length) : f;
  return [
    ...(report.diagnostics ?? []).map((d) =>
      `${rel(d.filename)}:${d.range.start.line}: ${d.message}`
    ),
    ...(report.errors ?? []).map((e) => `${rel(e.file_path)}: ${e.message}`),
  ];
}

/** The outcome of {@link checkLayers}. */
export interface LayerReport {
  /** Source files checked. */
  files: number;
  /** Everything wrong, one line each (empty: the tree keeps the rules). */
  problems: string[];
}

/** Checks the tree under `root` (a folder path ending in "/"). */
export async function checkLayers(root: string): Promise<LayerReport> {
  const base = root.endsWith("/") ? root : `${root}/`;
  const files: string[] = [];
  for (const r of ROOTS) await sources(base, r, files);
  const problems: string[] = [];
  for (const f of await unknownFolders(base)) {
    problems.push(`${f}: unknown folder (add it to ALLOWED in tools/check_layers.ts)`);
  }
  const edges = new Map<string, Set<string>>();
  const prefix = `file://${base}`;
  for (const file of files) {
    const from = layerOf(file);
    if (from === null) {
      problems.push(`${file}: in no known layer (add its folder to ALLOWED)`);
      continue;
    }
    const deps = await dependencies(base, file);
    if (deps === null) {
      problems.push(`${file}: deno info failed`);
      continue;
    }
    const ours = deps.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
    edges.set(file, new Set(ours));
    if (from === "lib/proto") {
      for (const d of deps) {
        if (!d.startsWith(prefix)) {
          problems.push(`${file} imports ${d} (lib/proto imports only itself)`);
        }
      }
    }
    for (const dep of ours) {
      const to = layerOf(dep);
      if (to === from) continue;
      if (to === null) problems.push(`${file} imports ${dep} (not in any layer)`);
      else if (!ALLOWED[from]!.includes(to)) {
        problems.push(`${file} imports ${dep} (${from} → ${to})`);
      }
    }
  }

  // Cycles between files.
  const state = new Map<string, 1 | 2>();
  const visit = (f: string, path: string[]): void => {
    state.set(f, 1);
    for (const d of edges.get(f) ?? []) {
      if (state.get(d) === 1) problems.push(`import cycle: ${[...path, f, d].join(" → ")}`);
      else if (!state.has(d)) visit(d, [...path, f]);
    }
    state.set(f, 2);
  };
  for (const f of edges.keys()) if (!state.has(f)) visit(f, []);

  problems.push(...await purityProblems(base, files.filter((f) => layerOf(f) === "lib/proto")));
  return { files: files.length, problems };
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  const report = await checkLayers(root);
  if (report.problems.length > 0) {
    for (const p of report.problems) console.error(`layers: ${p}`);
    Deno.exit(1);
  }
  console.log(`layers: ${report.files} files ok`);
}
