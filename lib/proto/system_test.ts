import assert from "node:assert/strict";
import { NtpSystem, refidOf } from "./system.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import type { Action, PeerAddress } from "./events.ts";
import type { LoopFilterOptions } from "./loop_filter.ts";

const T0 = fromUnix(1_700_000_000);

/**
 * A small driver: servers whose clocks are `offsets` ahead of the client's, 1 ms each way, and a
 * client clock that only moves when the core steps or slews it (frequency errors are not modelled
 * here; the simulator covers those).
 */
function drive(offsets: number[], durationSec: number, loop: LoopFilterOptions = {}) {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(3), loop });
  let clockOffset = 0; // client clock − true time
  let slewPpm = 0;
  let trueSec = 0;
  const now = (): NtpTime => addSec(T0, trueSec + clockOffset);
  const addrs: PeerAddress[] = offsets.map((_, i) => ({
    family: 4,
    address: `192.0.2.${i + 1}`,
    port: 123,
  }));
  const servers = offsets.map(() =>
    new Server({
      leap: 0,
      stratum: 1,
      precisionLog2: -20,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: 0x47505300,
      referenceTime: T0,
    })
  );
  addrs.forEach((a) => sys.addServer(a, { minpoll: 4, maxpoll: 4 }, now()));
  const all: Action[] = [];
  let timerAt = Infinity;
  let exited = false;
  const queue: { to: PeerAddress; data: Uint8Array }[] = [];
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      all.push(a);
      if (a.type === "setTimer") timerAt = trueSec + Number(a.at - now()) / 2 ** 32;
      if (a.type === "stepClock") clockOffset += a.offsetSec;
      if (a.type === "adjustClock") slewPpm = a.freqPpm;
      if (a.type === "send") queue.push({ to: a.to, data: a.data });
      if (a.type === "reset" && a.exit) exited = true;
    }
  };
  const advance = (to: number) => {
    clockOffset += (to - trueSec) * slewPpm * 1e-6;
    trueSec = to;
  };
  apply(sys.start(now()));
  while (!exited && timerAt <= durationSec) {
    advance(Math.max(trueSec, timerAt));
    apply(sys.onTimer(now()));
    while (queue.length > 0) {
      const q = queue.shift()!;
      const i = addrs.findIndex((a) => a.address === q.to.address);
      const out = new Uint8Array(q.data.length);
      const n = servers[i]!.respond(q.data, addSec(T0, trueSec + 0.001 + offsets[i]!), out);
      const t = trueSec;
      advance(t + 0.002);
      apply(sys.onPacket({ data: out.slice(0, n), peer: addrs[i]!, rxTime: now() }, now()));
    }
  }
  return { sys, actions: all, clockOffset: () => clockOffset, now };
}

Deno.test("NtpSystem synchronises to agreeing servers: stratum + 1, refid, ntpd's log line", () => {
  const { sys, actions, now } = drive([0.05, 0.05, 0.05], 300);
  const status = actions.filter((a) => a.type === "setStatus").at(-1);
  assert.ok(status?.type === "setStatus");
  assert.equal(status.synchronized, true);
  assert.equal(status.stratum, 2);
  const snap = sys.snapshot(now());
  assert.equal(
    status.refid,
    refidOf(snap.associations.find((a) => a.id === snap.systemPeer)!.address),
  );
  assert.ok(
    actions.some((a) =>
      a.type === "event" && /^synchronized to 192\.0\.2\.\d, stratum 1$/.test(a.message)
    ),
  );
  assert.deepEqual(snap.falsetickers, []);
  assert.equal(snap.survivors.length, 3);
});

Deno.test("NtpSystem slews a 50 ms offset away and never steps for it", () => {
  const { actions, clockOffset } = drive([0.05, 0.05, 0.05], 300);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(Math.abs(clockOffset() - 0.05) < 1e-4, `clock offset ${clockOffset()}`);
});

Deno.test("NtpSystem marks a lying server as a falseticker and never follows it", () => {
  const { sys, actions, clockOffset, now } = drive([0, 0, 1], 600);
  const snap = sys.snapshot(now());
  assert.deepEqual(snap.falsetickers, [3]);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(Math.abs(clockOffset()) < 1e-4);
  assert.notEqual(snap.systemPeer, 3);
});

Deno.test("NtpSystem does not synchronise when no majority agrees", () => {
  const { sys, actions, clockOffset, now } = drive([0, 1, 2], 600);
  const snap = sys.snapshot(now());
  assert.equal(snap.systemPeer, null);
  assert.ok(snap.counters.noMajority > 0);
  assert.equal(snap.counters.clockUpdates, 0);
  assert.equal(clockOffset(), 0);
  assert.ok(!actions.some((a) => a.type === "setStatus" && a.synchronized));
});

Deno.test("NtpSystem -q sets the clock once and asks to exit with status 0", () => {
  const { actions, clockOffset } = drive([0.5, 0.5, 0.5], 600, { setOnce: true });
  const reset = actions.find((a) => a.type === "reset");
  assert.ok(reset?.type === "reset" && reset.exit && reset.exitCode === 0);
  assert.ok(Math.abs(clockOffset() - 0.5) < 1e-3, `${clockOffset()}`);
});

Deno.test("NtpSystem counts datagrams from unknown addresses and ignores them", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1) });
  const acts = sys.onPacket({
    data: new Uint8Array(48),
    peer: { family: 4, address: "198.51.100.7", port: 123 },
    rxTime: T0,
  }, T0);
  assert.deepEqual(acts, []);
  assert.equal(sys.snapshot(T0).counters.noAssociation, 1);
});

Deno.test("refidOf() gives the IPv4 address as a 32-bit value", () => {
  assert.equal(refidOf({ family: 4, address: "192.0.2.1", port: 123 }), 0xc0000201);
  const v6 = refidOf({ family: 6, address: "2001:db8::1", port: 123 });
  assert.ok(Number.isInteger(v6) && v6 >= 0 && v6 < 2 ** 32);
});
