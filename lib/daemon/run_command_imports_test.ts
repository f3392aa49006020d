// What `horae run` loads: the static import graph of main.ts and lib/daemon/run_command.ts (read
// with `deno info --json`) leaves out what only other commands or TOML configurations need, so an
// ntp.conf daemon does not keep the TOML reader (zod, smol-toml) or the simulator in memory.

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

interface ModuleGraph {
  /** Modules reached through static imports only, relative to the project root (or npm:…). */
  statics: Set<string>;
  /** Dynamic import edges, as "from -> to". */
  dynamics: Set<string>;
}

function shortName(specifier: string, redirects: Record<string, string>): string {
  const s = redirects[specifier] ?? specifier;
  if (s.startsWith(ROOT.href)) return s.slice(ROOT.href.length);
  return s.replace(/^npm:\/?/, "npm:").replace(/@[^@/]+$/, "");
}

/** Reads the graph of `entries` with `deno info --json` and follows static imports. */
async function moduleGraph(entries: string[]): Promise<ModuleGraph> {
  const statics = new Set<string>();
  const dynamics = new Set<string>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(entry, ROOT).pathname],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      roots: string[];
      modules: InfoModule[];
      redirects?: Record<string, string>;
    };
    const redirects = info.redirects ?? {};
    const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
    const todo = [...info.roots];
    const seen = new Set<string>();
    while (todo.length > 0) {
      const spec = todo.pop()!;
      const resolved = redirects[spec] ?? spec;
      if (seen.has(resolved)) continue;
      seen.add(resolved);
      statics.add(shortName(resolved, redirects));
      for (const dep of bySpecifier.get(resolved)?.dependencies ?? []) {
        if (dep.code === undefined) continue; // `import type`: nothing loaded at run time
        if (dep.isDynamic) {
          dynamics.add(
            `${shortName(resolved, redirects)} -> ${shortName(dep.code.specifier, redirects)}`,
          );
        } else {
          todo.push(dep.code.specifier);
        }
      }
    }
  }
  return { statics, dynamics };
}

Deno.test("horae run loads neither the TOML reader nor the simulator nor other commands", async () => {
  const g = await moduleGraph(["main.ts", "lib/daemon/run_command.ts"]);
  // The graph is the real one: the daemon, the ntp.conf reader and the logger are in it.
  for (const m of ["lib/daemon/daemon.ts", "lib/config/ntp_conf_parser.ts", "lib/log/logger.ts"]) {
    assert.ok(g.statics.has(m), `${m} missing from the graph`);
  }
  const unwanted = [...g.statics].filter((m) =>
    // The TOML writer (no npm dependency) is loaded: SAVECONFIG writes TOML, possibly after a
    // chroot, when nothing can be imported any more.
    m === "npm:zod" || m === "npm:smol-toml" || m === "lib/config/toml_config.ts" ||
    m.startsWith("lib/sim/") || m === "lib/cli/sim.ts" ||
    m === "lib/cli/convert.ts" || m === "lib/cli/check.ts"
  );
  assert.deepEqual(unwanted, []);
  // TOML configurations still work: the loader imports the TOML reader when it needs it.
  assert.ok(
    g.dynamics.has("lib/config/load_config.ts -> lib/config/toml_config.ts"),
    [...g.dynamics].join("\n"),
  );
});
