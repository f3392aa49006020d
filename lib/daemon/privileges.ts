// Giving up root after start-up: ntpd's `-u user[:group]` (and `-i jaildir`). Once every socket is
// bound and the log and pid files are open, the daemon takes the user's ids, only that one group,
// and keeps CAP_SYS_TIME alone on the thread that steers the clock, if it will steer it.
//
// Names are resolved from /etc/passwd and /etc/group (text parsed here, no NSS): a system user for
// a time daemon is a local account; a user known only through LDAP/sssd can be given by number.

import {
  capGet,
  capSet,
  type CapSets,
  chrootTo,
  clearAmbientCaps,
  closeFd,
  geteuid,
  gettid,
  openDirectory,
  readTextAt,
  setGroups,
  setKeepCaps,
  setResGid,
  setResUid,
} from "../../ffi/privileges.ts";
import { restartWithBoundingSet } from "../../ffi/process_image.ts";
import { installDenyFilter, seccompSupported } from "../../ffi/seccomp.ts";
import type { Logger } from "../log/logger.ts";
import { CAP_SYS_TIME } from "./capabilities.ts";
import { probeDriftFile } from "./drift_file.ts";
import { handOverNoFollow, probeWriteFileAtomic } from "../files/safe_file.ts";

/** One line of /etc/passwd, the fields used here. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** One line of /etc/group, the fields used here. */
export interface GroupEntry {
  name: string;
  gid: number;
}

/** The user and group the daemon switches to. */
export interface Identity {
  /** User name, or the number as text when the uid has no passwd entry. */
  user: string;
  uid: number;
  /** Group name, or the number as text when the gid has no group entry. */
  group: string;
  gid: number;
}

/** Largest id accepted (2^32 - 2: -1 means "unchanged" to the kernel). */
const MAX_ID = 0xffff_fffe;

function parseId(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= MAX_ID ? n : null;
}

/** A numeric id as ntpd accepts it on -u: digits, or `#` and digits. Null for a name. */
export function numericId(spec: string): number | null {
  return parseId(spec.startsWith("#") ? spec.slice(1) : spec);
}

/** Parses /etc/passwd text; comments, NIS `+`/`-` lines and malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || f[0] === "" || /^[#+-]/.test(f[0]!)) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid !== null && gid !== null) out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

/** Parses /etc/group text; comments, NIS `+`/`-` lines and malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || f[0] === "" || /^[#+-]/.test(f[0]!)) continue;
    const gid = parseId(f[2]!);
    if (gid !== null) out.push({ name: f[0]!, gid });
  }
  return out;
}

/** Result of {@link resolveIdentity}. */
export type ResolveResult = { ok: true; identity: Identity } | { ok: false; message: string };

/**
 * Resolves `-u user[:group]` against passwd and group entries. The group defaults to the user's
 * primary group; a numeric uid without a passwd entry needs the group given too.
 */
export function resolveIdentity(
  userSpec: string,
  groupSpec: string | null,
  passwd: PasswdEntry[],
  groups: GroupEntry[],
): ResolveResult {
  const userNum = numericId(userSpec);
  const pw = userNum !== null
    ? passwd.find((p) => p.uid === userNum)
    : passwd.find((p) => p.name === userSpec);
  if (userNum === null && pw === undefined) {
    return {
      ok: false,
      message: `unknown user "${userSpec}" (not in /etc/passwd; give a numeric uid instead)`,
    };
  }
  const uid = userNum ?? pw!.uid;
  const user = pw?.name ?? String(uid);
  let gid: number;
  if (groupSpec === null) {
    if (pw === undefined) {
      return {
        ok: false,
        message: `uid ${uid} has no /etc/passwd entry: give the group too (-u ${uid}:group)`,
      };
    }
    gid = pw.gid;
  } else {
    const groupNum = numericId(groupSpec);
    if (groupNum !== null) {
      gid = groupNum;
    } else {
      const gr = groups.find((g) => g.name === groupSpec);
      if (gr === undefined) {
        return {
          ok: false,
          message: `unknown group "${groupSpec}" (not in /etc/group; give a numeric gid instead)`,
        };
      }
      gid = gr.gid;
    }
  }
  const group = groups.find((g) => g.gid === gid)?.name ?? String(gid);
  return { ok: true, identity: { user, uid, group, gid } };
}

/** CAP_SYS_TIME as a mask. */
export const SYS_TIME_MASK = 1n << BigInt(CAP_SYS_TIME);

/**
 * The capabilities the main thread keeps after the switch: CAP_SYS_TIME when the daemon will steer
 * the clock (not observing) and has it now; nothing otherwise.
 */
export function capabilitiesToKeep(o: { observe: boolean; hasSysTime: boolean }): bigint {
  return !o.observe && o.hasSysTime ? SYS_TIME_MASK : 0n;
}

/** The main thread's capability sets after the switch: `keep` permitted and effective, no more. */
export function mainThreadCaps(keep: bigint): CapSets {
  return { effective: keep, permitted: keep, inheritable: 0n };
}

/** Credentials of one thread, from /proc/PID/task/TID/status. */
export interface ThreadCredentials {
  /** Real, effective, saved and filesystem uid. */
  uids: number[];
  /** Real, effective, saved and filesystem gid. */
  gids: number[];
  groups: number[];
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capAmb: bigint;
  capBnd: bigint;
  /** The NoNewPrivs line (1: execve can never grant privileges). */
  noNewPrivs: number;
  /** The Seccomp line (0 none, 1 strict, 2 filter). */
  seccomp: number;
}

/** Parses the credential lines of a /proc status file; null when a line is missing. */
export function parseThreadStatus(text: string): ThreadCredentials | null {
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(text)?.[1];
  const ids = (s: string | undefined) =>
    s === undefined ? null : s.trim() === "" ? [] : s.trim().split(/\s+/).map(Number);
  const cap = (s: string | undefined) =>
    s !== undefined && /^[0-9a-fA-F]+$/.test(s.trim()) ? BigInt(`0x${s.trim()}`) : null;
  const uids = ids(field("Uid"));
  const gids = ids(field("Gid"));
  const groups = ids(field("Groups"));
  const capInh = cap(field("CapInh"));
  const capPrm = cap(field("CapPrm"));
  const capEff = cap(field("CapEff"));
  const capAmb = cap(field("CapAmb"));
  const capBnd = cap(field("CapBnd"));
  const num = (s: string | undefined) => s === undefined ? 0 : Number(s.trim()) || 0;
  if (
    uids === null || gids === null || groups === null || capInh === null || capPrm === null ||
    capEff === null || capAmb === null || capBnd === null
  ) {
    return null;
  }
  return {
    uids,
    gids,
    groups,
    capInh,
    capPrm,
    capEff,
    capAmb,
    capBnd,
    noNewPrivs: num(field("NoNewPrivs")),
    seccomp: num(field("Seccomp")),
  };
}

const hex = (m: bigint) => `0x${m.toString(16)}`;

/**
 * Checks every thread against the switch: all four uids and gids are the new ones, the only group
 * is the new gid, no thread holds a capability except `mainKeep` on thread `mainTid` (the
 * JavaScript thread) in its permitted, effective or ambient set, every bounding set holds only
 * `bounding`, no_new_privs is set everywhere, and with `seccomp` every thread runs under a filter.
 * Inheritable sets are not checked: one thread cannot clear another's, and under no_new_privs
 * an execve can never turn them into permitted capabilities. Returns the problems found (empty
 * when all is well).
 */
export function checkThreads(
  threads: { tid: number; creds: ThreadCredentials | null }[],
  expected: {
    uid: number;
    gid: number;
    mainTid: number;
    mainKeep: bigint;
    bounding: bigint;
    seccomp: boolean;
  },
): string[] {
  const problems: string[] = [];
  if (threads.length === 0) problems.push("no thread found to check");
  for (const { tid, creds: c } of threads) {
    if (c === null) {
      problems.push(`thread ${tid}: credentials unreadable`);
      continue;
    }
    if (c.uids.length !== 4 || c.uids.some((u) => u !== expected.uid)) {
      problems.push(`thread ${tid}: uids ${c.uids.join(" ")}, expected ${expected.uid}`);
    }
    if (c.gids.length !== 4 || c.gids.some((g) => g !== expected.gid)) {
      problems.push(`thread ${tid}: gids ${c.gids.join(" ")}, expected ${expected.gid}`);
    }
    if (c.groups.length !== 1 || c.groups[0] !== expected.gid) {
      problems.push(`thread ${tid}: groups [${c.groups.join(" ")}], expected [${expected.gid}]`);
    }
    const keep = tid === expected.mainTid ? expected.mainKeep : 0n;
    for (
      const [name, have, want] of [
        ["CapPrm", c.capPrm, keep],
        ["CapEff", c.capEff, keep],
        ["CapAmb", c.capAmb, 0n],
        ["CapBnd", c.capBnd, expected.bounding],
      ] as const
    ) {
      if (have !== want) {
        problems.push(`thread ${tid}: ${name} ${hex(have)}, expected ${hex(want)}`);
      }
    }
    if (c.noNewPrivs !== 1) problems.push(`thread ${tid}: NoNewPrivs ${c.noNewPrivs}, expected 1`);
    if (expected.seccomp && c.seccomp !== 2) {
      problems.push(`thread ${tid}: Seccomp ${c.seccomp}, expected 2 (filter)`);
    }
  }
  return problems;
}

/** Reads the credentials of every thread of this process. */
export function readThreadCredentials(
  procDir = "/proc/self/task",
): { tid: number; creds: ThreadCredentials | null }[] {
  const out: { tid: number; creds: ThreadCredentials | null }[] = [];
  for (const e of Deno.readDirSync(procDir)) {
    let creds: ThreadCredentials | null = null;
    try {
      creds = parseThreadStatus(Deno.readTextFileSync(`${procDir}/${e.name}/status`));
    } catch {
      continue; // the thread ended between the listing and the read
    }
    out.push({ tid: Number(e.name), creds });
  }
  return out;
}

/**
 * Reads the credentials of threads `tids` below an open /proc/self/task descriptor: this works
 * after a chroot has hidden /proc. Threads that ended meanwhile are left out.
 */
export function readThreadCredentialsAt(
  taskDirFd: number,
  tids: number[],
): { tid: number; creds: ThreadCredentials | null }[] {
  const out: { tid: number; creds: ThreadCredentials | null }[] = [];
  for (const tid of tids) {
    const text = readTextAt(taskDirFd, `${tid}/status`);
    if (text !== null) out.push({ tid, creds: parseThreadStatus(text) });
  }
  return out;
}

/** A switch that failed: the daemon must stop (never go on as root after -u). */
export class PrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrivilegeError";
  }
}

/**
 * What the start-up may need as root before the switch: CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH,
 * FOWNER (files), SETGID, SETUID (the switch), NET_BIND_SERVICE (port 123), IPC_LOCK, IPC_OWNER
 * (refclock shared memory), SYS_CHROOT (-i), SYS_NICE, SYS_RESOURCE and SYS_TIME.
 */
export const STARTUP_CAPS = [0, 1, 2, 3, 6, 7, 10, 14, 15, 18, 23, 24, 25].reduce(
  (m, c) => m | (1n << BigInt(c)),
  0n,
);

/**
 * Before a switch to another user: restarts this process image (same pid and arguments) with the
 * bounding set reduced to `keep` and no_new_privs in every thread, the capabilities of
 * {@link STARTUP_CAPS} held until the switch. Bounding sets and no_new_privs belong to threads,
 * and Deno's runtime threads exist before any of our code runs: a restart is the only way they
 * all get them. Returns at once in the restarted image.
 */
export function prepareSwitch(keep: bigint): void {
  restartWithBoundingSet(keep, STARTUP_CAPS);
}

/**
 * Switches the whole process to `identity` and leaves capability set `keep` on the calling
 * (JavaScript) thread only. Throws {@link PrivilegeError} (message names the failed call and
 * errno). As ntpd, it enters the jail first and switches user afterwards, so a jail below a
 * directory that only root can traverse works.
 *
 * Order: list the threads and open /proc/self/task (the jail hides /proc); chroot; keep-caps on
 * this thread; setgroups, setresgid, setresuid (glibc repeats each on every thread, and every
 * thread without keep-caps loses all its capabilities as its uids leave 0); capset this thread
 * to `keep`; the seccomp deny filter on every thread; check every thread. Threads created later
 * inherit the credentials and filter of the thread that creates them.
 */
export function dropPrivileges(identity: Identity, keep: bigint, jailDir: string | null): void {
  const euid = geteuid();
  if (euid !== 0) {
    throw new PrivilegeError(`-u needs root to switch users (running as uid ${euid})`);
  }
  // The thread running JavaScript makes every synchronous FFI call (adjtimex, clock_settime), so
  // it is the one that keeps `keep` (under `deno run` it is the process's first thread).
  const jsTid = gettid();
  let taskFd: number;
  let tids: number[];
  try {
    tids = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name));
    taskFd = openDirectory("/proc/self/task");
  } catch (e) {
    throw new PrivilegeError(`cannot list threads in /proc: ${(e as Error).message}`);
  }
  try {
    const bounding = parseThreadStatus(readTextAt(taskFd, `${jsTid}/status`) ?? "")?.capBnd;
    if (bounding === undefined || (bounding & ~keep) !== 0n) {
      throw new PrivilegeError(
        `bounding set ${bounding === undefined ? "unreadable" : hex(bounding)} holds more ` +
          `than the ${hex(keep)} kept: the process was not restarted for the switch`,
      );
    }
    if (jailDir !== null) {
      try {
        chrootTo(jailDir);
      } catch (e) {
        throw new PrivilegeError(`cannot chroot to ${jailDir}: ${(e as Error).message}`);
      }
    }
    try {
      if (keep !== 0n) setKeepCaps(true);
      setGroups([identity.gid]);
      setResGid(identity.gid);
      setResUid(identity.uid);
      capSet(mainThreadCaps(keep));
      clearAmbientCaps();
      if (keep !== 0n) setKeepCaps(false);
    } catch (e) {
      throw new PrivilegeError(`cannot switch to ${describe(identity)}: ${(e as Error).message}`);
    }
    const seccomp = seccompSupported();
    if (seccomp) {
      try {
        installDenyFilter();
      } catch (e) {
        throw new PrivilegeError(`cannot install the seccomp filter: ${(e as Error).message}`);
      }
    }
    let threads;
    try {
      threads = readThreadCredentialsAt(taskFd, tids);
    } catch (e) {
      throw new PrivilegeError(`cannot check threads in /proc: ${(e as Error).message}`);
    }
    const problems = checkThreads(threads, {
      uid: identity.uid,
      gid: identity.gid,
      mainTid: jsTid,
      mainKeep: keep,
      bounding,
      seccomp,
    });
    if (problems.length > 0) {
      throw new PrivilegeError(
        `switch to ${describe(identity)} incomplete: ${problems.join("; ")}`,
      );
    }
  } finally {
    closeFd(taskFd);
  }
  const now = capGet();
  if (now.permitted !== keep || now.effective !== keep || now.inheritable !== 0n) {
    throw new PrivilegeError(
      `main thread capabilities after the switch: permitted ${hex(now.permitted)}, ` +
        `effective ${hex(now.effective)}, expected ${hex(keep)}`,
    );
  }
}

function describe(id: Identity): string {
  return `user ${id.user} (uid ${id.uid}), group ${id.group} (gid ${id.gid})`;
}

/** The log line after a switch: `switched to user ntp (uid 105), group ntp (gid 110); ...`. */
export function switchedLine(id: Identity, keep: bigint, jailDir: string | null): string {
  const caps = keep === SYS_TIME_MASK ? "CAP_SYS_TIME" : keep === 0n ? "none" : hex(keep);
  return `switched to ${describe(id)}${
    jailDir === null ? "" : `, root directory ${jailDir}`
  }; capabilities kept: ${caps}`;
}

/** -i without a user to switch to: chroots (if asked) and stays root. False when it failed. */
function chrootOnly(jailDir: string | null, why: string, log: Logger): boolean {
  if (jailDir === null) return true;
  try {
    chrootTo(jailDir);
  } catch (e) {
    log.error(`cannot chroot to ${jailDir}: ${(e as Error).message}`);
    return false;
  }
  log.info(`root directory changed to ${jailDir} (still running as root: ${why})`);
  return true;
}

/** What {@link planSwitch} needs from the command line and the clock choice. */
export interface SwitchUserOptions {
  /** -u user part, or null when only -i was given. */
  user: string | null;
  /** -u group part. */
  group: string | null;
  /** -i: chroot here. */
  jailDir: string | null;
  /** --observe was given (the clock is never steered). */
  observe: boolean;
  /** The process has CAP_SYS_TIME now. */
  hasSysTime: boolean;
  /** Where passwd and group are read (tests). */
  passwdFile?: string;
  groupFile?: string;
}

/** -u/-i resolved before start-up: who to become and what to keep, or only a jail. */
export interface SwitchPlan {
  /** The user to become, or null to stay root (no -u, or -u naming uid 0). */
  identity: Identity | null;
  /** The -u argument as given, for messages. */
  spec: string;
  /** Capabilities the JavaScript thread keeps. */
  keep: bigint;
  jailDir: string | null;
  /** Why the daemon stays root (null when it switches). */
  staysRootBecause: string | null;
}

/**
 * Resolves -u/-i before start-up, so that an unknown user stops the daemon before it binds
 * anything, and so that the process can be restarted with its final bounding set
 * ({@link prepareSwitch}) before it does any work as root.
 */
export async function planSwitch(
  o: SwitchUserOptions,
): Promise<{ ok: true; plan: SwitchPlan } | { ok: false; message: string }> {
  const keep = capabilitiesToKeep(o);
  if (o.user === null) {
    return {
      ok: true,
      plan: { identity: null, spec: "", keep, jailDir: o.jailDir, staysRootBecause: "no -u given" },
    };
  }
  const spec = `${o.user}${o.group === null ? "" : `:${o.group}`}`;
  const passwdFile = o.passwdFile ?? "/etc/passwd";
  const groupFile = o.groupFile ?? "/etc/group";
  let passwd: PasswdEntry[];
  let groups: GroupEntry[];
  try {
    passwd = parsePasswd(await Deno.readTextFile(passwdFile));
    groups = parseGroup(await Deno.readTextFile(groupFile));
  } catch (e) {
    return {
      ok: false,
      message: `-u ${o.user}: cannot read ${passwdFile} or ${groupFile}: ${(e as Error).message}`,
    };
  }
  const r = resolveIdentity(o.user, o.group, passwd, groups);
  if (!r.ok) return { ok: false, message: `-u ${spec}: ${r.message}` };
  if (r.identity.uid === 0) {
    return {
      ok: true,
      plan: {
        identity: null,
        spec,
        keep,
        jailDir: o.jailDir,
        staysRootBecause: `-u ${spec} is root`,
      },
    };
  }
  const euid = geteuid();
  if (euid !== 0) {
    return {
      ok: false,
      message: `-u ${spec}: needs root to switch users (running as uid ${euid})`,
    };
  }
  return {
    ok: true,
    plan: { identity: r.identity, spec, keep, jailDir: o.jailDir, staysRootBecause: null },
  };
}

/** A file the daemon created as root and must go on reading and rewriting after `-u`. */
export interface KeptFile {
  /** What it is, for the log ("NTS cookie key file"). */
  what: string;
  path: string;
  /** Files that go with it (its lock file), handed over too but not probed. */
  companions?: readonly string[];
}

/**
 * Gives each kept file (and its companions), when root owns it, to the new user before root is
 * dropped: the NTS cookie keys are created 0600 by root at start, and would otherwise be
 * unreadable once the daemon runs as that user, which stops their rotation.
 */
function handOver(identity: Identity, files: readonly KeptFile[], log: Logger): void {
  for (const f of files) {
    for (const path of [f.path, ...(f.companions ?? [])]) {
      try {
        if (handOverNoFollow(path, identity.uid, identity.gid)) {
          log.info(`${path}: given to ${identity.user}:${identity.group} for -u`);
        }
      } catch (e) {
        log.warn(`${f.what} ${path}: not given to ${identity.user}: ${(e as Error).message}`);
      }
    }
  }
}

/**
 * Carries out a {@link SwitchPlan} after start-up (sockets bound, log and pid files open): logs
 * one line, and warns once when the drift file cannot be written as the new user. Returns false
 * (after logging the reason) when the daemon must exit 1.
 */
export async function switchUser(
  plan: SwitchPlan,
  driftFile: string | null,
  log: Logger,
  keptFiles: readonly KeptFile[] = [],
): Promise<boolean> {
  if (plan.identity === null) {
    if (plan.spec !== "") log.warn(`-u ${plan.spec}: uid 0 is root; nothing is dropped`);
    return chrootOnly(plan.jailDir, plan.staysRootBecause ?? "", log);
  }
  handOver(plan.identity, keptFiles, log);
  try {
    dropPrivileges(plan.identity, plan.keep, plan.jailDir);
  } catch (e) {
    log.error(`-u ${plan.spec}: ${(e as Error).message}`);
    return false;
  }
  log.info(switchedLine(plan.identity, plan.keep, plan.jailDir));
  for (const f of keptFiles) {
    const problem = await probeWriteFileAtomic(f.path);
    if (problem !== null) {
      log.warn(
        `${f.what} ${f.path} cannot be rewritten as user ${plan.identity.user}: ${problem} ` +
          `(make its directory writable by that user)`,
      );
    }
  }
  if (driftFile !== null) {
    const problem = await probeDriftFile(driftFile);
    if (problem !== null) {
      const advice = /symbolic link/.test(problem)
        ? "remove the link"
        : "make its directory writable by that user";
      log.warn(
        `drift file ${driftFile} cannot be written as user ${plan.identity.user}: ${problem}; ` +
          `the frequency will not be saved (${advice})`,
      );
    }
  }
  return true;
}
