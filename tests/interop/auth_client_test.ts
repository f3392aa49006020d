// Horae as an authenticated client of chronyd 4.3 servers (keyfile), each on its own 127.0.0.x
// port 123 in a network namespace: one server per key type (MD5, SHA1, SHA256, AES128CMAC), all
// used; and three relays in front of chronyd that show what is refused and counted: one re-signs
// Horae's requests with another key chronyd holds (chronyd's genuine replies then carry that key,
// not the one Horae's line names), one re-signs them for a chronyd whose key 1 has another secret
// (its replies fail Horae's MAC check), one sends every reply twice and the previous reply again
// before each new one (replays). Horae runs observe-only with two server threads; every process
// lacks CAP_SYS_TIME.

import assert from "node:assert/strict";
import { needPeers, startChronydServer, startDenoScript, withNetns } from "../support/peers.ts";
import { type Json, NETNS, startObservingHorae, waitStatus } from "./_chronyd_servers.ts";
import { randomKeys, toHex, writeChronyKeys, writeNtpKeys, wrongKeys } from "./_auth_keys.ts";

const peers = await needPeers("horae authenticates to chronyd servers", {
  programs: ["chronyd"],
  root: NETNS,
});

/**
 * A relay on args[0]:123 for one client, to chronyd at args[1]:123. args[2] is the mode:
 * "resign ID HASH HEXKEY" replaces the request's MAC by hash(key ‖ header) with key ID (HASH md5
 * or sha1); "replay" forwards requests unchanged and sends each reply twice, after the previous
 * reply once more.
 */
const RELAY = `
import { createHash } from "node:crypto";
const [listen, upstream, mode, id, hash, hexKey] = Deno.args;
const key = hexKey ? Uint8Array.from(hexKey.match(/../g).map((h) => parseInt(h, 16))) : null;
const front = Deno.listenDatagram({ transport: "udp", hostname: listen, port: 123 });
// From 127.0.0.1: the only client address the chronyd servers allow.
const back = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const to = { transport: "udp", hostname: upstream, port: 123 };
let client = null;
let previous = null;
console.log("relay ready");
(async () => {
  for (;;) {
    const [reply] = await back.receive();
    if (client === null) continue;
    if (mode === "replay") {
      if (previous !== null) await front.send(previous, client);
      await front.send(reply, client);
      await front.send(reply, client);
      previous = reply;
    } else await front.send(reply, client);
  }
})();
for (;;) {
  const [req, from] = await front.receive();
  client = from;
  let out = req;
  if (mode === "resign" && req.length >= 52) {
    const digest = createHash(hash).update(key).update(req.subarray(0, 48)).digest();
    out = new Uint8Array(52 + digest.length);
    out.set(req.subarray(0, 48));
    new DataView(out.buffer).setUint32(48, Number(id));
    out.set(digest, 52);
  }
  await back.send(out, to);
}
`;

Deno.test(
  "interop: Horae authenticates to chronyd servers with MD5, SHA1, SHA256 and AES128CMAC; another key, a wrong secret and replays are refused and counted",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withNetns("hauth", async (ns) => {
      const keys = randomKeys();
      const stops: (() => Promise<unknown>)[] = [];
      try {
        const started = await Promise.all([
          ...["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"].map((a) =>
            startKeyedChronyd(chronyd, ns, a, keys)
          ),
          startKeyedChronyd(chronyd, ns, "127.0.0.9", wrongKeys(keys)),
        ]);
        for (const s of started) stops.push(s.stop);
        const sha1 = keys[1]!; // key 2
        const wrong1 = wrongKeys(keys)[0]!; // chronyd .9's key 1: MD5, not Horae's secret
        for (
          const args of [
            ["127.0.0.6", "127.0.0.3", "resign", "2", "sha1", toHex(sha1.key)],
            ["127.0.0.7", "127.0.0.9", "resign", "1", "md5", toHex(wrong1.key)],
            ["127.0.0.8", "127.0.0.2", "replay"],
          ]
        ) {
          const relay = await startDenoScript(RELAY, { netns: ns, args });
          stops.push(relay.stop);
          await relay.proc.waitFor(/relay ready/, 10_000);
        }
        const dir = started[0]!.dir;
        await writeNtpKeys(`${dir}/ntp.keys`, keys);
        const lines = [
          "server 127.0.0.2 key 1 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.3 key 2 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.4 key 3 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.5 key 4 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.6 key 1 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.7 key 1 iburst minpoll 4 maxpoll 4",
          "server 127.0.0.8 key 1 iburst minpoll 4 maxpoll 4",
          `keys ${dir}/ntp.keys`,
          "trustedkey 1 2 3 4",
          "",
        ];
        // Two server threads: replies that land in the worker's socket reach the core with the
        // key id the worker verified.
        const horae = await startObservingHorae(ns, lines.join("\n"), ["--server-threads", "2"]);
        stops.push(horae.stop);
        const by = (s: Json, a: string) => s.associations.find((x: Json) => x.address === a);
        const st = await waitStatus(
          `${horae.dir}/status.json`,
          (s) =>
            s.synchronized &&
            ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.8"].every((a) =>
              (by(s, a)?.received ?? 0) >= 3
            ) &&
            (by(s, "127.0.0.6")?.rejected.unauthenticated ?? 0) >= 3 &&
            (s.sysstats?.drops?.bad_mac ?? 0) >= 3 &&
            (by(s, "127.0.0.8")?.rejected.duplicate ?? 0) >= 3,
          60_000,
          horae.proc,
        );
        for (const a of ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]) {
          const x = by(st, a);
          assert.notEqual(x.reach, "000", `${a}: reachable with its key`);
          assert.deepEqual(Object.keys(x.rejected), [], `${a}: ${JSON.stringify(x.rejected)}`);
        }
        // chronyd's genuine replies under key 2, to a line that names key 1: never used.
        const other = by(st, "127.0.0.6");
        assert.deepEqual([other.reach, other.received], ["000", 0], JSON.stringify(other));
        // Key 1 with another secret: refused by the packet path (bad MAC), never reaching the
        // association.
        const badSecret = by(st, "127.0.0.7");
        assert.deepEqual([badSecret.reach, badSecret.received], ["000", 0]);
        assert.equal(st.sysstats.badAuth, st.sysstats.drops.bad_mac);
        // Replays: each genuine reply is used once, its copies and the old ones are refused.
        const replayed = by(st, "127.0.0.8");
        assert.ok(replayed.received >= 3);
        assert.ok(replayed.rejected.duplicate >= replayed.received, JSON.stringify(replayed));
        assert.ok(st.stratum === 9, `synchronised to chronyd (stratum ${st.stratum})`);
      } finally {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      }
    });
  },
);

/** chronyd -x on `address`:123 in `ns` with a keyfile of `keys`. */
async function startKeyedChronyd(
  chronyd: string,
  ns: string,
  address: string,
  keys: ReturnType<typeof randomKeys>,
) {
  const keyDir = await Deno.makeTempDir({ prefix: "horae-chrony-keys-" });
  const file = `${keyDir}/chrony.keys`;
  await writeChronyKeys(file, keys);
  await Deno.chmod(keyDir, 0o755);
  const s = await startChronydServer(chronyd, {
    port: 123,
    bindAddress: address,
    netns: ns,
    extra: [`keyfile ${file}`],
  });
  return {
    dir: keyDir,
    stop: async () => {
      await s.stop();
      await Deno.remove(keyDir, { recursive: true }).catch(() => {});
    },
  };
}
