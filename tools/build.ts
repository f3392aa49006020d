// `deno task compile` and `deno task bundle`: main.ts built into one executable file with the
// permission flags of build_flags.ts.
//
//   deno run -A tools/build.ts compile [--target T]   dist/horae-<arch>-linux (needs Deno's
//                                                     denort download, see below)
//   deno run -A tools/build.ts bundle [-o FILE]       dist/horae.js with a deno shebang
//
// deno compile downloads its runtime (denort) from dl.deno.land for each target. Where that
// site cannot be reached, compile fails with one line that says so and points at the bundle.
// deno-lint-ignore-file no-console

import {
  BUNDLE_ARGS,
  COMPILE_TARGETS,
  RUN_FLAGS,
  V8_FLAGS,
  withShebang,
} from "../lib/cli/build_flags.ts";

export { BUNDLE_ARGS, deployedShebang, V8_FLAGS, withShebang } from "../lib/cli/build_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

/** One line explaining a failed `deno compile` from its error output. */
export function compileFailure(target: string, stderr: string): string {
  const url = /https:\/\/dl\.deno\.land\/\S+?\.zip/.exec(stderr)?.[0];
  if (url !== undefined || /Setting up base binary|denort/i.test(stderr)) {
    return `horae compile (${target}): deno compile needs its runtime from ${
      url ?? "dl.deno.land"
    }, which cannot be downloaded here; use \`deno task bundle\` (dist/horae.js) instead, or set ` +
      `DENORT_BIN to a denort ${target} binary`;
  }
  // deno-lint-ignore no-control-regex
  const first = stderr.split("\n").map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim())
    .find((l) => l !== "");
  return `horae compile (${target}): deno compile failed: ${first ?? "no error output"}`;
}

async function compile(targets: string[]): Promise<number> {
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  for (
    const t of COMPILE_TARGETS.filter((c) => targets.length === 0 || targets.includes(c.target))
  ) {
    const r = await deno([
      "compile",
      ...RUN_FLAGS,
      `--v8-flags=${V8_FLAGS.join(",")}`,
      "--target",
      t.target,
      "-o",
      t.out,
      "main.ts",
    ]);
    if (r.code !== 0) {
      console.error(compileFailure(t.target, r.stderr));
      return 1;
    }
    console.log(`${t.out} (${t.target})`);
  }
  return 0;
}

async function bundle(out: string): Promise<number> {
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir.startsWith("/") ? dir : `${ROOT}${dir}`, { recursive: true });
  const r = await deno([...BUNDLE_ARGS, "-o", out, "main.ts"]);
  if (r.code !== 0) {
    console.error(r.stderr.trimEnd());
    return 1;
  }
  const path = out.startsWith("/") ? out : `${ROOT}${out}`;
  await Deno.writeTextFile(path, withShebang(await Deno.readTextFile(path)));
  await Deno.chmod(path, 0o755);
  console.log(`${out}: run it, or link ntpd, ntpq, ... to it`);
  return 0;
}

if (import.meta.main) {
  const [cmd, ...rest] = Deno.args;
  const value = (flag: string) => {
    const i = rest.indexOf(flag);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  if (cmd === "compile") {
    const t = value("--target");
    Deno.exit(await compile(t === undefined ? [] : [t]));
  } else if (cmd === "bundle") {
    Deno.exit(await bundle(value("-o") ?? "dist/horae.js"));
  } else {
    console.error("usage: tools/build.ts compile [--target TRIPLE] | bundle [-o FILE]");
    Deno.exit(2);
  }
}
