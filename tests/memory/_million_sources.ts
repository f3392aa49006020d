// Feeds a million requests from a million distinct IPv4 addresses through the daemon's packet
// path on an in-memory network (restrict default limited kod: every client recorded or refused
// by the MRU list), forcing a garbage collection at checkpoints, and prints one JSON line with the
// heap and RSS at each checkpoint and the daemon's counters. Run with --v8-flags=--expose-gc.
// deno-lint-ignore-file no-console

import { MemoryNetwork } from "../../lib/net/memory_transport.ts";
import type { SocketAddress } from "../../lib/net/transport.ts";
import { addSec } from "../../lib/proto/ntp_time.ts";
import { Daemon } from "../../lib/daemon/daemon.ts";

const TOTAL = Number(Deno.args[0] ?? 1_000_000);
const BATCH = 20_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

const network = new MemoryNetwork();
const SERVER: SocketAddress = { family: 4, address: "192.0.2.1", port: 123 };
const daemon = new Daemon({
  listen: [SERVER],
  refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
  driftFile: null,
  noSteerReason: null,
  refclockPollSec: 64,
  access: {
    restrict: [{
      match: "default",
      address: "0.0.0.0",
      mask: "0.0.0.0",
      family: "ipv4",
      flags: ["limited", "kod"],
    }],
  },
}, {
  clock: {
    name: "fake",
    canSteer: false,
    precisionLog2: -20,
    now: () => network.now,
    step() {},
    adjust() {},
    kernelState: () => null,
  },
  openTransport: (a) => Promise.resolve(network.open(a, { bufferBytes: 64 })),
  log: { debug() {}, info() {}, warn() {}, error() {} },
  hostAddresses: () => [],
});
await daemon.start();

const request = new Uint8Array(48);
request[0] = 0x23;
request.set([0xe9, 0, 0, 1, 0, 0, 0, 1], 40);
const checkpoints: { sent: number; heapMb: number; rssMb: number }[] = [];
const start = network.now;
for (let sent = 0; sent < TOTAL; sent += BATCH) {
  // One second of network time per batch: the list's oldest entries age, so new clients take
  // their places at the `discard monitor` rate as well as being refused.
  const at = addSec(start, sent / BATCH);
  for (let i = sent; i < Math.min(TOTAL, sent + BATCH); i++) {
    const a = 0x0a000000 + i;
    network.transmit({
      from: {
        family: 4,
        address: `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
        port: 40000 + (i & 0x3ff),
      },
      to: SERVER,
      data: request,
      sentAt: at,
    });
  }
  network.flush(4 * BATCH);
  if ((sent / BATCH) % 10 === 0 || sent + BATCH >= TOTAL) {
    gc();
    const m = Deno.memoryUsage();
    checkpoints.push({ sent: sent + BATCH, heapMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20 });
  }
}
const st = daemon.status();
await daemon.stop();
console.log(JSON.stringify({
  checkpoints,
  received: st.sysstats.received,
  processed: st.sysstats.processed,
  drops: st.sysstats.received - st.sysstats.processed,
  mru: st.mru,
  network: network.stats(),
}));
