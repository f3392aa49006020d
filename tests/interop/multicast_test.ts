// Horae `broadcast` to a multicast group with a second Horae as `multicastclient`, over a veth
// pair between two network namespaces, IPv4 and IPv6, signed with a key (auth on): the client
// joins the group, mobilises a broadcast client association from the first mode 5 packet,
// calibrates the delay with a few client requests and synchronises to the server. Abuse: mode 5
// without a MAC from a third address, and a flood from many source addresses, mobilise nothing
// and are counted. Every daemon runs without CAP_SYS_TIME in observe mode.

import assert from "node:assert/strict";
import { needPeers, queryHorae, sh, tempDir } from "../support/peers.ts";
import { type TestKey, writeNtpKeys } from "./_auth_keys.ts";
import {
  type Json,
  link,
  multicastRoute,
  sendUdp,
  startHost,
  unsignedMode5,
  waitStatus,
  withHosts,
} from "./_multicast_net.ts";

const peers = await needPeers("Horae broadcast to a Horae multicastclient", {
  root: "network namespaces",
});

const KEY: TestKey = {
  id: 7,
  algorithm: "SHA1",
  key: new TextEncoder().encode("multicast-test-key-1"),
  allowed: null,
  text: null,
};

/** A server on LOCAL (stratum 3 when serving), broadcasting to `group` every 16 s. */
function serverConf(keys: string, group: string): string {
  return [
    "server 127.127.1.0",
    "fudge 127.127.1.0 stratum 2",
    `keys ${keys}`,
    `trustedkey ${KEY.id}`,
    `broadcast ${group} key ${KEY.id} ttl 1 minpoll 4`,
  ].join("\n") + "\n";
}

/** `multicastclient GROUP`, or `broadcastclient` for a broadcast address. */
function clientConf(keys: string, group: string, broadcast: boolean): string {
  const listen = broadcast ? "broadcastclient" : `multicastclient ${group}`;
  return [`keys ${keys}`, `trustedkey ${KEY.id}`, listen].join("\n") + "\n";
}

/** IPv4 or IPv6 multicast, or (`broadcast`) the IPv4 subnet broadcast address. */
async function scenario(family: 4 | 6, broadcast = false): Promise<void> {
  const dir = await tempDir("mcast-");
  const keys = `${dir}/ntp.keys`;
  await writeNtpKeys(keys, [KEY]);
  const group = broadcast ? "10.77.0.255" : family === 4 ? "239.77.0.1" : "ff05::77:1";
  // In the status file a multicast client's association is type m, a broadcast client's b.
  const clientType = broadcast ? "b" : "m";
  await withHosts("mcs", 3, async ([server, client, stranger]) => {
    await link(server!, "s0", client!, "c0", ["10.77.0.1/24", "10.77.0.2/24"], [
      "fd77::1/64",
      "fd77::2/64",
    ]);
    await link(stranger!, "x0", client!, "c1", ["10.78.0.1/24", "10.78.0.2/24"]);
    // Extra addresses on the stranger's side: the flood comes from many senders.
    for (let i = 10; i < 40; i++) {
      await sh(["ip", "-n", stranger!, "addr", "add", `10.78.0.${i}/24`, "dev", "x0"]);
    }
    await multicastRoute(server!, "s0");
    await multicastRoute(client!, "c0");
    const status = `${dir}/client-status.json`;
    const srv = await startHost(server!, serverConf(keys, group), `${dir}/server-status.json`);
    const cli = await startHost(client!, clientConf(keys, group, broadcast), status);
    try {
      if (!broadcast) {
        // Logged once the listen sockets are up, a moment after "Listening on".
        await cli.proc.waitFor(
          new RegExp(`Joined multicast group \\[?${group.replace(/\./g, "\\.")}`),
          10_000,
        );
      }
      // Unauthenticated mode 5 from a stranger, and a flood of them from 30 addresses.
      await sendUdp(stranger!, "10.78.0.1", "10.78.0.2", 123, unsignedMode5(), 3);
      const flood = Array.from({ length: 30 }, (_, k) => `10.78.0.${10 + k}`);
      await sendUdp(stranger!, flood, "10.78.0.2", 123, unsignedMode5());
      const s: Json = await waitStatus(
        status,
        (d) =>
          d.synchronized === true &&
          d.associations.some((a: Json) => a.type === clientType && a.tally === "*"),
        150_000,
        cli.proc,
      );
      const b = s.associations.find((a: Json) => a.type === clientType);
      const serverAddress = family === 4 ? "10.77.0.1" : "fd77::1";
      assert.equal(b.address, serverAddress);
      assert.equal(b.kind, "bclient");
      assert.equal(b.hmode, 6);
      assert.equal(b.ephemeral, true);
      // The server is stratum 3 (LOCAL at 2 + 1); the client follows at 4.
      assert.equal(b.stratum, 3);
      assert.equal(s.stratum, 4);
      // Calibration: a few client requests, then only mode 5.
      assert.ok(b.sent >= 1 && b.sent <= 4, `calibration requests ${b.sent}`);
      assert.ok(Math.abs(b.offsetSec) < 0.05, `offset ${b.offsetSec}`);
      if (!broadcast) {
        assert.deepEqual(s.multicast.groups.map((g: Json) => g.address), [group]);
        assert.equal(s.multicast.ttlErrors, 0);
      }
      // Nothing from the stranger mobilised anything: one association only, the drops counted.
      assert.equal(s.associations.length, 1, JSON.stringify(s.associations));
      assert.ok(s.sysstats.drops.auth_required >= 33, JSON.stringify(s.sysstats.drops));
      // ntpq's view (mode 6): the client's association is type b (as ntpq shows broadcast and
      // multicast clients alike), the server's M (B for a broadcast address).
      const serverType = broadcast ? "B" : "M";
      const clientPeers = await queryHorae(123, ["pe"], client!);
      assert.match(
        clientPeers,
        new RegExp(`^[*]${serverAddress.replace(/\./g, "\\.")}\\s.*\\sb\\s`, "m"),
      );
      const serverPeers = await queryHorae(123, ["pe"], server!);
      assert.match(
        serverPeers,
        new RegExp(`^.${group.replace(/\./g, "\\.")}\\s.*\\s${serverType}\\s`, "m"),
      );
      const srvStatus = JSON.parse(await Deno.readTextFile(`${dir}/server-status.json`));
      const m = srvStatus.associations.find((a: Json) => a.kind === "broadcast");
      assert.equal(m.type, serverType);
      assert.equal(m.address, group);
      assert.ok(m.sent >= 1);
    } finally {
      await cli.stop();
      await srv.stop();
    }
  });
  await Deno.remove(dir, { recursive: true });
}

Deno.test({
  name:
    "interop: Horae broadcast to 239.77.0.1, a Horae multicastclient synchronises (IPv4, keyed)",
  ignore: peers.ignore,
  fn: () => scenario(4),
});

Deno.test({
  name:
    "interop: Horae broadcast to ff05::77:1, a Horae multicastclient synchronises (IPv6, keyed)",
  ignore: peers.ignore,
  fn: () => scenario(6),
});

Deno.test({
  name:
    "interop: Horae broadcast to 10.77.0.255, a Horae broadcastclient synchronises (IPv4 broadcast, keyed)",
  ignore: peers.ignore,
  fn: () => scenario(4, true),
});

Deno.test({
  name: "interop: with auth disabled, mode 5 from 150 senders mobilises at most the ephemeral cap",
  ignore: peers.ignore,
  fn: async () => {
    const dir = await tempDir("mcflood-");
    const status = `${dir}/status.json`;
    await withHosts("mcf", 2, async ([client, stranger]) => {
      await link(stranger!, "x0", client!, "c1", ["10.79.0.1/16", "10.79.0.2/16"]);
      const flood: string[] = [];
      for (let k = 0; k < 150; k++) flood.push(`10.79.${1 + (k >> 7)}.${k & 127}`);
      // One `ip` run adds them all (-batch reads the commands from stdin).
      const batch = flood.map((a) => `addr add ${a}/16 dev x0`).join("\n") + "\n";
      const add = new Deno.Command("ip", {
        args: ["-n", stranger!, "-batch", "-"],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const w = add.stdin.getWriter();
      await w.write(new TextEncoder().encode(batch));
      await w.close();
      assert.equal((await add.status).code, 0);
      const horae = await startHost(client!, "broadcastclient\ndisable auth\n", status);
      try {
        await sendUdp(stranger!, flood, "10.79.0.2", 123, unsignedMode5());
        const s: Json = await waitStatus(
          status,
          (d) => d.sysstats.received >= flood.length,
          30_000,
          horae.proc,
        );
        // Every packet reached the core (auth off); the cap (64) held the rest back, counted.
        const bclients = s.associations.filter((a: Json) => a.kind === "bclient").length;
        assert.equal(bclients, 64);
        assert.equal(s.counters.ephemeralMobilized, 64);
        assert.equal(s.counters.mobilizeRefused.limit, flood.length - 64);
      } finally {
        await horae.stop();
      }
    });
    await Deno.remove(dir, { recursive: true });
  },
});
