// The NTS load generator against a running Horae (nts enable) on loopback: its replies verify,
// its cookies come back and are never reused (the daemon would drop a reused one), nothing is
// refused. Correctness only: no assertion on speed.

import assert from "node:assert/strict";
import { freeTcpPort, startHorae, tempDir } from "../../tests/support/peers.ts";
import { makeTestPki, ntsServerConf } from "../../tests/support/nts_pki.ts";
import { runNtsLoad } from "./nts_loadgen.ts";

Deno.test("runNtsLoad() gets verified NTS replies from Horae, cookies renewed, none refused", async () => {
  const dir = await tempDir("nts-loadgen-");
  try {
    const pki = await makeTestPki(dir);
    const kePort = freeTcpPort();
    const horae = await startHorae({
      conf: ntsServerConf(pki, kePort),
    });
    try {
      await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
      const r = await runNtsLoad({
        port: horae.port,
        kePort,
        ca: pki.ca,
        sockets: 2,
        window: 32,
        warmupSec: 0.5,
        durationSec: 1,
      });
      assert.equal(r.keExchanges, 2);
      assert.ok(r.valid > 100, `valid ${r.valid}`);
      // 8 cookies per socket at start, 16 in flight per socket: refills had to happen.
      assert.ok(r.refills > 0);
      assert.deepEqual(r.invalid, {});
      assert.ok(r.sent >= r.valid + r.lost - 32);
    } finally {
      await horae.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
