// Which addresses the daemon serves, seen from two hosts: the daemon's namespace has loopback and
// a veth address; ntpdig runs there (loopback) and in a second namespace across the veth pair.
// Without interface rules both are served; with `interface listen 127.0.0.1` plus `interface
// ignore wildcard`, with `-I lo`, and with `restrict default ignore` plus `interface listen
// 127.0.0.1`, the other host gets nothing and no wildcard socket exists.

import assert from "node:assert/strict";
import { needPeers, type RunningHorae, sh, startHorae, withNetns } from "../support/peers.ts";
import { ntpdig } from "./_access_peers.ts";

const peers = await needPeers("interface rules against ntpdig across a veth pair", {
  programs: ["ntpdig"],
  root: "network namespaces",
});

const LOCAL = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";
const SERVER_ADDRESS = "10.77.0.1";

/** The daemon's namespace and a client namespace, joined by a veth pair. */
async function withTwoHosts(fn: (server: string, client: string) => Promise<void>) {
  await withNetns("hifs", async (server) => {
    await withNetns("hifc", async (client) => {
      await sh([
        "ip",
        "-n",
        server,
        "link",
        "add",
        "v0",
        "type",
        "veth",
        "peer",
        "name",
        "v1",
        "netns",
        client,
      ]);
      await sh(["ip", "-n", server, "addr", "add", `${SERVER_ADDRESS}/24`, "dev", "v0"]);
      await sh(["ip", "-n", client, "addr", "add", "10.77.0.2/24", "dev", "v1"]);
      await sh(["ip", "-n", server, "link", "set", "v0", "up"]);
      await sh(["ip", "-n", client, "link", "set", "v1", "up"]);
      await fn(server, client);
    });
  });
}

/** Local UDP sockets on port 123 in `netns` ("0.0.0.0", "127.0.0.1", "::1", ...). */
async function boundOn123(netns: string): Promise<string[]> {
  const out = await sh(["ip", "netns", "exec", netns, "ss", "-Hunl", "sport", "=", ":123"]);
  return out.trim().split("\n").filter((l) => l !== "").map((l) =>
    l.trim().split(/\s+/)[3]!.replace(/:123$/, "").replace(/^\[(.*)\]$/, "$1")
  ).sort();
}

async function run(
  server: string,
  opts: { conf: string; args?: string[] },
): Promise<RunningHorae> {
  return await startHorae({
    conf: opts.conf,
    port: 123,
    netns: server,
    listen: [],
    ...(opts.args ? { args: opts.args } : {}),
  });
}

Deno.test(
  "interop: interface listen 127.0.0.1 + ignore wildcard, and -I lo: the other host gets nothing",
  {
    ignore: peers.ignore,
  },
  async () => {
    const dig = peers.path("ntpdig");
    await withTwoHosts(async (server, client) => {
      // Without rules: one wildcard socket per family, and the other host is served.
      let horae = await run(server, { conf: LOCAL });
      try {
        const bound = await boundOn123(server);
        assert.ok(bound.includes("0.0.0.0"), `no rules: the wildcard: ${bound}`);
        const far = await ntpdig(dig, SERVER_ADDRESS, client);
        assert.ok(far.served, `no rules: the other host is served:\n${far.output}`);
      } finally {
        await horae.stop();
      }

      for (
        const variant of [
          { conf: `${LOCAL}interface listen 127.0.0.1\ninterface ignore wildcard\n` },
          { conf: LOCAL, args: ["-I", "lo"] },
          // The case the issue names: this used to answer the whole network on the wildcards.
          {
            conf:
              `${LOCAL}restrict default ignore\nrestrict 127.0.0.1\ninterface listen 127.0.0.1\n`,
          },
        ]
      ) {
        horae = await run(server, variant);
        const what = variant.args?.join(" ") ??
          variant.conf.slice(LOCAL.length).replace(/\n/g, "; ");
        try {
          const bound = await boundOn123(server);
          assert.ok(!bound.includes("0.0.0.0") && !bound.includes("*"), `${what}: ${bound}`);
          assert.ok(bound.includes("127.0.0.1"), `${what}: ${bound}`);
          assert.ok(!bound.includes(SERVER_ADDRESS), `${what}: ${bound}`);
          const far = await ntpdig(dig, SERVER_ADDRESS, client);
          assert.ok(!far.served && !far.kissed, `${what}: the other host got:\n${far.output}`);
          const near = await ntpdig(dig, "127.0.0.1", server);
          assert.ok(near.served, `${what}: the local client:\n${near.output}`);
          assert.match(horae.proc.output, /interface v0 10\.77\.0\.1: ignore/);
        } finally {
          const st = await horae.stop();
          assert.equal(st.code, 0, horae.proc.output.slice(-3000));
        }
      }
    });
  },
);
