// `horae install` into a staging root (--destdir), never the host's /usr/local or /etc: the
// program and its classic names, the man pages, the unit and sysusers file, and /etc/ntp.conf
// converted to /etc/horae/horae.toml, which a second install keeps unless --force.

import assert from "node:assert/strict";
import { ROOT, tempDir } from "../support/peers.ts";
import { deployedShebang } from "../../lib/cli/build_flags.ts";

const MAIN = `${ROOT}main.ts`;

async function run(
  cmd: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

const horae = (args: string[]) => run([Deno.execPath(), "run", "--allow-all", MAIN, ...args]);

const NTP_CONF = `# the host's ntpd configuration
driftfile /var/lib/ntp/ntp.drift
statsdir /var/log/ntpstats/
statistics loopstats peerstats
server 192.0.2.10 iburst
pool 2.debian.pool.ntp.org iburst
restrict 127.0.0.1
`;

/** The lines of install's report whose action is `action`, as staged paths. */
function reported(out: string, action: string): string[] {
  return out.split("\n").filter((l) => l.startsWith(`${action} `)).map((l) =>
    l.slice(action.length).trim().split(" ")[0]!
  );
}

Deno.test({
  name: "horae install stages the program, its classic names, man pages, unit and converted " +
    "configuration; a second install keeps the configuration unless --force",
  sanitizeResources: false,
  fn: async () => {
    const root = await tempDir("install-");
    try {
      await Deno.mkdir(`${root}/etc`);
      await Deno.writeTextFile(`${root}/etc/ntp.conf`, NTP_CONF);
      // From the checkout: install bundles main.ts itself.
      const first = await horae(["install", "--destdir", root]);
      assert.equal(first.code, 0, first.stderr);
      const sbin = `${root}/usr/local/sbin`;
      const program = `${sbin}/horae`;
      assert.equal((await Deno.stat(program)).mode! & 0o777, 0o755);
      // Built as `deno task bundle` builds it: the deployed shebang (its V8 flags), minified.
      const installed = await Deno.readTextFile(program);
      assert.ok(installed.startsWith(`${deployedShebang()}\n`), installed.slice(0, 200));
      assert.ok(
        installed.length < 1_800_000,
        `minified (about 1.3 MB, 2.4 MB not): ${installed.length}`,
      );
      for (const n of ["ntpd", "ntpdate", "ntptime", "tickadj", "ntp-keygen", "ntpdsim"]) {
        assert.equal(await Deno.readLink(`${sbin}/${n}`), "horae", n);
      }
      for (const n of ["ntpq", "ntpdc", "ntptrace"]) {
        assert.equal(await Deno.readLink(`${root}/usr/local/bin/${n}`), "../sbin/horae", n);
      }
      // The installed names run from anywhere (the bundle needs no checkout).
      const q = await run([`${root}/usr/local/bin/ntpq`, "--help"], { cwd: "/" });
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /\(ntpq\)/);
      const v = await run([`${sbin}/ntpd`, "--version"], { cwd: "/" });
      assert.match(v.stdout, /^ntpd \(horae\) /);
      // Every checked-in man page, in its section's folder.
      for (const e of Deno.readDirSync(`${ROOT}man`)) {
        const section = e.name.slice(e.name.lastIndexOf(".") + 1);
        assert.equal(
          await Deno.readTextFile(`${root}/usr/local/share/man/man${section}/${e.name}`),
          await Deno.readTextFile(`${ROOT}man/${e.name}`),
          e.name,
        );
      }
      // The unit names the installed program; the sysusers file is the checkout's.
      const unit = await Deno.readTextFile(`${root}/etc/systemd/system/horae.service`);
      assert.match(unit, /^ExecStart=\/usr\/local\/sbin\/horae run -n /m);
      assert.equal(
        await Deno.readTextFile(`${root}/etc/sysusers.d/horae.conf`),
        await Deno.readTextFile(`${ROOT}config/systemd/horae.sysusers.conf`),
      );
      // The configuration: ntp.conf's sources, its writable paths moved into the unit's folders.
      const tomlPath = `${root}/etc/horae/horae.toml`;
      const toml = await Deno.readTextFile(tomlPath);
      assert.match(toml, /address = "192\.0\.2\.10"/);
      assert.match(toml, /address = "2\.debian\.pool\.ntp\.org"/);
      assert.match(toml, /driftfile = "\/var\/lib\/horae\/ntp\.drift"/);
      assert.match(toml, /statsdir = "\/var\/log\/horae\/"/);
      assert.match(toml, /# the host's ntpd configuration/);
      const check = await horae(["check", tomlPath]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.deepEqual(reported(first.stdout, "converted"), [tomlPath]);

      // Again, from the installed program (--from): everything of ours is unchanged, and the
      // administrator's edit of horae.toml stays.
      await Deno.writeTextFile(tomlPath, `${toml}\n# edited by the administrator\n`);
      const second = await horae(["install", "--destdir", root, "--from", program]);
      assert.equal(second.code, 0, second.stderr);
      assert.ok(reported(second.stdout, "unchanged").includes(program), second.stdout);
      assert.deepEqual(reported(second.stdout, "kept"), [tomlPath]);
      assert.match(await Deno.readTextFile(tomlPath), /# edited by the administrator/);
      assert.deepEqual(reported(second.stdout, "installed"), []);

      // --force converts it again.
      const forced = await horae(["install", "--destdir", root, "--from", program, "--force"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(reported(forced.stdout, "converted"), [tomlPath]);
      assert.doesNotMatch(await Deno.readTextFile(tomlPath), /edited by the administrator/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "horae install --prefix: the unit names the prefix; another program at a classic name " +
    "is kept without --force; no ntp.conf gives a pool configuration",
  sanitizeResources: false,
  fn: async () => {
    const root = await tempDir("install-prefix-");
    try {
      // Any executable file will do as the program for these checks.
      const program = `${root}/program.js`;
      await Deno.writeTextFile(program, "#!/bin/sh\necho stand-in\n", { mode: 0o755 });
      const sbin = `${root}/opt/horae/sbin`;
      await Deno.mkdir(sbin, { recursive: true });
      await Deno.writeTextFile(`${sbin}/ntpd`, "#!/bin/sh\necho the real ntpd\n", { mode: 0o755 });
      const r = await horae([
        "install",
        "--destdir",
        root,
        "--prefix",
        "/opt/horae",
        "--from",
        program,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(reported(r.stdout, "kept"), [`${sbin}/ntpd`]);
      assert.equal(await Deno.readTextFile(`${sbin}/ntpd`), "#!/bin/sh\necho the real ntpd\n");
      assert.equal(await Deno.readLink(`${sbin}/ntpdate`), "horae");
      const unit = await Deno.readTextFile(`${root}/etc/systemd/system/horae.service`);
      assert.match(unit, /^ExecStart=\/opt\/horae\/sbin\/horae run -n /m);
      assert.doesNotMatch(unit, /\/usr\/local\/sbin/);
      const toml = await Deno.readTextFile(`${root}/etc/horae/horae.toml`);
      assert.match(toml, /kind = "pool"/);
      assert.match(toml, /driftfile = "\/var\/lib\/horae\/ntp\.drift"/);
      // With --force the link replaces the other program.
      const f = await horae([
        "install",
        "--destdir",
        root,
        "--prefix",
        "/opt/horae",
        "--from",
        program,
        "--force",
      ]);
      assert.equal(f.code, 0, f.stderr);
      assert.equal(await Deno.readLink(`${sbin}/ntpd`), "horae");
      // A relative prefix is a usage error.
      const bad = await horae(["install", "--destdir", root, "--prefix", "usr"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--prefix must be an absolute path/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "man finds the installed pages by their classic names",
  sanitizeResources: false,
  ignore: !(() => {
    try {
      return new Deno.Command("man", { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      return false;
    }
  })(),
  fn: async () => {
    const root = await tempDir("install-man-");
    try {
      const program = `${root}/program.js`;
      await Deno.writeTextFile(program, "#!/bin/sh\n", { mode: 0o755 });
      const r = await horae(["install", "--destdir", root, "--from", program]);
      assert.equal(r.code, 0, r.stderr);
      for (const [page, section] of [["ntpd", "8"], ["ntpq", "1"], ["horae", "8"]]) {
        const m = await run(["man", "-M", `${root}/usr/local/share/man`, section!, page!], {
          env: { MANWIDTH: "80", MAN_DISABLE_SECCOMP: "1", PAGER: "cat" },
        });
        assert.equal(m.code, 0, `${page}: ${m.stderr}`);
        assert.match(m.stdout, new RegExp(`^${page!.toUpperCase()}\\(${section}\\)`, "m"));
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
