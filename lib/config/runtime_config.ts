// Run-time configuration (mode 6 CONFIGURE, ntpq `:config`, ntpd 4.2.x behaviour): ntp.conf
// lines applied on top of the running configuration. `server`/`pool`/`peer` add a source (a
// duplicate of a running one is ignored, as ntpd ignores it), `unpeer`/`unconfig` remove one by
// address or association id, `restrict` adds a rule (or adds flags to the rule for the same
// address and mask, as ntpd does), and any other line sets what it sets. Pure: the result is a
// new configuration for the reload seam, or the diagnostics that refuse the text.
//
// No file is named at run time: a line that would change a path (logfile, driftfile, pidfile,
// keys, statsdir, filegen files, saveconfigdir, certificates...) is refused, so that the
// controlkey cannot make the daemon (often root) write or read a file of the sender's choosing
// (ntpd closed the same hole for pidfile and driftfile, CVE-2015-7703). Those change in the file,
// with SIGHUP.

import type { NtpConfig, RestrictRule } from "./config_model.ts";
import { applyStrict, type Diagnostic } from "./diagnostics.ts";
import { type ConfLine, lexNtpConf } from "./ntp_conf_lexer.ts";
import { parseNtpConf } from "./ntp_conf_parser.ts";
import { sortFlags } from "./normalize.ts";
import { sourceKey } from "./config_diff.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { getPath, joinPath } from "./model_path.ts";

/**
 * Model paths that name files, with the keyword that sets them: every option of type "path" in
 * the spec, the statistics file generations (whose `file` names a file below statsdir), and a
 * reference clock's device (`path`, `ppspath`: a string, since gpsd's is host:port, but a device
 * a root daemon would open). For an array section, `fields` lists the element fields compared.
 */
export const FILE_PATHS: readonly { path: string; keyword: string; fields?: readonly string[] }[] =
  CONFIG_SPEC.sections.flatMap((s) => {
    if (s.array) {
      const fields = s.parts.flatMap((p) =>
        p.options.filter((o) => o.field === "file" || o.type === "path" || /path$/.test(o.field))
          .map((o) => joinPath("", p.at, o.field).replace(/^\./, ""))
      );
      return fields.length > 0
        ? [{ path: s.model, keyword: s.commands[0]?.keyword ?? s.id, fields }]
        : [];
    }
    return s.parts.flatMap((p) =>
      p.options.filter((o) => o.type === "path").map((o) => ({
        path: joinPath(s.model, p.at, o.field),
        keyword: s.commands.length === 1 ? s.commands[0]!.keyword : o.ntpConf ?? o.field,
      }))
    );
  });

/**
 * What a file path entry compares: the value, or for an array the file fields of the elements
 * that name any file (an added element naming none, a LOCAL clock say, changes nothing here).
 */
function filesAt(config: NtpConfig, f: (typeof FILE_PATHS)[number]): string {
  const v = getPath(config, f.path);
  if (f.fields === undefined || !Array.isArray(v)) return JSON.stringify(v);
  return JSON.stringify(
    v.map((e) => f.fields!.map((k) => getPath(e, k) ?? null))
      .filter((named) => named.some((x) => x !== null)),
  );
}

/**
 * Largest run-time configuration text accepted, bytes. One mode 6 request carries at most 468
 * bytes; the bound is checked again here so that no other caller can hand in more.
 */
export const MAX_RUNTIME_CONFIG_BYTES = 1024;

/** The file name diagnostics of run-time configuration carry. */
export const RUNTIME_CONFIG_FILE = "<runtime>";

/** What `unpeer 3` names: the source line association 3 belongs to, or null. */
export type AssociationLookup = (assocId: number) => { kind: string; address: string } | null;

/** The outcome of applying run-time configuration text. */
export type RuntimeConfigResult =
  | { ok: true; config: NtpConfig; diagnostics: Diagnostic[] }
  | { ok: false; diagnostics: Diagnostic[] };

function error(line: number, col: number, message: string, code = "syntax"): Diagnostic {
  return { severity: "error", file: RUNTIME_CONFIG_FILE, line, col, message, code };
}

function sameRule(a: RestrictRule, b: RestrictRule): boolean {
  return a.match === b.match && a.address === b.address && a.mask === b.mask &&
    a.family === b.family;
}

/** Removes the sources `unpeer`/`unconfig` name; a diagnostic when it names none. */
function unpeer(
  config: NtpConfig,
  line: ConfLine,
  lookup: AssociationLookup,
): Diagnostic | null {
  const kw = line.tokens[0]!;
  const arg = line.tokens[1];
  if (arg === undefined || line.tokens.length > 2) {
    const col = line.tokens[2]?.col ?? kw.col + kw.text.length + 1;
    return error(line.line, col, `"${kw.text}" takes one address or association id`);
  }
  let target: { kind: string | null; address: string } = { kind: null, address: arg.text };
  if (/^\d+$/.test(arg.text)) {
    const found = lookup(Number(arg.text));
    if (found === null) {
      return error(line.line, arg.col, `no association ${arg.text}`, "unpeer");
    }
    target = found;
  }
  const address = target.address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const kept = config.sources.filter((s) =>
    !(s.address.toLowerCase() === address && (target.kind === null || s.kind === target.kind))
  );
  if (kept.length === config.sources.length) {
    return error(line.line, arg.col, `no source ${arg.text} is configured`, "unpeer");
  }
  config.sources = kept;
  return null;
}

/**
 * Applies ntp.conf `text` on top of `running` (never changed). Refused as a whole, with
 * diagnostics located by line and column, when the text is too long, does not parse, or names a
 * source to remove that does not run; warnings (options not applied) are passed on.
 */
export function applyRuntimeConfig(
  running: NtpConfig,
  text: string,
  lookup: AssociationLookup = () => null,
): RuntimeConfigResult {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_RUNTIME_CONFIG_BYTES) {
    return {
      ok: false,
      diagnostics: [
        error(0, 0, `request too long (${bytes} bytes; at most ${MAX_RUNTIME_CONFIG_BYTES})`),
      ],
    };
  }
  const lexed = lexNtpConf(text, RUNTIME_CONFIG_FILE);
  if (lexed.binary || lexed.diagnostics.some((d) => d.severity === "error")) {
    return { ok: false, diagnostics: lexed.diagnostics };
  }
  const base = structuredClone(running);
  const diagnostics: Diagnostic[] = [];
  // The removals first, then the rest as ntp.conf text; the other lines keep their numbers (the
  // removals become blank lines) so that columns and lines point into what was sent.
  const rest: string[] = text.split("\n");
  let any = false;
  for (const line of lexed.lines) {
    const kw = line.tokens[0];
    if (kw === undefined) continue;
    any = true;
    const word = kw.text.toLowerCase();
    if (word === "unpeer" || word === "unconfig") {
      const d = unpeer(base, line, lookup);
      if (d !== null) diagnostics.push(d);
      rest[line.line - 1] = "";
    }
  }
  if (!any) return { ok: false, diagnostics: [error(1, 1, "no configuration command")] };
  const before = base.restrict.length;
  const parsed = parseNtpConf(rest.join("\n"), { file: RUNTIME_CONFIG_FILE, base });
  // Strict, as ntpd's parser: an unknown word or an unsupported command refuses the text.
  diagnostics.push(
    ...applyStrict(parsed.diagnostics).map((d) =>
      d.code === "unsupported" ? { ...d, severity: "error" as const } : d
    ),
  );
  if (diagnostics.some((d) => d.severity === "error")) {
    return { ok: false, diagnostics: sortByPlace(diagnostics) };
  }
  const config = parsed.config;
  const files: Diagnostic[] = [];
  for (const f of FILE_PATHS) {
    if (filesAt(running, f) === filesAt(config, f)) continue;
    const at = lexed.lines.find((l) => l.tokens[0]?.text.toLowerCase() === f.keyword);
    files.push(
      error(
        at?.line ?? 1,
        1,
        `${f.keyword}: files cannot be named at run time; change the configuration file and ` +
          `send SIGHUP`,
        "runtime-file",
      ),
    );
  }
  if (files.length > 0) return { ok: false, diagnostics: sortByPlace(files) };
  // A source that already runs is ignored (ntpd: "duplicate").
  const seen = new Set<string>();
  config.sources = config.sources.filter((s) => {
    const k = sourceKey(s);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  // COMPAT: ntpd adds the flags of a restrict line to the rule for the same address and mask;
  // so does this (no flag is ever taken away at run time; edit the file and reload for that).
  const kept = config.restrict.slice(0, before);
  for (const r of config.restrict.slice(before)) {
    const old = kept.find((k) => sameRule(k, r));
    if (old === undefined) kept.push(r);
    else old.flags = sortFlags([...old.flags, ...r.flags]);
  }
  config.restrict = kept;
  return { ok: true, config, diagnostics: sortByPlace(diagnostics) };
}

function sortByPlace(d: Diagnostic[]): Diagnostic[] {
  return d.map((x, i) => ({ x, i })).sort((a, b) =>
    a.x.line - b.x.line || a.x.col - b.x.col || a.i - b.i
  ).map((e) => e.x);
}

/**
 * ntpd's answer text for run-time configuration: "Config Succeeded", or one line per error
 * starting with `column N syntax error` (ntpq underlines that column under the line it sent).
 */
export function runtimeConfigReply(result: RuntimeConfigResult): string {
  if (result.ok) return "Config Succeeded";
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  return errors.map((d) =>
    `column ${Math.max(d.col, 0)} syntax error: ${d.line > 1 ? `line ${d.line}: ` : ""}${d.message}`
  ).join("\n");
}
