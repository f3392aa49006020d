// A driver context for tests on a manual time line: `every` timers run when `advance` passes
// them, and log and clockstats lines are kept.

import type { RefclockContext } from "./driver.ts";
import { addSec, type NtpTime } from "../lib/proto/ntp_time.ts";

/** A context on a manual time line: `every` timers run when `advance` passes them. */
export function manualContext(startAt: NtpTime, pollSec = 16) {
  let now = startAt;
  const timers: { every: number; next: number; fn: () => void; live: boolean }[] = [];
  let t = 0;
  const lines: string[] = [];
  const stats: string[] = [];
  const ctx: RefclockContext = {
    now: () => now,
    every: (sec, fn) => {
      const e = { every: sec, next: t + sec, fn, live: true };
      timers.push(e);
      return () => (e.live = false);
    },
    pollSec,
    log: (_l, m) => void lines.push(m),
    clockstats: (text) => void stats.push(text),
  };
  return {
    ctx,
    lines,
    stats,
    advance(sec: number) {
      const end = t + sec;
      for (let n = 0; n < 10_000; n++) {
        const due = timers.filter((e) =>
          e.live && e.next <= end
        ).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        now = addSec(now, due.next - t);
        t = due.next;
        due.next += due.every;
        due.fn();
      }
      now = addSec(now, end - t);
      t = end;
    },
    get now() {
      return now;
    },
  };
}
