import assert from "node:assert/strict";
import { RefclockHost } from "./refclock_host.ts";
import { FakeRefclock } from "../../drivers/fake_refclock.ts";
import type { RefclockConfig, RefclockDriverEntry } from "../../drivers/driver.ts";
import type { RefclockIdentity, RefclockSample } from "../proto/refclock_sample.ts";
import type { AssociationOptions } from "../proto/association.ts";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../clock/clock.ts";
import type { Timers } from "./timers.ts";
import { fromUnix } from "../proto/ntp_time.ts";

const T0 = fromUnix(1_760_000_000);

function logger(lines: string[]): Logger {
  const put = (m: string) => void lines.push(m);
  return { debug: put, info: put, notice: put, warn: put, error: put } as unknown as Logger;
}

Deno.test("RefclockHost skips an unknown type with a warning and feeds the core with the others", () => {
  const lines: string[] = [];
  const stats: string[] = [];
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let nextHandle = 1;
  const timers: Timers = {
    setTimeout: (fn, ms) => (pending.set(nextHandle, { fn, ms }), nextHandle++),
    clearTimeout: (h) => void pending.delete(h),
  };
  const runDue = () => {
    const due = [...pending.entries()];
    pending.clear();
    for (const [, t] of due) t.fn();
  };
  const fakes: FakeRefclock[] = [];
  const table = new Map<number, RefclockDriverEntry>([[99, {
    type: 99,
    name: "FAKE",
    create: (c) => {
      const f = new FakeRefclock(c.unit, c.fudge);
      fakes.push(f);
      return f;
    },
  }]]);
  const host = new RefclockHost(
    [
      { type: 42, unit: 0, fudge: {} },
      {
        type: 99,
        unit: 3,
        fudge: { stratum: 1, refid: "GPS", time1Sec: 0.5 },
        prefer: true,
        minpoll: 3,
      },
    ],
    {
      clock: { now: () => T0 } as unknown as Clock,
      timers,
      log: logger(lines),
      drivers: table,
      clockstats: (address, text) => void stats.push(`${address} ${text}`),
    },
  );
  assert.equal(host.count, 1);
  assert.match(lines[0]!, /127\.127\.42\.0: driver type 42 is not built in Horae; skipped/);
  const added: [RefclockIdentity, AssociationOptions][] = [];
  const samples: [number, RefclockSample][] = [];
  host.start({
    addRefclock: (c, o) => (added.push([c, o]), 7),
    onRefclockSample: (id, s) => void samples.push([id, s]),
  });
  assert.equal(added.length, 1);
  assert.deepEqual(added[0]![0], {
    type: 99,
    unit: 3,
    stratum: 1,
    refid: 0x47505300,
    precisionLog2: -20,
    lastResort: false,
  });
  assert.deepEqual(added[0]![1], { name: "FAKE(3)", prefer: true, minpoll: 3 });
  fakes[0]!.push(0.001);
  assert.equal(samples.length, 1);
  assert.equal(samples[0]![0], 7);
  assert.equal(samples[0]![1].offsetSec, 0.501);
  fakes[0]!.note("timecode 1");
  assert.deepEqual(stats, ["127.127.99.3 timecode 1"]);
  // The poll timer (minpoll 3: 8 s) counts polls, and those without a sample as noreply.
  assert.deepEqual([...pending.values()].map((t) => t.ms), [8000]);
  runDue();
  runDue();
  const info = host.controlInfo();
  assert.equal(info[0]!.assocId, 7);
  assert.equal(info[0]!.polls, 2);
  assert.equal(info[0]!.noReply, 1);
  host.stop();
  assert.equal(pending.size, 0);
  assert.equal(fakes[0]!.stopped, 1);
});

Deno.test("RefclockHost hands path, ppspath and enable pps to the driver, and a PPS clock's nature to the core", () => {
  const configs: RefclockConfig[] = [];
  const table = new Map<number, RefclockDriverEntry>([[99, {
    type: 99,
    name: "FAKE",
    create: (c) => {
      configs.push(c);
      return Object.assign(new FakeRefclock(c.unit, c.fudge), { pps: true, ppsCapable: false });
    },
  }]]);
  const host = new RefclockHost(
    [{ type: 99, unit: 0, fudge: {}, path: "/dev/ttyS1", ppsPath: "/dev/pps1", kernelPps: true }],
    {
      clock: { now: () => T0 } as unknown as Clock,
      timers: { setTimeout: () => 1, clearTimeout: () => {} },
      log: logger([]),
      drivers: table,
    },
  );
  assert.deepEqual(configs, [{
    type: 99,
    unit: 0,
    mode: null,
    fudge: {},
    path: "/dev/ttyS1",
    ppsPath: "/dev/pps1",
    kernelPps: true,
  }]);
  const added: RefclockIdentity[] = [];
  host.start({ addRefclock: (c) => (added.push(c), 1), onRefclockSample: () => {} });
  assert.equal(added[0]!.pps, true);
  assert.equal(added[0]!.ppsCapable, undefined);
  host.stop();
});
