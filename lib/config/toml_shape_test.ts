// checkTomlShape() against the zod schema it replaced (built here from the spec as
// toml_config.ts built it before): the same verdict, the same issues in the same order with the
// same wording, the same data, on hand-picked and on generated documents.

import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import type { ConfigSpec, OptionSpec, SectionSpec } from "../proto/options/option_spec.ts";
import { CONFIG_SPEC } from "../proto/options/config_spec.ts";
import { checkTomlShape } from "./toml_shape.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`toml_shape_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

/** The zod schema of one option's TOML value. */
function zodOf(o: OptionSpec): z.ZodType {
  const int = z.number().int();
  const values = (o.values ?? []) as unknown as [string, ...string[]];
  switch (o.type) {
    case "flag":
    case "bool":
      return z.boolean();
    case "int":
      return int;
    case "number":
      return z.number();
    case "string":
    case "path":
      return z.string();
    case "enum":
      return z.enum(values);
    case "int-list":
      return z.array(int);
    case "string-list":
      return z.array(z.string());
    case "enum-list":
      return z.array(z.enum(values));
  }
}

/** Sections whose TOML table sits directly under `prefix` ("" for the top level). */
function childSections(spec: ConfigSpec, prefix: string): SectionSpec[] {
  return spec.sections.filter((s) => {
    if (s.toml === null) return false;
    if (prefix === "") return !s.toml.includes(".");
    return s.toml.startsWith(`${prefix}.`) && !s.toml.slice(prefix.length + 1).includes(".");
  });
}

function shapeOf(spec: ConfigSpec, table: string): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  const own = spec.sections.find((s) => s.toml === table && table !== "");
  for (const part of own?.parts ?? []) {
    for (const o of part.options) {
      shape[o.toml] = o.required && own?.array ? zodOf(o) : zodOf(o).optional();
    }
  }
  for (const c of childSections(spec, table)) {
    const path = c.toml as string;
    const obj = z.strictObject(shapeOf(spec, path));
    shape[table === "" ? path : path.slice(table.length + 1)] = (c.array ? z.array(obj) : obj)
      .optional();
  }
  return shape;
}

const schemas = new WeakMap<ConfigSpec, z.ZodType>();

/** The zod schema of a TOML configuration for `spec`: one strict table per spec section. */
function tomlSchemaFor(spec: ConfigSpec): z.ZodType {
  let schema = schemas.get(spec);
  if (schema === undefined) {
    schema = z.strictObject(shapeOf(spec, ""));
    schemas.set(spec, schema);
  }
  return schema;
}

/** zod's verdict in checkTomlShape's terms. */
function viaZod(spec: ConfigSpec, doc: unknown): unknown {
  const r = tomlSchemaFor(spec).safeParse(doc);
  if (r.success) return { success: true, data: r.data };
  return {
    success: false,
    issues: r.error.issues.map((i) => {
      const base = { code: i.code, path: i.path, message: i.message };
      if (i.code === "invalid_type") return { ...base, expected: i.expected };
      if (i.code === "invalid_value") return { ...base, values: i.values };
      if (i.code === "unrecognized_keys") return { ...base, keys: i.keys };
      return base;
    }),
  };
}

function same(doc: unknown, spec: ConfigSpec = CONFIG_SPEC): void {
  const mine = checkTomlShape(spec, doc);
  const theirs = viaZod(spec, doc);
  const norm = (x: unknown) =>
    JSON.parse(
      JSON.stringify(x, (_k, v) =>
        typeof v === "bigint"
          ? `${v}n`
          : typeof v === "number" && !Number.isFinite(v)
          ? `${v}`
          : v === undefined
          ? "(undefined)"
          : v),
    );
  assert.deepEqual(norm(mine), norm(theirs), JSON.stringify(norm(doc)));
}

/** Every option of the spec with the TOML table it belongs to. */
function optionsByTable(spec: ConfigSpec): { section: SectionSpec; option: OptionSpec }[] {
  return spec.sections.filter((s) => s.toml !== null).flatMap((section) =>
    section.parts.flatMap((p) => p.options.map((option) => ({ section, option })))
  );
}

Deno.test("checkTomlShape() agrees with the zod schema on hand-picked documents", () => {
  const all = optionsByTable(CONFIG_SPEC);
  const pick = (t: OptionSpec["type"]) => all.find((x) => x.option.type === t && !x.section.array);
  const cases: unknown[] = [{}, [], "x", null, 5, { nope: 1 }, { nope: 1, other: {} }];
  for (const t of ["bool", "int", "number", "string", "enum", "int-list", "string-list"] as const) {
    const o = pick(t);
    if (o === undefined) continue;
    const table = o.section.toml as string;
    for (
      const v of [
        true,
        1,
        -1,
        1.5,
        2 ** 60,
        -(2 ** 60),
        Number.MAX_SAFE_INTEGER,
        NaN,
        Infinity,
        -Infinity,
        10n,
        "x",
        o.option.values?.[0] ?? "y",
        [],
        [1, 1.5, "a"],
        ["a"],
        {},
        new Date(0),
      ]
    ) {
      const doc: Record<string, unknown> = {};
      let at = doc;
      for (const part of table.split(".")) at = (at[part] = {}) as Record<string, unknown>;
      at[o.option.toml] = v;
      cases.push(doc);
      cases.push({ [table.split(".")[0]!]: v });
    }
  }
  for (const s of CONFIG_SPEC.sections.filter((s) => s.array && s.toml !== null)) {
    const key = s.toml as string;
    if (key.includes(".")) continue;
    cases.push({ [key]: [{}] }, { [key]: {} }, { [key]: [1, null, [], { zzz: 1 }] });
  }
  for (const doc of cases) same(doc);
});

/** A value of any TOML type, or one only a broken parser would give. */
const anyValue = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 6 }),
  fc.constantFrom(2 ** 60, -(2 ** 60), NaN, Infinity, 3n, null, new Date(0)),
  fc.array(fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
);

/** A document made from the spec's own keys (some values right, some wrong) and a few others. */
function documentOf(spec: ConfigSpec): fc.Arbitrary<unknown> {
  const valueFor = (o: OptionSpec): fc.Arbitrary<unknown> => {
    const right: fc.Arbitrary<unknown> = o.type === "enum"
      ? fc.constantFrom(...(o.values ?? ["x"]))
      : o.type === "enum-list"
      ? fc.array(fc.constantFrom(...(o.values ?? ["x"])), { maxLength: 3 })
      : o.type === "int" || o.type === "flag" || o.type === "bool"
      ? (o.type === "int" ? fc.integer() : fc.boolean())
      : o.type === "int-list"
      ? fc.array(fc.integer(), { maxLength: 3 })
      : o.type === "string-list"
      ? fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 })
      : o.type === "number"
      ? fc.double({ noNaN: true, noDefaultInfinity: true })
      : fc.string({ maxLength: 6 });
    return fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: anyValue });
  };
  const table = (name: string, depth: number): fc.Arbitrary<unknown> => {
    const own = spec.sections.find((s) => s.toml === name && name !== "");
    const entries: Record<string, fc.Arbitrary<unknown>> = {};
    for (const p of own?.parts ?? []) for (const o of p.options) entries[o.toml] = valueFor(o);
    if (depth < 2) {
      for (const c of childSections(spec, name)) {
        const path = c.toml as string;
        const key = name === "" ? path : path.slice(name.length + 1);
        const t = table(path, depth + 1);
        entries[key] = c.array ? fc.array(t, { maxLength: 2 }) : t;
      }
    }
    const keys = Object.keys(entries);
    const known = fc.record(entries, { requiredKeys: [] }).chain((rec) =>
      fc.subarray(keys).map((pick) => {
        const out: Record<string, unknown> = {};
        for (const k of pick) if (k in rec) out[k] = rec[k];
        return out;
      })
    );
    return fc.oneof(
      { weight: 6, arbitrary: known },
      {
        weight: 1,
        arbitrary: fc.tuple(
          known,
          fc.dictionary(fc.string({ maxLength: 5 }), anyValue, {
            maxKeys: 2,
          }),
        ).map(([a, b]) => ({ ...b, ...a })),
      },
      { weight: 1, arbitrary: anyValue },
    );
  };
  return table("", 0);
}

Deno.test("checkTomlShape() agrees with the zod schema on generated documents (property)", () => {
  fc.assert(fc.property(documentOf(CONFIG_SPEC), (doc) => same(doc)), {
    seed: SEED,
    numRuns: 1000,
  });
});
