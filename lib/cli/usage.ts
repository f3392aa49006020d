// Command-line help and usage errors shared by every command: `--help` lists each option on one
// line, and a mistake gets one line that says what is wrong, a likely meant option, and where to
// look (`see horae run --help`), never the whole usage.

import { closestWord } from "../config/did_you_mean.ts";

/** One option as `--help` shows it. */
export interface OptionHelp {
  /** How it is written, with its value: `-c, --configfile FILE`, `--toml`. */
  synopsis: string;
  /** What it does, in one line. */
  help: string;
}

/**
 * The `--help` lines of a `node:util` parseArgs option table. `help` has an entry for every key of
 * `options` (the type makes a missing one an error): the value's name ("" for a flag) and what
 * the option does.
 */
export function optionHelp<T extends Record<string, { type: string; short?: string }>>(
  options: T,
  help: { readonly [K in keyof T]: readonly [value: string, text: string] },
): OptionHelp[] {
  return Object.entries(options).map(([name, o]) => {
    const [value, text] = help[name as keyof T];
    const short = o.short === undefined ? "    " : `-${o.short}, `;
    return { synopsis: `${short}--${name}${value === "" ? "" : ` ${value}`}`, help: text };
  });
}

/** A command's `--help`: the usage line(s), then every option on a line of its own. */
export function helpText(usage: string, options: readonly OptionHelp[], notes = ""): string {
  const width = Math.max(...options.map((o) => o.synopsis.length));
  const lines = options.map((o) => `  ${o.synopsis.padEnd(width)}  ${o.help}`);
  return `${usage.trimEnd()}\n\noptions:\n${lines.join("\n")}\n${notes === "" ? "" : `\n${notes}`}`;
}

/**
 * The one line printed for a command-line mistake: `<program>: <message> (see <program> --help)`.
 * `program` is what the user typed, e.g. "horae run" or "ntpd".
 */
export function usageError(program: string, message: string): string {
  return `${program}: ${message} (see ${program} --help)\n`;
}

/** ` (did you mean --observe?)` for the known option closest to `given`, or "". */
export function suggestOption(given: string, known: readonly string[]): string {
  const name = given.replace(/=.*$/, "");
  if (!name.startsWith("--")) return "";
  const best = closestWord(name, known.filter((k) => k.startsWith("--")));
  return best === null ? "" : ` (did you mean ${best}?)`;
}

/**
 * A short message for an error thrown by `node:util` parseArgs, with "did you mean" among
 * `known` (the long options, `--name`) for an unknown long option.
 */
export function parseArgsMessage(e: unknown, known: readonly string[]): string {
  const text = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  const unknown = /^Unknown option '([^']+)'/.exec(text);
  if (unknown) return `unknown option ${unknown[1]}${suggestOption(unknown[1]!, known)}`;
  const missing = /^Option '([^']+?)(?: <value>)?' argument missing/.exec(text);
  if (missing) return `option ${missing[1]} needs a value`;
  const noArg = /^Option '([^']+)' does not take an argument/.exec(text);
  if (noArg) return `option ${noArg[1]} takes no value`;
  const positional = /^Unexpected argument '([^']*)'/.exec(text);
  if (positional) return `unexpected argument "${positional[1]}"`;
  return text;
}

/** The long options of a `node:util` parseArgs option table, as `--name`. */
export function longOptions(options: Record<string, unknown>): string[] {
  return Object.keys(options).map((k) => `--${k}`);
}

/** The options `horae` itself takes before a command. */
export const TOP_LEVEL_OPTIONS: readonly OptionHelp[] = [
  { synopsis: "-h, --help", help: "print this help and exit" },
  { synopsis: "    --version", help: "print Horae's version and exit" },
];

/**
 * The one line for `horae <word>` when `word` is neither a command nor a top-level option, with
 * the closest command (or option) as a suggestion.
 */
export function unknownCommand(word: string, commands: readonly string[]): string {
  if (word.startsWith("-")) {
    const known = TOP_LEVEL_OPTIONS.map((o) => o.synopsis.trim().split(" ").pop()!);
    return usageError("horae", `unknown option ${word}${suggestOption(word, known)}`);
  }
  const best = closestWord(word, commands);
  const hint = best === null ? "" : ` (did you mean "${best}"?)`;
  return usageError("horae", `unknown command "${word}"${hint}`);
}
