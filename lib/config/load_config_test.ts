// Tests of configuration loading: syntax detection, file limits, includes beside the file.

import assert from "node:assert/strict";
import {
  detectSyntax,
  loadConfig,
  loadConfigText,
  MAX_CONFIG_BYTES,
  normalizePath,
  readConfigFile,
} from "./load_config.ts";

Deno.test("detectSyntax() prefers the flag, then the extension, then the content", () => {
  assert.equal(detectSyntax("x.conf", "[daemon]\n", true), "toml");
  assert.equal(detectSyntax("x.toml", "server a\n"), "toml");
  assert.equal(detectSyntax("x.conf", "[daemon]\n"), "ntp.conf");
  assert.equal(detectSyntax("ntp", "# c\n\n[daemon]\n"), "toml");
  assert.equal(detectSyntax(null, 'driftfile = "/x"\n'), "toml");
  assert.equal(detectSyntax(null, "setvar a = b\n"), "ntp.conf");
  assert.equal(detectSyntax(null, "server a\n"), "ntp.conf");
  assert.equal(detectSyntax(null, ""), "ntp.conf");
});

Deno.test("normalizePath() collapses . and .. segments", () => {
  assert.equal(normalizePath("/a/b/../c/./d"), "/a/c/d");
  assert.equal(normalizePath("a/../../b"), "../b");
  assert.equal(normalizePath("/../x"), "/x");
  assert.equal(normalizePath("./"), ".");
});

Deno.test("loadConfigText() applies strict mode to unknown keywords", async () => {
  const plain = await loadConfigText("frob 1\n", { file: "s.conf" });
  assert.equal(plain.ok, true);
  assert.equal(plain.diagnostics[0]?.severity, "warning");
  const strict = await loadConfigText("frob 1\n", { file: "s.conf", strict: true });
  assert.equal(strict.ok, false);
  assert.equal(strict.diagnostics[0]?.severity, "error");
});

Deno.test("loadConfig() reads files, resolves includes beside the file, limits size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae_load_" });
  try {
    await Deno.mkdir(`${dir}/conf.d`);
    await Deno.writeTextFile(`${dir}/main.conf`, "includefile conf.d/up.conf\n");
    await Deno.writeTextFile(`${dir}/conf.d/up.conf`, "server up.example iburst\n");
    const r = await loadConfig(`${dir}/main.conf`);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.config.sources.map((s) => s.address), ["up.example"]);

    await Deno.writeTextFile(`${dir}/big.conf`, "#".repeat(MAX_CONFIG_BYTES + 1));
    const big = readConfigFile(`${dir}/big.conf`);
    assert.equal(big.ok, false);
    await Deno.writeTextFile(`${dir}/edge.conf`, "#".repeat(MAX_CONFIG_BYTES));
    assert.equal(readConfigFile(`${dir}/edge.conf`).ok, true);

    await Deno.writeTextFile(`${dir}/horae.toml`, '[[source]]\naddress = "t.example"\n');
    const t = await loadConfig(`${dir}/horae.toml`);
    assert.equal(t.syntax, "toml");
    assert.equal(t.config.sources[0]?.address, "t.example");
    const forced = await loadConfig(`${dir}/up.conf`, { toml: true });
    assert.equal(forced.syntax, "toml");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
