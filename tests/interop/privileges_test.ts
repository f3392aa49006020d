// ntpd's -u user:group and -i jaildir on the real daemon started as root: every thread's ids,
// groups and capability sets seen from outside in /proc, chronyd still measuring it afterwards
// (on a loopback port and on port 123 in a network namespace), and the failures that must stop it.

import assert from "node:assert/strict";
import {
  chronydMeasure,
  freeUdpPort,
  horaeCommand,
  LOOPBACK_OFFSET_SEC,
  needPeers,
  runGuarded,
  type RunningHorae,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";

const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";
const SYS_TIME = 1n << 25n;

/** The unprivileged account the tests switch to (Debian's nobody/nogroup). */
function account(): { user: string; uid: number; group: string; gid: number } | null {
  const passwd = Deno.readTextFileSync("/etc/passwd");
  const group = Deno.readTextFileSync("/etc/group");
  const uid = /^nobody:[^:]*:(\d+):/m.exec(passwd)?.[1];
  const gid = /^nogroup:[^:]*:(\d+):/m.exec(group)?.[1];
  if (uid === undefined || gid === undefined) return null;
  return { user: "nobody", uid: Number(uid), group: "nogroup", gid: Number(gid) };
}

const ROOT_WHY = "starting the daemon as root";
const nobody = account();
const switchPeers = await needPeers("ntpd -u against chronyd", {
  programs: ["chronyd"],
  root: ROOT_WHY,
  check: () => nobody === null ? "no nobody/nogroup account in /etc/passwd and /etc/group" : null,
});
const rootPeers = await needPeers("ntpd -u unknown user", { root: ROOT_WHY });

/**
 * Asserts, from /proc, that every thread of `pid` runs as uid/gid with no capability at all, an
 * empty bounding set, no_new_privs and the seccomp filter. The JavaScript thread's inheritable
 * set is empty too; the runtime threads keep the inheritable set of the restart for the switch
 * (one thread cannot clear another's), which no_new_privs makes useless to an execve.
 */
function assertDropped(pid: number, uid: number, gid: number): number {
  assert.match(Deno.readLinkSync(`/proc/${pid}/exe`), /deno/);
  const tids = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => e.name);
  assert.ok(tids.length >= 3, `only ${tids.length} threads`);
  for (const tid of tids) {
    const s = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/status`);
    const line = (n: string) => new RegExp(`^${n}:[ \\t]*(.*)$`, "m").exec(s)?.[1]?.trim();
    const where = `thread ${tid} (${line("Name")})`;
    assert.equal(line("Uid"), `${uid}\t${uid}\t${uid}\t${uid}`, where);
    assert.equal(line("Gid"), `${gid}\t${gid}\t${gid}\t${gid}`, where);
    assert.equal(line("Groups"), String(gid), where);
    for (const set of ["CapPrm", "CapEff", "CapAmb", "CapBnd"]) {
      assert.equal(line(set), "0000000000000000", `${where} ${set}`);
    }
    if (tid === String(pid)) assert.equal(line("CapInh"), "0000000000000000", `${where} CapInh`);
    assert.equal(BigInt(`0x${line("CapInh")}`) & SYS_TIME, 0n, `${where} CapInh`);
    assert.equal(line("NoNewPrivs"), "1", `${where} NoNewPrivs`);
    assert.equal(line("Seccomp"), "2", `${where} Seccomp`);
  }
  return tids.length;
}

async function stopCleanly(horae: RunningHorae): Promise<void> {
  const st = await horae.stop();
  assert.equal(st.code, 0, horae.proc.output.slice(-3000));
}

Deno.test(
  "interop: -u nobody:nogroup switches every thread, drops all capabilities and still serves chronyd",
  { ignore: switchPeers.ignore },
  async () => {
    const chronyd = switchPeers.path("chronyd");
    const who = nobody!;
    // The drift file sits in a folder only root may enter: after the switch it cannot be written.
    const rootOnly = await tempDir("rootonly-");
    await Deno.chmod(rootOnly, 0o700);
    await Deno.writeTextFile(`${rootOnly}/ntp.drift`, "2.500\n");
    const horae = await startHorae({
      conf: `${LOCAL_CONF}driftfile ${rootOnly}/ntp.drift\n`,
      args: ["-u", `${who.user}:${who.group}`],
    });
    try {
      await horae.proc.waitFor(/switched to user/, 10_000);
      assertDropped(horae.proc.child.pid, who.uid, who.gid);
      const r = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
      assert.notEqual(r.offsetSec, null, `chronyd got no usable reply:\n${r.output}`);
      assert.ok(Math.abs(r.offsetSec!) < LOOPBACK_OFFSET_SEC, `offset ${r.offsetSec} s`);
    } finally {
      await stopCleanly(horae);
      await Deno.remove(rootOnly, { recursive: true }).catch(() => {});
    }
    const out = horae.proc.output;
    assert.match(
      out,
      new RegExp(
        `^\\d+ \\w{3} \\d\\d:\\d\\d:\\d\\d ntpd\\[\\d+\\]: switched to user nobody \\(uid ${who.uid}\\), ` +
          `group nogroup \\(gid ${who.gid}\\); capabilities kept: none$`,
        "m",
      ),
    );
    // The drift file was read as root, and one warning says it cannot be written any more.
    assert.match(out, /frequency initialized 2\.500 PPM/);
    const warnings = out.match(
      /drift file \S+ cannot be written as user nobody: .*directory writable/g,
    );
    assert.equal(warnings?.length, 1, out);
    // The switch came after the sockets were bound.
    assert.ok(out.indexOf("Listening on") < out.indexOf("switched to user"), out);
  },
);

Deno.test("interop: -u with --server-threads 2 switches the server thread too and keeps serving", {
  ignore: switchPeers.ignore,
}, async () => {
  // The worker thread starts as root before the switch; glibc repeats setresuid on it, which
  // aborts the whole process if that thread has already given up CAP_SETUID.
  const chronyd = switchPeers.path("chronyd");
  const who = nobody!;
  const horae = await startHorae({
    conf: LOCAL_CONF,
    args: ["-u", `${who.user}:${who.group}`, "--server-threads", "2"],
  });
  try {
    await horae.proc.waitFor(/switched to user/, 10_000);
    assertDropped(horae.proc.child.pid, who.uid, who.gid);
    const r = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
    assert.notEqual(r.offsetSec, null, `chronyd got no usable reply:\n${r.output}`);
  } finally {
    await stopCleanly(horae);
  }
  const out = horae.proc.output;
  assert.ok(out.indexOf("server thread 1 serving") < out.indexOf("switched to user"), out);
});

Deno.test("interop: -u on port 123 in a network namespace: bound as root, serves as nobody", {
  ignore: switchPeers.ignore,
}, async () => {
  const chronyd = switchPeers.path("chronyd");
  const who = nobody!;
  await withNetns("hpriv", async (ns) => {
    const horae = await startHorae({
      conf: LOCAL_CONF,
      port: 123,
      netns: ns,
      args: ["-u", String(who.uid)], // numeric uid: the group is the user's primary group
    });
    try {
      await horae.proc.waitFor(/switched to user/, 10_000);
      assertDropped(horae.proc.child.pid, who.uid, who.gid);
      const q = await chronydMeasure(chronyd, "127.0.0.1", 123, "", { netns: ns });
      assert.notEqual(q.offsetSec, null, q.output);
      assert.ok(Math.abs(q.offsetSec!) < LOOPBACK_OFFSET_SEC, q.output);
    } finally {
      await stopCleanly(horae);
    }
    assert.match(horae.proc.output, /Listening on 127\.0\.0\.1:123 /);
    assert.match(horae.proc.output, /switched to user nobody \(uid \d+\), group nogroup/);
  });
});

Deno.test("interop: -i jaildir chroots the daemon before the switch and it keeps serving", {
  ignore: switchPeers.ignore,
}, async () => {
  const chronyd = switchPeers.path("chronyd");
  const who = nobody!;
  // The jail lies below a folder only root may enter: it works because the chroot comes first.
  const outer = await tempDir("jail-");
  await Deno.chmod(outer, 0o700);
  const jail = `${outer}/jail`;
  await Deno.mkdir(jail, { mode: 0o755 });
  const horae = await startHorae({
    conf: LOCAL_CONF,
    args: ["-u", `${who.user}:${who.group}`, "-i", jail],
  });
  try {
    await horae.proc.waitFor(/switched to user/, 10_000);
    assertDropped(horae.proc.child.pid, who.uid, who.gid);
    assert.equal(Deno.readLinkSync(`/proc/${horae.proc.child.pid}/root`), jail);
    const r = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
    assert.notEqual(r.offsetSec, null, `chronyd got no usable reply:\n${r.output}`);
  } finally {
    await stopCleanly(horae);
    await Deno.remove(outer, { recursive: true }).catch(() => {});
  }
  assert.match(horae.proc.output, /, root directory \S+jail-\S+; capabilities kept: none/);
});

Deno.test("interop: -u with an unknown user or group exits 1 and says which", {
  ignore: rootPeers.ignore,
}, async () => {
  for (
    const [spec, message] of [
      ["no-such-user-h", /-u no-such-user-h: unknown user "no-such-user-h" \(not in \/etc\/passwd/],
      ["nobody:no-such-grp", /-u nobody:no-such-grp: unknown group "no-such-grp"/],
    ] as const
  ) {
    // The user is resolved before anything is bound or opened.
    const dir = await tempDir("unknown-user-");
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    const r = await runGuarded([
      ...await horaeCommand(),
      "run",
      "-n",
      "-c",
      `${dir}/ntp.conf`,
      "--port",
      String(freeUdpPort()),
      "--listen",
      "127.0.0.1",
      "-u",
      spec,
    ], { timeoutMs: 15_000 });
    await Deno.remove(dir, { recursive: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, message);
    assert.doesNotMatch(r.output, /switched to user|Listening on/);
  }
});
