// Every way out of the daemon leaves the kernel at rest: -q with either discipline, SIGTERM in
// the middle of a slew (Horae's tick slew, the kernel PLL's residual, -q's adjtime slew) and a
// panic. The daemon's timekeeping path runs on a SimClock whose requests go through the Linux
// adapter into the simulated Linux kernel (tests/sim/_daemon_path.ts). At the stop the kernel
// must have the nominal tick, the discipline's base frequency and no slew pending, and 10,000 s
// later the clock must have moved by what the base frequency error explains and no more.
//
// The case that made this test: the clock 0.119 s ahead, `ntpd -q` with Horae's discipline. The
// core used to set the frequency to base − 5 % (a 9500 µs tick) and exit, and the clock ran 5 %
// slow from then on: 490 s off 10,000 s later.

import assert from "node:assert/strict";
import { type DaemonPathOptions, type DaemonPathResult, runDaemonPath } from "./_daemon_path.ts";
import { ADJTIME_SETTLE_SEC } from "../../lib/proto/ntpd_discipline.ts";

const AFTER_SEC = 10_000;
/** The oscillator runs 20 ppm fast; the drift file says −18 ppm: 2 ppm of base error. */
const Y0 = 20e-6;
const DRIFT_PPM = -18;

function run(o: Partial<DaemonPathOptions> & Pick<DaemonPathOptions, "discipline">) {
  return runDaemonPath({
    initialOffsetSec: 0.119,
    initialFreq: Y0,
    driftPpm: DRIFT_PPM,
    limitSec: 1200,
    afterSec: AFTER_SEC,
    seed: 1,
    ...o,
  });
}

/** The kernel at rest at the stop, and 10,000 s of drift explained by the base frequency alone. */
function assertAtRest(r: DaemonPathResult, what: string): void {
  const log = `\n${r.lines.join("\n")}`;
  assert.ok(r.stoppedAtSec !== null, `${what}: neither an exit nor a stop${log}`);
  assert.equal(r.clockErrors, 0, `${what}: the kernel refused a request${log}`);
  const k = r.kernelAtStop;
  assert.equal(k.tickUs, 10_000, `${what}: tick ${k.tickUs}`);
  assert.equal(k.adjtimeLeftSec, 0, `${what}: adjtime slew pending ${k.adjtimeLeftSec}`);
  assert.equal(k.pllOffsetSec, 0, `${what}: kernel PLL residual pending ${k.pllOffsetSec}`);
  assert.ok(
    Math.abs(k.freqPpm - r.baseFreqPpm) < 1e-4,
    `${what}: kernel frequency ${k.freqPpm} ppm, discipline's base ${r.baseFreqPpm} ppm`,
  );
  assert.ok(Math.abs(r.baseFreqPpm - DRIFT_PPM) < 5, `${what}: base ${r.baseFreqPpm} ppm`);
  // The second the stop fell in keeps the kernel's chunk for that second (at most 500 µs).
  const explained = (Y0 + r.baseFreqPpm * 1e-6) * AFTER_SEC;
  const moved = r.offsetAfterSec - r.offsetAtStopSec;
  assert.ok(
    Math.abs(moved - explained) <= Math.abs(k.chunkSec) + 2e-6,
    `${what}: moved ${moved} s in ${AFTER_SEC} s, the base frequency error explains ${explained} s`,
  );
  assert.equal(r.kernelAfter.tickUs, 10_000);
  assert.equal(r.kernelAfter.adjtimeLeftSec, 0);
  assert.equal(r.kernelAfter.chunkSec, 0, `${what}: still slewing ${AFTER_SEC} s later`);
  // deno-lint-ignore no-console
  console.log(
    `${what}: stopped at ${r.stoppedAtSec!.toFixed(2)} s, offset ${
      (r.offsetAtStopSec * 1e3).toFixed(3)
    } ms, ${AFTER_SEC} s later ${(r.offsetAfterSec * 1e3).toFixed(3)} ms (base ${
      r.baseFreqPpm.toFixed(4)
    } ppm)`,
  );
}

/** When the first clock update happened (true seconds), from the -q slew's log line. */
function firstUpdateSec(r: DaemonPathResult): boolean {
  return r.lines.some((l) => /^adjust time server offset -0\.11\d+ sec$/.test(l));
}

Deno.test("sim exit: -q with Horae's discipline slews 0.119 s out, then exits with the kernel at rest", () => {
  const r = run({ discipline: "horae", setOnce: true });
  assertAtRest(r, "horae -q");
  assert.equal(r.exit?.code, 0);
  assert.match(r.exit?.summary ?? "", /^time slew -0\.11\d{4}s$/);
  assert.ok(firstUpdateSec(r), r.lines.join("\n"));
  assert.ok(Math.abs(r.offsetAtStopSec) < 1e-3, `corrected: ${r.offsetAtStopSec}`);
  // The fast slew (5 %) takes 2.4 s; the exit comes right after it, not minutes later.
  assert.ok(r.stoppedAtSec! < 30, `${r.stoppedAtSec}`);
  assert.ok(Math.abs(r.offsetAfterSec) < 0.05, `${r.offsetAfterSec} s (the bug: 490 s)`);
});

Deno.test("sim exit: -q with the ntpd discipline slews with adjtime and exits once the kernel is done", () => {
  for (const kernel of [true, false]) {
    const what = `ntpd -q (${kernel ? "enable" : "disable"} kernel)`;
    const r = run({ discipline: "ntpd", kernel, setOnce: true });
    assertAtRest(r, what);
    assert.equal(r.exit?.code, 0);
    assert.match(r.exit?.summary ?? "", /^time slew -0\.11\d{4}s$/);
    assert.ok(firstUpdateSec(r), r.lines.join("\n"));
    // The kernel really slewed the offset out (ADJ_OFFSET_SINGLESHOT; ADJ_OFFSET would be ignored).
    assert.ok(Math.abs(r.offsetAtStopSec) < 2e-3, `${what}: corrected ${r.offsetAtStopSec}`);
    // At 500 µs/s: 238 s, plus the settling seconds, after the first update.
    const slewSec = 0.119 / 500e-6;
    assert.ok(r.stoppedAtSec! > slewSec, `${what}: ${r.stoppedAtSec}`);
    assert.ok(r.stoppedAtSec! < slewSec + ADJTIME_SETTLE_SEC + 30, `${what}: ${r.stoppedAtSec}`);
    assert.ok(Math.abs(r.offsetAfterSec) < 0.05, `${what}: ${r.offsetAfterSec}`);
  }
});

Deno.test("sim exit: -q with an offset over the step threshold steps and exits at once, kernel at rest", () => {
  for (const discipline of ["horae", "ntpd"] as const) {
    const r = run({ discipline, setOnce: true, initialOffsetSec: 0.5 });
    assertAtRest(r, `${discipline} -q step`);
    assert.match(r.exit?.summary ?? "", /^time set -0\.5\d{5}s$/);
    assert.ok(Math.abs(r.offsetAtStopSec) < 1e-3);
  }
});

Deno.test("sim exit: SIGTERM during Horae's 5 % tick slew puts the tick and the base frequency back", () => {
  const r = run({
    discipline: "horae",
    stopWhen: (clock) => clock.kernel.tickUs !== 10_000,
  });
  assertAtRest(r, "horae SIGTERM mid-slew");
  assert.equal(r.exit, null);
  // Stopped part-way: some of the 0.119 s is left, and it stays (nothing slews it any more).
  assert.ok(r.offsetAtStopSec > 0.005 && r.offsetAtStopSec < 0.119, `${r.offsetAtStopSec}`);
  assert.ok(Math.abs(r.offsetAfterSec - r.offsetAtStopSec) < 0.05);
});

Deno.test("sim exit: SIGTERM with the kernel PLL mid-slew zeroes its residual and keeps its frequency", () => {
  const r = run({
    discipline: "ntpd",
    initialOffsetSec: 0.08,
    // A quarter of the 80 ms already slewed by the kernel, the rest still its residual.
    stopWhen: (clock) => Math.abs(clock.kernel.pllOffsetSec + 0.06) < 1e-3,
  });
  assertAtRest(r, "ntpd kernel PLL SIGTERM mid-slew");
  assert.equal(r.exit, null);
  assert.equal(r.kernelAtStop.status & 1, 1, "STA_PLL stays on, holding the frequency");
  assert.ok(Math.abs(r.offsetAtStopSec - 0.06) < 3e-3, `${r.offsetAtStopSec}`);
});

Deno.test("sim exit: SIGTERM during -q's adjtime slew cancels the rest of it", () => {
  const r = run({
    discipline: "ntpd",
    setOnce: true,
    // Half-way: 60 ms of the 119 ms still to slew.
    stopWhen: (clock) => clock.kernel.adjtimeLeftSec > -0.06 && clock.kernel.adjtimeLeftSec < 0,
  });
  assertAtRest(r, "ntpd -q SIGTERM mid-adjtime");
  assert.equal(r.exit, null);
  assert.ok(r.stoppedAtSec! > 100, `${r.stoppedAtSec}`);
  assert.ok(Math.abs(r.offsetAtStopSec - 0.06) < 2e-3, `the rest stays: ${r.offsetAtStopSec}`);
});

Deno.test("sim exit: a panic releases the clock before exiting with 1", () => {
  for (const discipline of ["horae", "ntpd"] as const) {
    const r = run({ discipline, initialOffsetSec: 2000 });
    assertAtRest(r, `${discipline} panic`);
    assert.equal(r.exit?.code, 1);
    assert.equal(r.exit?.reason, "panic");
  }
});
