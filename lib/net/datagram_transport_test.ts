// Tests of the Deno.listenDatagram fallback transport on loopback (needs --unstable-net).

import assert from "node:assert/strict";
import { fromUnix, writeUnixTimestamp } from "../proto/ntp_time.ts";
import type { SocketAddress, TransmitTimestamp } from "./transport.ts";
import { DatagramTransport, portableRealtime } from "./datagram_transport.ts";
import type { RealtimeReader } from "./udp_transport.ts";
import { CopyTransmit, request, within } from "./_test_helpers.ts";

const FIXED_CLOCK: RealtimeReader = () => [1_800_000_000, 987_654_321];

async function roundTrip(host: string): Promise<void> {
  const server = new DatagramTransport({ address: host, clock: FIXED_CLOCK });
  const client = new DatagramTransport({ address: host });
  try {
    assert.equal(server.kernelTimestamps, false);
    assert.equal(server.localAddress.address, host);
    assert.ok(server.localAddress.port > 0);
    const seen: { rxTime: bigint; kernel: boolean; peer: SocketAddress }[] = [];
    const served = server.serve((d, r) => {
      seen.push({ rxTime: d.rxTime, kernel: d.rxKernel, peer: d.peer });
      r.buffer.set(d.data);
      r.length = d.data.length;
      r.stampTransmit = true;
    });
    let replied!: (v: Uint8Array) => void;
    const reply = new Promise<Uint8Array>((r) => (replied = r));
    const clientServed = client.serve((d) => replied(d.data.slice()));
    client.send(request(9), server.localAddress);
    const got = await within(reply, 2000, "reply");
    assert.deepEqual(got.subarray(0, 40), request(9).subarray(0, 40));
    const want = new Uint8Array(48);
    writeUnixTimestamp(new DataView(want.buffer), 40, ...FIXED_CLOCK());
    assert.deepEqual(got.subarray(40), want.subarray(40));
    assert.deepEqual(seen, [{
      rxTime: fromUnix(...FIXED_CLOCK()),
      kernel: false,
      peer: client.localAddress,
    }]);
    server.close();
    client.close();
    await within(Promise.all([served, clientServed]), 2000, "serve() after close()");
    assert.deepEqual(server.stats(), {
      received: 1,
      sent: 1,
      sendErrors: 0,
      noKernelTimestamp: 0,
      truncated: 0,
    });
  } finally {
    server.close();
    client.close();
  }
}

Deno.test("DatagramTransport answers over IPv4 with clock-read receive times", () =>
  roundTrip("127.0.0.1"));

Deno.test("DatagramTransport answers over IPv6", () => roundTrip("::1"));

Deno.test("DatagramTransport.send() stamps a copy and flush() waits for it", async () => {
  const server = new DatagramTransport({ address: "127.0.0.1" });
  const client = new DatagramTransport({ address: "127.0.0.1", clock: FIXED_CLOCK });
  try {
    let got!: (v: Uint8Array) => void;
    const arrived = new Promise<Uint8Array>((r) => (got = r));
    const served = server.serve((d) => got(d.data.slice()));
    const req = request(1);
    client.send(req, server.localAddress, true);
    await client.flush();
    assert.equal(client.stats().sent, 1);
    assert.deepEqual(req, request(1), "the caller's buffer is not modified");
    const data = await within(arrived, 2000, "datagram");
    const want = new Uint8Array(48);
    writeUnixTimestamp(new DataView(want.buffer), 40, ...FIXED_CLOCK());
    assert.deepEqual(data.subarray(40), want.subarray(40));
    server.close();
    await served;
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("DatagramTransport runs a reply's finalize step after its transmit stamp", async () => {
  const server = new DatagramTransport({ address: "127.0.0.1", clock: FIXED_CLOCK });
  const client = new DatagramTransport({ address: "127.0.0.1" });
  try {
    const fin = new CopyTransmit();
    const served = server.serve((d, r) => {
      r.buffer.set(d.data);
      r.length = d.data.length;
      r.stampTransmit = true;
      r.finalize = fin;
    });
    const got: Uint8Array[] = [];
    let arrived!: () => void;
    const two = new Promise<void>((r) => (arrived = r));
    const clientServed = client.serve((d) => {
      got.push(d.data.slice());
      if (got.length === 2) arrived();
    });
    client.send(request(4, 56), server.localAddress);
    server.send(request(5, 56), client.localAddress, true, fin);
    await within(two, 2000, "two datagrams");
    const stamp = new Uint8Array(8);
    writeUnixTimestamp(new DataView(stamp.buffer), 0, ...FIXED_CLOCK());
    for (const g of got) assert.deepEqual(g.subarray(48, 56), stamp);
    assert.equal(fin.calls, 2);
    server.close();
    client.close();
    await Promise.all([served, clientServed]);
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("DatagramTransport counts datagrams larger than its buffer as truncated", async () => {
  const server = new DatagramTransport({ address: "127.0.0.1", bufferBytes: 512 });
  const client = new DatagramTransport({ address: "127.0.0.1" });
  try {
    const sizes: number[] = [];
    let next!: () => void;
    const small = new Promise<void>((r) => (next = r));
    const served = server.serve((d) => {
      sizes.push(d.data.length);
      next();
    });
    client.send(new Uint8Array(600), server.localAddress);
    client.send(new Uint8Array(512), server.localAddress);
    await within(small, 2000, "the fitting datagram");
    assert.deepEqual(sizes, [512]);
    assert.equal(server.stats().truncated, 1);
    server.close();
    await served;
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("DatagramTransport binds a wildcard and loopback on one port with reuseAddress", () => {
  const a = new DatagramTransport({ address: "0.0.0.0", reuseAddress: true });
  try {
    const b = new DatagramTransport({
      address: "127.0.0.1",
      port: a.localAddress.port,
      reuseAddress: true,
    });
    assert.equal(b.localAddress.port, a.localAddress.port);
    b.close();
  } finally {
    a.close();
  }
});

Deno.test("DatagramTransport.serve() rejects a second call and ends on close()", async () => {
  const t = new DatagramTransport({ address: "127.0.0.1" });
  const served = t.serve(() => {});
  await assert.rejects(t.serve(() => {}), /already running/);
  t.close();
  await within(served, 2000, "serve() after close()");
  t.send(request(1), { family: 4, address: "127.0.0.1", port: 9 });
  assert.equal(t.stats().sendErrors, 1);
});

Deno.test("portableRealtime() reads the realtime clock without FFI", () => {
  const [sec, nsec] = portableRealtime();
  assert.ok(Math.abs(sec - Date.now() / 1000) < 2);
  assert.ok(Number.isInteger(nsec) && nsec >= 0 && nsec < 1e9);
});

Deno.test("DatagramTransport.sendRequest() reports the clock read just before the send", async () => {
  const server = new DatagramTransport({ address: "127.0.0.1" });
  const client = new DatagramTransport({ address: "127.0.0.1", clock: FIXED_CLOCK });
  try {
    let received!: (v: Uint8Array) => void;
    const got = new Promise<Uint8Array>((r) => (received = r));
    const served = server.serve((d) => received(d.data.slice()));
    const reports: TransmitTimestamp[] = [];
    assert.equal(client.sendRequest(request(4), server.localAddress, (t) => reports.push(t)), true);
    assert.deepEqual(await within(got, 2000, "request"), request(4));
    assert.deepEqual(reports, [{ time: fromUnix(...FIXED_CLOCK()), kernel: false }]);
    assert.equal(client.txTimestamps, false);
    server.close();
    await served;
  } finally {
    server.close();
    client.close();
  }
});
