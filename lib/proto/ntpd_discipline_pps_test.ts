// The ntpd discipline's hand-off to the kernel's PPS discipline (kernel mode): STA_PPSTIME and
// STA_PPSFREQ with the kernel PLL while the system peer is a kernel-bound PPS clock, off again
// when it is not, when it is lost, and before the process lets go of the clock.

import assert from "node:assert/strict";
import {
  type DisciplineAdjustClockAction,
  kernelStatusWord,
  NtpdDiscipline,
} from "./ntpd_discipline.ts";
import { addSec, fromUnix } from "./ntp_time.ts";
import type { Action } from "./events.ts";

const T0 = fromUnix(1_700_000_000);
const at = (s: number) => addSec(T0, s);
const events = (a: Action[]) => a.filter((x) => x.type === "event").map((x) => x.message);
const adjusts = (a: Action[]) =>
  a.filter((x): x is DisciplineAdjustClockAction => x.type === "adjustClock");

function warm(kernel = true): NtpdDiscipline {
  const d = new NtpdDiscipline({ driftPpm: 3, kernel });
  d.start(at(0));
  return d;
}

Deno.test("kernelStatusWord() adds STA_PPSTIME|STA_PPSFREQ only next to the PLL", () => {
  assert.equal(kernelStatusWord(true, false, 0, true), 0x2007);
  assert.equal(kernelStatusWord(false, false, 0, true), 0x2000);
  assert.equal(kernelStatusWord(true, false, 0), 0x2001);
});

Deno.test("NtpdDiscipline in kernel mode hands a kernel-bound PPS peer to the kernel", () => {
  const d = warm();
  const r = d.update({ offsetSec: 2e-4, kernelPps: true }, at(16));
  const k = adjusts(r.actions).filter((a) => a.kernelPll !== undefined);
  assert.equal(k.length, 1, "one write: the PLL and the PPS bits together");
  assert.equal(k[0]!.kernelPps, true);
  assert.equal(k[0]!.offsetSec, 2e-4, "the offset still goes to the kernel");
  assert.deepEqual(events(r.actions), ["kernel time sync status 2007"]);
  // Later updates keep the bits without another status event.
  const r2 = d.update({ offsetSec: 1e-5, kernelPps: true }, at(32));
  assert.equal(adjusts(r2.actions).find((a) => a.kernelPll)?.kernelPps, true);
  assert.deepEqual(events(r2.actions), []);
  // A system peer that is not one: the bits go, before the offset is handled.
  const r3 = d.update({ offsetSec: 1e-5 }, at(48));
  const w = adjusts(r3.actions);
  assert.equal(w[0]!.kernelPps, undefined);
  assert.equal(w[0]!.offsetSec, undefined, "a status write alone");
  assert.ok(w.every((a) => a.kernelPps === undefined));
  assert.deepEqual(events(r3.actions), ["kernel time sync status change 2001"]);
});

Deno.test("NtpdDiscipline switches the kernel PPS discipline off when the PPS peer is lost", () => {
  const d = warm();
  assert.deepEqual(d.kernelPpsLost(), [], "nothing to switch off before the kernel runs");
  d.update({ offsetSec: 2e-4, kernelPps: true }, at(16));
  const off = d.kernelPpsLost();
  assert.equal(adjusts(off).length, 1);
  assert.equal(adjusts(off)[0]!.kernelPps, undefined);
  assert.ok(adjusts(off)[0]!.kernelPll !== undefined, "the PLL stays on");
  assert.deepEqual(events(off), ["kernel time sync status change 2001"]);
  assert.deepEqual(d.kernelPpsLost(), [], "once");
});

Deno.test("NtpdDiscipline.release() clears the kernel PPS bits first", () => {
  const d = warm();
  d.update({ offsetSec: 2e-4, kernelPps: true }, at(16));
  const acts = adjusts(d.release());
  assert.equal(acts.length, 2);
  assert.equal(acts[0]!.kernelPps, undefined);
  assert.equal(acts[0]!.release, undefined);
  assert.equal(acts[1]!.release, true);
});

Deno.test("NtpdDiscipline without the kernel never asks for the kernel PPS discipline", () => {
  const d = warm(false);
  const r = d.update({ offsetSec: 2e-4, kernelPps: true }, at(16));
  assert.ok(adjusts(r.actions).every((a) => a.kernelPps === undefined && !a.kernelPll));
  assert.deepEqual(d.kernelPpsLost(), []);
});
