// `horae check [--strict] [--toml] [file...]`: validates configurations in either syntax and prints
// every diagnostic as `file:line:col: error|warning: message` (exit 78 on errors).

import { parseArgs } from "node:util";
import { formatDiagnostic } from "../config/diagnostics.ts";
import {
  fileIncludeReader,
  loadConfig,
  loadConfigText,
  loadFailure,
  type LoadResult,
  MAX_CONFIG_BYTES,
} from "../config/load_config.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

/** Exit status for a configuration error (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;
/** Exit status for a usage error. */
export const EXIT_USAGE = 2;

/** Where CLI commands read and write; injectable so tests capture output without spawning. */
export interface CliIo {
  /** Writes text to standard output. */
  stdout(text: string): void;
  /** Writes text to standard error. */
  stderr(text: string): void;
  /**
   * Reads standard input to its end, but stops after `maxBytes` bytes (a caller that wants to
   * detect "too long" asks for one byte more than it accepts).
   */
  readStdin(maxBytes: number): Promise<Uint8Array>;
  /** Writes a file (convert -o). */
  writeFile(path: string, text: string): Promise<void>;
}

/** The real process I/O. */
export function denoIo(): CliIo {
  const enc = new TextEncoder();
  const writeAll = (w: { writeSync(p: Uint8Array): number }, text: string): void => {
    let bytes = enc.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
  };
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    readStdin: async (maxBytes) => {
      const buf = new Uint8Array(maxBytes);
      let n = 0;
      while (n < maxBytes) {
        const got = await Deno.stdin.read(buf.subarray(n));
        if (got === null) break;
        n += got;
      }
      return buf.subarray(0, n);
    },
    writeFile: (path, text) => Deno.writeTextFile(path, text),
  };
}

/** Reads the configuration named on a command line: a path, or "-" for standard input. */
export async function loadFromArg(
  arg: string,
  opts: { toml?: boolean; strict?: boolean },
  io: CliIo,
): Promise<LoadResult> {
  if (arg !== "-") return await loadConfig(arg, opts);
  // Never more than one byte past the limit: `check < /dev/zero` must not fill the memory.
  const bytes = await io.readStdin(MAX_CONFIG_BYTES + 1);
  if (bytes.length > MAX_CONFIG_BYTES) {
    return loadFailure(
      `input is larger than the ${MAX_CONFIG_BYTES}-byte limit for configuration files`,
      { ...opts, file: "<stdin>" },
    );
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return await loadConfigText(text, {
    ...opts,
    file: "<stdin>",
    readInclude: fileIncludeReader(),
  });
}

const CHECK_USAGE =
  "usage: horae check [--strict] [--toml] [--quiet] [file ...]   (no file or -: stdin)\n";

const CHECK_OPTIONS = {
  strict: { type: "boolean" },
  toml: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

/** `horae check --help`. */
export const CHECK_HELP: string = helpText(
  CHECK_USAGE,
  optionHelp(CHECK_OPTIONS, {
    strict: ["", "unknown keywords and options are errors, not warnings"],
    toml: ["", "the files are TOML whatever their names"],
    quiet: ["", "print the diagnostics only, without the summary line"],
    help: ["", "print this help and exit"],
  }),
  "Exit status: 0 no errors (warnings allowed), 78 errors, 2 usage.\n",
);

/**
 * Runs `horae check`. Returns the exit status: 0 when every file is free of errors (warnings
 * allowed), 78 when any has an error, 2 on a usage error.
 */
export async function runCheck(args: string[], io: CliIo = denoIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: CHECK_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr(usageError("horae check", parseArgsMessage(e, longOptions(CHECK_OPTIONS))));
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    io.stdout(CHECK_HELP);
    return 0;
  }
  const files = parsed.positionals.length > 0 ? parsed.positionals : ["-"];
  const opts = {
    ...(parsed.values.toml ? { toml: true } : {}),
    ...(parsed.values.strict ? { strict: true } : {}),
  };
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    const result = await loadFromArg(file, opts, io);
    // In read order (the loader's): the main file, then each included file where it is first
    // included; by line within a file.
    for (const d of result.diagnostics) {
      io.stdout(`${formatDiagnostic(d)}\n`);
      if (d.severity === "error") errors++;
      else warnings++;
    }
  }
  if (!parsed.values.quiet) {
    const what = files.length === 1
      ? (files[0] === "-" ? "<stdin>" : files[0])
      : `${files.length} files`;
    io.stdout(
      `${what}: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${
        warnings === 1 ? "" : "s"
      }\n`,
    );
  }
  return errors > 0 ? EXIT_CONFIG : 0;
}
