import assert from "node:assert/strict";
import { UdpRelay } from "./udp_relay.ts";
import type { Shaping } from "./udp_relay_shaping.ts";

function freePort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const p = (s.addr as Deno.NetAddr).port;
  s.close();
  return p;
}

/** A server that answers every 48-byte datagram with the request's transmit field as origin. */
function startEchoServer(): { port: number; stop(): Promise<void> } {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    try {
      for (let k = 0; k < 1000; k++) {
        const [data, from] = await sock.receive();
        const out = new Uint8Array(48);
        out.set(data.subarray(40, 48), 24);
        out[0] = 0x24; // version 4, mode 4
        await sock.send(out, from);
      }
    } catch { /* closed */ }
  })();
  return {
    port: (sock.addr as Deno.NetAddr).port,
    stop: async () => {
      sock.close();
      await done;
    },
  };
}

async function withRelay(
  shaping: Shaping,
  fn: (port: number, relay: UdpRelay) => Promise<void>,
): Promise<void> {
  const server = startEchoServer();
  const port = freePort();
  const relay = new UdpRelay({
    listen: { address: "127.0.0.1", port },
    server: { address: "127.0.0.1", port: server.port },
    upstreamBind: "127.0.0.1",
    shaping,
    seed: 1,
    // In-process with the test's client and server: never block their event loop for long.
    idleBlockMs: 1,
    yieldEveryMs: 0,
  });
  let ready!: () => void;
  const isReady = new Promise<void>((r) => ready = r);
  const running = relay.run(ready);
  try {
    await isReady;
    await fn(port, relay);
  } finally {
    relay.stop();
    await running;
    await server.stop();
  }
}

function request(id: number): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = 0x23; // version 4, mode 3
  new DataView(b.buffer).setUint32(44, id);
  return b;
}

/** Sends `n` requests one at a time; returns each round trip (ms), or null when none came. */
async function roundTrips(port: number, n: number, waitMs: number): Promise<(number | null)[]> {
  const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const out: (number | null)[] = [];
  try {
    for (let k = 0; k < n; k++) {
      const t0 = performance.now();
      await c.send(request(k + 1), { transport: "udp", hostname: "127.0.0.1", port });
      const got = await Promise.race([
        c.receive().then(([d]) => d),
        new Promise<null>((r) => setTimeout(() => r(null), waitMs)),
      ]);
      if (got === null) {
        out.push(null);
        continue;
      }
      assert.equal(new DataView(got.buffer, got.byteOffset).getUint32(28), k + 1, "origin");
      out.push(performance.now() - t0);
    }
  } finally {
    c.close();
  }
  return out;
}

Deno.test("UdpRelay delays each direction by its own amount from the kernel receive time", async () => {
  await withRelay(
    { up: { baseSec: 0.03 }, down: { baseSec: 0.02 } },
    async (port, relay) => {
      const rtt = await roundTrips(port, 5, 2000);
      assert.ok(rtt.every((x) => x !== null), `lost: ${rtt}`);
      const ms = (rtt as number[]).sort((a, b) => a - b);
      // Never early: the whole 50 ms is applied. Not doubled or applied twice: the median is
      // well below 100 ms even with a busy machine's scheduling latency on top.
      assert.ok(ms[0]! >= 50, `shortest round trip ${ms[0]} ms < 50 ms`);
      assert.ok(ms[2]! < 90, `median round trip ${ms[2]} ms`);
      const s = relay.stats();
      assert.deepEqual(s.clients["127.0.0.1"], {
        requests: 5,
        requestsDropped: 0,
        replies: 5,
        repliesDropped: 0,
        repliesSent: 5,
      });
      assert.equal(s.sends, 10);
      assert.equal(s.noTimestamp, 0, "kernel receive timestamps");
      assert.equal(s.unmatched, 0);
    },
  );
});

Deno.test("UdpRelay drops by the model and counts short and unmatched datagrams", async () => {
  await withRelay(
    { up: { baseSec: 0, lossProb: 1 }, down: { baseSec: 0 } },
    async (port, relay) => {
      const rtt = await roundTrips(port, 3, 150);
      assert.deepEqual(rtt, [null, null, null]);
      const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      await c.send(new Uint8Array(10), { transport: "udp", hostname: "127.0.0.1", port });
      c.close();
      for (let k = 0; k < 40 && relay.stats().malformed === 0; k++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const s = relay.stats();
      assert.equal(s.clients["127.0.0.1"]!.requests, 4);
      assert.equal(s.clients["127.0.0.1"]!.requestsDropped, 3);
      assert.equal(s.malformed, 1);
      assert.equal(s.sends, 0);
    },
  );
});
