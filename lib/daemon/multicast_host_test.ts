// The daemon's broadcast, multicast and manycast pieces without real sockets: the settings made
// from a configuration (lines left out with a warning when they cannot work), what the core is
// told, and the router's group sockets on an in-memory network (mode 5 to the core, manycast
// requests answered from the unicast socket only on a manycastserver group while synchronised,
// everything else counted and dropped, a group send's TTL setting failure counted).

import assert from "node:assert/strict";
import { parseNtpConf } from "../config/ntp_conf_parser.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { MruList } from "../proto/access/mru.ts";
import { RestrictList } from "../proto/access/restrict.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { Server, type SystemState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import {
  broadcastClientOption,
  groupsToJoin,
  joinableAddresses,
  needsCore,
  takesBroadcasts,
} from "./multicast_host.ts";
import { type HostAddress, planListen } from "./listen_plan.ts";
import { PacketRouter } from "./packet_router.ts";
import { broadcastSettings } from "./settings.ts";
import { SYNCED as SYNCED_2023 } from "../../tests/support/server_state.ts";

const SYNCED: SystemState = { ...SYNCED_2023, referenceTime: fromUnix(1_700_000_000) };

function settingsOf(text: string) {
  const parsed = parseNtpConf(text);
  // What the settings leave out is warned by the reader's validation, with its line.
  const warnings = parsed.diagnostics.filter((d) => d.severity === "warning").map((d) =>
    `${d.line}: ${d.message}`
  );
  return { b: broadcastSettings(parsed.config), warnings };
}

Deno.test("broadcastSettings() takes every broadcast, multicast and manycast line", () => {
  const { b, warnings } = settingsOf([
    "broadcast 239.1.2.3 ttl 4 key 5 minpoll 5",
    "broadcast 192.0.2.255",
    "broadcastclient novolley",
    "broadcastdelay 0.008",
    "multicastclient 239.9.9.9 ff05::101",
    "manycastserver 239.7.7.7",
    "manycastclient 239.8.8.8 ttl 3 key 5 minpoll 4 maxpoll 6 iburst",
    "ttl 1 2 3 4",
    "manycastclient 192.0.2.1",
    "broadcast ntp.example.org",
  ].join("\n"));
  assert.ok(b !== null);
  assert.deepEqual(b.servers, [
    { address: "239.1.2.3", ttl: 4, key: 5, minpoll: 5, version: 4 },
    { address: "192.0.2.255", ttl: null, key: null, minpoll: 6, version: 4 },
  ]);
  assert.equal(b.client, true);
  assert.equal(b.novolley, true);
  assert.equal(b.delaySec, 0.008);
  assert.deepEqual(b.multicastGroups, ["239.9.9.9", "ff05::101"]);
  assert.deepEqual(b.manycastServerGroups, ["239.7.7.7"]);
  assert.deepEqual(b.ttlList, [1, 2, 3, 4]);
  assert.equal(b.manycastClients.length, 1);
  const m = b.manycastClients[0]!;
  assert.equal(m.address, "239.8.8.8");
  assert.equal(m.ttl, 3);
  assert.equal(m.options.key, 5);
  assert.equal(m.options.iburst, true);
  assert.equal(m.options.minpoll, 4);
  assert.equal(m.options.maxpoll, 6);
  assert.deepEqual(warnings, [
    '9: "manycastclient 192.0.2.1" is parsed but not applied: not a multicast group; line left out',
    '10: "broadcast ntp.example.org" is parsed but not applied: needs an address, not a name; line ' +
    "left out",
  ]);
  assert.deepEqual(groupsToJoin(b), ["239.9.9.9", "ff05::101", "239.7.7.7"]);
  assert.equal(needsCore(b), true);
  assert.deepEqual(broadcastClientOption(b), { delaySec: 0.008, novolley: true });
});

Deno.test("broadcastSettings() is null without any line; a manycast server alone needs no core", () => {
  assert.equal(settingsOf("server 192.0.2.1\n").b, null);
  const { b } = settingsOf("manycastserver 239.7.7.7\n");
  assert.ok(b !== null);
  assert.equal(needsCore(b), false);
  assert.equal(takesBroadcasts(b), false);
  assert.equal(broadcastClientOption(b), null);
  assert.equal(needsCore(undefined), false);
  // `enable bclient` is broadcastclient.
  const bc = settingsOf("enable bclient\n").b;
  assert.equal(bc?.client, true);
  assert.deepEqual(broadcastClientOption(bc!), {});
});

const LISTEN: SocketAddress = { family: 4, address: "192.0.2.1", port: 123 };
const GROUP: SocketAddress = { family: 4, address: "239.7.7.7", port: 123 };

function packet(mode: number): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (4 << 3) | mode;
  b[1] = mode === 5 ? 2 : 0;
  new DataView(b.buffer).setUint32(40, 0xe9000000);
  new DataView(b.buffer).setUint32(44, 7);
  return b;
}

Deno.test("PacketRouter group socket: mode 5 to the core, manycast requests answered from the unicast socket only when the policy says so", async () => {
  const network = new MemoryNetwork();
  const stats = SysStats.create(1, 0);
  const router = new PacketRouter({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: MruList.create({ maxDepth: 64 }),
    counters: stats.counters(0),
    virtual: null,
  });
  const serving = [
    router.serve(router.addSocket(network.open(LISTEN), "listen")),
    router.serve(router.addSocket(network.open(GROUP), "group")),
  ];
  assert.equal(router.role(1), "group");
  // `disable auth`: an unsigned mode 5 may reach the core (with auth it is dropped first).
  router.path.setAuthRequired(false);
  const core: number[] = [];
  const groups: (string | undefined)[] = [];
  router.setCore((data, _peer, _rx, _key, _flags, group) => {
    core.push(data[0]! & 7);
    groups.push(group);
  });
  let answering = false;
  router.setManycastPolicy((g) => g === "239.7.7.7" && answering);
  const client = network.open("198.51.100.7:40000");
  const got: { mode: number; from: string }[] = [];
  const listening = client.serve((d) =>
    void got.push({ mode: d.data[0]! & 7, from: d.peer.address })
  );
  client.send(packet(3), GROUP); // not answering yet (unsynchronised)
  client.send(packet(5), GROUP);
  const control = new Uint8Array(12);
  control[0] = 0x16;
  client.send(control, GROUP); // mode 6 has no business on a group
  network.flush();
  assert.deepEqual(got, []);
  assert.deepEqual(core, [5]);
  assert.deepEqual(groups, ["239.7.7.7"], "the core learns the group (a multicast client)");
  assert.equal(router.counters().groupDropped, 2);
  answering = true;
  client.send(packet(3), GROUP);
  network.flush();
  assert.deepEqual(got, [{ mode: 4, from: "192.0.2.1" }], "answered from the unicast address");
  // A group send's TTL cannot be set on an in-memory socket: counted, and the datagram still goes.
  const member = network.open("239.1.1.1:123");
  const memberGot: number[] = [];
  const memberServing = member.serve(() => void memberGot.push(1));
  assert.equal(
    router.sendRequest(packet(5), { family: 4, address: "239.1.1.1", port: 123 }, undefined, 3),
    true,
  );
  network.flush();
  assert.equal(memberGot.length, 1);
  assert.equal(router.counters().ttlErrors, 1);
  client.close();
  member.close();
  for (const t of router.transports) t.close();
  await Promise.all([...serving, listening, memberServing]);
});

Deno.test("joinableAddresses(): groups are joined only where the interface rules serve", () => {
  const hosts: HostAddress[] = [
    { name: "lo", family: 4, address: "127.0.0.1", scopeId: null },
    { name: "eth0", family: 4, address: "192.0.2.1", scopeId: null },
    { name: "eth1", family: 4, address: "198.51.100.1", scopeId: null },
    { name: "eth1", family: 6, address: "2001:db8::1", scopeId: null },
  ];
  const plan = (rules: { action: "listen" | "ignore" | "drop"; match: string }[]) =>
    planListen(
      { port: 123, family: "any", explicit: [], rules, interfaceOptions: [], noVirtual: false },
      hosts,
    ).binds;
  const names = (h: HostAddress[]) => h.map((x) => `${x.name} ${x.address}`);
  // No rule: the wildcards serve everything, so every interface joins.
  assert.deepEqual(names(joinableAddresses(plan([]), hosts)), names(hosts));
  // An ignored or dropped interface joins nothing: its group traffic would bypass the rule.
  for (const action of ["ignore", "drop"] as const) {
    assert.deepEqual(names(joinableAddresses(plan([{ action, match: "eth1" }]), hosts)), [
      "lo 127.0.0.1",
      "eth0 192.0.2.1",
    ]);
  }
});
