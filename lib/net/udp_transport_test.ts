// Tests of the FFI UDP transport on loopback (127.0.0.1 and ::1, ephemeral ports): round
// trips, kernel timestamps, transmit stamps, batches, truncation, close and event-loop fairness.

import assert from "node:assert/strict";
import { OsError, realtime } from "../../ffi/libc.ts";
import { SocketErrno, TxTimestamper } from "../../ffi/socket.ts";
import { IpWords } from "../proto/ip.ts";
import { diffSec, fromUnix, writeUnixTimestamp } from "../proto/ntp_time.ts";
import type { ReceivedDatagram, SocketAddress, TransmitTimestamp } from "./transport.ts";
import { type RealtimeReader, UdpTransport, type UdpTransportOptions } from "./udp_transport.ts";
import { CopyTransmit, request, within } from "./_test_helpers.ts";

const FIXED_CLOCK: RealtimeReader = () => [1_800_000_000, 123_456_789];

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function echo(d: ReceivedDatagram, r: { buffer: Uint8Array; length: number }): void {
  r.buffer.set(d.data);
  r.length = d.data.length;
}

/** Serves `t` collecting copies of what it receives; `until(n)` resolves after n datagrams. */
function collect(t: UdpTransport) {
  const got: { data: Uint8Array; peer: SocketAddress }[] = [];
  let want = Infinity;
  let done = deferred<void>();
  const served = t.serve((d) => {
    got.push({ data: d.data.slice(), peer: d.peer });
    if (got.length >= want) done.resolve();
  });
  return {
    got,
    served,
    until(n: number, ms = 3000): Promise<void> {
      want = n;
      done = deferred<void>();
      if (got.length >= n) done.resolve();
      return within(done.promise, ms, `${n} datagrams (have ${got.length})`);
    },
  };
}

/** Runs `body` with a server transport and a client one, closing both however it ends. */
async function withServerAndClient(
  options: UdpTransportOptions,
  body: (server: UdpTransport, client: UdpTransport) => Promise<void>,
  clientAddress = "127.0.0.1",
): Promise<void> {
  const server = new UdpTransport(options);
  const client = new UdpTransport({ address: clientAddress });
  try {
    await body(server, client);
  } finally {
    server.close();
    client.close();
  }
}

async function roundTrip(host: string): Promise<void> {
  await withServerAndClient({ address: host, clock: FIXED_CLOCK }, async (server, client) => {
    assert.equal(server.localAddress.address, host);
    assert.ok(server.localAddress.port > 0, "ephemeral port reported");
    assert.equal(server.kernelTimestamps, true);
    const seen: { rxTime: bigint; kernel: boolean; peer: SocketAddress }[] = [];
    const served = server.serve((d, r) => {
      seen.push({ rxTime: d.rxTime, kernel: d.rxKernel, peer: d.peer });
      echo(d, r);
      r.stampTransmit = true;
    });
    const c = collect(client);
    const sentAt = realtime();
    client.send(request(7), server.localAddress);
    await c.until(1);
    const reply = c.got[0]!;
    assert.deepEqual(reply.data.subarray(0, 40), request(7).subarray(0, 40), "echoed");
    const want = new Uint8Array(48);
    writeUnixTimestamp(new DataView(want.buffer), 40, ...FIXED_CLOCK());
    assert.deepEqual(reply.data.subarray(40, 48), want.subarray(40, 48), "transmit stamped");
    assert.deepEqual(reply.peer, server.localAddress);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.kernel, true);
    const lagSec = diffSec(seen[0]!.rxTime, fromUnix(...sentAt));
    assert.ok(Math.abs(lagSec) < 0.05, `kernel timestamp ${lagSec} s from clock_gettime`);
    assert.deepEqual(seen[0]!.peer, client.localAddress);
    server.close();
    client.close();
    await within(Promise.all([served, c.served]), 2000, "serve() after close()");
    assert.deepEqual(server.stats(), {
      received: 1,
      sent: 1,
      sendErrors: 0,
      noKernelTimestamp: 0,
      truncated: 0,
      batches: 1,
      receiveErrors: 0,
      polls: server.stats().polls,
      blockingWaits: 0,
      // Handling the one batch may outlast maxBusyMs on a busy machine and yield: not counted.
      yields: server.stats().yields,
      txTimestamped: 0,
      txTimestampMissing: 0,
      txReportsUnmatched: 0,
    });
  }, host);
}

Deno.test("UdpTransport answers over IPv4 with kernel timestamps and transmit stamps", () =>
  roundTrip("127.0.0.1"));

Deno.test("UdpTransport answers over IPv6 with kernel timestamps and transmit stamps", () =>
  roundTrip("::1"));

Deno.test("UdpTransport without kernel timestamps takes rxTime from the injected clock", async () => {
  await withServerAndClient({
    address: "127.0.0.1",
    clock: FIXED_CLOCK,
    kernelTimestamps: false,
  }, async (server, client) => {
    assert.equal(server.kernelTimestamps, false);
    const seen = deferred<{ rxTime: bigint; kernel: boolean }>();
    const served = server.serve((d) => seen.resolve({ rxTime: d.rxTime, kernel: d.rxKernel }));
    client.send(request(1), server.localAddress);
    const s = await within(seen.promise, 2000, "datagram");
    assert.equal(s.kernel, false);
    assert.equal(s.rxTime, fromUnix(...FIXED_CLOCK()));
    assert.equal(server.stats().noKernelTimestamp, 0, "not counted when not requested");
    server.close();
    await served;
  });
});

Deno.test("UdpTransport leaves the transmit timestamp alone unless asked", async () => {
  await withServerAndClient(
    { address: "127.0.0.1", clock: FIXED_CLOCK },
    async (server, client) => {
      const served = server.serve(echo);
      const c = collect(client);
      client.send(request(3), server.localAddress);
      await c.until(1);
      assert.deepEqual(c.got[0]!.data, request(3));
      server.close();
      client.close();
      await Promise.all([served, c.served]);
    },
  );
});

Deno.test("UdpTransport runs a reply's finalize step after its transmit stamp (serve and send)", async () => {
  await withServerAndClient(
    { address: "127.0.0.1", clock: FIXED_CLOCK },
    async (server, client) => {
      const fin = new CopyTransmit();
      let plainNext = false;
      const served = server.serve((d, r) => {
        echo(d, r);
        r.stampTransmit = true;
        if (!plainNext) r.finalize = fin;
        plainNext = !plainNext;
      });
      const c = collect(client);
      const stamp = new Uint8Array(8);
      writeUnixTimestamp(new DataView(stamp.buffer), 0, ...FIXED_CLOCK());
      client.send(request(1, 56), server.localAddress);
      await c.until(1);
      assert.deepEqual(c.got[0]!.data.subarray(48, 56), stamp, "finalized after the stamp");
      // The slot's finalize is reset for the next datagram.
      client.send(request(2, 56), server.localAddress);
      await c.until(2);
      assert.deepEqual(c.got[1]!.data.subarray(48, 56), new Uint8Array(8));
      assert.equal(fin.calls, 1);
      // send(): stamped and finalized on a copy; the caller's bytes stay as they were.
      const req = request(3, 56);
      server.send(req, client.localAddress, true, fin);
      await c.until(3);
      assert.deepEqual(c.got[2]!.data.subarray(48, 56), stamp);
      assert.deepEqual(req, request(3, 56));
      server.close();
      client.close();
      await Promise.all([served, c.served]);
    },
  );
});

Deno.test("UdpTransport answers a burst of 200 datagrams in batches", async () => {
  await withServerAndClient({ address: "127.0.0.1", batchSize: 32 }, async (server, client) => {
    const served = server.serve((d, r) => {
      echo(d, r);
      r.stampTransmit = true;
    });
    const c = collect(client);
    for (let id = 0; id < 200; id++) client.send(request(id), server.localAddress);
    await c.until(200);
    const ids = new Set(c.got.map((g) => new DataView(g.data.buffer).getUint32(8)));
    assert.equal(ids.size, 200);
    const s = server.stats();
    assert.equal(s.received, 200);
    assert.equal(s.sent, 200);
    assert.equal(s.sendErrors, 0);
    assert.ok(s.batches >= 7, "a 32-datagram batch cannot hold more");
    server.close();
    client.close();
    await Promise.all([served, c.served]);
  });
});

Deno.test("UdpTransport on a dual-stack IPv6 socket sees IPv4 peers as IPv4", async () => {
  await withServerAndClient({ address: "::", v6Only: false }, async (server, client) => {
    const peer = deferred<SocketAddress>();
    const served = server.serve((d, r) => {
      peer.resolve(d.peer);
      echo(d, r);
    });
    const c = collect(client);
    client.send(request(5), { family: 4, address: "127.0.0.1", port: server.localAddress.port });
    await c.until(1);
    assert.deepEqual(await peer.promise, client.localAddress);
    server.close();
    client.close();
    await Promise.all([served, c.served]);
  });
});

Deno.test("UdpTransport counts and drops datagrams larger than its buffers", async () => {
  await withServerAndClient({ address: "127.0.0.1", bufferBytes: 512 }, async (server, client) => {
    const sizes: number[] = [];
    const next = deferred<void>();
    const served = server.serve((d) => {
      sizes.push(d.data.length);
      next.resolve();
    });
    client.send(new Uint8Array(600), server.localAddress);
    client.send(request(1), server.localAddress);
    await within(next.promise, 2000, "the small datagram");
    assert.deepEqual(sizes, [48]);
    assert.equal(server.stats().truncated, 1);
    assert.equal(server.stats().received, 1);
    server.close();
    await served;
  });
});

Deno.test("UdpTransport counts replies longer than the slot as send errors", async () => {
  await withServerAndClient({ address: "127.0.0.1", bufferBytes: 256 }, async (server, client) => {
    const handled = deferred<void>();
    const served = server.serve((_d, r) => {
      r.length = 257;
      handled.resolve();
    });
    client.send(request(1), server.localAddress);
    await within(handled.promise, 2000, "handler");
    server.close();
    await served;
    assert.equal(server.stats().sendErrors, 1);
    assert.equal(server.stats().sent, 0);
  });
});

Deno.test("UdpTransport.close() makes a waiting serve() resolve without its poll timeout", async () => {
  const t = new UdpTransport({ address: "127.0.0.1", pollTimeoutMs: 30_000 });
  const served = t.serve(() => {});
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(t.stats().polls, 1, "waiting in poll()");
  const t0 = performance.now();
  t.close();
  await within(served, 5000, "serve() after close()");
  assert.ok(performance.now() - t0 < 5000);
});

Deno.test("UdpTransport.serve() resolves at once after close() and rejects a second call", async () => {
  const a = new UdpTransport({ address: "127.0.0.1" });
  const served = a.serve(() => {});
  await assert.rejects(a.serve(() => {}), /already running/);
  a.close();
  await served;
  await a.serve(() => {});
  a.close();
});

Deno.test("UdpTransport.serve() rejects when the handler throws", async () => {
  await withServerAndClient({ address: "127.0.0.1" }, async (server, client) => {
    const served = server.serve(() => {
      throw new Error("handler bug");
    });
    client.send(request(1), server.localAddress);
    await assert.rejects(within(served, 2000, "serve() to reject"), /handler bug/);
  });
});

Deno.test("UdpTransport.send() counts impossible sends instead of throwing", () => {
  const t = new UdpTransport({ address: "127.0.0.1" });
  try {
    t.send(request(1), { family: 6, address: "2001:db8::1", port: 123 });
    t.send(request(1), { family: 4, address: "not an address", port: 123 });
    assert.equal(t.stats().sendErrors, 2);
    t.close();
    t.send(request(1), { family: 4, address: "127.0.0.1", port: 9 });
    assert.equal(t.stats().sendErrors, 3);
  } finally {
    t.close();
  }
});

/** Sends request `id` from a transport with kernel transmit timestamps to a server; checks it. */
async function timedRequest(host: string): Promise<void> {
  const server = new UdpTransport({ address: host });
  const client = new UdpTransport({ address: host, txTimestamps: true });
  try {
    assert.equal(client.txTimestamps, true);
    const rx = deferred<{ data: Uint8Array; rxTime: bigint; kernel: boolean }>();
    const served = server.serve((d) =>
      rx.resolve({ data: d.data.slice(), rxTime: d.rxTime, kernel: d.rxKernel })
    );
    const reports: TransmitTimestamp[] = [];
    const before = fromUnix(...realtime());
    assert.equal(client.sendRequest(request(5), server.localAddress, (t) => reports.push(t)), true);
    const got = await within(rx.promise, 2000, "request");
    assert.deepEqual(got.data, request(5), "sent unchanged: the transmit timestamp is the core's");
    assert.deepEqual(reports.map((r) => r.kernel), [false, true], "a clock read, then the kernel");
    const [read, kernel] = reports;
    assert.ok(diffSec(read!.time, before) >= 0, "the clock is read at the send call");
    const readToKernel = diffSec(kernel!.time, read!.time);
    assert.ok(readToKernel >= 0 && readToKernel < 0.05, `kernel stamp ${readToKernel} s later`);
    assert.equal(got.kernel, true);
    const path = diffSec(got.rxTime, kernel!.time);
    assert.ok(path >= 0 && path < 0.05, `received ${path} s after the kernel sent it`);
    assert.equal(client.stats().txTimestamped, 1);
    server.close();
    await served;
  } finally {
    server.close();
    client.close();
  }
}

Deno.test("UdpTransport.sendRequest() reports a clock read, then the kernel transmit timestamp (IPv4)", () =>
  timedRequest("127.0.0.1"));

Deno.test("UdpTransport.sendRequest() reports a clock read, then the kernel transmit timestamp (IPv6)", () =>
  timedRequest("::1"));

Deno.test("UdpTransport timestamps requests only: replies and send() do not shift the numbering", async () => {
  const server = new UdpTransport({ address: "127.0.0.1", txTimestamps: true });
  const client = new UdpTransport({ address: "127.0.0.1", txTimestamps: true });
  try {
    const served = server.serve((d, r) => {
      echo(d, r);
      r.stampTransmit = true;
    });
    const c = collect(client);
    const kernelReports: number[] = [];
    const ask = (id: number) =>
      client.sendRequest(request(id), server.localAddress, (t) => {
        if (t.kernel) kernelReports.push(id);
      });
    ask(1);
    client.send(request(2), server.localAddress);
    ask(3);
    await c.until(3);
    ask(4);
    await c.until(4);
    assert.deepEqual(kernelReports, [1, 3, 4]);
    assert.equal(client.stats().txReportsUnmatched, 0);
    assert.equal(client.stats().noKernelTimestamp, 0, "replies still carry receive timestamps");
    assert.equal(server.stats().txTimestamped, 0, "the server's replies asked for nothing");
    assert.equal(server.stats().txReportsUnmatched, 0);
    server.close();
    client.close();
    await Promise.all([served, c.served]);
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("UdpTransport.sendRequest() without txTimestamps reports the clock read only", async () => {
  await withServerAndClient({ address: "127.0.0.1" }, async (server, client) => {
    assert.equal(client.txTimestamps, false);
    const c = collect(server);
    const reports: TransmitTimestamp[] = [];
    const clocked = new UdpTransport({ address: "127.0.0.1", clock: FIXED_CLOCK });
    try {
      assert.equal(
        clocked.sendRequest(request(1), server.localAddress, (t) => reports.push(t)),
        true,
      );
      await c.until(1);
      assert.deepEqual(reports, [{ time: fromUnix(...FIXED_CLOCK()), kernel: false }]);
      assert.equal(
        clocked.sendRequest(request(2), { family: 6, address: "::1", port: 9 }, () => {}),
        false,
        "no IPv6 on an IPv4 socket",
      );
      assert.equal(clocked.stats().sendErrors, 1);
    } finally {
      clocked.close();
    }
    server.close();
    await c.served;
  });
});

Deno.test("UdpTransport reads a late transmit report from the error queue instead of spinning", async () => {
  const t = new UdpTransport({ address: "127.0.0.1", txTimestamps: true, pollTimeoutMs: 500 });
  const sink = new UdpTransport({ address: "127.0.0.1" });
  try {
    const served = t.serve(() => {});
    // Let serve() park in poll(), then queue a report nobody asked for through the same socket:
    // poll() wakes with POLLERR, and the loop must read it (not poll again and again).
    await new Promise((r) => setTimeout(r, 50));
    const polls0 = t.stats().polls;
    const to = new Uint8Array(16);
    to.set([2, 0, sink.localAddress.port >> 8, sink.localAddress.port & 0xff, 127, 0, 0, 1]);
    assert.equal(new TxTimestamper().send(t.fd, request(9), to, 16, true), 48);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(t.stats().txReportsUnmatched, 1, "the report was read and dropped");
    assert.ok(t.stats().polls - polls0 <= 3, `${t.stats().polls - polls0} polls in 300 ms`);
    t.close();
    await within(served, 2000, "serve() after close()");
  } finally {
    t.close();
    sink.close();
  }
});

Deno.test("UdpTransport sets SO_RCVBUF and shares a port only with SO_REUSEPORT", () => {
  const rmemMax = Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_max"));
  const a = new UdpTransport({
    address: "127.0.0.1",
    reusePort: true,
    receiveBufferBytes: 1 << 18,
  });
  try {
    assert.equal(a.receiveBufferBytes, 2 * Math.min(1 << 18, rmemMax));
    const b = new UdpTransport({
      address: "127.0.0.1",
      port: a.localAddress.port,
      reusePort: true,
    });
    b.close();
    assert.throws(
      () => new UdpTransport({ address: "127.0.0.1", port: a.localAddress.port }),
      (e: unknown) => e instanceof OsError && e.errno === SocketErrno.EADDRINUSE,
    );
    assert.throws(() => new UdpTransport({ address: "127.0.0.300" }), TypeError);
  } finally {
    a.close();
  }
});

const FLOOD_WORKER = `
self.onmessage = async (e) => {
  const { socketModule, port, maxCount, maxMs } = e.data;
  const S = await import(socketModule);
  const fd = S.openUdpSocket(4);
  const batch = new S.MmsgBatch({ count: 64, bufferBytes: 64, controlBytes: 0 });
  const dest = new Uint8Array(new ArrayBuffer(16));
  S.encodeSockaddrIn(dest, [127, 0, 0, 1], port);
  for (let j = 0; j < 64; j++) {
    batch.txBuffer(j)[0] = 0x23;
    batch.setTx(j, j, 48, dest);
  }
  let sent = 0;
  const t0 = performance.now();
  while (sent < maxCount && performance.now() - t0 < maxMs) {
    const r = S.sendBatch(fd, batch, 0, 64);
    if (r > 0) sent += r;
  }
  S.closeSocket(fd);
  self.postMessage({ sent });
};
`;

Deno.test("UdpTransport keeps timers running while a flood keeps it busy", async () => {
  const server = new UdpTransport({ address: "127.0.0.1" });
  const url = URL.createObjectURL(new Blob([FLOOD_WORKER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    let timerSet = false;
    let receivedWhenTimerFired = -1;
    const served = server.serve((d, r) => {
      if (!timerSet) {
        timerSet = true;
        setTimeout(() => (receivedWhenTimerFired = server.stats().received), 5);
      }
      // A slow handler (about 20 µs) so the flood outruns the server and the socket never empties.
      const end = performance.now() + 0.02;
      while (performance.now() < end);
      echo(d, r);
    });
    const finished = deferred<number>();
    worker.onmessage = (e) => finished.resolve(e.data.sent);
    worker.postMessage({
      socketModule: new URL("../../ffi/socket.ts", import.meta.url).href,
      port: server.localAddress.port,
      maxCount: 100_000,
      maxMs: 1500,
    });
    const sent = await within(finished.promise, 10_000, "flood worker");
    // Let the server drain what is queued (bounded: at most 5 s).
    let last = -1;
    for (let k = 0; k < 250 && server.stats().received !== last; k++) {
      last = server.stats().received;
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = server.stats();
    assert.ok(sent > 0 && s.received > 0);
    assert.ok(receivedWhenTimerFired > 0, "the timer fired");
    assert.ok(
      receivedWhenTimerFired < s.received,
      `timer fired while busy (${receivedWhenTimerFired} of ${s.received} handled)`,
    );
    assert.ok(s.yields > 0);
    server.close();
    await served;
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
    server.close();
  }
});

/** A client thread that sends a request, spins until its reply is back, and repeats. */
const PING_WORKER = `
self.onmessage = async (e) => {
  const { socketModule, port, count } = e.data;
  const S = await import(socketModule);
  const fd = S.openUdpSocket(4);
  const dest = new Uint8Array(new ArrayBuffer(16));
  S.encodeSockaddrIn(dest, [127, 0, 0, 1], port);
  const batch = new S.MmsgBatch({ count: 1, bufferBytes: 64, controlBytes: 0 });
  const req = new Uint8Array(48);
  req[0] = 0x23;
  let answered = 0;
  for (let i = 0; i < count; i++) {
    S.sendTo(fd, req, dest);
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      if (S.receiveBatch(fd, batch, 1, S.MSG_DONTWAIT) > 0) {
        batch.resetReceive(1);
        answered++;
        break;
      }
    }
  }
  S.closeSocket(fd);
  self.postMessage({ answered });
};
`;

async function pingPong(options: Partial<UdpTransportOptions>, count: number) {
  const server = new UdpTransport({ address: "127.0.0.1", ...options });
  const url = URL.createObjectURL(new Blob([PING_WORKER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    const served = server.serve(echo);
    const finished = deferred<number>();
    worker.onmessage = (e) => finished.resolve(e.data.answered);
    worker.postMessage({
      socketModule: new URL("../../ffi/socket.ts", import.meta.url).href,
      port: server.localAddress.port,
      count,
    });
    const answered = await within(finished.promise, 20_000, "ping worker");
    server.close();
    await served;
    return { answered, stats: server.stats() };
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
    server.close();
  }
}

Deno.test("UdpTransport under load waits for the next datagram on its own thread", async () => {
  // Every datagram counts as load here, and the wait is long enough for the client thread's
  // turnaround: each request after the first arrives during a blocking wait.
  const { answered, stats } = await pingPong({ blockingWaitMs: 50, blockingWaitAfter: 1 }, 20);
  assert.equal(answered, 20);
  assert.equal(stats.received, 20);
  assert.ok(stats.blockingWaits >= 10, `blocking waits ${stats.blockingWaits}`);
  assert.ok(stats.polls < 10, `helper-thread polls ${stats.polls}`);
});

Deno.test("UdpTransport with light traffic never blocks its thread", async () => {
  // One datagram at a time is far below the default threshold (half a batch since the last
  // helper-thread wake), so every empty socket is awaited on the helper thread.
  const { answered, stats } = await pingPong({ blockingWaitMs: 50 }, 20);
  assert.equal(answered, 20);
  assert.equal(stats.blockingWaits, 0);
  assert.ok(stats.polls >= 20, `helper-thread polls ${stats.polls}`);
});

Deno.test("UdpTransport datagrams read their sender into IpWords as peer shows it (IPv4, IPv6)", async () => {
  for (const host of ["127.0.0.1", "::1"]) {
    await withServerAndClient({ address: host }, async (server, client) => {
      const seen: { words: string; port: number; peer: SocketAddress }[] = [];
      const done = deferred<void>();
      const served = server.serve((d) => {
        const w = new IpWords();
        const port = d.readPeer!(w);
        seen.push({ words: w.toString(), port, peer: d.peer });
        done.resolve();
      });
      client.send(request(1), server.localAddress);
      await within(done.promise, 3000, "one datagram");
      assert.deepEqual(seen, [{
        words: host,
        port: client.localAddress.port,
        peer: { family: host.includes(":") ? 6 : 4, address: host, port: client.localAddress.port },
      }]);
      server.close();
      await served;
    }, host);
  }
});
