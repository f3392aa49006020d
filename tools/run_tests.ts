// The test suite behind `deno task test` (everything) and `deno task test:fast` (no interop, for
// the edit loop), and `.ci/run`: installs or unpacks the interop peers when it can, runs the
// static checks and `deno test`, and ends with the line "N passed, M failed" and the wall time.
//
//   deno run -A tools/run_tests.ts [--fast] [--no-setup] [deno test filters/paths...]
//
// Without paths, the unit tests and the interop tests run as two `deno test --parallel` processes
// side by side, with the static checks beside them. Interop modules mostly wait for real peers
// (they share no port: each owns its network namespaces and asks the kernel for free ports), so
// more of them run at once than there are CPUs. Ignored tests (a peer missing: see
// tests/support/peers.ts needPeers) are counted as ignored, never as passed.
// deno-lint-ignore-file no-console

import { countJunit } from "./junit.ts";

const started = performance.now();
const deno = Deno.execPath();
const root = new URL("..", import.meta.url).pathname;
const FLAGS = ["--fast", "--no-setup"];
const fast = Deno.args.includes("--fast");
const paths = Deno.args.filter((a) => !FLAGS.includes(a));
const tmp = `${root}.tmp`;
/** Interop modules running at once: they wait on real time far more than they compute. */
const INTEROP_JOBS = Number(Deno.env.get("HORAE_INTEROP_JOBS") ?? "5");
await Deno.mkdir(tmp, { recursive: true });
await Deno.remove(`${tmp}/skipped.txt`).catch(() => {});

/** Runs a command in the repository; output to the terminal, or collected when `quiet`. */
async function run(
  cmd: string,
  cmdArgs: string[],
  opts: { quiet?: boolean; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; out: string }> {
  const res = await new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: root,
    stdout: opts.quiet ? "piped" : "inherit",
    stderr: opts.quiet ? "piped" : "inherit",
    ...(opts.env ? { env: opts.env } : {}),
  }).output();
  const dec = new TextDecoder();
  return {
    ok: res.success,
    out: opts.quiet ? dec.decode(res.stdout) + dec.decode(res.stderr) : "",
  };
}

/** "1m05s" or "42.1s". */
function wall(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

if (!fast && !Deno.args.includes("--no-setup")) {
  await run("bash", [`${root}tools/setup_test_deps.sh`]);
}

let passed = 0;
let failed = 0;
let ignored = 0;
const failures: string[] = [];

/** Static checks count as tests: formatting, lint, types, import layers. */
async function staticChecks(): Promise<void> {
  const checks: [string, string[]][] = [
    ["fmt", ["fmt", "--check"]],
    ["lint", ["lint"]],
    // --doc: mod.ts's examples too (mod_test.ts runs them).
    ["type check", ["check", "--doc", "main.ts", "mod.ts"]],
    ["doc lint", ["doc", "--lint", "mod.ts"]],
    ["layers", ["run", "--allow-read", "--allow-run", "tools/check_layers.ts"]],
  ];
  const results = await Promise.all(checks.map(([, a]) => run(deno, a, { quiet: true })));
  checks.forEach(([name], i) => {
    const r = results[i]!;
    if (r.ok) passed++;
    else {
      failed++;
      failures.push(`check: ${name}`);
      console.error(`check "${name}" failed:\n${r.out.slice(-4000)}`);
    }
  });
}

/** One `deno test --parallel` run writing a JUnit report; resolves to the report's text. */
async function testRun(
  name: string,
  testArgs: string[],
  jobs?: number,
  env: Record<string, string> = {},
): Promise<{ name: string; ok: boolean; xml: string | null }> {
  const junit = `${tmp}/junit-${name}.xml`;
  await Deno.remove(junit).catch(() => {});
  const r = await run(deno, [
    "test",
    "--allow-all",
    "--unstable-net",
    "--parallel",
    "--reporter=dot",
    `--junit-path=${junit}`,
    ...testArgs,
  ], { env: { ...env, ...(jobs === undefined ? {} : { DENO_JOBS: String(jobs) }) } });
  const xml = await Deno.readTextFile(junit).catch(() => null);
  return { name, ok: r.ok, xml };
}

// Server-thread tests start workers from main.ts, which `deno test` type-checks when the first
// worker loads it: cold, on a busy machine, that took over the tests' 60 s ready timeout. One
// check first fills the cache every later run reads (its failures are the static check's).
await run(deno, ["check", "main.ts"], { quiet: true });

const runs: Promise<{ name: string; ok: boolean; xml: string | null }>[] = [];
if (paths.length > 0) {
  runs.push(testRun("selected", paths, INTEROP_JOBS));
} else {
  runs.push(testRun("unit", ["--ignore=tests/interop"]));
  if (!fast) {
    const interop = testRun("interop", ["tests/interop"], INTEROP_JOBS);
    runs.push(interop);
    // The program as installed: the whole interop suite again, with every Horae program started
    // through a link to the single-file bundle and its shebang (the daemon as ntpd, the tools as
    // horae: tests/support/peers.ts startHorae and horaeCommand). After the first run, not beside
    // it: two interop runs at once on a 2-core machine push real-time waits past their limits.
    runs.push(
      interop.then(() =>
        testRun("interop-bundle", ["tests/interop"], INTEROP_JOBS, { HORAE_TEST_BUNDLE: "1" })
      ),
    );
  }
}
const [, ...results] = await Promise.all([paths.length > 0 ? null : staticChecks(), ...runs]);

for (const r of results) {
  if (r.xml === null) {
    failed++;
    failures.push(`deno test (${r.name}) produced no report`);
    continue;
  }
  const counts = countJunit(r.xml);
  passed += counts.passed;
  failed += counts.failed;
  ignored += counts.ignored;
  failures.push(...counts.failures);
  if (!r.ok && counts.failed === 0) {
    // A module that failed to load, or an uncaught error between tests.
    failed++;
    failures.push(`deno test (${r.name}) exited non-zero`);
  }
}

let skipped: string[] = [];
try {
  skipped = (await Deno.readTextFile(`${tmp}/skipped.txt`)).split("\n").filter((l) => l !== "");
} catch { /* none */ }
for (const s of skipped) console.log(`skipped: ${s}`);
for (const f of failures) console.log(`FAILED: ${f}`);
console.log(
  `${passed} passed, ${failed} failed${ignored ? `, ${ignored} ignored` : ""}${
    skipped.length ? `, ${skipped.length} skip${skipped.length === 1 ? "" : "s"} recorded` : ""
  }`,
);
console.log(
  `wall time ${wall(performance.now() - started)} (${
    paths.length > 0 ? "selected tests" : fast ? "test:fast, no interop" : "whole suite"
  })`,
);
Deno.exit(failed === 0 ? 0 : 1);
