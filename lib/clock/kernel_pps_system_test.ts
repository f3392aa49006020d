// End to end in the simulator: the core (ntpd discipline, kernel mode) with a kernel-bound PPS
// clock as system peer hands the clock to the simulated kernel's PPS discipline, which then
// steers it from the pulses; when the pulses stop the core takes the PPS bits back.

import assert from "node:assert/strict";
import { STA_PLL, STA_PPSFREQ, STA_PPSSIGNAL, STA_PPSTIME } from "../../ffi/timex.ts";
import { NtpSystem } from "../proto/system.ts";
import { fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import type { Action } from "../proto/events.ts";
import { clockAdjustmentFromAction } from "./linux_clock.ts";
import { SimClock } from "./sim_clock.ts";

const GPS = 0x47505300;
const PPS = 0x50505300;
const PPS_BITS = STA_PPSTIME | STA_PPSFREQ;

/**
 * A clock 40 µs off and 15 ppm fast; an NMEA-like prefer clock (2 ms late, as a sentence is)
 * numbers the seconds, and a PPS clock (kernel-bound when `bound`) delivers one median-filtered
 * sample every 8 s while the pulse train, which also reaches the kernel, lasts (`ppsUntilSec`).
 */
function run(durationSec: number, bound: boolean, ppsUntilSec = Infinity) {
  const clock = new SimClock({
    startTime: fromUnix(1_700_000_000),
    initialOffsetSec: 40e-6,
    initialFreq: 15e-6,
    wander: 0,
    rng: new SeededRng(9),
  });
  const sys = new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(4),
    loop: { discipline: "ntpd", kernel: true, driftPpm: 0 },
  });
  const events: { t: number; message: string }[] = [];
  let timerAt: NtpTime | null = null;
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      if (a.type === "setTimer") timerAt = a.at;
      else if (a.type === "stepClock") clock.step(a.offsetSec);
      else if (a.type === "adjustClock") clock.adjust(clockAdjustmentFromAction(a));
      else if (a.type === "event") events.push({ t: clock.trueSec, message: a.message });
    }
  };
  apply(sys.start(clock.now()));
  const base = { stratum: 0, precisionLog2: -20, lastResort: false };
  const nmea = sys.addRefclock(
    { ...base, type: 20, unit: 0, refid: GPS, ppsCapable: false },
    { minpoll: 4, maxpoll: 4, prefer: true },
    clock.now(),
  );
  const pps = sys.addRefclock(
    { ...base, type: 22, unit: 0, refid: PPS, pps: true },
    { minpoll: 4, maxpoll: 4 },
    clock.now(),
  );
  const sample = (offsetSec: number, kernelPps: boolean) => ({
    time: clock.now(),
    offsetSec,
    dispersionSec: 1e-6,
    leap: 0,
    ...(kernelPps ? { kernelPps: true } : {}),
  });
  const statusAt: Record<number, number> = {};
  for (let s = 1; s <= durationSec; s++) {
    // Timers due within this second, in order (bounded).
    for (let n = 0; n < 100; n++) {
      const t = timerAt as NtpTime | null;
      if (t === null || clock.trueSecAt(t) > s) break;
      clock.advanceTo(Math.max(clock.trueSec, clock.trueSecAt(t)));
      timerAt = null;
      apply(sys.onTimer(clock.now()));
    }
    clock.advanceTo(s);
    const pulsing = s < ppsUntilSec;
    if (pulsing) clock.ppsEdge();
    if (s % 8 === 0) {
      // Offsets measured at the second: true time minus the clock.
      apply(sys.onRefclockSample(nmea, sample(-clock.trueOffsetSec + 0.002, false), clock.now()));
      if (pulsing) {
        apply(sys.onRefclockSample(pps, sample(-clock.trueOffsetSec, bound), clock.now()));
      }
    }
    if (s % 100 === 0) statusAt[s] = clock.kernelState().status;
  }
  return { clock, sys, events, pps, statusAt };
}

Deno.test("Kernel PPS: the kernel-bound PPS system peer is steered by the kernel's PPS discipline", () => {
  const r = run(1800, true);
  const snap = r.sys.snapshot(r.clock.now());
  assert.equal(snap.systemPeer, r.pps, "the PPS clock is the system peer");
  const k = r.clock.kernelState();
  assert.equal(k.status & (STA_PLL | PPS_BITS | STA_PPSSIGNAL), STA_PLL | PPS_BITS | STA_PPSSIGNAL);
  // The kernel took the frequency from the pulses and holds the phase to the pulse.
  assert.ok(Math.abs(k.freqPpm + 15) < 0.05, `kernel frequency ${k.freqPpm} ppm`);
  assert.ok(Math.abs(k.pps!.freqPpm + 15) < 0.05, `ppsfreq ${k.pps!.freqPpm} ppm`);
  assert.ok(k.pps!.calibrations > 10);
  assert.ok(Math.abs(r.clock.trueOffsetSec) < 2e-6, `phase ${r.clock.trueOffsetSec} s`);
  assert.ok(
    r.events.some((e) =>
      e.message === "kernel time sync status 2007" ||
      e.message === "kernel time sync status change 2007"
    ),
    r.events.map((e) => e.message).join("; "),
  );
});

Deno.test("Kernel PPS: an unbound PPS clock leaves the kernel's PPS discipline off", () => {
  const r = run(1800, false);
  const k = r.clock.kernelState();
  assert.equal(k.status & PPS_BITS, 0);
  assert.equal(k.status & STA_PPSSIGNAL, STA_PPSSIGNAL, "the kernel still sees the pulses");
});

Deno.test("Kernel PPS: when the pulses stop the core switches the kernel's PPS discipline off", () => {
  const r = run(3000, true, 1500);
  assert.equal(r.statusAt[1400]! & PPS_BITS, PPS_BITS, "on while the pulses last");
  const k = r.clock.kernelState();
  assert.equal(k.status & STA_PPSSIGNAL, 0, "the kernel lost the signal");
  assert.equal(k.status & PPS_BITS, 0, "and the core took the PPS bits back");
  assert.equal(k.status & STA_PLL, STA_PLL, "the kernel PLL carries on");
  const snap = r.sys.snapshot(r.clock.now());
  assert.notEqual(snap.systemPeer, r.pps);
});
