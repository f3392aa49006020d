import assert from "node:assert/strict";
import { ControlClient, ControlError, transportLink } from "../cli/query_client.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { CtlOp, decodeControl } from "../proto/control/mode6.ts";
import { bytesText, parseHexTimestamp } from "../proto/control/var_list.ts";
import { PeerEvent, SystemEvent } from "../proto/events.ts";
import { addSec, diffSec, fromTimestamp, type NtpTime } from "../proto/ntp_time.ts";
import { Server } from "../proto/server.ts";
import type { Timers } from "./timers.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { leapFacts, localFor, smallestMinpoll } from "./control_host.ts";
import { fakeClock } from "./_test_daemon.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SERVER: SocketAddress = { family: 4, address: "127.0.0.1", port: 123 };

async function daemonWith(extra: Partial<DaemonSettings>) {
  const network = new MemoryNetwork();
  const daemon = new Daemon({
    listen: [SERVER],
    refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
    driftFile: null,
    noSteerReason: null,
    refclockPollSec: 64,
    ...extra,
  }, {
    clock: fakeClock(network),
    openTransport: (a) => Promise.resolve(network.open(a)),
    log: quiet,
  });
  await daemon.start();
  const client = (from = "127.0.0.1:40000") => {
    const c = new ControlClient(transportLink(network.open(from), SERVER, () => network.flush()));
    c.primaryTimeoutMs = 1;
    return c;
  };
  return { network, daemon, client };
}

Deno.test("Daemon answers mode 6: system variables, the LOCAL refclock as an association, setvar", async () => {
  const { daemon, client } = await daemonWith({
    control: {
      controlKey: null,
      traps: [],
      setvar: [{ name: "site", value: "rack 7", isDefault: true }],
      keysFile: null,
      trustedKeys: [],
    },
  });
  try {
    const c = client();
    const rv = await c.readVars(0);
    const v = new Map(rv.vars.map((i) => [i.name, i.value]));
    assert.equal(v.get("stratum"), "10");
    assert.equal(v.get("refid"), "127.127.1.0");
    // LOCAL is a core association, the first one mobilised.
    const localId = 1;
    assert.equal(v.get("peer"), String(localId));
    assert.equal(v.get("site"), '"rack 7"');
    // leap 0, sync_local (5).
    assert.equal(rv.status >> 8, 0x05);
    const as = await c.associations();
    assert.deepEqual(as.list.map((a) => [a.id, a.status >> 8]), [[localId, 0x96]]);
    const cv = await c.readVars(localId, [], CtlOp.READCLOCK);
    const cvars = new Map(cv.vars.map((i) => [i.name, i.value]));
    assert.equal(cvars.get("device"), '"LOCAL(0)"');
    assert.equal(cvars.get("stratum"), "9");
    // ntpq's poll counts the clock's polls: none has passed yet (its samples are not polls).
    assert.equal(cvars.get("poll"), "0");
    assert.equal(cvars.get("noreply"), "0");
    c.close();
    // sysstats count the control datagrams as received and processed.
    const st = daemon.status().sysstats;
    assert.ok(st.received >= 3 && st.processed === st.received, JSON.stringify(st));
  } finally {
    await daemon.stop();
  }
});

Deno.test("Daemon: restrict noquery gets no mode 6 answer; nothing can be written without a key", async () => {
  const { daemon, client } = await daemonWith({
    access: {
      restrict: [
        {
          match: "default",
          address: "0.0.0.0",
          mask: "0.0.0.0",
          family: "ipv4",
          flags: ["noquery"],
        },
        { match: "address", address: "127.0.0.1", mask: null, family: "any", flags: [] },
      ],
    },
    control: {
      controlKey: 5,
      traps: [],
      setvar: [{ name: "site", value: "a", isDefault: false }],
      keysFile: null,
      trustedKeys: [],
    },
  });
  try {
    const outsider = client("127.0.0.9:40000");
    await assert.rejects(() => outsider.readVars(0), /timed out/);
    outsider.close();
    assert.equal(daemon.status().sysstats.drops.noquery, 2); // the request and its retry
    const local = client();
    await assert.rejects(
      () => local.request(CtlOp.WRITEVAR, 0, "site=b"),
      (e) => e instanceof ControlError && e.code === 1,
    );
    const rv = await local.readVars(0, ["site"]);
    assert.equal(rv.vars[0]!.value, "a");
    local.close();
  } finally {
    await daemon.stop();
  }
});

Deno.test("localFor() picks the socket the router polls from; smallestMinpoll() is mintc", () => {
  const listening: SocketAddress[] = [
    { family: 4, address: "127.0.0.1", port: 123 },
    { family: 4, address: "192.0.2.7", port: 123 },
    { family: 6, address: "::", port: 123 },
  ];
  assert.deepEqual(localFor(listening, { family: 4, address: "198.51.100.1" }), {
    address: "192.0.2.7",
    port: 123,
  });
  assert.deepEqual(localFor(listening, { family: 4, address: "127.0.0.2" }), {
    address: "127.0.0.1",
    port: 123,
  });
  assert.deepEqual(localFor(listening, { family: 6, address: "2001:db8::1" }), {
    address: "::",
    port: 123,
  });
  assert.equal(smallestMinpoll([]), 6);
  assert.equal(smallestMinpoll([null, 8, 5]), 5);
  assert.equal(smallestMinpoll([1]), 4);
});

/** Timers on the memory network's time line (runs deliveries and timers in time order). */
class NetworkTimers implements Timers {
  readonly #network: MemoryNetwork;
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
  async run(sec: number): Promise<void> {
    const end = addSec(this.#network.now, sec);
    for (let guard = 0; guard < 1_000_000; guard++) {
      for (let i = 0; i < 5; i++) await Promise.resolve();
      this.#queue.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
      const timer = this.#queue[0];
      const delivery = this.#network.nextDeliveryTime();
      if (delivery !== null && delivery <= end && (timer === undefined || delivery <= timer.at)) {
        this.#network.deliver(delivery);
        continue;
      }
      if (timer === undefined || timer.at > end) break;
      this.#queue.shift();
      this.#network.deliver(timer.at);
      timer.fn();
    }
    this.#network.deliver(end);
  }
}

Deno.test("Daemon sends trap messages on the core's events and counts them in the status words", async () => {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  const servers = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
  for (const a of servers) {
    const t = network.open(`${a}:123`);
    const server = new Server({
      leap: 0,
      stratum: 2,
      precisionLog2: -20,
      rootDelaySec: 0.001,
      rootDispersionSec: 0.001,
      refid: 0x47505300,
      referenceTime: network.now,
    });
    void t.serve((d, slot) => {
      slot.length = server.respond(d.data, d.rxTime, slot.buffer);
      slot.stampTransmit = slot.length > 0;
    });
  }
  const traps: Uint8Array[] = [];
  void network.open("127.0.0.9:18447").serve((d) => void traps.push(d.data.slice()));
  const timers = new NetworkTimers(network);
  const daemon = new Daemon({
    listen: [SERVER],
    refclocks: [],
    driftFile: null,
    noSteerReason: "observe mode",
    refclockPollSec: 64,
    sources: servers.map((address) => ({
      kind: "server" as const,
      address,
      family: "any" as const,
      port: 123,
      options: { minpoll: 4, maxpoll: 4, iburst: true },
    })),
    control: {
      controlKey: null,
      traps: [{ address: "127.0.0.9" }],
      setvar: [],
      keysFile: null,
      trustedKeys: [],
    },
  }, {
    clock: fakeClock(network),
    timers,
    openTransport: (a, readClock) =>
      Promise.resolve(network.open(a, readClock === undefined ? {} : { clock: readClock })),
    log: quiet,
  });
  await daemon.start();
  await daemon.sourcesReady;
  try {
    await timers.run(120);
    const msgs = traps.map((t) => decodeControl(t)).filter((r) => r.ok).map((r) => r.message);
    assert.ok(msgs.length >= 4, `${msgs.length} traps`);
    for (const m of msgs) {
      assert.equal(m.opcode, CtlOp.ASYNCMSG);
      assert.equal(m.response, true);
    }
    // Each server became reachable (a peer trap about it), and the clock was set (a system trap).
    const reached = msgs.filter((m) => m.associd !== 0 && (m.status & 0xf) === PeerEvent.REACH);
    assert.equal(new Set(reached.map((m) => m.associd)).size, 3);
    assert.ok(reached.every((m) => /srcadr=127\.0\.0\.[234]/.test(bytesText(m.data))));
    assert.ok(msgs.some((m) => m.associd === 0 && (m.status & 0xf) === SystemEvent.SYNC));
    // The status words carry the same events.
    const c = new ControlClient(transportLink(network.open("127.0.0.1:40000"), SERVER, () => {
      network.flush();
    }));
    c.primaryTimeoutMs = 1;
    const as = await c.associations();
    assert.equal(as.list.length, 3);
    assert.ok(((as.status >> 4) & 0xf) >= 1, as.status.toString(16));
    for (const a of as.list) assert.ok(((a.status >> 4) & 0xf) >= 1, a.status.toString(16));
    // rec is the last receive time: within one poll of now.
    const rv = await c.readVars(as.list[0]!.id, ["rec"]);
    const rec = fromTimestamp(parseHexTimestamp(rv.vars[0]!.value!)!, network.now);
    const age = diffSec(network.now, rec);
    assert.ok(age >= 0 && age <= 17, `rec ${age} s ago`);
    c.close();
  } finally {
    await daemon.stop();
  }
});

Deno.test("leapFacts(): TAI-UTC in force, the leap it came from or the next, the expiry", () => {
  const table = {
    name: "leap-seconds.list",
    updatedNtpSec: 3_900_000_000,
    expiresNtpSec: 3_960_000_000,
    entries: [
      { ntpSec: 3_692_217_600, taiOffsetSec: 37 }, // 2017-01-01
      { ntpSec: 3_950_000_000, taiOffsetSec: 38 }, // a future one
    ],
    hashVerified: true,
  };
  const at = (sec: number) => BigInt(sec) << 32n;
  assert.deepEqual(leapFacts(table, at(3_900_000_000)), {
    taiSec: 37,
    leapAt: at(3_950_000_000),
    expire: at(3_960_000_000),
  });
  assert.deepEqual(leapFacts({ ...table, entries: table.entries.slice(0, 1) }, at(3_900_000_000)), {
    taiSec: 37,
    leapAt: at(3_692_217_600),
    expire: at(3_960_000_000),
  });
  assert.equal(leapFacts(null, at(1)), null);
});

Deno.test("Daemon: SAVECONFIG with the controlkey writes the running configuration in its folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-saveconfig-" });
  const secret = "save-secret";
  await Deno.writeTextFile(`${dir}/ntp.keys`, `5 MD5 ${secret}\n`, { mode: 0o600 });
  const { network, daemon } = await daemonWith({
    control: {
      controlKey: 5,
      traps: [],
      setvar: [],
      keysFile: `${dir}/ntp.keys`,
      trustedKeys: [5],
      saveConfig: { dir, text: "# running configuration\n" },
    },
  });
  // The answer follows the (asynchronous) write: keep pumping the network while it is written.
  const inner = transportLink(network.open("127.0.0.1:40000"), SERVER, () => network.flush());
  const link = {
    send: (d: Uint8Array) => inner.send(d),
    async receive(_ms: number) {
      for (let i = 0; i < 200; i++) {
        const d = await inner.receive(0);
        if (d !== null) return d;
        await new Promise((r) => setTimeout(r, 5));
      }
      return null;
    },
    close: () => inner.close(),
  };
  const c = new ControlClient(link);
  try {
    c.setKey({ id: 5, algorithm: "MD5", key: new TextEncoder().encode(secret) });
    const r = await c.request(CtlOp.SAVECONFIG, 0, "saved.toml", true);
    assert.equal(bytesText(r.data), "Configuration saved to 'saved.toml'");
    assert.equal(await Deno.readTextFile(`${dir}/saved.toml`), "# running configuration\n");
    // Never outside the folder, never unsigned.
    await assert.rejects(
      () => c.request(CtlOp.SAVECONFIG, 0, "../escaped.toml", true),
      (e) => e instanceof ControlError && e.code === 6,
    );
    c.setKey(null);
    await assert.rejects(
      () => c.request(CtlOp.SAVECONFIG, 0, "unsigned.toml"),
      (e) => e instanceof ControlError && e.code === 1,
    );
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["ntp.keys", "saved.toml"]);
  } finally {
    c.close();
    await daemon.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
