// Tests of the ntp.conf parser: every command family, the manual's rules, includes, comments,
// and a property test that no input makes it throw.

import assert from "node:assert/strict";
import fc from "fast-check";
import { type IncludeReader, parseNtpConf } from "./ntp_conf_parser.ts";
import { defaultSource, emptyConfig } from "./config_model.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { NOT_APPLIED_CODE } from "./not_applied.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`ntp_conf_parser_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

/** Parses text that must load without a problem (warnings of what is not applied aside). */
function clean(text: string) {
  const r = parseNtpConf(text, { file: "t.conf" });
  assert.deepEqual(
    r.diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic),
    [],
  );
  return r.config;
}

/** The diagnostics of `text`, warnings of what is not applied aside. */
function messages(text: string, readInclude?: IncludeReader): string[] {
  return parseNtpConf(text, { file: "t.conf", ...(readInclude ? { readInclude } : {}) })
    .diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic);
}

Deno.test("parseNtpConf() of an empty file is the empty configuration", () => {
  assert.deepEqual(clean(""), emptyConfig());
  assert.deepEqual(clean("# only a comment\n\n"), emptyConfig());
});

Deno.test("parseNtpConf() reads server options into the source", () => {
  const c = clean(
    "server -4 ntp.example key 5 autokey burst iburst version 3 prefer noselect true " +
      "preempt xleave minpoll 5 maxpoll 9 ttl 3 mode 2 nts ntsport 4461\n",
  );
  assert.deepEqual(c.sources, [{
    kind: "server",
    address: "ntp.example",
    family: "ipv4",
    key: 5,
    autokey: true,
    nts: true,
    ntsPort: 4461,
    burst: true,
    iburst: true,
    version: 3,
    prefer: true,
    noselect: true,
    trueChimer: true,
    preempt: true,
    xleave: true,
    minpollLog2: 5,
    maxpollLog2: 9,
    ttl: 3,
    mode: 2,
  }]);
});

Deno.test("parseNtpConf() keeps every source kind, in file order", () => {
  const c = clean(
    "peer p.example\npool pool.example\nbroadcast 192.0.2.255\nmanycastclient 239.1.1.1\n" +
      "server -6 2001:db8::1\n",
  );
  assert.deepEqual(c.sources.map((s) => [s.kind, s.address, s.family]), [
    ["peer", "p.example", "any"],
    ["pool", "pool.example", "any"],
    ["broadcast", "192.0.2.255", "any"],
    ["manycastclient", "239.1.1.1", "any"],
    ["server", "2001:db8::1", "ipv6"],
  ]);
  assert.deepEqual(c.sources[0], defaultSource("peer", "p.example"));
});

Deno.test('parseNtpConf() says "server" needs an address at the right line', () => {
  assert.deepEqual(messages("driftfile /x\nserver\n"), [
    't.conf:2:1: error: "server" needs an address',
  ]);
  assert.deepEqual(messages("server -6\n"), ['t.conf:1:1: error: "server" needs an address']);
});

Deno.test("parseNtpConf() turns 127.127.t.u servers into refclocks and applies fudge", () => {
  const c = clean(
    "server 127.127.20.0 mode 17 prefer minpoll 4\n" +
      "fudge 127.127.20.0 time1 -0.012 time2 0.35 stratum 1 refid GPS flag1 1 flag4 0\n",
  );
  assert.equal(c.sources.length, 0);
  assert.deepEqual(c.refclocks, [{
    type: 20,
    unit: 0,
    address: "127.127.20.0",
    mode: 17,
    prefer: true,
    noselect: false,
    trueChimer: false,
    minpollLog2: 4,
    maxpollLog2: 10,
    path: null,
    ppspath: null,
    fudge: {
      time1Sec: -0.012,
      time2Sec: 0.35,
      stratum: 1,
      refid: "GPS",
      flag1: true,
      flag2: null,
      flag3: null,
      flag4: false,
    },
  }]);
});

Deno.test("parseNtpConf() accepts a fudge before its server line, rejects an unknown clock", () => {
  const c = clean("fudge 127.127.28.1 refid SHM\nserver 127.127.28.1\n");
  assert.equal(c.refclocks[0]?.fudge.refid, "SHM");
  assert.deepEqual(messages("server 127.127.28.0\nfudge 127.127.28.1 refid X\n"), [
    "t.conf:2:7: error: fudge names 127.127.28.1, which is not a configured reference clock",
  ]);
});

Deno.test("parseNtpConf() warns about server options that mean nothing for a refclock", () => {
  const r = parseNtpConf("server 127.127.1.0 iburst key 3\n", { file: "t.conf" });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    't.conf:1:20: warning: "iburst" is ignored for a reference clock',
    't.conf:1:27: warning: "key" is ignored for a reference clock',
  ]);
  assert.equal(r.droppedLines, 1);
});

Deno.test("parseNtpConf() restrict: mask defaults to the host mask, default to 0.0.0.0/0", () => {
  const c = clean(
    "restrict default kod\nrestrict 192.0.2.1 nomodify\nrestrict 10.0.0.0 mask 255.0.0.0\n" +
      "restrict -6 default ignore\nrestrict ::1\nrestrict ntp.example noquery\n",
  );
  assert.deepEqual(c.restrict.map((r) => [r.match, r.address, r.mask, r.family, r.flags]), [
    ["default", "0.0.0.0", "0.0.0.0", "ipv4", ["kod"]],
    ["default", "::", "::", "ipv6", ["kod"]],
    ["address", "192.0.2.1", "255.255.255.255", "ipv4", ["nomodify"]],
    ["address", "10.0.0.0", "255.0.0.0", "ipv4", []],
    ["default", "::", "::", "ipv6", ["ignore"]],
    ["address", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ipv6", []],
    ["address", "ntp.example", null, "any", ["noquery"]],
  ]);
});

Deno.test("parseNtpConf() restrict: an unknown flag is an error (fail closed)", () => {
  assert.deepEqual(messages("restrict default nomodfy\n"), [
    't.conf:1:18: error: unknown restrict flag "nomodfy" (did you mean "nomodify"?)',
  ]);
});

Deno.test("parseNtpConf() warns when tinker follows source commands", () => {
  assert.deepEqual(messages("tinker panic 0\nserver a.example\n"), []);
  const m = messages("server a.example\ntinker panic 0\n");
  assert.equal(m.length, 1);
  assert.match(m[0] ?? "", /^t\.conf:2:1: warning: tinker should come before the source commands/);
});

Deno.test("parseNtpConf() reads tos and tinker values into seconds and ppm fields", () => {
  const c = clean("tinker step 0 stepout 300 freq 12.5 huffpuff 7200\ntos orphan 8 maxdist 2\n");
  assert.equal(c.tinker.stepSec, 0);
  assert.equal(c.tinker.stepoutSec, 300);
  assert.equal(c.tinker.freqPpm, 12.5);
  assert.equal(c.tinker.huffpuffSec, 7200);
  assert.equal(c.tinker.panicSec, 1000);
  assert.equal(c.tos.orphan, 8);
  assert.equal(c.tos.maxdistSec, 2);
});

Deno.test("parseNtpConf() expands trustedkey ranges and sorts key ids", () => {
  assert.deepEqual(clean("trustedkey 9 (2 ... 4) 1 2\n").auth.trustedKeys, [1, 2, 3, 4, 9]);
  assert.deepEqual(clean("trustedkey ( 5 ... 6 )\n").auth.trustedKeys, [5, 6]);
  assert.match(messages("trustedkey (5 6)\n")[0] ?? "", /a key range is written/);
});

Deno.test("parseNtpConf() reads statistics and filegen with enable/disable", () => {
  const c = clean(
    "statistics loopstats peerstats\nfilegen peerstats file peers type week nolink disable\n" +
      "filegen sysstats enable\n",
  );
  assert.deepEqual(c.stats.enabled, ["loopstats", "sysstats"]);
  assert.deepEqual(c.stats.filegens, [
    { name: "peerstats", file: "peers", type: "week", link: false },
    { name: "sysstats", file: "sysstats", type: "day", link: true },
  ]);
});

Deno.test("parseNtpConf() keeps broadcastclient and enable bclient in step", () => {
  const a = clean("broadcastclient novolley\n");
  assert.deepEqual([a.broadcast.client, a.broadcast.novolley, a.system.bclient], [
    true,
    true,
    true,
  ]);
  const b = clean("broadcastclient\ndisable bclient\n");
  assert.deepEqual([b.broadcast.client, b.system.bclient], [false, false]);
  const c = clean("enable bclient\n");
  assert.deepEqual([c.broadcast.client, c.system.bclient], [true, true]);
});

Deno.test("parseNtpConf() defaults multicastclient to 224.0.1.1", () => {
  assert.deepEqual(clean("multicastclient\n").broadcast.multicastClient, ["224.0.1.1"]);
  assert.deepEqual(clean("multicastclient -6 ff05::101\n").broadcast.multicastClient, [
    "ff05::101",
  ]);
});

Deno.test("parseNtpConf() reads setvar with quoted values and the default flag", () => {
  assert.deepEqual(clean('setvar where = "rack 1" default\nsetvar a=b\n').setvar, [
    { name: "where", value: "rack 1", isDefault: true },
    { name: "a", value: "b", isDefault: false },
  ]);
});

Deno.test("parseNtpConf() warns about unknown keywords and counts dropped lines", () => {
  const r = parseNtpConf("server a.example\nmakestep 1 3\nrefclock SHM 0\n", { file: "t.conf" });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    't.conf:2:1: warning: unknown keyword "makestep"; line ignored',
    't.conf:3:1: warning: unknown keyword "refclock"; line ignored',
  ]);
  assert.equal(r.droppedLines, 2);
  assert.deepEqual(r.comments.dropped, [
    "not translated: makestep 1 3",
    "not translated: refclock SHM 0",
  ]);
});

Deno.test("parseNtpConf() flags recognised but unsupported ntpd keywords", () => {
  assert.deepEqual(messages("mdnstries 5\n"), [
    't.conf:1:1: warning: "mdnstries" is not supported by Horae; line ignored',
  ]);
});

Deno.test("parseNtpConf() reads includefile through the reader, depth first", () => {
  const files: Record<string, string> = {
    "a.conf": "server a.example\nincludefile b.conf\n",
    "b.conf": "server b.example\n",
  };
  const reader: IncludeReader = (path) =>
    path in files
      ? { ok: true, text: files[path] as string, file: path, id: path }
      : { ok: false, reason: "no such file or directory" };
  const r = parseNtpConf("server first.example\nincludefile a.conf\nserver last.example\n", {
    file: "t.conf",
    readInclude: reader,
  });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.config.sources.map((s) => s.address), [
    "first.example",
    "a.example",
    "b.example",
    "last.example",
  ]);
  assert.deepEqual(messages("includefile nope.conf\n", reader), [
    't.conf:1:13: error: cannot read included file "nope.conf": no such file or directory',
  ]);
});

Deno.test("parseNtpConf() detects include loops and depth beyond 5", () => {
  const loop: IncludeReader = (path) => ({
    ok: true,
    text: `includefile ${path === "x" ? "y" : "x"}\n`,
    file: path,
    id: path,
  });
  const m = parseNtpConf("includefile x\n", { file: "t.conf", id: "t", readInclude: loop })
    .diagnostics.map(formatDiagnostic);
  assert.deepEqual(m, ["y:1:13: error: includefile loop: x -> y -> x"]);
  const deep: IncludeReader = (path) => ({
    ok: true,
    text: `includefile ${Number(path) + 1}\n`,
    file: path,
    id: path,
  });
  assert.deepEqual(
    parseNtpConf("includefile 1\n", { file: "t.conf", readInclude: deep }).diagnostics.map(
      formatDiagnostic,
    ),
    ['5:1:13: error: includefile nested deeper than 5 levels: "6" not read'],
  );
  assert.match(messages("includefile x\n")[0] ?? "", /includefile is not available here/);
});

Deno.test("parseNtpConf() attaches comments: header, leading block, trailing, loose blocks", () => {
  const r = parseNtpConf(
    "# header\n\n# about a\nserver a.example # inline\n\n# prose about the next line\n\n" +
      "restrict default kod\n\n#server off.example\n\ntos orphan 9\n# tail\n",
    { file: "t.conf" },
  );
  assert.deepEqual(r.comments.header, [" header"]);
  assert.deepEqual(r.comments.byKey.get("sources.0"), [" about a", " inline"]);
  assert.deepEqual(r.comments.byKey.get("restrict.0"), [" prose about the next line"]);
  // A loose block holding a commented-out server goes after the sources, not above tos.
  assert.deepEqual(r.comments.after.get("sources.0"), ["server off.example"]);
  assert.deepEqual(r.comments.byKey.get("tos"), undefined);
  assert.deepEqual(r.comments.trailer, [" tail"]);
  assert.ok(r.comments.explicit.has("tos.orphan"));
});

Deno.test("parseNtpConf() treats out-of-range values as ntpd does, reporting each one", () => {
  const r = parseNtpConf("tinker tick 5\nserver a minpoll 3\nserver b key 0\ntos cohort 5\n", {
    file: "t.conf",
  });
  assert.deepEqual(r.diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic), [
    "t.conf:1:13: warning: tinker tick 5 is out of range 1e-9–1; ignored",
    "t.conf:2:18: warning: minpoll 3 is out of range 4–17; using 4",
    "t.conf:3:14: warning: key 0 is out of range 1–65534; the whole server line is ignored, " +
    "as ntpd does",
    "t.conf:4:12: warning: tos cohort 5 is out of range 0–1; using 1",
  ]);
  assert.ok(r.diagnostics.every((d) => d.severity === "warning"), "ntpd starts with these");
  assert.deepEqual(r.config.sources.map((s) => [s.address, s.minpollLog2]), [["a", 4]]);
  assert.equal(r.config.tos.cohort, 1);
  assert.equal(r.config.tinker.tickSec, null);
});

Deno.test("parseNtpConf() lowers a minpoll above maxpoll to maxpoll, as ntpd does", () => {
  const r = parseNtpConf("server a minpoll 12 maxpoll 8\n", { file: "t.conf" });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    "t.conf:1:10: warning: minpoll 12 is greater than maxpoll 8; using minpoll 8, as ntpd does",
  ]);
  assert.equal(r.config.sources[0]?.minpollLog2, 8);
});

Deno.test("parseNtpConf() takes minpoll 3 on a refclock line and clamps less, saying which value it used", () => {
  const ok = parseNtpConf("driftfile /d\nserver 127.127.28.0 minpoll 3\n", { file: "a.conf" });
  assert.deepEqual(ok.diagnostics.map(formatDiagnostic), []);
  assert.equal(ok.config.refclocks[0]?.minpollLog2, 3);
  const r = parseNtpConf("driftfile /d\nserver 127.127.1.0 minpoll 2\n", { file: "a.conf" });
  assert.deepEqual(
    r.diagnostics.map(formatDiagnostic),
    ["a.conf:2:28: warning: minpoll 2 is out of range 3–17; using 3"],
  );
  assert.equal(r.config.refclocks[0]?.minpollLog2, 3);
});

Deno.test("parseNtpConf() suggests the keyword or option that was meant", () => {
  const r = parseNtpConf("sever a.example ibrust\nserver b.example ibrust prefr\n", {
    file: "t.conf",
  });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    't.conf:1:1: warning: unknown keyword "sever" (did you mean "server"?); line ignored',
    't.conf:2:18: warning: unknown option "ibrust" (did you mean "iburst"?); ignored',
    't.conf:2:25: warning: unknown option "prefr" (did you mean "prefer"?); ignored',
  ]);
  assert.match(
    messages("tos minsan 2\n")[0] ?? "",
    /unknown tos option "minsan" \(did you mean "minsane"\?\)/,
  );
  assert.match(
    messages("enable kernal\n")[0] ?? "",
    /unknown enable flag "kernal" \(did you mean "kernel"\?\)/,
  );
  assert.doesNotMatch(messages("frobnicate 1\n")[0] ?? "", /did you mean/);
});

Deno.test('parseNtpConf() accepts "hop ..." as the manycast TTL list, like ttl', () => {
  const r = parseNtpConf("hop 1 2 4\nttl 8\n", { file: "t.conf" });
  // Applied (the manycast client's expanding ring): no warning under either word.
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.config.broadcast.ttl, [1, 2, 4, 8]);
  assert.equal(r.droppedLines, 0);
  const hop = parseNtpConf("hop 1 2\n", { file: "h.conf" });
  assert.deepEqual(hop.diagnostics, []);
  assert.deepEqual(hop.config.broadcast.ttl, [1, 2]);
  // nic (interface's other name) is applied: no warning.
  const nic = parseNtpConf("nic drop 10.0.0.0/8\n", { file: "n.conf" });
  assert.deepEqual(nic.diagnostics, []);
  assert.deepEqual(nic.config.interfaces, [{ action: "drop", match: "10.0.0.0/8" }]);
});

Deno.test("parseNtpConf() treats object-prototype names as plain unknown words", () => {
  const r = parseNtpConf(
    "constructor x\n__proto__ y\ntos constructor 1 __proto__ 2\ndiscard toString 3\n",
    { file: "t.conf" },
  );
  assert.deepEqual(r.diagnostics.map((d) => d.code), [
    "unknown-keyword",
    "unknown-keyword",
    "unknown-option",
    "unknown-option",
    "unknown-option",
  ]);
  assert.deepEqual(r.config, emptyConfig());
});

Deno.test("parseNtpConf() never throws on arbitrary text (property)", () => {
  const seed = SEED;
  const words = fc.constantFrom(
    "server",
    "fudge",
    "restrict",
    "127.127.20.0",
    "default",
    "mask",
    "minpoll",
    "tinker",
    "tos",
    "includefile",
    "trustedkey",
    "(",
    "...",
    ")",
    '"',
    "#",
    "-4",
    "1",
    "99999999999999999999",
    "setvar",
    "=",
    "filegen",
    "statistics",
    "constructor",
    "__proto__",
    "toString",
    "discard",
    "driftfile",
    "\n",
    " ",
    "\t",
  );
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.array(words, { maxLength: 60 }).map((w) => w.join(" ")),
  );
  fc.assert(
    fc.property(text, (t) => {
      const r = parseNtpConf(t, { file: "p.conf" });
      for (const d of r.diagnostics) assert.ok(d.line >= 0 && d.message.length > 0);
    }),
    { seed, numRuns: 500 },
  );
});

Deno.test("parseNtpConf() reads Horae's 'tinker discipline', alone or among ntpd's options", () => {
  assert.equal(clean("tinker discipline ntpd\n").tinker.discipline, "ntpd");
  const c = clean("tinker panic 0 discipline HORAE step 0.5\n");
  assert.equal(c.tinker.discipline, "horae");
  assert.equal(c.tinker.panicSec, 0);
  assert.equal(c.tinker.stepSec, 0.5);
  assert.equal(clean("tinker panic 0\n").tinker.discipline, null, "absent means horae");
});

Deno.test("parseNtpConf() rejects an unknown or missing discipline", () => {
  assert.deepEqual(messages("tinker discipline chrony\n"), [
    't.conf:1:19: error: tinker discipline must be one of horae, ntpd, not "chrony"',
  ]);
  assert.match(
    messages("tinker discipline\n")[0] ?? "",
    /^t\.conf:1:8: error: discipline needs a value/,
  );
});
