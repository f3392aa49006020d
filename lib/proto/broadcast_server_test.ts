// Tests of the broadcast server association: mode 5 packets at the poll interval with the system
// variables, nothing while unsynchronised, the TTL on the send action, and a MAC that verifies
// with the line's key (nothing sent without the key).

import assert from "node:assert/strict";
import { KeyStore, type SymmetricKey } from "./auth/key_store.ts";
import { MacVerifier } from "./auth/mac.ts";
import { PureCrypto } from "./auth/pure_crypto.ts";
import { BroadcastServer } from "./broadcast_server.ts";
import type { Action, PeerAddress, SendAction } from "./events.ts";
import { addSec, diffSec, fromTimestamp, fromUnix } from "./ntp_time.ts";
import { decodePacket, PacketPeek, rootDispersionSec } from "./packet.ts";
import { SeededRng } from "./rng.ts";
import type { SystemState } from "./server.ts";

const T0 = fromUnix(1_700_000_000);
const GROUP: PeerAddress = { family: 4, address: "239.1.2.3", port: 123 };
const SYNCED: SystemState = {
  leap: 0,
  stratum: 2,
  precisionLog2: -22,
  rootDelaySec: 0.01,
  rootDispersionSec: 0.002,
  refid: 0xc0000201,
  referenceTime: T0,
};

function sends(actions: Action[]): SendAction[] {
  return actions.filter((a): a is SendAction => a.type === "send");
}

Deno.test("BroadcastServer sends mode 5 with the system variables at its poll interval", () => {
  const b = new BroadcastServer(7, GROUP, { pollLog2: 4, ttl: 3 }, new SeededRng(1), T0, null);
  assert.deepEqual(b.onTimer(T0, SYNCED), [], "nothing before the first deadline");
  const first = b.deadline;
  assert.ok(diffSec(first, T0) >= 1 && diffSec(first, T0) <= 2);
  const at = addSec(T0, 10);
  const out = sends(b.onTimer(at, SYNCED));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.ttl, 3);
  assert.deepEqual(out[0]!.to, GROUP);
  const r = decodePacket(out[0]!.data);
  assert.ok(r.ok);
  const p = r.packet;
  assert.equal(p.mode, 5);
  assert.equal(p.stratum, 2);
  assert.equal(p.pollLog2, 4);
  assert.equal(p.refid, 0xc0000201);
  assert.equal(p.originTimestamp, 0n);
  assert.equal(p.receiveTimestamp, 0n);
  assert.equal(fromTimestamp(p.transmitTimestamp, at), at);
  // The root dispersion grows with the time since the reference time (PHI, 15 ppm).
  assert.ok(rootDispersionSec(p) > 0.002 && rootDispersionSec(p) < 0.0022);
  const gap = diffSec(b.deadline, at);
  assert.ok(gap > 15 && gap <= 16, `next poll in ${gap} s`);
  assert.deepEqual(b.onTimer(addSec(at, 1), SYNCED), [], "not again before the poll");
  assert.equal(b.counters.sent, 1);
});

Deno.test("BroadcastServer sends nothing while the system is unsynchronised (counted)", () => {
  const b = new BroadcastServer(1, GROUP, { pollLog2: 4 }, new SeededRng(2), T0, null);
  const at = addSec(T0, 5);
  assert.deepEqual(b.onTimer(at, null), []);
  assert.deepEqual(b.onTimer(addSec(at, 20), { ...SYNCED, leap: 3, stratum: 16 }), []);
  assert.equal(b.counters.unsynchronized, 2);
  assert.equal(b.counters.sent, 0);
  assert.equal(sends(b.onTimer(addSec(at, 40), SYNCED)).length, 1);
});

Deno.test("BroadcastServer signs with its key; the MAC verifies; without the key nothing goes", () => {
  const keys: SymmetricKey[] = [
    { id: 5, algorithm: "SHA1", key: new TextEncoder().encode("secret"), allowed: null },
  ];
  const store = new KeyStore(new PureCrypto(), keys, [5]);
  const b = new BroadcastServer(2, GROUP, { key: 5 }, new SeededRng(3), T0, store);
  const out = sends(b.onTimer(addSec(T0, 5), SYNCED));
  assert.equal(out.length, 1);
  const data = out[0]!.data;
  assert.equal(data.length, 48 + 4 + 20);
  const peek = new PacketPeek();
  assert.equal(peek.read(data), "ok");
  const v = new MacVerifier(store);
  assert.equal(v.verify(data, data.length, peek.macOffset, null), "ok");
  assert.equal(v.lastKeyId, 5);
  // A changed byte no longer verifies.
  const bad = data.slice();
  bad[44]! ^= 1;
  assert.notEqual(v.verify(bad, bad.length, peek.macOffset, null), "ok");
  const missing = new BroadcastServer(3, GROUP, { key: 9 }, new SeededRng(3), T0, store);
  assert.deepEqual(missing.onTimer(addSec(T0, 5), SYNCED), []);
  assert.equal(missing.counters.noKey, 1);
});

Deno.test("BroadcastServer clamps its poll and shows as a broadcast association (hmode 5)", () => {
  const b = new BroadcastServer(4, GROUP, { pollLog2: 1 }, new SeededRng(4), T0, null);
  assert.equal(b.pollLog2, 4);
  const s = b.snapshot(T0);
  assert.equal(s.kind, "broadcast");
  assert.equal(s.hostMode, 5);
  assert.equal(s.server, null);
});
