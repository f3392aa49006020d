import assert from "node:assert/strict";
import { PpsDriver, pulseOffsetSec } from "./pps.ts";
import { fakePpsKernel } from "../ffi/fake_pps.ts";
import {
  openPpsDevice,
  PPS_CANWAIT,
  PPS_CAPTUREASSERT,
  PPS_CAPTURECLEAR,
  PPS_KC_BIND,
  PPS_TSFMT_TSPEC,
} from "../ffi/pps.ts";
import { manualContext } from "./_test_context.ts";
import type { RefclockSample } from "./driver.ts";
import { addSec, fromUnix } from "../lib/proto/ntp_time.ts";

const T = 1_760_000_000;

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

Deno.test("pulseOffsetSec() is the offset to the nearest whole second", () => {
  assert.ok(Math.abs(pulseOffsetSec(addSec(fromUnix(T), 0.000_012)) + 0.000_012) < 1e-9);
  assert.ok(Math.abs(pulseOffsetSec(addSec(fromUnix(T), 0.999_7)) - 0.000_3) < 1e-9);
  assert.equal(pulseOffsetSec(fromUnix(T)), 0);
});

Deno.test("PpsDriver: assert edge by default, pulses become samples through the median filter", async () => {
  const kernel = fakePpsKernel();
  const m = manualContext(fromUnix(T), 8);
  const d = new PpsDriver(
    { type: 22, unit: 0, mode: null, fudge: { time1Sec: 0.000_5 } },
    (p) => openPpsDevice(p, kernel.sys),
  );
  assert.equal(d.pps, true);
  assert.equal(d.path, "/dev/pps0");
  assert.equal(d.fudge.refid, "PPS");
  const got: RefclockSample[] = [];
  d.start(m.ctx, (s) => got.push(s));
  assert.equal(kernel.mode, PPS_CAPTUREASSERT | PPS_TSFMT_TSPEC);
  // The system clock is 1 ms fast: each pulse is stamped 1 ms after the second; a clear edge
  // (not asked for) in between is not used.
  for (let k = 0; k < 4; k++) {
    kernel.pulse(T + k, 1_000_000);
    await until(() => d.counters().pulses === k + 1);
    kernel.pulse(T + k, 200_000_000, true);
  }
  assert.equal(d.counters().pulses, 4);
  m.advance(4.5);
  assert.equal(got.length, 1);
  assert.ok(Math.abs(got[0]!.offsetSec - (-0.001 + 0.000_5)) < 1e-9, `${got[0]!.offsetSec}`);
  assert.equal(kernel.bound, null);
  d.stop();
  await kernel.idle();
});

Deno.test("PpsDriver: flag2 takes the clear edge; flag3 binds the kernel discipline only with enable pps", async () => {
  for (const kernelPps of [false, true]) {
    const kernel = fakePpsKernel();
    const m = manualContext(fromUnix(T), 8);
    const d = new PpsDriver(
      {
        type: 22,
        unit: 3,
        mode: null,
        fudge: { flags: [false, true, true, false] },
        path: "/dev/pps7",
        kernelPps,
      },
      (p) => openPpsDevice(p, kernel.sys),
    );
    d.start(m.ctx, () => {});
    assert.equal(kernel.mode, PPS_CAPTURECLEAR | PPS_TSFMT_TSPEC);
    if (kernelPps) {
      assert.deepEqual(kernel.bound, {
        tsformat: PPS_TSFMT_TSPEC,
        edge: PPS_CAPTURECLEAR,
        consumer: 0,
      });
      assert.equal(d.kernelBound, true);
    } else {
      assert.equal(kernel.bound, null);
      assert.match(
        m.lines.join("\n"),
        /flag3 asks for the kernel PPS discipline but "enable pps" is not set/,
      );
    }
    kernel.pulse(T, 5, true);
    await until(() => d.counters().pulses === 1);
    assert.equal(d.counters().pulses, 1);
    d.stop();
    // Stopping unbinds the kernel consumer (edge 0).
    if (kernelPps) assert.equal(kernel.bound?.edge, 0);
    assert.ok(kernel.requests.filter((r) => r === PPS_KC_BIND).length === (kernelPps ? 2 : 0));
    await kernel.idle();
  }
});

Deno.test("PpsDriver: a missing device or one that cannot wait is a warning, retried, never a crash", () => {
  const m = manualContext(fromUnix(T), 8);
  const none = new PpsDriver(
    { type: 22, unit: 0, mode: null, fudge: {} },
    (p) => openPpsDevice(p, fakePpsKernel({ paths: /^$/ }).sys),
  );
  none.start(m.ctx, () => {});
  assert.match(m.lines.join("\n"), /PPS\(0\): \/dev\/pps0: open \/dev\/pps0: ENOENT/);
  m.advance(65);
  assert.equal(none.counters().openFailures, 3);
  assert.equal(m.lines.length, 1, "said once");
  none.stop();
  const m2 = manualContext(fromUnix(T), 8);
  const kernel = fakePpsKernel({ caps: PPS_CAPTUREASSERT | PPS_TSFMT_TSPEC });
  const noWait = new PpsDriver(
    { type: 22, unit: 0, mode: null, fudge: {} },
    (p) => openPpsDevice(p, kernel.sys),
  );
  noWait.start(m2.ctx, () => {});
  assert.match(m2.lines.join("\n"), /cannot wait for a pulse/);
  noWait.stop();
  const m3 = manualContext(fromUnix(T), 8);
  const assertOnly = fakePpsKernel({ caps: PPS_CAPTUREASSERT | PPS_CANWAIT | PPS_TSFMT_TSPEC });
  const clear = new PpsDriver(
    { type: 22, unit: 0, mode: null, fudge: { flags: [false, true, false, false] } },
    (p) => openPpsDevice(p, assertOnly.sys),
  );
  clear.start(m3.ctx, () => {});
  assert.match(m3.lines.join("\n"), /cannot capture the clear edge/);
  clear.stop();
});

Deno.test("PpsDriver: pulses with impossible times and skipped sequence numbers are counted", async () => {
  const kernel = fakePpsKernel();
  const m = manualContext(fromUnix(T), 8);
  const d = new PpsDriver(
    { type: 22, unit: 0, mode: null, fudge: {} },
    (p) => openPpsDevice(p, kernel.sys),
  );
  d.start(m.ctx, () => {});
  kernel.pulse(T, 1_500_000_000); // nanoseconds out of range
  await until(() => d.counters().baddata === 1);
  kernel.pulse(T + 1, 0);
  await until(() => d.counters().pulses === 1);
  kernel.pulse(T + 2, 0);
  kernel.pulse(T + 3, 0); // two pulses between fetches: one is missed
  await until(() => d.counters().pulses === 2);
  await until(() => d.counters().missed === 1);
  const c = d.counters();
  assert.equal(c.baddata, 1);
  assert.equal(c.pulses, 2);
  assert.equal(c.missed, 1);
  d.stop();
  await kernel.idle();
});

Deno.test("PpsDriver: samples say kernelPps only while the kernel PPS discipline is bound", async () => {
  const cases = [
    { kernelPps: true, flag3: true, bindFails: false, want: true },
    { kernelPps: false, flag3: true, bindFails: false, want: false },
    { kernelPps: true, flag3: false, bindFails: false, want: false },
    { kernelPps: true, flag3: true, bindFails: true, want: false },
  ];
  for (const c of cases) {
    const kernel = fakePpsKernel();
    const m = manualContext(fromUnix(T), 8);
    const d = new PpsDriver(
      {
        type: 22,
        unit: 0,
        mode: null,
        fudge: { flags: [false, false, c.flag3, false] },
        kernelPps: c.kernelPps,
      },
      (p) => {
        const dev = openPpsDevice(p, kernel.sys);
        if (!c.bindFails) return dev;
        return {
          ...dev,
          bindKernel: () => {
            throw new Error("ioctl(PPS_KC_BIND): EOPNOTSUPP");
          },
        };
      },
    );
    const got: RefclockSample[] = [];
    d.start(m.ctx, (s) => got.push(s));
    for (let k = 0; k < 4; k++) {
      kernel.pulse(T + k, 1_000);
      await until(() => d.counters().pulses === k + 1);
    }
    m.advance(4.5);
    assert.equal(got.length, 1, JSON.stringify(c));
    assert.equal(got[0]!.kernelPps === true, c.want, JSON.stringify(c));
    if (c.bindFails) assert.match(m.lines.join("\n"), /cannot bind the kernel PPS discipline/);
    d.stop();
    await kernel.idle();
  }
});
