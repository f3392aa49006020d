// Linux capabilities of the daemon's JavaScript thread: whether it may set the clock
// (CAP_SYS_TIME, bit 25).

/** CAP_SYS_TIME's bit number. */
export const CAP_SYS_TIME = 25;

/** Parses the CapEff line of /proc/self/status into a bigint mask, or null. */
export function parseEffectiveCaps(status: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/**
 * True when the calling thread has CAP_SYS_TIME in its effective set (false when unknown).
 * Capabilities belong to threads: this is the thread running JavaScript, the one whose
 * synchronous FFI calls (adjtimex, clock_settime) steer the clock.
 */
export function hasCapSysTime(): boolean {
  try {
    const caps = parseEffectiveCaps(Deno.readTextFileSync("/proc/thread-self/status"));
    return caps !== null && ((caps >> BigInt(CAP_SYS_TIME)) & 1n) === 1n;
  } catch {
    return false;
  }
}
