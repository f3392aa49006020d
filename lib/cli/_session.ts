// The plumbing `horae query` (ntpq, mode 6) and `horae dc` (ntpdc, mode 7) share: the --port
// option, opening a host, the host/timeout/help/quit commands and the -c / prompt loop, as
// ntpq(1) and ntpdc(1) of ntpd 4.2.8 behave alike there.

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { parseSocketAddress } from "../net/socket_address.ts";
import type { SocketAddress } from "../net/transport.ts";
import { type CliIo, EXIT_USAGE } from "./check.ts";
import { longOptions, parseArgsMessage, usageError } from "./usage.ts";

/** A client session's state common to both tools; each tool extends it. */
export interface CliSession<C extends { close(): void }> {
  env: {
    io: CliIo;
    resolve(name: string, family: 4 | 6 | null): Promise<string[]>;
    readLine(prompt: string): Promise<string | null>;
  };
  client: C | null;
  hostName: string;
  port: number;
  family: 4 | 6 | null;
  debug: number;
  timeoutMs: number;
  /** Set by quit/exit. */
  done: boolean;
}

/** Prints `text` on standard output. */
export function out(s: { env: { io: CliIo } }, text: string): void {
  s.env.io.stdout(text);
}

/** Prints `text` on standard error, ending it with a newline. */
export function warn(s: { env: { io: CliIo } }, text: string): void {
  s.env.io.stderr(text.endsWith("\n") ? text : `${text}\n`);
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/**
 * Parses `tool`'s command line, or returns the exit status after a usage message (2) or the help
 * text `--help` asks for (0).
 */
export function parseToolArgs<O extends ParseArgsOptionsConfig & { help: unknown }>(
  io: CliIo,
  tool: string,
  args: string[],
  options: O,
  help: string,
): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr(usageError(tool, parseArgsMessage(e, longOptions(options))));
    return EXIT_USAGE;
  }
  if ((parsed.values as Record<string, unknown>).help) {
    io.stdout(help);
    return 0;
  }
  return parsed;
}

/** The --port value (`fallback` when absent), or null after a usage message for `tool`. */
export function portOption(
  io: CliIo,
  tool: string,
  text: string | undefined,
  fallback: number,
): number | null {
  const port = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    io.stderr(usageError(tool, `--port ${text} is not a port number`));
    return null;
  }
  return port;
}

/** How a tool names and finds the host it is asked to open. */
export interface HostSyntax {
  /** `name:port` is accepted for host names (ntpq), not only for address literals. */
  namePort: boolean;
  /** An address literal is shown by its address alone, without the port (ntpdc). */
  literalAsAddress: boolean;
}

/** The server `host` names and the name to show for it, or null after ntpq's message. */
export async function findHost<C extends { close(): void }>(
  s: CliSession<C>,
  host: string,
  syntax: HostSyntax,
): Promise<{ server: SocketAddress; name: string } | null> {
  let address: string;
  let name = host;
  let port = s.port;
  const literal = parseSocketAddress(host, port);
  if (literal.ok) {
    address = literal.address.address;
    port = literal.address.port;
  } else {
    if (syntax.namePort) {
      const m = /^([^:\[\]]+)(?::(\d+))?$/.exec(host);
      if (m === null) {
        warn(s, `***Can't find host ${host}`);
        return null;
      }
      name = m[1]!;
      if (m[2] !== undefined) port = Number(m[2]);
    }
    const found = name === "localhost"
      ? [s.family === 6 ? "::1" : "127.0.0.1"]
      : await s.env.resolve(name, s.family);
    if (found.length === 0) {
      warn(s, `***Can't find host ${name}`);
      return null;
    }
    address = found[0]!;
  }
  const sa = parseSocketAddress(
    address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`,
  );
  if (!sa.ok) {
    warn(s, `***Can't find host ${host}`);
    return null;
  }
  if (literal.ok && syntax.literalAsAddress) name = address;
  return { server: sa.address, name };
}

/** The commands `sessionCommand` runs, which need no open host. */
const SESSION_COMMANDS: readonly string[] = ["host", "timeout", "help", "?", "quit", "exit"];

/**
 * Splits a command line into its word (as typed), the command (lower case) and the arguments;
 * null for a blank or `#` line, and after ntpq's message for a command that needs a host when
 * none is open (`local`: the tool's own commands that do not, besides the shared ones).
 */
export function commandWords<C extends { close(): void }>(
  s: CliSession<C>,
  line: string,
  local: readonly string[],
): { trimmed: string; word: string; cmd: string; args: string[] } | null {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  const [word, ...args] = trimmed.split(/\s+/);
  const cmd = word!.toLowerCase();
  if (!SESSION_COMMANDS.includes(cmd) && !local.includes(cmd) && s.client === null) {
    warn(s, "***No host open, use `host' command");
    return null;
  }
  return { trimmed, word: word!, cmd, args };
}

/** What the shared commands need from the tool. */
export interface SessionHooks {
  /** Opens `host` as the current host; false after a message. */
  open(host: string): Promise<boolean>;
  /** Hands a new timeout to the open client. */
  applyTimeout(ms: number): void;
  /** The command names `help` lists. */
  helpList: readonly string[];
}

/** Runs host, timeout, help/? and quit/exit; false when `cmd` is none of them. */
export async function sessionCommand<C extends { close(): void }>(
  s: CliSession<C>,
  cmd: string,
  args: string[],
  hooks: SessionHooks,
): Promise<boolean> {
  switch (cmd) {
    case "host":
      if (args[0] === undefined) {
        out(s, s.client === null ? "no current host\n" : `current host is ${s.hostName}\n`);
        return true;
      }
      if (await hooks.open(args[args.length - 1]!)) {
        out(s, `current host set to ${s.hostName}\n`);
      }
      return true;
    case "timeout":
      if (args[0] === undefined) {
        out(s, `primary timeout ${s.timeoutMs} ms\n`);
        return true;
      }
      s.timeoutMs = Math.max(1, Number(args[0]) || s.timeoutMs);
      if (s.client !== null) hooks.applyTimeout(s.timeoutMs);
      return true;
    case "help":
    case "?":
      out(s, `Commands available:\n${hooks.helpList.join(" ")}\n`);
      return true;
    case "quit":
    case "exit":
      s.done = true;
      return true;
    default:
      return false;
  }
}

/** How `runSession` drives a tool. */
export interface SessionRun {
  /** The hosts named on the command line (localhost when none). */
  hosts: readonly string[];
  /** The -c commands (and their shorthands), run against each host in turn. */
  commands: readonly string[];
  /** Read commands at the prompt after the -c ones. */
  interactive: boolean;
  /** The prompt, `ntpq> ` or `ntpdc> `. */
  prompt: string;
  /** What a -c command's output starts with when there are several hosts. */
  hostPrefix(hostName: string): string;
  /** Opens a host; false after a message. */
  open(host: string): Promise<boolean>;
  /** Runs one command line. */
  command(line: string): Promise<void>;
  /** Called before a -c command runs (ntpq's history). */
  onCommand?(line: string): void;
  /** The line to run for a typed one (ntpq's `!n`); the typed line when absent. */
  typed?(line: string): string;
}

/** Runs the -c commands against each host, then the prompt; returns the exit status. */
export async function runSession<C extends { close(): void }>(
  s: CliSession<C>,
  run: SessionRun,
): Promise<number> {
  let failed = false;
  for (const host of run.hosts) {
    if (!await run.open(host)) {
      failed = true;
      continue;
    }
    for (const c of run.commands) {
      if (run.hosts.length > 1) out(s, run.hostPrefix(s.hostName));
      run.onCommand?.(c);
      await run.command(c);
      if (s.done) break;
    }
  }
  if (run.interactive && !s.done) {
    for (let n = 0; n < 1_000_000 && !s.done; n++) {
      const line = await s.env.readLine(run.prompt);
      if (line === null) break;
      await run.command(run.typed?.(line) ?? line);
    }
  }
  s.client?.close();
  return failed ? 1 : 0;
}
