// ntp.conf parser: every command and option of the ntpd 4.2.x ntp.conf(5) manual (with
// ntp_auth, ntp_mon, ntp_acc, ntp_clock, ntp_misc) into the configuration model. Never throws.

import {
  type AddressFamily,
  CRYPTO_OPTIONS,
  DEFAULT_MULTICAST_GROUP,
  defaultFilegen,
  defaultRefclock,
  defaultSource,
  DISCARD_OPTIONS,
  type DisciplineChoice,
  DISCIPLINES,
  emptyConfig,
  FILE_OPTIONS,
  FILEGEN_TYPES,
  type FilegenType,
  INTERFACE_ACTIONS,
  type InterfaceAction,
  MRU_OPTIONS,
  type NtpConfig,
  type RefclockConfig,
  RESTRICT_FLAGS,
  RLIMIT_OPTIONS,
  SOURCE_KINDS,
  type SourceKind,
  STAT_NAMES,
  type StatName,
  SYSTEM_FLAGS,
  type SystemFlag,
  TINKER_OPTIONS,
  TOS_OPTIONS,
} from "./config_model.ts";
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

/** Deepest `includefile` nesting accepted (the main file is level 0). */
export const MAX_INCLUDE_DEPTH = 5;
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

/** Keywords of ntpd 4.2.x that Horae recognises but does not implement. */
const UNSUPPORTED = new Set([
  "automax",
  "dscp",
  "leapsmearinterval",
  "mdnstries",
  "nonvolatile",
  "qos",
  "reset",
  "unconfig",
  "unpeer",
]);

/** Every ntp.conf keyword the parser translates into the model. */
export const NTP_CONF_KEYWORDS: readonly string[] = [
  "autokey",
  "broadcast",
  "broadcastclient",
  "broadcastdelay",
  "calldelay",
  "controlkey",
  "crypto",
  "disable",
  "discard",
  "driftfile",
  "enable",
  "filegen",
  "fudge",
  "includefile",
  "interface",
  "keys",
  "keysdir",
  "leapfile",
  "logconfig",
  "logfile",
  "manycastclient",
  "manycastserver",
  "mru",
  "multicastclient",
  "nic",
  "ntpsigndsocket",
  "peer",
  "phone",
  "pidfile",
  "pool",
  "requestkey",
  "restrict",
  "revoke",
  "rlimit",
  "saveconfigdir",
  "server",
  "setvar",
  "statistics",
  "statsdir",
  "tinker",
  "tos",
  "trap",
  "trustedkey",
  "ttl",
];

/** Keywords of ntpd 4.2.x that are recognised but not supported (warned about and dropped). */
export const UNSUPPORTED_KEYWORDS: readonly string[] = [...UNSUPPORTED];

/** Every word a line may start with: for telling an ntp.conf from other files. */
let knownFirstWords: Set<string> | undefined;
function isKnownFirstWord(word: string): boolean {
  knownFirstWords ??= new Set([
    ...NTP_CONF_KEYWORDS,
    ...UNSUPPORTED,
    ...SOURCE_KINDS,
    ...Object.keys(FILE_OPTIONS),
  ]);
  return knownFirstWords.has(word);
}

/** The warning for a line whose first word is unknown; the word is quoted only if plain. */
function unknownKeywordMessage(first: ConfToken): string {
  const word = shownKeyword(first);
  return word !== null
    ? `unknown keyword "${word}"; line ignored`
    : "unknown keyword (not a plain word, not shown); line ignored";
}

/** Codes that mean "this line (or part of it) did not make it into the model". */
const DROP_CODES = new Set(["unknown-keyword", "unknown-option", "ignored-option", "unsupported"]);

const SOURCE_KIND_WORDS = new Set<string>(SOURCE_KINDS);
const SOURCE_FLAGS = new Set([
  "autokey",
  "burst",
  "iburst",
  "prefer",
  "noselect",
  "true",
  "preempt",
  "xleave",
]);
const SOURCE_VALUES = new Set(["key", "version", "minpoll", "maxpoll", "ttl", "mode"]);
const REFCLOCK_OPTIONS = new Set(["prefer", "noselect", "true", "minpoll", "maxpoll", "mode"]);
const RESTRICT_FLAG_WORDS = new Set<string>(RESTRICT_FLAGS);
const CRYPTO_OPTION_WORDS = new Set<string>(CRYPTO_OPTIONS);
const LIMIT_OPTION_WORDS = {
  mru: new Set<string>(MRU_OPTIONS),
  rlimit: new Set<string>(RLIMIT_OPTIONS),
};
const FUDGE_OPTIONS = new Set([
  "time1",
  "time2",
  "stratum",
  "refid",
  "mode",
  "flag1",
  "flag2",
  "flag3",
  "flag4",
]);

/** `table[key]` for own properties only, so words like "constructor" or "__proto__" find nothing. */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

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

/** The parsing state of one configuration (main file plus includes). */
class NtpConfParser {
  readonly config: NtpConfig = emptyConfig();
  readonly diagnostics: Diagnostic[] = [];
  readonly comments: ConfigComments = emptyComments();
  readonly #locations = new Map<string, Loc>();
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

  constructor(readInclude: IncludeReader | undefined) {
    this.#readInclude = readInclude;
  }

  /** Parses one file's text at include depth `depth`. */
  parseText(text: string, file: string, id: string, depth: number): void {
    this.#stack.push(id);
    this.#names.push(file);
    if (!this.#fileOrder.includes(file)) this.#fileOrder.push(file);
    const lexed = lexNtpConf(text, file);
    const sniff = sniffNtpConf(lexed.lines, isKnownFirstWord);
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
      const r = this.config.refclocks[idx] as RefclockConfig;
      this.#applyFudge(r, idx, f.args);
      addComments(this.comments, `refclocks.${idx}`, f.comments);
    }
    for (const b of this.#blocks) this.comments.trailer.push(...b.lines);
    this.#blocks = [];
    normalizeConfig(this.config);
    for (const issue of validateConfig(this.config)) {
      const loc = this.#locate(issue.path);
      this.diagnostics.push({
        severity: issue.severity,
        file: loc.file,
        line: loc.line,
        col: loc.col,
        code: issue.code,
        message: issue.message,
      });
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
      this.#warn(first, unknownKeywordMessage(first), "unknown-keyword");
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
          shownKeyword(first) !== null || isKnownFirstWord(keyword)
            ? `not translated: ${line.raw.trim()}`
            : `not translated: ${file}:${line.line} (not shown: no keyword)`,
        );
      }
    }
  }

  #command(keyword: string, kw: ConfToken, args: ConfToken[]): void {
    if (SOURCE_KIND_WORDS.has(keyword)) return this.#source(keyword as SourceKind, kw, args);
    const field = own(FILE_OPTIONS, keyword);
    if (field !== undefined) {
      const path = this.#onePath(kw, args);
      if (path !== null) {
        this.config.files[field] = path;
        this.#mark(`files.${field}`, kw);
        this.#attachKey = `files.${field}`;
      }
      return;
    }
    switch (keyword) {
      case "fudge":
        return this.#fudge(kw, args);
      case "restrict":
        return this.#restrict(kw, args);
      case "discard":
        return this.#discard(kw, args);
      case "interface":
      case "nic":
        return this.#interface(kw, args);
      case "broadcastclient":
        return this.#broadcastClient(kw, args);
      case "multicastclient":
      case "manycastserver":
        return this.#groupAddresses(keyword, kw, args);
      case "keys":
      case "keysdir":
      case "ntpsigndsocket": {
        const path = this.#onePath(kw, args);
        if (path === null) return;
        const field = keyword === "keys"
          ? "keysFile"
          : keyword === "keysdir"
          ? "keysDir"
          : "ntpSigndSocket";
        this.config.auth[field] = path;
        this.#mark(`auth.${field}`, kw);
        this.#attachKey = `auth.${field}`;
        return;
      }
      case "trustedkey":
        return this.#trustedKey(kw, args);
      case "requestkey":
      case "controlkey": {
        const field = keyword === "requestkey" ? "requestKey" : "controlKey";
        const v = this.#oneInt(kw, args);
        if (v === null) return;
        this.config.auth[field] = v;
        this.#mark(`auth.${field}`, args[0] as ConfToken);
        this.#attachKey = `auth.${field}`;
        return;
      }
      case "autokey":
      case "revoke": {
        const field = keyword === "autokey" ? "autokeyLog2" : "revokeLog2";
        if (keyword === "autokey" && args.length === 0) {
          this.#attachKey = "auth";
          return;
        }
        const v = this.#oneInt(kw, args);
        if (v === null) return;
        this.config.auth[field] = v;
        this.#mark(`auth.${field}`, args[0] as ConfToken);
        this.#attachKey = `auth.${field}`;
        return;
      }
      case "crypto":
        return this.#crypto(kw, args);
      case "statsdir": {
        const path = this.#onePath(kw, args);
        if (path === null) return;
        this.config.stats.statsDir = path;
        this.#mark("stats.statsDir", kw);
        this.#attachKey = "stats.statsDir";
        return;
      }
      case "statistics":
        return this.#statistics(kw, args);
      case "filegen":
        return this.#filegen(kw, args);
      case "tos":
        return this.#numberOptions(kw, args, "tos", TOS_OPTIONS);
      case "tinker":
        if (this.#sawSource) {
          this.#warn(
            kw,
            "tinker should come before the source commands (ntpd applies it early); " +
              "Horae applies it anyway",
            "order",
          );
        }
        return this.#tinker(kw, args);
      case "enable":
      case "disable":
        return this.#enable(keyword === "enable", kw, args);
      case "broadcastdelay": {
        const v = this.#oneNumber(kw, args);
        if (v === null) return;
        this.config.broadcast.delaySec = v;
        this.#mark("broadcast.delaySec", args[0] as ConfToken);
        this.#attachKey = "broadcast.delaySec";
        return;
      }
      case "calldelay": {
        const v = this.#oneInt(kw, args);
        if (v === null) return;
        this.config.callDelaySec = v;
        this.#mark("callDelaySec", args[0] as ConfToken);
        this.#attachKey = "callDelaySec";
        return;
      }
      case "logconfig":
        return this.#list(kw, args, "logConfig", this.config.logConfig);
      case "phone":
        return this.#list(kw, args, "phone", this.config.phone);
      case "setvar":
        return this.#setvar(kw, args);
      case "trap":
        return this.#trap(kw, args);
      case "ttl":
        return this.#ttl(kw, args);
      case "mru":
      case "rlimit":
        return this.#limits(keyword, kw, args);
      default:
        if (UNSUPPORTED.has(keyword)) {
          this.#warn(kw, `"${keyword}" is not supported by Horae; line ignored`, "unsupported");
        } else {
          this.#warn(kw, unknownKeywordMessage(kw), "unknown-keyword");
        }
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

  #onePath(kw: ConfToken, args: ConfToken[]): string | null {
    return this.#lone(kw, args, "file name")?.text ?? null;
  }

  #oneInt(kw: ConfToken, args: ConfToken[]): number | null {
    const v = this.#lone(kw, args, "value");
    return v === null ? null : this.#parseInt(v, kw.text);
  }

  #oneNumber(kw: ConfToken, args: ConfToken[]): number | null {
    const v = this.#lone(kw, args, "value");
    return v === null ? null : this.#parseNumber(v, kw.text);
  }

  /** Reads a leading -4 / -6 qualifier; returns the family and the index of the next token. */
  #family(args: ConfToken[]): { family: AddressFamily; next: number } {
    const t = args[0];
    if (t !== undefined && !t.quoted && t.text === "-4") return { family: "ipv4", next: 1 };
    if (t !== undefined && !t.quoted && t.text === "-6") return { family: "ipv6", next: 1 };
    return { family: "any", next: 0 };
  }

  // ---- commands ----

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
    if (cls.kind === "refclock") {
      if (kind !== "server") {
        this.#error(
          addrTok,
          `reference clock ${address} is only valid with "server", not "${kind}"`,
        );
        return;
      }
      const idx = this.config.refclocks.length;
      const r = defaultRefclock(cls.type, cls.unit);
      this.config.refclocks.push(r);
      const base = `refclocks.${idx}`;
      this.#mark(base, addrTok);
      this.#attachKey = base;
      this.#sourceOptions(opts, base, (name, value, tok) => {
        if (!REFCLOCK_OPTIONS.has(name)) {
          this.#warn(tok, `"${name}" is ignored for a reference clock`, "ignored-option");
          return;
        }
        if (name === "prefer") r.prefer = true;
        else if (name === "noselect") r.noselect = true;
        else if (name === "true") r.trueChimer = true;
        else if (name === "minpoll" && value !== null) r.minpollLog2 = value;
        else if (name === "maxpoll" && value !== null) r.maxpollLog2 = value;
        else if (name === "mode" && value !== null) r.mode = value;
      });
      return;
    }
    const idx = this.config.sources.length;
    const s = defaultSource(kind, address);
    s.family = family;
    this.config.sources.push(s);
    const base = `sources.${idx}`;
    this.#mark(base, kw);
    this.#mark(`${base}.address`, addrTok);
    this.#attachKey = base;
    this.#sourceOptions(opts, base, (name, value) => {
      switch (name) {
        case "autokey":
          s.autokey = true;
          break;
        case "burst":
          s.burst = true;
          break;
        case "iburst":
          s.iburst = true;
          break;
        case "prefer":
          s.prefer = true;
          break;
        case "noselect":
          s.noselect = true;
          break;
        case "true":
          s.trueChimer = true;
          break;
        case "preempt":
          s.preempt = true;
          break;
        case "xleave":
          s.xleave = true;
          break;
        case "key":
          s.key = value;
          break;
        case "version":
          if (value !== null) s.version = value;
          break;
        case "minpoll":
          if (value !== null) s.minpollLog2 = value;
          break;
        case "maxpoll":
          if (value !== null) s.maxpollLog2 = value;
          break;
        case "ttl":
          s.ttl = value;
          break;
        case "mode":
          s.mode = value;
          break;
      }
    });
  }

  /** Walks server-line options, calling `apply` with each known option and its integer value. */
  #sourceOptions(
    opts: ConfToken[],
    base: string,
    apply: (name: string, value: number | null, tok: ConfToken) => void,
  ): void {
    const fieldOf: Record<string, string> = {
      minpoll: "minpollLog2",
      maxpoll: "maxpollLog2",
    };
    for (let i = 0; i < opts.length; i++) {
      const tok = opts[i] as ConfToken;
      const name = tok.text.toLowerCase();
      if (!tok.quoted && SOURCE_FLAGS.has(name)) {
        this.#mark(`${base}.${name}`, tok);
        apply(name, null, tok);
      } else if (!tok.quoted && SOURCE_VALUES.has(name)) {
        const vt = this.#valueOf(opts, i, tok);
        if (vt === null) return;
        i++;
        const v = this.#parseInt(vt, name);
        if (v === null) continue;
        this.#mark(`${base}.${own(fieldOf, name) ?? name}`, vt);
        apply(name, v, tok);
      } else if (tok.text === "-4" || tok.text === "-6") {
        this.#error(tok, `${tok.text} must come before the address`);
      } else {
        this.#warn(tok, `unknown option "${tok.text}"; ignored`, "unknown-option");
      }
    }
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
      this.#applyFudge(this.config.refclocks[idx] as RefclockConfig, idx, args.slice(1));
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

  #applyFudge(r: RefclockConfig, idx: number, args: ConfToken[]): void {
    const base = `refclocks.${idx}.fudge`;
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const name = tok.text.toLowerCase();
      if (tok.quoted || !FUDGE_OPTIONS.has(name)) {
        this.#warn(tok, `unknown fudge option "${tok.text}"; ignored`, "unknown-option");
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      switch (name) {
        case "time1":
        case "time2": {
          const v = this.#parseNumber(vt, name);
          if (v === null) break;
          const field = name === "time1" ? "time1Sec" : "time2Sec";
          r.fudge[field] = v;
          this.#mark(`${base}.${field}`, vt);
          break;
        }
        case "stratum": {
          const v = this.#parseInt(vt, name);
          if (v === null) break;
          r.fudge.stratum = v;
          this.#mark(`${base}.stratum`, vt);
          break;
        }
        case "refid":
          r.fudge.refid = vt.text;
          this.#mark(`${base}.refid`, vt);
          break;
        case "mode": {
          const v = this.#parseInt(vt, name);
          if (v === null) break;
          r.mode = v;
          this.#mark(`refclocks.${idx}.mode`, vt);
          break;
        }
        default: {
          if (vt.text !== "0" && vt.text !== "1") {
            this.#error(vt, `${name} must be 0 or 1, got "${vt.text}"`);
            break;
          }
          r.fudge[name as "flag1" | "flag2" | "flag3" | "flag4"] = vt.text === "1";
          this.#mark(`${base}.${name}`, vt);
        }
      }
    }
  }

  #restrict(kw: ConfToken, args: ConfToken[]): void {
    const { family, next } = this.#family(args);
    const target = args[next];
    if (target === undefined || target.text.startsWith("-")) {
      this.#error(target ?? kw, '"restrict" needs an address, "default" or "source"');
      return;
    }
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
      } else if (!tok.quoted && RESTRICT_FLAG_WORDS.has(word)) {
        flags.push(word);
      } else {
        // Dropping an access flag could open the server wider than intended: fail closed.
        this.#error(tok, `unknown restrict flag "${tok.text}"`, "restrict-flag");
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

  #discard(kw: ConfToken, args: ConfToken[]): void {
    this.#attachKey = "discard";
    this.#mark("discard", kw);
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const field = own(DISCARD_OPTIONS, tok.text.toLowerCase());
      if (field === undefined || tok.quoted) {
        this.#warn(tok, `unknown discard option "${tok.text}"; ignored`, "unknown-option");
        const nextTok = args[i + 1];
        if (nextTok && NUM_RE.test(nextTok.text)) i++;
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      const v = this.#parseInt(vt, tok.text);
      if (v === null) continue;
      this.config.discard[field] = v;
      this.#mark(`discard.${field}`, vt);
    }
  }

  #interface(kw: ConfToken, args: ConfToken[]): void {
    const actionTok = args[0];
    const matchTok = args[1];
    const action = actionTok?.text.toLowerCase();
    if (
      actionTok === undefined || !(INTERFACE_ACTIONS as readonly string[]).includes(action ?? "")
    ) {
      this.#error(actionTok ?? kw, `"${kw.text}" needs listen, ignore or drop`);
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
    this.config.interfaces.push({ action: action as InterfaceAction, match: matchTok.text });
    this.#mark(`interfaces.${idx}`, matchTok);
    this.#attachKey = `interfaces.${idx}`;
  }

  #broadcastClient(kw: ConfToken, args: ConfToken[]): void {
    this.config.broadcast.client = true;
    this.config.system.bclient = true;
    this.#mark("broadcast.client", kw);
    this.#attachKey = "broadcast.client";
    for (const tok of args) {
      if (tok.text.toLowerCase() === "novolley") this.config.broadcast.novolley = true;
      else this.#warn(tok, `unknown option "${tok.text}"; ignored`, "unknown-option");
    }
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
    for (const tok of addrs) {
      this.#mark(`broadcast.${field}.${list.length}`, tok);
      list.push(tok.text);
    }
    this.#attachKey = `broadcast.${field}`;
  }

  #trustedKey(kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, '"trustedkey" needs at least one key id');
      return;
    }
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
        if (a > b || b - a > 65534 || keys.length + (b - a) > 4 * 65534) {
          this.#error(lo, `key range ${a} ... ${b} is empty or too large`, "key");
          // Beyond the budget every further range is refused, so expansion stays bounded.
          continue;
        }
        for (let k = a; k <= b; k++) {
          this.#mark(`auth.trustedKeys.${keys.length}`, lo);
          keys.push(k);
        }
        continue;
      }
      const v = this.#parseInt(w, "trustedkey");
      if (v === null) continue;
      this.#mark(`auth.trustedKeys.${keys.length}`, w);
      keys.push(v);
    }
    this.#attachKey = "auth.trustedKeys";
  }

  #crypto(kw: ConfToken, args: ConfToken[]): void {
    const c = this.config.auth.crypto;
    c.enabled = true;
    this.#mark("auth.crypto", kw);
    this.#attachKey = "auth.crypto";
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const name = tok.text.toLowerCase();
      if (tok.quoted || !CRYPTO_OPTION_WORDS.has(name)) {
        this.#warn(tok, `unknown crypto option "${tok.text}"; ignored`, "unknown-option");
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      c[name as Exclude<keyof typeof c, "enabled">] = vt.text;
      this.#mark(`auth.crypto.${name}`, vt);
    }
  }

  #statistics(kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, '"statistics" needs at least one statistics name');
      return;
    }
    for (const tok of args) {
      const name = tok.text.toLowerCase();
      if (!(STAT_NAMES as readonly string[]).includes(name)) {
        this.#error(tok, `unknown statistics "${tok.text}" (known: ${STAT_NAMES.join(", ")})`);
        continue;
      }
      if (!this.config.stats.enabled.includes(name as StatName)) {
        this.config.stats.enabled.push(name as StatName);
      }
    }
    this.#mark("stats.enabled", kw);
    this.#attachKey = "stats.enabled";
  }

  #filegen(kw: ConfToken, args: ConfToken[]): void {
    const nameTok = args[0];
    if (nameTok === undefined) {
      this.#error(kw, '"filegen" needs a statistics name');
      return;
    }
    const name = nameTok.text.toLowerCase() as StatName;
    if (!STAT_NAMES.includes(name)) {
      this.#error(
        nameTok,
        `unknown statistics "${nameTok.text}" (known: ${STAT_NAMES.join(", ")})`,
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
    const base = `stats.filegens.${idx}`;
    this.#mark(base, nameTok);
    this.#attachKey = base;
    const rest = args.slice(1);
    for (let i = 0; i < rest.length; i++) {
      const tok = rest[i] as ConfToken;
      const word = tok.text.toLowerCase();
      if (word === "file" || word === "type") {
        const vt = this.#valueOf(rest, i, tok);
        if (vt === null) return;
        i++;
        if (word === "file") {
          const problem = checkStatsFileName(vt.text);
          if (problem) this.#error(vt, problem, "path");
          else g.file = vt.text;
          this.#mark(`${base}.file`, vt);
        } else {
          const type = vt.text.toLowerCase();
          if (!(FILEGEN_TYPES as readonly string[]).includes(type)) {
            this.#error(vt, `filegen type must be one of ${FILEGEN_TYPES.join(", ")}`);
          } else g.type = type as FilegenType;
        }
      } else if (word === "link" || word === "nolink") {
        g.link = word === "link";
      } else if (word === "enable" || word === "disable") {
        const enabled = this.config.stats.enabled;
        if (word === "enable" && !enabled.includes(name)) enabled.push(name);
        if (word === "disable") this.config.stats.enabled = enabled.filter((n) => n !== name);
      } else {
        this.#warn(tok, `unknown filegen option "${tok.text}"; ignored`, "unknown-option");
      }
    }
  }

  /** `tinker`: ntpd's numeric options plus Horae's `discipline horae|ntpd`. */
  #tinker(kw: ConfToken, args: ConfToken[]): void {
    const rest: ConfToken[] = [];
    let discipline = false;
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      if (tok.quoted || tok.text.toLowerCase() !== "discipline") {
        rest.push(tok);
        continue;
      }
      discipline = true;
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      const v = vt.text.toLowerCase();
      if (!(DISCIPLINES as readonly string[]).includes(v)) {
        this.#error(
          vt,
          `tinker discipline must be one of ${DISCIPLINES.join(", ")}, not "${vt.text}"`,
        );
        continue;
      }
      this.config.tinker.discipline = v as DisciplineChoice;
      this.#mark("tinker.discipline", vt);
    }
    if (discipline && rest.length === 0) {
      this.#attachKey = "tinker";
      this.#mark("tinker", kw);
      return;
    }
    this.#numberOptions(kw, rest, "tinker", TINKER_OPTIONS);
  }

  #numberOptions<K extends "tos" | "tinker">(
    kw: ConfToken,
    args: ConfToken[],
    section: K,
    table: Record<string, keyof NtpConfig[K]>,
  ): void {
    this.#attachKey = section;
    this.#mark(section, kw);
    if (args.length === 0) {
      this.#error(kw, `"${section}" needs at least one option`);
      return;
    }
    const target = this.config[section] as unknown as Record<string, number | null>;
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const field = own(table, tok.text.toLowerCase()) as string | undefined;
      if (tok.quoted || field === undefined) {
        this.#warn(tok, `unknown ${section} option "${tok.text}"; ignored`, "unknown-option");
        // Skip its value too when it looks like one.
        const nextTok = args[i + 1];
        if (nextTok && NUM_RE.test(nextTok.text)) i++;
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      const v = this.#parseNumber(vt, `${section} ${tok.text}`);
      if (v === null) continue;
      target[field] = v;
      this.#mark(`${section}.${field}`, vt);
    }
  }

  #enable(on: boolean, kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, `"${kw.text}" needs at least one flag`);
      return;
    }
    this.#attachKey = "system";
    for (const tok of args) {
      const flag = tok.text.toLowerCase();
      if (!(SYSTEM_FLAGS as readonly string[]).includes(flag)) {
        this.#warn(
          tok,
          `unknown ${kw.text} flag "${tok.text}" (known: ${SYSTEM_FLAGS.join(", ")}); ignored`,
          "unknown-option",
        );
        continue;
      }
      this.config.system[flag as SystemFlag] = on;
      if (flag === "bclient") this.config.broadcast.client = on;
      this.#mark(`system.${flag}`, tok);
    }
  }

  #list(kw: ConfToken, args: ConfToken[], path: "logConfig" | "phone", list: string[]): void {
    if (args.length === 0) {
      this.#error(kw, `"${kw.text}" needs at least one value`);
      return;
    }
    for (const tok of args) {
      this.#mark(`${path}.${list.length}`, tok);
      list.push(tok.text);
    }
    this.#attachKey = path;
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
    this.#attachKey = `setvar.${idx}`;
  }

  #trap(kw: ConfToken, args: ConfToken[]): void {
    const addrTok = args[0];
    if (addrTok === undefined) {
      this.#error(kw, '"trap" needs an address');
      return;
    }
    const trap = {
      address: addrTok.text,
      port: null as number | null,
      interface: null as string | null,
    };
    const idx = this.config.traps.length;
    this.#mark(`traps.${idx}`, addrTok);
    for (let i = 1; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const word = tok.text.toLowerCase();
      if (word !== "port" && word !== "interface") {
        this.#warn(tok, `unknown trap option "${tok.text}"; ignored`, "unknown-option");
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      if (word === "port") {
        const v = this.#parseInt(vt, "port");
        if (v !== null) trap.port = v;
        this.#mark(`traps.${idx}.port`, vt);
      } else {
        trap.interface = vt.text;
        this.#mark(`traps.${idx}.interface`, vt);
      }
    }
    this.config.traps.push(trap);
    this.#attachKey = `traps.${idx}`;
  }

  #ttl(kw: ConfToken, args: ConfToken[]): void {
    if (args.length === 0) {
      this.#error(kw, '"ttl" needs at least one value');
      return;
    }
    const list = this.config.broadcast.ttl;
    this.#mark("broadcast.ttl", kw);
    for (const tok of args) {
      const v = this.#parseInt(tok, "ttl");
      if (v === null) continue;
      this.#mark(`broadcast.ttl.${list.length}`, tok);
      list.push(v);
    }
    this.#attachKey = "broadcast.ttl";
  }

  #limits(keyword: "mru" | "rlimit", kw: ConfToken, args: ConfToken[]): void {
    const known = LIMIT_OPTION_WORDS[keyword];
    const target = this.config[keyword] as unknown as Record<string, number | null>;
    this.#attachKey = keyword;
    this.#mark(keyword, kw);
    for (let i = 0; i < args.length; i++) {
      const tok = args[i] as ConfToken;
      const name = tok.text.toLowerCase();
      if (tok.quoted || !known.has(name)) {
        this.#warn(tok, `unknown ${keyword} option "${tok.text}"; ignored`, "unknown-option");
        continue;
      }
      const vt = this.#valueOf(args, i, tok);
      if (vt === null) return;
      i++;
      const v = this.#parseInt(vt, `${keyword} ${name}`);
      if (v === null) continue;
      target[name] = v;
      this.#mark(`${keyword}.${name}`, vt);
    }
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
  const parser = new NtpConfParser(options.readInclude);
  parser.parseText(text, file, options.id ?? file, 0);
  return parser.finish();
}
