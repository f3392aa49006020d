// ntpd's process model as a person expects it (issue 14, item 5): the daemon refuses to run
// without CAP_SYS_TIME unless told to observe, is found by its classic name (pidof, ps), says
// what to do about a privileged port, works through multi-call links to main.ts from anywhere,
// and without -n goes into the background once ready, with its pid file. Every daemon here runs
// without CAP_SYS_TIME (setpriv), in observe mode, on loopback or in its own network namespace.

import assert from "node:assert/strict";
import {
  bundle,
  freeUdpPort,
  isRoot,
  NO_SYS_TIME,
  Proc,
  ROOT,
  sharedTempDir,
  tempDir,
  withNetns,
} from "../support/peers.ts";

const MAIN = `${ROOT}main.ts`;
const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";
/** Every classic name main.ts answers to. */
const CLASSIC = [
  "ntpd",
  "ntpq",
  "ntpdc",
  "ntpdate",
  "ntptrace",
  "ntptime",
  "tickadj",
  "ntp-keygen",
  "ntpdsim",
];

async function run(
  cmd: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** A folder of links, one per classic name, to main.ts. */
async function linkFolder(dir: string): Promise<string> {
  const links = `${dir}/bin`;
  await Deno.mkdir(links);
  for (const name of CLASSIC) await Deno.symlink(MAIN, `${links}/${name}`);
  return links;
}

/** True while process `pid` exists (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("main.ts is executable in git and its shebang runs it under any link name", async () => {
  const first = (await Deno.readTextFile(MAIN)).split("\n")[0]!;
  assert.match(first, /^#!\/usr\/bin\/env -S deno run .*--ext=ts/);
  assert.equal((await Deno.stat(MAIN)).mode! & 0o111, 0o111);
  const ls = await run(["git", "-C", ROOT, "ls-files", "-s", "main.ts"]);
  assert.match(ls.stdout, /^100755 /);
});

Deno.test("links to main.ts named after every classic program work from any folder", async () => {
  const dir = await tempDir("links-");
  try {
    const links = await linkFolder(dir);
    for (const name of CLASSIC) {
      // The link itself, run from / (no deno.json around): the shebang, then the real file.
      const r = await run([`${links}/${name}`, "--help"], { cwd: "/" });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, /usage: /, name);
      assert.doesNotMatch(r.stderr, /Module not found|not a dependency/, name);
    }
    // ntpdc's help names it, and `ntpd --version` is the daemon's.
    assert.match(
      (await run([`${links}/ntpd`, "--version"], { cwd: "/" })).stdout,
      /^ntpd \(horae\)/,
    );
    // A command that loads npm modules (smol-toml) through a link, from another folder.
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    const check = await run([`${ROOT}main.ts`, "check", `${dir}/ntp.conf`], { cwd: "/" });
    assert.equal(check.code, 0, check.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ntpd without CAP_SYS_TIME and without --observe refuses to start with one line", async () => {
  const dir = await tempDir("nocap-");
  try {
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    const r = await run([
      ...NO_SYS_TIME,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-net",
      MAIN,
      "run",
      "-n",
      "-c",
      `${dir}/ntp.conf`,
      "--port",
      "12",
      "--listen",
      "127.0.0.1",
    ]);
    assert.equal(r.code, 77, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^horae run: cannot steer the clock: no CAP_SYS_TIME; .*--observe/);
    assert.match(lines[0]!, /CAP_SYS_TIME/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "ntpd as a plain user on port 123 says the port is privileged, names --port and the capability",
  ignore: !isRoot(),
  fn: async () => {
    const dir = await sharedTempDir("port123-");
    try {
      await Deno.chmod(dir, 0o777);
      // The bundle: nobody needs no Deno cache of npm modules to run it.
      const js = `${dir}/horae.js`;
      await Deno.copyFile(await bundle(), js);
      await Deno.chmod(js, 0o755);
      await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF, { mode: 0o644 });
      await withNetns("p123", async (ns) => {
        const r = await run([
          "ip",
          "netns",
          "exec",
          ns,
          "setpriv",
          "--bounding-set=-sys_time",
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--inh-caps=-all",
          "--",
          "env",
          `DENO_DIR=${dir}/deno`,
          Deno.execPath(),
          "run",
          "--allow-all",
          "--unstable-net",
          js,
          "run",
          "-n",
          "--observe",
          "-c",
          `${dir}/ntp.conf`,
          "--listen",
          "127.0.0.1",
        ]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /EACCES/);
        assert.match(
          r.stderr,
          /port 123 is privileged: run as root, grant CAP_NET_BIND_SERVICE .* or use --port/,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ntpd -p FILE without -n: the parent exits 0 once ready, the pid file names the " +
    "background daemon (pidof ntpd finds it, its own session), SIGTERM removes it",
  sanitizeResources: false,
  fn: async () => {
    const dir = await tempDir("fork-");
    let daemonPid: number | null = null;
    try {
      const links = await linkFolder(dir);
      const pidFile = `${dir}/ntpd.pid`;
      const status = `${dir}/status.json`;
      await Deno.writeTextFile(`${dir}/ntp.conf`, `${LOCAL_CONF}pidfile ${dir}/unused.pid\n`);
      const parent = new Proc([
        ...NO_SYS_TIME,
        `${links}/ntpd`,
        "--observe",
        "-c",
        `${dir}/ntp.conf`,
        "-p",
        pidFile,
        "--port",
        String(freeUdpPort()),
        "--listen",
        "127.0.0.1",
        "--status-file",
        status,
      ], { cwd: "/" });
      const st = await parent.wait(60_000);
      assert.equal(st.code, 0, parent.output);
      // Ready means bound and written: the pid file and the status file exist when the parent
      // has exited, with no waiting.
      daemonPid = Number((await Deno.readTextFile(pidFile)).trim());
      assert.ok(Number.isInteger(daemonPid) && daemonPid > 1);
      assert.notEqual(daemonPid, parent.child.pid);
      assert.ok(alive(daemonPid), "the daemon runs on after its parent exited");
      assert.ok((await Deno.stat(status)).isFile);
      await assert.rejects(Deno.stat(`${dir}/unused.pid`)); // -p wins over pidfile
      // Its own session, out of the terminal's; found as ntpd.
      const stat = Deno.readTextFileSync(`/proc/${daemonPid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(Number(fields[3]), daemonPid, `session id of ${stat}`); // field 6: session
      assert.equal(Deno.readTextFileSync(`/proc/${daemonPid}/comm`).trim(), "ntpd");
      const pidof = await run(["pidof", "ntpd"]);
      assert.ok(pidof.stdout.trim().split(/\s+/).includes(String(daemonPid)), pidof.stdout);
      const ps = await run(["ps", "-o", "comm=", "-p", String(daemonPid)]);
      assert.equal(ps.stdout.trim(), "ntpd");
      // Standard input and output let go of the parent's pipes.
      assert.equal(Deno.readLinkSync(`/proc/${daemonPid}/fd/1`), "/dev/null");
      Deno.kill(daemonPid, "SIGTERM");
      const pid = daemonPid;
      await waitUntil(() => !alive(pid), 15_000, "daemon exit after SIGTERM");
      daemonPid = null;
      await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound);
    } finally {
      if (daemonPid !== null && alive(daemonPid)) Deno.kill(daemonPid, "SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("ntpd without -n whose daemon cannot start exits non-zero and leaves nothing running", async () => {
  const dir = await tempDir("forkfail-");
  try {
    const links = await linkFolder(dir);
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    // 192.0.2.1 (TEST-NET-1) is no address of this host: nothing can be bound.
    const r = await run([
      ...NO_SYS_TIME,
      `${links}/ntpd`,
      "--observe",
      "-c",
      `${dir}/ntp.conf`,
      "-p",
      `${dir}/ntpd.pid`,
      "--port",
      String(freeUdpPort()),
      "--listen",
      "192.0.2.1",
    ], { cwd: "/" });
    assert.notEqual(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot start: no address to listen on/);
    assert.match(r.stderr, /ntpd: the daemon ended before it was ready \(exit code 1\)/);
    await assert.rejects(Deno.stat(`${dir}/ntpd.pid`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "ntpd -d and -D stay in the foreground and log at the debug level; without them no debug",
  sanitizeResources: false,
  fn: async () => {
    const dir = await tempDir("debug-");
    try {
      await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
      const start = (args: string[]) =>
        new Proc([
          ...NO_SYS_TIME,
          Deno.execPath(),
          "run",
          "--allow-all",
          "--unstable-net",
          MAIN,
          "run",
          ...args,
          "--observe",
          "-c",
          `${dir}/ntp.conf`,
          "--port",
          String(freeUdpPort()),
          "--listen",
          "127.0.0.1",
        ]);
      for (const [args, level] of [[["-d"], 1], [["-D", "3"], 3], [["-n"], 0]] as const) {
        const p = start([...args]);
        try {
          await p.waitFor(/Listening on 127\.0\.0\.1:\d+/, 30_000);
          // Still our child: it did not go into the background.
          assert.equal(alive(p.child.pid), true);
          if (level > 0) assert.match(p.output, new RegExp(`debug level ${level}: configuration`));
          else assert.doesNotMatch(p.output, /debug level/);
        } finally {
          const st = await p.stop(10_000);
          assert.equal(st.code, 0, p.output);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
