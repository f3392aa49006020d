import assert from "node:assert/strict";
import type { Clock } from "../clock/clock.ts";
import { ControlClient, ControlError, transportLink } from "../cli/query_client.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { CtlOp } from "../proto/control/mode6.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { localFor, REFCLOCK_ASSOC_BASE, smallestMinpoll } from "./control_host.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SERVER: SocketAddress = { family: 4, address: "127.0.0.1", port: 123 };

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
    assert.equal(v.get("peer"), String(REFCLOCK_ASSOC_BASE));
    assert.equal(v.get("site"), '"rack 7"');
    // leap 0, sync_local (5).
    assert.equal(rv.status >> 8, 0x05);
    const as = await c.associations();
    assert.deepEqual(as.list.map((a) => [a.id, a.status >> 8]), [[REFCLOCK_ASSOC_BASE, 0x96]]);
    const cv = await c.readVars(REFCLOCK_ASSOC_BASE, [], CtlOp.READCLOCK);
    const cvars = new Map(cv.vars.map((i) => [i.name, i.value]));
    assert.equal(cvars.get("device"), '"LOCAL(0)"');
    assert.equal(cvars.get("stratum"), "9");
    assert.equal(cvars.get("poll"), "1");
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
