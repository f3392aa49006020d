// Reference clock poll floor: `minpoll 3` makes a clock's association age its reach register
// every 8 s (ntpd's refclocks), while network associations keep RFC 5905's MINPOLL of 4.

import assert from "node:assert/strict";
import { NtpSystem } from "./system.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import type { Action } from "./events.ts";
import type { AssociationOptions } from "./association.ts";

const T0 = fromUnix(1_700_000_000);
const GPS = 0x47505300;

type ClockOptions = Omit<AssociationOptions, "kind" | "refclock" | "iburst" | "burst" | "key">;

/**
 * One reference clock fed a zero-offset sample every `sampleEverySec` from t = 0.5 s, the core's
 * timers run as asked; the host clock never moves (steps and slews are ignored: only the poll
 * and reach bookkeeping matter here). Returns the clock's snapshot at `durationSec` and the
 * times (s) at which the core's timer ran.
 */
function runClock(options: ClockOptions, durationSec: number, sampleEverySec: number) {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(7) });
  let t = 0;
  const now = (): NtpTime => addSec(T0, t);
  let timerAt = Infinity;
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      if (a.type === "setTimer") timerAt = Number(a.at - T0) / 2 ** 32;
    }
  };
  apply(sys.start(now()));
  const id = sys.addRefclock(
    { type: 28, unit: 0, stratum: 0, refid: GPS, precisionLog2: -20, lastResort: false },
    options,
    now(),
  );
  apply(sys.onTimer(now()));
  let nextSample = 0.5;
  for (let n = 0; n < 10_000 && t < durationSec; n++) {
    if (nextSample <= timerAt && nextSample <= durationSec) {
      t = nextSample;
      nextSample += sampleEverySec;
      apply(
        sys.onRefclockSample(
          id,
          { time: now(), offsetSec: 0, dispersionSec: 1e-4, leap: 0 },
          now(),
        ),
      );
      continue;
    }
    t = Math.min(durationSec, Math.max(t, timerAt));
    if (t >= durationSec) break;
    apply(sys.onTimer(now()));
  }
  const snap = sys.snapshot(now());
  return snap.associations.find((a) => a.id === id)!;
}

Deno.test("NtpSystem: a reference clock with minpoll 3 polls and ages its reach every 8 s", () => {
  const a = runClock({ minpoll: 3, maxpoll: 4 }, 100, 8);
  assert.equal(a.pollLog2, 3);
  assert.equal(a.pollSec, 8);
  // 100 s of 8 s polls: twelve polls (at 8, 16, ... 96 s), each with a sample behind it.
  assert.equal(a.sent, 12);
  assert.equal(a.reach, 0xff);
  assert.equal(a.unanswered ?? 0, 0);
});

Deno.test("NtpSystem: a clock sampled every 16 s at minpoll 3 misses every other 8 s poll", () => {
  // At a 16 s poll every poll would have its sample and reach would be 377; at 8 s every
  // second poll comes up empty, which is what the reach register must show.
  const a = runClock({ minpoll: 3, maxpoll: 3 }, 100, 16);
  assert.equal(a.pollLog2, 3);
  assert.ok(
    a.reach === 0b10101010 || a.reach === 0b01010101,
    `reach ${a.reach.toString(8)}`,
  );
});

Deno.test("NtpSystem: a reference clock's poll below 3 is clamped to 8 s, not refused", () => {
  const a = runClock({ minpoll: 1, maxpoll: 2 }, 40, 8);
  assert.equal(a.pollLog2, 3);
  assert.equal(a.sent, 4); // at 8, 16, 24 and 32 s
});

Deno.test("NtpSystem: at minpoll 4 a reference clock still ages its reach every 16 s", () => {
  const a = runClock({ minpoll: 4, maxpoll: 4 }, 100, 8);
  assert.equal(a.pollLog2, 4);
  assert.equal(a.sent, 6);
});

Deno.test("NtpSystem: a network server asked for minpoll 3 keeps RFC 5905's MINPOLL of 4", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(7) });
  sys.start(T0);
  const id = sys.addServer({ family: 4, address: "192.0.2.1", port: 123 }, {
    minpoll: 3,
    maxpoll: 3,
  }, T0);
  const a = sys.snapshot(T0).associations.find((x) => x.id === id)!;
  assert.equal(a.pollLog2, 4);
  assert.equal(a.pollSec, 16);
});
