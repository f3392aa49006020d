// NTS with --server-threads 2 on real UDP sockets: requests from many ports land on both threads
// (SO_REUSEPORT), and every one is answered with an NTS reply the client verifies, under cookie
// keys from the shared key file: the server thread got the master keys from the main thread.

import assert from "node:assert/strict";
import { NullClock } from "../clock/null_clock.ts";
import { openUdpTransport } from "../net/open_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { SeededRng } from "../proto/rng.ts";
import { Daemon } from "./daemon.ts";
import { writeCookieKeyFile } from "./_test_daemon.ts";

/** main.ts: server threads start from the main module, which branches to the worker code. */
const MAIN_MODULE = new URL("../../main.ts", import.meta.url);

Deno.test("Daemon --server-threads 2 answers NTS requests on both threads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { keys } = await writeCookieKeyFile(`${dir}/cookies`);
    const lines: string[] = [];
    const put = (m: string) => void lines.push(m);
    const daemon = new Daemon({
      listen: [{ family: 4, address: "127.0.0.1", port: 0 }],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: null,
      noSteerReason: null,
      refclockPollSec: 64,
      serverThreads: 2,
      nts: {
        enabled: true,
        certFile: null, // no NTS-KE server: the NTP side is what is tested
        keyFile: null,
        cookieFile: `${dir}/cookies`,
        caFile: null,
        port: 4460,
        minTls: "TLS1.3",
        maxTls: "TLS1.3",
      },
    }, {
      clock: new NullClock(),
      log: { debug: put, info: put, warn: put, error: put },
      openTransport: (a: SocketAddress, _c?: unknown, o?: { reusePort: boolean }) =>
        Promise.resolve(
          openUdpTransport({ address: a, ...(o?.reusePort ? { reusePort: true } : {}) }).transport,
        ),
      workerModule: MAIN_MODULE,
      workerOptions: { statsIntervalMs: 50 },
    });
    await daemon.start();
    try {
      const port = daemon.status().listening[0]!.port;
      const c2s = new Uint8Array(32).fill(7), s2c = new Uint8Array(32).fill(8);
      /** NTS requests from `count` fresh sockets: the verdict on each reply. */
      const round = async (count: number, seed: number): Promise<string[]> => {
        const socks = Array.from(
          { length: count },
          () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
        );
        try {
          return await Promise.all(socks.map(async (s, k) => {
            const client = new NtsClient(new PureCrypto(), new SeededRng(seed + k));
            client.install({
              aeadId: AEAD_AES_SIV_CMAC_256,
              c2sKey: c2s,
              s2cKey: s2c,
              cookies: [keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)],
              ntpServer: "127.0.0.1",
              ntpPort: port,
            }, 0);
            const h = new Uint8Array(48);
            h[0] = 0x23;
            h[40] = 0xe9;
            h[47] = k + 1;
            await s.send(client.protect(h)!, { transport: "udp", hostname: "127.0.0.1", port });
            let timer: ReturnType<typeof setTimeout> | undefined;
            const got = await Promise.race([
              s.receive().then(([d]) => d),
              // Generous: a loaded 2-core machine can hold a thread off the CPU for seconds.
              new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
            ]);
            clearTimeout(timer);
            return got === null ? "no reply" : client.checkReply(got, true);
          }));
        } finally {
          for (const s of socks) s.close();
        }
      };
      // Rounds until the server thread has taken some (it may still be starting on a loaded
      // machine: then the main thread answers all); every reply must verify, whoever sent it.
      for (let r = 0; r < 20; r++) {
        const verdicts = await round(24, 100 * r);
        assert.deepEqual(verdicts, verdicts.map(() => "ok"), lines.join("\n"));
        if (daemon.status().serverThreads[1]!.received > 0) break;
        await new Promise((res) => setTimeout(res, 1000));
      }
      const threads = daemon.status().serverThreads;
      assert.ok(threads[1]!.received > 0, "some requests reached the server thread");
      assert.ok(threads[0]!.received > 0, "some requests reached the main thread");
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
