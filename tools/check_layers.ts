// Layer check (STYLE.md §2): which folders may import which, and no import cycles.
// Reads the module graph with `deno info --json` from every source file under lib/, ffi/, drivers/.
// deno-lint-ignore-file no-console

const root = new URL("..", import.meta.url).pathname;

/** Folder → folders it may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  "ffi": [],
  "lib/proto": [],
  // Safe file creation and appends (no link followed) for every writer, down to the log sinks.
  "lib/files": ["ffi"],
  "lib/log": ["lib/proto", "lib/files"],
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

function layerOf(rel: string): string | null {
  for (const l of Object.keys(ALLOWED).sort((a, b) => b.length - a.length)) {
    if (rel === l || rel.startsWith(`${l}/`)) return l;
  }
  return null;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${root}${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) out.push(...await sources(rel));
      else if (e.name.endsWith(".ts") && !/_(test|bench)\.ts$/.test(e.name)) out.push(rel);
    }
  } catch { /* folder absent */ }
  return out;
}

const files = [...await sources("lib"), ...await sources("ffi"), ...await sources("drivers")];
const edges = new Map<string, Set<string>>();
const problems: string[] = [];
const prefix = `file://${root}`;

for (const file of files) {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!info.success) {
    problems.push(`${file}: deno info failed`);
    continue;
  }
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: { specifier: string; dependencies?: { code?: { specifier?: string } }[] }[];
  };
  const me = graph.modules.find((m) => m.specifier === `${prefix}${file}`);
  const deps = (me?.dependencies ?? [])
    .map((d) => d.code?.specifier ?? "")
    .filter((s) => s.startsWith(prefix))
    .map((s) => s.slice(prefix.length));
  edges.set(file, new Set(deps));
  const from = layerOf(file);
  for (const dep of deps) {
    const to = layerOf(dep);
    if (from === null || to === null || from === to) continue;
    if (!ALLOWED[from]!.includes(to)) problems.push(`${file} imports ${dep} (${from} → ${to})`);
  }
}

// Cycles between files.
const state = new Map<string, 1 | 2>();
function visit(f: string, path: string[]): void {
  state.set(f, 1);
  for (const d of edges.get(f) ?? []) {
    if (state.get(d) === 1) problems.push(`import cycle: ${[...path, f, d].join(" → ")}`);
    else if (!state.has(d)) visit(d, [...path, f]);
  }
  state.set(f, 2);
}
for (const f of edges.keys()) if (!state.has(f)) visit(f, []);

if (problems.length > 0) {
  for (const p of problems) console.error(`layers: ${p}`);
  Deno.exit(1);
}
console.log(`layers: ${files.length} files ok`);
