// Every file the daemon writes goes through here: the status, pid and drift files (replaced
// atomically), logs and statistics (appended). Their folders may be writable by the `-u` user,
// and the first writes happen while the daemon is still root, so a link planted at any of these
// names must never be followed and every file is created with an explicit mode.
//
// Two ways, both of which the kernel enforces rather than a check before the call:
// - replace: a fresh temporary name with 128 random bits, created with O_CREAT|O_EXCL (which never
//   follows a link, even a dangling one), written, fsynced, then renamed over the target (rename
//   replaces whatever name is there and never follows it);
// - append: open(2) with O_NOFOLLOW, then fstat(2) of the opened descriptor: only a regular file
//   with one name is kept.

import {
  appendWholeFd,
  closeFd,
  fchownFd,
  FileErrno,
  flockFd,
  fstatFd,
  LOCK,
  O,
  openFd,
  readFd,
  S_IFMT,
  S_IFREG,
  writeAllFd,
} from "../../ffi/files.ts";
import { OsError } from "../../ffi/libc.ts";

/** A path that is not written because of what is there (a link, a directory, a FIFO, ...). */
export class FileRefusedError extends Error {
  /** The path that was refused. */
  readonly path: string;
  constructor(path: string, what: string) {
    super(`${path} ${what} (refused)`);
    this.name = "FileRefusedError";
    this.path = path;
  }
}

/** Where {@link writeFileAtomic} writes before the rename: `<path>.TEMP-<32 random hex digits>`. */
export function tempPathFor(path: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${path}.TEMP-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Throws a {@link FileRefusedError} when `path` is a symbolic link (absent is fine). */
async function refuseLink(path: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (st.isSymlink) throw new FileRefusedError(path, "is a symbolic link");
}

/** Creates `tmp` exclusively; a name that already exists (a planted link) is refused. */
async function createExclusive(tmp: string, mode: number): Promise<Deno.FsFile> {
  try {
    return await Deno.open(tmp, { write: true, createNew: true, mode });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    const link = await Deno.lstat(tmp).then((s) => s.isSymlink, () => false);
    throw new FileRefusedError(tmp, link ? "is a symbolic link" : "already exists");
  }
}

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** The temporary path to use instead of a fresh random one (tests only). */
  tempPath?: string;
}

/**
 * Replaces the file at `path` with `data`, atomically: readers see the old file or the new one,
 * never a part. The new file is created with `mode` (the process umask can only clear bits).
 * Refuses (throws {@link FileRefusedError}) when `path` is a symbolic link; the temporary file is
 * removed when anything fails.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/var/lib/horae/status.json", "{}\n", 0o644);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  // Not needed for safety (rename replaces a link without following it) but a link there is
  // someone's attempt, which the administrator should hear about rather than see silently undone.
  await refuseLink(path);
  const tmp = options.tempPath ?? tempPathFor(path);
  let file: Deno.FsFile;
  try {
    file = await createExclusive(tmp, mode);
  } catch (e) {
    throw stableError(e, tmp);
  }
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let open = true;
  try {
    for (let done = 0; done < bytes.length;) {
      done += await file.write(bytes.subarray(done));
    }
    await file.sync();
    file.close();
    open = false;
    await Deno.rename(tmp, path);
  } catch (e) {
    if (open) file.close();
    await Deno.remove(tmp).catch(() => {});
    throw stableError(e, tmp);
  }
}

/**
 * The error with the random part of the temporary name hidden (`<path>.TEMP-*`), so the same
 * failure reads the same every time: the daemon logs a failing write once, not every 2 s.
 * A refusal keeps the exact name that was refused.
 */
function stableError(e: unknown, tmp: string): unknown {
  if (!(e instanceof Error) || e instanceof FileRefusedError || !e.message.includes(tmp)) return e;
  const stable = new Error(e.message.replaceAll(tmp, tmp.replace(/-[0-9a-f]{32}$/, "-*")), {
    cause: e,
  });
  stable.name = e.name;
  return stable;
}

/**
 * Checks that {@link writeFileAtomic} could write `path` now (used after `-u`, as the new
 * user): creates and removes a temporary file. Null when it can, else the reason.
 */
export async function probeWriteFileAtomic(path: string): Promise<string | null> {
  try {
    await refuseLink(path);
  } catch (e) {
    return (e as Error).message;
  }
  const tmp = tempPathFor(path);
  try {
    (await createExclusive(tmp, 0o600)).close();
    await Deno.remove(tmp);
    return null;
  } catch (e) {
    return (stableError(e, tmp) as Error).message;
  }
}

/** Turns a failed open into a refusal where the errno says what was found at the path. */
function openError(path: string, e: unknown): Error {
  if (!(e instanceof OsError)) return e as Error;
  switch (e.errno) {
    case FileErrno.ELOOP:
      return new FileRefusedError(path, "is a symbolic link");
    case FileErrno.EISDIR:
      return new FileRefusedError(path, "is a directory");
    case FileErrno.ENXIO: // a FIFO with no reader or a socket, seen through O_NONBLOCK
      return new FileRefusedError(path, "is not a regular file");
    case FileErrno.ENOENT:
      return new Deno.errors.NotFound(`${path}: no such file or directory`);
    default:
      return e;
  }
}

/** Opens `path` without following a link there and keeps it only if it is a plain file. */
function openRegularNoFollow(path: string, flags: number, mode: number): number {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted there fails (ENXIO) instead of blocking the daemon; it has no
    // effect on regular files. O_NOCTTY: a terminal never becomes the controlling one.
    fd = openFd(path, flags | O.NOFOLLOW | O.NOCTTY | O.NONBLOCK | O.CLOEXEC, mode);
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const st = fstatFd(fd);
    if ((st.mode & S_IFMT) !== S_IFREG) throw new FileRefusedError(path, "is not a regular file");
    // A second name is a hard link someone made to a file we must not touch.
    if (st.nlink > 1) throw new FileRefusedError(path, `has ${st.nlink} hard links`);
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** A file opened by {@link openAppendNoFollow}: each write lands whole at its end. */
export class AppendFile {
  /** The path it was opened at. */
  readonly path: string;
  #fd: number;
  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Appends one record (a log line, a statistics line) with one write(2) call. */
  writeSync(record: Uint8Array): void {
    if (this.#fd < 0) throw new Error(`${this.path}: write after close`);
    writeAllFd(this.#fd, record);
  }

  /**
   * Appends one record whole or not at all: when the disk fills in the middle of it, the part
   * already written is removed again, so the file still ends with a complete record. Throws
   * the write's error (an `OsError`, ENOSPC for a full disk).
   */
  appendRecord(record: Uint8Array): void {
    if (this.#fd < 0) throw new Error(`${this.path}: write after close`);
    appendWholeFd(this.#fd, record);
  }

  /** The open file's size, bytes. */
  size(): number {
    if (this.#fd < 0) throw new Error(`${this.path}: stat after close`);
    return fstatFd(this.#fd).size;
  }

  /** Device and inode of the open file (to tell whether a name still leads to it). */
  identity(): { dev: bigint; ino: bigint } {
    if (this.#fd < 0) throw new Error(`${this.path}: stat after close`);
    const st = fstatFd(this.#fd);
    return { dev: st.dev, ino: st.ino };
  }

  /** Closes the file (later writes throw). */
  close(): void {
    if (this.#fd < 0) return;
    closeFd(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Opens `path` for appending, creating it with `mode` (the umask can only clear bits) when it
 * does not exist. Refuses ({@link FileRefusedError}) a symbolic link at the last component, a
 * directory, a FIFO, a device or socket, and a file with more than one hard link. Needs FFI.
 *
 * @example
 * ```ts
 * const log = openAppendNoFollow("/var/log/horae.log", 0o644);
 * log.writeSync(new TextEncoder().encode("started\n"));
 * log.close();
 * ```
 */
export function openAppendNoFollow(path: string, mode: number): AppendFile {
  return new AppendFile(path, openRegularNoFollow(path, O.WRONLY | O.APPEND | O.CREAT, mode));
}

/**
 * Reads at most `maxBytes` of the regular file at `path` without following a link there
 * (refused as by {@link openAppendNoFollow}); a missing file throws `Deno.errors.NotFound`.
 * For the small files the daemon reads back from folders others may write (the drift file).
 */
export function readFileNoFollow(path: string, maxBytes: number): Uint8Array {
  const fd = openRegularNoFollow(path, O.RDONLY, 0);
  try {
    return readFd(fd, maxBytes);
  } finally {
    closeFd(fd);
  }
}

/**
 * Takes an exclusive flock(2) on the lock file `path` (created with `mode` when missing), opened
 * like every other daemon file: a link planted at the name is refused, never followed (an empty
 * file created as root wherever it points, /etc/nologin say). Resolves once the lock is held;
 * the returned function releases it.
 */
export async function lockFileNoFollow(path: string, mode: number): Promise<() => void> {
  const fd = openRegularNoFollow(path, O.RDWR | O.CREAT, mode);
  try {
    await flockFd(fd, LOCK.EX);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return () => closeFd(fd); // closing releases the lock
}

/**
 * Gives the root-owned regular file at `path` to `uid`:`gid` (before `-u` drops root, for a file
 * the daemon must go on reading and rewriting as that user, such as the NTS cookie keys). Opened
 * like every other daemon file: a link or a hard-linked file there is refused, never followed.
 * A file owned by anyone but root is left as it is (its owner chose). Returns false when the
 * file does not exist or was left as it is.
 */
export function handOverNoFollow(path: string, uid: number, gid: number): boolean {
  let fd: number;
  try {
    fd = openRegularNoFollow(path, O.RDONLY, 0);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  try {
    if (fstatFd(fd).uid !== 0) return false;
    fchownFd(fd, uid, gid);
    return true;
  } finally {
    closeFd(fd);
  }
}
