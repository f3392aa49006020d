// open(2) with the flags Deno.open cannot pass (O_NOFOLLOW, O_NOCTTY, O_NONBLOCK), fstat(2) and
// whole-buffer write(2) on the descriptor: what a daemon running as root needs to append to a
// file in a folder that someone else may write without ever following a link planted there.

import { errno, openLibc, OsError } from "./libc.ts";

/** open(2) flags (Linux x86_64 values). */
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
} as const;

/** errno values these calls report that their callers tell apart. */
export const FileErrno = {
  ENOENT: 2,
  EINTR: 4,
  ENXIO: 6,
  EAGAIN: 11,
  EEXIST: 17,
  EISDIR: 21,
  ENOSPC: 28,
  EDQUOT: 122,
  ELOOP: 40,
} as const;

/** File type bits of `st_mode`. */
export const S_IFMT = 0o170000;
/** `st_mode` type of a regular file. */
export const S_IFREG = 0o100000;

/** Bytes of glibc's `struct stat` on x86_64. */
export const STAT_SIZE = 144;

/** The fields of `struct stat` the callers use. */
export interface FileStat {
  dev: bigint;
  ino: bigint;
  nlink: number;
  /** Type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/**
 * Decodes glibc's x86_64 `struct stat`: st_dev u64@0, st_ino u64@8, st_nlink u64@16,
 * st_mode u32@24, st_uid u32@28, st_gid u32@32, st_rdev u64@40, st_size i64@48.
 */
export function decodeStat(bytes: Uint8Array): FileStat {
  if (bytes.length < STAT_SIZE) throw new RangeError(`struct stat needs ${STAT_SIZE} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, STAT_SIZE);
  return {
    dev: v.getBigUint64(0, true),
    ino: v.getBigUint64(8, true),
    nlink: Number(v.getBigUint64(16, true)),
    mode: v.getUint32(24, true),
    uid: v.getUint32(28, true),
    gid: v.getUint32(32, true),
    size: Number(v.getBigInt64(48, true)),
  };
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  // On a helper thread: the lock may be held by another process for a while.
  flock: { parameters: ["i32", "i32"], result: "i32", nonblocking: true },
} as const;

function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** open(2); throws an {@link OsError} (syscall "open", detail `path`) on failure. */
export function openFd(path: string, flags: number, mode: number): number {
  if (path.includes("\0")) throw new TypeError(`path contains a NUL byte: ${JSON.stringify(path)}`);
  const fd = sym().open(cString(path), flags, mode);
  if (fd < 0) throw new OsError("open", errno(), path);
  return fd;
}

/** fchown(2): gives an open file to `uid`:`gid`; throws an {@link OsError} on failure. */
export function fchownFd(fd: number, uid: number, gid: number): void {
  if (sym().fchown(fd, uid, gid) !== 0) throw new OsError("fchown", errno());
}

/** fstat(2) of an open descriptor. */
export function fstatFd(fd: number): FileStat {
  const buf = new Uint8Array(STAT_SIZE);
  if (sym().fstat(fd, buf) !== 0) throw new OsError("fstat", errno());
  return decodeStat(buf);
}

/**
 * Writes all of `bytes` at the descriptor's position (the end, with O_APPEND): one write(2) call,
 * repeated only for the rest after a short write or EINTR, so a record is never split by us.
 */
export function writeAllFd(fd: number, bytes: Uint8Array): void {
  let done = 0;
  let interrupted = 0;
  while (done < bytes.length) {
    const n = Number(sym().write(fd, bytes.subarray(done), BigInt(bytes.length - done)));
    if (n < 0) {
      const e = errno();
      if (e === FileErrno.EINTR && ++interrupted < 100) continue;
      throw new OsError("write", e);
    }
    if (n === 0) throw new Error("write: no byte written");
    done += n;
  }
}

/**
 * Appends `bytes` whole or not at all (the descriptor must be O_APPEND): one write(2) call,
 * repeated for the rest only after a short write or EINTR; when a later call fails (a full disk),
 * the part already written is cut off again with ftruncate(2), so a reader never sees half a
 * record. Throws the write's {@link OsError}.
 */
export function appendWholeFd(fd: number, bytes: Uint8Array): void {
  let done = 0;
  let interrupted = 0;
  while (done < bytes.length) {
    const n = Number(sym().write(fd, bytes.subarray(done), BigInt(bytes.length - done)));
    if (n > 0) {
      done += n;
      continue;
    }
    const e = n < 0 ? errno() : FileErrno.ENOSPC;
    if (e === FileErrno.EINTR && ++interrupted < 100) continue;
    if (done > 0) {
      // Our partial record is the file's last `done` bytes (appends land at the end).
      const size = fstatFd(fd).size;
      sym().ftruncate(fd, BigInt(Math.max(0, size - done)));
    }
    throw new OsError("write", e);
  }
}

/** Reads up to `maxBytes` from the descriptor (fewer at end of file). */
export function readFd(fd: number, maxBytes: number): Uint8Array {
  const buf = new Uint8Array(maxBytes);
  let len = 0;
  let interrupted = 0;
  while (len < maxBytes) {
    const n = Number(sym().read(fd, buf.subarray(len), BigInt(maxBytes - len)));
    if (n < 0) {
      const e = errno();
      if (e === FileErrno.EINTR && ++interrupted < 100) continue;
      throw new OsError("read", e);
    }
    if (n === 0) break;
    len += n;
  }
  return buf.subarray(0, len);
}

/** close(2); errors are ignored (the descriptor is gone either way on Linux). */
export function closeFd(fd: number): void {
  sym().close(fd);
}

/** flock(2) operations. */
export const LOCK = { EX: 2, UN: 8 } as const;

/**
 * flock(2) on a helper thread (waiting for the lock never blocks the event loop). Throws when the
 * call fails (its errno belongs to the helper thread, so it is not reported).
 */
export async function flockFd(fd: number, op: number): Promise<void> {
  if (await sym().flock(fd, op) !== 0) throw new Error(`flock(${op}) failed`);
}
