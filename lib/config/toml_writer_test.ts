// Tests of the TOML writer: escaping, layout, comments, and a property test that any valid model
// written as TOML reloads to itself.

import assert from "node:assert/strict";
import fc from "fast-check";
import { parse } from "smol-toml";
import { tomlFloat, tomlString, writeToml } from "./toml_writer.ts";
import { parseTomlConfig } from "./toml_config.ts";
import { parseNtpConf } from "./ntp_conf_parser.ts";
import {
  defaultRefclock,
  defaultSource,
  emptyConfig,
  FILEGEN_TYPES,
  type NtpConfig,
  RESTRICT_FLAGS,
  SOURCE_KINDS,
  STAT_NAMES,
  SYSTEM_FLAGS,
} from "./config_model.ts";
import { normalizeConfig, restrictRulesFor } from "./normalize.ts";
import { emptyComments } from "./config_comments.ts";
import { NOT_APPLIED_CODE } from "./not_applied.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`toml_writer_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

Deno.test("tomlString() escapes quotes, backslashes and control characters", () => {
  for (const s of ['a"b', "back\\slash", "tab\tnew\nline", "\u0001\u007f", "ünïcødé ✓"]) {
    assert.equal((parse(`v = ${tomlString(s)}`) as { v: string }).v, s);
  }
});

Deno.test("tomlFloat() always writes a float that reads back exactly", () => {
  for (const v of [0, 1, -0.0105, 1e-7, 0.128, 1500, 123456789.125]) {
    const text = tomlFloat(v);
    assert.match(text, /[.e]/);
    assert.equal((parse(`v = ${text}`) as { v: number }).v, v);
  }
});

Deno.test("writeToml() of the empty configuration says so", () => {
  assert.equal(writeToml(emptyConfig()), "# Empty configuration: every setting at its default.\n");
});

Deno.test("writeToml() leaves defaults out and groups sections in order", () => {
  const c = emptyConfig();
  c.sources.push({ ...defaultSource("pool", "pool.ntp.org"), iburst: true });
  c.refclocks.push({ ...defaultRefclock(8, 0), prefer: true });
  c.restrict.push(...restrictRulesFor("default", "any", null, ["kod", "nomodify"]));
  c.tos.orphan = 10;
  c.auth.keysFile = "/etc/ntp.keys";
  c.stats.enabled = ["loopstats"];
  c.files.driftFile = "/d";
  const text = writeToml(c);
  assert.equal(
    text,
    `# ==== daemon ====

[daemon]
driftfile = "/d"

# ==== sources ====

[[source]]
kind = "pool"
address = "pool.ntp.org"
iburst = true

# ==== access ====

[[restrict]]
address = "default"
flags = ["kod", "nomodify"]

# ==== auth ====

[auth]
keys = "/etc/ntp.keys"

# ==== stats ====

[stats]
statistics = ["loopstats"]

# ==== refclocks ====

# Horae does not apply this yet: driver type 8 is not implemented; this clock is not used.
[[refclock]]
type = 8
unit = 0
prefer = true

# ==== tuning ====

[tos]
orphan = 10
`,
  );
  assert.deepEqual(parseTomlConfig(text).config, c);
});

Deno.test("writeToml() keeps explicit default values and places comments", () => {
  const c = emptyConfig();
  c.sources.push(defaultSource("server", "a.example"));
  const comments = emptyComments();
  comments.header.push(" my header");
  comments.byKey.set("sources.0", [" the upstream"]);
  comments.after.set("sources.0", ["server b.example"]);
  comments.explicit.add("sources.0.version");
  comments.explicit.add("discard.averageLog2");
  comments.dropped.push("not translated: makestep 1 3");
  const text = writeToml(c, { comments, banner: ["Banner"] });
  assert.match(text, /^# Banner\n#\n# my header\n/);
  assert.match(text, /# the upstream\n\[\[source\]\]\nkind = "server"\naddress = "a.example"\n/);
  assert.match(text, /version = 4\n#server b\.example\n/);
  assert.match(text, /\[discard\]\naverage = 3\n/);
  assert.match(text, /# not translated: makestep 1 3\n$/);
  assert.deepEqual(parseTomlConfig(text).config, c);
});

/** Arbitrary valid configuration models, for the round-trip property. */
function arbitraryConfig(): fc.Arbitrary<NtpConfig> {
  const text = fc.string({ unit: "binary", maxLength: 20 });
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
  const hostOrIp = fc.constantFrom(
    ["ntp.example", "any"],
    ["ntp.example", "ipv4"],
    ["ntp.example", "ipv6"],
    ["192.0.2.1", "any"],
    ["192.0.2.1", "ipv4"],
    ["2001:db8::1", "ipv6"],
  ) as fc.Arbitrary<[string, "any" | "ipv4" | "ipv6"]>;
  const polls = fc.tuple(fc.integer({ min: 4, max: 17 }), fc.integer({ min: 4, max: 17 })).map((
    [a, b],
  ) => [Math.min(a, b), Math.max(a, b)]);
  const source = fc.record({
    kind: fc.constantFrom(...SOURCE_KINDS),
    addr: hostOrIp,
    key: maybe(fc.integer({ min: 1, max: 65534 })),
    flags: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    version: fc.integer({ min: 1, max: 4 }),
    polls,
    ttl: maybe(fc.integer({ min: 0, max: 255 })),
    mode: maybe(fc.integer({ min: 0, max: 255 })),
  }).map((r) => {
    const s = defaultSource(r.kind, r.addr[0]);
    s.family = r.addr[1];
    s.key = r.key;
    [s.autokey, s.burst, s.iburst, s.prefer, s.noselect, s.trueChimer, s.preempt, s.xleave] = r
      .flags as [boolean, boolean, boolean, boolean, boolean, boolean, boolean, boolean];
    s.version = r.version;
    [s.minpollLog2, s.maxpollLog2] = r.polls as [number, number];
    s.ttl = r.ttl;
    s.mode = r.mode;
    return s;
  });
  const refclock = fc.record({
    type: fc.integer({ min: 1, max: 46 }),
    unit: fc.integer({ min: 0, max: 3 }),
    polls,
    time1: maybe(fc.double({ min: -1, max: 1, noNaN: true })),
    refid: maybe(fc.stringMatching(/^[A-Z]{1,4}$/)),
    flag: maybe(fc.boolean()),
    stratum: maybe(fc.integer({ min: 0, max: 15 })),
  }).map((r) => {
    const rc = defaultRefclock(r.type, r.unit);
    [rc.minpollLog2, rc.maxpollLog2] = r.polls as [number, number];
    rc.fudge.time1Sec = r.time1 === null ? null : r.time1 + 0; // no -0
    rc.fudge.refid = r.refid;
    rc.fudge.flag2 = r.flag;
    rc.fudge.stratum = r.stratum;
    return rc;
  });
  const restrict = fc.record({
    target: fc.constantFrom("default", "source", "192.0.2.0", "2001:db8::", "host.example"),
    family: fc.constantFrom("any", "ipv4", "ipv6"),
    mask: fc.boolean(),
    flags: fc.subarray([...RESTRICT_FLAGS]),
  }).map((r) => {
    let family = r.family as "any" | "ipv4" | "ipv6";
    if (r.target === "192.0.2.0") family = "ipv4";
    if (r.target === "2001:db8::") family = "ipv6";
    const mask = r.mask && r.target === "192.0.2.0"
      ? "255.255.255.0"
      : r.mask && r.target === "2001:db8::"
      ? "ffff:ffff::"
      : null;
    return restrictRulesFor(r.target, family, mask, r.flags);
  });
  return fc.record({
    drift: maybe(text),
    logconfig: fc.subarray(["=syncall", "+clockall", "-peerinfo"]),
    sources: fc.array(source, { maxLength: 5 }),
    refclocks: fc.uniqueArray(refclock, {
      maxLength: 3,
      selector: (r) => `${r.type}.${r.unit}`,
    }),
    restrict: fc.array(restrict, { maxLength: 4 }),
    trusted: fc.array(fc.integer({ min: 1, max: 65534 }), { maxLength: 4 }),
    stats: fc.subarray([...STAT_NAMES]),
    filegenType: fc.constantFrom(...FILEGEN_TYPES),
    orphan: fc.integer({ min: 1, max: 16 }),
    step: fc.double({ min: 0, max: 1000, noNaN: true }),
    freq: maybe(fc.double({ min: -500, max: 500, noNaN: true })),
    system: fc.array(fc.boolean(), {
      minLength: SYSTEM_FLAGS.length,
      maxLength: SYSTEM_FLAGS.length,
    }),
    setvar: fc.array(
      fc.record({ name: fc.stringMatching(/^[a-z_]{1,8}$/), value: text, isDefault: fc.boolean() }),
      { maxLength: 2 },
    ),
    ttl: fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 8 }),
    crypto: maybe(text),
  }).map((r) => {
    const c = emptyConfig();
    c.files.driftFile = r.drift;
    c.logConfig = r.logconfig;
    c.sources = r.sources;
    c.refclocks = r.refclocks;
    c.restrict = r.restrict.flat();
    c.auth.trustedKeys = r.trusted;
    c.stats.enabled = r.stats;
    if (r.stats[0]) {
      c.stats.filegens.push({ name: r.stats[0], file: "f", type: r.filegenType, link: false });
    }
    c.tos.orphan = r.orphan;
    c.tinker.stepSec = r.step + 0;
    c.tinker.freqPpm = r.freq === null ? null : r.freq + 0;
    SYSTEM_FLAGS.forEach((f, i) => (c.system[f] = r.system[i] as boolean));
    c.broadcast.client = c.system.bclient;
    c.setvar = r.setvar.map((v) => ({ ...v })); // fast-check records have no prototype
    c.broadcast.ttl = r.ttl;
    if (r.crypto !== null) {
      c.auth.crypto.enabled = true;
      c.auth.crypto.pw = r.crypto;
    }
    return normalizeConfig(c);
  });
}

Deno.test("writeToml() output reloads to the same model (property)", () => {
  const seed = SEED;
  fc.assert(
    fc.property(arbitraryConfig(), (c) => {
      const text = writeToml(c);
      const back = parseTomlConfig(text, "rt.toml");
      assert.deepEqual(back.diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE), [], text);
      assert.deepEqual(back.config, c);
    }),
    { seed, numRuns: 300 },
  );
});

Deno.test("writeToml() writes the discipline and convert round-trips it", () => {
  const parsed = parseNtpConf("tinker discipline ntpd stepout 600\n", { file: "d.conf" });
  assert.deepEqual(parsed.diagnostics, []);
  const toml = writeToml(parsed.config, { comments: parsed.comments });
  assert.match(toml, /\[tinker\]\nstepout = 600\.0\ndiscipline = "ntpd"\n/);
  const back = parseTomlConfig(toml, "d.toml");
  assert.deepEqual(back.diagnostics, []);
  assert.deepEqual(back.config, parsed.config);
  assert.doesNotMatch(writeToml(parseNtpConf("", { file: "e.conf" }).config), /discipline/);
});
