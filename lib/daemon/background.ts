// ntpd without -n: the daemon goes into the background once it is ready, and the command that
// started it exits 0 only then (ntpd 4.2.x forks after its sockets are bound). Deno cannot fork,
// so the command starts itself again, detached: the child starts a new session, runs the daemon
// and reports readiness on a pipe (its standard output); the parent waits for that line, or for
// the child's failure, and exits with the outcome.

import { Errno, OsError } from "../../ffi/libc.ts";
import { closeInheritedFds, detachStdio, newSession } from "../../ffi/process_control.ts";

/**
 * Set in the detached child's environment: the program name it runs as (ntpd, or horae for
 * `horae run`). It marks the process that reports readiness instead of detaching again.
 */
export const DETACHED_ENV = "HORAE_DETACHED";

/** The readiness line the detached child writes on its standard output. */
export const READY_LINE = "READY";

/** How long the parent waits for the daemon to be ready (name resolution may be slow). */
export const READY_TIMEOUT_MS = 120_000;

/** True when the daemon must detach: no -n, no -q (which runs once), no debug level. */
export function shouldDetach(o: { noFork: boolean; quit: boolean; debugLevel: number }): boolean {
  // COMPAT: ntpd stays in the foreground when debugging (-d, -D) and with -q.
  return !o.noFork && !o.quit && o.debugLevel === 0;
}

/** This process's argument vector, as the kernel holds it. */
function commandLine(): string[] {
  const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv;
}

/** The outcome the parent reports: the exit status, and a line for standard error (or null). */
export interface DetachOutcome {
  code: number;
  message: string | null;
}

/**
 * Parent side: starts this same command again, detached, and waits until it reports ready (exit
 * 0, the daemon runs on), ends (its exit status, never 0) or does not report within `timeoutMs`
 * (stopped, exit 1). Its standard error stays the caller's until it is ready, so start-up errors
 * reach the terminal.
 */
export async function startDetached(
  program: string,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<DetachOutcome> {
  const argv = commandLine();
  const child = new Deno.Command(Deno.execPath(), {
    args: argv.slice(1),
    env: { [DETACHED_ENV]: program },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const status = child.status;
  const ready = readReady(child.stdout);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const first = await Promise.race([ready, status, timeout]);
  clearTimeout(timer);
  if (first === "ready") {
    child.unref();
    return { code: 0, message: null };
  }
  if (first === "timeout") {
    try {
      child.kill("SIGTERM");
    } catch {
      // It ended meanwhile.
    }
    await status;
    return {
      code: 1,
      message: `${program}: the daemon did not become ready within ${timeoutMs / 1000} s; stopped`,
    };
  }
  // Its output ended without the line, or it ended: either way its exit status tells.
  const st = first === "eof" ? await status : first;
  const code = st.code !== 0 ? st.code : 1;
  return {
    code,
    message: `${program}: the daemon ended before it was ready (${
      st.signal !== null ? `signal ${st.signal}` : `exit code ${st.code}`
    })`,
  };
}

/** Resolves "ready" when the stream carries the readiness line, "eof" when it ends without. */
async function readReady(stream: ReadableStream<Uint8Array>): Promise<"ready" | "eof"> {
  const dec = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return "eof";
      text += dec.decode(value, { stream: true });
      if (text.split("\n").includes(READY_LINE)) return "ready";
      if (text.length > 4096) text = text.slice(-64);
    }
  } finally {
    reader.releaseLock();
    stream.cancel().catch(() => {});
  }
}

/**
 * Child side, first thing: when this process is the detached daemon, starts its own session
 * (no controlling terminal, out of the starter's process group) and returns true.
 */
export function enterDetached(): boolean {
  if (Deno.env.get(DETACHED_ENV) === undefined) return false;
  // The variable stays: -u restarts the image (same pid), which must know it again. After that
  // restart the process already leads its session, and setsid's EPERM says just that.
  try {
    newSession();
  } catch (e) {
    if (!(e instanceof OsError && e.errno === Errno.EPERM)) throw e;
  }
  closeInheritedFds();
  return true;
}

/**
 * Child side, once ready: tells the parent, then points standard input and output (and standard
 * error when `keepStderr` is false) at /dev/null, so the daemon holds nothing of the terminal.
 */
export function reportReady(keepStderr: boolean): void {
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(`${READY_LINE}\n`));
  } catch {
    // The starting command is gone (killed while it waited): the daemon runs on regardless.
  }
  detachStdio(keepStderr ? [0, 1] : [0, 1, 2]);
}
