// Reading small local text files (configuration, includes, leap-seconds list, drift file) with a
// byte limit, refusing anything that is not a plain regular file on a real file system.
//
// `stat` cannot be trusted for size: /proc and /sys files report 0 (or 4096) bytes whatever they
// hold, and /proc/self/pagemap yields gigabytes. So files on kernel pseudo-file systems are
// refused outright, and for the rest the read itself stops after `limitBytes + 1` bytes. A FIFO blocks in open(2) until a writer appears and
// Deno cannot open with O_NONBLOCK, so the type is checked with stat before opening, and the
// opened file is checked again with fstat (same device and inode, still a regular file). A FIFO
// swapped in between the two calls can still block the open: that window is as small as Deno
// allows.

/** Why a bounded read failed. */
export type BoundedReadFailure =
  /** The path does not exist. */
  | "missing"
  /** A directory, FIFO, device, socket or kernel pseudo-file. */
  | "not-regular"
  /** More than the limit. */
  | "too-large"
  /** Replaced between the type check and the open. */
  | "changed"
  /** Any other error (permission, I/O). */
  | "io";

/** Result of `readBoundedTextFile`: the text, or why it was not read. */
export type BoundedReadResult =
  | {
    ok: true;
    /** The content decoded as UTF-8 (invalid sequences become U+FFFD). */
    text: string;
    /** `dev:ino` of the file read: a stable identity (include loops, same file twice). */
    identity: string;
  }
  | { ok: false; failure: BoundedReadFailure; reason: string };

/**
 * File systems whose "files" are kernel interfaces rather than stored data: their sizes lie, some
 * reads never end (/proc/self/pagemap) or block (/proc/kmsg, trace_pipe).
 */
const PSEUDO_FILESYSTEMS = new Set([
  "proc",
  "sysfs",
  "debugfs",
  "tracefs",
  "securityfs",
  "cgroup",
  "cgroup2",
  "configfs",
  "pstore",
  "bpf",
  "efivarfs",
  "selinuxfs",
  "binfmt_misc",
  "fusectl",
  "nsfs",
  "mqueue",
  "rpc_pipefs",
]);

/** Largest /proc/self/mountinfo read (a host with thousands of mounts stays well below). */
const MAX_MOUNTINFO_BYTES = 4 << 20;

/** Linux `dev_t` → "major:minor" as /proc/self/mountinfo writes it (glibc's encoding). */
export function devString(dev: number): string {
  const d = BigInt(dev);
  const major = (((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)) & 0xffffffffn;
  const minor = ((d & 0xffn) | ((d >> 12n) & ~0xffn)) & 0xffffffffn;
  return `${major}:${minor}`;
}

/**
 * Parses /proc/self/mountinfo text into "major:minor" → file system type (the first mount of a
 * device wins; bind mounts share their device's type anyway).
 */
export function parseMountInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    const fields = line.split(" ");
    const dev = fields[2];
    const sep = fields.indexOf("-", 6);
    const type = sep > 0 ? fields[sep + 1] : undefined;
    if (dev !== undefined && type !== undefined && !out.has(dev)) out.set(dev, type);
  }
  return out;
}

/** The file system type holding `dev`, or null when /proc/self/mountinfo cannot tell. */
function fsTypeOf(dev: number): string | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync("/proc/self/mountinfo", { read: true });
  } catch {
    return null; // no /proc (a chroot): nothing to guard against there either
  }
  try {
    const bytes = readUpTo(file, MAX_MOUNTINFO_BYTES);
    return parseMountInfo(new TextDecoder().decode(bytes)).get(devString(dev)) ?? null;
  } catch {
    return null;
  } finally {
    file.close();
  }
}

/** First buffer for a file `statSize` bytes long: room for it and the end-of-file read. */
function firstBuffer(statSize: number, max: number): Uint8Array {
  return new Uint8Array(Math.min(max, Math.max(statSize + 1, 4096)));
}

/** The buffer doubled (at most `max`), keeping the first `n` bytes. */
function grown(buf: Uint8Array, n: number, max: number): Uint8Array {
  const bigger = new Uint8Array(Math.min(max, buf.length * 2));
  bigger.set(buf.subarray(0, n));
  return bigger;
}

/**
 * Reads until end of file or `max` bytes, whichever comes first. `statSize` only sizes the
 * first buffer: the bound holds whatever the file system claims.
 */
function readUpTo(file: Deno.FsFile, max: number, statSize = 0): Uint8Array {
  let buf = firstBuffer(statSize, max);
  let n = 0;
  while (n < max) {
    if (n === buf.length) buf = grown(buf, n, max);
    const got = file.readSync(buf.subarray(n));
    if (got === null || got === 0) break;
    n += got;
  }
  return buf.subarray(0, n);
}

async function readUpToAsync(
  file: Deno.FsFile,
  max: number,
  statSize: number,
): Promise<Uint8Array> {
  let buf = firstBuffer(statSize, max);
  let n = 0;
  while (n < max) {
    if (n === buf.length) buf = grown(buf, n, max);
    const got = await file.read(buf.subarray(n));
    if (got === null || got === 0) break;
    n += got;
  }
  return buf.subarray(0, n);
}

/** Why `info` (from stat) may not be read; null when it is a regular file on a real file system. */
function refuseByType(info: Deno.FileInfo): BoundedReadResult | null {
  const no = (reason: string): BoundedReadResult => ({ ok: false, failure: "not-regular", reason });
  if (info.isDirectory) return no("is a directory");
  if (info.isFifo) return no("is a FIFO (named pipe), not a regular file");
  if (info.isCharDevice) return no("is a character device, not a regular file");
  if (info.isBlockDevice) return no("is a block device, not a regular file");
  if (info.isSocket) return no("is a socket, not a regular file");
  if (!info.isFile) return no("not a regular file");
  if (info.dev !== null) {
    const type = fsTypeOf(info.dev);
    if (type !== null && PSEUDO_FILESYSTEMS.has(type)) {
      return no(`is a kernel pseudo-file (${type} file system), not a regular file`);
    }
  }
  return null;
}

/** The refusal of a file found longer than `limitBytes` (stat's size quoted when it agrees). */
function tooLarge(limitBytes: number, statSize: number): BoundedReadResult {
  return {
    ok: false,
    failure: "too-large",
    reason: statSize > limitBytes
      ? `file is ${statSize} bytes, larger than the ${limitBytes}-byte limit`
      : `file is larger than the ${limitBytes}-byte limit`,
  };
}

/** Checks the opened file is the one stat saw: same device and inode, still a regular file. */
function sameFile(before: Deno.FileInfo, after: Deno.FileInfo): boolean {
  return after.isFile && after.dev === before.dev && after.ino === before.ino;
}

const CHANGED: BoundedReadResult = {
  ok: false,
  failure: "changed",
  reason: "file was replaced while being opened",
};

function describeError(e: unknown): BoundedReadResult {
  if (e instanceof Deno.errors.NotFound) {
    return { ok: false, failure: "missing", reason: "no such file or directory" };
  }
  const reason = e instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : e instanceof Error
    ? e.message.replace(/ \(os error \d+\).*$/, "")
    : String(e);
  return { ok: false, failure: "io", reason };
}

function decoded(bytes: Uint8Array, info: Deno.FileInfo): BoundedReadResult {
  return {
    ok: true,
    text: new TextDecoder("utf-8", { fatal: false }).decode(bytes),
    identity: `${info.dev}:${info.ino}`,
  };
}

/**
 * Reads a text file of at most `limitBytes` bytes, synchronously. Never throws and never reads
 * more than `limitBytes + 1` bytes; refuses directories, FIFOs, devices, sockets and files on
 * kernel pseudo-file systems (/proc, /sys, ...) without opening them.
 */
export function readBoundedTextFileSync(path: string, limitBytes: number): BoundedReadResult {
  try {
    const info = Deno.statSync(path);
    const refused = refuseByType(info);
    if (refused !== null) return refused;
    // No shortcut on stat's size: the read's own bound is the check (and so always tested).
    const file = Deno.openSync(path, { read: true });
    try {
      if (!sameFile(info, file.statSync())) return CHANGED;
      const bytes = readUpTo(file, limitBytes + 1, info.size);
      if (bytes.length > limitBytes) return tooLarge(limitBytes, info.size);
      return decoded(bytes, info);
    } finally {
      file.close();
    }
  } catch (e) {
    return describeError(e);
  }
}

/** `readBoundedTextFileSync` for callers on the event loop (the daemon): the reads are async. */
export async function readBoundedTextFile(
  path: string,
  limitBytes: number,
): Promise<BoundedReadResult> {
  try {
    const info = await Deno.stat(path);
    const refused = refuseByType(info);
    if (refused !== null) return refused;
    const file = await Deno.open(path, { read: true });
    try {
      if (!sameFile(info, await file.stat())) return CHANGED;
      const bytes = await readUpToAsync(file, limitBytes + 1, info.size);
      if (bytes.length > limitBytes) return tooLarge(limitBytes, info.size);
      return decoded(bytes, info);
    } finally {
      file.close();
    }
  } catch (e) {
    return describeError(e);
  }
}
