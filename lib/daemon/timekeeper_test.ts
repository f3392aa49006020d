import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Clock } from "../clock/clock.ts";
import type { PeerAddress } from "../proto/events.ts";
import { addSec, fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { decodePacket } from "../proto/packet.ts";
import { SeededRng } from "../proto/rng.ts";
import { Server } from "../proto/server.ts";
import { ipv6Refid, Timekeeper } from "./timekeeper.ts";
import type { Timers } from "./timers.ts";

Deno.test("ipv6Refid() is the first four bytes of the MD5 of the 16 address bytes", () => {
  const bytes = new Uint8Array(16);
  bytes[0] = 0x20;
  bytes[1] = 0x01;
  bytes[2] = 0x0d;
  bytes[3] = 0xb8;
  bytes[15] = 1;
  const d = createHash("md5").update(bytes).digest();
  assert.equal(ipv6Refid("2001:db8::1"), d.readUInt32BE(0));
  assert.equal(ipv6Refid("2001:DB8:0::1"), d.readUInt32BE(0));
  assert.equal(ipv6Refid("192.0.2.1"), 0);
});

/** `transmitLateSec`: the fake socket reports each request as leaving that long after `now`. */
function setup(opts: { transmitLateSec?: number } = {}) {
  let now: NtpTime = fromUnix(1_800_000_000);
  const clock: Clock = {
    name: "fake",
    canSteer: false,
    precisionLog2: -20,
    now: () => now,
    step: () => {},
    adjust: () => {},
    kernelState: () => null,
  };
  const pending: { at: number; fn: () => void; id: number }[] = [];
  let t = 0;
  let next = 1;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      pending.push({ at: t + ms, fn, id: next });
      return next++;
    },
    clearTimeout: (h) => {
      const i = pending.findIndex((p) => p.id === h);
      if (i >= 0) pending.splice(i, 1);
    },
  };
  const sent: { data: Uint8Array; to: PeerAddress; at: NtpTime }[] = [];
  const lines: string[] = [];
  const tk = new Timekeeper({ system: { rng: new SeededRng(7) } }, {
    clock,
    timers,
    send: (data, to, onTransmit) => {
      sent.push({ data: data.slice(), to, at: now });
      if (opts.transmitLateSec !== undefined && to.family === 4) {
        onTransmit?.(addSec(now, opts.transmitLateSec - 5e-6), false);
        onTransmit?.(addSec(now, opts.transmitLateSec), true);
      }
      return to.family === 4;
    },
    log: { debug() {}, info: (m) => void lines.push(m), warn() {}, error() {} },
  });
  const advance = (ms: number) => {
    const end = t + ms;
    for (;;) {
      pending.sort((a, b) => a.at - b.at);
      const p = pending[0];
      if (p === undefined || p.at > end) break;
      pending.shift();
      now = addSec(now, (p.at - t) / 1000);
      t = p.at;
      p.fn();
    }
    now = addSec(now, (end - t) / 1000);
    t = end;
  };
  return { tk, sent, lines, advance, pending, now: () => now };
}

Deno.test("Timekeeper.mobilize() logs the association and polls it through the real timer", () => {
  const { tk, sent, lines, advance, pending } = setup();
  tk.start();
  const id = tk.mobilize({ family: 4, address: "192.0.2.1", port: 123 }, {
    minpoll: 4,
    maxpoll: 4,
    iburst: true,
    name: "ntp.example",
  });
  assert.deepEqual(lines, [`192.0.2.1 mobilize assoc ${id}: server (ntp.example)`]);
  assert.equal(pending.length, 1, "one real timer");
  advance(3000);
  assert.ok(sent.length >= 1);
  const p = decodePacket(sent[0]!.data);
  assert.ok(p.ok && p.packet.mode === 3);
  assert.deepEqual(sent[0]!.to, { family: 4, address: "192.0.2.1", port: 123 });
  assert.equal(tk.association(id)!.sent, sent.length);
  tk.demobilize(id, "test");
  assert.equal(tk.association(id), null);
  assert.ok(lines.includes(`192.0.2.1 demobilize assoc ${id}: test`));
  tk.stop();
  assert.equal(pending.length, 0, "stop() cancels the timer");
});

Deno.test("Timekeeper counts requests it had no socket for", () => {
  const { tk, advance } = setup();
  tk.start();
  tk.mobilize({ family: 6, address: "2001:db8::1", port: 123 }, { minpoll: 4, maxpoll: 4 });
  advance(5000);
  assert.ok(tk.counters.sendFailures >= 1);
  assert.equal(tk.systemState(), null, "unsynchronised");
  tk.stop();
});

Deno.test("Timekeeper measures exchanges from the transmit time the socket reports", () => {
  // The request leaves 300 µs after the core wrote it; the server is exactly on time and the
  // path takes 10 µs each way: the sample must read offset 0 and delay 20 µs.
  const { tk, sent, advance, now } = setup({ transmitLateSec: 300e-6 });
  const server = new Server({
    leap: 0,
    stratum: 1,
    precisionLog2: -24,
    rootDelaySec: 0,
    rootDispersionSec: 0,
    refid: 0x47505300,
    referenceTime: now(),
  });
  tk.start();
  const to: PeerAddress = { family: 4, address: "192.0.2.1", port: 123 };
  const id = tk.mobilize(to, { minpoll: 4, maxpoll: 4 });
  advance(3000);
  assert.equal(sent.length, 1);
  const reply = new Uint8Array(48);
  const at = sent[0]!.at;
  assert.equal(server.respond(sent[0]!.data, addSec(at, 310e-6), reply), 48);
  tk.onPacket(reply, to, addSec(at, 320e-6));
  const a = tk.association(id)!;
  assert.equal(a.received, 1);
  assert.ok(Math.abs(a.delaySec! - 20e-6) < 1e-7, `delay ${a.delaySec}`);
  assert.ok(Math.abs(a.offsetSec!) < 1e-7, `offset ${a.offsetSec}`);
  tk.stop();
});
