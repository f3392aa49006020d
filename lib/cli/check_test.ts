// Tests of `horae check`: output format, exit codes, --strict, --toml, stdin and usage errors.

import assert from "node:assert/strict";
import { EXIT_CONFIG, EXIT_USAGE, runCheck } from "./check.ts";
import { fakeIo } from "../../tests/config/fake_io.ts";

async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae_check_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runCheck() exits 0 on a clean file and prints a summary", async () => {
  await withFiles({ "ok.conf": "server a.example iburst\n" }, async (dir) => {
    const io = fakeIo();
    assert.equal(await runCheck([`${dir}/ok.conf`], io.io), 0);
    assert.equal(io.stdout(), `${dir}/ok.conf: 0 errors, 0 warnings\n`);
  });
});

Deno.test("runCheck() prints every diagnostic and exits 78 on errors", async () => {
  await withFiles({ "bad.conf": "server a minpoll 2\nfrob\nserver\n" }, async (dir) => {
    const io = fakeIo();
    assert.equal(await runCheck([`${dir}/bad.conf`], io.io), EXIT_CONFIG);
    assert.equal(
      io.stdout(),
      `${dir}/bad.conf:1:18: warning: minpoll 2 is out of range 4–17; using 4\n` +
        `${dir}/bad.conf:2:1: warning: unknown keyword "frob"; line ignored\n` +
        `${dir}/bad.conf:3:1: error: "server" needs an address\n` +
        `${dir}/bad.conf: 1 error, 2 warnings\n`,
    );
  });
});

Deno.test("runCheck() --strict makes unknown keywords errors", async () => {
  await withFiles({ "w.conf": "frob 1\n" }, async (dir) => {
    assert.equal(await runCheck([`${dir}/w.conf`], fakeIo().io), 0);
    const io = fakeIo();
    assert.equal(await runCheck(["--strict", `${dir}/w.conf`], io.io), EXIT_CONFIG);
    assert.match(io.stdout(), /w\.conf:1:1: error: unknown keyword "frob"/);
  });
});

Deno.test("runCheck() validates TOML, by extension or with --toml", async () => {
  await withFiles({
    "h.toml": "[tos]\norphan = 0\n\n[daemon]\ndriftfile = 3\n",
    "h.txt": '[[source]]\naddress = "a"\nminpoll = 99\n',
  }, async (dir) => {
    const a = fakeIo();
    assert.equal(await runCheck([`${dir}/h.toml`], a.io), EXIT_CONFIG);
    assert.match(a.stdout(), /h\.toml:5:1: error: daemon\.driftfile: expected string/);
    const b = fakeIo();
    assert.equal(await runCheck(["--toml", `${dir}/h.txt`], b.io), 0);
    assert.match(b.stdout(), /h\.txt:3:1: warning: minpoll 99 is out of range 4–17; using 17/);
    const c = fakeIo();
    await Deno.writeTextFile(`${dir}/o.toml`, "[tos]\norphan = 0\n");
    assert.equal(await runCheck([`${dir}/o.toml`], c.io), 0);
    assert.match(c.stdout(), /o\.toml:2:1: warning: tos orphan 0 is out of range 1–16; using 1/);
  });
});

Deno.test("runCheck() reads standard input with no file or -", async () => {
  const io = fakeIo("server\n");
  assert.equal(await runCheck([], io.io), EXIT_CONFIG);
  assert.match(io.stdout(), /^<stdin>:1:1: error: "server" needs an address\n/);
  const ok = fakeIo("server a.example\n");
  assert.equal(await runCheck(["-q", "-"], ok.io), 0);
  assert.equal(ok.stdout(), "");
});

Deno.test("runCheck() checks several files and fails if any has errors", async () => {
  await withFiles({ "a.conf": "server a\n", "b.conf": "server\n" }, async (dir) => {
    const io = fakeIo();
    assert.equal(await runCheck([`${dir}/a.conf`, `${dir}/b.conf`], io.io), EXIT_CONFIG);
    assert.match(io.stdout(), /2 files: 1 error, 0 warnings\n$/);
  });
});

Deno.test("runCheck() rejects unknown options with exit 2", async () => {
  const io = fakeIo();
  assert.equal(await runCheck(["--frobnicate"], io.io), EXIT_USAGE);
  assert.equal(
    io.stderr(),
    "horae check: unknown option --frobnicate (see horae check --help)\n",
    "one line and a pointer to --help, not the whole usage",
  );
});

Deno.test("runCheck() survives garbage bytes on stdin without a stack trace", async () => {
  const bytes = new Uint8Array(2048).map((_, i) => (i * 7919 + 13) % 256);
  const io = fakeIo(bytes);
  assert.equal(await runCheck([], io.io), EXIT_CONFIG);
  assert.match(io.stdout(), /does not look like a text configuration file/);
  assert.doesNotMatch(io.stdout() + io.stderr(), /^\s+at /m);
});

Deno.test("runCheck() lists diagnostics in read order: main file first, then its includes", async () => {
  // The included file's path sorts before the main file's, so an order by file name would put
  // its diagnostics first.
  const dir = new URL("../../tests/fixtures/conf/invalid/", import.meta.url).pathname;
  const main = `${dir}read_order_include.conf`;
  const part = `${dir}includes/read_order_part.conf`;
  assert.ok(part < main);
  const io = fakeIo();
  assert.equal(await runCheck([main], io.io), EXIT_CONFIG);
  assert.equal(
    io.stdout(),
    `${main}:5:30: warning: minpoll 2 is out of range 4–17; using 4\n` +
      `${main}:7:1: warning: unknown keyword "frobnicate"; line ignored\n` +
      `${part}:2:1: warning: unknown keyword "bogus"; line ignored\n` +
      `${part}:3:1: error: "server" needs an address\n` +
      `${main}: 1 error, 3 warnings\n`,
  );
});

Deno.test("runCheck() lists TOML diagnostics by line", async () => {
  // The TOML reader reports unknown keys before type errors; check prints them by line.
  await withFiles(
    { "o.toml": '[[source]]\naddress = "a"\nminpoll = "x"\nfrob = 1\n' },
    async (dir) => {
      const io = fakeIo();
      assert.equal(await runCheck([`${dir}/o.toml`], io.io), EXIT_CONFIG);
      const lines = io.stdout().trim().split("\n").slice(0, -1);
      assert.equal(lines.length, 2, io.stdout());
      assert.match(lines[0]!, /o\.toml:3:\d+: error: /);
      assert.match(lines[1]!, /o\.toml:4:\d+: warning: unknown key "source\.0\.frob"/);
    },
  );
});
