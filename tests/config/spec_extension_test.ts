// Adding an option is one edit to the spec: a throwaway option added to `tos`, and a throwaway
// section with a one-value command, are parsed from ntp.conf and TOML, defaulted, range-checked
// with ntpd's treatment, reported as not applied, suggested for typos, written by the TOML
// writer and listed in the reference, with no other code knowing about them.

import assert from "node:assert/strict";
import { emptyConfig } from "../../lib/config/config_model.ts";
import { formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { getPath } from "../../lib/config/model_path.ts";
import { parseNtpConf } from "../../lib/config/ntp_conf_parser.ts";
import { parseTomlConfig } from "../../lib/config/toml_config.ts";
import { writeToml } from "../../lib/config/toml_writer.ts";
import { renderConfigReference } from "../../lib/config/config_reference.ts";
import { type ConfigSpec, option, section } from "../../lib/proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../../lib/proto/options/config_spec.ts";

const FROB = option({
  field: "frobnicateSec",
  ntpConf: "frobnicate",
  toml: "frobnicate",
  type: "int",
  unit: "s",
  range: { min: 1, max: 9, outside: "clamp" },
  default: 5,
  doc: "How long to frobnicate.",
  applied: "frobnication is not implemented",
});

const WIDGET = section({
  id: "widget",
  title: "Widgets",
  doc: "A throwaway section.",
  group: "tuning",
  model: "widget",
  toml: "widget",
  array: false,
  parts: [{
    at: "",
    options: [
      option({
        field: "sizeBytes",
        ntpConf: "widgetsize",
        toml: "size",
        type: "int",
        range: { min: 0, max: 100, outside: "ignore" },
        default: 10,
        doc: "Size of the widget.",
        applied: true,
      }),
    ],
  }],
  commands: [{
    keyword: "widgetsize",
    syntax: "bytes",
    doc: "Size the widget.",
    form: "value",
    applied: true,
  }],
});

/** Horae's spec, plus `tos frobnicate` and the widget section: nothing else changes. */
const SPEC: ConfigSpec = {
  ...CONFIG_SPEC,
  sections: [
    ...CONFIG_SPEC.sections.map((s) =>
      s.id !== "tos"
        ? s
        : { ...s, parts: s.parts.map((p) => ({ ...p, options: [...p.options, FROB] })) }
    ),
    WIDGET,
  ],
};

Deno.test("a throwaway option gets its default in the model", () => {
  const c = emptyConfig(SPEC);
  assert.equal(getPath(c, "tos.frobnicateSec"), 5);
  assert.equal(getPath(c, "widget.sizeBytes"), 10);
  assert.equal(
    getPath(emptyConfig(), "tos.frobnicateSec"),
    undefined,
    "Horae's own spec is untouched",
  );
});

Deno.test("a throwaway option is read from ntp.conf, range-checked and reported", () => {
  const r = parseNtpConf("tos frobnicate 7 orphan 9\nwidgetsize 42\n", {
    file: "x.conf",
    spec: SPEC,
  });
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'x.conf:1:5: warning: "tos frobnicate" is parsed but not applied: frobnication is not ' +
    "implemented",
  ]);
  assert.equal(getPath(r.config, "tos.frobnicateSec"), 7);
  assert.equal(getPath(r.config, "tos.orphan"), 9);
  assert.equal(getPath(r.config, "widget.sizeBytes"), 42);

  const out = parseNtpConf("tos frobnicate 12\nwidgetsize 500\ntos frobnicat 3\n", {
    file: "y.conf",
    spec: SPEC,
  });
  assert.deepEqual(out.diagnostics.filter((d) => d.code !== "not-applied").map(formatDiagnostic), [
    "y.conf:1:16: warning: tos frobnicate 12 is out of range 1–9; using 9",
    "y.conf:2:12: warning: widgetsize 500 is out of range 0–100; ignored; keeping the default 10",
    'y.conf:3:5: warning: unknown tos option "frobnicat" (did you mean "frobnicate"?); ignored',
  ]);
  assert.equal(getPath(out.config, "tos.frobnicateSec"), 9);
  assert.equal(getPath(out.config, "widget.sizeBytes"), 10);
  assert.match(
    parseNtpConf("widgetsiz 4\n", { spec: SPEC }).diagnostics[0]?.message ?? "",
    /did you mean "widgetsize"/,
  );
});

Deno.test("a throwaway option is read from TOML and written back by the TOML writer", () => {
  const r = parseTomlConfig("[tos]\nfrobnicate = 3\n\n[widget]\nsize = 64\n", "x.toml", SPEC);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'x.toml:2:1: warning: "tos.frobnicate" is parsed but not applied: frobnication is not ' +
    "implemented",
  ]);
  assert.equal(getPath(r.config, "tos.frobnicateSec"), 3);
  const toml = writeToml(r.config, { spec: SPEC });
  assert.match(toml, /\[tos\]\n# Horae does not apply this yet: frobnication .*\nfrobnicate = 3\n/);
  assert.match(toml, /\[widget\]\nsize = 64\n/);
  assert.deepEqual(parseTomlConfig(toml, "back.toml", SPEC).config, r.config);
  // Horae's own reader does not know the key, and says so.
  assert.match(
    formatDiagnostic(parseTomlConfig("[tos]\nfrobnicate = 3\n", "h.toml").diagnostics[0]!),
    /unknown key "tos\.frobnicate"/,
  );
  const bad = parseTomlConfig("[tos]\nfrobnicate = 0\n", "b.toml", SPEC);
  assert.match(
    formatDiagnostic(bad.diagnostics[0]!),
    /b\.toml:2:1: warning: tos frobnicate 0 .* using 1$/,
  );
});

Deno.test("a throwaway option appears in the reference", () => {
  const page = renderConfigReference(SPEC);
  assert.match(
    page,
    /\| `tos … frobnicate` \| `frobnicate` \| integer \| s \| 1–9; outside: clamped \|/,
  );
  assert.match(page, /### Widgets/);
  assert.match(
    page,
    /- `tos … frobnicate` \(Selection and orphan mode\): frobnication is not implemented\./,
  );
});
