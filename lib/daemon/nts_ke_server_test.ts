// The KE client and server against each other on loopback, with test certificates made by the
// openssl CLI in a temporary folder: cookies that open to the client's keys, certificate
// failures, wrong AEAD, a request written byte by byte, deadlines and the connection cap.

import assert from "node:assert/strict";
import { TlsContext } from "../../ffi/libssl.ts";
import { TlsStream } from "../net/tls_stream.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { buildKeRequest, interpretKeResponse } from "../proto/nts/ke_negotiation.ts";
import { encodeRecords, KeRecordReader, NTS_KE_ALPN } from "../proto/nts/ke_records.ts";
import { lazyTestPki, type TestPki } from "../../tests/support/nts_pki.ts";
import { NodeCrypto } from "./crypto_node.ts";
import { CryptoRng } from "./crypto_rng.ts";
import { NtsKeClient } from "./nts_ke_client.ts";
import {
  clientKey,
  DEFAULT_NTS_KE_SERVER_OPTIONS,
  HandshakeRate,
  NtsKeServer,
  type NtsKeServerOptions,
} from "./nts_ke_server.ts";
import type { Logger } from "../log/logger.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const pki = lazyTestPki("horae-nts-ke-");

function serverKeys(): NtsServerKeys {
  const keys = new NtsServerKeys(new NodeCrypto(), new CryptoRng());
  keys.setKeys([{ id: 7, key: new Uint8Array(32).fill(9) }], 7);
  return keys;
}

async function withServer(
  opts: Partial<NtsKeServerOptions>,
  fn: (server: NtsKeServer, port: number, keys: NtsServerKeys, p: TestPki) => Promise<void>,
): Promise<void> {
  const p = await pki();
  const keys = serverKeys();
  const server = new NtsKeServer(
    {
      ...DEFAULT_NTS_KE_SERVER_OPTIONS,
      addresses: ["127.0.0.1"],
      port: 0,
      certFile: p.cert,
      keyFile: p.key,
      ...opts,
    },
    keys,
    quiet,
  );
  const err = server.start();
  assert.equal(err, null);
  try {
    await fn(server, server.ports[0]!, keys, p);
  } finally {
    await server.stop();
  }
}

/** Waits (bounded) until `pred` holds. */
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("NTS-KE exchange: 8 cookies that open to the keys the client exported", async () => {
  await withServer({ ntpServer: "127.0.0.1", ntpPort: 11123 }, async (server, port, keys, p) => {
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
    const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
    client.close();
    assert.ok(r.ok, r.ok ? "" : r.reason);
    if (!r.ok) return;
    assert.equal(r.result.aeadId, 15);
    assert.equal(r.result.cookies.length, 8);
    assert.equal(r.result.ntpServer, "127.0.0.1");
    assert.equal(r.result.ntpPort, 11123);
    assert.equal(r.result.c2sKey.length, 32);
    assert.notDeepEqual(r.result.c2sKey, r.result.s2cKey);
    for (const c of r.result.cookies) {
      const opened = keys.openCookie(c);
      assert.ok(opened.ok);
      if (!opened.ok) continue;
      assert.deepEqual(opened.cookie.c2s, r.result.c2sKey);
      assert.deepEqual(opened.cookie.s2c, r.result.s2cKey);
    }
    assert.equal(new Set(r.result.cookies.map((c) => c.join())).size, 8, "cookies differ");
    assert.equal(server.counters.served, 1);
    assert.equal(client.counters.successes, 1);
  });
});

Deno.test("NTS-KE client: without Server/Port records the NTP server is the KE host, port 123", async () => {
  await withServer({}, async (_server, port, _keys, p) => {
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
    const r = await client.exchange({ host: "127.0.0.1", port });
    client.close();
    assert.ok(r.ok && r.result.ntpServer === "127.0.0.1" && r.result.ntpPort === 123);
  });
});

Deno.test("NTS-KE client verifies an IPv6 literal against the certificate's addresses", async () => {
  await withServer({ addresses: ["::1"] }, async (_server, port, _keys, p) => {
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
    const r = await client.exchange({ host: "::1", port });
    assert.ok(r.ok, r.ok ? "" : r.reason);
    // The same server under a name its certificate does not carry is refused.
    const wrong = await client.exchange({ host: "ntp.example", address: "::1", port });
    client.close();
    assert.equal(wrong.ok ? null : wrong.failure, "certificate");
  });
});

Deno.test("NTS-KE client refuses an expired certificate and an unknown CA, counted", async () => {
  const p = await pki();
  await withServer(
    { certFile: p.expiredCert, keyFile: p.expiredKey },
    async (server, port) => {
      const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
      const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
      assert.ok(!r.ok);
      if (!r.ok) {
        assert.equal(r.failure, "certificate");
        assert.match(r.reason, /expired/);
      }
      assert.equal(client.counters.failures.certificate, 1);
      client.close();
      await until(() => server.counters.tlsFailures === 1);
      assert.equal(server.counters.served, 0);
    },
  );
  await withServer({}, async (_server, port) => {
    const client = new NtsKeClient({ caFile: p.otherCa, timeoutSec: 5 });
    const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
    client.close();
    assert.equal(r.ok ? null : r.failure, "certificate");
  });
});

Deno.test("NTS-KE client without `nts ca` trusts the system store, which lacks the test CA", async () => {
  await withServer({}, async (server, port) => {
    const client = new NtsKeClient({ caFile: null, timeoutSec: 5 });
    const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
    client.close();
    assert.ok(!r.ok && r.failure === "certificate", r.ok ? "accepted" : r.reason);
    if (!r.ok) assert.match(r.reason, /self-signed certificate in certificate chain|local issuer/);
    await until(() => server.counters.tlsFailures === 1);
  });
});

Deno.test("NTS-KE: a wrong AEAD is refused by the server and by the client, counted", async () => {
  await withServer({}, async (server, port, _keys, p) => {
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5, aeadIds: [30, 1] });
    const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
    client.close();
    assert.equal(r.ok ? null : r.failure, "bad_aead");
    assert.equal(server.counters.noAead, 1);
    assert.equal(server.counters.served, 0);
  });
});

/** A raw client: handshake, then `request` written in pieces of `step` bytes, one write each. */
async function rawExchange(
  port: number,
  ca: string,
  request: Uint8Array,
  step: number,
  alpn = NTS_KE_ALPN,
): Promise<{ ok: boolean; records: ReturnType<KeRecordReader["push"]> | null; reason?: string }> {
  const ctx = TlsContext.create({
    role: "client",
    alpn,
    minVersion: "TLS1.3",
    maxVersion: "TLS1.3",
    caFile: ca,
  });
  if (!ctx.ok) throw new Error(ctx.reason);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const stream = new TlsStream(conn, ctx.context.session("localhost"));
  try {
    const hs = await stream.handshake();
    if (!hs.ok) return { ok: false, records: null, reason: hs.reason };
    for (let i = 0; i < request.length; i += step) {
      const w = await stream.write(request.subarray(i, i + step));
      if (!w.ok) return { ok: false, records: null, reason: w.reason };
      // Let each piece go out (and be read) on its own.
      await new Promise((r) => setTimeout(r, 1));
    }
    const reader = new KeRecordReader();
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 1000; i++) {
      const n = await stream.read(buf);
      if (typeof n !== "number") return { ok: false, records: null, reason: String(n) };
      const r = reader.push(buf.subarray(0, n));
      if (r.status !== "more") return { ok: true, records: r };
    }
    return { ok: false, records: null, reason: "no end" };
  } finally {
    await stream.close();
    ctx.context.close();
  }
}

Deno.test("NTS-KE server reads a request written one byte per TLS record and TCP write", async () => {
  await withServer({}, async (server, port, _keys, p) => {
    const request = encodeRecords(buildKeRequest({ aeadIds: [15] }));
    const r = await rawExchange(port, p.ca, request, 1);
    assert.ok(r.ok, r.reason);
    assert.equal(r.records?.status, "done");
    if (r.records?.status !== "done") return;
    const resp = interpretKeResponse(r.records.records, [15]);
    assert.ok(resp.ok && resp.cookies.length === 8);
    assert.equal(server.counters.served, 1);
    // Every split point of the request, each as two writes.
    for (let cut = 1; cut < request.length; cut++) {
      const two = await rawExchange(port, p.ca, request, cut);
      assert.ok(two.ok && two.records?.status === "done", `cut ${cut}`);
    }
    assert.equal(server.counters.served, request.length);
  });
});

Deno.test("NTS-KE server answers broken requests with an Error record, counted", async () => {
  await withServer({}, async (server, port, _keys, p) => {
    // Unknown critical record type 0x1234.
    const bad = encodeRecords([
      { critical: true, type: 0x1234, body: new Uint8Array(2) },
      ...buildKeRequest({ aeadIds: [15] }),
    ]);
    const r = await rawExchange(port, p.ca, bad, bad.length);
    assert.ok(r.ok && r.records?.status === "done");
    if (r.records?.status === "done") {
      const resp = interpretKeResponse(r.records.records, [15]);
      assert.ok(!resp.ok && resp.failure === "server_error");
    }
    // A record claiming a 60000-byte body: refused from its header, no buffering.
    const huge = new Uint8Array([0x00, 0x05, 0xea, 0x60, 1, 2, 3]);
    const h = await rawExchange(port, p.ca, huge, huge.length);
    assert.ok(h.ok && h.records?.status === "done");
    await until(() => server.counters.errors === 1 && server.counters.malformed === 1);
    assert.equal(server.counters.served, 0);
  });
});

Deno.test("NTS-KE server refuses a client without ALPN ntske/1", async () => {
  await withServer({}, async (server, port, _keys, p) => {
    const r = await rawExchange(port, p.ca, new Uint8Array(4), 4, "http/1.1");
    assert.equal(r.ok, false);
    await until(() => server.counters.tlsFailures === 1);
  });
});

Deno.test("NTS-KE server: silent connections time out and the cap closes the extra ones", async () => {
  await withServer(
    { maxConnections: 3, timeoutSec: 1 },
    async (server, port, _keys, p) => {
      const idle: Deno.TcpConn[] = [];
      for (let i = 0; i < 6; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      await until(() => server.counters.connections === 6);
      assert.equal(server.active, 3);
      assert.equal(server.counters.busy, 3);
      // While the cap is full, a real client is turned away too.
      const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 2 });
      const refused = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
      assert.equal(refused.ok, false);
      // Each timed-out connection leaves the count once its pending read has ended.
      await until(() => server.counters.timeouts === 3 && server.active === 0, 4000);
      const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port });
      assert.ok(r.ok, r.ok ? "" : r.reason);
      client.close();
      for (const c of idle) c.close();
      assert.ok(server.counters.peakConnections <= 3);
    },
  );
});

Deno.test("NTS-KE server: one address holding open connections cannot lock out the others", async () => {
  const per = DEFAULT_NTS_KE_SERVER_OPTIONS.maxPerAddress;
  const cap = per + 8;
  await withServer(
    { addresses: ["127.0.0.1", "::1"], maxConnections: cap, timeoutSec: 3 },
    async (server, _port, _keys, p) => {
      const [v4, v6] = server.ports;
      const idle: Deno.TcpConn[] = [];
      try {
        // An attacker at 127.0.0.1 opens as many silent connections as the whole cap.
        for (let i = 0; i < cap; i++) {
          idle.push(await Deno.connect({ hostname: "127.0.0.1", port: v4! }));
        }
        await until(() => server.counters.connections === cap);
        assert.equal(server.active, per);
        assert.equal(server.counters.busy, cap - per);
        // A client at another address still gets its cookies.
        const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 2 });
        const r = await client.exchange({ host: "localhost", address: "::1", port: v6! });
        client.close();
        assert.ok(r.ok, r.ok ? "" : r.reason);
      } finally {
        for (const c of idle) c.close();
      }
    },
  );
});

Deno.test("NTS-KE server: one address over its handshake rate is closed at accept, counted; another is served", async () => {
  await withServer(
    { addresses: ["127.0.0.1", "::1"], rate: { burst: 2, perSec: 0.001 } },
    async (server, _port, _keys, p) => {
      const [v4, v6] = server.ports;
      const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 2 });
      try {
        for (let i = 0; i < 2; i++) {
          const r = await client.exchange({ host: "localhost", address: "127.0.0.1", port: v4! });
          assert.ok(r.ok, r.ok ? "" : r.reason);
        }
        const third = await client.exchange({ host: "localhost", address: "127.0.0.1", port: v4! });
        assert.equal(third.ok, false, "the third handshake is over the rate");
        assert.equal(server.counters.rateLimited, 1);
        assert.equal(server.counters.served, 2);
        const other = await client.exchange({ host: "localhost", address: "::1", port: v6! });
        assert.ok(other.ok, other.ok ? "" : other.reason);
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("HandshakeRate: a burst, then the rate; the table stays bounded", () => {
  const r = new HandshakeRate(3, 2);
  assert.deepEqual([0, 0, 0, 0].map(() => r.take("a", 10)), [true, true, true, false]);
  assert.equal(r.take("b", 10), true, "another client has its own bucket");
  assert.equal(r.take("a", 10.4), false, "0.8 of a token back");
  assert.equal(r.take("a", 10.5), true, "one token back after 0.5 s at 2/s");
  assert.deepEqual([0, 0, 0, 0].map(() => r.take("a", 100)), [true, true, true, false]);
  for (let i = 0; i < 10_000; i++) r.take(`c${i}`, 200 + i / 1e6);
  assert.ok(r.size <= 4096, `remembered ${r.size}`);
});

Deno.test("clientKey(): IPv4 (also mapped) whole, IPv6 by its /64", () => {
  assert.equal(clientKey("192.0.2.7"), "192.0.2.7");
  assert.equal(clientKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(clientKey("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  assert.equal(clientKey("2001:DB8:0:1:aaaa:bbbb:cccc:dddd"), "2001:db8:0:1::/64");
  assert.equal(clientKey("::1"), "0:0:0:0::/64");
  assert.equal(clientKey("fe80::1%eth0"), "fe80:0:0:0::/64");
});

Deno.test("NTS-KE client gives up at its deadline on a server that never answers", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of l) held.push(c);
    } catch { /* closed */ }
  })();
  const p = await pki();
  const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 1 });
  const t0 = performance.now();
  const r = await client.exchange({
    host: "localhost",
    address: "127.0.0.1",
    port: (l.addr as Deno.NetAddr).port,
  });
  const took = performance.now() - t0;
  client.close();
  l.close();
  for (const c of held) c.close();
  await accepting;
  assert.equal(r.ok ? null : r.failure, "timeout");
  assert.ok(took >= 900 && took < 5000, `took ${took} ms`);
});

Deno.test("NtsKeServer.start() reports a missing certificate and a key that does not match", async () => {
  const p = await pki();
  const mk = (certFile: string, keyFile: string) =>
    new NtsKeServer(
      { ...DEFAULT_NTS_KE_SERVER_OPTIONS, addresses: ["127.0.0.1"], port: 0, certFile, keyFile },
      serverKeys(),
      quiet,
    );
  const missing = mk(`${p.dir}/nope.pem`, p.key);
  assert.match(missing.start() ?? "", /certificate/);
  await missing.stop();
  const mismatch = mk(p.cert, p.expiredKey);
  assert.match(mismatch.start() ?? "", /does not match|key/);
  await mismatch.stop();
});
