// The daemon's NTS NTP service end to end over a MemoryNetwork: `nts enable` with a cookie key
// file that another instance wrote (so this daemon opens that instance's cookies), an NTS request
// answered with fresh cookies the client verifies, a tampered one unanswered.

import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import { Daemon } from "./daemon.ts";
import { statusDocument } from "./status_file.ts";
import { fakeClock, writeCookieKeyFile } from "./_test_daemon.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function exchange(network: MemoryNetwork, server: SocketAddress, req: Uint8Array) {
  const client = network.open("127.0.0.2:40000");
  const replies: Uint8Array[] = [];
  const serving = client.serve((d) => void replies.push(d.data.slice()));
  client.send(req, server);
  network.flush();
  client.close();
  await serving;
  return replies;
}

Deno.test("Daemon with nts enable answers NTS requests under the shared cookie keys", async () => {
  const dir = await Deno.makeTempDir();
  const network = new MemoryNetwork();
  try {
    // The key file as another instance behind the same name wrote it.
    const path = `${dir}/cookies`;
    const { keys: other, currentId } = await writeCookieKeyFile(path);
    const before = await Deno.readTextFile(path);
    const c2s = new Uint8Array(32).fill(7), s2c = new Uint8Array(32).fill(8);
    const client = new NtsClient(new PureCrypto(), new SeededRng(2));
    client.install({
      aeadId: AEAD_AES_SIV_CMAC_256,
      c2sKey: c2s,
      s2cKey: s2c,
      cookies: [1, 2, 3].map(() => other.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)),
      ntpServer: "127.0.0.1",
      ntpPort: 123,
    }, 0);
    const clock = fakeClock(network);
    const errors: string[] = [];
    const listen = { family: 4 as const, address: "127.0.0.1", port: 123 };
    const daemon = new Daemon({
      listen: [listen],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: null,
      noSteerReason: null,
      refclockPollSec: 64,
      nts: {
        enabled: true,
        certFile: null, // the KE server cannot start (logged); the NTP side runs regardless
        keyFile: null,
        cookieFile: path,
        caFile: null,
        port: 4460,
        minTls: "TLS1.3",
        maxTls: "TLS1.3",
      },
    }, {
      clock,
      openTransport: (a) => Promise.resolve(network.open(a)),
      log: { ...quiet, error: (m) => void errors.push(m) },
    });
    await daemon.start();
    try {
      let n = 0; // a fresh transmit timestamp per request
      const header = () => {
        const h = new Uint8Array(48);
        h[0] = 0x23;
        new DataView(h.buffer).setBigUint64(40, fromUnix(1_800_000_000 + n++));
        return h;
      };
      const [reply] = await exchange(network, listen, client.protect(header())!);
      assert.ok(reply !== undefined, "an NTS reply");
      assert.equal(reply[0]! & 7, 4);
      assert.equal(client.checkReply(reply, true), "ok");
      assert.equal(client.cookieCount, 8, "2 held + 1 for the spent cookie + 5 placeholders");
      const tampered = client.protect(header())!;
      tampered[44] = tampered[44]! ^ 1;
      assert.deepEqual(await exchange(network, listen, tampered), []);
      // A replayed request (the first one again): its cookie was spent.
      const request = client.protect(header())!;
      assert.equal((await exchange(network, listen, request)).length, 1);
      assert.deepEqual(await exchange(network, listen, request), []);
      // A cookie under a key the file does not hold: an NTS NAK.
      const stranger = new NtsServerKeys(new PureCrypto(), new SeededRng(3));
      stranger.setKeys([{ id: 1, key: new Uint8Array(32).fill(0xee) }], 1);
      const lost = new NtsClient(new PureCrypto(), new SeededRng(4));
      lost.install({
        aeadId: AEAD_AES_SIV_CMAC_256,
        c2sKey: c2s,
        s2cKey: s2c,
        cookies: [stranger.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)],
        ntpServer: "127.0.0.1",
        ntpPort: 123,
      }, 0);
      const [nak] = await exchange(network, listen, lost.protect(header())!);
      assert.ok(nak !== undefined);
      assert.equal(lost.checkReply(nak, true), "nak");
      const drops = daemon.status().sysstats.drops;
      assert.equal(drops.nts_bad_auth, 1);
      assert.equal(drops.nts_cookie_reuse, 1);
      assert.equal(drops.nts_bad_cookie, 1);
      assert.equal(await Deno.readTextFile(path), before, "a current file is not rewritten");
      // The cookie keys in the status (and so in the status file).
      assert.deepEqual(daemon.status().ntsCookieKeys, {
        cookieFile: path,
        ready: true,
        currentKeyId: currentId,
        keys: 2,
        error: null,
      });
      const doc = statusDocument(daemon.status(), fromUnix(1_800_000_000));
      assert.equal((doc.ntsCookieKeys as { currentKeyId: number }).currentKeyId, currentId);
      assert.ok(errors.some((e) => e.includes("nts cert")), errors.join("\n"));
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
