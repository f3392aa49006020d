// The main thread's packet routing on an in-memory network: verdicts carried out (replies sent,
// replies to the daemon's polls to the core, nothing else), `interface drop` sockets, forwards
// from server threads, and client requests never sent from a drop socket. (The whole daemon fed a
// million distinct sources: tests/memory/million_sources_test.ts.)

import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { MruList } from "../proto/access/mru.ts";
import { RestrictList } from "../proto/access/restrict.ts";
import { fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { Server, type SystemState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import { PacketRouter } from "./packet_router.ts";
import { SYNCED as SYNCED_2023 } from "../../tests/support/server_state.ts";

const SYNCED: SystemState = { ...SYNCED_2023, referenceTime: fromUnix(1_700_000_000) };

const SERVER: SocketAddress = { family: 4, address: "192.0.2.1", port: 123 };

function packet(mode: number, transmit = 1): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (4 << 3) | mode;
  b[1] = mode === 4 ? 2 : 0;
  new DataView(b.buffer).setUint32(44, transmit);
  new DataView(b.buffer).setUint32(40, 0xe9000000);
  return b;
}

function rig() {
  const stats = SysStats.create(1, 0);
  const router = new PacketRouter({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: MruList.create({ maxDepth: 64 }),
    counters: stats.counters(0),
    virtual: null,
  });
  return { stats, router };
}

Deno.test("PacketRouter sends replies, gives only replies to polls to the core, drops the rest", async () => {
  const network = new MemoryNetwork();
  const { stats, router } = rig();
  const served = router.serve(router.addSocket(network.open(SERVER), "listen"));
  const core: { data: Uint8Array; peer: SocketAddress; rx: NtpTime }[] = [];
  const client = network.open("198.51.100.7:40000");
  const got: Uint8Array[] = [];
  const listening = client.serve((d) => void got.push(d.data.slice()));
  // Before a core exists, a reply to a poll has no taker: dropped and counted as such.
  client.send(packet(4), SERVER);
  network.flush();
  assert.equal(stats.snapshot(0).drops.no_handler, 1);
  router.setCore((data, peer, rx) => void core.push({ data: data.slice(), peer, rx }));
  client.send(packet(3), SERVER);
  client.send(packet(4), SERVER);
  const control = new Uint8Array(12);
  control[0] = 0x16;
  client.send(control, SERVER);
  network.flush();
  assert.equal(got.length, 1, "one reply: to the client request");
  assert.equal(got[0]![0]! & 7, 4);
  assert.equal(core.length, 1);
  assert.equal(core[0]!.data[0]! & 7, 4);
  assert.deepEqual(core[0]!.peer, { family: 4, address: "198.51.100.7", port: 40000 });
  assert.equal(core[0]!.rx, network.now, "the receive time on the core's clock");
  const s = stats.snapshot(0);
  assert.equal(s.received, 4);
  assert.equal(s.processed, 2);
  assert.equal(s.drops.no_handler, 2, "the early reply and mode 6 (no control protocol yet)");
  client.close();
  for (const t of router.transports) t.close();
  await Promise.all([served, listening]);
});

Deno.test("PacketRouter drops a datagram from source port 0 and never answers a reply", async () => {
  const network = new MemoryNetwork();
  const { stats, router } = rig();
  const serving = router.serve(router.addSocket(network.open(SERVER), "listen"));
  const sent: Uint8Array[] = [];
  const listener = network.open("198.51.100.7:123");
  const listening = listener.serve((d) => void sent.push(d.data.slice()));
  // No transport can send from port 0: the network delivers it as if one had.
  network.transmit({
    from: { family: 4, address: "198.51.100.7", port: 0 },
    to: SERVER,
    data: packet(3),
    sentAt: network.now,
  });
  router.setCore(() => {});
  for (const mode of [2, 4, 5]) listener.send(packet(mode), SERVER);
  network.flush();
  assert.equal(sent.length, 0, "nothing sent in answer");
  const s = stats.snapshot(0);
  assert.equal(s.drops.source_port_zero, 1);
  assert.equal(s.received, 4);
  const drops = Object.values(s.drops).reduce((a, b) => a + b, 0);
  assert.equal(s.received, s.processed + drops);
  listener.close();
  for (const t of router.transports) t.close();
  await Promise.all([serving, listening]);
});

Deno.test("PacketRouter: an interface drop socket reads and discards, and never sends a poll", async () => {
  const network = new MemoryNetwork();
  const { stats, router } = rig();
  const dropping = router.addSocket(network.open(SERVER), "drop");
  const listening = router.addSocket(network.open("192.0.2.2:123"), "listen");
  const serving = [router.serve(dropping), router.serve(listening)];
  const client = network.open("198.51.100.7:40000");
  const got: Uint8Array[] = [];
  const clientServing = client.serve((d) => void got.push(d.data.slice()));
  client.send(packet(3), SERVER);
  network.flush();
  assert.equal(got.length, 0);
  assert.equal(router.counters().interfaceDropped, 1);
  assert.equal(stats.snapshot(0).received, 0, "never reached the packet path");
  // The daemon's own polls go out of the listen socket, not the drop one.
  const upstream = network.open("203.0.113.5:123");
  const seen: SocketAddress[] = [];
  const upServing = upstream.serve((d) => void seen.push(d.peer));
  assert.equal(
    router.sendRequest(packet(3), { family: 4, address: "203.0.113.5", port: 123 }),
    true,
  );
  network.flush();
  assert.deepEqual(seen, [{ family: 4, address: "192.0.2.2", port: 123 }]);
  assert.equal(
    router.sendRequest(packet(3), { family: 6, address: "2001:db8::5", port: 123 }),
    false,
  );
  assert.equal(router.canSend(6), false);
  for (const t of [client, upstream, ...router.transports]) t.close();
  await Promise.all([...serving, clientServing, upServing]);
});

Deno.test("PacketRouter takes a server thread's hand-over as decided, on the socket it names", async () => {
  const network = new MemoryNetwork();
  const { stats, router } = rig();
  const serving = router.serve(router.addSocket(network.open(SERVER), "listen"));
  const core: Uint8Array[] = [];
  router.setCore((data) => void core.push(data.slice()));
  const base = {
    kind: "packet" as const,
    socket: 0,
    peer: { family: 4 as const, address: "198.51.100.7", port: 40000 },
    rxUnixSec: 1_800_000_000,
    rxUnixNsec: 5,
    rxKernel: true,
    forward: null,
    restrictFlags: 0,
  };
  router.acceptForwarded({ ...base, data: packet(4), verdict: "core" });
  router.acceptForwarded({ ...base, data: packet(6), verdict: "forward", forward: "control" });
  router.acceptForwarded({ ...base, socket: 7, data: packet(4), verdict: "core" });
  assert.equal(core.length, 1);
  const s = stats.snapshot(0);
  assert.equal(s.processed, 1);
  assert.equal(s.drops.no_handler, 1);
  assert.equal(router.counters().forwardedIn, 2, "an unknown socket is not taken");
  router.stop();
  router.acceptForwarded({ ...base, data: packet(4), verdict: "core" });
  assert.equal(core.length, 1, "nothing after stop");
  for (const t of router.transports) t.close();
  await serving;
});
