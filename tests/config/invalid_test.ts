// Invalid fixtures (tests/fixtures/conf/invalid): each yields its expected diagnostic on the
// expected line, `check` exits 78 (or 0 for warnings) and nothing ever prints a stack trace.

import assert from "node:assert/strict";
import { loadConfig, MAX_CONFIG_BYTES } from "../../lib/config/load_config.ts";
import { formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { runCheck } from "../../lib/cli/check.ts";
import { runConvert } from "../../lib/cli/convert.ts";
import { fakeIo } from "./fake_io.ts";

const DIR = new URL("../fixtures/conf/invalid/", import.meta.url).pathname;

interface Expectation {
  severity: "error" | "warning";
  /** Relative to DIR, or null for the fixture itself. */
  file: string | null;
  line: number;
  text: string;
}

function expectationsOf(name: string): Expectation[] {
  const source = name.endsWith(".bin")
    ? Deno.readTextFileSync(`${DIR}${name}.expect`).split("\n").map((l) => `# expect: ${l}`)
    : Deno.readTextFileSync(DIR + name).split("\n");
  const out: Expectation[] = [];
  for (const line of source) {
    const m = /^# expect: (error|warning):(?:([^:]+):)?(\d+): (.*)$/.exec(line);
    if (m) {
      out.push({
        severity: m[1] as "error" | "warning",
        file: m[2] ?? null,
        line: Number(m[3]),
        text: m[4] as string,
      });
    }
  }
  return out;
}

const FIXTURES = [
  ...[...Deno.readDirSync(DIR)].filter((e) =>
    e.isFile && (e.name.endsWith(".conf") || e.name.endsWith(".bin"))
  ).map((e) => e.name),
  ...[...Deno.readDirSync(DIR + "toml")].map((e) => `toml/${e.name}`),
].sort();

const STACK_TRACE = /^\s+at .*:\d+:\d+\)?$/m;

Deno.test("invalid fixtures exist for every rule", () => {
  assert.ok(FIXTURES.length >= 40, `${FIXTURES.length} fixtures`);
});

for (const name of FIXTURES) {
  Deno.test(`invalid ${name}: expected diagnostics on the right lines`, async () => {
    const expected = expectationsOf(name);
    assert.ok(expected.length > 0, "fixture has no # expect: line");
    const r = await loadConfig(DIR + name);
    const rendered = r.diagnostics.map(formatDiagnostic).join("\n");
    for (const e of expected) {
      const file = e.file === null ? DIR + name : DIR + e.file;
      const hit = r.diagnostics.find((d) =>
        d.severity === e.severity && d.line === e.line && d.message.includes(e.text) &&
        (d.file === file || d.file.endsWith(e.file ?? name))
      );
      assert.ok(hit, `missing ${e.severity} at line ${e.line}: ${e.text}\ngot:\n${rendered}`);
    }
    const wantsError = expected.some((e) => e.severity === "error");
    assert.equal(r.ok, !wantsError);
    const c = fakeIo();
    const code = await runCheck([DIR + name], c.io);
    assert.equal(code, wantsError ? 78 : 0, c.stdout());
    assert.doesNotMatch(c.stdout() + c.stderr(), STACK_TRACE);
    for (const line of c.stdout().trim().split("\n").slice(0, -1)) {
      assert.match(line, /^[^:]+:\d+:\d+: (error|warning): .+$|^[^:]+: (error|warning): .+$/);
    }
  });
}

Deno.test("invalid unknown_keyword.conf: a warning normally, an error under check --strict", async () => {
  const plain = fakeIo();
  assert.equal(await runCheck([DIR + "unknown_keyword.conf"], plain.io), 0);
  assert.match(plain.stdout(), /unknown_keyword\.conf:3:1: warning: unknown keyword "makestep"/);
  const strict = fakeIo();
  assert.equal(await runCheck(["--strict", DIR + "unknown_keyword.conf"], strict.io), 78);
  assert.match(strict.stdout(), /unknown_keyword\.conf:3:1: error: unknown keyword "makestep"/);
});

Deno.test("invalid: a 10 MB file is refused with a clear error and no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae_conf_" });
  try {
    const path = `${dir}/huge.conf`;
    const line = "server a.example.net iburst\n";
    const chunk = line.repeat(Math.ceil(65536 / line.length));
    const file = await Deno.open(path, { write: true, create: true });
    const bytes = new TextEncoder().encode(chunk);
    for (let written = 0; written < 10 * 1024 * 1024; written += bytes.length) {
      await file.write(bytes);
    }
    file.close();
    const r = await loadConfig(path);
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics.length, 1);
    assert.match(
      r.diagnostics[0]?.message ?? "",
      new RegExp(`larger than the ${MAX_CONFIG_BYTES}`),
    );
    const c = fakeIo();
    assert.equal(await runCheck([path], c.io), 78);
    assert.match(c.stdout(), /huge\.conf: error: cannot read configuration: file is \d+ bytes/);
    const v = fakeIo();
    assert.equal(await runConvert([path], v.io), 78);
    assert.equal(v.stdout(), "");
    assert.doesNotMatch(c.stdout() + v.stderr(), STACK_TRACE);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid: a missing file and a directory are errors, not exceptions", async () => {
  const missing = await loadConfig(DIR + "no_such_file.conf");
  assert.equal(missing.ok, false);
  assert.match(missing.diagnostics[0]?.message ?? "", /no such file or directory/);
  const dir = await loadConfig(DIR + "includes");
  assert.equal(dir.ok, false);
  assert.match(dir.diagnostics[0]?.message ?? "", /is a directory/);
});

Deno.test("invalid: convert refuses a file with errors (exit 78, nothing on stdout)", async () => {
  const v = fakeIo();
  assert.equal(await runConvert([DIR + "server_without_address.conf"], v.io), 78);
  assert.equal(v.stdout(), "");
  assert.match(
    v.stderr(),
    /server_without_address\.conf:\d+:\d+: error: "server" needs an address/,
  );
});
