// The C library through Deno FFI: the handful of calls shared by every ffi/ module
// (clock reads, errno) and the OsError type for failed system calls.

/** Absolute path of glibc on Debian x86_64, so `--allow-ffi` can be scoped to it. */
export const LIBC_PATH = "/lib/x86_64-linux-gnu/libc.so.6";

/** A failed system call: `syscall` returned -1 and set `errno`. */
export class OsError extends Error {
  /** The call that failed, e.g. "bind". */
  readonly syscall: string;
  /** The C errno value. */
  readonly errno: number;
  constructor(syscall: string, errno: number, detail?: string) {
    super(`${syscall}${detail ? ` ${detail}` : ""}: ${errnoName(errno)} (errno ${errno})`);
    this.name = "OsError";
    this.syscall = syscall;
    this.errno = errno;
  }
}

/** Common errno values. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  EDQUOT: 122,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  EAFNOSUPPORT: 97,
} as const;

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Errno).map(([k, v]) => [v, k]),
);

/** The symbolic name of an errno value when known. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** Opens libc once (throws when FFI is not permitted). */
export function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (lib === null) lib = Deno.dlopen(LIBC_PATH, SYMBOLS);
  return lib.symbols;
}

/**
 * Opens glibc with another module's `symbols` (throws when FFI is not permitted). This module's
 * handle is opened first, so `errno()` after a failed call never has to dlopen, which could
 * overwrite errno.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> {
  libc();
  return Deno.dlopen(LIBC_PATH, symbols);
}

/** True when FFI can be used in this process. */
export function ffiAvailable(): boolean {
  try {
    libc();
    return true;
  } catch {
    return false;
  }
}

/** errno of the last synchronous FFI call on this thread. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}

/** CLOCK_REALTIME. */
export const CLOCK_REALTIME = 0;

const ts = new BigInt64Array(2);
const tsBytes = new Uint8Array(ts.buffer);

/** Reads CLOCK_REALTIME as [seconds, nanoseconds] (numbers; seconds exact until 2^53). */
export function realtime(): [number, number] {
  if (libc().clock_gettime(CLOCK_REALTIME, tsBytes) !== 0) {
    throw new OsError("clock_gettime", errno());
  }
  return [Number(ts[0]), Number(ts[1])];
}

/** Reads CLOCK_REALTIME in nanoseconds since the Unix epoch. */
export function realtimeNs(): bigint {
  if (libc().clock_gettime(CLOCK_REALTIME, tsBytes) !== 0) {
    throw new OsError("clock_gettime", errno());
  }
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
