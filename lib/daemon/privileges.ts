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
  geteuid,
  gettid,
  setGroups,
  setKeepCaps,
  setResGid,
  setResUid,
} from "../../ffi/privileges.ts";
import type { Logger } from "../log/logger.ts";
import { CAP_SYS_TIME } from "./capabilities.ts";
import { probeDriftFile } from "./drift_file.ts";

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
  if (
    uids === null || gids === null || groups === null || capInh === null || capPrm === null ||
    capEff === null || capAmb === null
  ) {
    return null;
  }
  return { uids, gids, groups, capInh, capPrm, capEff, capAmb };
}

const hex = (m: bigint) => `0x${m.toString(16)}`;

/**
 * Checks every thread against the switch: all four uids and gids are the new ones, the only group
 * is the new gid, and no thread holds a capability except `mainKeep` on thread `mainTid` (the
 * JavaScript thread) in its permitted, effective or ambient set. Inheritable sets are not
 * checked: one thread cannot clear another's, and without execve they grant nothing (a unit
 * started with AmbientCapabilities= has them). Returns the problems found (empty when all is
 * well).
 */
export function checkThreads(
  threads: { tid: number; creds: ThreadCredentials | null }[],
  expected: { uid: number; gid: number; mainTid: number; mainKeep: bigint },
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
      ] as const
    ) {
      if (have !== want) {
        problems.push(`thread ${tid}: ${name} ${hex(have)}, expected ${hex(want)}`);
      }
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

/** A switch that failed: the daemon must stop (never go on as root after -u). */
export class PrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrivilegeError";
  }
}

/** CAP_SYS_CHROOT as a mask (held on the main thread until the chroot when -i is given). */
const SYS_CHROOT_MASK = 1n << 18n;

/**
 * Switches the whole process to `identity` and leaves capability set `keep` on the calling
 * (JavaScript) thread only; with `jailDir`, chroots there after the threads were checked (/proc is read before
 * the jail hides it). Throws {@link PrivilegeError} (message names the failed call and errno).
 *
 * Order: keep-caps on this thread; setgroups, setresgid, setresuid (glibc repeats each on every
 * thread, and every thread without keep-caps loses all its capabilities as its uids leave 0);
 * capset this thread to `keep`; check every thread in /proc; chroot; drop CAP_SYS_CHROOT.
 * Threads created later inherit the credentials of the thread that creates them.
 */
export function dropPrivileges(identity: Identity, keep: bigint, jailDir: string | null): void {
  const euid = geteuid();
  if (euid !== 0) {
    throw new PrivilegeError(`-u needs root to switch users (running as uid ${euid})`);
  }
  // The thread running JavaScript makes every synchronous FFI call (adjtimex, clock_settime), so
  // it is the one that keeps `keep` (under `deno run` it is the process's first thread).
  const jsTid = gettid();
  const interim = jailDir === null ? keep : keep | SYS_CHROOT_MASK;
  try {
    if (interim !== 0n) setKeepCaps(true);
    setGroups([identity.gid]);
    setResGid(identity.gid);
    setResUid(identity.uid);
    capSet(mainThreadCaps(interim));
    clearAmbientCaps();
    if (interim !== 0n) setKeepCaps(false);
  } catch (e) {
    throw new PrivilegeError(`cannot switch to ${describe(identity)}: ${(e as Error).message}`);
  }
  let threads;
  try {
    threads = readThreadCredentials();
  } catch (e) {
    throw new PrivilegeError(`cannot check threads in /proc: ${(e as Error).message}`);
  }
  const problems = checkThreads(threads, {
    uid: identity.uid,
    gid: identity.gid,
    mainTid: jsTid,
    mainKeep: interim,
  });
  if (problems.length > 0) {
    throw new PrivilegeError(`switch to ${describe(identity)} incomplete: ${problems.join("; ")}`);
  }
  if (jailDir !== null) {
    try {
      chrootTo(jailDir);
      capSet(mainThreadCaps(keep));
    } catch (e) {
      throw new PrivilegeError(`cannot chroot to ${jailDir}: ${(e as Error).message}`);
    }
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

/** What {@link switchUser} needs from the command line and the clock choice. */
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
  /** The drift file, checked for writability as the new user. */
  driftFile: string | null;
  /** Where passwd and group are read (tests). */
  passwdFile?: string;
  groupFile?: string;
}

/**
 * Carries out -u/-i after start-up: resolves the user and group, switches, logs one line, and
 * warns once when the drift file cannot be written as the new user. Returns false (after logging
 * the reason) when the daemon must exit 1.
 */
export async function switchUser(
  o: SwitchUserOptions,
  log: Logger,
): Promise<boolean> {
  if (o.user === null) return chrootOnly(o.jailDir, "no -u given", log);
  let passwd: PasswdEntry[];
  let groups: GroupEntry[];
  const passwdFile = o.passwdFile ?? "/etc/passwd";
  const groupFile = o.groupFile ?? "/etc/group";
  try {
    passwd = parsePasswd(await Deno.readTextFile(passwdFile));
    groups = parseGroup(await Deno.readTextFile(groupFile));
  } catch (e) {
    log.error(`-u ${o.user}: cannot read ${passwdFile} or ${groupFile}: ${(e as Error).message}`);
    return false;
  }
  const spec = `${o.user}${o.group === null ? "" : `:${o.group}`}`;
  const r = resolveIdentity(o.user, o.group, passwd, groups);
  if (!r.ok) {
    log.error(`-u ${spec}: ${r.message}`);
    return false;
  }
  if (r.identity.uid === 0) {
    log.warn(`-u ${spec}: uid 0 is root; nothing is dropped`);
    return chrootOnly(o.jailDir, `-u ${spec} is root`, log);
  }
  const keep = capabilitiesToKeep(o);
  try {
    dropPrivileges(r.identity, keep, o.jailDir);
  } catch (e) {
    log.error(`-u ${spec}: ${(e as Error).message}`);
    return false;
  }
  log.info(switchedLine(r.identity, keep, o.jailDir));
  if (o.driftFile !== null) {
    const problem = await probeDriftFile(o.driftFile);
    if (problem !== null) {
      log.warn(
        `drift file ${o.driftFile} cannot be written as user ${r.identity.user}: ${problem}; ` +
          `the frequency will not be saved (make its directory writable by that user)`,
      );
    }
  }
  return true;
}
