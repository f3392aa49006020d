// The real daemon started as root with `-u nobody` (the README has the status, pid and drift
// files' folder writable by that user) against symbolic links that user planted at every name
// the daemon writes: the status file, the pid file, the drift file, their old fixed `.TEMP`
// names and the log file. No link is followed: the root-only target keeps its bytes, and the
// daemon says what it refused. Without root the same runs plant the links as the test's own user.

import assert from "node:assert/strict";
import { STATUS_FORMAT } from "../../lib/daemon/status_file.ts";
// startHorae and runGuarded run the daemon without CAP_SYS_TIME (setpriv), as every test must.
import {
  freeUdpPort,
  horaeCommand,
  isRoot,
  runGuarded,
  sh,
  sharedTempDir,
  startHorae,
  tempDir,
} from "../support/peers.ts";

const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";
/** Debian's nobody/nogroup. */
const NOBODY = 65534;
const VICTIM_TEXT = "1.000\n"; // a number, so a drift read through a link would show up

interface Setup {
  /** The folder the -u user may write (owned by it when running as root). */
  shared: string;
  /** A root-only file (0600 in a 0700 folder) the links point at. */
  victim: string;
  /** Extra arguments: `-u nobody:nogroup` as root, none otherwise. */
  userArgs: string[];
  cleanup(): Promise<void>;
}

async function setup(): Promise<Setup> {
  // Reachable by nobody even when the checkout is not.
  const shared = await sharedTempDir("planted-");
  const safe = await tempDir("victim-");
  await Deno.chmod(safe, 0o700);
  const victim = `${safe}/victim`;
  await Deno.writeTextFile(victim, VICTIM_TEXT, { mode: 0o600 });
  await Deno.chmod(victim, 0o600);
  if (isRoot()) {
    await Deno.chown(shared, NOBODY, NOBODY);
    await Deno.chmod(shared, 0o755);
  }
  return {
    shared,
    victim,
    userArgs: isRoot() ? ["-u", "nobody:nogroup"] : [],
    cleanup: async () => {
      await Deno.remove(shared, { recursive: true }).catch(() => {});
      await Deno.remove(safe, { recursive: true }).catch(() => {});
    },
  };
}

/** Plants `at` -> `target` as nobody (root) or as ourselves, and checks who owns the link. */
async function plant(target: string, at: string): Promise<void> {
  if (isRoot()) {
    await sh([
      "setpriv",
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "ln",
      "-s",
      target,
      at,
    ]);
    assert.equal(Deno.lstatSync(at).uid, NOBODY);
  } else {
    await Deno.symlink(target, at);
  }
}

/** The victim keeps its bytes, mode and owner; every planted link is still a link to it. */
function assertUntouched(s: Setup, links: string[]): void {
  assert.equal(Deno.readTextFileSync(s.victim), VICTIM_TEXT);
  const st = Deno.statSync(s.victim);
  assert.equal(st.mode! & 0o777, 0o600);
  if (isRoot()) assert.equal(st.uid, 0);
  for (const l of links) {
    assert.equal(Deno.lstatSync(l).isSymlink, true, l);
    assert.equal(Deno.readLinkSync(l), s.victim, l);
  }
}

function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.TEMP-/.test(n));
}

function count(text: string, line: string): number {
  return text.split("\n").filter((l) => l.endsWith(line)).length;
}

Deno.test("interop: links planted at the status, pid and drift files are refused, not followed", async () => {
  const s = await setup();
  const d = s.shared;
  const links = ["st.json", "pid", "ntp.drift"].flatMap((n) => [`${d}/${n}`, `${d}/${n}.TEMP`]);
  try {
    for (const l of links) await plant(s.victim, l);
    const horae = await startHorae({
      conf: `${LOCAL_CONF}driftfile ${d}/ntp.drift\n`,
      args: ["--observe", "--status-file", `${d}/st.json`, "-p", `${d}/pid`, ...s.userArgs],
    });
    try {
      await horae.proc.waitFor(/cannot write status file/, 10_000);
      if (isRoot()) await horae.proc.waitFor(/switched to user nobody/, 10_000);
    } finally {
      const st = await horae.stop();
      assert.equal(st.code, 0, horae.proc.output.slice(-3000));
    }
    const out = horae.proc.output;
    assertUntouched(s, links);
    assert.equal(
      count(out, `: cannot write pid file ${d}/pid: ${d}/pid is a symbolic link (refused)`),
      1,
      out,
    );
    // Written as root at start and as nobody after the switch and at the stop: said once.
    assert.equal(
      count(
        out,
        `: cannot write status file ${d}/st.json: ${d}/st.json is a symbolic link (refused)`,
      ),
      1,
      out,
    );
    assert.equal(
      count(out, `: drift file ${d}/ntp.drift is a symbolic link (refused): ignored`),
      1,
      out,
    );
    assert.doesNotMatch(out, /frequency initialized/);
    assert.deepEqual(leftovers(d), []);
  } finally {
    await s.cleanup();
  }
});

Deno.test("interop: links at the old fixed .TEMP names are ignored and the files written beside them", async () => {
  const s = await setup();
  const d = s.shared;
  const links = ["st.json", "pid", "ntp.drift"].map((n) => `${d}/${n}.TEMP`);
  try {
    for (const l of links) await plant(s.victim, l);
    await Deno.writeTextFile(`${d}/ntp.drift`, "2.500\n");
    if (isRoot()) await Deno.chown(`${d}/ntp.drift`, NOBODY, NOBODY);
    const horae = await startHorae({
      conf: `${LOCAL_CONF}driftfile ${d}/ntp.drift\n`,
      args: ["--observe", "--status-file", `${d}/st.json`, "-p", `${d}/pid`, ...s.userArgs],
    });
    try {
      if (isRoot()) await horae.proc.waitFor(/switched to user nobody/, 10_000);
      // The pid file was written (as root) before the switch.
      assert.equal(Deno.readTextFileSync(`${d}/pid`), `${horae.proc.child.pid}\n`);
      assert.equal(Deno.lstatSync(`${d}/pid`).isFile, true);
      assert.equal(Deno.statSync(`${d}/pid`).mode! & 0o777, 0o644);
      const end = Date.now() + 10_000;
      while (statusDoc(d) === null) {
        if (Date.now() > end) throw new Error(`no status file:\n${horae.proc.output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      const st = await horae.stop();
      assert.equal(st.code, 0, horae.proc.output.slice(-3000));
    }
    const out = horae.proc.output;
    assertUntouched(s, links);
    assert.match(out, /frequency initialized 2\.500 PPM/);
    assert.doesNotMatch(out, /cannot write|refused/, out);
    const status = JSON.parse(Deno.readTextFileSync(`${d}/st.json`)) as { format: number };
    assert.equal(status.format, STATUS_FORMAT);
    assert.equal(Deno.lstatSync(`${d}/st.json`).isFile, true);
    assert.equal(Deno.statSync(`${d}/st.json`).mode! & 0o777, 0o644);
    // Written again at the stop, by nobody after the switch.
    assert.equal(Deno.readTextFileSync(`${d}/ntp.drift`), "2.500\n");
    assert.equal(Deno.lstatSync(`${d}/ntp.drift`).isFile, true);
    if (isRoot()) assert.equal(Deno.statSync(`${d}/ntp.drift`).uid, NOBODY);
    assert.deepEqual(leftovers(d), []);
  } finally {
    await s.cleanup();
  }
});

/** The status file once it is a complete JSON document, else null. */
function statusDoc(dir: string): unknown {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/st.json`));
  } catch {
    return null;
  }
}

Deno.test("interop: a link planted at the log file stops the start with a clear message", async () => {
  const s = await setup();
  const d = s.shared;
  const conf = `${d}/ntp.conf`;
  try {
    await Deno.writeTextFile(conf, LOCAL_CONF);
    await plant(s.victim, `${d}/ntpd.log`);
    const r = await runGuarded([
      ...await horaeCommand(),
      "run",
      "-n",
      "--observe",
      "-c",
      conf,
      "--port",
      String(freeUdpPort()),
      "--listen",
      "127.0.0.1",
      "-l",
      `${d}/ntpd.log`,
      ...s.userArgs,
    ], { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.output);
    const log = `${d}/ntpd.log`;
    assert.ok(
      r.output.split("\n").includes(
        `ntpd: cannot open log file ${log}: ${log} is a symbolic link (refused)`,
      ),
      r.output,
    );
    assertUntouched(s, [`${d}/ntpd.log`]);
  } finally {
    await s.cleanup();
  }
});
