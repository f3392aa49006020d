// An association with NTS: requests carry the NTS fields, only verified replies give samples,
// a NAK sends it back to NTS-KE, and a forged or unprotected reply changes nothing.

import assert from "node:assert/strict";
import { Association } from "../association.ts";
import { PureCrypto } from "../auth/pure_crypto.ts";
import type { SendAction } from "../events.ts";
import { addSec, fromUnix, type NtpTime } from "../ntp_time.ts";
import { SeededRng } from "../rng.ts";
import { Server } from "../server.ts";
import { NtsServerKeys } from "./cookies.ts";
import { looksLikeNts, REFID_NTSN } from "./extension_fields.ts";
import { AEAD_AES_SIV_CMAC_256 } from "./ke_result.ts";
import { NtsClient } from "./nts_client.ts";
import { NtsServer } from "./nts_server.ts";

const crypto = new PureCrypto();
const T0 = fromUnix(1_700_000_000);
const ADDR = { family: 4 as const, address: "192.0.2.1", port: 123 };
const server = new Server({
  leap: 0,
  stratum: 1,
  precisionLog2: -20,
  rootDelaySec: 0,
  rootDispersionSec: 0.0001,
  refid: 0x47505300,
  referenceTime: T0,
});

function setup() {
  const keys = new NtsServerKeys(crypto, new SeededRng(1));
  keys.setKeys([{ id: 9, key: new Uint8Array(32).fill(9) }], 9);
  const nts = new NtsClient(crypto, new SeededRng(2));
  const c2s = new Uint8Array(32).fill(1), s2c = new Uint8Array(32).fill(2);
  nts.install({
    aeadId: AEAD_AES_SIV_CMAC_256,
    c2sKey: c2s,
    s2cKey: s2c,
    cookies: Array.from({ length: 8 }, () => keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)),
    ntpServer: "192.0.2.1",
    ntpPort: 123,
  }, 1_700_000_000);
  const a = new Association(1, ADDR, {}, new SeededRng(3), -20, T0);
  a.setNts(nts);
  return { a, nts, ntsServer: new NtsServer(keys, crypto, new SeededRng(4)) };
}

function poll(a: Association, now: NtpTime): SendAction | undefined {
  return a.onTimer(now).find((x): x is SendAction => x.type === "send");
}

/** The NTS server's answer: the plain server's header, then the NTS fields sealed. */
function answer(ntsServer: NtsServer, req: Uint8Array, serverTime: NtpTime): Uint8Array {
  assert.equal(ntsServer.check(req), "ok");
  const out = new Uint8Array(req.length);
  assert.equal(server.respond(req.subarray(0, 48), serverTime, out), 48);
  const len = ntsServer.writeReply(req, out, 48);
  ntsServer.finalize(out, len);
  return out.slice(0, len);
}

Deno.test("Association with NTS sends protected requests and uses verified replies", () => {
  const { a, nts, ntsServer } = setup();
  let t = a.deadline!;
  for (let k = 0; k < 3; k++) {
    const req = poll(a, t)!;
    assert.ok(looksLikeNts(req.data));
    const reply = answer(ntsServer, req.data, addSec(t, 0.25 + 0.01));
    const r = a.receive(reply, addSec(t, 0.02));
    assert.equal(r.kind, "sample");
    if (r.kind === "sample") assert.ok(Math.abs(r.sample.offsetSec - 0.25) < 1e-6);
    t = a.deadline!;
  }
  const snap = a.snapshot(t);
  assert.equal(snap.authentic, true);
  assert.equal(snap.nts?.cookies, 8);
  assert.equal(nts.snapshot().authFailures, 0);
});

Deno.test("Association with NTS ignores an unprotected or tampered reply", () => {
  const { a, ntsServer } = setup();
  const t = a.deadline!;
  const req = poll(a, t)!;
  const plain = new Uint8Array(48);
  server.respond(req.data.subarray(0, 48), addSec(t, 0.5), plain);
  const r1 = a.receive(plain, addSec(t, 0.02));
  assert.equal(r1.kind, "rejected");
  if (r1.kind === "rejected") assert.equal(r1.reason, "unauthenticated");
  const reply = answer(ntsServer, req.data, addSec(t, 0.25));
  const bad = reply.slice();
  bad[32] = bad[32]! ^ 1; // the receive timestamp
  assert.equal(a.receive(bad, addSec(t, 0.02)).kind, "rejected");
  assert.equal(a.receive(reply, addSec(t, 0.02)).kind, "sample");
});

Deno.test("Association with NTS: a NAK stops requests until NTS-KE runs again", () => {
  const { a, nts } = setup();
  let asked = 0;
  nts.onNeedKe(() => asked++);
  const t = a.deadline!;
  const req = poll(a, t)!;
  // The NAK a server whose keys no longer open the cookie sends.
  const other = new NtsServerKeys(crypto, new SeededRng(1));
  other.setKeys([{ id: 1, key: new Uint8Array(32) }], 1);
  const srv = new NtsServer(other, crypto, new SeededRng(1));
  assert.equal(srv.check(req.data), "nts_bad_cookie");
  const out = new Uint8Array(req.data.length);
  assert.equal(
    server.writeKiss(req.data, REFID_NTSN, -128, 1_700_000_001, 0, out, new DataView(out.buffer)),
    48,
  );
  const nak = out.slice(0, srv.writeNak(req.data, out, 48));
  const r = a.receive(nak, addSec(t, 0.02));
  assert.equal(r.kind, "rejected");
  if (r.kind === "rejected") assert.equal(r.reason, "nts_nak");
  assert.equal(asked, 1);
  assert.equal(poll(a, a.deadline!), undefined, "no cookie: nothing sent");
  assert.equal(a.snapshot(a.deadline!).rejected.nts_no_cookie, 1);
  assert.equal(a.snapshot(a.deadline!).nts?.naks, 1);
});
