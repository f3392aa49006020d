// Tests of the option spec: its helpers, and the consistency of the specification itself.

import assert from "node:assert/strict";
import {
  allKeywords,
  checkRange,
  defaultsOf,
  findCommand,
  option,
  optionByWord,
  sectionOptions,
  wordsOf,
} from "./option_spec.ts";
import { CONFIG_SPEC } from "./config_spec.ts";
import { TOS_SECTION } from "./tos.ts";

const POLL = option({
  field: "minpollLog2",
  ntpConf: "minpoll",
  toml: "minpoll",
  type: "int",
  range: { min: 4, max: 17, outside: "clamp" },
  default: 6,
  doc: "x",
  applied: true,
});

Deno.test("checkRange() clamps, ignores or drops as the option says", () => {
  assert.deepEqual(checkRange(POLL, "minpoll", 6), { outcome: "ok", value: 6 });
  assert.deepEqual(checkRange(POLL, "minpoll", 3), {
    outcome: "clamped",
    value: 4,
    message: "minpoll 3 is out of range 4–17; using 4",
  });
  assert.equal(checkRange(POLL, "minpoll", 99).outcome, "clamped");
  assert.equal((checkRange(POLL, "minpoll", 4.5) as { value: number }).value, 5, "ints stay ints");
  const ignored = { ...POLL, range: { min: 4, max: 17, outside: "ignore" as const } };
  assert.deepEqual(checkRange(ignored, "minpoll", 3), {
    outcome: "ignored",
    message: "minpoll 3 is out of range 4–17; ignored; keeping the default 6",
  });
  const dropped = { ...POLL, range: { min: 4, max: 17, outside: "drop" as const } };
  assert.deepEqual(checkRange(dropped, "minpoll", 3, "server line"), {
    outcome: "dropped",
    message: "minpoll 3 is out of range 4–17; the whole server line is ignored, as ntpd does",
  });
  assert.equal(checkRange(POLL, "minpoll", NaN).outcome, "clamped");
});

Deno.test("defaultsOf() gives fresh lists and every field", () => {
  const a = defaultsOf(TOS_SECTION.parts[0].options);
  assert.equal(a.minsane, 1);
  assert.equal(a.ceiling, 15);
  assert.equal(Object.keys(a).length, TOS_SECTION.parts[0].options.length);
});

Deno.test("findCommand() and wordsOf() resolve keywords, aliases and option words", () => {
  assert.equal(findCommand(CONFIG_SPEC, "server")?.section.id, "source");
  assert.equal(findCommand(CONFIG_SPEC, "hop")?.command.keyword, "ttl");
  assert.equal(findCommand(CONFIG_SPEC, "frob"), null);
  const tos = findCommand(CONFIG_SPEC, "tos");
  assert.ok(tos);
  assert.ok(wordsOf(tos.section, tos.command).includes("minsane"));
  const trusted = findCommand(CONFIG_SPEC, "trustedkey");
  assert.ok(trusted);
  assert.deepEqual(wordsOf(trusted.section, trusted.command), ["trustedkey"]);
  assert.equal(optionByWord(tos.section, "maxdist")?.option.field, "maxdistSec");
});

Deno.test("the spec is consistent: keys, fields, ranges and defaults", () => {
  const keywords = allKeywords(CONFIG_SPEC);
  assert.equal(new Set(keywords).size, keywords.length);
  const tomlTables = CONFIG_SPEC.sections.map((s) => s.toml).filter((t) => t !== null);
  assert.equal(new Set(tomlTables).size, tomlTables.length, "one section per TOML table");
  for (const s of CONFIG_SPEC.sections) {
    const opts = sectionOptions(s).map((x) => x.option);
    const tomlKeys = opts.map((o) => o.toml);
    assert.equal(new Set(tomlKeys).size, tomlKeys.length, `${s.id}: TOML keys unique`);
    const words = opts.map((o) => o.ntpConf).filter((w) => w !== null);
    assert.equal(new Set(words).size, words.length, `${s.id}: ntp.conf words unique`);
    for (const part of s.parts) {
      const fields = part.options.map((o) => o.field);
      assert.equal(new Set(fields).size, fields.length, `${s.id}: fields unique`);
    }
    for (const c of s.commands) {
      for (const w of wordsOf(s, c)) {
        assert.ok(optionByWord(s, w), `${s.id}: ${c.keyword} takes "${w}", an option it lacks`);
      }
    }
    for (const o of opts) {
      const where = `${s.id}.${o.field}`;
      assert.ok(o.doc.length > 0 && !o.doc.includes("\n"), `${where}: one-line doc`);
      if (o.applied !== true) assert.ok(o.applied.length > 0, `${where}: says what won't happen`);
      if (o.range) {
        assert.ok(o.range.min <= o.range.max, `${where}: range`);
        const d = o.default;
        if (typeof d === "number") {
          assert.ok(d >= o.range.min && d <= o.range.max, `${where}: default in range`);
        }
      }
      if (o.type === "enum" && o.default !== null && o.values) {
        assert.ok(o.values.includes(o.default as string), `${where}: default is a value`);
      }
      if (o.type === "enum" || o.type === "enum-list") assert.ok(o.values?.length, where);
    }
  }
});
