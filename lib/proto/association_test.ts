import assert from "node:assert/strict";
import { Association } from "./association.ts";
import { decodePacket } from "./packet.ts";
import { addSec, fromUnix, type NtpTime, writeTimestamp } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import type { Action, SendAction } from "./events.ts";

const T0 = fromUnix(1_700_000_000);
const ADDR = { family: 4 as const, address: "192.0.2.1", port: 123 };
const server = new Server({
  leap: 0,
  stratum: 1,
  precisionLog2: -20,
  rootDelaySec: 0,
  rootDispersionSec: 0.0001,
  refid: 0x47505300,
  referenceTime: T0,
});

function newAssoc(opts = {}, seed = 1): Association {
  return new Association(1, ADDR, opts, new SeededRng(seed), -20, T0);
}

/** Polls once at `now` and returns the request. */
function poll(a: Association, now: NtpTime): SendAction {
  const send = a.onTimer(now).find((x): x is SendAction => x.type === "send");
  assert.ok(send, "a request was sent");
  return send;
}

/** The server's answer to `req` when the server clock reads `serverTime` on receipt. */
function answer(req: Uint8Array, serverTime: NtpTime): Uint8Array {
  const out = new Uint8Array(req.length);
  const n = server.respond(req, serverTime, out);
  assert.equal(n, 48);
  return out.slice(0, n);
}

function mutate(reply: Uint8Array, f: (v: DataView) => void): Uint8Array {
  const copy = reply.slice();
  f(new DataView(copy.buffer));
  return copy;
}

Deno.test("Association sends a mode 3 request and turns the reply into offset and delay", () => {
  const a = newAssoc();
  const first = a.deadline!;
  const req = poll(a, first);
  const p = decodePacket(req.data);
  assert.ok(p.ok);
  assert.equal(p.packet.mode, 3);
  assert.equal(p.packet.version, 4);
  assert.notEqual(p.packet.transmitTimestamp, 0n);
  // Server is 0.25 s ahead; 10 ms each way.
  const reply = answer(req.data, addSec(first, 0.25 + 0.010));
  const r = a.receive(reply, addSec(first, 0.020));
  assert.equal(r.kind, "sample");
  if (r.kind !== "sample") return;
  assert.ok(Math.abs(r.sample.offsetSec - 0.25) < 1e-6, `${r.sample.offsetSec}`);
  assert.ok(Math.abs(r.sample.delaySec - 0.020) < 1e-6, `${r.sample.delaySec}`);
  assert.equal(a.reach, 1);
  assert.equal(a.server?.stratum, 1);
  assert.ok(r.actions.some((x) => x.type === "event" && x.message.endsWith("reachable")));
});

Deno.test("Association rejects bad replies without changing any state, and counts them", () => {
  const a = newAssoc();
  const now = a.deadline!;
  const req = poll(a, now);
  const good = answer(req.data, addSec(now, 0.01));
  const rx = addSec(now, 0.02);
  const pollBefore = a.pollSec;
  const bad: [string, Uint8Array][] = [
    ["bogus_origin", mutate(good, (v) => v.setUint32(28, v.getUint32(28) ^ 1))],
    ["zero_transmit", mutate(good, (v) => v.setBigUint64(40, 0n))],
    [
      "stratum0",
      mutate(good, (v) => {
        v.setUint8(1, 0);
        v.setUint32(12, 0x01020304);
      }),
    ],
    ["distance", mutate(good, (v) => v.setUint32(8, 3 * 65536))],
    [
      "bogus_origin",
      mutate(good, (v) => {
        // A RATE kiss-o'-death whose origin does not match our request.
        v.setUint8(1, 0);
        v.setUint32(12, 0x52415445);
        v.setUint32(28, v.getUint32(28) ^ 0x10);
      }),
    ],
    ["unsynchronized", mutate(good, (v) => v.setUint8(0, (3 << 6) | (4 << 3) | 4))],
    ["mode", mutate(good, (v) => v.setUint8(0, (4 << 3) | 3))],
    ["decode", good.slice(0, 40)],
  ];
  for (const [reason, pkt] of bad) {
    const r = a.receive(pkt, rx);
    assert.deepEqual(r, { kind: "rejected", reason }, reason);
    assert.equal(a.reach, 0, `${reason} changed reach`);
    assert.equal(a.pollSec, pollBefore, `${reason} changed the poll`);
    assert.equal(a.filter.samples, 0);
  }
  const snap = a.snapshot(rx);
  assert.equal(snap.rejected.bogus_origin, 2);
  assert.equal(snap.rejected.zero_transmit, 1);
  assert.equal(snap.rejected.stratum0, 1);
  assert.equal(snap.rejected.distance, 1);
  assert.equal(snap.kod, 0);
  // The genuine reply is still accepted afterwards, exactly once.
  assert.equal(a.receive(good, rx).kind, "sample");
  assert.deepEqual(a.receive(good, rx), { kind: "rejected", reason: "duplicate" });
});

Deno.test("Association slows down on a RATE kiss-o'-death and stops on DENY", () => {
  const a = newAssoc();
  let now = a.deadline!;
  let req = poll(a, now);
  const rate = mutate(answer(req.data, now), (v) => {
    v.setUint8(1, 0);
    v.setUint32(12, 0x52415445); // RATE
  });
  const before = a.pollSec;
  const r = a.receive(rate, addSec(now, 0.01));
  assert.equal(r.kind, "kod");
  assert.ok(a.pollSec >= 2 * before);
  now = a.deadline!;
  req = poll(a, now);
  const deny = mutate(answer(req.data, now), (v) => {
    v.setUint8(1, 0);
    v.setUint32(12, 0x44454e59); // DENY
  });
  const d = a.receive(deny, addSec(now, 0.01));
  assert.equal(d.kind, "kod");
  if (d.kind !== "kod") return;
  assert.ok(d.actions.some((x) => x.type === "demobilize"));
  assert.equal(a.dead, true);
  assert.equal(a.deadline, null);
  assert.deepEqual(a.onTimer(addSec(now, 1e4)), []);
});

Deno.test("Association reach register ages each poll and reports 'unreachable' after eight misses", () => {
  const a = newAssoc({ minpoll: 4, maxpoll: 4 });
  let now = a.deadline!;
  const req = poll(a, now);
  a.receive(answer(req.data, now), addSec(now, 0.001));
  assert.equal(a.reach, 1);
  const events: Action[] = [];
  for (let i = 0; i < 8; i++) {
    now = a.deadline!;
    events.push(...a.onTimer(now));
  }
  assert.equal(a.reach, 0);
  assert.ok(events.some((x) => x.type === "event" && x.message.endsWith("unreachable")));
});

Deno.test("Association iburst sends eight requests two seconds apart at start", () => {
  const a = newAssoc({ iburst: true });
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const now = a.deadline!;
    poll(a, now);
    times.push(Number(now - T0) / 2 ** 32);
  }
  for (let i = 1; i < 8; i++) assert.ok(Math.abs(times[i]! - times[i - 1]! - 2) < 1e-6);
  assert.ok(a.deadline! - T0 > BigInt(60) << 32n, "then back to the poll interval");
});

Deno.test("Association randomises transmit timestamp bits below its precision", () => {
  const a = newAssoc({}, 1);
  const b = newAssoc({}, 2);
  const now = addSec(T0, 10);
  const ta = decodePacket(poll(a, now).data);
  const tb = decodePacket(poll(b, now).data);
  assert.ok(ta.ok && tb.ok);
  const x = ta.packet.transmitTimestamp;
  const y = tb.packet.transmitTimestamp;
  assert.notEqual(x, y);
  // Precision −20: the 12 low bits of the fraction are random, the rest is the clock reading.
  assert.equal(x >> 12n, y >> 12n);
});

Deno.test("Association discards the reply to a request sent before a clock step", () => {
  const a = newAssoc();
  const now = a.deadline!;
  const req = poll(a, now);
  a.clockStepped(-5);
  const r = a.receive(answer(req.data, now), addSec(now, -4.99));
  assert.deepEqual(r, { kind: "rejected", reason: "stale" });
});

Deno.test("Association writes a valid server state into replies' round trip (zero transmit check)", () => {
  // A reply whose receive timestamp is zero is refused too.
  const a = newAssoc();
  const now = a.deadline!;
  const req = poll(a, now);
  const reply = mutate(answer(req.data, now), (v) => writeTimestamp(v, 32, 0n));
  assert.deepEqual(a.receive(reply, addSec(now, 0.01)), {
    kind: "rejected",
    reason: "zero_receive",
  });
});

Deno.test("Association.transmitted() measures from when the request left, not when it was built", () => {
  const a = newAssoc();
  const built = a.deadline!;
  const req = poll(a, built);
  const xmt = new DataView(req.data.buffer, req.data.byteOffset).getBigUint64(40);
  // The request left 300 µs after the core wrote it (a late event loop): the server is exactly
  // on time and the path is 10 µs each way.
  const left = addSec(built, 300e-6);
  assert.equal(a.transmitted(xmt ^ 1n, left, true), false, "another request's report");
  assert.equal(a.transmitted(xmt, addSec(built, 290e-6), false), true, "the clock read");
  assert.equal(a.transmitted(xmt, left, true), true, "the kernel's time replaces it");
  assert.equal(
    a.transmitted(xmt, addSec(built, 250e-6), false),
    false,
    "a clock read never replaces the kernel's time",
  );
  const reply = answer(req.data, addSec(left, 10e-6));
  const r = a.receive(reply, addSec(left, 20e-6));
  assert.equal(r.kind, "sample");
  if (r.kind !== "sample") return;
  assert.ok(Math.abs(r.sample.offsetSec) < 1e-7, `offset ${r.sample.offsetSec}`);
  assert.ok(Math.abs(r.sample.delaySec - 20e-6) < 1e-7, `delay ${r.sample.delaySec}`);
  // The next request starts without a measured time: its own transmit timestamp counts again.
  const next = a.deadline!;
  const req2 = poll(a, next);
  const r2 = a.receive(answer(req2.data, addSec(next, 0.01)), addSec(next, 0.02));
  assert.equal(r2.kind, "sample");
  if (r2.kind !== "sample") return;
  assert.ok(Math.abs(r2.sample.delaySec - 0.02) < 1e-6, `delay ${r2.sample.delaySec}`);
});

Deno.test("Association refuses a late reply to an older request and counts the requests unanswered", () => {
  const a = newAssoc();
  const t1 = a.deadline!;
  const first = poll(a, t1);
  assert.equal(a.unanswered, 0);
  assert.equal(a.firstRequestAt, t1);
  // No answer before the next poll: that request is the one a reply must now answer.
  const t2 = a.deadline!;
  const second = poll(a, t2);
  assert.equal(a.unanswered, 1, "the first request went unanswered");
  const late = a.receive(answer(first.data, addSec(t2, 0.001)), addSec(t2, 0.002));
  assert.deepEqual(late, { kind: "rejected", reason: "bogus_origin" });
  assert.equal(a.filter.samples, 0, "it never reached the filter");
  assert.equal(a.filter.rfcState(), null);
  const r = a.receive(answer(second.data, addSec(t2, 0.001)), addSec(t2, 0.002));
  assert.equal(r.kind, "sample");
  assert.equal(a.unanswered, 0, "a valid reply resets the count");
  assert.equal(a.received, 1);
  assert.equal(a.firstRequestAt, t1);
});

Deno.test("Association snapshot: unanswered requests, the last reject and the filter register", () => {
  const a = newAssoc();
  const first = a.deadline!;
  const req = poll(a, first);
  const reply = answer(req.data, addSec(first, 0.25 + 0.010));
  const r = a.receive(reply, addSec(first, 0.020));
  assert.equal(r.kind, "sample");
  if (r.kind !== "sample") return;
  let s = a.snapshot(addSec(first, 1));
  assert.equal(s.lastReject, null);
  assert.equal(s.unanswered, 0);
  assert.deepEqual(s.filter, []);
  a.filter.add(r.sample);
  s = a.snapshot(addSec(first, 1));
  assert.equal(s.filter?.length, 1);
  assert.ok(Math.abs(s.filter![0]!.offsetSec - 0.25) < 1e-6);
  assert.ok(Math.abs(s.filter![0]!.delaySec - 0.020) < 1e-6);
  // The same reply again is a duplicate: the snapshot says why it was not used.
  assert.equal(a.receive(reply, addSec(first, 0.03)).kind, "rejected");
  assert.equal(a.snapshot(addSec(first, 1)).lastReject, "duplicate");
});
