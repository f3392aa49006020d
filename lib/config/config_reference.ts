// The configuration reference (docs/horae.conf.5.md), rendered from the option spec: every
// command, option, TOML key, type, unit, range and ntpd's treatment of values outside it,
// default, and what the daemon does not apply yet. `deno task docs:config` writes it.

import {
  type CommandSpec,
  type ConfigSpec,
  type OptionSpec,
  type Range,
  SECTION_GROUPS,
  type SectionSpec,
  wordsOf,
} from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { RESTRICT_FLAG_DOCS } from "../proto/options/access.ts";

/** Where the checked-in reference lives, relative to the repository root. */
export const CONFIG_REFERENCE_PATH = "docs/horae.conf.5.md";

/** Escapes text for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function code(text: string): string {
  return `\`${text}\``;
}

function typeOf(o: OptionSpec): string {
  const values = (o.values ?? []).join(", ");
  switch (o.type) {
    case "flag":
      return "flag";
    case "bool":
      return "boolean";
    case "int":
      return "integer";
    case "number":
      return "number";
    case "string":
      return "text";
    case "path":
      return "file";
    case "enum":
      return `one of ${values}`;
    case "int-list":
      return "integers";
    case "string-list":
      return "texts";
    case "enum-list":
      return `some of ${values}`;
  }
}

const OUTSIDE: Record<Range["outside"], string> = {
  clamp: "clamped",
  ignore: "ignored",
  drop: "line ignored",
};

function rangeOf(o: OptionSpec): string {
  const r = o.range;
  if (r === undefined) return "";
  const text = `${r.min}–${r.max}; outside: ${OUTSIDE[r.outside]}`;
  return r.compat === undefined ? text : `${text} (${r.compat})`;
}

function defaultOf(o: OptionSpec): string {
  const d = o.default;
  if (d === null) return "not set";
  if (Array.isArray(d)) return "none";
  if (typeof d === "string") return d === "" ? "—" : code(d);
  return code(String(d));
}

function appliedOf(applied: true | string): string {
  return applied === true ? "yes" : `**no**: ${applied}`;
}

/** How an option is written in ntp.conf, given the commands of its section. */
function ntpConfOf(s: SectionSpec, o: OptionSpec): string {
  if (o.ntpConf === null) return "(position)";
  const c = s.commands.find((x) => wordsOf(s, x).includes(o.ntpConf as string));
  if (c === undefined) return code(o.ntpConf);
  if (c.form === "value" || c.form === "list" || c.keyword === o.ntpConf) return code(c.keyword);
  if (s.id === "system") return code(`enable/disable ${o.ntpConf}`);
  return code(`${c.keyword} … ${o.ntpConf}`);
}

function commandLine(c: CommandSpec): string {
  const names = [c.keyword, ...(c.aliases ?? [])].map(code).join(", ");
  const origin = c.origin === "horae" ? " (Horae extension)" : "";
  const applied = c.applied === true ? "" : ` **Not applied**: ${c.applied}.`;
  return `- ${names} ${code(c.syntax)} — ${c.doc}${origin}${applied}`;
}

function sectionText(s: SectionSpec): string[] {
  const out: string[] = [];
  const tomlName = s.toml === null
    ? "no TOML table"
    : `TOML ${code(s.array ? `[[${s.toml}]]` : `[${s.toml}]`)}`;
  out.push(`### ${s.title}`, "", `${s.doc} (${tomlName})`, "");
  for (const c of s.commands) out.push(commandLine(c));
  if (s.commands.length > 0) out.push("");
  const options = s.parts.flatMap((p) => p.options);
  if (options.length > 0) {
    out.push(
      "| ntp.conf | TOML | type | unit | range | default | applied | meaning |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const o of options) {
      const doc = o.origin === "horae" ? `${o.doc} (Horae extension)` : o.doc;
      out.push(
        "| " + [
          ntpConfOf(s, o),
          s.toml === null ? "" : code(o.toml),
          typeOf(o),
          o.unit ?? "",
          rangeOf(o),
          defaultOf(o),
          appliedOf(o.applied),
          doc,
        ].map(cell).join(" | ") + " |",
      );
    }
    out.push("");
  }
  if (s.id === "restrict") {
    out.push("Restrict flags:", "");
    for (const [flag, doc] of Object.entries(RESTRICT_FLAG_DOCS)) {
      out.push(`- ${code(flag)}: ${doc}.`);
    }
    out.push("");
  }
  for (const r of s.rules ?? []) out.push(`Rule: ${r.doc}`, "");
  return out;
}

/** The reference page, in Markdown, for `spec`. */
export function renderConfigReference(spec: ConfigSpec = CONFIG_SPEC): string {
  const out: string[] = [
    "# horae.conf(5)",
    "",
    "<!-- Generated from the option spec (lib/proto/options) by `deno task docs:config`. " +
    "Do not edit: a test fails when this page is not current. -->",
    "",
    "## NAME",
    "",
    "horae.conf — configuration of the Horae NTP daemon, in ntpd's ntp.conf language or in TOML",
    "",
    "## DESCRIPTION",
    "",
    "Horae reads ntpd 4.2.x's ntp.conf(5) language (a `.conf` file, or any file that does not " +
    "look like TOML) and its own TOML form (a `.toml` file, or `--toml`). Both describe the same " +
    "settings: `horae convert` translates an ntp.conf into TOML, keeping its comments, and " +
    "`horae check` validates either, printing every problem as `file:line:col: severity: message`.",
    "",
    "A value outside its range gets ntpd's treatment: clamped to the nearest bound, ignored " +
    "(the default stays), or its whole line ignored, always with a warning that names the file, " +
    "the line and the value used. Like ntpd, Horae never refuses to start over such a value.",
    "",
    "Some settings are read but not yet acted on by the daemon. Each of them, when configured, " +
    "is a warning from `horae check` and at start, saying what will not happen; they are marked " +
    "**no** in the *applied* column below and listed under NOT APPLIED YET.",
    "",
    "An unknown keyword, option or TOML key is a warning (an error with `check --strict`) that " +
    "names the closest known word.",
    "",
  ];
  for (const g of SECTION_GROUPS) {
    const sections = spec.sections.filter((s) => s.group === g.id);
    if (sections.length === 0) continue;
    out.push(`## ${g.title.toUpperCase()} SETTINGS`, "");
    for (const s of sections) out.push(...sectionText(s));
  }
  out.push("## HORAE EXTENSIONS", "");
  for (const s of spec.sections) {
    for (const c of s.commands) {
      if (c.origin === "horae") out.push(`- ${code(c.keyword)}: ${c.doc}`);
    }
    for (const o of s.parts.flatMap((p) => p.options)) {
      if (o.origin !== "horae") continue;
      const conf = o.ntpConf === null ? "" : `ntp.conf ${ntpConfOf(s, o)}, `;
      out.push(`- ${conf}TOML ${code(`[${s.toml}] ${o.toml}`)}: ${o.doc}`);
    }
  }
  out.push("", "## NOT APPLIED YET", "");
  const seen = new Set<string>();
  for (const s of spec.sections) {
    // A command not applied says it once; its options only when they add something.
    const items: [string, string][] = [
      ...s.commands.filter((c) => c.applied !== true).map((c): [string, string] => [
        c.keyword,
        c.applied as string,
      ]),
      ...s.parts.flatMap((p) => p.options).filter((o) => {
        if (o.applied === true || o.ntpConf === null) return false;
        const c = s.commands.find((x) => wordsOf(s, x).includes(o.ntpConf as string));
        return c === undefined || c.applied !== o.applied;
      }).map((o): [string, string] => [ntpConfOf(s, o).replace(/`/g, ""), o.applied as string]),
    ];
    for (const [name, what] of items) {
      const line = `- ${code(name)} (${s.title}): ${what}.`;
      if (seen.has(line)) continue;
      seen.add(line);
      out.push(line);
    }
  }
  out.push("", "## RECOGNISED, NOT SUPPORTED", "");
  out.push("These ntpd keywords are known; their lines are ignored with a warning.", "");
  for (const u of spec.unsupported) out.push(`- ${code(u.keyword)}: ${u.doc}`);
  out.push(
    "",
    "## SEE ALSO",
    "",
    "ntp.conf(5) and ntp.keys(5) of ntpd 4.2.x; `horae check --help`, `horae convert --help`.",
    "",
  );
  return out.join("\n");
}
