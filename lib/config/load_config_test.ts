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

/** A temporary folder for one test, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae_load_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Rejects instead of hanging when loading blocks (a FIFO opened by mistake). */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const SHADOW_LIKE = "root:$6$Qx1secret$SECRETHASHroot:19000:0:99999:7:::\n" +
  "daemon:*:19000:0:99999:7:::\n" +
  "ann:$6$Zz9secret$SECRETHASHann:19001:0:99999:7:::\n" +
  "bob:!:19002:0:99999:7:::\n" +
  "carol:$y$j9T$SECRETHASHcarol:19003:0:99999:7:::\n";

Deno.test("loadConfig() refuses kernel files, FIFOs and devices as includefile with one error each", async () => {
  await inTempDir(async (dir) => {
    const made = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(made.success);
    // The loader reads synchronously, so a timer cannot end a blocked open of the FIFO; a
    // writer waiting on the other end turns that regression into a failure instead of a hang.
    const writer = new Deno.Command("sh", {
      args: ["-c", 'exec 3>"$1"', "sh", `${dir}/fifo`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const cases: [string, RegExp][] = [
        ["/proc/self/pagemap", /kernel pseudo-file \(proc file system\)/],
        [`${dir}/fifo`, /is a FIFO \(named pipe\), not a regular file/],
        ["/dev/zero", /is a character device, not a regular file/],
      ];
      for (const [target, reason] of cases) {
        await Deno.writeTextFile(`${dir}/main.conf`, `server a.example\nincludefile ${target}\n`);
        const r = await within(10_000, loadConfig(`${dir}/main.conf`));
        assert.equal(r.ok, false, target);
        assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
        const d = r.diagnostics[0]!;
        assert.equal(d.code, "include");
        assert.equal(d.file, `${dir}/main.conf`);
        assert.equal(d.line, 2);
        assert.match(d.message, new RegExp(`^cannot read included file "${target}": `));
        assert.match(d.message, reason);
      }
    } finally {
      writer.kill("SIGKILL");
      await writer.status;
    }
  });
});

Deno.test("loadConfig() refuses a main file on /proc and one over the size limit", async () => {
  const proc = await within(10_000, loadConfig("/proc/self/pagemap"));
  assert.equal(proc.diagnostics.length, 1);
  assert.match(proc.diagnostics[0]!.message, /^cannot read configuration: is a kernel pseudo-file/);
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/big.conf`, "#".repeat(MAX_CONFIG_BYTES + 1));
    await Deno.writeTextFile(`${dir}/main.conf`, "includefile big.conf\n");
    for (const path of [`${dir}/big.conf`, `${dir}/main.conf`]) {
      const r = await loadConfig(path);
      assert.equal(r.ok, false);
      assert.equal(r.diagnostics.length, 1);
      assert.match(
        r.diagnostics[0]!.message,
        /file is 1048577 bytes, larger than the 1048576-byte limit for configuration files$/,
      );
    }
  });
});

Deno.test("loadConfig() reports a shadow-like includefile once, without quoting it", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/shadow`, SHADOW_LIKE);
    await Deno.writeTextFile(`${dir}/main.conf`, "server a.example\nincludefile shadow\n");
    const r = await loadConfig(`${dir}/main.conf`);
    assert.equal(r.ok, false);
    assert.deepEqual(r.diagnostics, [{
      severity: "error",
      file: `${dir}/shadow`,
      line: 0,
      col: 0,
      code: "not-config",
      message: "does not look like an ntp.conf configuration file (colon-separated records, " +
        `like /etc/passwd or /etc/shadow); not read (included from ${dir}/main.conf:2)`,
    }]);
    assert.deepEqual(r.config.sources.map((s) => s.address), ["a.example"]);
    assert.doesNotMatch(JSON.stringify(r), /SECRET|daemon|ann:|19000/);

    // As the main file: the same single error, and still nothing of its content.
    const main = await loadConfig(`${dir}/shadow`);
    assert.equal(main.ok, false);
    assert.equal(main.diagnostics.length, 1);
    assert.equal(main.diagnostics[0]!.code, "not-config");
    assert.doesNotMatch(JSON.stringify(main), /SECRET|daemon|ann:|19000/);
  });
});

Deno.test("loadConfigText() quotes only plain unknown keywords, in warnings and dropped lines", async () => {
  const text = "server a.example\nfrob 1\nroot:$6$SECRET:19000:0:99999:7:::\n";
  const r = await loadConfigText(text, { file: "n.conf" });
  assert.equal(r.ok, true);
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}: ${d.message}`), [
    '2: unknown keyword "frob"; line ignored',
    "3: unknown keyword (not a plain word, not shown); line ignored",
  ]);
  assert.deepEqual(r.comments.dropped, [
    "not translated: frob 1",
    "not translated: n.conf:3 (not shown: no keyword)",
  ]);
  assert.doesNotMatch(JSON.stringify(r), /SECRET/);
});

Deno.test("loadConfig() detects include loops through links by device and inode", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.conf`, "server a.example\nincludefile b.conf\n");
    await Deno.symlink(`${dir}/a.conf`, `${dir}/b.conf`);
    const r = await loadConfig(`${dir}/a.conf`);
    assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
    assert.match(r.diagnostics[0]!.message, /^includefile loop: .*a\.conf -> .*b\.conf$/);
  });
});

Deno.test("loadConfig() reports a binary includefile once, without quoting it", async () => {
  await inTempDir(async (dir) => {
    const bytes = new TextEncoder().encode("SECRET line one\nSECRET\0two\n".repeat(50));
    await Deno.writeFile(`${dir}/blob`, bytes);
    await Deno.writeTextFile(`${dir}/main.conf`, "server a.example\nincludefile blob\n");
    const r = await loadConfig(`${dir}/main.conf`);
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
    assert.equal(r.diagnostics[0]!.file, `${dir}/blob`);
    assert.equal(r.diagnostics[0]!.code, "binary");
    assert.match(r.diagnostics[0]!.message, /does not look like a text configuration file/);
    assert.doesNotMatch(JSON.stringify(r), /SECRET/);
  });
});
