// The shape of the option specification: each configuration option described once (ntp.conf
// word, TOML key, type, unit, range, default, one-line doc, whether the daemon applies it), so
// that both readers, the TOML writer, validation, `check` and the reference page derive from it.
// Pure data and pure functions, like the rest of the core.

/** How a value is written. */
export type ValueType =
  /** A bare word in ntp.conf (`iburst`), a boolean in TOML; false unless given. */
  | "flag"
  /** A boolean: `0`/`1` in ntp.conf (fudge flags) or set by enable/disable. */
  | "bool"
  | "int"
  | "number"
  | "string"
  | "path"
  /** One word of `values`. */
  | "enum"
  | "int-list"
  | "string-list"
  /** Words of `values`. */
  | "enum-list";

/**
 * What happens to a value outside its range, following ntpd 4.2.x, always with a warning that
 * names the file, the line and the value used: clamped to the nearest bound, ignored (the
 * default stays), or the whole line ignored. No out-of-range value stops the daemon, because
 * none stops ntpd.
 */
export type OutOfRange = "clamp" | "ignore" | "drop";

/** The accepted values of a number, and ntpd's treatment of the others. */
export interface Range {
  readonly min: number;
  readonly max: number;
  readonly outside: OutOfRange;
  /** How Horae's bounds differ from ntpd's, when they do (shown in the reference). */
  readonly compat?: string;
}

/** A value the option may hold. */
export type OptionDefault = boolean | number | string | null | readonly never[];

/** One option: a value in the configuration model. */
export interface OptionSpec {
  /** Field of the model object (with a unit suffix where it has one: `maxdistSec`). */
  readonly field: string;
  /**
   * The ntp.conf spelling: the option word on its line (`minpoll`), or the command keyword for a
   * command that sets just this value (`driftfile`). Null when the value has no word of its own
   * (a positional argument such as a source address) or exists only in TOML.
   */
  readonly ntpConf: string | null;
  /** The TOML key in its table. */
  readonly toml: string;
  readonly type: ValueType;
  /** The words an enum takes. */
  readonly values?: readonly string[];
  /** Unit of a number: "s", "log2 s", "ppm", ... */
  readonly unit?: string;
  /** Accepted range of a number (or of each number of a list). */
  readonly range?: Range;
  /** The value when not configured; null means "not set". */
  readonly default: OptionDefault;
  /** One line of documentation. */
  readonly doc: string;
  /** True when the daemon acts on the option today; otherwise what will not happen. */
  readonly applied: true | string;
  /** "horae" for Horae's own extensions of ntpd's syntax. */
  readonly origin?: "horae";
  /** TOML: an element of an array of tables needs this key. */
  readonly required?: true;
  /** TOML writer: always written, even at its default. */
  readonly always?: true;
  /** TOML writer: never written in this table (it is written through another option). */
  readonly written?: false;
  /** Lists: most values kept; the rest are ignored with a warning (as ntpd does). */
  readonly maxItems?: number;
}

/** How an ntp.conf command line is read. */
export type CommandForm =
  /** `keyword value`: sets the option whose ntp.conf word is the keyword. */
  | "value"
  /** `keyword value ...`: a list option whose ntp.conf word is the keyword. */
  | "list"
  /** `keyword name value name value ...` over the options named in `takes`. */
  | "options"
  /** Read by code of its own (positional arguments, flags, ranges). */
  | "custom";

/** One ntp.conf command (the first word of a line). */
export interface CommandSpec {
  readonly keyword: string;
  /** Other spellings accepted for the same command. */
  readonly aliases?: readonly string[];
  /** What follows the keyword, for the reference ("address [option ...]"). */
  readonly syntax: string;
  readonly doc: string;
  readonly form: CommandForm;
  /** The ntp.conf words of the section's options the line takes (default: every word). */
  readonly takes?: readonly string[];
  /** True when the daemon acts on the command today; otherwise what will not happen. */
  readonly applied: true | string;
  /** "horae" for Horae's own commands. */
  readonly origin?: "horae";
}

/** Options that live in one object of the model (`at` is relative to the section's model). */
export interface PartSpec {
  /** Dotted path from the section's model object ("" for the object itself, "fudge", "files"). */
  readonly at: string;
  readonly options: readonly OptionSpec[];
}

/** A problem found by a rule: the field it is about and the message. */
export interface RuleIssue {
  readonly field: string;
  readonly message: string;
}

/** A rule between options of one section instance, as ntpd checks it. */
export interface RuleSpec {
  /** One line for the reference. */
  readonly doc: string;
  /**
   * Checks one instance (a table, or an element of an array) and returns its problems as
   * warnings; it may correct values in place where ntpd corrects them.
   */
  readonly check: (values: Record<string, unknown>) => RuleIssue[];
}

/** Which part of the TOML file (and of the reference) a section belongs to. */
export type SectionGroup =
  | "daemon"
  | "sources"
  | "access"
  | "auth"
  | "stats"
  | "refclocks"
  | "tuning";

/** Headings of the groups, in the order the TOML writer and the reference use. */
export const SECTION_GROUPS: readonly { id: SectionGroup; title: string }[] = [
  { id: "daemon", title: "daemon" },
  { id: "sources", title: "sources" },
  { id: "access", title: "access" },
  { id: "auth", title: "auth" },
  { id: "stats", title: "stats" },
  { id: "refclocks", title: "refclocks" },
  { id: "tuning", title: "tuning" },
];

/** One section: a table (or array of tables) of TOML and the ntp.conf commands that fill it. */
export interface SectionSpec {
  readonly id: string;
  /** Heading in the reference. */
  readonly title: string;
  /** A few words about the section for the reference. */
  readonly doc: string;
  readonly group: SectionGroup;
  /** Path of the section's object (or array) in the model; "" for the model root. */
  readonly model: string;
  /** TOML table path ("tos", "auth.crypto"), null when the section has no TOML table. */
  readonly toml: string | null;
  /** True for an array of tables (`[[source]]`): one element per ntp.conf line. */
  readonly array: boolean;
  readonly parts: readonly PartSpec[];
  readonly commands: readonly CommandSpec[];
  readonly rules?: readonly RuleSpec[];
  /**
   * For arrays: whether the daemon acts on this element given its values (a refclock driver
   * that is not implemented); true, or what will not happen.
   */
  readonly elementApplied?: (element: Record<string, unknown>) => true | string;
}

/** A keyword of ntpd that Horae recognises but does not implement (the line is ignored). */
export interface UnsupportedCommand {
  readonly keyword: string;
  readonly doc: string;
}

/** The whole specification: every section, and the keywords Horae knows but ignores. */
export interface ConfigSpec {
  readonly sections: readonly SectionSpec[];
  readonly unsupported: readonly UnsupportedCommand[];
}

/** Declares an option, keeping its literal types so the model's types can derive from it. */
export function option<const O extends OptionSpec>(o: O): O {
  return o;
}

/** Declares a section. */
export function section<const S extends SectionSpec>(s: S): S {
  return s;
}

type BaseValue<O> = O extends { type: "flag" | "bool" } ? boolean
  : O extends { type: "enum"; values: readonly (infer V)[] } ? V
  : O extends { type: "enum-list"; values: readonly (infer V)[] } ? V[]
  : O extends { type: "string" | "path" } ? string
  : O extends { type: "int-list" } ? number[]
  : O extends { type: "string-list" } ? string[]
  : number;

/** The model type of one option: its value type, or that or null when the default is null. */
export type OptionValue<O> = O extends { default: null } ? BaseValue<O> | null : BaseValue<O>;

/** The model object that a list of options describes: one field per option. */
export type ValuesOf<L extends readonly OptionSpec[]> = {
  -readonly [O in L[number] as O["field"]]: OptionValue<O>;
};

/** A fresh copy of a default (lists are copied so that models never share them). */
export function copyDefault(o: OptionSpec): unknown {
  return Array.isArray(o.default) ? [] : o.default;
}

/** The defaults of a list of options, as the model object it describes. */
export function defaultsOf<const L extends readonly OptionSpec[]>(options: L): ValuesOf<L> {
  const out: Record<string, unknown> = {};
  for (const o of options) out[o.field] = copyDefault(o);
  return out as ValuesOf<L>;
}

/** Every option of a section, with the part it belongs to. */
export function sectionOptions(s: SectionSpec): { part: PartSpec; option: OptionSpec }[] {
  return s.parts.flatMap((part) => part.options.map((option) => ({ part, option })));
}

/** Every command keyword (aliases included) and unsupported keyword of a specification. */
export function allKeywords(spec: ConfigSpec): string[] {
  const words = new Set<string>();
  for (const s of spec.sections) {
    for (const c of s.commands) {
      words.add(c.keyword);
      for (const a of c.aliases ?? []) words.add(a);
    }
  }
  for (const u of spec.unsupported) words.add(u.keyword);
  return [...words];
}

/** The command a keyword (or alias) starts, with its section; the first section wins. */
export function findCommand(
  spec: ConfigSpec,
  keyword: string,
): { section: SectionSpec; command: CommandSpec } | null {
  for (const section of spec.sections) {
    for (const command of section.commands) {
      if (command.keyword === keyword || (command.aliases ?? []).includes(keyword)) {
        return { section, command };
      }
    }
  }
  return null;
}

/**
 * The option words a command of a section takes: its `takes`; else the option named like the
 * command (`driftfile`, `trustedkey`); else every option of the section (`tos`, `server`).
 */
export function wordsOf(section: SectionSpec, command: CommandSpec): string[] {
  if (command.takes !== undefined) return [...command.takes];
  const all = sectionOptions(section).map((x) => x.option.ntpConf).filter((w) => w !== null);
  if (command.form === "value" || command.form === "list" || all.includes(command.keyword)) {
    return [command.keyword];
  }
  return all;
}

/** The option (and its part) that an ntp.conf word names in a section. */
export function optionByWord(
  section: SectionSpec,
  word: string,
): { part: PartSpec; option: OptionSpec } | null {
  return sectionOptions(section).find((x) => x.option.ntpConf === word) ?? null;
}

/** Formats a number of a range for messages ("4", "0.001", "65534"). */
export function formatBound(v: number): string {
  return String(v);
}

/** The result of checking a number against an option's range. */
export type RangeCheck =
  | { outcome: "ok"; value: number }
  | { outcome: "clamped"; value: number; message: string }
  | { outcome: "ignored"; message: string }
  | { outcome: "dropped"; message: string };

/**
 * Checks `value` of option `o` (called `name` in messages, e.g. "minpoll" or "tos ceiling")
 * against its range and applies ntpd's treatment of a value outside it. `whole` names what a
 * "drop" ignores ("server line", "[[source]] element").
 */
export function checkRange(o: OptionSpec, name: string, value: number, whole = "line"): RangeCheck {
  const r = o.range;
  const isInt = o.type === "int" || o.type === "int-list";
  const bad = !Number.isFinite(value) || (isInt && !Number.isInteger(value));
  if (r === undefined) {
    return bad
      ? { outcome: "ignored", message: `${name} ${value} is not a usable number; ignored` }
      : { outcome: "ok", value };
  }
  if (!bad && value >= r.min && value <= r.max) return { outcome: "ok", value };
  const span = `${formatBound(r.min)}–${formatBound(r.max)}`;
  const head = `${name} ${value} is out of range ${span}`;
  switch (r.outside) {
    case "clamp": {
      const used = Number.isNaN(value) ? r.min : Math.min(r.max, Math.max(r.min, value));
      const v = isInt ? Math.round(used) : used;
      return { outcome: "clamped", value: v, message: `${head}; using ${v}` };
    }
    case "ignore": {
      const d = o.default;
      const keep = d === null || Array.isArray(d) ? "" : `; keeping the default ${d}`;
      return { outcome: "ignored", message: `${head}; ignored${keep}` };
    }
    case "drop":
      return {
        outcome: "dropped",
        message: `${head}; the whole ${whole} is ignored, as ntpd does`,
      };
  }
}
