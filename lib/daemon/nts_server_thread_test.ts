// A server thread answers NTS requests itself once the main thread relays the master keys (the
// measured choice: see lib/daemon/nts_bench.ts); before that it answers them as plain NTP,
// which an NTS client refuses.

import assert from "node:assert/strict";
import type { ReceivedDatagram, ReplySlot } from "../net/transport.ts";
import { emptyReplyBuffer } from "../proto/packet_path.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import { SysStats } from "../proto/sys_stats.ts";
import { NodeCrypto } from "./crypto_node.ts";
import { SharedServedState } from "./served_state.ts";
import { ServerThread } from "./server_worker.ts";

const master = { id: 77, key: new Uint8Array(32).fill(0x5a) };
const c2s = new Uint8Array(32).fill(1), s2c = new Uint8Array(32).fill(2);

function setup() {
  const shared = new SharedServedState();
  shared.publish({
    leap: 0,
    stratum: 2,
    precisionLog2: -20,
    rootDelaySec: 0.01,
    rootDispersionSec: 0.01,
    refid: 0x7f000001,
    referenceTime: fromUnix(1_800_000_000),
  }, null);
  const forwarded: string[] = [];
  const thread = new ServerThread({
    kind: "init",
    thread: 1,
    addresses: [{ family: 4, address: "127.0.0.1", port: 123 }],
    shared: shared.buffer,
    credit: new SharedArrayBuffer(4),
    restrict: [],
    mru: null,
    sysStats: SysStats.create(2, 0, true).buffer as SharedArrayBuffer,
    monitor: false,
    useVirtual: false,
    precisionLog2: -20,
    statsIntervalMs: 1000,
    maxInFlight: 4,
    testHooks: false,
  }, (m) => forwarded.push(m.kind));
  const crypto = new NodeCrypto();
  const keys = new NtsServerKeys(crypto, new SeededRng(1));
  keys.setKeys([master], master.id);
  const client = new NtsClient(crypto, new SeededRng(2));
  client.install({
    aeadId: AEAD_AES_SIV_CMAC_256,
    c2sKey: c2s,
    s2cKey: s2c,
    cookies: Array.from({ length: 8 }, () => keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)),
    ntpServer: "127.0.0.1",
    ntpPort: 123,
  }, 0);
  return { thread, client, forwarded };
}

function request(client: NtsClient, low: number): ReceivedDatagram {
  const h = new Uint8Array(48);
  h[0] = 0x23;
  new DataView(h.buffer).setUint32(40, 0xe8000000);
  new DataView(h.buffer).setUint32(44, low);
  return {
    data: client.protect(h)!,
    peer: { family: 4, address: "127.0.0.9", port: 4567 },
    rxTime: fromUnix(1_800_000_001),
    rxKernel: true,
    rxUnixSec: 1_800_000_001,
    rxUnixNsec: 0,
  };
}

function slot(): ReplySlot & { buffer: Uint8Array } {
  return emptyReplyBuffer(1500);
}

Deno.test("ServerThread answers NTS requests itself once it has the master keys", () => {
  const { thread, client, forwarded } = setup();
  // Without keys: a plain 48-byte answer, which the NTS client refuses.
  const before = slot();
  thread.handle(0, request(client, 1), before);
  assert.equal(before.length, 48);
  assert.notEqual(client.checkReply(before.buffer.slice(0, 48), true), "ok");
  thread.setNtsKeys({ keys: [master], currentId: master.id });
  const s = slot();
  const d = request(client, 2);
  thread.handle(0, d, s);
  assert.ok(s.length > 48 && s.length <= d.data.length);
  const reply = s.buffer.slice(0, s.length);
  s.finalize!.finalize(reply, reply.length);
  assert.equal(client.checkReply(reply, true), "ok");
  assert.deepEqual(forwarded, []);
  // A rotation relayed later: cookies under the old key still open while it is kept.
  thread.setNtsKeys({
    keys: [master, { id: 78, key: new Uint8Array(32).fill(1) }],
    currentId: 78,
  });
  const s2 = slot();
  thread.handle(0, request(client, 3), s2);
  const r2 = s2.buffer.slice(0, s2.length);
  s2.finalize!.finalize(r2, r2.length);
  assert.equal(client.checkReply(r2, true), "ok");
});
