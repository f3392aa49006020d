// Manycast across a chain of network namespaces: client C — R1 — R2 — R3, each R a host with a
// Horae `manycastserver` (on LOCAL, signed with a key) and IP forwarding on; R1 and R2 pass the
// group onwards as a multicast router would (_multicast_forwarder.ts: these kernels have no
// multicast routing), only datagrams whose TTL is above 1, with the TTL one lower. So the server
// in R1 is one TTL away, R2's two and R3's three. The client's `manycastclient` with `ttl 1 2 3`
// finds them one ring at a time: R1's at the first request, R2's a search poll later, R3's one
// more after that, and mobilises each (authenticated) as a client association that then polls
// it by unicast, and synchronises. A fourth manycast server, two TTL away but without a time
// source, gets the same requests and answers none (a manycast server answers only while
// synchronised).

import assert from "node:assert/strict";
import { needPeers, type Proc, sh, tempDir } from "../support/peers.ts";
import { type TestKey, writeNtpKeys } from "./_auth_keys.ts";
import {
  type Json,
  link,
  multicastRoute,
  startHost,
  waitStatus,
  withHosts,
} from "./_multicast_net.ts";
import { startMulticastForwarder } from "./_multicast_forwarder.ts";

const peers = await needPeers("manycast client with three manycast servers on a TTL ring", {
  root: "network namespaces",
});

const GROUP = "239.90.0.1";
const KEY: TestKey = {
  id: 7,
  algorithm: "SHA1",
  key: new TextEncoder().encode("manycast-test-key"),
  allowed: null,
  text: null,
};
/** The servers as the client sees them (the address each answers from), nearest first. */
const SERVERS = ["10.90.1.1", "10.90.2.2", "10.90.3.2"];

/** Seconds of the day of a log line "3 Dec 15:49:28 ntpd[1]: <address> mobilize assoc N: ...". */
function mobilizedAt(log: string, address: string): number | null {
  const re = new RegExp(
    `(\\d\\d):(\\d\\d):(\\d\\d) \\S+: ${address.replace(/\./g, "\\.")} mobilize assoc \\d+: server`,
  );
  const m = log.match(re);
  return m === null ? null : Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

Deno.test({
  name:
    "interop: manycastclient with ttl 1 2 3 finds three manycast servers one TTL ring at a time",
  ignore: peers.ignore,
  fn: async () => {
    const dir = await tempDir("manycast-");
    const keys = `${dir}/ntp.keys`;
    await writeNtpKeys(keys, [KEY]);
    await withHosts("mcr", 5, async ([c, r1, r2, r3, u]) => {
      await link(c!, "c0", r1!, "r1a", ["10.90.1.2/24", "10.90.1.1/24"]);
      await link(r1!, "r1b", r2!, "r2a", ["10.90.2.1/24", "10.90.2.2/24"]);
      await link(r2!, "r2b", r3!, "r3a", ["10.90.3.1/24", "10.90.3.2/24"]);
      // U hangs off R1, two TTL away like R2, with a manycast server that has no time source.
      await link(r1!, "r1c", u!, "ua", ["10.90.4.1/24", "10.90.4.2/24"]);
      await sh(["ip", "-n", u!, "route", "add", "default", "via", "10.90.4.1"]);
      // Unicast: forwarding in the middle, routes back and forth.
      for (const r of [r1!, r2!]) {
        await sh(["ip", "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      }
      await sh(["ip", "-n", c!, "route", "add", "default", "via", "10.90.1.1"]);
      await sh(["ip", "-n", r1!, "route", "add", "10.90.3.0/24", "via", "10.90.2.2"]);
      await sh(["ip", "-n", r2!, "route", "add", "10.90.1.0/24", "via", "10.90.2.1"]);
      await sh(["ip", "-n", r3!, "route", "add", "default", "via", "10.90.3.1"]);
      // Multicast: the client's group route, and forwarding of its group datagrams onwards.
      await multicastRoute(c!, "c0");
      const routers: Proc[] = [];
      const procs: { stop(): Promise<unknown> }[] = [];
      try {
        routers.push(
          await startMulticastForwarder(r1!, GROUP, "r1a", "r1b"),
          await startMulticastForwarder(r2!, GROUP, "r2a", "r2b"),
          await startMulticastForwarder(r1!, GROUP, "r1a", "r1c"),
        );
        const unsynced = await startHost(
          u!,
          [`keys ${keys}`, `trustedkey ${KEY.id}`, `manycastserver ${GROUP}`].join("\n"),
          `${dir}/unsynced.json`,
        );
        procs.push(unsynced);
        const serverConf = [
          "server 127.127.1.0",
          "fudge 127.127.1.0 stratum 3",
          `keys ${keys}`,
          `trustedkey ${KEY.id}`,
          `manycastserver ${GROUP}`,
        ].join("\n") + "\n";
        for (const [i, ns] of [r1!, r2!, r3!].entries()) {
          procs.push(
            await startHost(ns, serverConf, `${dir}/server${i + 1}.json`),
          );
        }
        // The servers answer manycast requests only once synchronised (to LOCAL).
        for (let i = 1; i <= 3; i++) {
          const p = (procs[i - 1] as unknown as { proc: Proc }).proc;
          await waitStatus(`${dir}/server${i}.json`, (d) => d.synchronized === true, 60_000, p);
        }
        const status = `${dir}/client.json`;
        const client = await startHost(
          c!,
          [
            `keys ${keys}`,
            `trustedkey ${KEY.id}`,
            "ttl 1 2 3",
            `manycastclient ${GROUP} key ${KEY.id} minpoll 4 maxpoll 4 iburst`,
          ].join("\n") + "\n",
          status,
        );
        procs.push(client);
        const s: Json = await waitStatus(
          status,
          (d) =>
            SERVERS.every((a) =>
              d.associations.some((x: Json) => x.address === a && x.reach !== "000")
            ),
          150_000,
          client.proc,
        ).catch((e) => {
          const fwd = routers.map((r, k) => `forwarder R${k + 1}: ${r.output}`).join("\n");
          throw new Error(`${(e as Error).message}\n${fwd}`);
        });
        const search = s.associations.find((a: Json) => a.type === "a");
        assert.equal(search.address, GROUP);
        assert.equal(search.kind, "manycast");
        for (const a of SERVERS) {
          const x = s.associations.find((y: Json) => y.address === a);
          assert.equal(x.type, "u");
          assert.equal(x.ephemeral, true);
          assert.equal(x.stratum, 4, `${a} serves LOCAL at stratum 3 + 1`);
        }
        // One ring at a time: each farther server is found at least one search poll (16 s,
        // less its jitter) after the nearer one.
        const t = SERVERS.map((a) => mobilizedAt(client.proc.output, a));
        assert.ok(t.every((x) => x !== null), client.proc.output);
        assert.ok(t[1]! - t[0]! >= 12, `R2 found ${t[1]! - t[0]!} s after R1`);
        assert.ok(t[2]! - t[1]! >= 12, `R3 found ${t[2]! - t[1]!} s after R2`);
        assert.ok(search.sent >= 3, `search requests ${search.sent}`);
        // The client synchronises to what it found.
        await waitStatus(status, (d) => d.synchronized === true, 60_000, client.proc);
        // The unsynchronised server got the same requests as R2's and answered none of them.
        const last = JSON.parse(await Deno.readTextFile(status));
        assert.ok(!last.associations.some((a: Json) => a.address === "10.90.4.2"));
        const un = JSON.parse(await Deno.readTextFile(`${dir}/unsynced.json`));
        assert.equal(un.synchronized, false);
        assert.ok(un.multicast.groupDropped >= 1, JSON.stringify(un.multicast));
        assert.equal(un.server.replied, 0);
      } finally {
        for (const p of procs.reverse()) await p.stop();
        for (const r of routers) await r.stop();
      }
    });
    await Deno.remove(dir, { recursive: true });
  },
});
