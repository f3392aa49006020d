import assert from "node:assert/strict";
import type { Clock, ClockAdjustment } from "../clock/clock.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";
import { addSec, diffSec, fromTimestamp, fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { refidFromIpv4 } from "../proto/packet.ts";
import { Server } from "../proto/server.ts";
import { Daemon, type DaemonExit, type DaemonSettings } from "./daemon.ts";
import { readDriftFile, writeDriftFile } from "./drift_file.ts";
import type { Resolver } from "./resolver.ts";
import type { SourceSetting } from "./source_manager.ts";
import type { Timers } from "./timers.ts";
import { ipv6Refid } from "./timekeeper.ts";
import { fakeClock } from "./_test_daemon.ts";

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

Deno.test("Daemon logs a failing status file write once, then again only when it recovers", async () => {
  const dir = await Deno.makeTempDir();
  const network = new MemoryNetwork();
  try {
    const errors: string[] = [];
    const infos: string[] = [];
    const daemon = new Daemon({
      listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: null,
      noSteerReason: null,
      refclockPollSec: 64,
      statusFile: `${dir}/missing/status.json`,
      statusIntervalSec: 0.02,
    }, {
      clock: fakeClock(network),
      openTransport: (a) => Promise.resolve(network.open(a)),
      log: { ...quiet, error: (m) => void errors.push(m), info: (m) => void infos.push(m) },
    });
    await daemon.start();
    await new Promise((r) => setTimeout(r, 200)); // several periodic writes, all failing
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /^cannot write status file .*missing\/status\.json: /);
    await Deno.mkdir(`${dir}/missing`);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(infos.some((l) => /status file .* written again$/.test(l)), infos.join("\n"));
    await daemon.stop();
    assert.equal(errors.length, 1);
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

Deno.test("Daemon: enable/disable monitor, and restrict from the settings on its packet path", async () => {
  for (const monitor of [true, false]) {
    const network = new MemoryNetwork();
    const listen = { family: 4 as const, address: "127.0.0.1", port: 123 };
    const daemon = new Daemon({
      listen: [listen],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: null,
      noSteerReason: null,
      refclockPollSec: 64,
      access: {
        monitor,
        restrict: [{
          match: "address",
          address: "127.0.0.3",
          mask: null,
          family: "ipv4",
          flags: ["ignore"],
        }],
      },
    }, {
      clock: fakeClock(network),
      openTransport: (a) => Promise.resolve(network.open(a)),
      log: quiet,
      hostAddresses: () => [],
    });
    await daemon.start();
    await exchange(network, listen); // from 127.0.0.2: served
    const ignored = network.open("127.0.0.3:40000");
    ignored.send(new Uint8Array(48).fill(0x23, 0, 1).fill(1, 47), listen);
    network.flush();
    ignored.close();
    const st = daemon.status();
    await daemon.stop();
    assert.equal(st.sysstats.received, 2);
    assert.equal(st.sysstats.drops.ignored, 1);
    assert.equal(st.mru.monitoring, monitor);
    assert.equal(st.mru.entries, monitor ? 1 : 0, `monitor ${monitor}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Client mode on a MemoryNetwork with manual timers: the daemon's real code paths, no sockets.

/** Timers on the network's time line. */
class ManualTimers implements Timers {
  #network: MemoryNetwork;
  #queue: { at: NtpTime; fn: () => void; id: number }[] = [];
  #next = 1;
  constructor(network: MemoryNetwork) {
    this.#network = network;
  }
  setTimeout(fn: () => void, delayMs: number): number {
    const id = this.#next++;
    this.#queue.push({ at: addSec(this.#network.now, Math.max(0, delayMs) / 1000), fn, id });
    return id;
  }
  clearTimeout(handle: number): void {
    this.#queue = this.#queue.filter((t) => t.id !== handle);
  }
  /** Runs timers and deliveries in time order until `sec` seconds from now. */
  async run(sec: number): Promise<void> {
    const end = addSec(this.#network.now, sec);
    for (let guard = 0; guard < 1_000_000; guard++) {
      await settle();
      this.#queue.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
      const timer = this.#queue[0];
      const delivery = this.#network.nextDeliveryTime();
      const tAt = timer?.at ?? null;
      if (delivery !== null && delivery <= end && (tAt === null || delivery <= tAt)) {
        this.#network.deliver(delivery);
        continue;
      }
      if (timer === undefined || timer.at > end) break;
      this.#queue.shift();
      this.#network.deliver(timer.at);
      timer.fn();
    }
    this.#network.deliver(end);
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Harness {
  network: MemoryNetwork;
  timers: ManualTimers;
  lines: string[];
  daemon: Daemon;
  /** The client's system clock (never changed in observe mode). */
  systemNow(): NtpTime;
}

/** Perfect stratum-2 servers on `addresses` (port 123) whose clocks read network time. */
function startServers(network: MemoryNetwork, addresses: string[], offsetSec = 0): Transport[] {
  return addresses.map((a) => {
    const t = network.open(`${a}:123`, { clock: () => addSec(network.now, offsetSec) });
    const server = new Server({
      leap: 0,
      stratum: 2,
      precisionLog2: -20,
      rootDelaySec: 0.001,
      rootDispersionSec: 0.001,
      refid: 0x47505300,
      referenceTime: network.now,
    });
    t.serve((d, slot) => {
      slot.length = server.respond(d.data, d.rxTime, slot.buffer);
      slot.stampTransmit = slot.length > 0;
    });
    return t;
  });
}

function clientSettings(over: Partial<DaemonSettings>): DaemonSettings {
  return {
    listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
    refclocks: [],
    driftFile: null,
    noSteerReason: "observe mode",
    refclockPollSec: 64,
    ...over,
  };
}

function source(address: string, kind: "server" | "pool" = "server"): SourceSetting {
  return {
    kind,
    address,
    family: "any",
    port: 123,
    options: { minpoll: 4, maxpoll: 4, iburst: true },
  };
}

async function startClient(
  settings: DaemonSettings,
  opts: { clock?: Clock; systemOffsetSec?: number; resolver?: Resolver; network?: MemoryNetwork } =
    {},
): Promise<Harness> {
  // 1 ms each way: a symmetric path, so measured offsets are exact.
  const network = opts.network ?? new MemoryNetwork({ delay: () => 0.001 });
  const timers = new ManualTimers(network);
  const lines: string[] = [];
  const offset = opts.systemOffsetSec ?? 0;
  const systemNow = () => addSec(network.now, offset);
  const clock: Clock = opts.clock ?? { ...fakeClock(network), now: systemNow };
  const daemon = new Daemon(settings, {
    clock,
    timers,
    log: { ...quiet, info: (m) => void lines.push(m), warn: (m) => void lines.push(m) },
    openTransport: (a, readClock) =>
      Promise.resolve(
        network.open(
          a,
          readClock === undefined
            ? { clock: () => clock.now() }
            : { clock: readClock, kernelTimestamps: false },
        ),
      ),
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
  });
  await daemon.start();
  await daemon.sourcesReady;
  return { network, timers, lines, daemon, systemNow };
}

async function query(h: Harness): Promise<{ stratum: number; refid: number; xmt: NtpTime }> {
  const reply = await exchange(h.network, { family: 4, address: "127.0.0.1", port: 123 });
  const v = new DataView(reply.buffer, reply.byteOffset);
  return {
    stratum: reply[1]!,
    refid: v.getUint32(12),
    xmt: fromTimestamp(v.getBigUint64(40), h.network.now),
  };
}

const GOOD = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

Deno.test("Daemon synchronises to three servers and serves stratum + 1 with its system peer's refid", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, GOOD);
  // The system clock is 40 ms behind: observe mode corrects a virtual clock, not the system one.
  const h = await startClient(clientSettings({ sources: GOOD.map((a) => source(a)) }), {
    network,
    systemOffsetSec: -0.04,
  });
  await h.timers.run(120);
  const st = h.daemon.status();
  assert.ok(st.system !== null);
  assert.equal(st.state.stratum, 3);
  assert.equal(st.state.leap, 0);
  assert.equal(st.source, "network");
  const peer = st.system.associations.find((a) => a.id === st.system!.systemPeer)!;
  assert.ok(GOOD.includes(peer.address.address));
  assert.equal(st.state.refid, refidFromIpv4(peer.address.address));
  assert.ok(
    h.lines.includes(`synchronized to ${peer.address.address}, stratum 2`),
    h.lines.join("\n"),
  );
  for (const a of GOOD) assert.ok(h.lines.some((l) => l.startsWith(`${a} mobilize assoc`)));
  // The correction carries the 40 ms the system clock is off; the system clock itself is not.
  assert.ok(Math.abs(st.systemClockOffsetSec! - 0.04) < 1e-4, `${st.systemClockOffsetSec}`);
  assert.ok(Math.abs(st.observe!.correction.correctionSec - 0.04) < 1e-3);
  assert.ok(Math.abs(diffSec(h.systemNow(), h.network.now) + 0.04) < 1e-9);
  // Clients get stratum 3, the peer's refid and corrected (true) time.
  const r = await query(h);
  assert.equal(r.stratum, 3);
  assert.equal(r.refid, st.state.refid);
  assert.ok(Math.abs(diffSec(r.xmt, h.network.now)) < 2e-3, `${diffSec(r.xmt, h.network.now)}`);
  await h.daemon.stop();
});

Deno.test("Daemon in observe mode steps only its virtual clock and logs ntpd's time reset line", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, GOOD);
  const h = await startClient(clientSettings({ sources: GOOD.map((a) => source(a)) }), {
    network,
    systemOffsetSec: 2,
  });
  await h.timers.run(60);
  const st = h.daemon.status();
  assert.ok(h.lines.some((l) => /^time reset -2\.00\d+ s$/.test(l)), h.lines.join("\n"));
  assert.equal(st.observe!.correction.steps, 1);
  assert.ok(Math.abs(st.systemClockOffsetSec! + 2) < 1e-3);
  assert.equal(st.state.stratum, 3);
  await h.daemon.stop();
});

Deno.test("Daemon with -q exits 0 after one update with ntpd's time slew summary", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, ["127.0.0.2"]);
  const h = await startClient(
    clientSettings({
      sources: [source("127.0.0.2")],
      timekeeping: { loop: { setOnce: true } },
    }),
    { network, systemOffsetSec: -0.003 },
  );
  let exit: DaemonExit | null = null;
  h.daemon.exited.then((e) => exit = e);
  await h.timers.run(30);
  assert.ok(exit !== null, h.lines.join("\n"));
  const e = exit as DaemonExit;
  assert.equal(e.code, 0);
  assert.match(e.summary ?? "", /^time slew \+0\.003\d{3}s$/);
  await h.daemon.stop();
});

Deno.test("Daemon expands a pool up to maxclock and replaces a member that stops answering", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  const pool = ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"];
  const servers = startServers(network, pool);
  const asked: string[] = [];
  const resolver: Resolver = (name, family) => {
    asked.push(`${name}/${family}`);
    return Promise.resolve({
      ok: true,
      addresses: pool.map((address) => ({ family: 4 as const, address })),
    });
  };
  const h = await startClient(
    clientSettings({
      sources: [source("pool.test", "pool")],
      timekeeping: { maxclock: 3, maintenanceSec: 16 },
    }),
    { network, resolver },
  );
  let st = h.daemon.status();
  assert.deepEqual(st.system!.associations.map((a) => a.address.address), pool.slice(0, 3));
  assert.ok(st.system!.associations.every((a) => a.kind === "pool" && a.name === "pool.test"));
  await h.timers.run(40);
  assert.equal(h.daemon.status().state.stratum, 3);
  // The first member goes silent: after 8 unanswered requests it is replaced by the fourth.
  servers[0]!.close();
  await h.timers.run(400);
  st = h.daemon.status();
  const addrs = st.system!.associations.map((a) => a.address.address).sort();
  assert.deepEqual(addrs, pool.slice(1));
  assert.ok(
    h.lines.some((l) => /^127\.0\.1\.1 demobilize assoc 1: unreachable/.test(l)),
    h.lines.join("\n"),
  );
  assert.ok(asked.length >= 2 && asked.every((q) => q === "pool.test/any"));
  await h.daemon.stop();
});

Deno.test("Daemon with unreachPolls 2 replaces a silent pool member within two polls; 8 does not", async () => {
  for (const [polls, replaced] of [[2, true], [8, false]] as const) {
    const network = new MemoryNetwork({ delay: () => 0.001 });
    const pool = ["127.0.3.1", "127.0.3.2", "127.0.3.3"];
    const servers = startServers(network, pool);
    const resolver: Resolver = () =>
      Promise.resolve({ ok: true, addresses: pool.map((address) => ({ family: 4, address })) });
    const h = await startClient(
      clientSettings({
        sources: [source("pool.test", "pool")],
        timekeeping: { maxclock: 2, maintenanceSec: 4, unreachPolls: polls },
      }),
      { network, resolver },
    );
    await h.timers.run(40);
    servers[0]!.close();
    // Two 16 s polls, one maintenance interval and a little slack.
    await h.timers.run(2 * 16 + 4 + 2);
    const addrs = h.daemon.status().system!.associations.map((a) => a.address.address).sort();
    assert.deepEqual(addrs, replaced ? pool.slice(1) : pool.slice(0, 2), `unreachPolls ${polls}`);
    await h.daemon.stop();
    for (const t of servers.slice(1)) t.close();
  }
});

Deno.test("Daemon re-resolves a server name that stops answering", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  const [a, b] = startServers(network, ["127.0.2.1", "127.0.2.2"]);
  let current = "127.0.2.1";
  const resolver: Resolver = () =>
    Promise.resolve({ ok: true, addresses: [{ family: 4, address: current }] });
  const h = await startClient(
    clientSettings({ sources: [source("ntp.test")], timekeeping: { maintenanceSec: 16 } }),
    { network, resolver },
  );
  await h.timers.run(30);
  a!.close();
  current = "127.0.2.2";
  await h.timers.run(300);
  const st = h.daemon.status();
  assert.deepEqual(st.system!.associations.map((x) => x.address.address), ["127.0.2.2"]);
  assert.ok(
    h.lines.some((l) => l.includes("ntp.test now resolves to 127.0.2.2")),
    h.lines.join("\n"),
  );
  assert.equal(st.state.stratum, 3);
  assert.equal(st.state.refid, refidFromIpv4("127.0.2.2"));
  b!.close();
  await h.daemon.stop();
});

Deno.test("Daemon prefers its network peer over LOCAL and falls back to LOCAL without one", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, ["127.0.0.2"]);
  const h = await startClient(
    clientSettings({
      sources: [source("127.0.0.2")],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 10 } }],
    }),
    { network },
  );
  // LOCAL is the last resort: the start-up hold waits for the network server first.
  await h.daemon.sourcesReady;
  assert.equal(h.daemon.status().source, "none");
  await h.timers.run(30);
  assert.equal(h.daemon.status().state.stratum, 3);
  assert.equal(h.daemon.status().source, "network");
  await h.daemon.stop();
});

Deno.test("Daemon drops mode 4 datagrams from unknown peers and counts them", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, ["127.0.0.2"]);
  const h = await startClient(clientSettings({ sources: [source("127.0.0.2")] }), { network });
  const stranger = network.open("127.0.0.9:123");
  const pkt = new Uint8Array(48);
  pkt[0] = 0x24;
  pkt[1] = 2;
  stranger.send(pkt, { family: 4, address: "127.0.0.1", port: 123 });
  await h.timers.run(1);
  const st = h.daemon.status();
  assert.equal(st.system!.counters.noAssociation, 1);
  // The packet path handed it to the core (processed there), the server never answered it.
  assert.equal(st.server.replied, 0);
  assert.equal(st.sysstats.received, st.sysstats.processed);
  await h.daemon.stop();
});

function steeringClock(network: MemoryNetwork, adjustments: ClockAdjustment[]): Clock {
  return {
    ...fakeClock(network),
    canSteer: true,
    adjust: (adj) => void adjustments.push(structuredClone(adj)),
  };
}

Deno.test("Daemon on a steering clock hands the ntpd discipline's kernel PLL requests to the clock", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, GOOD);
  const adjustments: ClockAdjustment[] = [];
  const h = await startClient(
    clientSettings({
      sources: GOOD.map((a) => source(a)),
      noSteerReason: null,
      timekeeping: { loop: { discipline: "ntpd", kernel: true } },
    }),
    { network, clock: steeringClock(network, adjustments) },
  );
  await h.timers.run(60);
  assert.ok(h.lines.some((l) => /^kernel time sync status/.test(l)), h.lines.join("\n"));
  const pll = adjustments.filter((a) => a.kernelPll !== undefined);
  assert.ok(pll.length > 0, JSON.stringify(adjustments));
  assert.ok(pll.every((a) => a.freqPpm === undefined), "the kernel PLL's frequency is not written");
  assert.equal(h.daemon.status().observe, null);
  assert.equal(h.daemon.status().state.stratum, 3);
  await h.daemon.stop();
});

Deno.test("Daemon in observe mode runs the ntpd discipline without the kernel PLL and logs no kernel status", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, GOOD);
  const h = await startClient(
    clientSettings({
      sources: GOOD.map((a) => source(a)),
      timekeeping: { loop: { discipline: "ntpd", kernel: true } },
    }),
    { network, systemOffsetSec: 0.01 },
  );
  await h.timers.run(120);
  const st = h.daemon.status();
  assert.equal(st.system!.discipline, "ntpd");
  assert.equal(st.state.stratum, 3);
  assert.ok(!h.lines.some((l) => l.includes("kernel time sync")), h.lines.join("\n"));
  // The ntpd loop slews its virtual clock toward the servers: part of the 10 ms is corrected.
  assert.ok(
    st.observe!.correction.correctionSec < -1e-3,
    `${st.observe!.correction.correctionSec}`,
  );
  await h.daemon.stop();
});

Deno.test("Daemon writes the drift file from the discipline and the JSON status file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const network = new MemoryNetwork({ delay: () => 0.001 });
    startServers(network, GOOD);
    const h = await startClient(
      clientSettings({
        sources: GOOD.map((a) => source(a)),
        driftFile: `${dir}/drift`,
        statusFile: `${dir}/status.json`,
        driftIntervalSec: 100,
      }),
      { network },
    );
    await h.timers.run(150);
    // Real file I/O (exclusive create, fsync, rename): wait for it, up to 5 s on a loaded machine.
    let drift = await readDriftFile(`${dir}/drift`);
    for (let i = 0; i < 100 && !drift.ok; i++) {
      await new Promise((r) => setTimeout(r, 50));
      drift = await readDriftFile(`${dir}/drift`);
    }
    assert.equal(drift.ok, true);
    await h.daemon.stop();
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/status.json`));
    // The last document says the daemon stopped (and so serves no time); the state at exit stays.
    assert.equal(doc.running, false);
    assert.equal(doc.synchronized, false);
    assert.equal(typeof doc.stopped, "string");
    assert.equal(doc.stratum, 3);
    assert.equal(doc.associations.length, 3);
    assert.equal(doc.associations.filter((a: { tally: string }) => a.tally === "*").length, 1);
    assert.equal(doc.refid, doc.systemPeer.address);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Daemon polls an IPv6 literal from its IPv6 socket and serves the MD5 refid of it", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  startServers(network, ["[fd00::2]"]);
  const h = await startClient(
    clientSettings({
      listen: [
        { family: 4, address: "127.0.0.1", port: 123 },
        { family: 6, address: "fd00::1", port: 123 },
      ],
      sources: [source("fd00:0:0::2")],
    }),
    { network },
  );
  await h.timers.run(30);
  const st = h.daemon.status();
  assert.equal(st.system!.associations[0]!.address.address, "fd00::2");
  assert.equal(st.state.stratum, 3);
  assert.equal(st.state.refid, ipv6Refid("fd00::2"));
  assert.equal(st.timekeeper!.sendFailures, 0);
  await h.daemon.stop();
});

Deno.test("Daemon with loopLagMs puts the event-loop windows into the status file, without it null", async () => {
  const dir = await Deno.makeTempDir();
  const network = new MemoryNetwork();
  const base: DaemonSettings = {
    listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
    refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
    driftFile: null,
    noSteerReason: null,
    refclockPollSec: 64,
    statusIntervalSec: 0.05,
  };
  const deps = {
    clock: fakeClock(network),
    openTransport: (a: SocketAddress) => Promise.resolve(network.open(a)),
    log: quiet,
  };
  try {
    // Real timers: the probe measures the runtime's event loop.
    const probed = new Daemon(
      { ...base, statusFile: `${dir}/probed.json`, loopLagMs: 5 },
      { ...deps, openTransport: (a) => Promise.resolve(network.open({ ...a, port: 124 })) },
    );
    const plain = new Daemon({ ...base, statusFile: `${dir}/plain.json` }, deps);
    await probed.start();
    await plain.start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(probed.newLoopLagWindow(), true);
    assert.equal(plain.newLoopLagWindow(), false);
    await new Promise((r) => setTimeout(r, 60));
    await probed.stop();
    await plain.stop();
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/probed.json`));
    assert.equal(doc.eventLoop.intervalMs, 5);
    const prev = doc.eventLoop.previous;
    assert.equal(prev.window, 1);
    assert.ok(prev.samples >= 3 && prev.samples <= prev.expectedSamples + 1, JSON.stringify(prev));
    assert.ok(prev.lateMedianMs >= 0 && prev.lateMedianMs <= prev.lateMaxMs);
    assert.ok(prev.lateP99Ms >= prev.lateMedianMs && prev.lateP99Ms <= prev.lateMaxMs);
    assert.equal(typeof prev.windowEndedAt, "string");
    assert.equal(doc.eventLoop.current.window, 2);
    assert.equal(doc.eventLoop.current.windowStartedAt, prev.windowEndedAt);
    assert.ok(doc.eventLoop.current.samples >= 1, JSON.stringify(doc.eventLoop.current));
    const plainDoc = JSON.parse(await Deno.readTextFile(`${dir}/plain.json`));
    assert.equal(plainDoc.eventLoop, null);
    assert.equal(plainDoc.stratum, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Daemon refuses a FIFO or /proc file as leapfile with one logged error", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/leap.fifo`;
  try {
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success, "mkfifo failed");
    const cases: [string, RegExp][] = [[fifo, /is a FIFO/], ["/proc/self/pagemap", /pseudo-file/]];
    for (const [leapFile, reason] of cases) {
      const network = new MemoryNetwork();
      const errors: string[] = [];
      const daemon = new Daemon(clientSettings({ sources: [source("127.0.0.2")], leapFile }), {
        clock: fakeClock(network),
        timers: new ManualTimers(network),
        openTransport: (a) => Promise.resolve(network.open(a)),
        log: { ...quiet, error: (m) => void errors.push(m) },
      });
      // Opening the FIFO would block forever: a timeout makes that a failure instead of a hang.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const started = await Promise.race([
        daemon.start().then(() => daemon.sourcesReady).then(() => true),
        new Promise<boolean>((r) => timer = setTimeout(() => r(false), 5000)),
      ]);
      clearTimeout(timer);
      assert.ok(started, `start() did not finish with leapfile ${leapFile}`);
      await daemon.stop();
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, reason);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
