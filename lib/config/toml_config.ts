// Native TOML configuration: reads TOML with smol-toml, checks its shape against the option spec
// (toml_shape.ts; every error carries a path and a line), applies the spec's
// ranges with ntpd's treatment, and builds the same model as the ntp.conf parser.

import { parse as parseToml } from "smol-toml";
import { emptyConfig, newElement, type NtpConfig } from "./config_model.ts";
import { checkRange, type ConfigSpec, type SectionSpec } from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import type { Diagnostic, Severity } from "./diagnostics.ts";
import { normalizeConfig, restrictRulesFor } from "./normalize.ts";
import { checkTomlShape, type ShapeIssue, tomlKeysOf } from "./toml_shape.ts";
import { validateConfig } from "./validate.ts";
import { didYouMean } from "./did_you_mean.ts";
import { getPath, joinPath, objectAt } from "./model_path.ts";
import { NOT_APPLIED_CODE, notAppliedIssues } from "./not_applied.ts";

/** A schema-valid TOML configuration document: tables of the spec's keys. */
export type TomlConfigDocument = Record<string, unknown>;

/** Result of reading a TOML configuration. */
export interface TomlConfigResult {
  /** The model (best effort: the empty configuration when the document could not be read). */
  config: NtpConfig;
  diagnostics: Diagnostic[];
}

interface Pos {
  line: number;
  col: number;
}

/**
 * Maps TOML key paths ("source.2.minpoll") to the line and column where they are written, by a
 * light scan of table headers and `key =` lines (enough to point diagnostics at the right line).
 */
export function locateTomlKeys(text: string): Map<string, Pos> {
  const map = new Map<string, Pos>();
  const counters = new Map<string, number>();
  let prefix = "";
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trimStart();
    const col = raw.length - trimmed.length + 1;
    const aot = /^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]/.exec(trimmed);
    if (aot) {
      const name = aot[1] as string;
      const n = counters.get(name) ?? 0;
      counters.set(name, n + 1);
      // Nested arrays of tables restart when their parent element changes.
      for (const k of counters.keys()) if (k.startsWith(`${name}.`)) counters.delete(k);
      prefix = `${resolveParent(name, counters)}.${n}`;
      map.set(prefix, { line, col });
      return;
    }
    const table = /^\[\s*([A-Za-z0-9_.-]+)\s*\]/.exec(trimmed);
    if (table) {
      prefix = resolveParent(table[1] as string, counters);
      map.set(prefix, { line, col });
      return;
    }
    const kv = /^("?)([A-Za-z0-9_-]+)\1\s*=/.exec(trimmed);
    if (kv) {
      const path = prefix === "" ? (kv[2] as string) : `${prefix}.${kv[2]}`;
      if (!map.has(path)) map.set(path, { line, col });
    }
  });
  return map;
}

/** Turns "stats.filegen" into "stats.filegen" with any array parents indexed ("a.1.b"). */
function resolveParent(name: string, counters: Map<string, number>): string {
  const parts = name.split(".");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(parts[i] as string);
    const sofar = parts.slice(0, i + 1).join(".");
    const n = counters.get(sofar);
    if (n !== undefined && i < parts.length - 1) out.push(String(n - 1));
  }
  return out.join(".");
}

function lookup(map: Map<string, Pos>, path: string): Pos {
  let p = path;
  while (true) {
    const pos = map.get(p);
    if (pos) return pos;
    const dot = p.lastIndexOf(".");
    if (dot < 0) return { line: 0, col: 0 };
    p = p.slice(0, dot);
  }
}

function describeShapeIssue(issue: ShapeIssue): string {
  const where = issue.path.length > 0 ? issue.path.join(".") : "document";
  switch (issue.code) {
    case "invalid_type":
      return `${where}: expected ${issue.expected === "int" ? "an integer" : issue.expected}`;
    case "invalid_value":
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** Removes `keys` from the object at `path` in `data` (used to drop unknown keys after warning). */
function deleteAt(data: unknown, path: readonly PropertyKey[], keys: readonly string[]): void {
  let node: unknown = data;
  for (const k of path) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<PropertyKey, unknown>)[k];
  }
  if (node === null || typeof node !== "object") return;
  for (const k of keys) delete (node as Record<string, unknown>)[k];
}

/** Reads a TOML configuration document into the model. Never throws, whatever the input. */
export function parseTomlConfig(
  text: string,
  file = "horae.toml",
  spec: ConfigSpec = CONFIG_SPEC,
): TomlConfigResult {
  const diagnostics: Diagnostic[] = [];
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    const err = e as { message?: unknown; line?: unknown; column?: unknown };
    const message = typeof err.message === "string"
      ? err.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML"
      : "invalid TOML";
    diagnostics.push({
      severity: "error",
      file,
      line: typeof err.line === "number" ? err.line : 0,
      col: typeof err.column === "number" ? err.column : 0,
      code: "syntax",
      message: `TOML syntax error: ${message}`,
    });
    return { config: emptyConfig(spec), diagnostics };
  }
  const positions = locateTomlKeys(text);
  const at = (path: string): Pos => lookup(positions, path);
  const report = (severity: Severity, pos: Pos, code: string, message: string): void => {
    diagnostics.push({ severity, file, line: pos.line, col: pos.col, code, message });
  };

  let parsed = checkTomlShape(spec, raw);
  if (!parsed.success) {
    const unknown = parsed.issues.filter((i) => i.code === "unrecognized_keys");
    const others = parsed.issues.filter((i) => i.code !== "unrecognized_keys");
    for (const issue of unknown) {
      if (issue.code !== "unrecognized_keys") continue;
      const table = issue.path.filter((k) => typeof k === "string").join(".");
      const known = tomlKeysOf(spec, table);
      for (const key of issue.keys) {
        const path = [...issue.path.map(String), key].join(".");
        report(
          "warning",
          at(path),
          "unknown-keyword",
          `unknown key "${path}"${didYouMean(key, known)}; ignored`,
        );
      }
      deleteAt(raw, issue.path, issue.keys);
    }
    for (const issue of others) {
      report("error", at(issue.path.map(String).join(".")), "type", describeShapeIssue(issue));
    }
    if (others.length > 0) return { config: emptyConfig(spec), diagnostics };
    parsed = checkTomlShape(spec, raw);
    if (!parsed.success) return { config: emptyConfig(spec), diagnostics };
  }
  const located = new Map<string, Pos>();
  const config = buildModel(parsed.data as TomlConfigDocument, spec, {
    at,
    located,
    report: (pos, code, message) => report("warning", pos, code, message),
  });
  const locate = (path: string): Pos => lookup(located, path);
  for (const issue of validateConfig(config, spec)) {
    report(issue.severity, locate(issue.path), issue.code, issue.message);
  }
  const seen = new Set<string>();
  for (const issue of notAppliedIssues(config, (p) => located.has(p), "toml", spec)) {
    const pos = locate(issue.path);
    const key = `${pos.line}:${pos.col}:${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    report("warning", pos, NOT_APPLIED_CODE, issue.message);
  }
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
  return { config, diagnostics };
}

interface BuildContext {
  /** Where a TOML key path is written. */
  at: (tomlPath: string) => Pos;
  /** Model paths the document set, and where (filled in). */
  located: Map<string, Pos>;
  report: (pos: Pos, code: string, message: string) => void;
}

/**
 * Copies the options of `s` present in TOML table `from` onto `target` (the model object at
 * `base`), applying each option's range with ntpd's treatment. Returns false when a value asks
 * for the whole element to be ignored.
 */
function fill(
  s: SectionSpec,
  from: Record<string, unknown>,
  target: Record<string, unknown>,
  base: string,
  tomlBase: string,
  ctx: BuildContext,
): boolean {
  let keep = true;
  for (const part of s.parts) {
    for (const o of part.options) {
      let v = from[o.toml];
      if (v === undefined) continue;
      const tomlPath = `${tomlBase}.${o.toml}`;
      const pos = ctx.at(tomlPath);
      const name = s.array ? o.toml : `${(s.toml ?? s.id).replace(/\./g, " ")} ${o.toml}`;
      const whole = s.array ? `[[${s.toml}]] element` : "line";
      if (o.type === "int" || o.type === "number") {
        const r = checkRange(o, name, v as number, whole);
        if (r.outcome === "dropped") {
          ctx.report(pos, "range-ignored", r.message);
          keep = false;
          continue;
        }
        if (r.outcome === "ignored") {
          ctx.report(pos, "range-ignored", r.message);
          continue;
        }
        if (r.outcome === "clamped") ctx.report(pos, "range", r.message);
        v = r.value;
      } else if (o.type === "int-list" && Array.isArray(v)) {
        const out: number[] = [];
        for (const x of v as number[]) {
          if (o.maxItems !== undefined && out.length >= o.maxItems) {
            ctx.report(
              pos,
              "range-ignored",
              `${name} keeps at most ${o.maxItems} values; ${x} ignored, as ntpd does`,
            );
            continue;
          }
          const r = checkRange(o, name, x, whole);
          if (r.outcome === "ok" || r.outcome === "clamped") out.push(r.value);
          if (r.outcome !== "ok") {
            ctx.report(pos, r.outcome === "clamped" ? "range" : "range-ignored", r.message);
          }
        }
        v = out;
      } else if (Array.isArray(v)) {
        v = [...v];
      }
      objectAt(target, part.at)[o.field] = v;
      ctx.located.set(joinPath(base, part.at, o.field), pos);
    }
  }
  return keep;
}

/** Builds the model from a schema-valid document. */
function buildModel(doc: TomlConfigDocument, spec: ConfigSpec, ctx: BuildContext): NtpConfig {
  const c = emptyConfig(spec);
  const root = c as unknown as Record<string, unknown>;
  for (const s of spec.sections) {
    if (s.toml === null) continue;
    const raw = getPath(doc, s.toml);
    if (raw === undefined || raw === null) continue;
    if (!s.array) {
      if (s.model !== "") ctx.located.set(s.model, ctx.at(s.toml));
      fill(s, raw as Record<string, unknown>, objectAt(root, s.model), s.model, s.toml, ctx);
      // A [auth.crypto] table is what a `crypto` line is: Autokey on.
      if (s.id === "crypto") c.auth.crypto.enabled = true;
      continue;
    }
    const list = getPath(root, s.model) as Record<string, unknown>[];
    (raw as Record<string, unknown>[]).forEach((from, i) => {
      const tomlBase = `${s.toml}.${i}`;
      const el = newElement(s);
      const pending = new Map<string, Pos>();
      const keep = fill(s, from, el, "", tomlBase, { ...ctx, located: pending });
      if (!keep) return;
      const place = (index: number, values: Record<string, unknown>): void => {
        const base = joinPath(s.model, index);
        list[index] = values;
        ctx.located.set(base, ctx.at(tomlBase));
        for (const [p, pos] of pending) ctx.located.set(joinPath(base, p), pos);
      };
      switch (s.id) {
        case "restrict":
          // `default` without a family is two rules, as in ntp.conf.
          for (
            const rule of restrictRulesFor(
              el.address as string,
              el.family as NtpConfig["restrict"][number]["family"],
              el.mask as string | null,
              el.flags as string[],
            )
          ) {
            place(list.length, rule as unknown as Record<string, unknown>);
          }
          return;
        case "refclock":
          el.address = `127.127.${el.type}.${el.unit}`;
          break;
        case "filegen": {
          if (el.file === "") el.file = el.name;
          // One filegen per name: a later table with the same name changes the earlier one.
          const earlier = list.findIndex((g) => g.name === el.name);
          if (earlier >= 0) {
            const merged = list[earlier] as Record<string, unknown>;
            for (const [p] of pending) merged[p] = el[p];
            place(earlier, merged);
            return;
          }
          break;
        }
      }
      place(list.length, el);
    });
  }
  normalizeConfig(c);
  return c;
}
