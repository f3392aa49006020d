// Whether a one-shot tool (`horae date`, `time`, `tickadj`) may change the system clock: the
// calling thread's effective capabilities must hold CAP_SYS_TIME (bit 25). The tools ask before
// any write, so that without the capability nothing reaches the kernel at all.

import { capGet } from "../../ffi/privileges.ts";

/** CAP_SYS_TIME's bit number in a capability mask. */
export const CAP_SYS_TIME_BIT = 25n;

/** Exit status for a missing privilege (STYLE.md §4; sysexits EX_NOPERM). */
export const EXIT_NO_PRIVILEGE = 77;

/** True when `effective` (a capability mask) holds CAP_SYS_TIME. */
export function masksSysTime(effective: bigint): boolean {
  return ((effective >> CAP_SYS_TIME_BIT) & 1n) === 1n;
}

/**
 * True when the calling thread may set the clock (CAP_SYS_TIME in its effective set). False when
 * the capabilities cannot be read (no FFI): a tool then never tries to write.
 */
export function hasSysTimeCapability(): boolean {
  try {
    return masksSysTime(capGet().effective);
  } catch {
    return false;
  }
}

/** The sentence a refused write ends with: what is missing and how to get it. */
export const NEEDS_SYS_TIME =
  "needs CAP_SYS_TIME (run as root, or grant the capability); nothing was changed";
