// NTS through the packet path: an NTS client request answered (sealed after the transmit stamp,
// as the transport runs the finalize step), NAKs, drops counted by reason, hand-over from a
// server thread, and the counters balancing.

import assert from "node:assert/strict";
import { MruList } from "../access/mru.ts";
import { RestrictList } from "../access/restrict.ts";
import { PureCrypto } from "../auth/pure_crypto.ts";
import { emptyReplyBuffer, PacketIn, PacketPath } from "../packet_path.ts";
import { SeededRng } from "../rng.ts";
import { Server } from "../server.ts";
import { type DropReason, SysStats } from "../sys_stats.ts";
import { NtsServerKeys } from "./cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "./ke_result.ts";
import { NtsClient } from "./nts_client.ts";
import { NtsServer } from "./nts_server.ts";
import { SYNCED } from "../../../tests/support/server_state.ts";

const crypto = new PureCrypto();

function rig(nts: "server" | "forward", serverThread = false) {
  const keys = new NtsServerKeys(crypto, new SeededRng(1));
  keys.setKeys([{ id: 5, key: new Uint8Array(32).fill(5) }], 5);
  const stats = SysStats.create(1, 0);
  const ntsServer = new NtsServer(keys, crypto, new SeededRng(2));
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: MruList.create({ maxDepth: 100 }),
    counters: stats.counters(0),
    serverThread,
    nts: nts === "server" ? ntsServer : "forward",
  });
  const c2s = new Uint8Array(32).fill(1), s2c = new Uint8Array(32).fill(2);
  const client = new NtsClient(crypto, new SeededRng(3));
  client.install({
    aeadId: AEAD_AES_SIV_CMAC_256,
    c2sKey: c2s,
    s2cKey: s2c,
    cookies: Array.from({ length: 8 }, () => keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)),
    ntpServer: "x",
    ntpPort: 123,
  }, 0);
  const slot = emptyReplyBuffer(1500);
  const input = new PacketIn();
  let xmt = 1;
  return {
    path,
    stats,
    client,
    slot,
    request(): Uint8Array {
      const h = new Uint8Array(48);
      h[0] = (4 << 3) | 3;
      new DataView(h.buffer).setUint32(40, 0xe9000000 + xmt++);
      return client.protect(h)!;
    },
    /** As the transport does: handle, stamp the transmit time, finalize. */
    send(data: Uint8Array) {
      input.data = data;
      input.src.parse("192.0.2.7");
      input.srcPort = 40000;
      input.rxUnixSec = 1_800_000_000;
      const v = path.handle(input, slot);
      const reply = slot.buffer.slice(0, slot.length);
      if (slot.stampTransmit) new DataView(reply.buffer).setUint32(40, 0xe9001234);
      slot.finalize?.finalize(reply, reply.length);
      assert.ok(reply.length <= data.length, "never longer than the request");
      return { kind: v.kind, reason: v.reason, forward: v.forward, reply };
    },
    drops(reason: DropReason): number {
      return stats.snapshot(0).drops[reason];
    },
    balance() {
      const s = stats.snapshot(0);
      const drops = Object.values(s.drops).reduce((a, b) => a + b, 0);
      assert.equal(s.received, s.processed + drops);
    },
  };
}

Deno.test("PacketPath answers an NTS request with a reply the client accepts", () => {
  const r = rig("server");
  const req = r.request();
  const v = r.send(req);
  assert.equal(v.kind, "reply");
  assert.equal(v.reason, null);
  assert.equal(v.reply[0]! & 7, 4);
  assert.equal(r.client.checkReply(v.reply, true), "ok");
  assert.equal(r.client.cookieCount, 8);
  r.balance();
});

Deno.test("PacketPath drops tampered and replayed NTS requests, each counted", () => {
  const r = rig("server");
  const req = r.request();
  const t = req.slice();
  t[47] = t[47]! ^ 1; // the transmit timestamp, covered by the authenticator
  assert.equal(r.send(t).kind, "drop");
  assert.equal(r.drops("nts_bad_auth"), 1);
  assert.equal(r.send(req).kind, "reply");
  const again = r.send(req);
  assert.equal(again.kind, "drop");
  assert.equal(again.reason, "nts_cookie_reuse");
  const broken = r.request();
  broken[84] = 3; // the cookie field becomes a placeholder: no cookie
  assert.equal(r.send(broken).reason, "nts_malformed");
  const unframed = r.request();
  unframed[51] = 3; // the unique identifier's field length: RFC 7822 framing broken
  assert.equal(r.send(unframed).reason, "nts_malformed");
  r.balance();
});

Deno.test("PacketPath answers an NTS request whose cookie it cannot open with an NTS NAK", () => {
  const r = rig("server");
  const req = r.request();
  req[48 + 36 + 4] = req[48 + 36 + 4]! ^ 0xff; // the cookie's key id
  const v = r.send(req);
  assert.equal(v.kind, "reply");
  assert.equal(v.reason, "nts_bad_cookie");
  assert.equal(v.reply[1], 0, "stratum 0");
  assert.equal(new TextDecoder().decode(v.reply.subarray(12, 16)), "NTSN");
  assert.equal(r.client.checkReply(v.reply, true), "nak");
  assert.equal(r.client.needsKe, true);
  r.balance();
});

Deno.test("PacketPath on a server thread hands NTS requests over when it has no keys", () => {
  const r = rig("forward", true);
  const v = r.send(r.request());
  assert.equal(v.kind, "forward");
  assert.equal(v.forward, "auth");
});

Deno.test("PacketPath.acceptForwarded() answers an NTS request a server thread handed over", () => {
  const r = rig("server");
  const req = r.request();
  const input = new PacketIn();
  input.data = req;
  input.src.parse("192.0.2.7");
  input.srcPort = 40000;
  const v = r.path.acceptForwarded(input, r.slot, "forward", "auth", 0);
  assert.equal(v.kind, "reply");
  const reply = r.slot.buffer.slice(0, r.slot.length);
  r.slot.finalize!.finalize(reply, reply.length);
  assert.equal(r.client.checkReply(reply, true), "ok");
});
