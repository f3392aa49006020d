// The process as `ps`, `pidof` and a terminal see it: the thread name (prctl PR_SET_NAME, the
// "comm" that ps, top and pidof show), a new session for a daemon that leaves its terminal
// (setsid), and standard descriptors pointed at /dev/null (dup2).

import { errno, openLibc, OsError } from "./libc.ts";

/** prctl options (linux/prctl.h). */
const PR_SET_NAME = 15;
const PR_GET_NAME = 16;
/** The kernel keeps 16 bytes of a thread name, the terminating NUL included. */
export const TASK_COMM_LEN = 16;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  // prctl is variadic; every argument here is an integer or a pointer, passed in registers.
  prctl: { parameters: ["i32", "buffer", "usize", "usize", "usize"], result: "i32" },
  setsid: { parameters: [], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

/** `name` cut to what the kernel keeps (15 bytes of UTF-8, never half a character). */
export function commName(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  let end = Math.min(bytes.length, TASK_COMM_LEN - 1);
  // Back off a UTF-8 continuation byte so the name stays valid text.
  while (end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
  const out = new Uint8Array(end + 1);
  out.set(bytes.subarray(0, end));
  return out;
}

/**
 * Names the calling thread `name` (PR_SET_NAME). Called from the main thread, this is the name
 * of the process in `ps -o comm`, `top` and `pidof`.
 */
export function setThreadName(name: string): void {
  if (sym().prctl(PR_SET_NAME, commName(name), 0n, 0n, 0n) !== 0) {
    throw new OsError("prctl", errno(), "PR_SET_NAME");
  }
}

/** The calling thread's name (PR_GET_NAME). */
export function threadName(): string {
  const buf = new Uint8Array(TASK_COMM_LEN);
  if (sym().prctl(PR_GET_NAME, buf, 0n, 0n, 0n) !== 0) {
    throw new OsError("prctl", errno(), "PR_GET_NAME");
  }
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/**
 * Starts a new session with this process as its leader, away from the terminal and process
 * group it was started in (setsid). Fails with EPERM in a process group leader.
 */
export function newSession(): number {
  const sid = sym().setsid();
  if (sid < 0) throw new OsError("setsid", errno());
  return sid;
}

/** What descriptor `fd` of this process refers to ("pipe:[123]", "/dev/pts/1"), or null. */
function fdTarget(fd: number | string): string | null {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** This process's open descriptors. */
function openFds(): number[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((n) =>
    Number.isInteger(n)
  );
}

/**
 * Points the standard descriptors `fds` (of 0, 1, 2) at /dev/null, and with them every other
 * descriptor open on the same file: Deno writes Deno.stdout and Deno.stderr through copies of
 * 1 and 2 it makes at start, which would otherwise keep the terminal or pipe open.
 */
export function detachStdio(fds: readonly number[]): void {
  const s = sym();
  const targets = new Set(fds.map(fdTarget).filter((t): t is string => t !== null));
  const copies = openFds().filter((fd) => fd > 2 && targets.has(fdTarget(fd) ?? ""));
  const nul = s.open(new TextEncoder().encode("/dev/null\0"), O_RDWR | O_CLOEXEC, 0);
  if (nul < 0) throw new OsError("open", errno(), "/dev/null");
  try {
    for (const fd of fds) {
      if (s.dup2(nul, fd) < 0) throw new OsError("dup2", errno(), `/dev/null onto ${fd}`);
    }
    for (const fd of copies) {
      if (fd === nul) continue;
      if (s.dup3(nul, fd, O_CLOEXEC) < 0) {
        throw new OsError("dup3", errno(), `/dev/null onto ${fd}`);
      }
    }
  } finally {
    s.close(nul);
  }
}

/**
 * Closes the descriptors above 2 this process inherited from whoever started it: those open
 * without close-on-exec that are not /dev/null (everything Deno opens itself is close-on-exec,
 * but for /dev/null). A daemon holds no pipe or file of its starter's.
 */
export function closeInheritedFds(): number[] {
  const closed: number[] = [];
  for (const fd of openFds()) {
    if (fd <= 2) continue;
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
    } catch {
      continue;
    }
    const flags = /^flags:\s*([0-7]+)$/m.exec(info);
    if (flags === null || (parseInt(flags[1]!, 8) & O_CLOEXEC) !== 0) continue;
    if (fdTarget(fd) === "/dev/null") continue;
    if (sym().close(fd) === 0) closed.push(fd);
  }
  return closed;
}
