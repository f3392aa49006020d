// ntp.conf parser: every command and option of the ntpd 4.2.x ntp.conf(5) manual (with
// ntp_auth, ntp_mon, ntp_acc, ntp_clock, ntp_misc) into the configuration model. The keywords,
// option words, value types, ranges and ntpd's treatment of out-of-range values come from the
// option spec (lib/proto/options); only positional arguments are read by hand. Never throws.

import {
  type AddressFamily,
  defaultFilegen,
  defaultRefclock,
  defaultSource,
  emptyConfig,
  type NtpConfig,
  type RefclockConfig,
  type SourceKind,
  type StatName,
} from "./config_model.ts";
import {
  allKeywords,
  checkRange,
  type CommandSpec,
  type ConfigSpec,
  findCommand,
  optionByWord,
  type OptionSpec,
  type SectionSpec,
  wordsOf,
} from "../proto/options/option_spec.ts";
import { CONFIG_SPEC, MAX_INCLUDE_DEPTH } from "../proto/options/config_spec.ts";
import { DEFAULT_MULTICAST_GROUP } from "../proto/options/broadcast.ts";
import { classifyAddress } from "./address.ts";
import type { Diagnostic, Severity } from "./diagnostics.ts";
import {
  addComments,
  type ConfigComments,
  emptyComments,
  groupOfCommentedCommand,
  groupOfKey,
} from "./config_comments.ts";
import { type ConfLine, type ConfToken, lexNtpConf } from "./ntp_conf_lexer.ts";
import { normalizeConfig, restrictRulesFor } from "./normalize.ts";
import { shownKeyword, sniffNtpConf } from "./sniff_ntp_conf.ts";
import { checkStatsFileName, validateConfig } from "./validate.ts";
import { didYouMean } from "./did_you_mean.ts";
import { getPath, joinPath, objectAt } from "./model_path.ts";
import { NOT_APPLIED_CODE, notAppliedIssues } from "./not_applied.ts";

export { MAX_INCLUDE_DEPTH };

/** Most files one configuration may read, includes counted. */
export const MAX_INCLUDED_FILES = 64;

/** What an include reader returns. */
export type IncludeReadResult =
  | {
    ok: true;
    text: string;
    /** Name to show in diagnostics. */
    file: string;
    /** Canonical identity (real path) used to detect include loops. */
    id: string;
  }
  | { ok: false; reason: string };

/** Reads an included file; `path` is as written, `fromFile` the including file's name. */
export type IncludeReader = (path: string, fromFile: string) => IncludeReadResult;

/** Options of `parseNtpConf`. */
export interface NtpConfParseOptions {
  /** File name for diagnostics (default "ntp.conf"). */
  file?: string;
  /** Canonical identity of the main file, for include loop detection (default: `file`). */
  id?: string;
  /** How to read `includefile`s; without it every `includefile` is an error. */
  readInclude?: IncludeReader;
  /** The option spec to read with (default: Horae's; tests pass extended ones). */
  spec?: ConfigSpec;
  /**
   * The configuration the text adds to (run-time configuration: ntpq `:config`); default: an
   * empty one. It is copied, never changed.
   */
  base?: NtpConfig;
}

/** Result of parsing ntp.conf text. */
export interface NtpConfParseResult {
  /** The model (best effort when there are errors). */
  config: NtpConfig;
  /** Every problem found, in file order. */
  diagnostics: Diagnostic[];
  /** Comments, for the TOML writer. */
  comments: ConfigComments;
  /** Number of lines that were not (fully) translated into the model. */
  droppedLines: number;
}

interface Loc {
  file: string;
  line: number;
  col: number;
}

/** Every ntp.conf keyword the parser translates into the model (aliases included). */
export const NTP_CONF_KEYWORDS: readonly string[] = CONFIG_SPEC.sections.flatMap((s) =>
  s.commands.flatMap((c) => [c.keyword, ...(c.aliases ?? [])])
).filter((k, i, all) => all.indexOf(k) === i);

/** Keywords of ntpd 4.2.x that are recognised but not supported (warned about and dropped). */
export const UNSUPPORTED_KEYWORDS: readonly string[] = CONFIG_SPEC.unsupported.map((u) =>
  u.keyword
);

/** Codes that mean "this line (or part of it) did not make it into the model". */
const DROP_CODES = new Set([
  "unknown-keyword",
  "unknown-option",
  "ignored-option",
  "unsupported",
  "range-ignored",
]);

/** The source commands that are handled by `#source`. */
const SOURCE_COMMANDS = new Set(["server", "peer", "pool", "broadcast", "manycastclient"]);

const INT_RE = /^[+-]?(0x[0-9a-fA-F]+|[0-9]+)$/;
const NUM_RE = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

interface PendingFudge {
  address: string;
  loc: Loc;
  args: ConfToken[];
  file: string;
  line: number;
  comments: string[];
}

/** A model path to mark once the line is kept, and the token that set it. */
type Mark = [path: string, token: ConfToken];

/** How a walk over a line's option words went. */
interface Walked {
  /** A value outside its range asks (as in ntpd) for the whole line to be ignored. */
  dropped: boolean;
  marks: Mark[];
}

/** The parsing state of one configuration (main file plus includes). */
class NtpConfParser {
  readonly config: NtpConfig;
  readonly diagnostics: Diagnostic[] = [];
  readonly comments: ConfigComments = emptyComments();
  readonly #spec: ConfigSpec;
  readonly #keywords: Set<string>;
  readonly #locations = new Map<string, Loc>();
  /** Model paths set by a command written with an alias (`hop` for ttl, `nic`), and the word. */
  readonly #spelled = new Map<string, string>();
  readonly #dropped = new Set<string>();
  readonly #readInclude: IncludeReader | undefined;
  readonly #stack: string[] = [];
  /** Display names of the files in `#stack`. */
  readonly #names: string[] = [];
  #filesRead = 1;
  /** Files in the order they were first read, for sorting diagnostics. */
  readonly #fileOrder: string[] = [];
  /** Comment blocks seen since the last command; a block followed by a blank line is loose. */
  #blocks: { lines: string[]; loose: boolean }[] = [];
  /** The last element key of each TOML group, where loose comment blocks can follow. */
  readonly #lastKeyByGroup = new Map<string, string>();
  #sawCommand = false;
  #sawSource = false;
  #fudges: PendingFudge[] = [];
  // Per-line state.
  #file = "";
  #line = 0;
  #attachKey: string | null = null;

  constructor(readInclude: IncludeReader | undefined, spec: ConfigSpec, base?: NtpConfig) {
    this.#readInclude = readInclude;
    this.#spec = spec;
    this.#keywords = new Set(allKeywords(spec));
    this.config = base === undefined ? emptyConfig(spec) : structuredClone(base);
  }

  /** True when a line may start with `word` (for telling an ntp.conf from other files). */
  isKnownFirstWord(word: string): boolean {
    return this.#keywords.has(word);
  }

  /** Parses one file's text at include depth `depth`. */
  parseText(text: string, file: string, id: string, depth: number): void {
    this.#stack.push(id);
    this.#names.push(file);
    if (!this.#fileOrder.includes(file)) this.#fileOrder.push(file);
    const lexed = lexNtpConf(text, file);
    const sniff = sniffNtpConf(lexed.lines, (w) => this.isKnownFirstWord(w));
    if (sniff.ntpConf) {
      this.diagnostics.push(...lexed.diagnostics);
      for (const line of lexed.lines) this.#parseLine(line, file, depth);
    } else {
      // One error for the whole file, and none of its lines quoted (it may be /etc/shadow).
      const parent = this.#names.at(-2);
      this.#report(
        "error",
        { file, line: 0, col: 0 },
        "not-config",
        "does not look like an ntp.conf configuration file" +
          (sniff.looksLike !== null ? ` (${sniff.looksLike})` : "") + "; not read" +
          (parent !== undefined ? ` (included from ${parent}:${this.#line})` : ""),
      );
    }
    this.#stack.pop();
    this.#names.pop();
  }

  /** Resolves deferred fudges, validates, and assembles the result. */
  finish(): NtpConfParseResult {
    for (const f of this.#fudges) {
      this.#file = f.file;
      this.#line = f.line;
      this.#attachKey = null;
      const idx = this.config.refclocks.findIndex((r) => r.address === f.address);
      if (idx < 0) {
        this.#report(
          "error",
          f.loc,
          "fudge-target",
          `fudge names ${f.address}, which is not a configured reference clock`,
        );
        this.comments.dropped.push(...f.comments);
        continue;
      }
      this.#applyFudge(idx, f.args);
      addComments(this.comments, `refclocks.${idx}`, f.comments);
    }
    for (const b of this.#blocks) this.comments.trailer.push(...b.lines);
    this.#blocks = [];
    normalizeConfig(this.config);
    for (const issue of validateConfig(this.config, this.#spec)) {
      this.#reportAt(issue.path, issue.severity, issue.code, issue.message);
    }
    const seen = new Set<string>();
    for (
      const issue of notAppliedIssues(
        this.config,
        (p) => this.#locations.has(p),
        "ntp.conf",
        this.#spec,
        (p) => this.#spelled.get(p),
      )
    ) {
      const loc = this.#locate(issue.path);
      // `restrict default` is two rules from one line: one warning.
      const key = `${loc.file}:${loc.line}:${loc.col}:${issue.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.#report("warning", loc, NOT_APPLIED_CODE, issue.message);
    }
    const rank = (f: string): number => {
      const i = this.#fileOrder.indexOf(f);
      return i < 0 ? this.#fileOrder.length : i;
    };
    const sorted = this.diagnostics
      .map((d, i) => ({ d, i }))
      .sort((a, b) =>
        rank(a.d.file) - rank(b.d.file) || a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i
      )
      .map((x) => x.d);
    return {
      config: this.config,
      diagnostics: sorted,
      comments: this.comments,
      droppedLines: this.#dropped.size,
    };
  }

  #reportAt(path: string, severity: Severity, code: string, message: string): void {
    this.#report(severity, this.#locate(path), code, message);
  }

  #locate(path: string): Loc {
    let p = path;
    while (true) {
      const loc = this.#locations.get(p);
      if (loc) return loc;
      const dot = p.lastIndexOf(".");
      if (dot < 0) return { file: this.#fileOrder[0] ?? "ntp.conf", line: 0, col: 0 };
      p = p.slice(0, dot);
    }
  }

  #loc(token: ConfToken): Loc {
    return { file: this.#file, line: this.#line, col: token.col };
  }

  #mark(path: string, token: ConfToken): void {
    this.#locations.set(path, this.#loc(token));
    this.comments.explicit.add(path);
  }

  #report(severity: Severity, loc: Loc, code: string, message: string): void {
    this.diagnostics.push({
      severity,
      file: loc.file,
      line: loc.line,
      col: loc.col,
      code,
      message,
    });
    if (DROP_CODES.has(code)) this.#dropped.add(`${loc.file}:${loc.line}`);
  }

  #error(token: ConfToken, message: string, code = "syntax"): void {
    this.#report("error", this.#loc(token), code, message);
  }

  #warn(token: ConfToken, message: string, code: string): void {
    this.#report("warning", this.#loc(token), code, message);
  }

  /** The warning for a line whose first word is unknown; the word is quoted only if plain. */
  #unknownKeyword(first: ConfToken): void {
    const word = shownKeyword(first);
    this.#warn(
      first,
      word !== null
        ? `unknown keyword "${word}"${didYouMean(word, this.#keywords)}; line ignored`
        : "unknown keyword (not a plain word, not shown); line ignored",
      "unknown-keyword",
    );
  }

  #parseLine(line: ConfLine, file: string, depth: number): void {
    this.#file = file;
    this.#line = line.line;
    const first = line.tokens[0];
    if (first === undefined) {
      const last = this.#blocks.at(-1);
      if (line.comment !== null) {
        if (last && !last.loose) last.lines.push(line.comment);
        else this.#blocks.push({ lines: [line.comment], loose: false });
      } else if (last && !last.loose) {
        last.loose = true;
        if (!this.#sawCommand && this.comments.header.length === 0 && this.#blocks.length === 1) {
          this.comments.header = last.lines;
          this.#blocks = [];
        }
      }
      return;
    }
    this.#sawCommand = true;
    this.#attachKey = null;
    const keyword = first.text.toLowerCase();
    const args = line.tokens.slice(1);
    const dropBefore = this.#dropped.size;
    if (first.quoted) {
      this.#unknownKeyword(first);
    } else if (keyword === "includefile") {
      // Comments before an includefile line stay pending for the included file's first command.
      this.#include(first, args, depth);
      if (line.comment !== null) this.#blocks.push({ lines: [line.comment], loose: true });
      return;
    } else {
      this.#command(keyword, first, args);
    }
    const key = this.#attachKey as string | null;
    // Split pending comments: the block right above the line belongs to it; loose blocks go to
    // the element of their own group (by any commented-out command they hold), before or after.
    const leading: string[] = [];
    const blocks = this.#blocks;
    this.#blocks = [];
    const direct = blocks.at(-1)?.loose === false ? blocks.pop() : undefined;
    const here = key !== null ? groupOfKey(key) : null;
    for (const b of blocks) {
      const group = b.lines.map(groupOfCommentedCommand).find((g) => g !== null) ?? null;
      const home = group !== null && group !== here ? this.#lastKeyByGroup.get(group) : undefined;
      if (home !== undefined) addComments(this.comments, home, b.lines, "after");
      else leading.push(...b.lines);
    }
    if (direct) leading.push(...direct.lines);
    if (line.comment !== null) leading.push(line.comment);
    if (key !== null) {
      addComments(this.comments, key, leading);
      if (this.#dropped.size > dropBefore) {
        this.comments.dropped.push(`not fully translated: ${line.raw.trim()}`);
      }
      if (here !== null) this.#lastKeyByGroup.set(here, key);
    } else if (keyword === "fudge" && this.#fudges.at(-1)?.line === line.line) {
      const last = this.#fudges.at(-1) as PendingFudge;
      last.comments.push(...leading);
    } else {
      this.comments.dropped.push(...leading);
      if (this.#dropped.size > dropBefore) {
        this.comments.dropped.push(
          shownKeyword(first) !== null || this.isKnownFirstWord(keyword)
            ? `not translated: ${line.raw.trim()}`
            : `not translated: ${file}:${line.line} (not shown: no keyword)`,
        );
      }
    }
  }

  /** The section of the spec with this id (the readers' hand-written parts need a few). */
  #section(id: string): SectionSpec {
    const s = this.#spec.sections.find((x) => x.id === id);
    if (s === undefined) throw new Error(`option spec has no section "${id}"`);
    return s;
  }

  #command(keyword: string, kw: ConfToken, args: ConfToken[]): void {
    const found = findCommand(this.#spec, keyword);
    if (found === null) {
      if (this.#spec.unsupported.some((u) => u.keyword === keyword)) {
        this.#warn(kw, `"${keyword}" is not supported by Horae; line ignored`, "unsupported");
      } else {
        this.#unknownKeyword(kw);
      }
      return;
    }
    const { section, command } = found;
    if (keyword === "tinker" && this.#sawSource) {
      this.#warn(
        kw,
        "tinker should come before the source commands (ntpd applies it early); " +
          "Horae applies it anyway",
        "order",
      );
    }
    switch (command.form) {
      case "value":
        return this.#valueCommand(section, command, kw, args);
      case "list":
        return this.#listCommand(section, command, kw, args);
      case "options":
        return this.#optionsCommand(section, command, kw, args);
      case "custom":
        return this.#custom(keyword, section, command, kw, args);
    }
  }

  #custom(
    keyword: string,
    section: SectionSpec,
    command: CommandSpec,
    kw: ConfToken,
    args: ConfToken[],
  ): void {
    if (SOURCE_COMMANDS.has(keyword)) return this.#source(keyword as SourceKind, kw, args);
    switch (command.keyword) {
      case "fudge":
        return this.#fudge(kw, args);
      case "restrict":
        return this.#restrict(kw, args);
      case "interface":
      case "nic":
        return this.#interface(kw, args);
      case "broadcastclient":
        return this.#broadcastClient(section, command, kw, args);
      case "multicastclient":
      case "manycastserver":
        return this.#groupAddresses(keyword, kw, args);
      case "trustedkey":
        return this.#trustedKey(section, kw, args);
      case "autokey":
        // `autokey` alone turns Autokey on for ntpd's old syntax; a value sets the interval.
        if (args.length === 0) {
          this.#attachKey = section.model;
          return;
        }
        return this.#valueCommand(section, command, kw, args);
      case "crypto":
        return this.#crypto(section, command, kw, args);
      case "filegen":
        return this.#filegen(section, kw, args);
      case "enable":
      case "disable":
        return this.#enable(section, command.keyword === "enable", kw, args);
      case "setvar":
        return this.#setvar(kw, args);
      case "trap":
        return this.#trap(section, command, kw, args);
      default:
        this.#warn(kw, `"${keyword}" is not supported by Horae; line ignored`, "unsupported");
    }
  }

  // ---- value helpers ----

  #parseInt(token: ConfToken, what: string): number | null {
    if (token.quoted || !INT_RE.test(token.text)) {
      this.#error(token, `${what} needs an integer, got "${token.text}"`);
      return null;
    }
    const neg = token.text.startsWith("-");
    const body = token.text.replace(/^[+-]/, "");
    const v = body.startsWith("0x") ? parseInt(body.slice(2), 16) : Number(body);
    return neg ? -v : v;
  }

  #parseNumber(token: ConfToken, what: string): number | null {
    if (token.quoted || !NUM_RE.test(token.text)) {
      this.#error(token, `${what} needs a number, got "${token.text}"`);
      return null;
    }
    return Number(token.text);
  }

  #valueOf(args: ConfToken[], i: number, opt: ConfToken): ConfToken | null {
    const v = args[i + 1];
    if (v === undefined) {
      this.#error(opt, `${opt.text} needs a value`);
      return null;
    }
    return v;
  }

  /**
   * Reads token `tok` as a value of option `o` (named `name` in messages) and applies the
   * option's range: the value to store, "ignored" (reported), "dropped" (the whole line goes)
   * or null (a syntax error, reported).
   */
  #readValue(
    o: OptionSpec,
    tok: ConfToken,
    name: string,
    whole: string,
  ): { value: unknown } | "ignored" | "dropped" | null {
    switch (o.type) {
      case "int":
      case "int-list":
      case "number": {
        const v = o.type === "number" ? this.#parseNumber(tok, name) : this.#parseInt(tok, name);
        if (v === null) return null;
        const r = checkRange(o, name, v, whole);
        switch (r.outcome) {
          case "ok":
            return { value: r.value };
          case "clamped":
            this.#warn(tok, r.message, "range");
            return { value: r.value };
          case "ignored":
            this.#warn(tok, r.message, "range-ignored");
            return "ignored";
          case "dropped":
            this.#warn(tok, r.message, "range-ignored");
            return "dropped";
        }
        break;
      }
      case "enum":
      case "enum-list": {
        const v = tok.text.toLowerCase();
        const values = o.values ?? [];
        if (tok.quoted || !values.includes(v)) {
          this.#error(
            tok,
            (o.type === "enum-list"
              ? `unknown ${name} "${tok.text}" (known: ${values.join(", ")})`
              : `${name} must be one of ${values.join(", ")}, not "${tok.text}"`) +
              didYouMean(tok.text, values),
          );
          return null;
        }
        return { value: v };
      }
      case "bool":
        if (tok.text !== "0" && tok.text !== "1") {
          this.#error(tok, `${name} must be 0 or 1, got "${tok.text}"`);
          return null;
        }
        return { value: tok.text === "1" };
      case "flag":
        return { value: true };
      case "path":
        if (tok.text === "") {
          this.#error(tok, `${name} needs a file name`);
          return null;
        }
        return { value: tok.text };
      case "string":
      case "string-list":
        return { value: tok.text };
    }
  }

  /**
   * Walks the option words of a line (`args`), setting the options of `section` named in `words`
   * on `target` (the model object at `base`). Unknown words are warned about, with the closest
   * known word; `onOther` may claim a word first (returns true when it handled it).
   */
  #walkOptions(
    section: SectionSpec,
    words: readonly string[],
    args: ConfToken[],
    target: Record<string, unknown>,
    base: string,
    how: {
      name: (word: string) => string;
      unknown: (word: string) => string;
      whole: string;
      skipValueOfUnknown?: boolean;
      /** Claims a word the section does not take: returns how many tokens it used, or 0. */
      onOther?: (tok: ConfToken, i: number) => number;
    },
  ): Walked {
    const marks: Mark[] = [];
    let dropped = false;
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const word = tok.text.toLowerCase();
      const found = !tok.quoted && words.includes(word) ? optionByWord(section, word) : null;
      if (found === null) {
        const used = how.onOther?.(tok, i) ?? 0;
        if (used > 0) {
          i += used - 1;
          continue;
        }
        this.#warn(
          tok,
          `${how.unknown(tok.text)}${didYouMean(tok.text, words)}; ignored`,
          "unknown-option",
        );
        // Skip its value too when it looks like one.
        const nextTok = args[i + 1];
        if (how.skipValueOfUnknown && nextTok && NUM_RE.test(nextTok.text)) i++;
        continue;
      }
      const { part, option: o } = found;
      const path = joinPath(base, part.at, o.field);
      const obj = objectAt(target, part.at);
      if (o.type === "flag") {
        obj[o.field] = true;
        marks.push([path, tok]);
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) break;
      i++;
      const got = this.#readValue(o, vt, how.name(word), how.whole);
      if (got === "dropped") dropped = true;
      if (got === null || got === "ignored" || got === "dropped") continue;
      obj[o.field] = got.value;
      marks.push([path, tok]);
    }
    return { dropped, marks };
  }

  /** The single argument of a one-argument command; further words are warned about. */
  #lone(kw: ConfToken, args: ConfToken[], noun: "file name" | "value"): ConfToken | null {
    const v = args[0];
    if (v === undefined || (noun === "file name" && v.text === "")) {
      this.#error(kw, `"${kw.text}" needs a ${noun}`);
      return null;
    }
    for (const extra of args.slice(1)) {
      this.#warn(
        extra,
        `unexpected "${extra.text}" after ${kw.text} ${noun}; ignored`,
        "unknown-option",
      );
    }
    return v;
  }

  /** Reads a leading -4 / -6 qualifier; returns the family and the index of the next token. */
  #family(args: ConfToken[]): { family: AddressFamily; next: number } {
    const t = args[0];
    if (t !== undefined && !t.quoted && t.text === "-4") return { family: "ipv4", next: 1 };
    if (t !== undefined && !t.quoted && t.text === "-6") return { family: "ipv6", next: 1 };
    return { family: "any", next: 0 };
  }

  /** The option a value or list command sets, and where it lives in the model. */
  #commandOption(section: SectionSpec, command: CommandSpec): { o: OptionSpec; path: string } {
    const word = wordsOf(section, command)[0] ?? command.keyword;
    const found = optionByWord(section, word);
    if (found === null) throw new Error(`option spec: ${command.keyword} sets no option`);
    return { o: found.option, path: joinPath(section.model, found.part.at, found.option.field) };
  }

  // ---- generic commands ----

  /** `keyword value`: one value of the option the keyword names. */
  #valueCommand(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]) {
    const { o, path } = this.#commandOption(section, command);
    const tok = this.#lone(kw, args, o.type === "path" ? "file name" : "value");
    if (tok === null) return;
    const got = this.#readValue(o, tok, command.keyword, "line");
    if (got === null || got === "ignored" || got === "dropped") return;
    const dot = path.lastIndexOf(".");
    objectAt(this.config as unknown as Record<string, unknown>, path.slice(0, Math.max(dot, 0)))[
      path.slice(dot + 1)
    ] = got.value;
    this.#mark(path, o.type === "path" ? kw : tok);
    this.#attachKey = path;
  }

  /** `keyword value ...`: appends to a list option. */
  #listCommand(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]) {
    const { o, path } = this.#commandOption(section, command);
    if (args.length === 0) {
      this.#error(kw, `"${kw.text}" needs at least one value`);
      return;
    }
    const list = getPath(this.config, path) as unknown[];
    this.#mark(path, kw);
    // The location is the last line's, and so is the word that names it.
    if (kw.text.toLowerCase() !== command.keyword) this.#spelled.set(path, kw.text.toLowerCase());
    else this.#spelled.delete(path);
    for (const tok of args) {
      if (o.maxItems !== undefined && list.length >= o.maxItems) {
        this.#warn(
          tok,
          `${command.keyword} keeps at most ${o.maxItems} values; "${tok.text}" ignored, ` +
            "as ntpd does",
          "range-ignored",
        );
        continue;
      }
      const got = this.#readValue(o, tok, command.keyword, "line");
      if (got === null || got === "ignored" || got === "dropped") continue;
      if (o.type === "enum-list" && list.includes(got.value)) continue;
      this.#mark(`${path}.${list.length}`, tok);
      list.push(got.value);
    }
    this.#attachKey = path;
  }

  /** `keyword name value ...` over the section's options (tos, tinker, discard, mru, rlimit). */
  #optionsCommand(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]) {
    this.#attachKey = section.model;
    this.#mark(section.model, kw);
    if (args.length === 0) {
      this.#error(kw, `"${command.keyword}" needs at least one option`);
      return;
    }
    const walked = this.#walkOptions(
      section,
      wordsOf(section, command),
      args,
      objectAt(this.config as unknown as Record<string, unknown>, section.model),
      section.model,
      {
        name: (w) => `${command.keyword} ${w}`,
        unknown: (t) => `unknown ${command.keyword} option "${t}"`,
        whole: "line",
        skipValueOfUnknown: true,
      },
    );
    for (const [p, t] of walked.marks) this.#mark(p, t);
  }

  // ---- commands read by hand ----

  #source(kind: SourceKind, kw: ConfToken, args: ConfToken[]): void {
    const { family, next } = this.#family(args);
    const addrTok = args[next];
    if (addrTok === undefined || addrTok.text === "" || addrTok.text.startsWith("-")) {
      this.#error(addrTok ?? kw, `"${kind}" needs an address`);
      return;
    }
    this.#sawSource = true;
    const address = addrTok.text;
    const cls = classifyAddress(address);
    const opts = args.slice(next + 1);
    const sources = this.#section("source");
    const sourceWords = wordsOf(sources, sources.commands[0] as CommandSpec);
    if (cls.kind === "refclock") {
      if (kind !== "server") {
        this.#error(
          addrTok,
          `reference clock ${address} is only valid with "server", not "${kind}"`,
        );
        return;
      }
      const section = this.#section("refclock");
      const serverLine = section.commands.find((c) => c.keyword === "server") as CommandSpec;
      const words = wordsOf(section, serverLine);
      const idx = this.config.refclocks.length;
      const r = defaultRefclock(cls.type, cls.unit);
      const base = `refclocks.${idx}`;
      const walked = this.#walkOptions(section, words, opts, r, base, {
        name: (w) => w,
        unknown: (t) => `unknown option "${t}"`,
        whole: "server line",
        onOther: (tok, i) => {
          const w = tok.text.toLowerCase();
          const o = tok.quoted ? null : optionByWord(sources, w)?.option;
          if (o === undefined || o === null) return 0;
          this.#warn(tok, `"${w}" is ignored for a reference clock`, "ignored-option");
          // Its value goes with it.
          return o.type === "flag" || opts[i + 1] === undefined ? 1 : 2;
        },
      });
      if (walked.dropped) return;
      this.config.refclocks.push(r);
      this.#mark(base, addrTok);
      for (const [p, t] of walked.marks) this.#mark(p, t);
      this.#attachKey = base;
      return;
    }
    const idx = this.config.sources.length;
    const s = defaultSource(kind, address);
    s.family = family;
    const base = `sources.${idx}`;
    const walked = this.#walkOptions(sources, sourceWords, opts, s, base, {
      name: (w) => w,
      unknown: (t) => `unknown option "${t}"`,
      whole: `${kind} line`,
      onOther: (tok) => {
        if (tok.text !== "-4" && tok.text !== "-6") return 0;
        this.#error(tok, `${tok.text} must come before the address`);
        return 1;
      },
    });
    if (walked.dropped) return;
    this.config.sources.push(s);
    this.#mark(base, kw);
    this.#mark(`${base}.address`, addrTok);
    for (const [p, t] of walked.marks) this.#mark(p, t);
    this.#attachKey = base;
  }

  #fudge(kw: ConfToken, args: ConfToken[]): void {
    const addrTok = args[0];
    if (addrTok === undefined) {
      this.#error(kw, '"fudge" needs a reference clock address (127.127.t.u)');
      return;
    }
    const cls = classifyAddress(addrTok.text);
    if (cls.kind !== "refclock") {
      this.#error(
        addrTok,
        cls.kind === "invalid"
          ? `fudge: ${cls.reason}`
          : `fudge needs a reference clock address (127.127.t.u), got "${addrTok.text}"`,
        "fudge-target",
      );
      return;
    }
    const address = `127.127.${cls.type}.${cls.unit}`;
    const idx = this.config.refclocks.findIndex((r) => r.address === address);
    if (idx >= 0) {
      this.#applyFudge(idx, args.slice(1));
      this.#attachKey = `refclocks.${idx}`;
      return;
    }
    // The server line may come later; resolve once the whole configuration is read.
    this.#fudges.push({
      address,
      loc: this.#loc(addrTok),
      args: args.slice(1),
      file: this.#file,
      line: this.#line,
      comments: [],
    });
  }

  /** Applies a fudge line to refclock `idx`; a value ntpd would refuse drops the whole line. */
  #applyFudge(idx: number, args: ConfToken[]): void {
    const section = this.#section("refclock");
    const fudge = section.commands.find((c) => c.keyword === "fudge") as CommandSpec;
    const r = this.config.refclocks[idx] as RefclockConfig;
    const scratch = structuredClone(r) as unknown as Record<string, unknown>;
    const walked = this.#walkOptions(
      section,
      wordsOf(section, fudge),
      args,
      scratch,
      `refclocks.${idx}`,
      {
        name: (w) => w,
        unknown: (t) => `unknown fudge option "${t}"`,
        whole: "fudge line",
      },
    );
    if (walked.dropped) return;
    this.config.refclocks[idx] = scratch as unknown as RefclockConfig;
    for (const [p, t] of walked.marks) this.#mark(p, t);
  }

  #restrict(kw: ConfToken, args: ConfToken[]): void {
    const { family, next } = this.#family(args);
    const target = args[next];
    if (target === undefined || target.text.startsWith("-")) {
      this.#error(target ?? kw, '"restrict" needs an address, "default" or "source"');
      return;
    }
    const section = this.#section("restrict");
    const flagWords = section.parts.flatMap((p) => p.options).find((o) => o.field === "flags")
      ?.values ?? [];
    const what = target.text.toLowerCase();
    const isKeyword = !target.quoted && (what === "default" || what === "source");
    let mask: string | null = null;
    let maskTok: ConfToken | null = null;
    const flags: string[] = [];
    const rest = args.slice(next + 1);
    for (let i = 0; i < rest.length; i++) {
      const tok = rest[i] as ConfToken;
      const word = tok.text.toLowerCase();
      if (word === "mask") {
        const vt = this.#valueOf(rest, i, tok);
        if (vt === null) return;
        i++;
        mask = vt.text;
        maskTok = vt;
      } else if (!tok.quoted && flagWords.includes(word)) {
        flags.push(word);
      } else {
        // Dropping an access flag could open the server wider than intended: fail closed.
        this.#error(
          tok,
          `unknown restrict flag "${tok.text}"${didYouMean(tok.text, flagWords)}`,
          "restrict-flag",
        );
        return;
      }
    }
    if (isKeyword && mask !== null && maskTok !== null) {
      this.#error(maskTok, `mask is not allowed with "restrict ${what}"`);
      return;
    }
    const rules = restrictRulesFor(isKeyword ? what : target.text, family, mask, flags);
    const idx = this.config.restrict.length;
    rules.forEach((rule, k) => {
      this.config.restrict.push(rule);
      this.#mark(`restrict.${idx + k}`, kw);
      this.#mark(`restrict.${idx + k}.address`, target);
      if (maskTok) this.#mark(`restrict.${idx + k}.mask`, maskTok);
    });
    this.#attachKey = `restrict.${idx}`;
  }

  #interface(kw: ConfToken, args: ConfToken[]): void {
    const actionTok = args[0];
    const matchTok = args[1];
    const action = actionTok?.text.toLowerCase() ?? "";
    const actions =
      this.#section("interface").parts[0]?.options.find((o) => o.field === "action")?.values ?? [];
    if (actionTok === undefined || !actions.includes(action)) {
      this.#error(actionTok ?? kw, `"${kw.text}" needs ${actions.join(", ")}`);
      return;
    }
    if (matchTok === undefined) {
      this.#error(
        actionTok,
        `"${kw.text} ${action}" needs all, ipv4, ipv6, wildcard, a name or an address`,
      );
      return;
    }
    for (const extra of args.slice(2)) {
      this.#warn(extra, `unexpected "${extra.text}"; ignored`, "unknown-option");
    }
    const idx = this.config.interfaces.length;
    // normalizeConfig() lower-cases the address-class words.
    this.config.interfaces.push({
      action: action as NtpConfig["interfaces"][number]["action"],
      match: matchTok.text,
    });
    this.#mark(`interfaces.${idx}`, kw);
    this.#spelled.set(`interfaces.${idx}`, kw.text.toLowerCase());
    this.#mark(`interfaces.${idx}.match`, matchTok);
    this.#attachKey = `interfaces.${idx}`;
  }

  #broadcastClient(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]) {
    const b = this.config.broadcast as unknown as Record<string, unknown>;
    b.client = true;
    this.config.system.bclient = true;
    this.#mark("broadcast.client", kw);
    this.#attachKey = "broadcast.client";
    const words = wordsOf(section, command).filter((w) => w !== command.keyword);
    const walked = this.#walkOptions(section, words, args, b, section.model, {
      name: (w) => w,
      unknown: (t) => `unknown option "${t}"`,
      whole: "line",
    });
    for (const [p, t] of walked.marks) this.#mark(p, t);
  }

  #groupAddresses(keyword: string, kw: ConfToken, args: ConfToken[]): void {
    const field = keyword === "multicastclient" ? "multicastClient" : "manycastServer";
    const list = this.config.broadcast[field];
    const { next } = this.#family(args);
    const addrs = args.slice(next);
    if (addrs.length === 0) {
      if (keyword === "manycastserver") {
        this.#error(kw, '"manycastserver" needs at least one address');
        return;
      }
      addrs.push({ text: DEFAULT_MULTICAST_GROUP, col: kw.col, quoted: false });
    }
    this.#mark(`broadcast.${field}`, kw);
    for (const tok of addrs) {
      this.#mark(`broadcast.${field}.${list.length}`, tok);
      list.push(tok.text);
    }
    this.#attachKey = `broadcast.${field}`;
  }

  #trustedKey(section: SectionSpec, kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, '"trustedkey" needs at least one key id');
      return;
    }
    const o = (optionByWord(section, "trustedkey") as { option: OptionSpec }).option;
    // Ranges are written "(lo ... hi)"; the parentheses may touch the numbers.
    const words: ConfToken[] = [];
    for (const tok of args) {
      const parts = tok.text.split(/(\(|\))/).filter((p) => p !== "");
      let off = 0;
      for (const p of parts) {
        words.push({ text: p, col: tok.col + off, quoted: tok.quoted });
        off += p.length;
      }
    }
    const keys = this.config.auth.trustedKeys;
    this.#mark("auth.trustedKeys", kw);
    const range = o.range;
    for (let i = 0; i < words.length; i++) {
      const w = words[i] as ConfToken;
      if (w.text === "(") {
        const lo = words[i + 1];
        const dots = words[i + 2];
        const hi = words[i + 3];
        const close = words[i + 4];
        if (
          lo === undefined || dots?.text !== "..." || hi === undefined || close?.text !== ")"
        ) {
          this.#error(w, 'a key range is written "(first ... last)"');
          return;
        }
        i += 4;
        const a = this.#parseInt(lo, "trustedkey");
        const b = this.#parseInt(hi, "trustedkey");
        if (a === null || b === null) continue;
        const bad = range !== undefined && (a < range.min || b > range.max);
        if (a > b || bad || b - a > 65534 || keys.length + (b - a) > 4 * 65534) {
          // As ntpd: an invalid range is ignored. Beyond the budget every further range is
          // refused, so expansion stays bounded.
          this.#warn(
            lo,
            `trustedkey range ${a} ... ${b} is empty, too large or outside ` +
              `${range?.min ?? 1}–${range?.max ?? 65534}; ignored, as ntpd does`,
            "range-ignored",
          );
          continue;
        }
        for (let k = a; k <= b; k++) {
          this.#mark(`auth.trustedKeys.${keys.length}`, lo);
          keys.push(k);
        }
        continue;
      }
      const got = this.#readValue(o, w, "trustedkey", "line");
      if (got === null || got === "ignored" || got === "dropped") continue;
      this.#mark(`auth.trustedKeys.${keys.length}`, w);
      keys.push(got.value as number);
    }
    this.#attachKey = "auth.trustedKeys";
  }

  #crypto(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]): void {
    const c = this.config.auth.crypto;
    c.enabled = true;
    this.#mark(section.model, kw);
    this.#attachKey = section.model;
    const walked = this.#walkOptions(
      section,
      wordsOf(section, command),
      args,
      c as unknown as Record<string, unknown>,
      section.model,
      {
        name: (w) => `crypto ${w}`,
        unknown: (t) => `unknown crypto option "${t}"`,
        whole: "line",
      },
    );
    for (const [p, t] of walked.marks) this.#mark(p, t);
  }

  #filegen(section: SectionSpec, kw: ConfToken, args: ConfToken[]): void {
    const nameTok = args[0];
    if (nameTok === undefined) {
      this.#error(kw, '"filegen" needs a statistics name');
      return;
    }
    const names = section.parts[0]?.options.find((o) => o.field === "name")?.values ?? [];
    const name = nameTok.text.toLowerCase() as StatName;
    if (!names.includes(name)) {
      this.#error(
        nameTok,
        `unknown statistics "${nameTok.text}" (known: ${names.join(", ")})` +
          didYouMean(nameTok.text, names),
      );
      return;
    }
    const gens = this.config.stats.filegens;
    let idx = gens.findIndex((g) => g.name === name);
    if (idx < 0) {
      idx = gens.length;
      gens.push(defaultFilegen(name));
    }
    const g = gens[idx] as (typeof gens)[number];
    const fileBefore = g.file;
    const base = `stats.filegens.${idx}`;
    this.#mark(base, kw);
    this.#mark(`${base}.name`, nameTok);
    this.#attachKey = base;
    const walked = this.#walkOptions(
      section,
      ["file", "type"],
      args.slice(1),
      g as unknown as Record<string, unknown>,
      base,
      {
        name: (w) => `filegen ${w}`,
        unknown: (t) => `unknown filegen option "${t}"`,
        whole: "line",
        onOther: (tok) => {
          const word = tok.text.toLowerCase();
          if (word === "link" || word === "nolink") {
            g.link = word === "link";
            this.#mark(`${base}.link`, tok);
          } else if (word === "enable" || word === "disable") {
            // The filegen line itself is what configured it (and is reported if not applied).
            const enabled = this.config.stats.enabled;
            if (word === "enable" && !enabled.includes(name)) enabled.push(name);
            if (word === "disable") this.config.stats.enabled = enabled.filter((n) => n !== name);
          } else {
            return 0;
          }
          return 1;
        },
      },
    );
    for (const [p, t] of walked.marks) this.#mark(p, t);
    const problem = checkStatsFileName(g.file);
    if (problem) {
      const fileMark = walked.marks.find(([p]) => p === `${base}.file`);
      this.#error(fileMark?.[1] ?? nameTok, problem, "path");
      g.file = fileBefore;
    }
  }

  #enable(section: SectionSpec, on: boolean, kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, `"${kw.text}" needs at least one flag`);
      return;
    }
    this.#attachKey = section.model;
    const flags = section.parts.flatMap((p) => p.options.map((o) => o.ntpConf ?? o.field));
    const system = objectAt(this.config as unknown as Record<string, unknown>, section.model);
    for (const tok of args) {
      const flag = tok.text.toLowerCase();
      if (tok.quoted || !flags.includes(flag)) {
        this.#warn(
          tok,
          `unknown ${kw.text} flag "${tok.text}"${didYouMean(tok.text, flags)} ` +
            `(known: ${flags.join(", ")}); ignored`,
          "unknown-option",
        );
        continue;
      }
      const o = optionByWord(section, flag) as { option: OptionSpec };
      system[o.option.field] = on;
      if (flag === "bclient") this.config.broadcast.client = on;
      this.#mark(joinPath(section.model, o.option.field), tok);
    }
  }

  #setvar(kw: ConfToken, args: ConfToken[]): void {
    let words = args;
    let isDefault = false;
    const last = words.at(-1);
    if (last && !last.quoted && last.text.toLowerCase() === "default") {
      isDefault = true;
      words = words.slice(0, -1);
    }
    const text = words.map((w) => w.text).join(" ");
    const eq = text.indexOf("=");
    if (words.length === 0 || eq < 0) {
      this.#error(words[0] ?? kw, 'setvar is written "setvar name = value [default]"');
      return;
    }
    // A quoted value keeps its inner spacing; join preserves it as one token.
    const name = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    const idx = this.config.setvar.length;
    this.config.setvar.push({ name, value, isDefault });
    this.#mark(`setvar.${idx}`, words[0] as ConfToken);
    if (isDefault && last) this.#mark(`setvar.${idx}.isDefault`, last);
    this.#attachKey = `setvar.${idx}`;
  }

  #trap(section: SectionSpec, command: CommandSpec, kw: ConfToken, args: ConfToken[]): void {
    const addrTok = args[0];
    if (addrTok === undefined) {
      this.#error(kw, '"trap" needs an address');
      return;
    }
    const trap = { address: addrTok.text, port: null as number | null, interface: null };
    const idx = this.config.traps.length;
    const base = `traps.${idx}`;
    const walked = this.#walkOptions(
      section,
      wordsOf(section, command),
      args.slice(1),
      trap,
      base,
      {
        name: (w) => `trap ${w}`,
        unknown: (t) => `unknown trap option "${t}"`,
        whole: "trap line",
      },
    );
    if (walked.dropped) return;
    this.config.traps.push(trap);
    this.#mark(base, addrTok);
    for (const [p, t] of walked.marks) this.#mark(p, t);
    this.#attachKey = base;
  }

  #include(kw: ConfToken, args: ConfToken[], depth: number): void {
    const pathTok = args[0];
    if (pathTok === undefined) {
      this.#error(kw, '"includefile" needs a file name');
      return;
    }
    if (this.#readInclude === undefined) {
      this.#error(pathTok, "includefile is not available here (no file system)", "include");
      return;
    }
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      this.#error(
        pathTok,
        `includefile nested deeper than ${MAX_INCLUDE_DEPTH} levels: "${pathTok.text}" not read`,
        "include",
      );
      return;
    }
    if (this.#filesRead >= MAX_INCLUDED_FILES) {
      this.#error(
        pathTok,
        `more than ${MAX_INCLUDED_FILES} configuration files; stopping`,
        "include",
      );
      return;
    }
    const file = this.#file;
    const line = this.#line;
    const read = this.#readInclude(pathTok.text, file);
    if (!read.ok) {
      this.#error(
        pathTok,
        `cannot read included file "${pathTok.text}": ${read.reason}`,
        "include",
      );
      return;
    }
    if (this.#stack.includes(read.id)) {
      const chain = [...this.#names.slice(this.#stack.indexOf(read.id)), read.file];
      this.#error(pathTok, `includefile loop: ${chain.join(" -> ")}`, "include");
      return;
    }
    this.#filesRead++;
    this.parseText(read.text, read.file, read.id, depth + 1);
    this.#file = file;
    this.#line = line;
  }
}

/**
 * Parses ntp.conf text into the configuration model, collecting every problem as a diagnostic
 * (errors and warnings). Never throws, whatever the input.
 */
export function parseNtpConf(text: string, options: NtpConfParseOptions = {}): NtpConfParseResult {
  const file = options.file ?? "ntp.conf";
  const parser = new NtpConfParser(options.readInclude, options.spec ?? CONFIG_SPEC, options.base);
  parser.parseText(text, file, options.id ?? file, 0);
  return parser.finish();
}
