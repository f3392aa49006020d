// Broadcast client and manycast client behaviour of the core, against a scripted server whose
// clock is 10 ms ahead of ours over a path of 2 ms each way: a server's first mode 5 packet
// mobilises a broadcast client association, which calibrates the delay with a few client
// requests and then follows the mode 5 packets alone; `novolley` uses `broadcastdelay`; with
// `auth` an unauthenticated mode 5 mobilises nothing (counted); a flood of senders is capped;
// a manycast search mobilises the servers that answer its requests and keeps `maxclock`.

import assert from "node:assert/strict";
import { BroadcastServer } from "./broadcast_server.ts";
import type { Action, PeerAddress, SendAction } from "./events.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server, type SystemState } from "./server.ts";
import { NtpSystem } from "./system.ts";
import { RES_NOEPEER, RES_NOPEER } from "./access/restrict.ts";

const T0 = fromUnix(1_700_000_000);
const AHEAD_SEC = 0.010;
const ONE_WAY_SEC = 0.002;
const SERVER: PeerAddress = { family: 4, address: "192.0.2.10", port: 123 };
const GROUP: PeerAddress = { family: 4, address: "239.1.1.1", port: 123 };
const STATE: SystemState = {
  leap: 0,
  stratum: 1,
  precisionLog2: -20,
  rootDelaySec: 0,
  rootDispersionSec: 0.0001,
  refid: 0x47505300,
  referenceTime: addSec(T0, AHEAD_SEC),
};
const upstream = new Server(STATE);

function sends(actions: Action[]): SendAction[] {
  return actions.filter((a): a is SendAction => a.type === "send");
}

/** The scripted server's reply to a request we sent at local time `t`, and when it arrives. */
function answer(request: Uint8Array, t: NtpTime): { data: Uint8Array; at: NtpTime } {
  const out = new Uint8Array(128);
  const n = upstream.respond(request.slice(0, 48), addSec(t, AHEAD_SEC + ONE_WAY_SEC), out);
  assert.equal(n, 48);
  return { data: out.slice(0, 48), at: addSec(t, 2 * ONE_WAY_SEC) };
}

/**
 * Runs `sys` from `from` for `sec` seconds in 0.25 s steps: its timers, answers to what it sends
 * (when `answers`), and a mode 5 packet from `bcast` every 16 s. Returns the client requests.
 */
function run(
  sys: NtpSystem,
  bcast: BroadcastServer,
  from: NtpTime,
  sec: number,
  answers = true,
): SendAction[] {
  const requests: SendAction[] = [];
  for (let i = 0; i <= sec * 4; i++) {
    const t = addSec(from, i / 4);
    for (const s of sends(sys.onTimer(t))) {
      requests.push(s);
      if (!answers) continue;
      const r = answer(s.data, t);
      sys.onPacket({ data: r.data, peer: s.to, rxTime: r.at, keyId: 0 }, r.at);
    }
    // The broadcast server runs on its own clock.
    const serverNow = addSec(t, AHEAD_SEC);
    for (const s of sends(bcast.onTimer(serverNow, STATE))) {
      const rx = addSec(t, ONE_WAY_SEC);
      sys.onPacket({ data: s.data, peer: SERVER, rxTime: rx, keyId: 0 }, rx);
    }
  }
  return requests;
}

function client(opts: { novolley?: boolean; delaySec?: number; auth?: boolean } = {}) {
  return new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(11),
    authRequired: opts.auth ?? false,
    // The scripted server's clock does not follow ours: no clock updates, raw offsets.
    loop: { ntpEnabled: false },
    broadcastClient: {
      ...(opts.novolley ? { novolley: true } : {}),
      ...(opts.delaySec !== undefined ? { delaySec: opts.delaySec } : {}),
    },
  });
}

Deno.test("broadcast client: the first mode 5 mobilises, a volley calibrates the delay, then mode 5 alone gives the offset", () => {
  const sys = client();
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(3), T0, null);
  const requests = run(sys, bcast, T0, 200);
  const snap = sys.snapshot(addSec(T0, 200));
  assert.equal(snap.counters.ephemeralMobilized, 1);
  const a = snap.associations.find((x) => x.kind === "bclient");
  assert.ok(a, "a broadcast client association");
  assert.equal(a.hostMode, 6);
  assert.deepEqual(a.address, SERVER);
  // Four calibration requests, and nothing after them although the run went on for minutes.
  assert.equal(requests.length, 4);
  const last = requests.at(-1)!;
  assert.equal(sends([last])[0]!.to.address, SERVER.address);
  const assoc = sys.associations.get(a.id)!;
  assert.equal(assoc.calibrating, false);
  assert.equal(assoc.broadcastDelayMeasured, true);
  assert.ok(
    Math.abs(assoc.broadcastDelaySec - 2 * ONE_WAY_SEC) < 1e-4,
    `${assoc.broadcastDelaySec}`,
  );
  // Mode 5 samples (one every 16 s) after the calibration's four exchanges.
  assert.ok(a.received >= 4 + 8, `received ${a.received}`);
  assert.ok(
    a.offsetSec !== null && Math.abs(a.offsetSec - AHEAD_SEC) < 2e-4,
    `offset ${a.offsetSec}`,
  );
  assert.notEqual(a.reach, 0);
  assert.deepEqual(snap.survivors, [a.id], "the broadcast server survives selection");
});

Deno.test("broadcast client with novolley sends nothing and assumes broadcastdelay", () => {
  const sys = client({ novolley: true, delaySec: 0.008 });
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(4), T0, null);
  const requests = run(sys, bcast, T0, 120);
  assert.equal(requests.length, 0);
  const a = sys.snapshot(addSec(T0, 120)).associations.find((x) => x.kind === "bclient")!;
  // offset = T3 + δ/2 − T4 with δ = 8 ms while the path really takes 2 ms one way.
  const expected = AHEAD_SEC - ONE_WAY_SEC + 0.004;
  assert.ok(
    a.offsetSec !== null && Math.abs(a.offsetSec - expected) < 2e-4,
    `offset ${a.offsetSec}`,
  );
  assert.equal(sys.associations.get(a.id)!.broadcastDelayMeasured, false);
});

Deno.test("broadcast client: a server that stops is demobilised once unreachable", () => {
  const sys = client({ novolley: true });
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(5), T0, null);
  run(sys, bcast, T0, 60);
  assert.equal(sys.snapshot(addSec(T0, 60)).associations.length, 1);
  const quiet = { onTimer: () => [] } as unknown as BroadcastServer;
  run(sys, quiet, addSec(T0, 60.25), 400, false);
  const snap = sys.snapshot(addSec(T0, 461));
  assert.equal(snap.associations.length, 0);
  assert.equal(snap.counters.ephemeralDemobilized, 1);
});

Deno.test("broadcast client with auth: an unauthenticated mode 5 mobilises nothing, counted", () => {
  const sys = client({ auth: true });
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(6), T0, null);
  run(sys, bcast, T0, 60);
  const snap = sys.snapshot(addSec(T0, 60));
  assert.equal(snap.associations.length, 0);
  assert.ok((snap.counters.mobilizeRefused?.not_authenticated ?? 0) >= 3);
  assert.equal(snap.counters.ephemeralMobilized, 0);
});

Deno.test("broadcast client: a flood of mode 5 from many senders is capped", () => {
  const sys = new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(12),
    authRequired: false,
    maxEphemeral: 16,
    broadcastClient: { novolley: true },
  });
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(7), T0, null);
  const packet = sends(bcast.onTimer(addSec(T0, 5), STATE))[0]!.data;
  for (let i = 0; i < 200; i++) {
    const peer: PeerAddress = { family: 4, address: `198.51.100.${i % 250}`, port: 123 + i };
    sys.onPacket({ data: packet, peer, rxTime: addSec(T0, 5), keyId: 0 }, addSec(T0, 5));
  }
  const snap = sys.snapshot(addSec(T0, 5));
  assert.equal(snap.associations.length, 16);
  assert.equal(snap.counters.mobilizeRefused?.limit, 200 - 16);
});

Deno.test("mode 5 without broadcastclient mobilises nothing", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(13), authRequired: false });
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(8), T0, null);
  const packet = sends(bcast.onTimer(addSec(T0, 5), STATE))[0]!.data;
  sys.onPacket({ data: packet, peer: SERVER, rxTime: addSec(T0, 5), keyId: 0 }, addSec(T0, 5));
  const snap = sys.snapshot(addSec(T0, 5));
  assert.equal(snap.associations.length, 0);
  assert.equal(snap.counters.noAssociation, 1);
});

Deno.test("manycast client: servers answering its group requests are mobilised, kept up to maxclock", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(14), authRequired: false });
  sys.start(T0);
  const id = sys.addManycastClient(
    GROUP,
    { pollLog2: 4, ttlList: [1, 2, 3] },
    { minpoll: 4, maxpoll: 4, iburst: true },
    2,
    T0,
  );
  // The first request goes to the group with the first TTL.
  let t = T0;
  let req: SendAction | undefined;
  for (let i = 0; i < 20 && req === undefined; i++) {
    t = addSec(T0, i * 0.25);
    req = sends(sys.onTimer(t)).find((s) => s.assocId === id);
  }
  assert.ok(req);
  assert.deepEqual(req.to, GROUP);
  assert.equal(req.ttl, 1);
  // Three servers answer; an answer to nothing we sent mobilises nothing.
  for (const n of [21, 22, 23]) {
    const r = answer(req.data, t);
    sys.onPacket({
      data: r.data,
      peer: { family: 4, address: `192.0.2.${n}`, port: 123 },
      rxTime: r.at,
      keyId: 0,
    }, r.at);
  }
  const stray = answer(req.data, t);
  stray.data[31] = (stray.data[31]! + 1) & 0xff; // a different origin timestamp
  sys.onPacket({
    data: stray.data,
    peer: { family: 4, address: "192.0.2.99", port: 123 },
    rxTime: stray.at,
    keyId: 0,
  }, stray.at);
  let snap = sys.snapshot(addSec(t, 0.01));
  assert.equal(snap.associations.filter((a) => a.kind === "server").length, 3);
  assert.equal(snap.counters.noAssociation, 1);
  const search = snap.associations.find((a) => a.id === id)!;
  assert.equal(search.kind, "manycast");
  assert.equal(search.hostMode, 3);
  // At the next timer the surplus beyond maxclock 2 is dropped (the last found, never heard).
  sys.onTimer(addSec(t, 0.5));
  snap = sys.snapshot(addSec(t, 0.5));
  const servers = snap.associations.filter((a) => a.kind === "server");
  assert.equal(servers.length, 2);
  assert.deepEqual(servers.map((s) => s.address.address), ["192.0.2.21", "192.0.2.22"]);
  // With maxclock servers held the search sends nothing more (while they last: silent ones
  // are demobilised after a few polls, and the search then resumes).
  let more = 0;
  for (let i = 1; i <= 40; i++) {
    more += sends(sys.onTimer(addSec(t, i))).filter((s) => s.assocId === id).length;
  }
  assert.equal(more, 0);
});

Deno.test("broadcast line: nothing is sent while the system is unsynchronised", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(15) });
  sys.start(T0);
  const id = sys.addBroadcast(GROUP, { pollLog2: 4, ttl: 2 }, T0);
  let sent = 0;
  for (let i = 0; i <= 100; i++) sent += sends(sys.onTimer(addSec(T0, i))).length;
  assert.equal(sent, 0);
  const a = sys.snapshot(addSec(T0, 100)).associations.find((x) => x.id === id)!;
  assert.equal(a.kind, "broadcast");
  assert.equal(a.hostMode, 5);
  assert.deepEqual(a.address, GROUP);
});

Deno.test("restrict nopeer: an unauthenticated mode 5 or manycast answer mobilises nothing; noepeer refuses even authenticated ones", () => {
  const sys = client();
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(9), T0, null);
  const packet = sends(bcast.onTimer(addSec(T0, 5), STATE))[0]!.data;
  const at = addSec(T0, 5);
  sys.onPacket({ data: packet, peer: SERVER, rxTime: at, keyId: 0, restrictFlags: RES_NOPEER }, at);
  sys.onPacket(
    { data: packet, peer: SERVER, rxTime: at, keyId: 3, restrictFlags: RES_NOEPEER },
    at,
  );
  let snap = sys.snapshot(at);
  assert.equal(snap.associations.length, 0);
  assert.equal(snap.counters.mobilizeRefused?.restricted, 2);
  // nopeer lets an authenticated packet through (auth is off here, so key 3 need not be trusted).
  sys.onPacket({ data: packet, peer: SERVER, rxTime: at, keyId: 3, restrictFlags: RES_NOPEER }, at);
  snap = sys.snapshot(at);
  assert.equal(snap.associations.length, 1);

  const mc = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(16), authRequired: false });
  mc.start(T0);
  const id = mc.addManycastClient(GROUP, { pollLog2: 4, ttlList: [1] }, { minpoll: 4 }, 3, T0);
  let req: SendAction | undefined;
  let t = T0;
  for (let i = 0; i < 20 && req === undefined; i++) {
    t = addSec(T0, i * 0.25);
    req = sends(mc.onTimer(t)).find((s) => s.assocId === id);
  }
  assert.ok(req);
  const r = answer(req.data, t);
  const from: PeerAddress = { family: 4, address: "192.0.2.31", port: 123 };
  mc.onPacket(
    { data: r.data, peer: from, rxTime: r.at, keyId: 0, restrictFlags: RES_NOPEER },
    r.at,
  );
  const m = mc.snapshot(r.at);
  assert.equal(m.associations.filter((a) => a.kind === "server").length, 0);
  assert.equal(m.counters.mobilizeRefused?.restricted, 1);
});

Deno.test("broadcast client: a mode 5 sent to a group mobilises a multicast client (its group shown)", () => {
  const sys = client({ novolley: true });
  sys.start(T0);
  const bcast = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(10), T0, null);
  const packet = sends(bcast.onTimer(addSec(T0, 5), STATE))[0]!.data;
  const at = addSec(T0, 5);
  sys.onPacket({ data: packet, peer: SERVER, rxTime: at, keyId: 0, group: GROUP.address }, at);
  const a = sys.snapshot(at).associations[0]!;
  assert.equal(a.kind, "bclient");
  assert.equal(a.group, "239.1.1.1");
});
