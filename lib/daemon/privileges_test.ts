// Tests for -u/-i: passwd/group parsing and resolution, which capabilities are kept, the per-thread
// check, and the switch itself in a child process (root only; the test process never switches).

import assert from "node:assert/strict";
import { needPeers, NO_SYS_TIME } from "../../tests/support/peers.ts";
import {
  capabilitiesToKeep,
  checkThreads,
  mainThreadCaps,
  numericId,
  parseGroup,
  parsePasswd,
  parseThreadStatus,
  planSwitch,
  resolveIdentity,
  switchedLine,
  switchUser,
  SYS_TIME_MASK,
  type ThreadCredentials,
} from "./privileges.ts";

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# a comment line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
ntp:x:105:110::/nonexistent:/usr/sbin/nologin
+nisuser::::::
broken:x:abc:1:::
short:x:7
_chrony:x:102:105:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin
`;
const GROUP = `root:x:0:
nogroup:x:65534:
ntp:x:110:
_chrony:x:105:
staff:x:50:alice,bob
-nisgroup:::
bad:x:-1:
`;
const pw = parsePasswd(PASSWD);
const gr = parseGroup(GROUP);

Deno.test("parsePasswd() and parseGroup() keep well-formed entries and skip the rest", () => {
  assert.deepEqual(pw.map((p) => p.name), ["root", "nobody", "ntp", "_chrony"]);
  assert.deepEqual(pw[2], { name: "ntp", uid: 105, gid: 110 });
  assert.deepEqual(gr.map((g) => g.name), ["root", "nogroup", "ntp", "_chrony", "staff"]);
  assert.deepEqual(gr[4], { name: "staff", gid: 50 });
  assert.deepEqual(parsePasswd(""), []);
});

Deno.test("numericId() accepts digits and #digits as ntpd does, names give null", () => {
  assert.equal(numericId("123"), 123);
  assert.equal(numericId("#123"), 123);
  assert.equal(numericId("0"), 0);
  assert.equal(numericId("4294967294"), 4294967294);
  for (const s of ["ntp", "12a", "#", "", "-1", "4294967295", "1e3", "0x10"]) {
    assert.equal(numericId(s), null, s);
  }
});

Deno.test("resolveIdentity() resolves names, numbers and the primary group", () => {
  const ok = (user: string, group: string | null) => {
    const r = resolveIdentity(user, group, pw, gr);
    assert.ok(r.ok, r.ok ? "" : r.message);
    return r.identity;
  };
  assert.deepEqual(ok("ntp", null), { user: "ntp", uid: 105, group: "ntp", gid: 110 });
  assert.deepEqual(ok("nobody", "nogroup"), {
    user: "nobody",
    uid: 65534,
    group: "nogroup",
    gid: 65534,
  });
  // A group that differs from the user's primary group wins (ntpd's old group bug: CVE-2005-2496).
  assert.deepEqual(ok("ntp", "staff"), { user: "ntp", uid: 105, group: "staff", gid: 50 });
  assert.deepEqual(ok("105", null), { user: "ntp", uid: 105, group: "ntp", gid: 110 });
  assert.deepEqual(ok("#102", "#110"), { user: "_chrony", uid: 102, group: "ntp", gid: 110 });
  // Numbers without entries (NSS-only accounts) work when both are given.
  assert.deepEqual(ok("4000", "4001"), { user: "4000", uid: 4000, group: "4001", gid: 4001 });
});

Deno.test("resolveIdentity() names the unknown user or group", () => {
  const err = (user: string, group: string | null) => {
    const r = resolveIdentity(user, group, pw, gr);
    assert.equal(r.ok, false);
    return r.ok ? "" : r.message;
  };
  assert.match(err("ntpd", null), /unknown user "ntpd" \(not in \/etc\/passwd/);
  assert.match(err("ntp", "timekeepers"), /unknown group "timekeepers"/);
  assert.match(err("4000", null), /uid 4000 has no \/etc\/passwd entry: give the group too/);
  assert.match(err("nisuser", null), /unknown user/); // NIS "+" lines are not accounts
});

Deno.test("capabilitiesToKeep(): CAP_SYS_TIME only when steering and held", () => {
  const table: [boolean, boolean, bigint][] = [
    // observe, hasSysTime, kept
    [false, true, SYS_TIME_MASK],
    [false, false, 0n],
    [true, true, 0n],
    [true, false, 0n],
  ];
  for (const [observe, hasSysTime, kept] of table) {
    assert.equal(capabilitiesToKeep({ observe, hasSysTime }), kept, `${observe} ${hasSysTime}`);
  }
  assert.equal(SYS_TIME_MASK, 0x0200_0000n);
  assert.deepEqual(mainThreadCaps(SYS_TIME_MASK), {
    effective: SYS_TIME_MASK,
    permitted: SYS_TIME_MASK,
    inheritable: 0n,
  });
});

function status(o: Partial<Record<string, string>> = {}): string {
  const f = {
    Uid: "105\t105\t105\t105",
    Gid: "110\t110\t110\t110",
    Groups: "110 ",
    CapInh: "0000000000000000",
    CapPrm: "0000000000000000",
    CapEff: "0000000000000000",
    CapBnd: "0000000002000000",
    CapAmb: "0000000000000000",
    NoNewPrivs: "1",
    Seccomp: "2",
    ...o,
  };
  return `Name:\tdeno\nUmask:\t0022\nState:\tS (sleeping)\n${
    Object.entries(f).map(([k, v]) => `${k}:\t${v}`).join("\n")
  }\n`;
}

Deno.test("parseThreadStatus() reads ids, groups and capability sets", () => {
  const c = parseThreadStatus(status({ Groups: "110 50 ", CapPrm: "0000000002000000" }))!;
  assert.deepEqual(c.uids, [105, 105, 105, 105]);
  assert.deepEqual(c.gids, [110, 110, 110, 110]);
  assert.deepEqual(c.groups, [110, 50]);
  assert.equal(c.capPrm, SYS_TIME_MASK);
  assert.deepEqual(parseThreadStatus(status({ Groups: "" }))!.groups, []);
  assert.equal(parseThreadStatus("Name:\tdeno\nUid:\t0\t0\t0\t0\n"), null);
});

Deno.test("checkThreads() accepts a clean switch and names every leftover privilege", () => {
  const expected = {
    uid: 105,
    gid: 110,
    mainTid: 10,
    mainKeep: SYS_TIME_MASK,
    bounding: SYS_TIME_MASK,
    seccomp: true,
  };
  const t = (tid: number, o: Partial<Record<string, string>> = {}) => ({
    tid,
    creds: parseThreadStatus(status(o)) as ThreadCredentials,
  });
  const keepOnMain = { CapPrm: "0000000002000000", CapEff: "0000000002000000" };
  assert.deepEqual(checkThreads([t(10, keepOnMain), t(11), t(12)], expected), []);
  assert.deepEqual(checkThreads([t(10), t(11)], { ...expected, mainKeep: 0n }), []);
  const problems = checkThreads([
    t(10), // main lost CAP_SYS_TIME although it should keep it
    t(11, keepOnMain), // another thread holds it
    t(12, { Uid: "105\t0\t105\t105" }), // still effective root
    t(13, { Gid: "0\t0\t0\t0", Groups: "110 0" }),
    t(14, { CapInh: "0000000002000000", CapAmb: "0000000000000400" }),
    { tid: 15, creds: null },
    t(16, { CapBnd: "000001ffffffffff", NoNewPrivs: "0", Seccomp: "0" }),
  ], expected);
  assert.deepEqual(problems, [
    "thread 10: CapPrm 0x0, expected 0x2000000",
    "thread 10: CapEff 0x0, expected 0x2000000",
    "thread 11: CapPrm 0x2000000, expected 0x0",
    "thread 11: CapEff 0x2000000, expected 0x0",
    "thread 12: uids 105 0 105 105, expected 105",
    "thread 13: gids 0 0 0 0, expected 110",
    "thread 13: groups [110 0], expected [110]",
    "thread 14: CapAmb 0x400, expected 0x0",
    "thread 15: credentials unreadable",
    "thread 16: CapBnd 0x1ffffffffff, expected 0x2000000",
    "thread 16: NoNewPrivs 0, expected 1",
    "thread 16: Seccomp 0, expected 2 (filter)",
  ]);
  // Without a filter for this architecture, Seccomp 0 is what is expected.
  assert.deepEqual(
    checkThreads([t(10, { ...keepOnMain, Seccomp: "0" })], { ...expected, seccomp: false }),
    [],
  );
  // An inheritable set alone (left by the restart for the switch, or a unit's
  // AmbientCapabilities=) grants nothing: no_new_privs keeps execve from using it.
  assert.deepEqual(
    checkThreads([t(10, keepOnMain), t(11, { CapInh: "0000000002000000" })], expected),
    [],
  );
  assert.deepEqual(checkThreads([], expected), ["no thread found to check"]);
});

Deno.test("switchedLine() says who the daemon became and what it kept", () => {
  const id = { user: "ntp", uid: 105, group: "ntp", gid: 110 };
  assert.equal(
    switchedLine(id, SYS_TIME_MASK, null),
    "switched to user ntp (uid 105), group ntp (gid 110); capabilities kept: CAP_SYS_TIME",
  );
  assert.equal(
    switchedLine(id, 0n, "/var/lib/ntp"),
    "switched to user ntp (uid 105), group ntp (gid 110), root directory /var/lib/ntp; " +
      "capabilities kept: none",
  );
});

Deno.test("switchUser() still carries out -i when -u names root, and fails when it cannot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-priv-" });
  try {
    await Deno.writeTextFile(`${dir}/passwd`, PASSWD);
    await Deno.writeTextFile(`${dir}/group`, GROUP);
    const lines: string[] = [];
    const log = {
      debug() {},
      info: (m: string) => void lines.push(m),
      warn: (m: string) => void lines.push(m),
      error: (m: string) => void lines.push(m),
    };
    // The jail does not exist, so chroot fails (as root or not) and this process stays put.
    const planned = await planSwitch({
      user: "root",
      group: null,
      jailDir: `${dir}/missing`,
      observe: true,
      hasSysTime: false,
      passwdFile: `${dir}/passwd`,
      groupFile: `${dir}/group`,
    });
    assert.ok(planned.ok);
    assert.equal(planned.plan.identity, null);
    const ok = await switchUser(planned.plan, null, log);
    assert.equal(ok, false, lines.join("\n"));
    assert.ok(
      lines.some((l) => l.startsWith(`cannot chroot to ${dir}/missing: `)),
      lines.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The switch itself runs in a child Deno (it cannot be undone). CAP_SYS_TIME is never available
// (rule 1), so the "keep one capability on the JavaScript thread" path is exercised with
// CAP_NET_BIND_SERVICE (bit 10) standing in: the same keep-caps and capset calls.
const CHILD = `
import { dropPrivileges, prepareSwitch, readThreadCredentials } from ${
  JSON.stringify(new URL("./privileges.ts", import.meta.url).href)
};
import { geteuid, gettid } from ${
  JSON.stringify(new URL("../../ffi/privileges.ts", import.meta.url).href)
};
const keep = BigInt(Deno.args[0]);
// As the daemon: restart with the final bounding set first (root only; the image re-runs).
if (geteuid() === 0 && Deno.args[1] !== "no-restart") prepareSwitch(keep);
// Start a few runtime threads first, as the daemon has.
await Promise.all([1, 2, 3, 4].map(() => Deno.readTextFile("/proc/self/status")));
try {
  dropPrivileges({ user: "nobody", uid: 65534, group: "nogroup", gid: 65534 }, keep, null);
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
  Deno.exit(0);
}
const threads = readThreadCredentials().map(({ tid, creds }) => ({
  tid,
  uids: creds.uids, gids: creds.gids, groups: creds.groups,
  caps: [creds.capPrm, creds.capEff, creds.capAmb, creds.capBnd].map(String),
  inh: String(creds.capInh),
  noNewPrivs: creds.noNewPrivs,
  seccomp: creds.seccomp,
}));
console.log(JSON.stringify({ jsTid: gettid(), threads }));
`;

async function runChild(
  keep: bigint,
  prefix: string[] = [],
  bounding = "",
  childArgs: string[] = [],
): Promise<{ error?: string; jsTid?: number; threads?: Record<string, unknown>[] }> {
  const dir = await Deno.makeTempDir({ prefix: "horae-priv-" });
  try {
    // One file in a folder every user may read: the child may start as nobody, who cannot read
    // a checkout that sits below a folder only its owner may enter (a clone under `mktemp -d`).
    await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "-o", `${dir}/child.js`, `${dir}/child.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
    await Deno.chmod(dir, 0o755);
    // Rule 1: CAP_SYS_TIME always leaves the bounding set; `bounding` may remove more.
    const guard = bounding === "" ? NO_SYS_TIME.slice(0, -1) : [
      "setpriv",
      `--bounding-set=-sys_time,${bounding}`,
      "--inh-caps=-sys_time",
    ];
    const out = await new Deno.Command(guard[0]!, {
      args: [
        ...guard.slice(1),
        ...prefix,
        "--",
        Deno.execPath(),
        "run",
        "-A",
        "--no-config",
        `${dir}/child.js`,
        String(keep),
        ...childArgs,
      ],
      ...(prefix.length > 0 ? { env: { DENO_DIR: `${dir}/deno`, HOME: dir } } : {}),
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success && text !== "", new TextDecoder().decode(out.stderr));
    return JSON.parse(text.split("\n").pop()!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const root = await needPeers("dropPrivileges() in a child", { root: "switching users" });

Deno.test("dropPrivileges() switches every thread and keeps a capability on the JS thread only", {
  ignore: root.ignore,
}, async () => {
  const r = await runChild(1n << 10n);
  assert.equal(r.error, undefined, r.error);
  assert.ok(r.threads!.length >= 3, `only ${r.threads!.length} threads`);
  for (const t of r.threads!) {
    assert.deepEqual(t.uids, [65534, 65534, 65534, 65534], `thread ${t.tid}`);
    assert.deepEqual(t.gids, [65534, 65534, 65534, 65534], `thread ${t.tid}`);
    assert.deepEqual(t.groups, [65534], `thread ${t.tid}`);
    const kept = t.tid === r.jsTid ? "1024" : "0";
    // permitted, effective, ambient, bounding
    assert.deepEqual(t.caps, [kept, kept, "0", "1024"], `thread ${t.tid}`);
    assert.equal(t.noNewPrivs, 1, `thread ${t.tid}`);
    assert.equal(t.seccomp, 2, `thread ${t.tid}`);
    if (t.tid === r.jsTid) assert.equal(t.inh, "0");
  }
});

Deno.test("dropPrivileges() leaves no capability anywhere when none is kept", {
  ignore: root.ignore,
}, async () => {
  const r = await runChild(0n);
  assert.equal(r.error, undefined, r.error);
  for (const t of r.threads!) {
    assert.deepEqual(t.uids, [65534, 65534, 65534, 65534], `thread ${t.tid}`);
    assert.deepEqual(t.caps, ["0", "0", "0", "0"], `thread ${t.tid}`);
    assert.equal(t.noNewPrivs, 1, `thread ${t.tid}`);
  }
});

Deno.test("dropPrivileges() reports the failing call and errno, and refuses when not root", {
  ignore: root.ignore,
}, async () => {
  // Root without CAP_SETUID: setgroups and setresgid work, setresuid fails.
  const noSetuid = await runChild(0n, [], "-setuid");
  assert.match(noSetuid.error ?? "", /cannot switch to user nobody .*setresuid 65534: EPERM/);
  const notRoot = await runChild(0n, ["--reuid=65534", "--regid=65534", "--clear-groups"]);
  assert.match(notRoot.error ?? "", /-u needs root to switch users \(running as uid 65534\)/);
  // Without the restart the runtime threads still hold the full bounding set: refused.
  const notRestarted = await runChild(0n, [], "", ["no-restart"]);
  assert.match(notRestarted.error ?? "", /bounding set 0x[0-9a-f]+ holds more than the 0x0 kept/);
});
