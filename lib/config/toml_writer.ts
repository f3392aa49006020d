// TOML writer for the configuration model: the tables, their order, their grouping under
// headings and which values are written (defaults left out) all come from the option spec;
// ntp.conf comments are kept in place, and what the daemon does not apply yet is noted.

import {
  defaultFilegen,
  type FilegenConfig,
  type NtpConfig,
  type RestrictRule,
} from "./config_model.ts";
import {
  type ConfigSpec,
  type OptionSpec,
  SECTION_GROUPS,
  type SectionSpec,
} from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { classifyAddress } from "./address.ts";
import { hostMaskText } from "../proto/ip.ts";
import type { ConfigComments } from "./config_comments.ts";
import { getPath, joinPath } from "./model_path.ts";

/** Options of `writeToml`. */
export interface TomlWriteOptions {
  /** Comments to place next to their elements (from the ntp.conf parser). */
  comments?: ConfigComments;
  /** Lines for a banner comment at the very top (e.g. "Converted from /etc/ntp.conf"). */
  banner?: string[];
  /** The option spec to write with (default: Horae's). */
  spec?: ConfigSpec;
}

/** Quotes a string as a TOML basic string. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/** Formats a float so TOML reads it back as the same number (and as a float). */
export function tomlFloat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function tomlArray(values: readonly (string | number)[]): string {
  return `[${values.map((v) => typeof v === "string" ? tomlString(v) : String(v)).join(", ")}]`;
}

/** Builds TOML text line by line, placing comments and tracking which comment keys were used. */
class TomlOut {
  readonly lines: string[] = [];
  readonly #comments: ConfigComments | undefined;
  readonly #used = new Set<string>();

  constructor(comments: ConfigComments | undefined) {
    this.#comments = comments;
  }

  /** True when the source file wrote this model path explicitly. */
  isExplicit(path: string): boolean {
    return this.#comments?.explicit.has(path) ?? false;
  }

  comment(key: string): void {
    const list = this.#comments?.byKey.get(key);
    if (!list || this.#used.has(key)) return;
    this.#used.add(key);
    for (const c of list) this.lines.push(`#${c}`);
  }

  after(key: string): void {
    const list = this.#comments?.after.get(key);
    if (!list || this.#used.has(`after:${key}`)) return;
    this.#used.add(`after:${key}`);
    for (const c of list) this.lines.push(`#${c}`);
  }

  group(title: string): void {
    if (this.lines.length > 0) this.lines.push("");
    this.lines.push(`# ==== ${title} ====`);
  }

  /** A table header, after its carried comments and any notes. */
  table(header: string, key: string | null, notes: readonly string[] = []): void {
    this.lines.push("");
    if (key !== null) this.comment(key);
    this.lines.push(...notes);
    this.lines.push(header);
  }

  /** A `name = value` line, after its carried comments and any notes. */
  kv(name: string, value: string, key: string | null = null, notes: readonly string[] = []): void {
    if (key !== null) this.comment(key);
    this.lines.push(...notes);
    this.lines.push(`${name} = ${value}`);
    if (key !== null) this.after(key);
  }

  unused(): string[] {
    const out: string[] = [];
    for (const [key, list] of this.#comments?.byKey ?? []) {
      if (!this.#used.has(key)) out.push(...list);
    }
    for (const [key, list] of this.#comments?.after ?? []) {
      if (!this.#used.has(`after:${key}`)) out.push(...list);
    }
    return out;
  }
}

/** True when rules i and i+1 are the IPv4 and IPv6 halves of one family-less `restrict default`. */
function isDefaultPair(a: RestrictRule | undefined, b: RestrictRule | undefined): boolean {
  return a !== undefined && b !== undefined && a.match === "default" && b.match === "default" &&
    a.family === "ipv4" && b.family === "ipv6" && a.flags.join() === b.flags.join();
}

function writeRestrict(out: TomlOut, rules: readonly RestrictRule[], notes: string[]): void {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i] as RestrictRule;
    const pair = isDefaultPair(r, rules[i + 1]);
    out.table("[[restrict]]", `restrict.${i}`, i === 0 ? notes : []);
    if (pair) out.comment(`restrict.${i + 1}`);
    if (r.match === "default") {
      out.kv("address", tomlString("default"));
      if (!pair) out.kv("family", tomlString(r.family));
    } else if (r.match === "source") {
      out.kv("address", tomlString("source"));
      if (r.family !== "any") out.kv("family", tomlString(r.family));
    } else {
      out.kv("address", tomlString(r.address));
      const c = classifyAddress(r.address);
      const literalFamily = c.kind === "ipv4" || c.kind === "refclock"
        ? "ipv4"
        : c.kind === "ipv6"
        ? "ipv6"
        : null;
      if (r.family !== "any" && r.family !== literalFamily) {
        out.kv("family", tomlString(r.family));
      }
      const defaultMask = literalFamily === null
        ? null
        : hostMaskText(literalFamily === "ipv4" ? 4 : 6);
      if (r.mask !== null && r.mask !== defaultMask) out.kv("mask", tomlString(r.mask));
    }
    if (r.flags.length > 0) out.kv("flags", tomlArray(r.flags));
    out.after(`restrict.${i}`);
    if (pair) {
      out.after(`restrict.${i + 1}`);
      i++;
    }
  }
}

function writeFilegen(out: TomlOut, g: FilegenConfig, i: number, notes: string[]): void {
  out.table("[[stats.filegen]]", `stats.filegens.${i}`, notes);
  out.kv("name", tomlString(g.name));
  const d = defaultFilegen(g.name);
  if (g.file !== d.file) out.kv("file", tomlString(g.file));
  out.kv("type", tomlString(g.type));
  out.kv("link", String(g.link));
  out.after(`stats.filegens.${i}`);
}

/** The TOML text of a value of option `o`. */
function formatValue(o: OptionSpec, v: unknown): string {
  switch (o.type) {
    case "number":
      return tomlFloat(v as number);
    case "string":
    case "path":
    case "enum":
      return tomlString(v as string);
    case "int-list":
    case "string-list":
    case "enum-list":
      return tomlArray(v as (string | number)[]);
    default:
      return String(v);
  }
}

/** True when `v` is what the option holds when not configured. */
function isDefault(o: OptionSpec, v: unknown): boolean {
  if (Array.isArray(o.default)) return Array.isArray(v) && v.length === 0;
  return v === o.default;
}

/** The "not applied yet" notes, each said once per document. */
class Notes {
  readonly #said = new Set<string>();
  /** The comment lines for `texts` not said yet. */
  take(...texts: (true | string | undefined)[]): string[] {
    const lines: string[] = [];
    for (const text of texts) {
      if (text === true || text === undefined || this.#said.has(text)) continue;
      this.#said.add(text);
      lines.push(`# Horae does not apply this yet: ${text}.`);
    }
    return lines;
  }
}

/** Writes one object of a section: the options of every part that differ from the default. */
function writeOptions(
  out: TomlOut,
  notes: Notes,
  s: SectionSpec,
  values: Record<string, unknown>,
  base: string,
  skipNotes: boolean,
): void {
  for (const part of s.parts) {
    for (const o of part.options) {
      if (o.written === false) continue;
      const path = joinPath(base, part.at, o.field);
      const v = getPath(values, joinPath(part.at, o.field));
      if (v === null || v === undefined) continue;
      const show = o.always === true ||
        (!isDefault(o, v) && !(o.type === "flag" && v === false)) || out.isExplicit(path);
      if (!show) continue;
      out.kv(o.toml, formatValue(o, v), path, skipNotes ? [] : notes.take(o.applied));
    }
  }
}

/** True when a table section has anything to write. */
function tableHasContent(out: TomlOut, s: SectionSpec, config: NtpConfig): boolean {
  if (s.id === "crypto") return config.auth.crypto.enabled;
  return s.parts.some((part) =>
    part.options.some((o) => {
      if (o.written === false) return false;
      const path = joinPath(s.model, part.at, o.field);
      const v = getPath(config, path);
      if (v === null || v === undefined) return false;
      return o.always === true || (!isDefault(o, v) && !(o.type === "flag" && v === false)) ||
        out.isExplicit(path);
    })
  );
}

function sectionHasContent(out: TomlOut, s: SectionSpec, config: NtpConfig): boolean {
  if (s.toml === null) return false;
  if (s.array) {
    const list = getPath(config, s.model);
    return Array.isArray(list) && list.length > 0;
  }
  return tableHasContent(out, s, config);
}

function writeSection(out: TomlOut, notes: Notes, s: SectionSpec, config: NtpConfig): void {
  const command = s.commands[0];
  if (s.array) {
    const list = getPath(config, s.model) as Record<string, unknown>[];
    if (s.id === "restrict") {
      writeRestrict(out, list as unknown as RestrictRule[], notes.take(command?.applied));
      return;
    }
    list.forEach((el, i) => {
      const base = `${s.model}.${i}`;
      if (s.id === "filegen") {
        writeFilegen(out, el as unknown as FilegenConfig, i, notes.take(command?.applied));
        return;
      }
      const applies = s.id === "source"
        ? s.commands.find((c) => c.keyword === el.kind)?.applied
        : command?.applied;
      const element = s.elementApplied?.(el) ?? true;
      out.table(`[[${s.toml}]]`, base, notes.take(applies, element));
      writeOptions(out, notes, s, el, base, applies !== true || element !== true);
      out.after(base);
    });
    return;
  }
  const key = s.model !== "" ? s.model : s.id;
  // In a table, each option carries its own note (said once for options that share it).
  out.table(`[${s.toml}]`, key, s.id === "crypto" ? notes.take(command?.applied) : []);
  const values = getPath(config, s.model) as Record<string, unknown>;
  writeOptions(out, notes, s, values, s.model, false);
  out.after(key);
}

/** Renders a configuration model as a TOML document that `parseTomlConfig` loads back to it. */
export function writeToml(config: NtpConfig, options: TomlWriteOptions = {}): string {
  const spec = options.spec ?? CONFIG_SPEC;
  const comments = options.comments;
  const out = new TomlOut(comments);
  const notes = new Notes();
  for (const b of options.banner ?? []) out.lines.push(b === "" ? "#" : `# ${b}`);
  if (comments && comments.header.length > 0) {
    if (out.lines.length > 0 && out.lines.at(-1) !== "#") out.lines.push("#");
    for (const c of comments.header) out.lines.push(`#${c}`);
  }

  for (const group of SECTION_GROUPS) {
    const sections = spec.sections.filter((s) =>
      s.group === group.id && sectionHasContent(out, s, config)
    );
    if (sections.length === 0) continue;
    out.group(group.title);
    for (const s of sections) writeSection(out, notes, s, config);
  }

  // ---- what found no place ----
  const leftovers = out.unused();
  const dropped = comments?.dropped ?? [];
  const trailer = comments?.trailer ?? [];
  if (leftovers.length > 0 || dropped.length > 0) {
    out.lines.push("");
    out.lines.push("# ==== comments and lines with no TOML equivalent ====");
    for (const c of [...leftovers, ...dropped]) {
      out.lines.push(`#${c.startsWith(" ") ? "" : " "}${c}`);
    }
  }
  if (trailer.length > 0) {
    out.lines.push("");
    for (const c of trailer) out.lines.push(`#${c}`);
  }
  if (out.lines.length === 0) {
    out.lines.push("# Empty configuration: every setting at its default.");
  }
  return out.lines.join("\n").replace(/^\n+/, "") + "\n";
}
