// `horae convert [-o out.toml] [file]`: translates an ntp.conf file into Horae's TOML, keeping
// comments, warning about each line it cannot translate (exit 1 when anything was dropped).

import { isDeepStrictEqual, parseArgs } from "node:util";
import { formatDiagnostic } from "../config/diagnostics.ts";
import { parseTomlConfig } from "../config/toml_config.ts";
import { writeToml } from "../config/toml_writer.ts";
import { NOT_APPLIED_CODE } from "../config/not_applied.ts";
import { type CliIo, denoIo, EXIT_CONFIG, EXIT_USAGE, loadFromArg } from "./check.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

/** Diagnostics the converted TOML rightly repeats from its input. */
const SAID_OF_BOTH = new Set([NOT_APPLIED_CODE, "rule"]);

const CONVERT_USAGE =
  "usage: horae convert [--toml] [-o out.toml] [file]   (no file or -: stdin)\n";

const CONVERT_OPTIONS = {
  output: { type: "string", short: "o" },
  toml: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `horae convert --help`. */
export const CONVERT_HELP: string = helpText(
  CONVERT_USAGE,
  optionHelp(CONVERT_OPTIONS, {
    output: ["FILE", "write the TOML to FILE instead of standard output"],
    toml: ["", "the input is TOML (rewritten in Horae's layout)"],
    help: ["", "print this help and exit"],
  }),
  "Exit status: 0 all translated, 1 some lines dropped, 78 configuration errors, 2 usage.\n",
);

/**
 * Runs `horae convert`. Returns the exit status: 0 when everything was translated, 1 when some
 * line was dropped (the TOML is still written), 78 on configuration errors (nothing written),
 * 2 on a usage error.
 */
export async function runConvert(args: string[], io: CliIo = denoIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: CONVERT_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr(usageError("horae convert", parseArgsMessage(e, longOptions(CONVERT_OPTIONS))));
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    io.stdout(CONVERT_HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    io.stderr(usageError("horae convert", "one input file at most"));
    return EXIT_USAGE;
  }
  const input = parsed.positionals[0] ?? "-";
  const result = await loadFromArg(input, parsed.values.toml ? { toml: true } : {}, io);
  // In read order: the main file, then each included file where it is first included.
  for (const d of result.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  if (!result.ok) {
    io.stderr("horae convert: not converted because of the errors above\n");
    return EXIT_CONFIG;
  }
  const name = input === "-" ? "standard input" : input.slice(input.lastIndexOf("/") + 1);
  const toml = writeToml(result.config, {
    comments: result.comments,
    banner: [`Horae configuration, converted from ${name} by \`horae convert\`.`, ""],
  });
  // Self-check: the TOML must load back to exactly the model of the input, with nothing said
  // about it that was not said of the input (what is not applied, ntpd's consistency checks).
  const back = parseTomlConfig(toml, "<converted>");
  const unexpected = back.diagnostics.filter((d) => !SAID_OF_BOTH.has(d.code));
  if (unexpected.length > 0 || !isDeepStrictEqual(back.config, result.config)) {
    io.stderr("horae convert: internal error: the TOML does not load back to the same model\n");
    for (const d of unexpected) io.stderr(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  if (parsed.values.output !== undefined) {
    try {
      await io.writeFile(parsed.values.output, toml);
    } catch (e) {
      io.stderr(`horae convert: cannot write ${parsed.values.output}: ${(e as Error).message}\n`);
      return 1;
    }
  } else {
    io.stdout(toml);
  }
  if (result.droppedLines > 0) {
    io.stderr(
      `horae convert: ${result.droppedLines} line${
        result.droppedLines === 1 ? " was" : "s were"
      } not (fully) translated; see the warnings above\n`,
    );
    return 1;
  }
  return 0;
}
