import assert from "node:assert/strict";
import { compileFailure, deployedShebang, withShebang } from "./build.ts";
import { bundleShebang, COMPILE_TARGETS, RUN_FLAGS } from "../lib/cli/build_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("compileFailure() turns deno compile's download error into one line", () => {
  const stderr = `error: Writing deno compile executable to temporary file 'x'\n\nCaused by:\n` +
    `    0: Setting up base binary.\n    1: error sending request for url ` +
    `(https://dl.deno.land/release/v2.9.6/denort-aarch64-unknown-linux-gnu.zip): client error ` +
    `(Connect): dns error\n\nStack backtrace:\n   0: <unknown>\n`;
  const line = compileFailure("aarch64-unknown-linux-gnu", stderr);
  assert.equal(line.includes("\n"), false);
  assert.match(line, /denort-aarch64-unknown-linux-gnu\.zip, which cannot be downloaded here/);
  assert.match(line, /deno task bundle/);
  assert.equal(
    compileFailure("t", "\x1b[31merror\x1b[0m: Module not found\n  at main.ts\n"),
    "horae compile (t): deno compile failed: error: Module not found",
  );
});

Deno.test("withShebang() replaces main.ts's shebang with the build flags", () => {
  assert.equal(withShebang("#!/usr/bin/env -S deno run -A\nx;\n"), `${deployedShebang()}\nx;\n`);
  assert.equal(withShebang("x;\n"), `${deployedShebang()}\nx;\n`);
  assert.ok(bundleShebang().includes(RUN_FLAGS.join(" ")));
  assert.equal(
    deployedShebang(),
    `#!/usr/bin/env -S MALLOC_ARENA_MAX=1 deno run ${
      RUN_FLAGS.join(" ")
    } --v8-flags=--max-semi-space-size=1 --ext=js`,
  );
  assert.deepEqual(COMPILE_TARGETS.map((t) => t.target.split("-")[0]), ["x86_64", "aarch64"]);
});

Deno.test("deno task compile fails with one line when the runtime cannot be downloaded", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "compile"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr).trim();
  if (r.code === 0) {
    // dl.deno.land was reachable: the binaries exist.
    for (const t of COMPILE_TARGETS) await Deno.stat(`${ROOT}${t.out}`);
    return;
  }
  assert.equal(r.code, 1);
  assert.equal(err.split("\n").length, 1, err);
  assert.match(err, /^horae compile \(x86_64-unknown-linux-gnu\): /);
  assert.doesNotMatch(err, /Stack backtrace/);
});

Deno.test({
  name: "deno task bundle writes an executable that works through a multi-call link anywhere",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae-bundle-" });
    try {
      const out = `${dir}/horae.js`;
      const b = await new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "bundle", "-o", out],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
      const text = await Deno.readTextFile(out);
      assert.ok(text.startsWith(`${deployedShebang()}\n`));
      assert.equal((await Deno.stat(out)).mode! & 0o111, 0o111);
      await Deno.symlink(out, `${dir}/ntpq`);
      // Run through the link from another folder: the shebang and the link name do the rest.
      const q = await new Deno.Command(`${dir}/ntpq`, {
        args: ["--help"],
        cwd: "/",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(q.code, 0, new TextDecoder().decode(q.stderr));
      assert.match(new TextDecoder().decode(q.stdout), /^usage: horae query .*\(ntpq\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("RUN_FLAGS are --allow-all only while Deno refuses /proc/self reads to anything less", async () => {
  // Every permission but "all", each unscoped: the widest set short of --allow-all.
  const widest = [
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "--allow-run",
    "--allow-ffi",
  ];
  const dir = await Deno.makeTempDir({ prefix: "horae-flags-" });
  try {
    for (const path of ["/proc/self/cmdline", "/proc/thread-self/status"]) {
      await Deno.writeTextFile(
        `${dir}/read.ts`,
        `Deno.readTextFileSync(${JSON.stringify(path)});\n`,
      );
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", ...widest, `${dir}/read.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      // When this fails, Deno has relaxed the rule: narrow RUN_FLAGS (build_flags.ts) to
      // --allow-ffi with scoped --allow-read/--allow-write.
      assert.equal(r.code, 1, `${path} is readable without --allow-all now`);
      assert.match(new TextDecoder().decode(r.stderr), /Requires all access/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(RUN_FLAGS, ["--allow-all", "--unstable-net"]);
});
