// The shape check of a TOML configuration document against the option spec: strict tables, value
// types, enum values, required keys of array elements. It used to be a zod schema built from the
// spec; zod stayed resident in the daemon (about 6 MB of a 65 MB process) for one check at start,
// so this walks the spec directly and reports the issues that schema reported, in its order and
// with its wording (toml_shape_test.ts checks both against zod on generated documents).

import type { ConfigSpec, OptionSpec, SectionSpec } from "../proto/options/option_spec.ts";

/** A path into the document: table keys and array indexes. */
export type ShapePath = (string | number)[];

/** One problem found in the document's shape. */
export type ShapeIssue =
  | { code: "invalid_type"; path: ShapePath; expected: string; message: string }
  | { code: "invalid_value"; path: ShapePath; values: readonly string[]; message: string }
  | { code: "unrecognized_keys"; path: ShapePath; keys: string[]; message: string }
  | { code: "too_big" | "too_small"; path: ShapePath; message: string };

/** The outcome: the document rebuilt from its known keys, or the issues. */
export type ShapeResult =
  | { success: true; data: Record<string, unknown> }
  | { success: false; issues: ShapeIssue[] };

/** One table of the document: its options and its nested tables, in the spec's order. */
interface TableShape {
  readonly options: readonly { key: string; option: OptionSpec; required: boolean }[];
  readonly tables: readonly { key: string; array: boolean; shape: TableShape }[];
  readonly keys: ReadonlySet<string>;
}

/** Sections whose TOML table sits directly under `prefix` ("" for the top level). */
export function childSections(spec: ConfigSpec, prefix: string): SectionSpec[] {
  return spec.sections.filter((s) => {
    if (s.toml === null) return false;
    if (prefix === "") return !s.toml.includes(".");
    return s.toml.startsWith(`${prefix}.`) && !s.toml.slice(prefix.length + 1).includes(".");
  });
}

function tableShape(spec: ConfigSpec, table: string): TableShape {
  const own = spec.sections.find((s) => s.toml === table && table !== "");
  const options: { key: string; option: OptionSpec; required: boolean }[] = [];
  for (const part of own?.parts ?? []) {
    for (const o of part.options) {
      options.push({
        key: o.toml,
        option: o,
        required: o.required === true && own?.array === true,
      });
    }
  }
  const tables = childSections(spec, table).map((c) => {
    const path = c.toml as string;
    return {
      key: table === "" ? path : path.slice(table.length + 1),
      array: c.array === true,
      shape: tableShape(spec, path),
    };
  });
  // A later entry of the same key replaces an earlier one (as an object literal's would).
  const byKey = new Map<string, number>();
  const all = [...options.map((o) => o.key), ...tables.map((t) => t.key)];
  all.forEach((k, i) => byKey.set(k, i));
  return {
    options: options.filter((o, i) => byKey.get(o.key) === i),
    tables: tables.filter((t, i) => byKey.get(t.key) === options.length + i),
    keys: new Set(all),
  };
}

const shapes = new WeakMap<ConfigSpec, TableShape>();

function shapeFor(spec: ConfigSpec): TableShape {
  let s = shapes.get(spec);
  if (s === undefined) {
    s = tableShape(spec, "");
    shapes.set(spec, s);
  }
  return s;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a value is, in the words of a type error ("received array"). */
function received(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") {
    return Number.isNaN(v) ? "NaN" : Number.isFinite(v) ? "number" : `${v}`;
  }
  if (typeof v === "object") {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "Object" && name !== "" ? name : "object";
  }
  return typeof v;
}

function typeIssue(path: ShapePath, expected: string, v: unknown): ShapeIssue {
  return {
    code: "invalid_type",
    path,
    expected,
    message: `Invalid input: expected ${expected}, received ${received(v)}`,
  };
}

const MAX_INT = Number.MAX_SAFE_INTEGER;

function checkNumber(v: unknown, integer: boolean, path: ShapePath, out: ShapeIssue[]): void {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    out.push(typeIssue(path, "number", v));
  } else if (integer && !Number.isInteger(v)) {
    out.push({
      ...typeIssue(path, "int", v),
      message: "Invalid input: expected int, received number",
    });
  } else if (integer && v > MAX_INT) {
    out.push({ code: "too_big", path, message: `Too big: expected int to be <=${MAX_INT}` });
  } else if (integer && v < -MAX_INT) {
    out.push({ code: "too_small", path, message: `Too small: expected int to be >=${-MAX_INT}` });
  }
}

function checkEnum(v: unknown, values: readonly string[], path: ShapePath, out: ShapeIssue[]) {
  if (typeof v !== "string" || !values.includes(v)) {
    out.push({
      code: "invalid_value",
      path,
      values,
      message: `Invalid option: expected one of ${values.map((x) => JSON.stringify(x)).join("|")}`,
    });
  }
}

function checkScalar(o: OptionSpec, v: unknown, path: ShapePath, out: ShapeIssue[]): void {
  switch (o.type) {
    case "flag":
    case "bool":
      if (typeof v !== "boolean") out.push(typeIssue(path, "boolean", v));
      return;
    case "int":
    case "int-list":
      return checkNumber(v, true, path, out);
    case "number":
      return checkNumber(v, false, path, out);
    case "string":
    case "path":
    case "string-list":
      if (typeof v !== "string") out.push(typeIssue(path, "string", v));
      return;
    case "enum":
    case "enum-list":
      return checkEnum(v, o.values ?? [], path, out);
  }
}

function checkOption(o: OptionSpec, v: unknown, path: ShapePath, out: ShapeIssue[]): unknown {
  if (o.type === "int-list" || o.type === "string-list" || o.type === "enum-list") {
    if (!Array.isArray(v)) {
      out.push(typeIssue(path, "array", v));
      return v;
    }
    v.forEach((x, i) => checkScalar(o, x, [...path, i], out));
    return [...v];
  }
  checkScalar(o, v, path, out);
  return v;
}

function checkTable(
  shape: TableShape,
  v: unknown,
  path: ShapePath,
  out: ShapeIssue[],
): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (!isTable(v)) {
    out.push(typeIssue(path, "object", v));
    return data;
  }
  for (const { key, option, required } of shape.options) {
    const x = v[key];
    if (x === undefined) {
      if (required) checkOption(option, x, [...path, key], out);
      continue;
    }
    data[key] = checkOption(option, x, [...path, key], out);
  }
  for (const t of shape.tables) {
    const x = v[t.key];
    if (x === undefined) continue;
    const at = [...path, t.key];
    if (!t.array) data[t.key] = checkTable(t.shape, x, at, out);
    else if (!Array.isArray(x)) out.push(typeIssue(at, "array", x));
    else data[t.key] = x.map((e, i) => checkTable(t.shape, e, [...at, i], out));
  }
  const unknown: string[] = [];
  for (const key in v) if (!shape.keys.has(key)) unknown.push(key);
  if (unknown.length > 0) {
    out.push({
      code: "unrecognized_keys",
      path,
      keys: unknown,
      message: `Unrecognized key${unknown.length > 1 ? "s" : ""}: ${
        unknown.map((k) => `"${k}"`).join(", ")
      }`,
    });
  }
  return data;
}

/**
 * Checks a parsed TOML document against `spec`: every table strict (unknown keys are reported
 * together, per table), every value of its option's type (integers within the safe range, finite
 * numbers), enum values from the spec, the required keys of array-of-table elements. Never throws.
 */
export function checkTomlShape(spec: ConfigSpec, doc: unknown): ShapeResult {
  const issues: ShapeIssue[] = [];
  const data = checkTable(shapeFor(spec), doc, [], issues);
  return issues.length === 0 ? { success: true, data } : { success: false, issues };
}

/** The keys a TOML table may hold (options and nested tables); the top level for "". */
export function tomlKeysOf(spec: ConfigSpec, table: string): string[] {
  const own = spec.sections.find((s) => s.toml === table && table !== "");
  const keys = own ? own.parts.flatMap((p) => p.options.map((o) => o.toml)) : [];
  for (const c of childSections(spec, table)) {
    keys.push(table === "" ? c.toml as string : (c.toml as string).slice(table.length + 1));
  }
  return keys;
}
