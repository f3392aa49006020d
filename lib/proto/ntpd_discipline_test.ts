// Tests for ntpd's classic discipline: the RFC 5905 loop maths, the state machine, the jiggle
// counter, huff-n'-puff, the kernel hand-off, and closed-loop convergence on a simple clock.

import assert from "node:assert/strict";
import {
  ADJTIME_SETTLE_SEC,
  CLOCK_FLL,
  CLOCK_PLL,
  type DisciplineAdjustClockAction,
  KERNEL_SHIFT_FLL,
  KERNEL_SHIFT_PLL,
  KernelPllModel,
  kernelStatusWord,
  NTP_MAXFREQ,
  NtpdDiscipline,
  type NtpdDisciplineOptions,
} from "./ntpd_discipline.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import type { Action } from "./events.ts";
import { normal, SeededRng } from "./rng.ts";

const T0 = fromUnix(1_700_000_000);
const at = (s: number) => addSec(T0, s);
const events = (a: Action[]) => a.filter((x) => x.type === "event").map((x) => x.message);
const adjusts = (a: Action[]) =>
  a.filter((x): x is DisciplineAdjustClockAction => x.type === "adjustClock");

Deno.test("NtpdDiscipline starts in NSET without a drift file and FSET with one", () => {
  const cold = new NtpdDiscipline({ kernel: false });
  assert.equal(cold.state, "NSET");
  assert.deepEqual(events(cold.start(at(0))), ["freq_not_set"]);
  const warm = new NtpdDiscipline({ driftPpm: -12.5 });
  assert.equal(warm.state, "FSET");
  const acts = warm.start(at(0));
  assert.deepEqual(events(acts), ["freq_set kernel -12.500 PPM"]);
  assert.ok(Math.abs(adjusts(acts)[0]!.freqPpm + 12.5) < 1e-12);
  assert.ok(Math.abs(warm.freqPpm + 12.5) < 1e-12);
});

Deno.test("NtpdDiscipline NSET: slews the first offset, then sets the frequency after stepout", () => {
  const d = new NtpdDiscipline({ kernel: false });
  d.start(at(0));
  const first = d.update({ offsetSec: 0.01 }, at(64));
  assert.equal(d.state, "FREQ");
  assert.deepEqual(events(first.actions), ["freq_mode"]);
  // Daemon slewing: offset / (CLOCK_PLL · τ) per second on top of the frequency (0).
  assert.ok(Math.abs(adjusts(first.actions)[0]!.freqPpm - 0.01 / (CLOCK_PLL * 64) * 1e6) < 1e-9);
  // Within the stepout the frequency is still being measured.
  assert.equal(d.update({ offsetSec: 0.012 }, at(500)).ignored, true);
  // No second ticks ran, so the whole 10 ms is still pending: the offset grew by 5 ms in 900 s.
  const r = d.update({ offsetSec: 0.015 }, at(964));
  assert.equal(r.ignored, false);
  assert.equal(d.state, "SYNC");
  const mu = 900;
  const pll = 0.015 * mu / (4 * CLOCK_PLL * 64) ** 2;
  const expected = (0.015 - 0.01) / mu + pll;
  assert.ok(Math.abs(d.freqPpm - expected * 1e6) < 1e-9, `${d.freqPpm} vs ${expected * 1e6}`);
});

Deno.test("NtpdDiscipline ignores a spike until stepout has passed since the last update, then steps", () => {
  const d = new NtpdDiscipline({ driftPpm: 0, kernel: false });
  d.start(at(0));
  d.update({ offsetSec: 0.001 }, at(64));
  assert.equal(d.state, "SYNC");
  const spike = d.update({ offsetSec: 0.3 }, at(128));
  assert.equal(spike.ignored, true);
  assert.equal(d.state, "SPIK");
  assert.deepEqual(events(spike.actions), ["spike_detect +0.300000 s"]);
  assert.equal(d.update({ offsetSec: 0.3 }, at(900)).ignored, true);
  const step = d.update({ offsetSec: 0.3 }, at(64 + 900));
  assert.equal(step.stepped, true);
  assert.equal(step.phaseSec, 0.3);
  assert.deepEqual(step.actions.find((a) => a.type === "stepClock"), {
    type: "stepClock",
    offsetSec: 0.3,
  });
  assert.deepEqual(events(step.actions), ["time reset +0.300000 s"]);
  assert.equal(d.state, "SYNC");
  // A spike that goes away is forgotten.
  const e = new NtpdDiscipline({ driftPpm: 0, kernel: false });
  e.update({ offsetSec: 0.001 }, at(64));
  e.update({ offsetSec: 0.3 }, at(128));
  assert.equal(e.update({ offsetSec: 0.002 }, at(192)).ignored, false);
  assert.equal(e.state, "SYNC");
});

Deno.test("NtpdDiscipline steps a first big offset from FSET and NSET (NSET then measures)", () => {
  const fset = new NtpdDiscipline({ driftPpm: 3, kernel: false });
  assert.equal(fset.update({ offsetSec: -0.5 }, at(10)).stepped, true);
  assert.equal(fset.state, "SYNC");
  const nset = new NtpdDiscipline({ kernel: false });
  const r = nset.update({ offsetSec: 2 }, at(10));
  assert.equal(r.stepped, true);
  assert.equal(nset.state, "FREQ");
  assert.deepEqual(events(r.actions), ["time reset +2.000000 s", "freq_mode"]);
});

Deno.test("NtpdDiscipline panics above 1000 s unless -g allows the first update", () => {
  const d = new NtpdDiscipline();
  const r = d.update({ offsetSec: -2000 }, at(0));
  assert.deepEqual(r.actions.map((a) => a.type), ["event", "adjustClock", "reset"]);
  assert.equal(adjusts(r.actions)[0]?.release, true);
  r.actions.splice(1, 1);
  assert.equal(
    events(r.actions)[0],
    "time correction of -2000 seconds exceeds sanity limit (1000); set clock manually to the correct UTC time.",
  );
  assert.ok(r.actions[1]?.type === "reset" && r.actions[1].exitCode === 1);
  assert.equal(d.update({ offsetSec: 0.001 }, at(64)).ignored, true, "stopped for good");
  const g = new NtpdDiscipline({ allowBigFirstStep: true });
  assert.equal(g.update({ offsetSec: 2000 }, at(0)).stepped, true);
  assert.equal(g.update({ offsetSec: 2000 }, at(64)).ignored, true, "only the first may");
  const off = new NtpdDiscipline({ panicSec: 0, driftPpm: 0 });
  assert.equal(off.update({ offsetSec: 5000 }, at(0)).stepped, true, "panic 0 disables it");
});

Deno.test("NtpdDiscipline -q slews small offsets with adjtime and exits 0 once the kernel is done", () => {
  for (const kernel of [false, true]) {
    const slew = new NtpdDiscipline({ setOnce: true, kernel, driftPpm: 4 });
    const r = slew.update({ offsetSec: 0.05 }, at(0));
    const adj = adjusts(r.actions)[0];
    assert.equal(adj?.offsetSec, 0.05);
    assert.equal(adj?.kernelPll, undefined, "an adjtime slew, not the kernel PLL");
    assert.equal(adj?.freqPpm, 4);
    assert.ok(!r.actions.some((a) => a.type === "reset"), "the kernel is still slewing");
    assert.equal(slew.update({ offsetSec: 0.05 }, at(1)).ignored, true);
    // 50 ms at 500 µs/s: 100 s, and the kernel's start and last second.
    assert.equal(slew.deadline, at(100 + ADJTIME_SETTLE_SEC));
    assert.deepEqual(slew.onTimer(at(100)), []);
    const done = slew.onTimer(at(100 + ADJTIME_SETTLE_SEC));
    assert.deepEqual(done.map((a) => a.type), ["adjustClock", "reset"]);
    assert.equal(adjusts(done)[0]?.release, true);
    assert.equal(adjusts(done)[0]?.freqPpm, 4);
    assert.ok(done[1]?.type === "reset" && done[1].exit && done[1].exitCode === 0);
  }
  const step = new NtpdDiscipline({ setOnce: true });
  const s = step.update({ offsetSec: 0.5 }, at(0));
  assert.equal(s.stepped, true);
  assert.equal(s.actions.at(-1)?.type, "reset", "a step exits at once");
  assert.equal(adjusts(s.actions).at(-1)?.release, true);
  const x = new NtpdDiscipline({ setOnce: true, slewOnly: true });
  assert.equal(x.update({ offsetSec: 5 }, at(0)).stepped, false, "-x slews up to 600 s");
});

Deno.test("NtpdDiscipline.release() ends the daemon loop's slew at drift_comp, and keeps the kernel PLL's frequency", () => {
  const daemon = new NtpdDiscipline({ driftPpm: 6, kernel: false });
  daemon.start(at(0));
  const slewing = adjusts(daemon.update({ offsetSec: 0.02 }, at(64)).actions)[0]!;
  assert.ok(slewing.freqPpm > 6 + 1, `phase slew on top of the drift: ${slewing.freqPpm}`);
  assert.notEqual(daemon.deadline, null);
  const r = adjusts(daemon.release());
  assert.equal(r.length, 1);
  assert.equal(r[0]!.release, true);
  assert.equal(r[0]!.kernelPll, undefined);
  assert.ok(Math.abs(r[0]!.freqPpm - daemon.freqPpm) < 1e-9, "drift_comp, without the slew");
  assert.ok(Math.abs(daemon.freqPpm - 6) < 0.5, "the drift plus one small PLL step");
  assert.equal(daemon.deadline, null);
  assert.deepEqual(daemon.onTimer(at(65)), [], "no more per-second slews");
  assert.equal(daemon.update({ offsetSec: 0.02 }, at(128)).ignored, true);

  const kern = new NtpdDiscipline({ driftPpm: 6 });
  kern.start(at(0));
  kern.update({ offsetSec: 0.02 }, at(64));
  assert.ok(kern.residualOffsetSec(at(65)) > 0.01);
  const k = adjusts(kern.release());
  assert.equal(k.length, 1);
  assert.equal(k[0]!.release, true);
  assert.ok(k[0]!.kernelPll !== undefined, "the kernel keeps its own frequency");
  assert.equal(k[0]!.offsetSec, undefined);
  assert.equal(kern.residualOffsetSec(at(65)), 0);
  assert.deepEqual(new NtpdDiscipline({ ntpEnabled: false }).release(), []);
});

Deno.test("NtpdDiscipline's jiggle counter lengthens a quiet poll and shortens a noisy one twice as fast", () => {
  const d = new NtpdDiscipline({ driftPpm: 0, kernel: false });
  const bounds = { minPollLog2: 6, maxPollLog2: 10 };
  let t = 0;
  const seen: number[] = [];
  // Offsets well within four jitters: the poll climbs one step per CLOCK_LIMIT of poll sum.
  for (let i = 0; i < 40; i++) {
    t += 2 ** d.pollLog2;
    d.update({ offsetSec: (i % 2 ? 1 : -1) * 1e-4, ...bounds }, at(t));
    seen.push(d.pollLog2);
  }
  assert.equal(d.pollLog2, 10);
  assert.equal(seen.indexOf(7), 5, "6 quiet updates at poll 6 (6·6 > 30)");
  // Now a steady 50 ms the loop does not remove: once the jitter has decayed below an eighth of
  // it, every update counts as noisy and the poll falls back.
  let falls = 0;
  for (let i = 0; i < 40; i++) {
    t += 2 ** d.pollLog2;
    const before = d.pollLog2;
    d.update({ offsetSec: 0.05, ...bounds }, at(t));
    if (d.pollLog2 < before) falls++;
  }
  assert.equal(d.pollLog2, 6);
  assert.equal(falls, 4);
});

Deno.test("NtpdDiscipline's FLL adds CLOCK_FLL of the frequency error at polls above the Allan intercept", () => {
  const run = (allanSec: number) => {
    const d = new NtpdDiscipline({ driftPpm: 0, kernel: false, allanSec });
    d.update({ offsetSec: 0.001, minPollLog2: 6, maxPollLog2: 6 }, at(64));
    const before = d.freqPpm;
    d.update({ offsetSec: 0.002, minPollLog2: 6, maxPollLog2: 6 }, at(128));
    return d.freqPpm - before;
  };
  const pllOnly = run(1e6);
  const withFll = run(64);
  // The FLL sees the offset grow from the 1 ms left (no ticks ran) to 2 ms over 64 s.
  const pllAt64 = 0.002 * 64 / (4 * CLOCK_PLL * 64) ** 2;
  const fll = CLOCK_FLL * (0.002 - 0.001) / 64;
  assert.ok(Math.abs(withFll - (pllAt64 + fll) * 1e6) < 1e-9, `${withFll}`);
  assert.ok(pllOnly < withFll);
});

Deno.test("NtpdDiscipline huff-n'-puff takes half the delay excess off the offset", () => {
  const d = new NtpdDiscipline({ driftPpm: 0, kernel: false, huffpuffSec: 7200 });
  d.update({ offsetSec: 0, delaySec: 0.010 }, at(64));
  d.update({ offsetSec: 0.005, delaySec: 0.014 }, at(128));
  assert.ok(Math.abs(d.lastOffsetSec - 0.003) < 1e-12, `${d.lastOffsetSec}`);
  d.update({ offsetSec: -0.001, delaySec: 0.016 }, at(192));
  assert.equal(d.lastOffsetSec, 0, "never past zero");
  const off = new NtpdDiscipline({ driftPpm: 0, kernel: false });
  off.update({ offsetSec: 0, delaySec: 0.010 }, at(64));
  off.update({ offsetSec: 0.005, delaySec: 0.014 }, at(128));
  assert.equal(off.lastOffsetSec, 0.005);
});

Deno.test("NtpdDiscipline daemon mode slews offset/(16·τ) each second, within ±500 ppm", () => {
  const d = new NtpdDiscipline({ driftPpm: 10, kernel: false });
  const r = d.update({ offsetSec: 0.02 }, at(64));
  const k = CLOCK_PLL * 64;
  const f0 = adjusts(r.actions)[0]!.freqPpm;
  assert.ok(Math.abs(f0 - (d.freqPpm + 0.02 / k * 1e6)) < 1e-9);
  assert.equal(d.deadline, at(65));
  const tick = d.onTimer(at(65));
  const left = 0.02 - 0.02 / k;
  assert.ok(Math.abs(adjusts(tick)[0]!.freqPpm - (d.freqPpm + left / k * 1e6)) < 1e-9);
  assert.ok(Math.abs(d.residualOffsetSec(at(65)) - left) < 1e-15);
  assert.deepEqual(d.onTimer(at(65.5)), [], "not due yet");
  // A huge residual is slewed at the 500 ppm limit at most.
  const fast = new NtpdDiscipline({ driftPpm: 0, kernel: false, slewOnly: true });
  fast.update({ offsetSec: 100 }, at(64));
  const big = fast.update({ offsetSec: 100 }, at(1064));
  assert.ok(Math.abs(adjusts(big.actions).at(-1)!.freqPpm) <= NTP_MAXFREQ * 1e6 + 1e-9);
});

Deno.test("NtpdDiscipline kernel mode hands the offset and time constant to the kernel PLL", () => {
  const d = new NtpdDiscipline({ driftPpm: 0 });
  const r = d.update({ offsetSec: 0.004, maxErrorSec: 0.02 }, at(64));
  const k = adjusts(r.actions).find((a) => a.kernelPll !== undefined)!;
  assert.deepEqual(k.kernelPll, { constant: 6, fll: false });
  assert.equal(k.offsetSec, 0.004);
  assert.equal(k.maxErrorSec, 0.02);
  assert.equal(k.leap, 0);
  assert.deepEqual(events(r.actions), ["kernel time sync status 2001"]);
  assert.equal(d.deadline, null, "no daemon slewing in kernel mode");
  // Arming a leap rewrites the status with the PLL still on.
  const leap = d.setLeap(1);
  const w = adjusts(leap)[0]!;
  assert.deepEqual([w.kernelPll, w.leap, w.offsetSec], [{ constant: 6, fll: false }, 1, undefined]);
  assert.deepEqual(events(leap), ["kernel time sync status change 2011"]);
  assert.deepEqual(d.setLeap(1), [], "unchanged");
  // With the FLL in force (poll at the Allan intercept) the status says STA_FLL.
  const f = new NtpdDiscipline({ driftPpm: 0, allanSec: 64 });
  const fr = f.update({ offsetSec: 0.001 }, at(64));
  assert.equal(adjusts(fr.actions).find((a) => a.kernelPll)?.kernelPll?.fll, true);
  assert.deepEqual(events(fr.actions), ["kernel time sync status 2009"]);
  // Daemon mode arms the leap through a plain frequency write.
  const dm = new NtpdDiscipline({ driftPpm: 0, kernel: false });
  const dl = dm.setLeap(2);
  assert.deepEqual([adjusts(dl)[0]?.kernelPll, adjusts(dl)[0]?.leap], [undefined, 2]);
  assert.deepEqual(events(dl), ["kernel time sync status 2020"]);
});

Deno.test("kernelStatusWord() combines PLL, FLL, leap and nanosecond bits", () => {
  assert.equal(kernelStatusWord(true, false, 0), 0x2001);
  assert.equal(kernelStatusWord(true, true, 2), 0x2029);
  assert.equal(kernelStatusWord(false, true, 1), 0x2010, "FLL only with the PLL");
});

Deno.test("KernelPllModel follows the Linux PLL: no frequency change at switch-on, then offset·secs/2^(2(4+tc))", () => {
  const k = new KernelPllModel();
  k.update(0.001, 6, false, 1000);
  assert.equal(k.freq, 0);
  assert.equal(k.residualSec, 0.001);
  const chunk = k.tick();
  assert.equal(chunk, 0.001 / 2 ** (KERNEL_SHIFT_PLL + 6));
  assert.ok(Math.abs(k.residualAfter(10) - (0.001 - chunk) * (1 - 2 ** -8) ** 10) < 1e-18);
  k.update(0.002, 6, false, 1064);
  assert.equal(k.freq, 0.002 * 64 / 2 ** (2 * (KERNEL_SHIFT_PLL + 2 + 6)));
  // Long intervals: secs is capped for the PLL and the FLL joins in above 2048 s.
  const f0 = k.freq;
  k.update(0.001, 6, false, 1064 + 4000);
  const pll = 0.001 * 2 ** (KERNEL_SHIFT_PLL + 1 + 6) / 2 ** (2 * (KERNEL_SHIFT_PLL + 2 + 6));
  const fll = 0.001 / (4000 * 2 ** KERNEL_SHIFT_FLL);
  assert.ok(Math.abs(k.freq - f0 - (pll + fll)) < 1e-18);
  k.setFrequency(1);
  assert.equal(k.freq, NTP_MAXFREQ);
});

Deno.test("NtpdDiscipline with 'disable ntp' never steers", () => {
  const d = new NtpdDiscipline({ ntpEnabled: false });
  assert.deepEqual(d.start(at(0)), []);
  assert.equal(d.update({ offsetSec: 0.5 }, at(64)).ignored, true);
  assert.deepEqual(d.setLeap(1), []);
});

/**
 * Runs the discipline against a clock with frequency error `freq` and initial phase `x0`,
 * measured every `pollSec` with Gaussian noise, for `durationSec`; the kernel mode uses the
 * kernel model as the kernel.
 */
function closedLoop(
  opts: NtpdDisciplineOptions,
  freq: number,
  x0: number,
  pollSec: number,
  durationSec: number,
  noiseSec = 20e-6,
): { x: number; corrPpm: number; d: NtpdDiscipline; steps: number } {
  const d = new NtpdDiscipline(opts);
  const kernel = new KernelPllModel();
  const kernelMode = opts.kernel ?? true;
  const rng = new SeededRng(7);
  let x = x0;
  let corr = 0;
  let chunk = 0;
  let steps = 0;
  let trueSec = 0;
  const now = (): NtpTime => addSec(T0, trueSec + x);
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      if (a.type === "stepClock") {
        x += a.offsetSec;
        steps++;
      }
      if (a.type !== "adjustClock") continue;
      const k = a as DisciplineAdjustClockAction;
      if (!kernelMode) corr = a.freqPpm * 1e-6;
      else if (k.kernelPll === undefined) kernel.setFrequency(a.freqPpm * 1e-6);
      else if (k.offsetSec !== undefined) {
        kernel.update(k.offsetSec, k.kernelPll.constant, k.kernelPll.fll, Number(now() >> 32n));
      }
    }
  };
  apply(d.start(now()));
  for (trueSec = 1; trueSec <= durationSec; trueSec++) {
    if (kernelMode) chunk = kernel.tick();
    x += freq + (kernelMode ? kernel.freq + chunk : corr);
    if (!kernelMode && d.deadline !== null && now() >= d.deadline) apply(d.onTimer(now()));
    if (trueSec % pollSec === 0) {
      apply(d.update({ offsetSec: -x + noiseSec * normal(rng) }, now()).actions);
    }
  }
  return { x, corrPpm: kernelMode ? kernel.freq * 1e6 : d.freqPpm, d, steps };
}

Deno.test("NtpdDiscipline converges on a 50 ppm clock in daemon and kernel mode", () => {
  for (const kernel of [false, true]) {
    const r = closedLoop({ kernel }, 50e-6, 0.05, 64, 40_000);
    assert.equal(r.steps, 0, "50 ms is slewed, not stepped");
    assert.equal(r.d.state, "SYNC");
    assert.ok(Math.abs(r.x) < 1e-3, `kernel ${kernel}: offset ${r.x}`);
    assert.ok(Math.abs(r.corrPpm + 50) < 1, `kernel ${kernel}: frequency ${r.corrPpm} ppm`);
  }
});

Deno.test("NtpdDiscipline steps a 0.5 s offset once and then tracks a −120 ppm clock", () => {
  const r = closedLoop({ kernel: false }, -120e-6, -0.5, 64, 60_000);
  assert.equal(r.steps, 1);
  assert.ok(Math.abs(r.x) < 2e-3, `offset ${r.x}`);
  assert.ok(Math.abs(r.corrPpm - 120) < 2, `frequency ${r.corrPpm} ppm`);
});
