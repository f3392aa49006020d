// The simulated kernel's PPS discipline (hardpps): the PPS bits as ntp_adjtime accepts and
// reports them, the signal the kernel lights and drops itself, and the PPS steering a clock.

import assert from "node:assert/strict";
import {
  ADJ_MAXERROR,
  ADJ_NANO,
  ADJ_OFFSET,
  ADJ_STATUS,
  ADJ_TIMECONST,
  emptyTimex,
  STA_NANO,
  STA_PLL,
  STA_PPSERROR,
  STA_PPSFREQ,
  STA_PPSJITTER,
  STA_PPSSIGNAL,
  STA_PPSTIME,
  TIME_ERROR,
  TIME_OK,
  type Timex,
} from "../../ffi/timex.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import { PPS_INTMIN, PPS_VALID_SEC, SimKernel } from "./sim_kernel.ts";
import { SimClock } from "./sim_clock.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const SEC = 1_000_000_000n;
const PPS_ON = STA_PLL | STA_PPSTIME | STA_PPSFREQ;

function tx(fields: Partial<Timex>): Timex {
  return { ...emptyTimex(), ...fields };
}

function read(k: SimKernel, nowNs = NOW_NS) {
  return k.adjtimex(emptyTimex(), nowNs);
}

Deno.test("SimKernel takes STA_PPSTIME/STA_PPSFREQ as status bits without a signal, and TIME_ERROR", () => {
  const k = new SimKernel();
  k.adjtimex(tx({ modes: ADJ_STATUS | ADJ_NANO, status: PPS_ON }), NOW_NS);
  const r = read(k);
  assert.equal(r.timex.status, PPS_ON | STA_NANO);
  assert.equal(r.state, TIME_ERROR, "a PPS discipline without a PPS signal is an error");
  // STA_PPSSIGNAL is the kernel's: ADJ_STATUS cannot set it.
  k.adjtimex(tx({ modes: ADJ_STATUS, status: PPS_ON | STA_PPSSIGNAL }), NOW_NS);
  assert.equal(read(k).timex.status & STA_PPSSIGNAL, 0);
  assert.equal(read(k).timex.shift, 0, "no PPS interval before a pulse");
});

Deno.test("SimKernel lights STA_PPSSIGNAL on pulses and drops it when they stop", () => {
  const k = new SimKernel();
  k.adjtimex(tx({ modes: ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR, status: PPS_ON }), NOW_NS);
  for (let s = 0; s < 5; s++) {
    k.secondOverflow();
    k.ppsEdge(NOW_NS + BigInt(s) * SEC + 2_000n, s);
  }
  let r = read(k);
  assert.equal(r.timex.status & STA_PPSSIGNAL, STA_PPSSIGNAL);
  assert.equal(r.state, TIME_OK);
  assert.equal(r.timex.shift, PPS_INTMIN);
  for (let s = 0; s < PPS_VALID_SEC; s++) k.secondOverflow();
  assert.equal(read(k).timex.status & STA_PPSSIGNAL, STA_PPSSIGNAL, "still valid");
  k.secondOverflow();
  r = read(k);
  assert.equal(r.timex.status & STA_PPSSIGNAL, 0, "lost");
  assert.equal(r.state, TIME_ERROR, "STA_PPSTIME is still asked for, now without a signal");
});

Deno.test("SimKernel counts a jitter spike and a missing pulse", () => {
  const k = new SimKernel();
  let raw = 0;
  const edge = (phaseNs: bigint, gapSec = 1) => {
    raw += gapSec;
    k.secondOverflow();
    k.ppsEdge(NOW_NS + BigInt(Math.round(raw)) * SEC + phaseNs, raw);
  };
  for (let i = 0; i < 8; i++) edge(BigInt(1_000 + (i % 2) * 500));
  assert.equal(read(k).timex.jitcnt, 0);
  edge(3_000_000n); // 3 ms off: a spike
  let t = read(k).timex;
  assert.equal(t.jitcnt, 1);
  assert.equal(t.status & STA_PPSJITTER, STA_PPSJITTER);
  edge(1_000n);
  assert.equal(read(k).timex.status & STA_PPSJITTER, 0, "a normal pulse clears it");
  edge(1_000n, 2.5); // half way between seconds: not a pulse train
  t = read(k).timex;
  assert.equal(t.errcnt, 1);
  assert.equal(t.status & STA_PPSERROR, STA_PPSERROR);
});

function clock(x0: number, y0: number) {
  return new SimClock({
    startTime: fromUnix(1_700_000_000),
    initialOffsetSec: x0,
    initialFreq: y0,
    wander: 0,
    rng: new SeededRng(3),
  });
}

/** Runs `seconds` true seconds with a pulse at each. */
function pulses(c: SimClock, from: number, seconds: number): void {
  for (let s = from + 1; s <= from + seconds; s++) {
    c.advanceTo(s);
    c.ppsEdge();
  }
}

Deno.test("SimKernel with STA_PPSTIME|STA_PPSFREQ: the PPS signal steers phase and frequency", () => {
  const c = clock(300e-6, 20e-6);
  c.adjust({ kernelPll: { constant: 4 }, kernelPps: true, offsetSec: 0 });
  pulses(c, 0, 1200);
  c.adjust({ kernelPll: { constant: 4 }, kernelPps: true, maxErrorSec: 1e-3 });
  const k = c.kernelState();
  assert.equal(k.status & (PPS_ON | STA_PPSSIGNAL), PPS_ON | STA_PPSSIGNAL);
  assert.equal(k.state, TIME_OK);
  assert.ok(Math.abs(c.trueOffsetSec) < 2e-6, `phase ${c.trueOffsetSec}`);
  assert.ok(Math.abs(k.freqPpm + 20) < 0.05, `frequency ${k.freqPpm} ppm`);
  assert.ok(k.pps !== undefined && k.pps.calibrations > 10, `${k.pps?.calibrations}`);
  assert.ok(Math.abs(k.pps!.freqPpm + 20) < 0.05);
  assert.ok(k.pps!.intervalLog2 > PPS_INTMIN, "good calibrations lengthen the interval");
  // The daemon's offsets no longer move the phase: a wild 100 ms one is not followed.
  c.adjust({ kernelPll: { constant: 4 }, kernelPps: true, offsetSec: 0.1 });
  pulses(c, 1200, 20);
  assert.ok(Math.abs(c.trueOffsetSec) < 2e-6, `phase ${c.trueOffsetSec}`);
});

Deno.test("SimKernel without the PPS bits only measures: the clock keeps its own frequency", () => {
  const c = clock(300e-6, 20e-6);
  c.adjust({ kernelPll: { constant: 4 }, offsetSec: 0 });
  pulses(c, 0, 300);
  const k = c.kernelState();
  assert.equal(k.status & STA_PPSSIGNAL, STA_PPSSIGNAL);
  assert.equal(k.freqPpm, 0);
  assert.ok(Math.abs(k.pps!.freqPpm + 20) < 0.05, `measured ${k.pps!.freqPpm}`);
  assert.ok(c.trueOffsetSec > 300e-6, "the phase drifts on");
});

Deno.test("SimKernel: ADJ_OFFSET moves the phase again once the PPS signal is gone", () => {
  const k = new SimKernel();
  k.adjtimex(tx({ modes: ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST, status: PPS_ON }), NOW_NS);
  k.adjtimex(tx({ modes: ADJ_OFFSET | ADJ_NANO, offset: 1_000_000 }), NOW_NS);
  assert.equal(k.snapshot().pllOffsetSec, 1e-3, "without a signal the PLL takes the offset");
});
