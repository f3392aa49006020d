import assert from "node:assert/strict";
import { parseKeysFile } from "../config/keys_file.ts";
import type { CliIo } from "./check.ts";
import { ctimeText, filestampOf, type KeygenEnv, runKeygen } from "./keygen.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** 2024-01-02T03:04:05Z: NTP seconds 3913153445. */
const NOW = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));

interface Captured {
  env: KeygenEnv;
  out: string[];
  err: string[];
}

function env(cwd: string, over: Partial<KeygenEnv> = {}): Captured {
  const out: string[] = [], err: string[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readStdin: () => Promise.resolve(new Uint8Array(0)),
    writeFile: () => Promise.reject(new Error("not used")),
  };
  return {
    env: {
      io,
      cwd,
      now: NOW,
      hostname: "testhost",
      random: (b) => crypto.getRandomValues(b),
      ...over,
    },
    out,
    err,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-keygen-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const NAME = "ntpkey_MD5key_testhost.3913153445";

Deno.test("filestampOf() and ctimeText(): NTP seconds and C's ctime layout", () => {
  assert.equal(filestampOf(NOW), 3913153445);
  assert.match(ctimeText(new Date(2024, 0, 2, 3, 4, 5)), /^Tue Jan {2}2 03:04:05 2024$/);
  assert.equal(ctimeText(new Date(1999, 11, 31, 23, 59, 59)), "Fri Dec 31 23:59:59 1999");
});

Deno.test("runKeygen(): ntp-keygen's file name, header and keys, mode 0600, ntp.keys link", async () => {
  await withDir(async (dir) => {
    const c = env(dir);
    assert.equal(await runKeygen(["-M"], c.env), 0, c.err.join(""));
    const path = `${dir}/${NAME}`;
    const st = await Deno.lstat(path);
    assert.ok(st.isFile);
    assert.equal(st.mode! & 0o777, 0o600);
    assert.equal(await Deno.readLink(`${dir}/ntp.keys`), NAME);
    assert.deepEqual(c.out, [
      "Generating new symmetric keys file and link\n",
      `ntp.keys->${NAME}\n`,
    ]);

    const text = await Deno.readTextFile(path);
    const lines = text.split("\n");
    assert.equal(lines[0], `# ${NAME}`);
    assert.equal(lines[1], `# ${ctimeText(NOW)}`);
    assert.equal(lines[2], "");
    assert.match(lines[3]!, /^ 1 MD5 [!-~]{20} {2}# MD5 key$/);
    assert.match(lines[13]!, /^11 SHA1 [0-9a-f]{40} {2}# SHA1 key$/);
    assert.match(lines[23]!, /^21 AES128CMAC [0-9a-f]{32} {2}# AES128CMAC key$/);

    // The parser reads it back: 30 keys, the right types and lengths, no warning.
    const { keys, diagnostics } = parseKeysFile(text, path);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(keys.map((k) => k.id), Array.from({ length: 30 }, (_, i) => i + 1));
    for (const k of keys) {
      const [type, bytes] = k.id <= 10
        ? ["MD5", 20]
        : k.id <= 20
        ? ["SHA1", 20]
        : ["AES128CMAC", 16];
      assert.equal(k.algorithm, type);
      assert.equal(k.key.length, bytes);
    }
    const md5 = keys.filter((k) => k.algorithm === "MD5").map((k) =>
      new TextDecoder().decode(k.key)
    );
    assert.ok(md5.every((s) => !s.includes("#")));
    assert.equal(new Set(keys.map((k) => k.key.join())).size, 30, "no two keys alike");
  });
});

Deno.test("runKeygen(): --type, --count and -s choose the keys and the name", async () => {
  await withDir(async (dir) => {
    const c = env(dir);
    assert.equal(await runKeygen(["--type=sha256,aes", "--count", "3", "-s", "gw"], c.env), 0);
    const name = "ntpkey_MD5key_gw.3913153445";
    const { keys, diagnostics } = parseKeysFile(await Deno.readTextFile(`${dir}/${name}`), name);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(keys.map((k) => [k.id, k.algorithm, k.key.length]), [
      [1, "SHA256", 32],
      [2, "SHA256", 32],
      [3, "SHA256", 32],
      [4, "AES128CMAC", 16],
      [5, "AES128CMAC", 16],
      [6, "AES128CMAC", 16],
    ]);
  });
});

Deno.test("runKeygen(): MD5 text keys use every allowed character, none other", async () => {
  await withDir(async (dir) => {
    const c = env(dir);
    assert.equal(await runKeygen(["--type", "MD5", "--count", "2000"], c.env), 0);
    const { keys } = parseKeysFile(await Deno.readTextFile(`${dir}/${NAME}`), NAME);
    const seen = new Set(keys.flatMap((k) => [...new TextDecoder().decode(k.key)]));
    assert.equal(seen.size, 93, "94 printable characters but #");
    assert.ok(!seen.has("#"));
  });
});

Deno.test("runKeygen(): a new run moves the link; a planted link is replaced, not followed", async () => {
  await withDir(async (dir) => {
    const victim = `${dir}/victim`;
    await Deno.writeTextFile(victim, "precious\n");
    await Deno.symlink(victim, `${dir}/ntp.keys`);
    assert.equal(await runKeygen([], env(dir).env), 0);
    assert.equal(await Deno.readLink(`${dir}/ntp.keys`), NAME);
    assert.equal(await Deno.readTextFile(victim), "precious\n");

    const later = new Date(NOW.getTime() + 5000);
    assert.equal(await runKeygen([], env(dir, { now: later }).env), 0);
    assert.equal(await Deno.readLink(`${dir}/ntp.keys`), "ntpkey_MD5key_testhost.3913153450");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["ntp.keys", NAME, "ntpkey_MD5key_testhost.3913153450", "victim"]);
  });
});

Deno.test("runKeygen(): a link at the keys file's name is refused; its target is untouched", async () => {
  await withDir(async (dir) => {
    const victim = `${dir}/victim`;
    await Deno.writeTextFile(victim, "precious\n");
    await Deno.symlink(victim, `${dir}/${NAME}`);
    const c = env(dir);
    assert.equal(await runKeygen([], c.env), 1);
    assert.match(c.err.join(""), /is a symbolic link \(refused\)/);
    assert.equal(await Deno.readTextFile(victim), "precious\n");
    await assert.rejects(Deno.lstat(`${dir}/ntp.keys`), Deno.errors.NotFound);
  });
});

Deno.test("runKeygen(): a hand-written ntp.keys file is left alone (exit 1)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ntp.keys`, "1 MD5 mine\n");
    const c = env(dir);
    assert.equal(await runKeygen([], c.env), 1);
    assert.match(c.err.join(""), /ntp\.keys exists and is not a link: left as it is/);
    assert.equal(await Deno.readTextFile(`${dir}/ntp.keys`), "1 MD5 mine\n");
    assert.ok((await Deno.lstat(`${dir}/${NAME}`)).isFile, "the keys file itself was written");
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.includes("TEMP")), "no temp left");
  });
});

Deno.test("runKeygen(): usage errors exit 2 and write nothing", async () => {
  await withDir(async (dir) => {
    for (
      const args of [
        ["--type", "SHA512"],
        ["--count", "0"],
        ["--count", "x"],
        ["--count", "30000", "--type", "MD5,SHA1,SHA256"],
        ["-s", "../etc"],
        ["-s"],
        ["-H"],
        ["-p", "secret"],
        ["--bogus"],
      ]
    ) {
      const c = env(dir);
      assert.equal(await runKeygen(args, c.env), 2, args.join(" "));
      assert.match(c.err.join(""), /^horae keygen: /);
    }
    const c = env(dir, { hostname: "" });
    assert.equal(await runKeygen([], c.env), 2);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const h = env(dir);
    assert.equal(await runKeygen(["--help"], h.env), 0);
    assert.match(h.out.join(""), /usage: horae keygen/);
  });
});

Deno.test("horae keygen runs from main.ts", async () => {
  await withDir(async (dir) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}main.ts`, "keygen", "-M", "-s", "cli"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, out);
    const link = await Deno.readLink(`${dir}/ntp.keys`);
    assert.match(link, /^ntpkey_MD5key_cli\.\d{10}$/);
    const { keys } = parseKeysFile(await Deno.readTextFile(`${dir}/${link}`), link);
    assert.equal(keys.length, 30);
    assert.equal((await Deno.stat(`${dir}/${link}`)).mode! & 0o777, 0o600);
  });
});
