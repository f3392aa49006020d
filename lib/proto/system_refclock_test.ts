import assert from "node:assert/strict";
import { NtpSystem } from "./system.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import type { Action, PeerAddress } from "./events.ts";
import type { RefclockIdentity } from "./refclock_sample.ts";
import type { AssociationOptions } from "./association.ts";

const T0 = fromUnix(1_700_000_000);
const GPS = 0x47505300;
const LOCL = 0x4c4f434c;

interface ClockSpec {
  /** The clock's error: reference time minus true time (s), as a function of true time. */
  offsetSec: (t: number) => number;
  identity: Partial<RefclockIdentity>;
  options?: Omit<AssociationOptions, "kind" | "refclock" | "iburst" | "burst" | "key">;
  /** Silent from this true time on. */
  silentFromSec?: number;
}

/**
 * Network servers `serverOffsets` ahead of true time (1 ms each way) and reference clocks
 * delivering a sample every 8 s; the client clock only moves when the core steps or slews it.
 * Event-driven, bounded by `durationSec` and a step count.
 */
export function run(
  serverOffsets: number[],
  clocks: ClockSpec[],
  durationSec: number,
  silentServersFromSec = Infinity,
  sampleEverySec = 8,
  noise: (t: number) => number = () => 0,
) {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(5) });
  let clockOffset = 0;
  let slewPpm = 0;
  let trueSec = 0;
  const now = (): NtpTime => addSec(T0, trueSec + clockOffset);
  const addrs: PeerAddress[] = serverOffsets.map((_, i) => ({
    family: 4,
    address: `192.0.2.${i + 1}`,
    port: 123,
  }));
  const servers = serverOffsets.map(() =>
    new Server({
      leap: 0,
      stratum: 1,
      precisionLog2: -20,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: GPS,
      referenceTime: T0,
    })
  );
  const queue: { to: PeerAddress; data: Uint8Array }[] = [];
  const events: string[] = [];
  let timerAt = Infinity;
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      if (a.type === "setTimer") timerAt = trueSec + Number(a.at - now()) / 2 ** 32;
      if (a.type === "stepClock") clockOffset += a.offsetSec;
      if (a.type === "adjustClock") slewPpm = a.freqPpm;
      if (a.type === "send") queue.push({ to: a.to, data: a.data });
      if (a.type === "event") events.push(a.message);
    }
  };
  const advance = (to: number) => {
    clockOffset += (to - trueSec) * slewPpm * 1e-6;
    trueSec = to;
  };
  apply(sys.start(now()));
  addrs.forEach((a) => sys.addServer(a, { minpoll: 4, maxpoll: 4, iburst: true }, now()));
  const ids = clocks.map((c) =>
    sys.addRefclock(
      {
        type: 28,
        unit: 0,
        stratum: 0,
        refid: GPS,
        precisionLog2: -20,
        lastResort: false,
        ...c.identity,
      },
      c.options ?? { minpoll: 3, maxpoll: 4 },
      now(),
    )
  );
  apply(sys.onTimer(now()));
  let nextSample = 0.5;
  for (let n = 0; n < 100_000 && trueSec < durationSec; n++) {
    if (nextSample < timerAt) {
      advance(nextSample);
      nextSample += sampleEverySec;
      clocks.forEach((c, k) => {
        if (trueSec >= (c.silentFromSec ?? Infinity)) return;
        apply(sys.onRefclockSample(ids[k]!, {
          time: now(),
          offsetSec: c.offsetSec(trueSec) + noise(trueSec) - clockOffset,
          dispersionSec: 1e-4,
          leap: 0,
        }, now()));
      });
      continue;
    }
    advance(Math.max(trueSec, timerAt));
    apply(sys.onTimer(now()));
    while (queue.length > 0) {
      const q = queue.shift()!;
      const i = addrs.findIndex((a) => a.address === q.to.address);
      if (trueSec >= silentServersFromSec) continue;
      const out = new Uint8Array(q.data.length);
      const n = servers[i]!.respond(q.data, addSec(T0, trueSec + 0.001 + serverOffsets[i]!), out);
      advance(trueSec + 0.002);
      apply(sys.onPacket({ data: out.slice(0, n), peer: addrs[i]!, rxTime: now() }, now()));
    }
  }
  return { sys, ids, events, snap: sys.snapshot(now()), clockOffset: () => clockOffset };
}

Deno.test("NtpSystem.onRefclockSample() makes a lone stratum-0 clock the system peer at stratum 1", () => {
  const r = run([], [{ offsetSec: () => 0.004, identity: {} }], 300);
  assert.equal(r.snap.systemPeer, r.ids[0]);
  assert.equal(r.snap.stratum, 1);
  assert.equal(r.snap.refid, GPS);
  const a = r.snap.associations.find((x) => x.id === r.ids[0])!;
  assert.equal(a.kind, "refclock");
  assert.equal(a.address.address, "127.127.28.0");
  assert.ok(a.reach >= 0x7f, `reach ${a.reach.toString(8)}`);
  // The clock was brought to the reference (step or slew), to well within a millisecond.
  assert.ok(Math.abs(r.clockOffset() - 0.004) < 1e-3, `clock offset ${r.clockOffset()}`);
});

Deno.test("NtpSystem: a LOCAL clock is used only as the last resort", () => {
  const local = {
    offsetSec: () => 0,
    identity: { type: 1, stratum: 10, refid: LOCL, lastResort: true },
  };
  const r = run([0.002, 0.0022], [local], 200);
  const peer = r.snap.associations.find((x) => x.id === r.snap.systemPeer);
  assert.equal(peer?.kind, "server");
  assert.equal(r.snap.stratum, 2);
  assert.ok(!r.snap.falsetickers.includes(r.ids[0]!), "LOCAL is not a falseticker, just unused");
  // The servers fall silent: LOCAL takes over, its 127.127.1.0 as the refid at stratum 11.
  const s = run([0.002, 0.0022], [local], 600, 200);
  assert.equal(s.snap.systemPeer, s.ids[0]);
  assert.equal(s.snap.stratum, 11);
  assert.equal(s.snap.refid, 0x7f7f0100);
});

Deno.test("NtpSystem: prefer makes an agreeing reference clock the system peer", () => {
  const clock = (prefer: boolean): ClockSpec => ({
    offsetSec: () => 0.0021,
    identity: { stratum: 3 },
    options: { minpoll: 3, maxpoll: 4, prefer },
  });
  const plain = run([0.002, 0.0022], [clock(false)], 300);
  assert.notEqual(plain.snap.systemPeer, plain.ids[0], "stratum 3 loses to stratum 1 servers");
  assert.ok(plain.snap.survivors.includes(plain.ids[0]!));
  const pref = run([0.002, 0.0022], [clock(true)], 300);
  assert.equal(pref.snap.systemPeer, pref.ids[0]);
  assert.equal(pref.snap.stratum, 4);
  assert.equal(pref.snap.refid, 0x7f7f1c00);
});

Deno.test("NtpSystem: a reference clock that drifts away from two agreeing servers is a falseticker", () => {
  // 1 ms/s away from the truth after the first minute.
  const r = run(
    [0.001, 0.0012],
    [{
      offsetSec: (t) => Math.max(0, t - 60) * 1e-3,
      identity: {},
      options: { minpoll: 3, maxpoll: 4, prefer: true },
    }],
    400,
  );
  assert.ok(r.snap.falsetickers.includes(r.ids[0]!), `falsetickers ${r.snap.falsetickers}`);
  assert.notEqual(r.snap.systemPeer, r.ids[0]);
  assert.ok(Math.abs(r.clockOffset() - 0.0011) < 2e-3, `clock offset ${r.clockOffset()}`);
});

Deno.test("NtpSystem: a noselect reference clock is read but never selected", () => {
  const r = run(
    [],
    [{ offsetSec: () => 0, identity: {}, options: { minpoll: 3, noselect: true } }],
    120,
  );
  assert.equal(r.snap.systemPeer, null);
  const a = r.snap.associations.find((x) => x.id === r.ids[0])!;
  assert.ok(a.received > 0);
});

Deno.test("NtpSystem.onRefclockSample() counts and drops unsynchronised and insane samples", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1) });
  sys.start(T0);
  const id = sys.addRefclock(
    { type: 20, unit: 1, stratum: 0, refid: GPS, precisionLog2: -10, lastResort: false },
    { minpoll: 4 },
    T0,
  );
  sys.onRefclockSample(id, { time: T0, offsetSec: 0, dispersionSec: 1e-3, leap: 3 }, T0);
  sys.onRefclockSample(id, { time: T0, offsetSec: NaN, dispersionSec: 1e-3, leap: 0 }, T0);
  sys.onRefclockSample(id, { time: T0, offsetSec: 0, dispersionSec: -1, leap: 0 }, T0);
  const a = sys.snapshot(T0).associations[0]!;
  assert.deepEqual(a.rejected, { unsynchronized: 1, bad_sample: 2 });
  assert.equal(a.reach, 0);
  assert.equal(a.received, 0);
  // A sample for an association that is not a reference clock is ignored, not a crash.
  assert.deepEqual(
    sys.onRefclockSample(999, { time: T0, offsetSec: 0, dispersionSec: 0, leap: 0 }, T0),
    [],
  );
});

Deno.test("NtpSystem: a silent reference clock loses reach and the system peer", () => {
  const r = run([], [{ offsetSec: () => 0, identity: {}, silentFromSec: 100 }], 400);
  const a = r.snap.associations.find((x) => x.id === r.ids[0])!;
  assert.equal(a.reach, 0);
  assert.equal(r.snap.systemPeer, null);
});

Deno.test("NtpSystem: a jittery reference clock (±30 ms, a sample a second) does not run the frequency away", () => {
  let seed = 1;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const r = run(
    [],
    [{ offsetSec: () => -0.03, identity: {}, options: { minpoll: 4, maxpoll: 4 } }],
    600,
    Infinity,
    1,
    () => (rnd() - 0.5) * 0.06,
  );
  assert.equal(r.snap.systemPeer, r.ids[0]);
  assert.ok(Math.abs(r.snap.freqPpm) < 50, `frequency ${r.snap.freqPpm} ppm`);
  assert.ok(Math.abs(r.clockOffset() + 0.03) < 0.01, `clock offset ${r.clockOffset()}`);
  const a = r.snap.associations[0]!;
  assert.deepEqual(a.rejected, {});
});

const PPS_ID = { type: 22, refid: 0x50505300, pps: true };
/** A PPS clock's sample: the fraction of the error to the nearest second, plus `biasSec`. */
function ppsClock(biasSec: number, options?: ClockSpec["options"]): ClockSpec {
  return {
    offsetSec: () => biasSec,
    identity: PPS_ID,
    ...(options !== undefined ? { options } : {}),
  };
}

Deno.test("NtpSystem: a PPS clock is not used without an anchor (no prefer peer, no PPS-capable clock)", () => {
  const alone = run([], [ppsClock(0.0003)], 300);
  assert.equal(alone.snap.systemPeer, null, "a lone PPS clock never synchronises");
  const withServers = run([0.002, 0.0022], [ppsClock(0.0021)], 300);
  const peer = withServers.snap.associations.find((x) => x.id === withServers.snap.systemPeer);
  assert.equal(peer?.kind, "server");
  assert.ok(!withServers.snap.survivors.includes(withServers.ids[0]!));
  assert.ok(!withServers.snap.falsetickers.includes(withServers.ids[0]!));
});

Deno.test("NtpSystem: a prefer peer that agrees lets the PPS clock be the system peer, used alone", () => {
  const nmea: ClockSpec = {
    offsetSec: () => 0.0027, // serial time: 0.6 ms late against the pulses
    identity: { type: 20 },
    options: { minpoll: 3, maxpoll: 4, prefer: true },
  };
  const r = run([0.0026, 0.0028], [nmea, ppsClock(0.0021)], 400);
  assert.equal(r.snap.systemPeer, r.ids[1]);
  assert.equal(r.snap.refid, 0x50505300);
  assert.equal(r.snap.stratum, 1);
  assert.ok(r.snap.survivors.includes(r.ids[1]!));
  // The pulses alone steer the clock: to 2.1 ms, not towards the others' 2.6-2.8 ms.
  assert.ok(Math.abs(r.clockOffset() - 0.0021) < 1e-4, `clock offset ${r.clockOffset()}`);
});

Deno.test("NtpSystem: a PPS-capable clock anchors the PPS clock; one that disagrees by 0.4 s or more does not", () => {
  const gps = (offsetSec: number): ClockSpec => ({
    offsetSec: () => offsetSec,
    identity: { type: 46, ppsCapable: true },
    options: { minpoll: 3, maxpoll: 4 },
  });
  const agree = run([], [gps(0.0004), ppsClock(0.0002)], 300);
  assert.equal(agree.snap.systemPeer, agree.ids[1]);
  const far = run([], [gps(0.45), ppsClock(0.0002)], 300);
  assert.equal(far.snap.systemPeer, far.ids[0], "the PPS clock is left out, the GPS used");
});

Deno.test("NtpSystem: a clock's rootDispersionSec (a sentence's bias bound) is its root dispersion", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(3) });
  let now = T0;
  sys.start(now);
  const id = sys.addRefclock(
    { type: 20, unit: 0, stratum: 0, refid: GPS, precisionLog2: -9, lastResort: false },
    { minpoll: 3, maxpoll: 4 },
    now,
  );
  for (let k = 0; k < 12; k++) {
    now = addSec(now, 8);
    sys.onRefclockSample(id, {
      time: now,
      offsetSec: 0.0001,
      dispersionSec: 1e-3,
      leap: 0,
      rootDispersionSec: 0.01,
    }, now);
  }
  const snap = sys.snapshot(now);
  assert.equal(snap.systemPeer, id);
  assert.ok(snap.rootDispersionSec >= 0.01, `root dispersion ${snap.rootDispersionSec}`);
  assert.ok(snap.rootDispersionSec < 0.05, `root dispersion ${snap.rootDispersionSec}`);
});

Deno.test("NtpSystem: a PPS clock that is itself the prefer peer is numbered by the best survivor (ntpd)", () => {
  const r = run(
    [0.0021, 0.0023],
    [ppsClock(0.0022, { minpoll: 3, maxpoll: 4, prefer: true })],
    400,
  );
  assert.equal(r.snap.systemPeer, r.ids[0]);
  assert.equal(r.snap.refid, 0x50505300);
  // Servers a second off (their 0.6 s is more than 0.4 s from the pulses): not used.
  const off = run([0.6, 0.6002], [ppsClock(0.0022, { minpoll: 3, maxpoll: 4, prefer: true })], 400);
  assert.notEqual(off.snap.systemPeer, off.ids[0]);
});
