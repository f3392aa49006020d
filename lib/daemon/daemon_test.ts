import assert from "node:assert/strict";
import type { Clock } from "../clock/clock.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { readDriftFile, writeDriftFile } from "./drift_file.ts";

function fakeClock(network: MemoryNetwork): Clock {
  return {
    name: "fake",
    canSteer: false,
    precisionLog2: -20,
    now: () => network.now,
    step: () => {},
    adjust: () => {},
    kernelState: () => null,
  };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function exchange(network: MemoryNetwork, server: SocketAddress): Promise<Uint8Array> {
  const client = network.open("127.0.0.2:40000");
  const replies: Uint8Array[] = [];
  const serving = client.serve((d) => void replies.push(d.data.slice()));
  const req = new Uint8Array(48);
  req[0] = 0x23;
  new DataView(req.buffer).setBigUint64(40, fromUnix(1_800_000_000));
  client.send(req, server);
  network.flush();
  client.close();
  await serving;
  assert.equal(replies.length, 1);
  return replies[0]!;
}

Deno.test("Daemon serves stratum fudge+1 with the LOCAL refid and keeps the drift file", async () => {
  const dir = await Deno.makeTempDir();
  const network = new MemoryNetwork();
  try {
    await writeDriftFile(`${dir}/drift`, -3.25);
    const settings: DaemonSettings = {
      listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: `${dir}/drift`,
      noSteerReason: null,
      refclockPollSec: 64,
    };
    const lines: string[] = [];
    const daemon = new Daemon(settings, {
      clock: fakeClock(network),
      openTransport: (a) => Promise.resolve(network.open(a)),
      log: { ...quiet, info: (m) => void lines.push(m) },
    });
    await daemon.start();
    const reply = await exchange(network, settings.listen[0]!);
    assert.equal(reply[0]! & 7, 4);
    assert.equal(reply[0]! >> 6, 0);
    assert.equal(reply[1], 10);
    assert.equal(new DataView(reply.buffer).getUint32(12), 0x7f7f0100);
    assert.equal(daemon.status().driftPpm, -3.25);
    assert.ok(lines.some((l) => l === "synchronized to LOCAL(0), stratum 9"), lines.join("\n"));
    await daemon.stop();
    assert.deepEqual(await readDriftFile(`${dir}/drift`), { ok: true, freqPpm: -3.25 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Daemon without a time source answers unsynchronised", async () => {
  const network = new MemoryNetwork();
  const settings: DaemonSettings = {
    listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
    refclocks: [],
    driftFile: null,
    noSteerReason: null,
    refclockPollSec: 64,
  };
  const daemon = new Daemon(settings, {
    clock: fakeClock(network),
    openTransport: (a) => Promise.resolve(network.open(a)),
    log: quiet,
  });
  await daemon.start();
  const reply = await exchange(network, settings.listen[0]!);
  assert.equal(reply[0]! >> 6, 3);
  assert.equal(reply[1], 0);
  await daemon.stop();
  assert.equal(daemon.status().server.replied, 1);
});
