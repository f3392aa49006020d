// DaemonNts: the KE server's start-up errors are reported and leave plain NTP alone, the TLS
// version settings are checked, and the server makes cookies under the daemon's keys.

import assert from "node:assert/strict";
import type { Logger } from "../log/logger.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { makeTestPki } from "../../tests/support/nts_pki.ts";
import { NodeCrypto } from "./crypto_node.ts";
import { CryptoRng } from "./crypto_rng.ts";
import { DaemonNts, type NtsSettings, tlsVersionName } from "./daemon_nts.ts";
import { NtsKeClient } from "./nts_ke_client.ts";
import { realTimers } from "./timers.ts";

function recorder(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: {
      debug: () => {},
      info: (m) => void lines.push(`info: ${m}`),
      warn: (m) => void lines.push(`warn: ${m}`),
      error: (m) => void lines.push(`error: ${m}`),
    },
  };
}

const BASE: NtsSettings = {
  enabled: true,
  certFile: null,
  keyFile: null,
  cookieFile: null,
  caFile: null,
  port: 0,
  minTls: "TLS1.3",
  maxTls: "TLS1.3",
};

const noDns = () => Promise.resolve({ ok: false as const, reason: "none" });

Deno.test("tlsVersionName() maps the option words to libssl's names", () => {
  assert.equal(tlsVersionName("tls1.2"), "TLS1.2");
  assert.equal(tlsVersionName("TLS1.3"), "TLS1.3");
});

Deno.test("DaemonNts: nts enable without cert and key is reported, and nothing listens", async () => {
  const { log, lines } = recorder();
  const nts = new DaemonNts(BASE, {
    log,
    timers: realTimers,
    resolver: noDns,
    cookies: () => null,
  });
  nts.startServer(["127.0.0.1"], 123);
  assert.deepEqual(lines, [
    "error: NTS-KE server not started: nts enable needs nts cert and nts key",
  ]);
  const st = nts.status();
  assert.equal(st.server, null);
  assert.match(st.serverError ?? "", /needs nts cert/);
  await nts.stop();
});

Deno.test("DaemonNts: maxtls below mintls is raised with a warning; TLS 1.2 is warned about", async () => {
  const a = recorder();
  const n1 = new DaemonNts({ ...BASE, enabled: false, maxTls: "TLS1.2" }, {
    log: a.log,
    timers: realTimers,
    resolver: noDns,
    cookies: () => null,
  });
  assert.deepEqual(a.lines, ["warn: nts maxtls TLS1.2 is below mintls TLS1.3; using TLS1.3"]);
  await n1.stop();
  const b = recorder();
  const n2 = new DaemonNts({ ...BASE, enabled: false, minTls: "TLS1.2", maxTls: "TLS1.2" }, {
    log: b.log,
    timers: realTimers,
    resolver: noDns,
    cookies: () => null,
  });
  assert.match(b.lines[0] ?? "", /RFC 8915 requires TLS 1.3/);
  await n2.stop();
});

Deno.test("DaemonNts: the KE server hands out cookies made under the daemon's keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-daemon-nts-" });
  try {
    const pki = await makeTestPki(dir);
    const keys = new NtsServerKeys(new NodeCrypto(), new CryptoRng());
    keys.setKeys([{ id: 3, key: new Uint8Array(32).fill(1) }], 3);
    const { log, lines } = recorder();
    let ready = false;
    const nts = new DaemonNts({ ...BASE, certFile: pki.cert, keyFile: pki.key }, {
      log,
      timers: realTimers,
      resolver: noDns,
      cookies: () => ready ? keys : null,
    });
    nts.startServer(["127.0.0.1"], 11123);
    const port = nts.status().server!.port;
    assert.ok(lines.some((l) => l.startsWith(`info: NTS-KE server on TCP port`)), lines.join("\n"));
    const client = new NtsKeClient({ caFile: pki.ca, timeoutSec: 5 });
    // Before the keys are loaded: an Error record (internal server error), counted.
    const early = await client.exchange({ host: "127.0.0.1", port });
    assert.ok(!early.ok && early.failure === "server_error", early.ok ? "" : early.reason);
    ready = true;
    const r = await client.exchange({ host: "127.0.0.1", port });
    client.close();
    assert.ok(r.ok, r.ok ? "" : r.reason);
    if (r.ok) {
      assert.equal(r.result.ntpPort, 11123, "a port other than 123 is announced");
      assert.ok(keys.openCookie(r.result.cookies[0]!).ok);
    }
    const st = nts.status();
    assert.equal(st.server?.served, 1);
    assert.equal(st.server?.internalErrors, 1);
    await nts.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
