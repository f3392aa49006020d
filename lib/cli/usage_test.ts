import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import {
  helpText,
  longOptions,
  optionHelp,
  parseArgsMessage,
  suggestOption,
  unknownCommand,
  usageError,
} from "./usage.ts";

const OPTIONS = {
  observe: { type: "boolean" },
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
} as const;

/** The message parseArgs throws for `args` against OPTIONS, through parseArgsMessage. */
function messageFor(args: string[]): string {
  try {
    parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    return parseArgsMessage(e, longOptions(OPTIONS));
  }
  throw new Error(`${args.join(" ")} parsed`);
}

Deno.test("optionHelp() and helpText() put every option on one line, aligned", () => {
  const lines = optionHelp(OPTIONS, {
    observe: ["", "never steer the clock"],
    config: ["FILE", "read FILE"],
    help: ["", "print this help"],
  });
  assert.deepEqual(lines, [
    { synopsis: "    --observe", help: "never steer the clock" },
    { synopsis: "-c, --config FILE", help: "read FILE" },
    { synopsis: "-h, --help", help: "print this help" },
  ]);
  assert.equal(
    helpText("usage: x [options]\n", lines, "Exit status: 0.\n"),
    [
      "usage: x [options]",
      "",
      "options:",
      "      --observe      never steer the clock",
      "  -c, --config FILE  read FILE",
      "  -h, --help         print this help",
      "",
      "Exit status: 0.",
      "",
    ].join("\n"),
  );
});

Deno.test("parseArgsMessage() says what is wrong in a few words, with did you mean", () => {
  assert.equal(messageFor(["--obsrve"]), "unknown option --obsrve (did you mean --observe?)");
  assert.equal(messageFor(["--cnofig", "x"]), "unknown option --cnofig (did you mean --config?)");
  assert.equal(messageFor(["--zzzzzz"]), "unknown option --zzzzzz");
  assert.equal(messageFor(["-y"]), "unknown option -y");
  assert.equal(messageFor(["-c"]), "option -c, --config needs a value");
  assert.equal(messageFor(["--observe=yes"]), "option --observe takes no value");
  assert.equal(messageFor(["stray"]), 'unexpected argument "stray"');
  assert.equal(parseArgsMessage(new Error("something else\nmore"), []), "something else");
});

Deno.test("suggestOption() only suggests long options, and ignores a value after =", () => {
  assert.equal(suggestOption("--prot=5", ["--port", "--listen"]), " (did you mean --port?)");
  assert.equal(suggestOption("-p", ["--port"]), "");
  assert.equal(suggestOption("--port", ["--port"]), "", "an exact match is no typo");
});

Deno.test("usageError() is one line with a pointer to --help", () => {
  assert.equal(
    usageError("horae run", "unknown option --x"),
    "horae run: unknown option --x (see horae run --help)\n",
  );
});

Deno.test("unknownCommand() suggests the closest command, or --version/--help for an option", () => {
  const commands = ["run", "check", "convert", "sim"];
  assert.equal(
    unknownCommand("rnu", commands),
    'horae: unknown command "rnu" (did you mean "run"?) (see horae --help)\n',
  );
  assert.equal(
    unknownCommand("chekc", commands),
    'horae: unknown command "chekc" (did you mean "check"?) (see horae --help)\n',
  );
  assert.equal(
    unknownCommand("frobnicate", commands),
    'horae: unknown command "frobnicate" (see horae --help)\n',
  );
  assert.equal(
    unknownCommand("--verison", commands),
    "horae: unknown option --verison (did you mean --version?) (see horae --help)\n",
  );
});
