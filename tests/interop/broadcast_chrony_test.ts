// chronyd 4.3 as a broadcast server (`broadcast 16 10.88.0.255`, -x: it never touches the clock)
// and Horae as a `broadcastclient` in a second network namespace across a veth pair: Horae takes
// chronyd's mode 5 packets from the subnet broadcast address, mobilises a broadcast client
// association, measures the delay with a few client requests to chronyd, then follows the
// broadcasts and synchronises to chronyd (observe mode, without CAP_SYS_TIME). chrony's
// broadcasts carry no MAC, so this client runs with `disable auth`.

import assert from "node:assert/strict";
import { needPeers, startChronydServer, tempDir } from "../support/peers.ts";
import { type Json, link, startHost, waitStatus, withHosts } from "./_multicast_net.ts";

const peers = await needPeers("chronyd broadcast server, Horae broadcastclient", {
  programs: ["chronyd"],
  root: "network namespaces",
});

Deno.test({
  name: "interop: chronyd broadcast to 10.88.0.255, Horae broadcastclient synchronises to it",
  ignore: peers.ignore,
  fn: async () => {
    const chronyd = peers.path("chronyd");
    const dir = await tempDir("bcast-");
    const status = `${dir}/status.json`;
    await withHosts("bcc", 2, async ([server, client]) => {
      await link(server!, "s0", client!, "c0", ["10.88.0.1/24", "10.88.0.2/24"]);
      const chrony = await startChronydServer(chronyd, {
        port: 123,
        netns: server!,
        bindAddress: "0.0.0.0",
        stratum: 8,
        extra: ["allow 10.88.0.0/24", "broadcast 16 10.88.0.255"],
      });
      const horae = await startHost(client!, "broadcastclient\ndisable auth\n", status);
      try {
        const s: Json = await waitStatus(
          status,
          (d) =>
            d.synchronized === true &&
            d.associations.some((a: Json) => a.type === "b" && a.tally === "*"),
          120_000,
          horae.proc,
        );
        const b = s.associations.find((a: Json) => a.type === "b");
        assert.equal(b.address, "10.88.0.1");
        assert.equal(b.kind, "bclient");
        assert.equal(b.stratum, 8);
        assert.equal(s.stratum, 9);
        // Both ends read this machine's clock: chronyd's time is ours within the path's noise.
        assert.ok(Math.abs(b.offsetSec) < 0.01, `offset ${b.offsetSec}`);
        // The calibration volley (at most four requests, two seconds apart), then nothing but
        // chronyd's broadcasts: they alone keep the server reachable and give samples.
        // `received` counts answers to the requests and the broadcasts taken after them.
        const after = async (beyondSent: number): Promise<Json> => {
          const d: Json = await waitStatus(
            status,
            (x) => {
              const a = x.associations.find((y: Json) => y.type === "b");
              return a !== undefined && a.received >= a.sent + beyondSent;
            },
            60_000,
            horae.proc,
          );
          return d.associations.find((y: Json) => y.type === "b");
        };
        const b2 = await after(2);
        assert.ok(b2.sent >= 1 && b2.sent <= 4, `calibration requests ${b2.sent}`);
        const b3 = await after(b2.received - b2.sent + 1);
        assert.equal(b3.sent, b2.sent, "no client requests after the calibration");
        assert.notEqual(b3.reach, "000");
        const last = JSON.parse(await Deno.readTextFile(status));
        assert.equal(last.synchronized, true);
        assert.match(horae.proc.output, /10\.88\.0\.1 mobilize assoc \d+: bclient/);
      } finally {
        await horae.stop();
        await chrony.stop();
      }
    });
    await Deno.remove(dir, { recursive: true });
  },
});
