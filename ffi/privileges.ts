// Process credentials and Linux capabilities through glibc: the calls ntpd's -u (and -i) need to
// give up root after start-up, and the byte layout of capget(2)/capset(2) (version 3, 64 bits).
//
// Credentials are per thread in the kernel. glibc's setgroups, setresgid and setresuid wrappers
// apply the change to every thread of the process (they signal each thread to repeat the call),
// so calling them once is enough. capset, prctl(PR_SET_KEEPCAPS) and chroot's capability check act
// on the calling thread only; Deno runs synchronous FFI calls on the thread running JavaScript.

import { errno, openLibc, OsError } from "./libc.ts";

/** `_LINUX_CAPABILITY_VERSION_3`: two 32-bit data structs, capabilities 0–63. */
export const CAP_VERSION_3 = 0x20080522;
/** Bytes of `struct __user_cap_header_struct` (version u32, pid i32). */
export const CAP_HEADER_SIZE = 8;
/** Bytes of two `struct __user_cap_data_struct` (effective, permitted, inheritable; u32 each). */
export const CAP_DATA_SIZE = 24;

/** prctl option: keep permitted capabilities across a change from uid 0 (this thread only). */
export const PR_SET_KEEPCAPS = 8;
/** prctl option: ambient capability operations. */
export const PR_CAP_AMBIENT = 47;
/** PR_CAP_AMBIENT sub-operation: empty this thread's ambient set. */
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;
/** prctl option: remove a capability from this thread's bounding set (needs CAP_SETPCAP). */
export const PR_CAPBSET_DROP = 24;
/** prctl option: execve may never grant privileges again (inherited by threads and children). */
export const PR_SET_NO_NEW_PRIVS = 38;

/** One thread's three capability sets, as 64-bit masks (bit n = capability n). */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** Encodes the capget/capset header for `tid` (0: the calling thread). */
export function encodeCapHeader(tid: number): Uint8Array {
  const b = new Uint8Array(CAP_HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, CAP_VERSION_3, true);
  v.setInt32(4, tid, true);
  return b;
}

const LOW = 0xffff_ffffn;

/** Encodes three 64-bit sets as the two data structs: bits 0–31 first, then bits 32–63. */
export function encodeCapData(sets: CapSets): Uint8Array {
  const b = new Uint8Array(CAP_DATA_SIZE);
  const v = new DataView(b.buffer);
  for (const [i, shift] of [[0, 0n], [1, 32n]] as const) {
    v.setUint32(i * 12 + 0, Number((sets.effective >> shift) & LOW), true);
    v.setUint32(i * 12 + 4, Number((sets.permitted >> shift) & LOW), true);
    v.setUint32(i * 12 + 8, Number((sets.inheritable >> shift) & LOW), true);
  }
  return b;
}

/** Decodes the two data structs written by capget. */
export function decodeCapData(bytes: Uint8Array): CapSets {
  if (bytes.length < CAP_DATA_SIZE) throw new RangeError("capability data needs 24 bytes");
  const v = new DataView(bytes.buffer, bytes.byteOffset, CAP_DATA_SIZE);
  const set = (off: number) =>
    BigInt(v.getUint32(off, true)) | (BigInt(v.getUint32(12 + off, true)) << 32n);
  return { effective: set(0), permitted: set(4), inheritable: set(8) };
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  getpid: { parameters: [], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setresgid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  setresuid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  chroot: { parameters: ["buffer"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

function check(rc: number, syscall: string, detail?: string): void {
  if (rc !== 0) throw new OsError(syscall, errno(), detail);
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** The process id. */
export function getpid(): number {
  return sym().getpid();
}

/** The kernel thread id of the calling thread (equals the pid on the main thread). */
export function gettid(): number {
  return sym().gettid();
}

/** The effective user id. */
export function geteuid(): number {
  return sym().geteuid();
}

/** Sets the supplementary groups of every thread (glibc applies it process-wide). */
export function setGroups(gids: number[]): void {
  const list = new Uint32Array(gids);
  check(sym().setgroups(BigInt(gids.length), new Uint8Array(list.buffer)), "setgroups");
}

/** Sets real, effective and saved group ids of every thread. */
export function setResGid(gid: number): void {
  check(sym().setresgid(gid, gid, gid), "setresgid", String(gid));
}

/** Sets real, effective and saved user ids of every thread. */
export function setResUid(uid: number): void {
  check(sym().setresuid(uid, uid, uid), "setresuid", String(uid));
}

/** PR_SET_KEEPCAPS for the calling thread. */
export function setKeepCaps(keep: boolean): void {
  check(sym().prctl(PR_SET_KEEPCAPS, keep ? 1n : 0n, 0n, 0n, 0n), "prctl", "PR_SET_KEEPCAPS");
}

/** Empties the calling thread's ambient capability set. */
export function clearAmbientCaps(): void {
  check(
    sym().prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_CLEAR_ALL), 0n, 0n, 0n),
    "prctl",
    "PR_CAP_AMBIENT_CLEAR_ALL",
  );
}

/** Reads the calling thread's capability sets. */
export function capGet(): CapSets {
  const data = new Uint8Array(CAP_DATA_SIZE);
  check(sym().capget(encodeCapHeader(0), data), "capget");
  return decodeCapData(data);
}

/** Sets the calling thread's capability sets. */
export function capSet(sets: CapSets): void {
  check(sym().capset(encodeCapHeader(0), encodeCapData(sets)), "capset");
}

/** chroot(2) to `dir`, then chdir("/") so no path can lead outside. */
export function chrootTo(dir: string): void {
  check(sym().chroot(cString(dir)), "chroot", dir);
  check(sym().chdir(cString("/")), "chdir", "/");
}

/** Sets no_new_privs on the calling thread (threads it creates and execve inherit it). */
export function setNoNewPrivs(): void {
  check(sym().prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n), "prctl", "PR_SET_NO_NEW_PRIVS");
}

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function capLastCap(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    return Number.isInteger(n) && n > 0 && n < 64 ? n : 40;
  } catch {
    return 40;
  }
}

/**
 * Shrinks the calling thread's bounding set to `keep` (threads it creates and execve inherit
 * it; existing threads keep theirs, so call this before a re-exec).
 */
export function limitBoundingSet(keep: bigint): void {
  for (let cap = 0; cap <= capLastCap(); cap++) {
    if ((keep >> BigInt(cap)) & 1n) continue;
    check(sym().prctl(PR_CAPBSET_DROP, BigInt(cap), 0n, 0n, 0n), "prctl", `PR_CAPBSET_DROP ${cap}`);
  }
}

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW = 0o400000;

/**
 * A descriptor of a directory opened now, for reading files below it after a chroot hides its
 * path (the daemon checks /proc/self/task this way once it is jailed).
 */
export function openDirectory(path: string): number {
  const fd = sym().open(cString(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw new OsError("open", errno(), path);
  return fd;
}

/** Reads a small text file below a directory descriptor; null when it does not exist (ENOENT). */
export function readTextAt(dirFd: number, relPath: string, maxBytes = 16384): string | null {
  const fd = sym().openat(dirFd, cString(relPath), O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0) {
    const e = errno();
    if (e === 2 || e === 3) return null; // ENOENT, ESRCH: the thread has ended
    throw new OsError("openat", e, relPath);
  }
  try {
    const buf = new Uint8Array(maxBytes);
    let len = 0;
    while (len < maxBytes) {
      const n = Number(sym().read(fd, buf.subarray(len), BigInt(maxBytes - len)));
      if (n < 0) throw new OsError("read", errno(), relPath);
      if (n === 0) break;
      len += n;
    }
    return new TextDecoder().decode(buf.subarray(0, len));
  } finally {
    sym().close(fd);
  }
}

/** Closes a descriptor from {@link openDirectory}. */
export function closeFd(fd: number): void {
  sym().close(fd);
}
