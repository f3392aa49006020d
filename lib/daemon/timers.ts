// The daemon's only source of real time delays: the JavaScript timers, behind an interface so
// tests can run the daemon on a manual time line.

/** One-shot timers (setTimeout semantics). */
export interface Timers {
  /** Calls `fn` once after `delayMs` milliseconds; returns a handle. */
  setTimeout(fn: () => void, delayMs: number): number;
  /** Cancels a pending call (ignores handles that already ran). */
  clearTimeout(handle: number): void;
}

/** Longest delay one JavaScript timer can hold (ms); longer waits are re-armed. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The runtime's own timers. */
export const realTimers: Timers = {
  // Deno's timers return numeric ids (Number() also accepts Node-style timer objects).
  setTimeout: (fn, delayMs) => Number(setTimeout(fn, Math.max(0, Math.min(MAX_TIMER_MS, delayMs)))),
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * Calls `fn` every `sec` seconds on `timers` (each call re-arms the next, so a slow `fn` never
 * overlaps itself) until the returned function is called.
 */
export function repeat(timers: Timers, sec: number, fn: () => void): () => void {
  let handle: number | null = null;
  let stopped = false;
  const arm = () => {
    handle = timers.setTimeout(() => {
      handle = null;
      if (stopped) return;
      fn();
      if (!stopped) arm();
    }, sec * 1000);
  };
  arm();
  return () => {
    stopped = true;
    if (handle !== null) timers.clearTimeout(handle);
    handle = null;
  };
}
