// Signal dispositions through libc, for what Deno's signal API cannot express: ignoring a signal
// for good (SIG_IGN), which keeps Deno's SIGUSR1 inspector trigger from ever arming.

import { openLibc } from "./libc.ts";

/** Linux signal numbers used here. */
export const Signal = { SIGUSR1: 10, SIGUSR2: 12 } as const;

const SIG_IGN = 1n;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
const SYMBOLS = {
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
} as const;

/**
 * Sets `signo` to SIG_IGN. Returns true when something else (another handler) was installed
 * before this call, false when the signal was already ignored or at its default.
 */
export function ignoreSignal(signo: number): boolean {
  lib ??= openLibc(SYMBOLS);
  const previous = lib.symbols.signal(signo, Deno.UnsafePointer.create(SIG_IGN));
  const value = previous === null ? 0n : BigInt(Deno.UnsafePointer.value(previous));
  return value !== 0n && value !== SIG_IGN;
}
