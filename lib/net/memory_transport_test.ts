// Tests of the in-memory network: delivery order, delays, loss, per-host clocks and the
// Transport contract (serve, reply slots, transmit stamps, close).

import assert from "node:assert/strict";
import fc from "fast-check";
import { addSec, diffSec, type NtpTime, readTimestamp, toTimestamp } from "../proto/ntp_time.ts";
import { MemoryNetwork } from "./memory_transport.ts";
import type { ReceivedDatagram, ReplySlot } from "./transport.ts";
import { CopyTransmit } from "./_test_helpers.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`memory_transport_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);
const START = 3_913_056_000n << 32n;

function packet(tag: number): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = 0x23;
  b[1] = tag;
  return b;
}

function echo(d: ReceivedDatagram, r: ReplySlot): void {
  r.buffer.set(d.data);
  r.length = d.data.length;
  r.stampTransmit = true;
}

Deno.test("MemoryNetwork delivers a request and its stamped reply on flush()", () => {
  const net = new MemoryNetwork({ startTime: START });
  const server = net.open("10.0.0.1:123");
  const client = net.open("10.0.0.2:0");
  assert.ok(client.localAddress.port >= 49152, "ephemeral port");
  const atServer: ReceivedDatagram[] = [];
  void server.serve((d, r) => {
    atServer.push({ ...d, data: d.data.slice() });
    echo(d, r);
  });
  const replies: Uint8Array[] = [];
  void client.serve((d) => replies.push(d.data.slice()));
  client.send(packet(1), server.localAddress);
  assert.equal(net.pending(), 1);
  assert.equal(net.flush(), 2);
  assert.equal(atServer.length, 1);
  assert.deepEqual(atServer[0]!.peer, client.localAddress);
  assert.equal(atServer[0]!.rxTime, START);
  assert.equal(atServer[0]!.rxKernel, true);
  assert.equal(replies.length, 1);
  assert.equal(replies[0]![1], 1);
  assert.equal(readTimestamp(new DataView(replies[0]!.buffer), 40), toTimestamp(START));
  assert.deepEqual(net.stats(), { delivered: 2, dropped: 0, undeliverable: 0 });
  assert.deepEqual(server.stats(), {
    received: 1,
    sent: 1,
    sendErrors: 0,
    noKernelTimestamp: 0,
    truncated: 0,
  });
});

Deno.test("MemoryNetwork.deliver() honours one-way delays from the hook", () => {
  const net = new MemoryNetwork({
    startTime: START,
    delay: (p) => (p.to.port === 123 ? 0.010 : 0.020),
  });
  const server = net.open("10.0.0.1:123");
  const client = net.open("10.0.0.2:5000");
  const rx: NtpTime[] = [];
  void server.serve((d, r) => {
    rx.push(d.rxTime);
    echo(d, r);
  });
  const back: NtpTime[] = [];
  void client.serve((d) => back.push(d.rxTime));
  client.send(packet(1), server.localAddress);
  assert.equal(net.deliver(addSec(START, 0.005)), 0, "not there yet");
  assert.equal(net.now, addSec(START, 0.005));
  assert.equal(net.deliver(addSec(START, 0.010)), 1);
  assert.deepEqual(rx, [addSec(START, 0.010)]);
  assert.equal(net.nextDeliveryTime(), addSec(addSec(START, 0.010), 0.020));
  assert.equal(net.deliver(addSec(START, 1)), 1);
  assert.ok(Math.abs(diffSec(back[0]!, START) - 0.030) < 1e-9);
  assert.equal(net.now, addSec(START, 1));
  assert.equal(net.nextDeliveryTime(), null);
});

Deno.test("MemoryNetwork orders by arrival time, then by sending order", () => {
  const delays = [0.5, 0.1, 0.1, 0.3];
  let k = 0;
  const net = new MemoryNetwork({ startTime: START, delay: () => delays[k++]! });
  const a = net.open("10.0.0.1:1");
  const b = net.open("10.0.0.2:2");
  const order: number[] = [];
  void b.serve((d) => order.push(d.data[1]!));
  for (let tag = 0; tag < 4; tag++) a.send(packet(tag), b.localAddress);
  net.flush();
  assert.deepEqual(order, [1, 2, 3, 0]);
});

Deno.test("MemoryNetwork drops what the delay hook loses and what nobody bound", () => {
  const net = new MemoryNetwork({ delay: (p) => (p.data[1] === 9 ? null : 0) });
  const a = net.open("[fd00::1]:123");
  const b = net.open("[fd00::2]:123");
  let got = 0;
  void b.serve(() => got++);
  a.send(packet(9), b.localAddress);
  a.send(packet(1), b.localAddress);
  a.send(packet(1), { family: 6, address: "fd00::3", port: 123 });
  a.send(packet(1), { family: 4, address: "10.0.0.1", port: 123 }); // wrong family
  net.flush();
  assert.equal(got, 1);
  assert.deepEqual(net.stats(), { delivered: 1, dropped: 1, undeliverable: 1 });
  assert.equal(a.stats().sendErrors, 1);
});

Deno.test("MemoryTransport holds datagrams until serve() and stops on close()", async () => {
  const net = new MemoryNetwork();
  const a = net.open("10.0.0.1:1");
  const b = net.open("10.0.0.2:2");
  a.send(packet(1), b.localAddress);
  net.flush();
  assert.equal(net.stats().delivered, 0, "held while not serving");
  let got = 0;
  const served = b.serve(() => got++);
  await assert.rejects(b.serve(() => {}), /already running/);
  net.flush();
  assert.equal(got, 1);
  b.close();
  await served;
  a.send(packet(2), b.localAddress);
  net.flush();
  assert.equal(got, 1);
  assert.equal(net.stats().undeliverable, 1);
  const again = net.open("10.0.0.2:2");
  again.close();
});

Deno.test("MemoryTransport stamps with its own host clock", () => {
  const net = new MemoryNetwork({ startTime: START });
  const skew = 1.5;
  const server = net.open("10.0.0.1:123", { clock: () => addSec(net.now, skew) });
  const client = net.open("10.0.0.2:0");
  let rxAtServer = 0n;
  void server.serve((d, r) => {
    rxAtServer = d.rxTime;
    echo(d, r);
  });
  let reply = new Uint8Array(0);
  void client.serve((d) => (reply = d.data.slice()));
  client.send(packet(1), server.localAddress);
  net.flush();
  assert.equal(rxAtServer, addSec(START, skew));
  assert.equal(readTimestamp(new DataView(reply.buffer), 40), toTimestamp(addSec(START, skew)));
});

Deno.test("MemoryTransport runs a reply's finalize step after its transmit stamp", () => {
  const net = new MemoryNetwork({ startTime: START });
  const server = net.open("10.0.0.1:123");
  const client = net.open("10.0.0.2:0");
  const fin = new CopyTransmit();
  void server.serve((d, r) => {
    echo(d, r);
    r.finalize = fin;
  });
  const got: Uint8Array[] = [];
  void client.serve((d) => void got.push(d.data.slice()));
  const req = new Uint8Array(56);
  req[0] = 0x23;
  client.send(req, server.localAddress);
  net.flush();
  assert.equal(fin.calls, 1);
  assert.equal(readTimestamp(new DataView(got[0]!.buffer), 48), toTimestamp(START));
});

Deno.test("MemoryNetwork.open() rejects bad and duplicate addresses", () => {
  const net = new MemoryNetwork();
  net.open("10.0.0.1:123");
  assert.throws(() => net.open("10.0.0.1:123"), /in use/);
  assert.throws(() => net.open("10.0.0.400:1"), TypeError);
});

Deno.test("MemoryNetwork.flush() stops endless ping-pong at its limit", () => {
  const net = new MemoryNetwork({ delay: () => 0.001 });
  const a = net.open("10.0.0.1:1");
  const b = net.open("10.0.0.2:2");
  void a.serve(echo);
  void b.serve(echo);
  a.send(packet(1), b.localAddress);
  assert.equal(net.flush(100), 100);
  assert.equal(net.pending(), 1);
});

Deno.test("MemoryNetwork runs are reproducible for a given delay sequence (property)", () => {
  const run = (delays: number[]) => {
    let k = 0;
    const net = new MemoryNetwork({
      startTime: START,
      delay: () => (k < delays.length ? delays[k++]! : 0),
    });
    const server = net.open("10.0.0.1:123");
    const clients = [net.open("10.0.0.2:0"), net.open("10.0.0.3:0")];
    const trace: string[] = [];
    void server.serve((d, r) => {
      trace.push(`${d.peer.address}/${d.data[1]}@${d.rxTime}`);
      echo(d, r);
    });
    clients.forEach((c, i) => void c.serve((d) => trace.push(`c${i}/${d.data[1]}@${d.rxTime}`)));
    for (let tag = 0; tag < 6; tag++) clients[tag % 2]!.send(packet(tag), server.localAddress);
    net.flush();
    return trace;
  };
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (d) => {
      const first = run(d);
      assert.equal(first.length, 12);
      assert.deepEqual(run(d), first);
    }),
    { seed: SEED },
  );
});

Deno.test("MemoryTransport.sendRequest() sends unchanged and reports the host clock as kernel time", () => {
  const net = new MemoryNetwork({ startTime: START });
  const server = net.open("10.0.0.1:123");
  const client = net.open("10.0.0.2:0", { clock: () => addSec(net.now, 0.25) });
  const got: Uint8Array[] = [];
  void server.serve((d) => got.push(d.data.slice()));
  const reports: { time: NtpTime; kernel: boolean }[] = [];
  assert.equal(client.sendRequest(packet(4), server.localAddress, (t) => reports.push(t)), true);
  assert.deepEqual(reports, [{ time: addSec(START, 0.25), kernel: true }]);
  net.flush();
  assert.deepEqual(got, [packet(4)]);
  const v6: unknown[] = [];
  assert.equal(
    client.sendRequest(packet(5), { family: 6, address: "::1", port: 1 }, (t) => v6.push(t)),
    false,
  );
  assert.deepEqual(v6, [], "nothing reported for a datagram that was not sent");
});
