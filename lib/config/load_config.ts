// Loading a configuration from disk, stdin text or the embedded default: size limits, syntax
// detection (--toml, .toml extension, sniffing), includefile resolution, strict mode.
//
// The TOML reader (smol-toml and the shape check of toml_shape.ts) is imported only when a
// configuration is TOML, so a daemon on an ntp.conf never loads it (it costs little since zod
// left: BENCHMARKS.md, Footprint).

import { emptyConfig, type NtpConfig } from "./config_model.ts";
import { type ConfigComments, emptyComments } from "./config_comments.ts";
import { applyStrict, type Diagnostic, hasErrors, sortDiagnostics } from "./diagnostics.ts";
import { DEFAULT_CONFIG_NAME, DEFAULT_NTP_CONF } from "./default_config.ts";
import { checkTextFile } from "./ntp_conf_lexer.ts";
import { type IncludeReader, type IncludeReadResult, parseNtpConf } from "./ntp_conf_parser.ts";
import { readBoundedTextFileSync } from "./read_bounded_text_file.ts";

/** Largest configuration file accepted (each file, includes too): 1 MiB. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Which language a configuration is written in. */
export type ConfigSyntax = "ntp.conf" | "toml";

/** Options of `loadConfig` / `loadConfigText`. */
export interface LoadOptions {
  /** Force TOML (`--toml`); otherwise chosen by extension, then by sniffing. */
  toml?: boolean;
  /** `check --strict`: unknown keywords and options are errors. */
  strict?: boolean;
}

/** A loaded configuration with everything found along the way. */
export interface LoadResult {
  /** True when there is no error (warnings allowed): the daemon may start. */
  ok: boolean;
  /** The model; best effort when `ok` is false. */
  config: NtpConfig;
  /**
   * Errors and warnings in the order the configuration is read: by file (the main file first,
   * each included file where it is first included), then by line and column.
   */
  diagnostics: Diagnostic[];
  syntax: ConfigSyntax;
  /** The file read, null for the embedded default or text. */
  path: string | null;
  /** Comments (ntp.conf only), for `convert`. */
  comments: ConfigComments;
  /** ntp.conf lines that were not (fully) translated into the model. */
  droppedLines: number;
}

/** Result of reading a configuration file from disk. */
export type ReadResult =
  | {
    ok: true;
    text: string;
    /** `dev:ino` of the file read, its identity for include-loop detection. */
    identity: string;
  }
  | { ok: false; reason: string };

/**
 * Reads a configuration file as text through the shared bounded reader: refuses anything that
 * is not a regular file on a real file system (FIFOs, devices, sockets, /proc and /sys) and
 * never reads more than `MAX_CONFIG_BYTES + 1` bytes, whatever stat says the size is.
 */
export function readConfigFile(path: string): ReadResult {
  const r = readBoundedTextFileSync(path, MAX_CONFIG_BYTES);
  if (r.ok) return { ok: true, text: r.text, identity: r.identity };
  return {
    ok: false,
    reason: r.failure === "too-large" ? `${r.reason} for configuration files` : r.reason,
  };
}

/** Collapses "." and ".." segments of a path lexically ("a/b/../c" → "a/c"). */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length > 0 && out.at(-1) !== "..") out.pop();
    else if (seg !== ".." || !absolute) out.push(seg);
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * An include reader for the real file system. Relative names are resolved against the directory
 * of the including file. COMPAT: ntpd resolves them against its working directory, which for a
 * daemon is usually "/"; absolute paths (the common case) behave the same.
 */
export function fileIncludeReader(): IncludeReader {
  return (path: string, fromFile: string): IncludeReadResult => {
    const base = fromFile.startsWith("<") ? "." : dirname(fromFile);
    const full = normalizePath(path.startsWith("/") ? path : `${base}/${path}`);
    const read = readConfigFile(full);
    if (!read.ok) return read;
    return { ok: true, text: read.text, file: full, id: read.identity };
  };
}

/** Chooses the syntax: explicit flag, then the file extension, then the content. */
export function detectSyntax(path: string | null, text: string, toml?: boolean): ConfigSyntax {
  if (toml) return "toml";
  if (path !== null && path.endsWith(".toml")) return "toml";
  if (path !== null && path.endsWith(".conf")) return "ntp.conf";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    return /^\[/.test(line) || /^"?[A-Za-z0-9_-]+"?\s*=/.test(line) ? "toml" : "ntp.conf";
  }
  return "ntp.conf";
}

/**
 * Parses configuration text (from a file, stdin or the embedded default). Asynchronous because
 * the TOML reader is imported on first use.
 */
export async function loadConfigText(
  text: string,
  options: LoadOptions & {
    /** Name for diagnostics. */
    file: string;
    /** Path used for syntax detection by extension (null: sniff only). */
    path?: string | null;
    /** Identity of the file for include-loop detection. */
    id?: string;
    readInclude?: IncludeReader;
  },
): Promise<LoadResult> {
  const syntax = detectSyntax(options.path ?? null, text, options.toml);
  let config: NtpConfig;
  let diagnostics: Diagnostic[];
  let comments = emptyComments();
  let droppedLines = 0;
  if (syntax === "toml") {
    const binary = checkTextFile(text, options.file);
    if (binary !== null) {
      config = emptyConfig();
      diagnostics = [binary];
    } else {
      const { parseTomlConfig } = await import("./toml_config.ts");
      const r = parseTomlConfig(text, options.file);
      config = r.config;
      // One file: read order is line order (the TOML reader reports by kind of problem).
      diagnostics = sortDiagnostics(r.diagnostics);
      droppedLines = new Set(
        r.diagnostics.filter((d) => d.code === "unknown-keyword").map((d) => d.line),
      ).size;
    }
  } else {
    const r = parseNtpConf(text, {
      file: options.file,
      id: options.id ?? options.file,
      ...(options.readInclude ? { readInclude: options.readInclude } : {}),
    });
    config = r.config;
    diagnostics = r.diagnostics;
    comments = r.comments;
    droppedLines = r.droppedLines;
  }
  if (options.strict) diagnostics = applyStrict(diagnostics);
  return {
    ok: !hasErrors(diagnostics),
    config,
    diagnostics,
    syntax,
    path: options.path ?? null,
    comments,
    droppedLines,
  };
}

/**
 * The result of a configuration that could not be read at all (`message` says why): the empty
 * model and a single "io" error for `options.file`.
 */
export function loadFailure(
  message: string,
  options: LoadOptions & { file: string; path?: string | null },
): LoadResult {
  const d: Diagnostic = {
    severity: "error",
    file: options.file,
    line: 0,
    col: 0,
    code: "io",
    message,
  };
  return {
    ok: false,
    config: emptyConfig(),
    diagnostics: [d],
    syntax: detectSyntax(options.path ?? null, "", options.toml),
    path: options.path ?? null,
    comments: emptyComments(),
    droppedLines: 0,
  };
}

/**
 * Loads a configuration: `path` null means the embedded default (a pool client). The syntax is
 * TOML with `opts.toml`, for a `.toml` file, or when the content looks like TOML; else ntp.conf.
 * Never throws: unreadable files, oversized files and bad content become diagnostics.
 */
export function loadConfig(path: string | null, opts: LoadOptions = {}): Promise<LoadResult> {
  if (path === null) {
    return loadConfigText(DEFAULT_NTP_CONF, { ...opts, file: DEFAULT_CONFIG_NAME });
  }
  const read = readConfigFile(path);
  if (!read.ok) {
    return Promise.resolve(
      loadFailure(`cannot read configuration: ${read.reason}`, { ...opts, file: path, path }),
    );
  }
  return loadConfigText(read.text, {
    ...opts,
    file: path,
    path,
    id: read.identity,
    readInclude: fileIncludeReader(),
  });
}
