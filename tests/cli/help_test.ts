// The command line as a newcomer meets it, through main.ts itself: `--help` for `horae` and for
// each command lists every option on one line, `horae --version` answers, and a mistyped command
// or option gets one line with a likely meant word and a pointer to --help (exit 2).

import assert from "node:assert/strict";
import { isRoot, NO_SYS_TIME, ROOT } from "../support/peers.ts";

/** Runs `horae <args>` (never with CAP_SYS_TIME); returns the exit code and both outputs. */
async function horae(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cmd = [
    ...(isRoot() ? NO_SYS_TIME : []),
    Deno.execPath(),
    "run",
    "--allow-all",
    "--unstable-net",
    `${ROOT}main.ts`,
    ...args,
  ];
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** The lines of a `--help` text's option list. */
function optionLines(help: string): string[] {
  const at = help.indexOf("\noptions:\n");
  assert.ok(at >= 0, help);
  const rest = help.slice(at + "\noptions:\n".length).trimEnd();
  return rest.slice(0, rest.search(/\n\n|$/)).split("\n");
}

/** Asserts that each option in `names` has exactly one line in the help's option list. */
function assertOneLineEach(help: string, names: string[]): void {
  const lines = optionLines(help);
  for (const line of lines) assert.match(line, /^ {2}(-\w, | {4})--[a-z0-9-]+( \S+)? {2,}\S/, line);
  for (const name of names) {
    const own = new RegExp(`^ {2}(-\\w, | {4})${name}( |$)`);
    assert.equal(lines.filter((l) => own.test(l)).length, 1, name);
  }
}

/** Asserts a usage error: exit 2, nothing on stdout, one line on stderr matching `line`. */
function assertOneLineError(r: { code: number; out: string; err: string }, line: RegExp): void {
  assert.equal(r.code, 2, r.err);
  assert.equal(r.out, "");
  assert.equal(r.err.split("\n").length, 2, `more than one line:\n${r.err}`);
  assert.match(r.err.trimEnd(), line);
}

Deno.test("horae --help lists the commands and options; --version prints the version", async () => {
  const help = await horae("--help");
  assert.equal(help.code, 0, help.err);
  for (const c of ["run", "check", "convert", "sim"]) {
    assert.match(help.out, new RegExp(`^  ${c} `, "m"));
  }
  assertOneLineEach(help.out, ["--help", "--version"]);
  const version = await horae("--version");
  assert.equal(version.code, 0, version.err);
  assert.match(version.out, /^horae \d+\.\d+\.\d+\n$/);
});

Deno.test("horae: a mistyped command or option gets one line with a suggestion", async () => {
  assertOneLineError(
    await horae("rnu"),
    /^horae: unknown command "rnu" \(did you mean "run"\?\) \(see horae --help\)$/,
  );
  assertOneLineError(
    await horae("--verison"),
    /^horae: unknown option --verison \(did you mean --version\?\) \(see horae --help\)$/,
  );
});

Deno.test("horae run / check / convert / sim --help: every option on one line", async () => {
  const cases: [string, string[]][] = [
    ["run", ["--observe", "--configfile", "--port", "--listen", "--server-threads", "--version"]],
    ["check", ["--strict", "--toml", "--quiet", "--help"]],
    ["convert", ["--output", "--toml", "--help"]],
    ["sim", ["--scenario", "--seed", "--seeds", "--json", "--discipline", "--list"]],
  ];
  for (const [command, names] of cases) {
    const r = await horae(command, "--help");
    assert.equal(r.code, 0, `${command}: ${r.err}`);
    assertOneLineEach(r.out, names);
  }
});

Deno.test("horae run / check / convert / sim: an option error is one line and a pointer", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "--obsrve"], /^horae run: unknown option --obsrve \(did you mean --observe\?\)/],
    [["run", "--prot", "5"], /^horae run: unknown option --prot \(did you mean --port\?\)/],
    [["run", "--port"], /^horae run: --port needs a value/],
    [["check", "--stirct"], /^horae check: unknown option --stirct \(did you mean --strict\?\)/],
    [
      ["convert", "--outptu", "x"],
      /^horae convert: unknown option --outptu \(did you mean --output/,
    ],
    [["sim", "--scenaro", "lan"], /^horae sim: unknown option --scenaro \(did you mean --scenario/],
    [["sim"], /^horae sim: --scenario is required/],
  ];
  for (const [args, line] of cases) {
    const r = await horae(...args);
    assertOneLineError(r, line);
    assert.match(r.err, new RegExp(`\\(see horae ${args[0]} --help\\)\\n$`));
  }
});
