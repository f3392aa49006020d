// NTS client and server together, without sockets: a request from NtsClient.protect() judged by
// NtsServer.check(), the reply sealed by NtsServer.finalize() and checked by
// NtsClient.checkReply(); tampering at every byte, replays, NAKs, wrong AEADs and fuzz.

import assert from "node:assert/strict";
import fc from "fast-check";
import { PureCrypto } from "../auth/pure_crypto.ts";
import { SeededRng } from "../rng.ts";
import { AesSiv } from "./aes_siv.ts";
import { NtsServerKeys } from "./cookies.ts";
import { REFID_NTSN } from "./extension_fields.ts";
import { AEAD_AES_SIV_CMAC_256, type NtsKeResult } from "./ke_result.ts";
import { NTS_MAX_COOKIES, NtsClient } from "./nts_client.ts";
import { NtsServer } from "./nts_server.ts";

const crypto = new PureCrypto();
const master = (seed: number) => Uint8Array.from({ length: 32 }, (_, k) => (k * 31 + seed) & 0xff);
const c2sKey = Uint8Array.from({ length: 32 }, (_, k) => k + 1);
const s2cKey = Uint8Array.from({ length: 32 }, (_, k) => 255 - k);

function serverKeys(seed = 3): NtsServerKeys {
  const keys = new NtsServerKeys(crypto, new SeededRng(seed));
  keys.setKeys([{ id: 1, key: master(1) }, { id: 2, key: master(2) }], 2);
  return keys;
}

function keResult(keys: NtsServerKeys, n = 8): NtsKeResult {
  return {
    aeadId: AEAD_AES_SIV_CMAC_256,
    c2sKey,
    s2cKey,
    cookies: Array.from(
      { length: n },
      () => keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2sKey, s2cKey),
    ),
    ntpServer: "ntp.example",
    ntpPort: 123,
  };
}

function header(xmt: number): Uint8Array {
  const h = new Uint8Array(48);
  h[0] = (3 << 6) | (4 << 3) | 3;
  new DataView(h.buffer).setUint32(40, xmt);
  new DataView(h.buffer).setUint32(44, 0x12345678);
  return h;
}

/** What the server's packet path does: header, NTS fields, stamp, finalize. */
function answer(server: NtsServer, request: Uint8Array): Uint8Array | string {
  const v = server.check(request);
  const out = new Uint8Array(request.length);
  out[0] = (0 << 6) | (4 << 3) | 4;
  out[1] = 2;
  out.set(request.subarray(40, 48), 24); // origin
  if (v !== "ok") {
    if (v !== "nts_bad_cookie" && v !== "nts_wrong_aead") return v;
    out[0] = (3 << 6) | (4 << 3) | 4;
    out[1] = 0;
    new DataView(out.buffer).setUint32(12, REFID_NTSN);
    return out.slice(0, server.writeNak(request, out, 48));
  }
  const len = server.writeReply(request, out, 48);
  new DataView(out.buffer).setUint32(40, 0xdeadbeef); // the transmit stamp, before finalize
  server.finalize(out, len);
  return out.slice(0, len);
}

function pair(seed = 1) {
  const keys = serverKeys();
  const server = new NtsServer(keys, crypto, new SeededRng(seed + 100));
  const client = new NtsClient(crypto, new SeededRng(seed));
  assert.ok(client.install(keResult(keys), 1_700_000_000));
  return { keys, server, client };
}

Deno.test("NTS: a request is answered with fresh cookies the client can use next", () => {
  const { server, client } = pair();
  for (let round = 0; round < 20; round++) {
    const req = client.protect(header(round + 1))!;
    assert.ok(req !== null);
    assert.equal(client.cookieCount, NTS_MAX_COOKIES - 1);
    const reply = answer(server, req);
    assert.ok(reply instanceof Uint8Array, String(reply));
    assert.ok(reply.length <= req.length, "no amplification");
    assert.equal(client.checkReply(reply, true), "ok");
    assert.equal(client.cookieCount, NTS_MAX_COOKIES);
    // A second copy of the same reply is not taken again.
    assert.equal(client.checkReply(reply, true), "nts_unexpected");
  }
  assert.equal(client.snapshot().authFailures, 0);
});

Deno.test("NTS: lost replies are made up by placeholders, and the reply never outgrows the request", () => {
  const { server, client } = pair(2);
  for (let k = 0; k < 5; k++) client.protect(header(k + 1)); // five requests lost
  assert.equal(client.cookieCount, 3);
  const req = client.protect(header(99))!;
  const reply = answer(server, req) as Uint8Array;
  assert.ok(reply.length <= req.length);
  assert.equal(client.checkReply(reply, true), "ok");
  assert.equal(client.cookieCount, NTS_MAX_COOKIES);
});

Deno.test("NtsServer.writeReply() sends fewer cookies when the request is too small for them", () => {
  const { server, client } = pair(3);
  const req = client.protect(header(1))!;
  assert.equal(server.check(req), "ok");
  const out = new Uint8Array(req.length);
  // Room for the header, the unique id and the authenticator with one cookie only.
  const small = req.subarray(0, 48 + 36 + 40 + 108);
  const len = server.writeReply(small, out, 48);
  assert.ok(len > 0 && len <= small.length);
});

Deno.test("NTS: any changed byte of a request is refused by the server", () => {
  const { keys, client } = pair(4);
  const req = client.protect(header(7))!;
  for (let k = 0; k < req.length; k++) {
    for (const bit of [0x01, 0x80]) {
      const server = new NtsServer(keys, crypto, new SeededRng(k)); // fresh: no reuse memory
      const t = req.slice();
      t[k] = t[k]! ^ bit;
      assert.notEqual(server.check(t), "ok", `byte ${k} bit ${bit}`);
    }
  }
  assert.equal(new NtsServer(keys, crypto, new SeededRng(1)).check(req), "ok");
});

Deno.test("NTS: any changed byte of a reply is refused by the client", () => {
  const { server, client } = pair(5);
  const req = client.protect(header(7))!;
  const reply = answer(server, req) as Uint8Array;
  for (let k = 0; k < reply.length; k++) {
    const t = reply.slice();
    t[k] = t[k]! ^ 0x04;
    assert.notEqual(client.checkReply(t, true), "ok", `byte ${k}`);
  }
  assert.equal(client.snapshot().authFailures > 0, true);
  assert.equal(client.checkReply(reply, true), "ok");
});

Deno.test("NtsServer: a replayed request (cookie spent again) is dropped and counted as reuse", () => {
  const { server, client } = pair(6);
  const req = client.protect(header(9))!;
  assert.equal(server.check(req), "ok");
  assert.equal(server.check(req), "nts_cookie_reuse");
  // Without reuse tracking the server is stateless: the client's unique id stops the replay.
  const stateless = new NtsServer(serverKeys(), crypto, new SeededRng(1), { reuseWindow: 0 });
  assert.equal(stateless.check(req), "ok");
});

Deno.test("NtsServer: spent cookies are remembered for two windows (reuseWindow), then forgotten", () => {
  const keys = serverKeys();
  const server = new NtsServer(keys, crypto, new SeededRng(1), { reuseWindow: 4 });
  const requests: Uint8Array[] = [];
  for (let c = 0; c < 3; c++) {
    const client = new NtsClient(crypto, new SeededRng(20 + c));
    client.install(keResult(keys), 0);
    for (let k = 0; k < 8; k++) requests.push(client.protect(header(100 + k))!);
  }
  for (const r of requests) assert.equal(server.check(r), "ok");
  // Window 4: the current generation holds the last 4 accepted, the previous one the 4 before.
  for (const r of requests.slice(16)) assert.equal(server.check(r), "nts_cookie_reuse");
  // Older ones are forgotten (the client's unique identifier still stops their replay).
  assert.equal(server.check(requests[15]!), "ok");
  assert.equal(server.check(requests[15]!), "nts_cookie_reuse");
  // That acceptance started a new generation: 21..24 are now the previous one, still refused,
  // and 17..20 have aged out.
  for (const r of requests.slice(20)) assert.equal(server.check(r), "nts_cookie_reuse");
  assert.equal(server.check(requests[16]!), "ok");
});

Deno.test("NtsServer: a cookie no kept key opens gets a NAK; the client then needs NTS-KE", () => {
  const { client } = pair(7);
  const other = new NtsServerKeys(crypto, new SeededRng(1));
  other.setKeys([{ id: 2, key: master(9) }], 2);
  const server = new NtsServer(other, crypto, new SeededRng(2));
  const req = client.protect(header(11))!;
  let needed = 0;
  client.onNeedKe(() => needed++);
  const nak = answer(server, req) as Uint8Array;
  assert.ok(nak.length > 48 && nak.length <= req.length);
  // Only with the request's origin does it count.
  assert.equal(client.checkReply(nak, false), "nts_unique_id");
  assert.equal(client.needsKe, false);
  assert.equal(client.checkReply(nak, true), "nak");
  assert.equal(client.needsKe, true);
  assert.equal(client.cookieCount, 0);
  assert.equal(needed, 1);
  assert.equal(client.protect(header(12)), null);
  assert.equal(client.snapshot().naks, 1);
});

Deno.test("NTS: a NAK with another unique identifier is ignored", () => {
  const { client } = pair(8);
  const req = client.protect(header(1))!;
  const server = new NtsServer(
    new NtsServerKeys(crypto, new SeededRng(1)),
    crypto,
    new SeededRng(1),
  );
  const nak = answer(server, req) as Uint8Array;
  nak[60] = nak[60]! ^ 1; // inside the unique identifier
  assert.equal(client.checkReply(nak, true), "nts_unique_id");
  assert.equal(client.needsKe, false);
});

Deno.test("NtsServer: a cookie naming an AEAD this server does not run gets a NAK (wrong AEAD)", () => {
  const { client } = pair(9);
  const req = client.protect(header(1))!;
  // Re-seal the request's cookie with AEAD id 30 (AES-128-GCM-SIV) under the same master key.
  const cookieAt = 48 + 36 + 4;
  const siv = crypto.aeadContext("AEAD_AES_SIV_CMAC_256", master(2)) as AesSiv;
  const plain = new Uint8Array(68);
  plain[1] = 30;
  plain.set(c2sKey, 4);
  plain.set(s2cKey, 36);
  const nonce = req.slice(cookieAt + 4, cookieAt + 20);
  req.set(siv.seal(nonce, plain, req.subarray(cookieAt, cookieAt + 4)), cookieAt + 20);
  const server = new NtsServer(serverKeys(), crypto, new SeededRng(1));
  assert.equal(server.check(req), "nts_wrong_aead");
});

Deno.test("NtsClient.install() refuses an AEAD it does not run, and empty cookie lists", () => {
  const client = new NtsClient(crypto, new SeededRng(1));
  const ke = keResult(serverKeys());
  assert.equal(client.install({ ...ke, aeadId: 30 }, 0), false);
  assert.equal(client.install({ ...ke, cookies: [] }, 0), false);
  assert.equal(client.snapshot().keFailures, 2);
  assert.equal(client.needsKe, true);
  assert.equal(client.protect(header(1)), null);
});

Deno.test("NTS: the client asks for NTS-KE as it spends its last cookie", () => {
  const keys = serverKeys();
  const client = new NtsClient(crypto, new SeededRng(1));
  client.install(keResult(keys, 2), 0);
  let needed = 0;
  client.onNeedKe(() => needed++);
  assert.ok(client.protect(header(1)) !== null);
  assert.equal(needed, 0);
  assert.ok(client.protect(header(2)) !== null);
  assert.equal(needed, 1);
  assert.equal(client.protect(header(3)), null);
  assert.equal(client.snapshot().needsKe, true);
});

Deno.test("NtsServer.check() and NtsClient.checkReply() never throw on mutated or random bytes", () => {
  const { keys, client } = pair(10);
  const req = client.protect(header(5))!;
  const server = new NtsServer(keys, crypto, new SeededRng(1), { reuseWindow: 0 });
  const reply = answer(server, req) as Uint8Array;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat({ max: 400 }),
      fc.uint8Array({ maxLength: 64 }),
      (edits, cut, extra) => {
        for (const base of [req, reply]) {
          const t = new Uint8Array(Math.min(base.length, cut + 48) + extra.length);
          t.set(base.subarray(0, Math.min(base.length, cut + 48)));
          t.set(extra, t.length - extra.length);
          for (const [at, v] of edits) t[at % t.length] = v;
          const verdict = server.check(t);
          if (verdict === "ok") server.finalize(t, t.length);
          client.checkReply(t, true);
        }
      },
    ),
    { numRuns: 500, seed: 8915, verbose: true },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 48, maxLength: 600 }), (bytes) => {
      server.check(bytes);
      client.checkReply(bytes, true);
    }),
    { numRuns: 300, seed: 7822, verbose: true },
  );
});

Deno.test("NtsServer: replies answered in a batch are sealed later, in any order", () => {
  const { server, client } = pair(11);
  const other = new NtsClient(crypto, new SeededRng(12));
  other.install(keResult(serverKeys(99)), 0);
  // A batching transport: every request of the batch answered, then each reply stamped and
  // finalized.
  const reqs = [client.protect(header(1))!, other.protect(header(2))!];
  const outs = reqs.map((req) => {
    assert.equal(server.check(req), "ok");
    const out = new Uint8Array(req.length);
    out[0] = (4 << 3) | 4;
    out[1] = 2;
    out.set(req.subarray(40, 48), 24);
    return out.subarray(0, server.writeReply(req, out, 48));
  });
  for (const out of [...outs].reverse()) {
    new DataView(out.buffer).setUint32(40, 0xdeadbeef);
    server.finalize(out, out.length);
  }
  assert.equal(client.checkReply(outs[0]!, true), "ok");
  assert.equal(other.checkReply(outs[1]!, true), "ok");
  // Finalizing again (or a reply this server never wrote) leaves a zero authenticator.
  const again = outs[0]!.slice();
  server.finalize(again, again.length);
  assert.ok(again.subarray(84).every((b) => b === 0));
});
