// The layer check against small planted trees: each rule it enforces fails the check when broken
// (a runtime global in lib/proto, an `import type` across layers, an unknown folder, ...), and a
// clean tree passes.

import assert from "node:assert/strict";
import { checkLayers } from "./check_layers.ts";

/** Writes `files` (path → text) into a fresh folder outside the checkout; returns its path. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "horae-layers-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  return `${root}/`;
}

/** A small tree that keeps every rule. */
const CLEAN: Record<string, string> = {
  "lib/proto/core.ts": "export interface Crypto { mac(): number }\n" +
    "export function f(crypto: Crypto): number { return crypto.mac(); }\n" +
    'export const words = { Date: 1, crypto: "x" }; // Deno.exit() in a comment is fine\n',
  "lib/proto/core_test.ts": "Deno.test('a test may use Deno', () => {});\n",
  "lib/daemon/run.ts": 'import { f } from "../proto/core.ts";\n' +
    "export const n = f({ mac: () => Date.now() });\n",
  "ffi/libc.ts": "export const pid = Deno.pid;\n",
};

async function problemsWith(extra: Record<string, string>): Promise<string[]> {
  const root = await tree({ ...CLEAN, ...extra });
  try {
    return (await checkLayers(root)).problems;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("checkLayers() passes a clean tree (a parameter named crypto is not the global)", async () => {
  const root = await tree(CLEAN);
  try {
    const r = await checkLayers(root);
    assert.deepEqual(r.problems, []);
    assert.equal(r.files, 3, "tests are not checked");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("checkLayers() fails on a Deno.* call in lib/proto", async () => {
  const p = await problemsWith({ "lib/proto/bad.ts": "export const t = () => Deno.pid;\n" });
  assert.equal(p.length, 1, p.join("\n"));
  assert.match(p[0]!, /^lib\/proto\/bad\.ts:1: .*"Deno"/);
});

Deno.test("checkLayers() fails on timers, performance, crypto, Date and globalThis in lib/proto", async () => {
  const p = await problemsWith({
    "lib/proto/bad.ts": [
      "export const a = () => setTimeout(() => {}, 1);",
      "export const b = () => performance.now();",
      "export const c = () => crypto.getRandomValues(new Uint8Array(4));",
      "export const d = () => new Date(0);",
      "export const e = () => (globalThis as { x?: number }).x;",
      "export type F = Deno.NetAddr;",
    ].join("\n"),
  });
  const names = p.map((x) => x.match(/"(\w+)"/)?.[1]);
  assert.deepEqual(names, ["setTimeout", "performance", "crypto", "Date", "globalThis", "Deno"]);
});

Deno.test("checkLayers() fails on an import type from lib/daemon in lib/proto", async () => {
  const p = await problemsWith({
    "lib/proto/bad.ts": 'import type { n } from "../daemon/run.ts";\nexport type T = typeof n;\n',
  });
  assert.ok(
    p.some((x) => x === "lib/proto/bad.ts imports lib/daemon/run.ts (lib/proto → lib/daemon)"),
    p.join("\n"),
  );
});

Deno.test("checkLayers() fails on a node: import in lib/proto", async () => {
  const p = await problemsWith({
    "lib/proto/bad.ts":
      'import { randomBytes } from "node:crypto";\nexport const r = randomBytes;\n',
  });
  assert.ok(p.some((x) => /^lib\/proto\/bad\.ts imports node:crypto/.test(x)), p.join("\n"));
});

Deno.test("checkLayers() fails on an unknown folder, with or without source files", async () => {
  const p = await problemsWith({ "lib/unknown/c.ts": "export const c = 1;\n" });
  assert.ok(p.some((x) => /^lib\/unknown: unknown folder/.test(x)), p.join("\n"));
  assert.ok(p.some((x) => /^lib\/unknown\/c\.ts: in no known layer/.test(x)), p.join("\n"));
  const q = await problemsWith({ "lib/empty_layer/c_test.ts": "Deno.test('x', () => {});\n" });
  assert.ok(q.some((x) => /^lib\/empty_layer: unknown folder/.test(x)), q.join("\n"));
});

Deno.test("checkLayers() fails on an import cycle between files", async () => {
  const p = await problemsWith({
    "lib/daemon/x.ts": 'import type { Y } from "./y.ts";\nexport type X = Y | 1;\n',
    "lib/daemon/y.ts": 'import type { X } from "./x.ts";\nexport type Y = X | 2;\n',
  });
  assert.ok(p.some((x) => x.startsWith("import cycle: ")), p.join("\n"));
});
