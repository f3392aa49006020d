// Restarting this process image (execve of itself, same pid and arguments) so that a setting
// reaches every thread. Signal masks, the bounding set and no_new_privs belong to threads, and
// Deno starts its runtime threads before any of our code runs; a new image started from a thread
// that already holds the setting gives it to every thread the runtime then creates.

import { blockSignals, execv, ignoreSignal, Signal } from "./signals.ts";
import { capGet, capSet, limitBoundingSet, setNoNewPrivs } from "./privileges.ts";

/** Signals no Horae process takes with a handler: Deno's SIGUSR1 handler opens its inspector. */
export const GUARDED_SIGNALS: readonly number[] = [Signal.SIGUSR1, Signal.SIGUSR2];

/** One hexadecimal mask line of a /proc status text (SigBlk, CapBnd, ...), or null. */
export function statusMask(status: string, field: string): bigint | null {
  const m = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)\\s*$`, "m").exec(status);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** True when every guarded signal is in the SigBlk mask of `status`. */
export function guardedSignalsBlocked(status: string): boolean {
  const blocked = statusMask(status, "SigBlk") ?? 0n;
  return GUARDED_SIGNALS.every((s) => ((blocked >> BigInt(s - 1)) & 1n) === 1n);
}

/** The calling thread's /proc status text. */
export function threadStatus(): string {
  return Deno.readTextFileSync("/proc/thread-self/status");
}

/** This process's argument vector, as the kernel holds it. */
export function ownArgv(): string[] {
  const raw = Deno.readTextFileSync("/proc/self/cmdline");
  const argv = raw.split("\0");
  if (argv.at(-1) === "") argv.pop();
  return argv;
}

function restart(): never {
  execv(Deno.execPath(), ownArgv());
}

/**
 * Makes sure SIGUSR1 and SIGUSR2 are blocked in every thread, for the whole life of the process:
 * when the calling thread has them blocked already (this is the restarted image, or the parent
 * blocked them), returns; otherwise ignores them (so one that comes before the restart is lost,
 * not fatal), blocks them, sets no_new_privs and restarts the image, which then inherits the mask
 * in every thread. A blocked signal never reaches Deno's handler; read them with a SignalReader.
 */
export function ensureGuardedSignalsBlocked(): void {
  if (guardedSignalsBlocked(threadStatus())) return;
  for (const s of GUARDED_SIGNALS) ignoreSignal(s);
  blockSignals(GUARDED_SIGNALS);
  setNoNewPrivs();
  restart();
}

/**
 * Restarts the image with bounding set `keep` and no_new_privs in every thread, holding
 * `startup` (as inheritable capabilities, which root's execve turns into permitted ones) for the
 * privileged start-up that comes before the switch to another user. Returns when the calling
 * thread's bounding set already is `keep` (the restarted image).
 */
export function restartWithBoundingSet(keep: bigint, startup: bigint): void {
  const bounding = statusMask(threadStatus(), "CapBnd");
  if (bounding === null) throw new Error("no CapBnd line in /proc/thread-self/status");
  // A capability outside the bounding set now can never come back: keep only what is there.
  keep &= bounding;
  if (bounding === keep) return;
  setNoNewPrivs();
  const now = capGet();
  // Inheritable first: raising it needs the capabilities still in the bounding set.
  capSet({ ...now, inheritable: startup & now.permitted });
  limitBoundingSet(keep);
  restart();
}

/**
 * Blocks and ignores the guarded signals and sets no_new_privs like
 * {@link ensureGuardedSignalsBlocked}, then always restarts, running `argv` (the real main.ts
 * in place of a link to it, or argv[0] set to the program's name).
 */
export function restartGuarded(argv: readonly string[]): never {
  for (const s of GUARDED_SIGNALS) ignoreSignal(s);
  blockSignals(GUARDED_SIGNALS);
  setNoNewPrivs();
  execv(Deno.execPath(), argv);
}
