// libssl through FFI, client and server sessions joined in memory (no sockets): TLS 1.3 with
// ALPN, SNI for names and none for address literals, the RFC 5705 exporter agreeing on both
// sides, certificate checks, and the ALPN refusal.

import assert from "node:assert/strict";
import { TlsContext, type TlsSession } from "./libssl.ts";
import { lazyTestPki } from "../tests/support/nts_pki.ts";

const pki = lazyTestPki("horae-libssl-");

function context(opts: Parameters<typeof TlsContext.create>[0]): TlsContext {
  const c = TlsContext.create(opts);
  if (!c.ok) throw new Error(c.reason);
  return c.context;
}

/** A TLS 1.3 server context (ALPN ntske/1, the test PKI's certificate) and a client context
 * trusting the test CA that offers `clientAlpn`. */
async function contexts(clientAlpn = "ntske/1"): Promise<{ sctx: TlsContext; cctx: TlsContext }> {
  const p = await pki();
  const sctx = context({
    role: "server",
    alpn: "ntske/1",
    minVersion: "TLS1.3",
    maxVersion: "TLS1.3",
    certFile: p.cert,
    keyFile: p.key,
  });
  const cctx = context({
    role: "client",
    alpn: clientAlpn,
    minVersion: "TLS1.3",
    maxVersion: "TLS1.3",
    caFile: p.ca,
  });
  return { sctx, cctx };
}

/** Runs both handshakes to their end (bounded), moving each side's output to the other. */
function handshake(client: TlsSession, server: TlsSession): { client: string; server: string } {
  let c = "", s = "";
  for (let i = 0; i < 20; i++) {
    const cs = client.handshake();
    const out1 = client.takeOutput();
    if (out1 !== null) server.feed(out1);
    const ss = server.handshake();
    const out2 = server.takeOutput();
    if (out2 !== null) client.feed(out2);
    c = cs.status === "error" ? `error: ${cs.reason}` : cs.status;
    s = ss.status === "error" ? `error: ${ss.reason}` : ss.status;
    if ((c === "done" || c.startsWith("error")) && (s === "done" || s.startsWith("error"))) break;
  }
  // The client's last flight (Finished) may still be on its way.
  const last = client.takeOutput();
  if (last !== null) {
    server.feed(last);
    const ss = server.handshake();
    s = ss.status === "error" ? `error: ${ss.reason}` : ss.status;
  }
  return { client: c, server: s };
}

Deno.test("TlsSession: TLS 1.3, ALPN ntske/1, SNI, and the exporter agrees on both sides", async () => {
  const { sctx, cctx } = await contexts();
  const client = cctx.session("localhost");
  const server = sctx.session();
  const r = handshake(client, server);
  assert.deepEqual(r, { client: "done", server: "done" });
  assert.equal(client.version(), "TLSv1.3");
  assert.equal(client.alpn(), "ntske/1");
  assert.equal(server.alpn(), "ntske/1");
  assert.equal(server.serverName(), "localhost");
  assert.equal(client.verifyError(), null);
  const ctx = new Uint8Array([0, 0, 0, 15, 0]);
  const a = client.exportKeyingMaterial("EXPORTER-network-time-security", ctx, 32);
  const b = server.exportKeyingMaterial("EXPORTER-network-time-security", ctx, 32);
  assert.ok(a !== null && b !== null);
  assert.deepEqual(a, b);
  const other = client.exportKeyingMaterial(
    "EXPORTER-network-time-security",
    new Uint8Array([0, 0, 0, 15, 1]),
    32,
  );
  assert.notDeepEqual(other, a, "C2S and S2C differ");
  // Application data both ways.
  assert.equal(client.write(new TextEncoder().encode("hello")).status, "done");
  server.feed(client.takeOutput()!);
  const buf = new Uint8Array(64);
  assert.equal(server.read(buf), 5);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 5)), "hello");
  client.free();
  server.free();
  cctx.close();
  sctx.close();
});

Deno.test("TlsSession: an address literal is checked against IP SANs and sends no SNI", async () => {
  const { sctx, cctx } = await contexts();
  for (const literal of ["127.0.0.1", "::1"]) {
    const client = cctx.session(literal);
    const server = sctx.session();
    assert.deepEqual(handshake(client, server), { client: "done", server: "done" }, literal);
    assert.equal(server.serverName(), null, `${literal}: no SNI for an address`);
    client.free();
    server.free();
  }
  // An address the certificate does not carry.
  const client = cctx.session("192.0.2.1");
  const server = sctx.session();
  const r = handshake(client, server);
  assert.match(r.client, /error: .*certificate: IP address mismatch/);
  client.free();
  server.free();
  cctx.close();
  sctx.close();
});

Deno.test("TlsContext: the server refuses a client that does not offer ALPN ntske/1", async () => {
  const { sctx, cctx } = await contexts("h2");
  const client = cctx.session("localhost");
  const server = sctx.session();
  const r = handshake(client, server);
  assert.match(r.server, /^error/);
  assert.match(r.client, /^error/);
  client.free();
  server.free();
  cctx.close();
  sctx.close();
});

Deno.test("TlsContext.create() refuses mintls above maxtls and a missing CA file", () => {
  const bad = TlsContext.create({
    role: "client",
    alpn: "ntske/1",
    minVersion: "TLS1.3",
    maxVersion: "TLS1.2",
  });
  assert.ok(!bad.ok && /mintls/.test(bad.reason));
  const noCa = TlsContext.create({
    role: "client",
    alpn: "ntske/1",
    minVersion: "TLS1.3",
    maxVersion: "TLS1.3",
    caFile: "/nonexistent/ca.pem",
  });
  assert.ok(!noCa.ok && /CA file/.test(noCa.reason));
});
