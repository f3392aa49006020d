// The library's documentation examples are tests: every ```ts block of an @example in mod.ts runs
// here, importing the real mod.ts (`deno check --doc mod.ts`, a static check of `deno task test`,
// type-checks them).

import assert from "node:assert/strict";

const MOD = new URL("./mod.ts", import.meta.url);

/** The @example blocks of a module's JSDoc: title and code (comment stars removed). */
export function docExamples(source: string): { title: string; code: string }[] {
  const examples: { title: string; code: string }[] = [];
  const re = /^ \* @example ?(.*)\n \* ```ts\n([\s\S]*?)\n \* ```$/gm;
  for (const m of source.matchAll(re)) {
    const code = m[2]!.split("\n").map((l) => l.replace(/^ \*( |$)/, "")).join("\n");
    examples.push({ title: m[1]!.trim(), code });
  }
  return examples;
}

Deno.test("docExamples() finds each @example's code without the comment stars", () => {
  const src = [
    "/**",
    " * Intro.",
    " * @example First",
    " * ```ts",
    ' * import { x } from "./mod.ts";',
    " *",
    " * x();",
    " * ```",
    " * @example",
    " * ```ts",
    " * y();",
    " * ```",
    " */",
  ].join("\n");
  assert.deepEqual(docExamples(src), [
    { title: "First", code: 'import { x } from "./mod.ts";\n\nx();' },
    { title: "", code: "y();" },
  ]);
});

const examples = docExamples(await Deno.readTextFile(MOD));

Deno.test("mod.ts has examples", () => {
  assert.ok(examples.length >= 2, `${examples.length} @example blocks found in mod.ts`);
});

for (const [i, ex] of examples.entries()) {
  Deno.test(`mod.ts example ${i + 1} runs: ${ex.title}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae-example-" });
    try {
      // The example imports "./mod.ts" as a user beside it would: point that at the real one.
      const code = ex.code.replaceAll(`"./mod.ts"`, JSON.stringify(MOD.href));
      assert.notEqual(code, ex.code, "the example does not import ./mod.ts");
      const file = `${dir}/example.ts`;
      await Deno.writeTextFile(file, code);
      await import(new URL(`file://${file}`).href);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
