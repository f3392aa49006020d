// The whole test suite behind `deno task test` and `.ci/run`: installs the interop peers when it
// can, runs the static checks and `deno test`, and ends with the line "N passed, M failed".
//
//   deno run -A tools/run_tests.ts [--no-setup] [deno test filters/paths...]
// deno-lint-ignore-file no-console

const deno = Deno.execPath();
const root = new URL("..", import.meta.url).pathname;
const args = Deno.args.filter((a) => a !== "--no-setup");
const tmp = `${root}.tmp`;
await Deno.mkdir(tmp, { recursive: true });
await Deno.remove(`${tmp}/skipped.txt`).catch(() => {});

async function run(
  cmd: string,
  cmdArgs: string[],
  quiet = false,
): Promise<{ ok: boolean; out: string }> {
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: root,
    stdout: quiet ? "piped" : "inherit",
    stderr: quiet ? "piped" : "inherit",
  });
  const res = await child.output();
  const dec = new TextDecoder();
  return { ok: res.success, out: quiet ? dec.decode(res.stdout) + dec.decode(res.stderr) : "" };
}

if (!Deno.args.includes("--no-setup")) {
  await run("bash", [`${root}tools/setup_test_deps.sh`]);
}

let passed = 0;
let failed = 0;
const failures: string[] = [];

// Static checks count as tests: formatting, lint, types, import layers.
if (args.length === 0) {
  const checks: [string, string[]][] = [
    ["fmt", ["fmt", "--check"]],
    ["lint", ["lint"]],
    ["type check", ["check", "main.ts", "mod.ts"]],
    ["layers", ["run", "--allow-read", "--allow-run", "tools/check_layers.ts"]],
  ];
  for (const [name, a] of checks) {
    const r = await run(deno, a, true);
    if (r.ok) passed++;
    else {
      failed++;
      failures.push(`check: ${name}`);
      console.error(`check "${name}" failed:\n${r.out.slice(-4000)}`);
    }
  }
}

const junit = `${tmp}/junit.xml`;
const testRun = await run(deno, [
  "test",
  "--allow-all",
  "--unstable-net",
  "--reporter=dot",
  `--junit-path=${junit}`,
  ...args,
]);
let xml = "";
try {
  xml = await Deno.readTextFile(junit);
} catch {
  failed++;
  failures.push("deno test produced no report");
}
for (
  const m of xml.matchAll(/<testcase\b[^>]*?name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)
) {
  const body = m[3] ?? "";
  if (/<failure\b|<error\b/.test(body)) {
    failed++;
    failures.push(m[1]!);
  } else if (!/<skipped\b/.test(body)) passed++;
}
if (!testRun.ok && failures.length === 0) {
  failed++;
  failures.push("deno test exited non-zero");
}

let skipped: string[] = [];
try {
  skipped = (await Deno.readTextFile(`${tmp}/skipped.txt`)).split("\n").filter((l) => l !== "");
} catch { /* none */ }
for (const s of skipped) console.log(`skipped: ${s}`);
for (const f of failures) console.log(`FAILED: ${f}`);
console.log(
  `${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ""}`,
);
Deno.exit(failed === 0 ? 0 : 1);
