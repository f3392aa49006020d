// Golden tests over the ntp.conf corpus (tests/fixtures/conf/valid): every file loads cleanly,
// converts to TOML, reloads to the same model, passes `check`, and together they use every keyword.

import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/load_config.ts";
import { writeToml } from "../../lib/config/toml_writer.ts";
import { parseTomlConfig } from "../../lib/config/toml_config.ts";
import { type Diagnostic, formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { NOT_APPLIED_CODE } from "../../lib/config/not_applied.ts";
import { NTP_CONF_KEYWORDS } from "../../lib/config/ntp_conf_parser.ts";
import {
  defaultSystemFlags,
  defaultTinker,
  defaultTos,
  FILEGEN_TYPES,
  type NtpConfig,
  RESTRICT_FLAGS,
} from "../../lib/config/config_model.ts";
import { lexNtpConf } from "../../lib/config/ntp_conf_lexer.ts";
import { runCheck } from "../../lib/cli/check.ts";
import { runConvert } from "../../lib/cli/convert.ts";
import { fakeIo } from "./fake_io.ts";

const DIR = new URL("../fixtures/conf/valid/", import.meta.url).pathname;

/** Diagnostics other than the warnings of what the daemon does not apply yet. */
function problems(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic);
}

/**
 * What the not-applied warnings say, without where or how often (the two syntaxes name things
 * apart, and a TOML restrict element may stand for two ntp.conf lines).
 */
function notApplied(diagnostics: readonly Diagnostic[]): string[] {
  return [
    ...new Set(
      diagnostics.filter((d) => d.code === NOT_APPLIED_CODE).map((d) =>
        d.message.replace(/^"[^"]*" /, "")
      ),
    ),
  ].sort();
}
const CORPUS = [...Deno.readDirSync(DIR)]
  .filter((e) => e.isFile && e.name.endsWith(".conf"))
  .map((e) => e.name)
  .sort();

Deno.test("corpus has at least 25 ntp.conf files", () => {
  assert.ok(CORPUS.length >= 25, `only ${CORPUS.length} files`);
});

for (const name of CORPUS) {
  const path = DIR + name;
  Deno.test(`golden ${name}: loads without problems, TOML reloads to the same model`, async () => {
    const r = await loadConfig(path);
    assert.deepEqual(problems(r.diagnostics), []);
    assert.equal(r.syntax, "ntp.conf");
    const toml = writeToml(r.config, { comments: r.comments });
    const back = parseTomlConfig(toml, `${name}.toml`);
    assert.deepEqual(problems(back.diagnostics), []);
    // The TOML says the same about what is not applied as the ntp.conf did.
    assert.deepEqual(notApplied(back.diagnostics), notApplied(r.diagnostics));
    assert.deepEqual(back.config, r.config);
    // Writing the reloaded model again gives the same text (without the carried comments).
    assert.equal(writeToml(back.config), writeToml(r.config));
  });

  Deno.test(`golden ${name}: check exits 0 and convert exits 0 with loadable TOML`, async () => {
    const c = fakeIo();
    assert.equal(await runCheck([path], c.io), 0, c.stdout());
    const warnings = (await loadConfig(path)).diagnostics.length;
    assert.match(c.stdout(), new RegExp(`: 0 errors, ${warnings} warnings?\\n$`));
    const v = fakeIo();
    assert.equal(await runConvert([path], v.io), 0, v.stderr());
    for (const line of v.stderr().split("\n").filter((l) => l !== "")) {
      assert.match(line, /: warning: "[^"]+" is parsed but not applied: /);
    }
    const fromToml = parseTomlConfig(v.stdout(), "converted.toml");
    assert.deepEqual(problems(fromToml.diagnostics), []);
    assert.deepEqual(fromToml.config, (await loadConfig(path)).config);
  });
}

async function corpusModels(): Promise<NtpConfig[]> {
  return await Promise.all(CORPUS.map(async (n) => (await loadConfig(DIR + n)).config));
}

Deno.test("corpus uses every ntp.conf keyword at least once", () => {
  const used = new Set<string>();
  const files = [...CORPUS.map((n) => DIR + n)];
  for (const e of Deno.readDirSync(DIR + "includes")) files.push(`${DIR}includes/${e.name}`);
  for (const f of files) {
    for (const line of lexNtpConf(Deno.readTextFileSync(f), f).lines) {
      const kw = line.tokens[0]?.text.toLowerCase();
      if (kw) used.add(kw);
    }
  }
  const missing = NTP_CONF_KEYWORDS.filter((k) => !used.has(k));
  assert.deepEqual(missing, []);
});

Deno.test("corpus uses every restrict flag, filegen type and source option", async () => {
  const models = await corpusModels();
  const flags = new Set(models.flatMap((m) => m.restrict.flatMap((r) => r.flags)));
  assert.deepEqual(RESTRICT_FLAGS.filter((f) => !flags.has(f)), []);
  const types = new Set(models.flatMap((m) => m.stats.filegens.map((g) => g.type)));
  assert.deepEqual(FILEGEN_TYPES.filter((t) => !types.has(t)), []);
  const sources = models.flatMap((m) => m.sources);
  for (
    const opt of [
      "autokey",
      "burst",
      "iburst",
      "prefer",
      "noselect",
      "trueChimer",
      "preempt",
      "xleave",
    ] as const
  ) {
    assert.ok(sources.some((s) => s[opt]), `no source uses ${opt}`);
  }
  assert.ok(sources.some((s) => s.key !== null), "key");
  assert.ok(sources.some((s) => s.version !== 4), "version");
  assert.ok(sources.some((s) => s.ttl !== null), "ttl");
  assert.ok(sources.some((s) => s.family === "ipv4"), "-4");
  assert.ok(sources.some((s) => s.family === "ipv6"), "-6");
  const kinds = new Set(sources.map((s) => s.kind));
  assert.equal(kinds.size, 5);
  const clocks = models.flatMap((m) => m.refclocks);
  for (
    const f of ["time1Sec", "time2Sec", "stratum", "refid", "flag1", "flag2", "flag3", "flag4"]
  ) {
    assert.ok(clocks.some((r) => r.fudge[f as keyof typeof r.fudge] !== null), `fudge ${f}`);
  }
  assert.ok(clocks.some((r) => r.mode !== null), "refclock mode");
  const crypto = models.map((m) => m.auth.crypto);
  for (const k of Object.keys(crypto[0] ?? {}).filter((k) => k !== "enabled")) {
    assert.ok(crypto.some((c) => c[k as keyof typeof c] !== null), `crypto ${k}`);
  }
  const tos = defaultTos();
  for (const k of Object.keys(tos) as (keyof typeof tos)[]) {
    assert.ok(models.some((m) => m.tos[k] !== tos[k]), `tos ${k}`);
  }
  const tinker = defaultTinker();
  for (const k of Object.keys(tinker) as (keyof typeof tinker)[]) {
    assert.ok(models.some((m) => m.tinker[k] !== tinker[k]), `tinker ${k}`);
  }
  const sys = defaultSystemFlags();
  for (const k of Object.keys(sys) as (keyof typeof sys)[]) {
    assert.ok(models.some((m) => m.system[k] !== sys[k]), `enable/disable ${k}`);
  }
});

Deno.test("golden 08_gps_pps_stratum1.conf: refclocks and fudges land in the model", async () => {
  const { config } = await loadConfig(DIR + "08_gps_pps_stratum1.conf");
  assert.equal(config.refclocks.length, 2);
  const [nmea, pps] = config.refclocks;
  assert.equal(nmea?.address, "127.127.20.0");
  assert.equal(nmea?.type, 20);
  assert.equal(nmea?.unit, 0);
  assert.equal(nmea?.mode, 17);
  assert.equal(nmea?.minpollLog2, 4);
  assert.equal(nmea?.noselect, true);
  assert.deepEqual(nmea?.fudge, {
    time1Sec: null,
    time2Sec: 0.35,
    stratum: null,
    refid: "GPS",
    flag1: true,
    flag2: null,
    flag3: null,
    flag4: null,
  });
  assert.equal(pps?.type, 22);
  assert.equal(pps?.prefer, true);
  assert.equal(pps?.fudge.flag3, true);
  assert.deepEqual(config.sources.map((s) => s.address), ["0.pool.ntp.org", "1.pool.ntp.org"]);
  assert.equal(config.system.pps, true);
  assert.deepEqual(config.stats.enabled, ["clockstats", "loopstats", "peerstats"]);
});

Deno.test("golden 24_includes.conf: nested includefiles are read in place", async () => {
  const { config } = await loadConfig(DIR + "24_includes.conf");
  assert.deepEqual(config.sources.map((s) => s.address), ["s1.example.net", "s2.example.net"]);
  assert.deepEqual(config.restrict.map((r) => `${r.address}/${r.mask}`), [
    "0.0.0.0/0.0.0.0",
    "::/::",
    "127.0.0.1/255.255.255.255",
    "::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  ]);
});

Deno.test("golden 26_peers_cluster.conf: key ranges, peers and per-source options", async () => {
  const { config } = await loadConfig(DIR + "26_peers_cluster.conf");
  assert.deepEqual(config.auth.trustedKeys, [7, 8, 9, 12]);
  const [up1, up2, b, c, ip] = config.sources;
  assert.deepEqual([up1?.family, up1?.burst, up1?.version], ["ipv4", true, 3]);
  assert.deepEqual([up2?.preempt, up2?.xleave], [true, true]);
  assert.deepEqual([b?.kind, b?.key, b?.minpollLog2, b?.maxpollLog2], ["peer", 7, 5, 8]);
  assert.equal(c?.noselect, true);
  assert.deepEqual([ip?.address, ip?.family, ip?.trueChimer], ["192.0.2.33", "ipv4", true]);
  assert.equal(config.tos.orphan, 10);
  assert.equal(config.tos.orphanwaitSec, 120);
});

Deno.test("golden 19_odd_whitespace.conf: tabs, CRLF and glued comments", async () => {
  const r = await loadConfig(DIR + "19_odd_whitespace.conf");
  assert.equal(r.config.files.driftFile, "/var/lib/ntp/ntp.drift");
  assert.deepEqual(r.config.sources.map((s) => [s.address, s.iburst, s.minpollLog2]), [
    ["a.example.net", true, 6],
    ["b.example.net", true, 5],
  ]);
  assert.equal(r.config.restrict.length, 3);
  assert.deepEqual(r.comments.byKey.get("sources.1"), ["no space before this comment"]);
});
