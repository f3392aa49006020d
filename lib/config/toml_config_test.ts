// Tests of the TOML reader: schema errors with paths and lines, unknown keys, defaults, and a
// property test that no input makes it throw.

import assert from "node:assert/strict";
import fc from "fast-check";
import { locateTomlKeys, parseTomlConfig } from "./toml_config.ts";
import { defaultSource, emptyConfig } from "./config_model.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { NOT_APPLIED_CODE } from "./not_applied.ts";

/** Diagnostics other than the warnings of what is not applied. */
function problems(r: { diagnostics: { code: string }[] }): unknown[] {
  return r.diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE);
}

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`toml_config_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

Deno.test("parseTomlConfig() of an empty document is the empty configuration", () => {
  const r = parseTomlConfig("", "e.toml");
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.config, emptyConfig());
});

Deno.test("parseTomlConfig() builds sources with defaults filled in", () => {
  const r = parseTomlConfig(
    '[[source]]\naddress = "a.example"\n\n[[source]]\nkind = "pool"\naddress = "p.example"\n' +
      'iburst = true\nminpoll = 5\nfamily = "ipv6"\ntrue = true\n',
    "s.toml",
  );
  assert.deepEqual(problems(r), []);
  const pool = { ...defaultSource("pool", "p.example") };
  pool.iburst = true;
  pool.minpollLog2 = 5;
  pool.family = "ipv6";
  pool.trueChimer = true;
  assert.deepEqual(r.config.sources, [defaultSource("server", "a.example"), pool]);
});

Deno.test("parseTomlConfig() reads refclocks with their fudge values", () => {
  const r = parseTomlConfig(
    '[[refclock]]\ntype = 28\nunit = 1\ntime1 = 0.5\nrefid = "SHM"\nflag1 = false\nprefer = true\n',
    "r.toml",
  );
  assert.deepEqual(problems(r), []);
  const rc = r.config.refclocks[0];
  assert.equal(rc?.address, "127.127.28.1");
  assert.deepEqual(
    [rc?.fudge.time1Sec, rc?.fudge.refid, rc?.fudge.flag1, rc?.fudge.flag2, rc?.prefer],
    [0.5, "SHM", false, null, true],
  );
});

Deno.test('parseTomlConfig() expands restrict "default" to IPv4 and IPv6 rules', () => {
  const r = parseTomlConfig(
    '[[restrict]]\naddress = "default"\nflags = ["kod", "limited"]\n\n' +
      '[[restrict]]\naddress = "default"\nfamily = "ipv6"\nflags = ["ignore"]\n',
    "r.toml",
  );
  assert.deepEqual(problems(r), []);
  assert.deepEqual(r.config.restrict.map((x) => [x.address, x.mask, x.family, x.flags]), [
    ["0.0.0.0", "0.0.0.0", "ipv4", ["kod", "limited"]],
    ["::", "::", "ipv6", ["kod", "limited"]],
    ["::", "::", "ipv6", ["ignore"]],
  ]);
});

Deno.test("parseTomlConfig() reports a type error with its path and line", () => {
  const r = parseTomlConfig('[daemon]\ndriftfile = "/x"\n\n[tos]\norphan = "ten"\n', "t.toml");
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "t.toml:5:1: error: tos.orphan: expected number",
  ]);
});

Deno.test("parseTomlConfig() warns about unknown keys and still loads the rest", () => {
  const r = parseTomlConfig(
    '[daemon]\ndriftfile = "/d"\ncolour = "blue"\n\n[wibble]\nx = 1\n',
    "u.toml",
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'u.toml:3:1: warning: unknown key "daemon.colour"; ignored',
    'u.toml:5:1: warning: unknown key "wibble"; ignored',
  ]);
  assert.equal(r.config.files.driftFile, "/d");
});

Deno.test("parseTomlConfig() reports TOML syntax errors with line and column", () => {
  const r = parseTomlConfig('[daemon]\ndriftfile = "/open\n', "x.toml");
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]?.line, 2);
  assert.match(r.diagnostics[0]?.message ?? "", /^TOML syntax error: /);
});

Deno.test("parseTomlConfig() points semantic errors at the key's line", () => {
  const text = '[[source]]\naddress = "a"\n\n[[source]]\naddress = "b"\nkey = 0\n\n[tos]\n' +
    "minclock = 5\nmaxclock = 3\n";
  const r = parseTomlConfig(text, "v.toml");
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "v.toml:6:1: warning: key 0 is out of range 1–65534; the whole [[source]] element is " +
    "ignored, as ntpd does",
    "v.toml:9:1: warning: tos needs minsane (1) < minclock (5) <= maxclock (3); the daemon " +
    "will not operate properly (ntpd logs the same and goes on)",
  ]);
  assert.deepEqual(r.config.sources.map((s) => s.address), ["a"]);
});

Deno.test("locateTomlKeys() indexes arrays of tables and nested tables", () => {
  const m = locateTomlKeys(
    '[stats]\nstatsdir = "/s"\n[[stats.filegen]]\nname = "a"\n[[stats.filegen]]\n  name = "b"\n',
  );
  assert.deepEqual(m.get("stats.statsdir"), { line: 2, col: 1 });
  assert.deepEqual(m.get("stats.filegen.0.name"), { line: 4, col: 1 });
  assert.deepEqual(m.get("stats.filegen.1.name"), { line: 6, col: 3 });
});

Deno.test("parseTomlConfig() never throws on arbitrary text (property)", () => {
  const seed = SEED;
  const pieces = fc.constantFrom(
    "[[source]]\n",
    "[tos]\n",
    "[daemon]\n",
    'address = "x"\n',
    "minpoll = 99\n",
    "orphan = 1e400\n",
    "flags = [1, 2]\n",
    "a.b.c = 1\n",
    "[[restrict]]\n",
    'address = "default"\n',
    "x = 1979-05-27T07:32:00Z\n",
    "= =\n",
    '"\n',
  );
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.array(pieces, { maxLength: 30 }).map((p) => p.join("")),
  );
  fc.assert(
    fc.property(text, (t) => {
      const r = parseTomlConfig(t, "p.toml");
      assert.ok(Array.isArray(r.diagnostics));
    }),
    { seed, numRuns: 400 },
  );
});

Deno.test("parseTomlConfig() reads [tinker] discipline and rejects other names", () => {
  const r = parseTomlConfig('[tinker]\ndiscipline = "ntpd"\npanic = 0.0\n', "d.toml");
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.config.tinker.discipline, "ntpd");
  assert.equal(r.config.tinker.panicSec, 0);
  assert.equal(parseTomlConfig("", "e.toml").config.tinker.discipline, null);
  const bad = parseTomlConfig('[tinker]\ndiscipline = "chrony"\n', "b.toml");
  assert.equal(bad.diagnostics.length, 1);
  assert.match(formatDiagnostic(bad.diagnostics[0]!), /^b\.toml:2:1: error: tinker\.discipline/);
});

Deno.test("parseTomlConfig() suggests the key that was meant", () => {
  const r = parseTomlConfig(
    '[[source]]\naddress = "a"\nibrust = true\n\n[tso]\norphan = 9\n\n[tos]\nminsan = 2\n',
    "k.toml",
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'k.toml:3:1: warning: unknown key "source.0.ibrust" (did you mean "iburst"?); ignored',
    'k.toml:5:1: warning: unknown key "tso" (did you mean "tos"?); ignored',
    'k.toml:9:1: warning: unknown key "tos.minsan" (did you mean "minsane"?); ignored',
  ]);
});

Deno.test("parseTomlConfig() treats out-of-range values as ntpd does", () => {
  const r = parseTomlConfig(
    '[[source]]\naddress = "a"\nminpoll = 3\n\n[[source]]\naddress = "b"\nkey = 0\n\n' +
      "[tinker]\ntick = 2.0\n",
    "o.toml",
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "o.toml:3:1: warning: minpoll 3 is out of range 4–17; using 4",
    "o.toml:7:1: warning: key 0 is out of range 1–65534; the whole [[source]] element is " +
    "ignored, as ntpd does",
    "o.toml:10:1: warning: tinker tick 2 is out of range 1e-9–1; ignored",
  ]);
  assert.deepEqual(r.config.sources.map((s) => [s.address, s.minpollLog2]), [["a", 4]]);
  assert.equal(r.config.tinker.tickSec, null);
});
