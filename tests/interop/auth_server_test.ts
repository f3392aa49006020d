// Horae's daemon as an authenticated server (keys file, trustedkey, two server threads), checked
// by chronyd 4.3 as a client with a keyfile for MD5, SHA1, SHA256 and AES128CMAC, and a wrong key;
// then each kind of bad MAC sent to it, answered with a crypto-NAK and counted by reason, and
// signed requests from many ports (both threads) whose replies all verify.

import assert from "node:assert/strict";
import { isCryptoNak, MacVerifier } from "../../lib/proto/auth/mac.ts";
import {
  ALGORITHMS,
  chronydQueryWithKey,
  exchange,
  randomKeys,
  signedRequest,
  storeOf,
  writeChronyKeys,
  writeNtpKeys,
  wrongKeys,
} from "./_auth_keys.ts";
import {
  LOOPBACK_OFFSET_SEC,
  needPeers,
  startHorae,
  tempDir,
  waitForJson,
} from "../support/peers.ts";

const peer = await needPeers("chronyd authenticates to Horae's server", { programs: ["chronyd"] });
const chronydOnly = peer;

interface Status {
  sysstats: {
    received: number;
    processed: number;
    badAuth: number;
    drops: Record<string, number>;
  };
  serverThreads: { thread: number; received: number }[];
}

const LOCAL = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";

Deno.test(
  "interop: chronyd authenticates to Horae's server with MD5, SHA1, SHA256 and AES128CMAC, and gets nothing with a wrong key",
  { ignore: chronydOnly.ignore },
  async () => {
    const chronyd = peer.path("chronyd");
    const dir = await tempDir("auth-srv-");
    const keys = randomKeys();
    await writeNtpKeys(`${dir}/ntp.keys`, keys);
    await writeChronyKeys(`${dir}/chrony.keys`, keys);
    await writeChronyKeys(`${dir}/wrong.keys`, wrongKeys(keys));
    const horae = await startHorae({
      conf: `${LOCAL}keys ${dir}/ntp.keys\ntrustedkey 1 2 3 4\n`,
      args: ["--server-threads", "2", "--status-file", "status.json"],
    });
    try {
      assert.match(
        horae.proc.output,
        /keys: 4 from .*ntp\.keys, trusted 1 2 3 4; MACs by libcrypto/,
      );
      const runs = [
        ...ALGORITHMS.map((alg, k) => ({ alg, id: k + 1, file: "chrony.keys", good: true })),
        { alg: "MD5", id: 1, file: "wrong.keys", good: false },
        { alg: "AES128CMAC", id: 4, file: "wrong.keys", good: false },
      ];
      const results = await Promise.all(runs.map(async (run) => ({
        run,
        r: await chronydQueryWithKey(
          chronyd,
          dir,
          `${dir}/${run.file}`,
          horae.port,
          run.id,
          run.good ? 25 : 8,
        ),
      })));
      for (const { run, r } of results) {
        const what = `${run.alg} (${run.good ? "same key" : "wrong key"})`;
        if (run.good) {
          assert.notEqual(
            r.offsetSec,
            null,
            `${what}: chronyd refused Horae's replies\n${r.output}`,
          );
          assert.ok(Math.abs(r.offsetSec!) < LOOPBACK_OFFSET_SEC, `${what}: ${r.offsetSec} s`);
        } else {
          assert.equal(r.offsetSec, null, `${what}: chronyd used a reply it should refuse`);
        }
      }
      // The wrong-key requests were refused as bad MACs (each got a crypto-NAK, which chronyd
      // does not take as time either); the good ones were processed.
      const st = await waitForJson<Status>(
        `${horae.dir}/status.json`,
        (d) => (d.sysstats?.drops?.bad_mac ?? 0) >= 2,
        5000,
        horae.proc,
      );
      assert.equal(st.sysstats.badAuth, st.sysstats.drops.bad_mac, JSON.stringify(st.sysstats));
      assert.ok(st.sysstats.processed >= 12, `processed ${st.sysstats.processed}`);
    } finally {
      await horae.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "interop: Horae's server answers each bad MAC with a crypto-NAK and counts it; signed requests on both threads get replies that verify",
  async () => {
    const dir = await tempDir("auth-bad-");
    const keys = randomKeys([
      { algorithm: "MD5" }, // 5: defined, not trusted
      { algorithm: "SHA1", allowed: ["192.0.2.0/24", "2001:db8::/32"] }, // 6: not for 127.0.0.1
    ]);
    await writeNtpKeys(`${dir}/ntp.keys`, keys);
    const horae = await startHorae({
      conf: `${LOCAL}keys ${dir}/ntp.keys\ntrustedkey 1 2 3 4 6\n`,
      args: ["--server-threads", "2", "--status-file", "status.json"],
    });
    try {
      // The status file is first written once the daemon has started, server thread included.
      await waitForJson<Status>(
        `${horae.dir}/status.json`,
        (d) => d.serverThreads?.length === 2,
        10_000,
        horae.proc,
      );
      const store = storeOf(keys);
      const unknown = signedRequest(store, 1).slice();
      unknown[51] = 99; // key id 99
      const forged = signedRequest(store, 4).slice();
      forged[44] = forged[44]! ^ 1; // the transmit timestamp changed after signing
      const cases: [string, Uint8Array][] = [
        ["truncated_mac", signedRequest(store, 2).subarray(0, 68)], // SHA1 digest cut to 16 bytes
        ["unknown_key", unknown],
        ["untrusted_key", signedRequest(store, 5)],
        ["address_excluded", signedRequest(store, 6)],
        ["bad_mac", forged],
      ];
      for (const [reason, req] of cases) {
        const reply = await exchange(horae.port, req);
        assert.ok(reply !== null, `${reason}: no answer`);
        assert.equal(reply.length, 52, `${reason}: a header and a crypto-NAK`);
        assert.ok(isCryptoNak(reply, reply.length, 48), reason);
        assert.deepEqual(reply.subarray(24, 32), req.subarray(40, 48), `${reason}: origin`);
      }
      // Signed requests from many source ports: the kernel spreads them over both threads, and
      // every reply is signed with the request's key over its final transmit timestamp.
      const verifier = new MacVerifier(store);
      const replies = await Promise.all(
        Array.from({ length: 32 }, (_, k) => {
          const id = 1 + (k % 4);
          const version = id === 3 && k % 8 === 2 ? 3 : 4; // some SHA256 in full (NTPv3)
          const req = signedRequest(store, id, version, version === 3 ? 32 : undefined);
          return exchange(horae.port, req).then((reply) => ({ id, req, reply }));
        }),
      );
      for (const { id, req, reply } of replies) {
        assert.ok(reply !== null, `key ${id}: no answer`);
        assert.equal(reply.length, req.length, `key ${id}: the request's MAC length`);
        assert.equal(verifier.verify(reply, reply.length, 48, null), "ok", `key ${id}`);
        assert.equal(verifier.lastKeyId, id);
        assert.deepEqual(reply.subarray(24, 32), req.subarray(40, 48));
      }
      const st = await waitForJson<Status>(
        `${horae.dir}/status.json`,
        (d) => d.sysstats?.received >= 37,
        5000,
        horae.proc,
      );
      const d = st.sysstats.drops;
      assert.deepEqual(
        [d.truncated_mac, d.unknown_key, d.untrusted_key, d.address_excluded, d.bad_mac],
        [1, 1, 1, 1, 1],
        JSON.stringify(d),
      );
      assert.equal(st.sysstats.badAuth, 5);
      assert.equal(st.sysstats.processed, 32);
      assert.ok(
        st.serverThreads.every((t) => t.received > 0),
        `both threads served: ${JSON.stringify(st.serverThreads)}`,
      );
    } finally {
      await horae.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
