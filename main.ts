#!/usr/bin/env -S deno run --allow-all --unstable-net --ext=ts
// The `horae` command: dispatches subcommands, and behaves as ntpd, ntpq, ntpdc, ... when it is
// invoked under one of those names (multi-call, like busybox).
// deno-lint-ignore-file no-console

/** A command's entry point: its arguments and the name it was invoked as ("horae run", "ntpd"). */
type CommandMain = (args: string[], program: string) => Promise<number>;

/**
 * Subcommands, the classic program each one replaces, and how to load it: every command,
 * the daemon included, is a module loaded on demand and called the same way.
 */
const COMMANDS: Record<
  string,
  { program: string; summary: string; main?: () => Promise<CommandMain> }
> = {
  run: {
    program: "ntpd",
    summary: "run the NTP daemon",
    main: () => import("./lib/daemon/run_command.ts").then((m) => m.runDaemonCommand),
  },
  query: {
    program: "ntpq",
    summary: "query a daemon (mode 6)",
    main: () => import("./lib/cli/query.ts").then((m) => (args) => m.runQuery(args)),
  },
  dc: {
    program: "ntpdc",
    summary: "special queries (mode 7)",
    main: () => import("./lib/cli/dc.ts").then((m) => (args) => m.runDc(args)),
  },
  date: {
    program: "ntpdate",
    summary: "set the date from servers",
    main: () => import("./lib/cli/date.ts").then((m) => m.runDate),
  },
  trace: {
    program: "ntptrace",
    summary: "trace a chain of servers",
    main: () =>
      import("./lib/cli/trace.ts").then((m) => (args, program) => m.runTrace(args, program)),
  },
  time: {
    program: "ntptime",
    summary: "read kernel time variables",
    main: () => import("./lib/cli/time.ts").then((m) => m.runTime),
  },
  tickadj: {
    program: "tickadj",
    summary: "kernel tick and tickadj",
    main: () => import("./lib/cli/tickadj.ts").then((m) => m.runTickadj),
  },
  keygen: {
    program: "ntp-keygen",
    summary: "generate keys",
    main: () => import("./lib/cli/keygen.ts").then((m) => (args) => m.runKeygen(args)),
  },
  sim: {
    program: "ntpdsim",
    summary: "run the simulator",
    main: () => import("./lib/cli/sim.ts").then((m) => (args) => m.runSim(args)),
  },
  convert: {
    program: "",
    summary: "convert ntp.conf to TOML",
    main: () => import("./lib/cli/convert.ts").then((m) => (args) => m.runConvert(args)),
  },
  check: {
    program: "",
    summary: "validate a configuration",
    main: () => import("./lib/cli/check.ts").then((m) => (args) => m.runCheck(args)),
  },
  report: {
    program: "",
    summary: "plot statistics files",
    main: () => import("./lib/cli/report.ts").then((m) => (args) => m.runReport(args)),
  },
  install: {
    program: "",
    summary: "install the program, links, unit, man pages",
    main: () => import("./lib/cli/install.ts").then((m) => (args) => m.runInstall(args)),
  },
};

const PROGRAMS: Record<string, string> = Object.fromEntries(
  Object.entries(COMMANDS).filter(([, v]) => v.program !== "").map(([k, v]) => [v.program, k]),
);

/** This process's argument vector, as the kernel holds it. */
function commandLine(): string[] {
  const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv;
}

/** The last path element of `path`, without a script extension. */
function baseName(path: string): string {
  return path.replace(/^.*\//, "").replace(/\.(ts|js|mjs)$/, "");
}

/**
 * The name this process was started as: the detached daemon's HORAE_DETACHED, else the script's
 * (a multi-call link's) name for `deno run`,
 * else argv[0] when it is a classic program's name (the image restarted from a link to main.ts,
 * see {@link linkedMain}), else "horae".
 */
function invokedName(): string {
  // The daemon started again in the background (lib/daemon/background.ts) carries its name.
  const detached = Deno.env.get("HORAE_DETACHED");
  if (detached !== undefined && (detached in PROGRAMS || detached === "horae")) return detached;
  try {
    const argv = commandLine();
    const script = baseName(argv[argv.length - Deno.args.length - 1] ?? argv[0] ?? "");
    const first = baseName(argv[0] ?? "");
    return script in PROGRAMS || !(first in PROGRAMS) ? script : first;
  } catch {
    return "horae";
  }
}

/**
 * The real path of main.ts when this file runs through a link to it (a multi-call link such as
 * /usr/local/sbin/ntpd), else null (main.ts run by its own path, the bundle, a compiled binary).
 * Through a link, `deno run` resolves main.ts's relative imports and finds deno.json (the npm
 * import map) next to the link, not next to main.ts, so the image is restarted on the real file.
 */
function linkedMain(): string | null {
  const file = import.meta.filename;
  if (file === undefined) return null;
  try {
    const real = Deno.realPathSync(file);
    return real !== file && real.endsWith(".ts") ? real : null;
  } catch {
    return null;
  }
}

/** A file: URL for an absolute path (any character a path may hold). */
function fileUrl(path: string): string {
  return `file://${path.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * The argument vector that runs the real main.ts at `real` as the link `name` did: the same deno
 * flags, the checkout's deno.json, and argv[0] set to the link's name (which names the program).
 */
export function linkedArgv(argv: readonly string[], args: number, real: string, name: string) {
  const script = argv.length - args - 1;
  const flags = argv.slice(1, script);
  const configured = flags.some((f) => f === "--config" || f.startsWith("--config="));
  const config = `--config=${real.slice(0, real.lastIndexOf("/"))}/deno.json`;
  return [name, ...flags, ...(configured ? [] : [config]), real, ...argv.slice(script + 1)];
}

/** `horae --help`: the commands and the top-level options, one line each. */
async function usage(): Promise<string> {
  const { helpText, TOP_LEVEL_OPTIONS } = await import("./lib/cli/usage.ts");
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(9)}${c.summary}${c.program ? ` (${c.program})` : ""}`
  );
  return helpText(
    `usage: horae <command> [options]     (horae <command> --help: the command's options)
       horae --help | --version\n\ncommands:\n${lines.join("\n")}`,
    TOP_LEVEL_OPTIONS,
    "Started through a link named ntpd, ntpdsim, ... horae behaves as that program.\n",
  );
}

/** Runs `command` with `args`; `program` is how it was invoked ("horae run", "ntpd"). */
async function dispatch(command: string, args: string[], program: string): Promise<number> {
  const c = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (c?.main !== undefined) return (await c.main())(args, program);
  if (c !== undefined) {
    console.error(`horae ${command}: not yet implemented`);
    return 2;
  }
  console.error(
    (await import("./lib/cli/usage.ts")).unknownCommand(command, Object.keys(COMMANDS)).trimEnd(),
  );
  return 2;
}

if ("WorkerGlobalScope" in globalThis) {
  // A thread of this program: the daemon starts its server threads from this module's own URL
  // (so the single-file bundle works too) with a recognisable worker name.
  const worker = await import("./lib/daemon/server_worker.ts");
  if (worker.isServerWorkerContext()) await worker.runServerWorker();
} else if (import.meta.main) {
  // Before anything else: SIGUSR1 would open Deno's V8 inspector (code execution for any local
  // user who can signal us). Block it and SIGUSR2 in every thread by restarting this image with
  // them blocked; from then on no timing of either signal can reach a handler. Through a link to
  // main.ts, the restart runs the real file (see linkedMain).
  try {
    const real = linkedMain();
    if (real !== null) {
      const image = await import(new URL("./ffi/process_image.ts", fileUrl(real)).href);
      image.restartGuarded(linkedArgv(commandLine(), Deno.args.length, real, invokedName()));
    }
    // argv[0] becomes the program's name, which pidof matches (it reads the kernel's thread
    // name only for processes whose argv[0] is empty or holds a space).
    const image = await import("./ffi/process_image.ts");
    const program = invokedName();
    const argv = commandLine();
    const argv0 = program in PROGRAMS ? program : "horae";
    if (argv[0] !== argv0) image.restartGuarded([argv0, ...argv.slice(1)]);
    image.ensureGuardedSignalsBlocked();
  } catch (e) {
    console.error(`horae: cannot block SIGUSR1 and SIGUSR2 (needs --allow-ffi): ${e}`);
    Deno.exit(1);
  }
  const name = invokedName();
  // ps, top and pidof show the classic name (ntpd, ntpq, ...) or horae, not deno: the thread
  // name here, argv[0] from the restart above.
  try {
    (await import("./ffi/process_control.ts")).setThreadName(name in PROGRAMS ? name : "horae");
  } catch {
    // A name is a convenience: without it the process is still the same program.
  }
  let code: number;
  if (name in PROGRAMS) {
    code = await dispatch(PROGRAMS[name]!, Deno.args, name);
  } else {
    const [command, ...rest] = Deno.args;
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      console.log(await usage());
      code = command === undefined ? 2 : 0;
    } else if (command === "--version") {
      console.log(`horae ${(await import("./lib/cli/version.ts")).HORAE_VERSION}`);
      code = 0;
    } else {
      code = await dispatch(command, rest, `horae ${command}`);
    }
  }
  Deno.exit(code);
}
