// Signals through libc, for what Deno's signal API cannot express: ignoring a signal (SIG_IGN),
// blocking signals in the thread mask (inherited by every thread and across execve), and taking
// blocked signals from a signalfd instead of a handler. Deno ≥ 2.9.2 opens its V8 inspector when
// a handler it installs 500 ms after start sees SIGUSR1; a signal that is blocked in every thread
// never reaches any handler, whatever its timing.

import { errno, openLibc, OsError } from "./libc.ts";

/** Linux signal numbers used here. */
export const Signal = { SIGHUP: 1, SIGINT: 2, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 } as const;

const SIG_IGN = 1n;
const SIG_BLOCK = 0;
/** glibc's sigset_t is 1024 bits; the kernel reads the first 64. */
const SIGSET_BYTES = 128;
const SFD_NONBLOCK = 0o4000;
const SFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const POLLIN = 0x1;
/** Bytes of `struct signalfd_siginfo`; ssi_signo is the u32 at offset 0. */
const SIGINFO_BYTES = 128;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  pthread_sigmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  signalfd: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  execv: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

function sym(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= openLibc(SYMBOLS);
  return lib.symbols;
}

/** A sigset_t holding `signals`. */
export function encodeSigset(signals: readonly number[]): Uint8Array {
  const set = new Uint8Array(SIGSET_BYTES);
  for (const s of signals) set[(s - 1) >> 3]! |= 1 << ((s - 1) & 7);
  return set;
}

/**
 * Sets `signo` to SIG_IGN. Returns true when something else (another handler) was installed
 * before this call, false when the signal was already ignored or at its default.
 */
export function ignoreSignal(signo: number): boolean {
  const previous = sym().signal(signo, Deno.UnsafePointer.create(SIG_IGN));
  const value = previous === null ? 0n : BigInt(Deno.UnsafePointer.value(previous));
  return value !== 0n && value !== SIG_IGN;
}

/** Adds `signals` to the calling thread's mask (threads it creates, and execve, inherit it). */
export function blockSignals(signals: readonly number[]): void {
  const rc = sym().pthread_sigmask(SIG_BLOCK, encodeSigset(signals), null);
  // pthread_sigmask returns the error number itself.
  if (rc !== 0) throw new OsError("pthread_sigmask", rc);
}

/**
 * Replaces this process with `path` run with `argv` and the current environment (execv). The
 * thread mask and ignored signals carry over. Returns only by throwing.
 */
export function execv(path: string, argv: readonly string[]): never {
  const enc = new TextEncoder();
  const strings = argv.map((a) => enc.encode(`${a}\0`));
  const table = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => table[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  sym().execv(enc.encode(`${path}\0`), new Uint8Array(table.buffer));
  throw new OsError("execv", errno(), path);
}

/**
 * Delivers blocked signals through a signalfd: `onSignal(signo)` runs on the JavaScript thread
 * for each one. The signals must be blocked in every thread (see {@link blockSignals}), or some
 * other handler may take them first. `close()` ends the wait.
 */
export class SignalReader {
  #sfd: number;
  #efd: number;
  #closed = false;
  #done: Promise<void>;

  constructor(signals: readonly number[], onSignal: (signo: number) => void) {
    const s = sym();
    this.#sfd = s.signalfd(-1, encodeSigset(signals), SFD_NONBLOCK | SFD_CLOEXEC);
    if (this.#sfd < 0) throw new OsError("signalfd", errno());
    this.#efd = s.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#efd < 0) {
      const e = errno();
      s.close(this.#sfd);
      throw new OsError("eventfd", e);
    }
    this.#done = this.#loop(onSignal);
  }

  async #loop(onSignal: (signo: number) => void): Promise<void> {
    const s = sym();
    const fds = new Uint8Array(16);
    const view = new DataView(fds.buffer);
    view.setInt32(0, this.#sfd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt32(8, this.#efd, true);
    view.setInt16(12, POLLIN, true);
    const info = new Uint8Array(SIGINFO_BYTES);
    const infoView = new DataView(info.buffer);
    while (!this.#closed) {
      view.setInt16(6, 0, true);
      view.setInt16(14, 0, true);
      const n = await s.poll(fds, 2n, -1);
      if (this.#closed) break;
      if (n < 0) continue; // EINTR
      while (Number(s.read(this.#sfd, info, BigInt(SIGINFO_BYTES))) === SIGINFO_BYTES) {
        onSignal(infoView.getUint32(0, true));
      }
    }
  }

  /** Stops reading and releases the descriptors. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const one = new BigUint64Array([1n]);
    sym().write(this.#efd, new Uint8Array(one.buffer), 8n);
    await this.#done;
    sym().close(this.#sfd);
    sym().close(this.#efd);
  }
}
