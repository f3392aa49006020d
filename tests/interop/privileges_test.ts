// ntpd's -u user:group and -i jaildir on the real daemon started as root: every thread's ids,
// groups and capability sets seen from outside in /proc, chronyd still measuring it afterwards
// (on a loopback port and on port 123 in a network namespace), and the failures that must stop it.

import assert from "node:assert/strict";
import {
  chronydMeasure,
  isRoot,
  requirePeer,
  type RunningHorae,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import { recordSkip } from "../support/skips.ts";

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

function needRootAndAccount(name: string): ReturnType<typeof account> {
  if (!isRoot()) {
    recordSkip(name, "needs root to start the daemon as root");
    return null;
  }
  const a = account();
  if (a === null) recordSkip(name, "no nobody/nogroup account in /etc/passwd and /etc/group");
  return a;
}

/** Asserts, from /proc, that every thread of `pid` runs as uid/gid with no capability at all. */
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
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) {
      assert.equal(line(set), "0000000000000000", `${where} ${set}`);
    }
    // Rule 1 holds: CAP_SYS_TIME could never have been kept.
    assert.equal(BigInt(`0x${line("CapBnd")}`) & SYS_TIME, 0n, `${where} CapBnd`);
  }
  return tids.length;
}

async function stopCleanly(horae: RunningHorae): Promise<void> {
  const st = await horae.stop();
  assert.equal(st.code, 0, horae.proc.output.slice(-3000));
}

Deno.test("interop: -u nobody:nogroup switches every thread, drops all capabilities and still serves chronyd", async () => {
  const name = "ntpd -u on a loopback port";
  const chronyd = requirePeer("chronyd", name);
  const who = needRootAndAccount(name);
  if (chronyd === null || who === null) return;
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
    assert.ok(Math.abs(r.offsetSec!) < 100e-6, `offset ${r.offsetSec} s`);
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
});

Deno.test("interop: -u with --server-threads 2 switches the server thread too and keeps serving", async () => {
  // The worker thread starts as root before the switch; glibc repeats setresuid on it, which
  // aborts the whole process if that thread has already given up CAP_SETUID.
  const name = "ntpd -u --server-threads";
  const chronyd = requirePeer("chronyd", name);
  const who = needRootAndAccount(name);
  if (chronyd === null || who === null) return;
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

Deno.test("interop: -u on port 123 in a network namespace: bound as root, serves as nobody", async () => {
  const name = "ntpd -u on port 123";
  const chronyd = requirePeer("chronyd", name);
  const who = needRootAndAccount(name);
  if (chronyd === null || who === null) return;
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
      assert.match(q.output, /System clock wrong by -?0\.0000\d\d seconds/, q.output);
    } finally {
      await stopCleanly(horae);
    }
    assert.match(horae.proc.output, /Listening on 127\.0\.0\.1:123 /);
    assert.match(horae.proc.output, /switched to user nobody \(uid \d+\), group nogroup/);
  });
});

Deno.test("interop: -i jaildir chroots the daemon after the switch and it keeps serving", async () => {
  const name = "ntpd -u -i";
  const chronyd = requirePeer("chronyd", name);
  const who = needRootAndAccount(name);
  if (chronyd === null || who === null) return;
  const jail = await tempDir("jail-");
  await Deno.chmod(jail, 0o755);
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
    await Deno.remove(jail, { recursive: true }).catch(() => {});
  }
  assert.match(horae.proc.output, /, root directory \S+jail-\S+; capabilities kept: none/);
});

Deno.test("interop: -u with an unknown user or group exits 1 and says which", async () => {
  if (!isRoot()) {
    recordSkip("ntpd -u unknown user", "needs root to start the daemon as root");
    return;
  }
  for (
    const [spec, message] of [
      ["no-such-user-h", /-u no-such-user-h: unknown user "no-such-user-h" \(not in \/etc\/passwd/],
      ["nobody:no-such-grp", /-u nobody:no-such-grp: unknown group "no-such-grp"/],
    ] as const
  ) {
    const horae = await startHorae({ conf: LOCAL_CONF, args: ["-u", spec] });
    const st = await horae.proc.wait(15_000);
    await horae.stop();
    assert.equal(st.code, 1, horae.proc.output);
    assert.match(horae.proc.output, message);
    assert.doesNotMatch(horae.proc.output, /switched to user/);
  }
});
