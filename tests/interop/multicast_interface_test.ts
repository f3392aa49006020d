// Security: a `multicastclient` group is joined only on the interfaces the `interface` rules
// serve. The client host has two links; `interface ignore c1` must keep mode 5 packets sent to
// the group over c1 from mobilising anything, while the same packets over c0 do (auth disabled,
// so any mode 5 would mobilise: the interface rule is the only thing that refuses them).
// Every daemon runs without CAP_SYS_TIME in observe mode; the namespaces are removed afterwards.

import assert from "node:assert/strict";
import { needPeers, tempDir } from "../support/peers.ts";
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

const peers = await needPeers("multicastclient and interface rules", {
  root: "network namespaces",
});

const GROUP = "239.81.0.1";

Deno.test({
  name: "interop: `interface ignore c1` keeps a multicastclient group off c1",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await tempDir("mcast-if-");
    try {
      await withHosts("mif", 3, async ([client, good, bad]) => {
        await link(good!, "g0", client!, "c0", ["10.81.0.1/24", "10.81.0.2/24"]);
        await link(bad!, "b0", client!, "c1", ["10.82.0.1/24", "10.82.0.2/24"]);
        await multicastRoute(good!, "g0");
        await multicastRoute(bad!, "b0");
        await multicastRoute(client!, "c0");
        const status = `${dir}/status.json`;
        const cli = await startHost(
          client!,
          ["disable auth", `multicastclient ${GROUP}`, "interface ignore c1"].join("\n") +
            "\n",
          status,
        );
        try {
          await cli.proc.waitFor(/Joined multicast group 239\.81\.0\.1/, 10_000);
          await sendUdp(bad!, "10.82.0.1", GROUP, 123, unsignedMode5(), 3);
          await sendUdp(good!, "10.81.0.1", GROUP, 123, unsignedMode5(), 3);
          const s: Json = await waitStatus(
            status,
            (d) => d.associations.some((a: Json) => a.address === "10.81.0.1"),
            20_000,
            cli.proc,
          );
          // One more status write, so that a late packet over c1 would show as well.
          await new Promise((r) => setTimeout(r, 2500));
          const later: Json = JSON.parse(await Deno.readTextFile(status));
          for (const d of [s, later]) {
            assert.deepEqual(
              d.associations.map((a: Json) => a.address),
              ["10.81.0.1"],
              "nothing mobilised from the ignored interface",
            );
          }
        } finally {
          await cli.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
