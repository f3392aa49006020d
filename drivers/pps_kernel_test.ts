// The PPS driver with flag3 and `enable pps` end to end: pulses from the fake PPS device
// (ffi/fake_pps.ts) through the driver and the core's ntpd discipline (kernel mode) into the
// simulated kernel (lib/clock/sim_kernel.ts), which also receives the same edges as a device
// bound with PPS_KC_BIND would hand them. Nothing here touches the real clock.

import assert from "node:assert/strict";
import { PpsDriver } from "./pps.ts";
import { fakePpsKernel } from "../ffi/fake_pps.ts";
import { openPpsDevice } from "../ffi/pps.ts";
import { manualContext } from "./_test_context.ts";
import { STA_PLL, STA_PPSFREQ, STA_PPSSIGNAL, STA_PPSTIME } from "../ffi/timex.ts";
import { NtpSystem } from "../lib/proto/system.ts";
import { fromUnix, type NtpTime, toUnixNs } from "../lib/proto/ntp_time.ts";
import { SeededRng } from "../lib/proto/rng.ts";
import type { Action } from "../lib/proto/events.ts";
import { clockAdjustmentFromAction } from "../lib/clock/linux_clock.ts";
import { SimClock } from "../lib/clock/sim_clock.ts";

const PPS_BITS = STA_PPSTIME | STA_PPSFREQ;

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
}

Deno.test("PPS flag3 + enable pps: the kernel's PPS discipline takes over, and is let go at exit", async () => {
  const clock = new SimClock({
    startTime: fromUnix(1_760_000_000),
    initialOffsetSec: 30e-6,
    initialFreq: 8e-6,
    wander: 0,
    rng: new SeededRng(2),
  });
  const sys = new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(6),
    loop: { discipline: "ntpd", kernel: true, driftPpm: 0 },
  });
  const events: string[] = [];
  let timerAt: NtpTime | null = null;
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      if (a.type === "setTimer") timerAt = a.at;
      else if (a.type === "stepClock") clock.step(a.offsetSec);
      else if (a.type === "adjustClock") clock.adjust(clockAdjustmentFromAction(a));
      else if (a.type === "event") events.push(a.message);
    }
  };
  apply(sys.start(clock.now()));
  const kernel = fakePpsKernel();
  const m = manualContext(clock.now(), 8);
  const driver = new PpsDriver(
    {
      type: 22,
      unit: 0,
      mode: null,
      fudge: { flags: [false, false, true, false] },
      kernelPps: true,
    },
    (p) => openPpsDevice(p, kernel.sys),
  );
  const base = { stratum: 0, precisionLog2: -20, lastResort: false };
  const nmea = sys.addRefclock(
    { ...base, type: 20, unit: 0, refid: 0x47505300 },
    { minpoll: 4, maxpoll: 4, prefer: true },
    clock.now(),
  );
  const pps = sys.addRefclock(
    { ...base, type: 22, unit: 0, refid: 0x50505300, pps: true },
    { minpoll: 4, maxpoll: 4 },
    clock.now(),
  );
  driver.start(m.ctx, (s) => apply(sys.onRefclockSample(pps, s, clock.now())));
  assert.equal(driver.kernelBound, true);
  for (let s = 1; s <= 200; s++) {
    for (let n = 0; n < 50; n++) {
      const t = timerAt as NtpTime | null;
      if (t === null || clock.trueSecAt(t) > s) break;
      clock.advanceTo(Math.max(clock.trueSec, clock.trueSecAt(t)));
      timerAt = null;
      apply(sys.onTimer(clock.now()));
    }
    clock.advanceTo(s);
    // One edge, time-stamped by the system clock: to the kernel's hardpps and to the device.
    clock.ppsEdge();
    const ns = toUnixNs(clock.now());
    const before = driver.counters().pulses;
    kernel.pulse(Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n));
    await until(() => (driver.counters().pulses ?? 0) > (before ?? 0));
    m.advance(1);
    if (s % 8 === 0) {
      apply(sys.onRefclockSample(nmea, {
        time: clock.now(),
        offsetSec: -clock.trueOffsetSec + 0.003,
        dispersionSec: 1e-4,
        leap: 0,
      }, clock.now()));
    }
  }
  assert.ok((driver.counters().samples ?? 0) >= 190, JSON.stringify(driver.counters()));
  assert.equal(sys.snapshot(clock.now()).systemPeer, pps);
  const k = clock.kernelState();
  assert.equal(k.status & (STA_PLL | PPS_BITS | STA_PPSSIGNAL), STA_PLL | PPS_BITS | STA_PPSSIGNAL);
  assert.ok(
    events.some((e) => /kernel time sync status (change )?2007/.test(e)),
    events.join("; "),
  );
  assert.ok(k.pps!.calibrations > 0);
  assert.ok(Math.abs(clock.trueOffsetSec) < 5e-6, `phase ${clock.trueOffsetSec}`);
  // Exit: the driver unbinds the device, the discipline takes the PPS bits back first.
  driver.stop();
  assert.equal(kernel.bound?.edge, 0);
  apply(sys.loop.release());
  assert.equal(clock.kernelState().status & PPS_BITS, 0);
  await kernel.idle();
});
