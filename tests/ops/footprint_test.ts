// Footprint (issue 14, item 8): what the daemon leaves unloaded when its configuration does not
// need it, and the measuring tool's parsing (tools/bench/footprint.ts; the figures themselves are
// benchmarks, in BENCHMARKS.md, never asserted here).

import assert from "node:assert/strict";
import { markdown, parseStatus, probeLine } from "../../tools/bench/footprint.ts";
import { BUNDLE_ARGS } from "../../tools/build.ts";
import { ROOT, tempDir } from "../support/peers.ts";

/** Runs `code` in a fresh Deno and returns whether libcrypto is mapped at the end. */
async function libcryptoMappedAfter(code: string): Promise<boolean> {
  const dir = await tempDir("lazy-crypto-");
  try {
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      `import { DaemonAuth, NO_AUTH } from "${ROOT}lib/daemon/daemon_auth.ts";\n${code}\n` +
        `console.log(/libcrypto/.test(Deno.readTextFileSync("/proc/self/maps")));\n`,
    );
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `--config=${ROOT}deno.json`, `${dir}/probe.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout).trim() === "true";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("DaemonAuth without keys never opens libcrypto; with a key it does", async () => {
  const none = await libcryptoMappedAfter(
    "const a = new DaemonAuth(NO_AUTH); void a.authenticator; void a.required;",
  );
  assert.equal(none, false);
  const keyed = await libcryptoMappedAfter(
    "const a = new DaemonAuth({ ...NO_AUTH, keys: [{ id: 1, algorithm: 'MD5', " +
      "key: new TextEncoder().encode('secret'), allowed: null }], trustedKeys: [1] });\n" +
      "void a.crypto.name;",
  );
  assert.equal(keyed, true);
});

Deno.test("footprint: parseStatus() reads VmRSS, RssAnon, RssFile, VmHWM and Threads", () => {
  const s = parseStatus(
    "Name:\tntpd\nVmHWM:\t  80000 kB\nVmRSS:\t  70000 kB\nRssAnon:\t  30000 kB\n" +
      "RssFile:\t  40000 kB\nThreads:\t7\n",
  );
  assert.deepEqual(s, { rssKb: 70000, anonKb: 30000, fileKb: 40000, peakKb: 80000, threads: 7 });
  assert.equal(parseStatus("Name:\tx\n"), null);
  const table = markdown([{
    label: "horae",
    idle: s!,
    loaded: s!,
    repliesPerSec: 90_000,
    heap: { heapUsed: 16 * 2 ** 20, heapTotal: 20 * 2 ** 20, external: 2 * 2 ** 20 },
  }]);
  assert.match(
    table,
    /\| horae \| 68\.4 MB \| 29\.3 MB \| 39\.1 MB \| 16\.0 \/ 20\.0 MB, 2\.0 MB \|/,
  );
  assert.match(probeLine("/tmp/x.json", 5000), /^if \(!\("WorkerGlobalScope" in globalThis\)\)/);
});

Deno.test("the deployed bundle is ASCII and loads node:crypto only on demand", async () => {
  const dir = await tempDir("footprint-bundle-");
  try {
    const out = `${dir}/horae.js`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [...BUNDLE_ARGS, "-q", "-o", out, `${ROOT}main.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const js = await Deno.readTextFile(out);
    // A static import anywhere in the graph is hoisted to the top of the one module and loads
    // node:crypto (5-6 MB) in every daemon; NodeCrypto gets it with getBuiltinModule instead.
    assert.doesNotMatch(js, /from\s*["']node:crypto["']/);
    assert.match(js, /getBuiltinModule\(\s*["']node:crypto["']\s*\)/);
    // V8 holds the source text in its heap: one byte a character only when all of it is ASCII.
    // deno-lint-ignore no-control-regex
    const nonAscii = /[^\x00-\x7f]/.exec(js);
    assert.equal(nonAscii, null, `non-ASCII at ${nonAscii?.index}`);
    assert.ok(js.length < 2_000_000, `bundle of ${js.length} characters: not minified?`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
