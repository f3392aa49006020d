// Tests derived from the option spec, so that every ntp.conf keyword, option word and TOML key is
// covered without being listed here: each parses into the model path the spec names, converts
// to TOML and reads back to the same model, and a value outside its range gets ntpd's treatment
// (clamped, ignored or the line dropped, with a warning naming the line and the value used).

import assert from "node:assert/strict";
import { type IncludeReader, parseNtpConf } from "../../lib/config/ntp_conf_parser.ts";
import { parseTomlConfig } from "../../lib/config/toml_config.ts";
import { tomlFloat, tomlString, writeToml } from "../../lib/config/toml_writer.ts";
import { type Diagnostic, formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { NOT_APPLIED_CODE } from "../../lib/config/not_applied.ts";
import { getPath, joinPath } from "../../lib/config/model_path.ts";
import type { NtpConfig } from "../../lib/config/config_model.ts";
import {
  type CommandSpec,
  type OptionSpec,
  type PartSpec,
  type SectionSpec,
  wordsOf,
} from "../../lib/proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../../lib/proto/options/config_spec.ts";

/** Problems: anything but the warnings of what is not applied. */
function problems(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic);
}

/** Values for options whose syntax a type alone does not give (addresses, tokens, names). */
const SAMPLES: Record<string, unknown> = {
  logConfig: ["=syncall", "+clockall"],
  multicastClient: ["239.1.1.2"],
  manycastServer: ["239.1.1.1"],
  phone: ["5551234"],
  refid: "GPS",
  mask: "255.255.255.0",
  interface: "192.0.2.9",
  file: "stats1",
  metrics: ["127.0.0.1:9975", "[::1]:9976"],
};

/** A configured value of `o` that differs from its default, as the model holds it. */
function sampleOf(o: OptionSpec): unknown {
  if (Object.hasOwn(SAMPLES, o.field)) return SAMPLES[o.field];
  switch (o.type) {
    case "flag":
      return true;
    case "bool":
      return !(o.default ?? false);
    case "enum":
      return (o.values ?? []).find((v) => v !== o.default);
    case "enum-list":
      return [(o.values ?? [])[0]];
    case "string":
      return "x";
    case "path":
      return "/var/lib/horae/x";
    case "string-list":
      return ["a", "b"];
    case "int":
    case "int-list": {
      // Next to the default where there is one (so ntpd's rules between options still hold).
      const r = o.range;
      const d = typeof o.default === "number" ? o.default : null;
      const picks = [...(d === null ? [] : [d + 1, d - 1]), ...(r ? [r.min, r.max] : [3])];
      const v = picks.find((p) => p !== d && (!r || (p >= r.min && p <= r.max))) as number;
      return o.type === "int" ? v : [v, r ? Math.min(r.max, v + 1) : v + 1];
    }
    case "number": {
      const r = o.range;
      const d = typeof o.default === "number" ? o.default : null;
      if (d !== null && (!r || d + 0.125 <= r.max)) return d + 0.125;
      return r ? r.min + (r.max - r.min) / 4 + 0.125 : 0.25;
    }
  }
}

/** The ntp.conf words of a value. */
function confWords(o: OptionSpec, v: unknown): string {
  if (o.type === "flag") return "";
  if (o.type === "bool") return v ? "1" : "0";
  return Array.isArray(v) ? v.join(" ") : String(v);
}

/** The TOML text of a value. */
function tomlValue(o: OptionSpec, v: unknown): string {
  const one = (x: unknown): string =>
    typeof x === "string"
      ? tomlString(x)
      : o.type === "number"
      ? tomlFloat(x as number)
      : String(x);
  return Array.isArray(v) ? `[${v.map(one).join(", ")}]` : one(v);
}

/** Lines of commands that are read by hand, for an option word and its value words. */
const CUSTOM_LINES: Record<string, (word: string, value: string) => string> = {
  server: (w, v) => `server a.example ${w} ${v}`,
  peer: (w, v) => `peer a.example ${w} ${v}`,
  pool: (w, v) => `pool a.example ${w} ${v}`,
  broadcast: (w, v) => `broadcast 192.0.2.255 ${w} ${v}`,
  manycastclient: (w, v) => `manycastclient 239.1.1.1 ${w} ${v}`,
  fudge: (w, v) => `server 127.127.1.0\nfudge 127.127.1.0 ${w} ${v}`,
  broadcastclient: (w) => w === "broadcastclient" ? "broadcastclient" : `broadcastclient ${w}`,
  multicastclient: (_w, v) => `multicastclient ${v}`,
  manycastserver: (_w, v) => `manycastserver ${v}`,
  trustedkey: (_w, v) => `trustedkey ${v}`,
  autokey: (_w, v) => `autokey ${v}`,
  crypto: (w, v) => `crypto ${w} ${v}`,
  filegen: (w, v) =>
    w === "link"
      ? `filegen loopstats ${v === "1" ? "link" : "nolink"}`
      : `filegen loopstats ${w} ${v}`,
  enable: (w, v) => `${v === "1" ? "enable" : "disable"} ${w}`,
  disable: (w, v) => `${v === "1" ? "enable" : "disable"} ${w}`,
  trap: (w, v) => `trap 192.0.2.1 ${w} ${v}`,
  setvar: () => "setvar a = b default",
  restrict: (_w, v) => `restrict 192.0.2.0 mask ${v}`,
};

/** A line for every command keyword (aliases too), each valid on its own. */
const KEYWORD_LINES: Record<string, string> = {
  includefile: "includefile part.conf",
  interface: "interface listen eth0",
  nic: "nic drop 10.0.0.0/8",
  setvar: "setvar where = rack default",
  restrict: "restrict default kod limited",
  server: "server a.example iburst",
  peer: "peer b.example",
  pool: "pool pool.example",
  broadcast: "broadcast 192.0.2.255",
  manycastclient: "manycastclient 239.1.1.1",
  fudge: "server 127.127.1.0\nfudge 127.127.1.0 stratum 10",
  broadcastclient: "broadcastclient",
  multicastclient: "multicastclient",
  manycastserver: "manycastserver 239.1.1.1",
  trustedkey: "trustedkey 1 (3 ... 5)",
  autokey: "autokey",
  crypto: "crypto",
  filegen: "filegen peerstats type week",
  enable: "enable stats",
  disable: "disable monitor",
  trap: "trap 192.0.2.1",
  hop: "hop 1 2",
};

/** Where `o` of `s` lives in the model of a one-line file (element 0 of an array). */
function modelPath(s: SectionSpec, part: PartSpec, o: OptionSpec): string {
  return joinPath(s.model, s.array ? 0 : "", part.at, o.field);
}

/** The command that takes option word `w`. */
function commandFor(s: SectionSpec, w: string): CommandSpec | undefined {
  return s.commands.find((c) => wordsOf(s, c).includes(w));
}

/** An ntp.conf line setting option `o` (word `w`) of `s` to the value words `v`. */
function lineFor(s: SectionSpec, w: string, v: string): string {
  const c = commandFor(s, w);
  assert.ok(c, `${s.id}: no command takes "${w}"`);
  switch (c.form) {
    case "value":
    case "list":
      return `${c.keyword} ${v}`;
    case "options":
      return `${c.keyword} ${w} ${v}`;
    case "custom": {
      // A refclock's options go on a server line with a 127.127 address.
      if (s.id === "refclock" && c.keyword === "server") return `server 127.127.1.0 ${w} ${v}`;
      const line = CUSTOM_LINES[c.keyword];
      assert.ok(line, `add a test line for the custom command "${c.keyword}"`);
      return line(w, v);
    }
  }
}

/** A TOML document setting option `o` of `s` to `value` (with the keys an element needs). */
function tomlFor(s: SectionSpec, o: OptionSpec, value: string): string {
  const required: Record<string, string> = {
    source: 'address = "a.example"',
    refclock: "type = 1",
    restrict: 'address = "192.0.2.0"',
    interface: 'action = "listen"\nmatch = "eth0"',
    trap: 'address = "192.0.2.1"',
    setvar: 'name = "a"\nvalue = "b"',
    filegen: 'name = "loopstats"',
  };
  const header = s.array ? `[[${s.toml}]]` : `[${s.toml}]`;
  const need = (required[s.id] ?? "").split("\n").filter((l) => !l.startsWith(`${o.toml} =`));
  return [header, ...need.filter((l) => l !== ""), `${o.toml} = ${value}`].join("\n") + "\n";
}

const OPTIONS = CONFIG_SPEC.sections.flatMap((s) =>
  s.parts.flatMap((part) => part.options.map((o) => ({ s, part, o })))
);

for (const { s, part, o } of OPTIONS) {
  const v = sampleOf(o);
  const path = modelPath(s, part, o);
  if (o.ntpConf !== null) {
    Deno.test(`spec: ntp.conf ${s.id} "${o.ntpConf}" parses, converts and round-trips`, () => {
      const text = lineFor(s, o.ntpConf as string, confWords(o, v)) + "\n";
      const r = parseNtpConf(text, { file: "s.conf" });
      assert.deepEqual(problems(r.diagnostics), [], text);
      assert.deepEqual(getPath(r.config, path), v, `${text} → ${path}`);
      const toml = writeToml(r.config, { comments: r.comments });
      const back = parseTomlConfig(toml, "s.toml");
      assert.deepEqual(problems(back.diagnostics), [], toml);
      assert.deepEqual(back.config, r.config, toml);
    });
  }
  if (s.toml !== null && o.written !== false) {
    Deno.test(`spec: TOML ${s.toml}.${o.toml} parses and round-trips`, () => {
      const text = tomlFor(s, o, tomlValue(o, v));
      const r = parseTomlConfig(text, "s.toml");
      assert.deepEqual(problems(r.diagnostics), [], text);
      assert.deepEqual(getPath(r.config, path), v, `${text} → ${path}`);
      const again = parseTomlConfig(writeToml(r.config), "again.toml");
      assert.deepEqual(problems(again.diagnostics), []);
      assert.deepEqual(again.config, r.config);
    });
  }
  const range = o.range;
  if (range === undefined) continue;
  const isInt = o.type === "int" || o.type === "int-list";
  for (const bad of [range.min - 1, range.max + (isInt ? 1 : 0.5)]) {
    const bound = bad < range.min ? range.min : range.max;
    /** Checks the model after a bad value: ntpd's treatment, and nothing else changed. */
    const treated = (config: NtpConfig, diagnostics: Diagnostic[], what: string): void => {
      assert.deepEqual(
        diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic),
        [],
        "ntpd starts with a value out of range: so does Horae",
      );
      const said = diagnostics.filter((d) => d.code === "range" || d.code === "range-ignored");
      assert.equal(said.length, 1, `${what}: one warning\n${diagnostics.map(formatDiagnostic)}`);
      const warning = said[0] as Diagnostic;
      assert.equal(warning.severity, "warning");
      assert.ok(warning.line > 0, "it names the line");
      assert.match(
        warning.message,
        new RegExp(` ${String(bad).replace(".", "\\.")} is out of range`),
      );
      const got = getPath(config, path);
      const list = getPath(config, s.model);
      switch (range.outside) {
        case "clamp": {
          assert.match(warning.message, new RegExp(`; using ${bound}$`));
          const ruled = diagnostics.some((d) => d.code === "rule");
          if (!ruled) assert.deepEqual(Array.isArray(got) ? got.at(-1) : got, bound, what);
          break;
        }
        case "ignore":
          assert.match(warning.message, /; ignored/);
          if (Array.isArray(got)) assert.ok(!got.includes(bad), what);
          else assert.deepEqual(got, s.array ? o.default : o.default, what);
          break;
        case "drop":
          assert.match(warning.message, /the whole .* is ignored, as ntpd does$/);
          assert.ok(s.array, "only a line that makes an element can be dropped");
          assert.deepEqual(
            (list as unknown[]).filter((el) => getPath(el, joinPath(part.at, o.field)) === bad),
            [],
            what,
          );
          break;
      }
    };
    if (o.ntpConf !== null) {
      Deno.test(`spec: ntp.conf ${s.id} "${o.ntpConf}" ${bad} gets ntpd's "${range.outside}"`, () => {
        const text = lineFor(s, o.ntpConf as string, String(bad)) + "\n";
        const r = parseNtpConf(text, { file: "r.conf" });
        treated(r.config, r.diagnostics, text);
      });
    }
    if (s.toml !== null) {
      Deno.test(`spec: TOML ${s.toml}.${o.toml} = ${bad} gets ntpd's "${range.outside}"`, () => {
        const text = tomlFor(s, o, o.type === "int-list" ? `[${bad}]` : tomlValue(o, bad));
        const r = parseTomlConfig(text, "r.toml");
        treated(r.config, r.diagnostics, text);
      });
    }
  }
}

Deno.test("spec: every ntp.conf keyword has a line that loads cleanly and round-trips", () => {
  const keywords = CONFIG_SPEC.sections.flatMap((s) =>
    s.commands.flatMap((c) => [c.keyword, ...(c.aliases ?? [])])
  );
  const reader: IncludeReader = () => ({
    ok: true,
    text: "server inc.example\n",
    file: "part.conf",
    id: "part",
  });
  for (const k of new Set(keywords)) {
    const found = CONFIG_SPEC.sections.flatMap((s) => s.commands).find((c) =>
      c.keyword === k || (c.aliases ?? []).includes(k)
    ) as CommandSpec;
    const s = CONFIG_SPEC.sections.find((x) => x.commands.includes(found)) as SectionSpec;
    const first = wordsOf(s, found)[0];
    const option = s.parts.flatMap((p) => p.options).find((o) => o.ntpConf === first);
    const line = KEYWORD_LINES[k] ??
      (option ? lineFor(s, first as string, confWords(option, sampleOf(option))) : undefined);
    assert.ok(line, `add a line for "${k}" to KEYWORD_LINES`);
    const r = parseNtpConf(line + "\n", { file: "k.conf", readInclude: reader });
    assert.deepEqual(problems(r.diagnostics), [], line);
    assert.equal(r.droppedLines, 0, line);
    const back = parseTomlConfig(writeToml(r.config), "k.toml");
    assert.deepEqual(problems(back.diagnostics), [], line);
    assert.deepEqual(back.config, r.config, line);
  }
});

Deno.test("spec: the unsupported keywords are known, warned about and not translated", () => {
  for (const u of CONFIG_SPEC.unsupported) {
    const r = parseNtpConf(`${u.keyword} 1\n`, { file: "u.conf" });
    assert.deepEqual(r.diagnostics.map((d) => d.code), ["unsupported"]);
    assert.equal(r.droppedLines, 1);
  }
});
