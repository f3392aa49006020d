// Symmetric modes through the core (RFC 5905 §8–9): `peer` associations (mode 1) exchange the
// system state both ways and the one with the better upstream leads; an authenticated mode 1
// packet from an unknown address mobilises a passive association (mode 2), demobilised once
// unreachable; unauthenticated, untrusted, restricted or excess ones mobilise nothing.

import assert from "node:assert/strict";
import { KeyStore, type SymmetricKey } from "./auth/key_store.ts";
import { signPacket } from "./auth/mac.ts";
import { PureCrypto } from "./auth/pure_crypto.ts";
import { RES_NOEPEER, RES_NOPEER } from "./access/restrict.ts";
import type { PeerAddress } from "./events.ts";
import { encodePacket } from "./packet.ts";
import { SeededRng } from "./rng.ts";
import { NtpSystem } from "./system.ts";
import { IpWords } from "./ip.ts";
import { NET_T0, type NetNode, PeerNet } from "../../tests/support/peer_net.ts";
import { toTimestamp } from "./ntp_time.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const KEYS: SymmetricKey[] = [
  { id: 1, algorithm: "SHA1", key: ascii("peer-secret"), allowed: null },
  { id: 2, algorithm: "MD5", key: ascii("untrusted"), allowed: null },
];
const keys = () => new KeyStore(new PureCrypto(), KEYS, [1]);
const addr = (a: string): PeerAddress => ({ family: 4, address: a, port: 123 });
const A = addr("10.0.0.1");
const B = addr("10.0.0.2");
const UP = addr("10.0.9.9");

function system(
  seed: number,
  o: { maxEphemeral?: number; localAddresses?: PeerAddress[] } = {},
): NtpSystem {
  return new NtpSystem({ precisionLog2: -20, rng: new SeededRng(seed), keys: keys(), ...o });
}

/** A's upstream is a stratum 2 server; A and B are `peer` of each other with key 1. */
function twoPeers(bConfigured: boolean) {
  const net = new PeerNet();
  net.addUpstream(UP, {
    leap: 0,
    stratum: 2,
    precisionLog2: -20,
    rootDelaySec: 0.001,
    rootDispersionSec: 0.001,
    refid: 0x0a000909,
    referenceTime: NET_T0,
  });
  const a = net.add({
    address: A,
    system: system(1, { localAddresses: [A] }),
    clockOffsetSec: 0.003,
  });
  const b = net.add({
    address: B,
    system: system(2, { localAddresses: [B] }),
    clockOffsetSec: -0.005,
  });
  const up = a.system.addServer(UP, { minpoll: 4, maxpoll: 4, iburst: true }, net.local(a));
  const ab = a.system.addServer(B, { kind: "peer", key: 1, minpoll: 4, maxpoll: 4 }, net.local(a));
  const ba = bConfigured
    ? b.system.addServer(A, { kind: "peer", key: 1, minpoll: 4, maxpoll: 4 }, net.local(b))
    : null;
  // The new associations need the timer to run.
  for (const n of [a, b]) n.timer = net.local(n);
  return { net, a, b, up, ab, ba };
}

function assocOf(net: PeerNet, n: NetNode, peer: PeerAddress) {
  return n.system.snapshot(net.local(n)).associations.find((x) =>
    x.address.address === peer.address
  );
}

Deno.test("NtpSystem: two `peer` associations with a key reach each other and follow the stratum", () => {
  const { net, a, b, up, ab, ba } = twoPeers(true);
  net.run(900);
  const sa = a.system.snapshot(net.local(a));
  const sb = b.system.snapshot(net.local(b));
  assert.equal(sa.systemPeer, up, "A follows its upstream");
  assert.equal(sa.stratum, 3);
  assert.equal(sb.systemPeer, ba, "B follows A");
  assert.equal(sb.stratum, 4);
  const aSideB = sa.associations.find((x) => x.id === ab)!;
  const bSideA = sb.associations.find((x) => x.id === ba)!;
  assert.notEqual(aSideB.reach, 0, "A reaches B");
  assert.notEqual(bSideA.reach, 0, "B reaches A");
  assert.equal(aSideB.hostMode, 1);
  assert.equal(aSideB.peerMode, 1);
  assert.equal(bSideA.kind, "peer");
  assert.equal(bSideA.authentic, true);
  // The clocks started 8 ms apart and 3 ms off: A follows the upstream, B follows A.
  const ta = a.clock.trueOffsetSec;
  const tb = b.clock.trueOffsetSec;
  assert.ok(Math.abs(ta) < 1e-3, `A off by ${ta}`);
  assert.ok(Math.abs(tb - ta) < 1e-3, `B off A by ${tb - ta}`);
  assert.ok(Math.abs(bSideA.offsetSec!) < 1e-3, String(bSideA.offsetSec));
  // B names A as its reference; A never takes B (B is synchronised to A: a loop).
  assert.equal(sb.refid, 0x0a000001);
  assert.ok(!sa.survivors.includes(ab));
  assert.equal(sa.counters.ephemeralMobilized, 0);
});

Deno.test("NtpSystem: an authenticated mode 1 packet mobilises a passive association that answers", () => {
  const { net, a, b, ab } = twoPeers(false);
  net.run(600);
  const sb = b.system.snapshot(net.local(b));
  assert.equal(sb.counters.ephemeralMobilized, 1);
  assert.equal(sb.associations.length, 1);
  const passive = sb.associations[0]!;
  assert.equal(passive.kind, "passive");
  assert.equal(passive.ephemeral, true);
  assert.equal(passive.hostMode, 2);
  assert.equal(passive.peerMode, 1);
  assert.equal(passive.keyId, 1);
  assert.notEqual(passive.reach, 0);
  assert.equal(sb.systemPeer, passive.id);
  assert.equal(sb.stratum, 4);
  const sa = a.system.snapshot(net.local(a));
  const aSide = sa.associations.find((x) => x.id === ab)!;
  assert.notEqual(aSide.reach, 0, "A hears the passive side's mode 2 packets");
  assert.equal(aSide.peerMode, 2);

  // A stops: the passive association becomes unreachable and goes.
  a.system.removeAssociation(ab);
  net.run(64 * 12);
  const after = b.system.snapshot(net.local(b));
  assert.equal(after.associations.length, 0);
  assert.equal(after.counters.ephemeralDemobilized, 1);
  assert.ok(b.log.some((l) => l.action.type === "demobilize" && l.action.reason === "unreachable"));
});

/** A mode 1 packet from `from`, signed with `keyId` (0: none; -1: a wrong MAC). */
function mode1(keyId: number, seed = 1): Uint8Array {
  const data = encodePacket({
    leap: 3,
    version: 4,
    mode: 1,
    stratum: 0,
    pollLog2: 6,
    precisionLog2: -20,
    rootDelayShort: 0,
    rootDispersionShort: 0,
    refid: 0,
    referenceTimestamp: 0n,
    originTimestamp: 0n,
    receiveTimestamp: 0n,
    transmitTimestamp: toTimestamp(NET_T0) + BigInt(seed),
    extensions: [],
    mac: null,
  });
  if (keyId === 0) return data;
  const out = new Uint8Array(48 + 4 + 20);
  out.set(data);
  const id = keyId < 0 ? 1 : keyId;
  const n = signPacket(out, 48, keys().get(id)!);
  if (keyId < 0) out[n - 1]! ^= 0xff;
  return out.slice(0, n);
}

Deno.test("NtpSystem.mobilize: unauthenticated, forged, untrusted and restricted mode 1 packets mobilise nothing", () => {
  const sys = system(3);
  sys.start(NET_T0);
  const at = (i: number) => ({
    family: 4 as const,
    address: `10.1.${i >> 8}.${i & 255}`,
    port: 123,
  });
  sys.onPacket({ data: mode1(0), peer: at(1), rxTime: NET_T0 }, NET_T0);
  sys.onPacket({ data: mode1(-1), peer: at(2), rxTime: NET_T0 }, NET_T0);
  sys.onPacket({ data: mode1(2), peer: at(3), rxTime: NET_T0 }, NET_T0);
  sys.onPacket({ data: mode1(1), peer: at(4), rxTime: NET_T0, restrictFlags: RES_NOEPEER }, NET_T0);
  // nopeer refuses only what is not authenticated.
  sys.onPacket({ data: mode1(0), peer: at(5), rxTime: NET_T0, restrictFlags: RES_NOPEER }, NET_T0);
  // The daemon's verdict (keyId 0: not authenticated) is taken as given.
  sys.onPacket({ data: mode1(1), peer: at(6), rxTime: NET_T0, keyId: 0 }, NET_T0);
  const s = sys.snapshot(NET_T0);
  assert.equal(s.associations.length, 0);
  // Key 2 is not trusted: its MAC does not authenticate anything.
  assert.deepEqual(s.counters.mobilizeRefused, { not_authenticated: 4, restricted: 2 });
  // A key id the caller vouches for is still checked against the trusted keys.
  const r = sys.mobilize("passive", at(8), mode1(2), 2, NET_T0);
  assert.deepEqual(r, { ok: false, reason: "untrusted_key" });
  // Signed with the trusted key: mobilised (and nopeer does not apply to it).
  sys.onPacket({ data: mode1(1), peer: at(7), rxTime: NET_T0, restrictFlags: RES_NOPEER }, NET_T0);
  assert.equal(sys.snapshot(NET_T0).associations.length, 1);
});

Deno.test("NtpSystem: a flood of mode 1 packets from many senders stays bounded", () => {
  const sys = system(4, { maxEphemeral: 16 });
  sys.start(NET_T0);
  const at = (i: number) => ({
    family: 4 as const,
    address: `10.2.${i >> 8}.${i & 255}`,
    port: 123,
  });
  const bad = [mode1(0), mode1(-1)];
  for (let i = 0; i < 20_000; i++) {
    sys.onPacket({ data: bad[i & 1]!, peer: at(i % 60_000), rxTime: NET_T0 }, NET_T0);
  }
  let s = sys.snapshot(NET_T0);
  assert.equal(s.associations.length, 0);
  assert.equal(s.counters.mobilizeRefused!.not_authenticated, 20_000);
  // Authenticated ones from 100 senders: only the cap is mobilised, the rest counted.
  for (let i = 0; i < 100; i++) {
    sys.onPacket({ data: mode1(1, i + 1), peer: at(30_000 + i), rxTime: NET_T0 }, NET_T0);
  }
  s = sys.snapshot(NET_T0);
  assert.equal(s.associations.length, 16);
  assert.equal(s.counters.mobilizeRefused!.limit, 84);
  // None of them ever answers: all are demobilised after the grace polls, freeing the slots.
  let now = NET_T0;
  for (let i = 0; i < 2000 && sys.associations.size > 0; i++) {
    now = now + (1n << 32n) * 16n;
    sys.onTimer(now);
  }
  s = sys.snapshot(now);
  assert.equal(s.associations.length, 0);
  assert.equal(s.counters.ephemeralDemobilized, 16);
});

Deno.test("Association: symmetric duplicate and bogus-origin packets give no sample", () => {
  const { net, a, b, ba } = twoPeers(true);
  net.run(120);
  const before = assocOf(net, b, A)!;
  const received = before.received;
  // Replay A's last packet to B: a duplicate. A packet with a stale origin: bogus.
  const lastFromA =
    a.log.filter((l) => l.action.type === "send" && l.action.to.address === B.address).at(-1)!
      .action;
  assert.equal(lastFromA.type, "send");
  if (lastFromA.type !== "send") return;
  net.inject(A, B, lastFromA.data);
  net.run(0.01);
  const dup = b.system.associations.get(ba!)!.snapshot(net.local(b));
  assert.equal(dup.rejected.duplicate, 1);
  assert.equal(dup.received, received);
  const bogus = mode1(1, 99);
  net.inject(A, B, bogus);
  net.run(0.01);
  const after = b.system.associations.get(ba!)!.snapshot(net.local(b));
  assert.ok((after.rejected.not_expected ?? 0) + (after.rejected.bogus_origin ?? 0) >= 1);
  assert.equal(after.received, received);
});

Deno.test("NtpSystem: a peer that loses its source is not held over by the peer following it", () => {
  const { net, a, b, ba } = twoPeers(true);
  net.run(300);
  assert.equal(b.system.snapshot(net.local(b)).systemPeer, ba);
  // A's only real source goes: once A is unsynchronised, B must not keep following it.
  net.upstreams[0]!.up = false;
  net.run(600);
  const sa = a.system.snapshot(net.local(a));
  const sb = b.system.snapshot(net.local(b));
  assert.equal(sa.stratum, 16);
  assert.equal(sb.systemPeer, null, "B dropped A");
  assert.equal(sb.stratum, 16);
  assert.ok(
    b.log.some((l) =>
      l.action.type === "event" && l.action.message.includes("no longer fit to follow")
    ),
  );
});

Deno.test("NtpSystem: with `disable auth` an unauthenticated mode 1 packet mobilises, unless nopeer", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(5), authRequired: false });
  sys.start(NET_T0);
  const from = (i: number): PeerAddress => ({ family: 4, address: `10.3.0.${i}`, port: 123 });
  sys.onPacket(
    { data: mode1(0), peer: from(1), rxTime: NET_T0, restrictFlags: RES_NOPEER },
    NET_T0,
  );
  assert.equal(sys.snapshot(NET_T0).associations.length, 0);
  sys.onPacket({ data: mode1(0), peer: from(2), rxTime: NET_T0 }, NET_T0);
  const s = sys.snapshot(NET_T0);
  assert.equal(s.associations.length, 1);
  assert.equal(s.associations[0]!.kind, "passive");
  assert.equal(s.associations[0]!.keyId, 0);
  assert.deepEqual(s.counters.mobilizeRefused, { restricted: 1 });
});

Deno.test("NtpSystem.hasConfiguredPeer() names configured peer lines only, by address and port", () => {
  const s = system(3);
  const t = NET_T0;
  s.addServer(B, { kind: "peer", minpoll: 4, maxpoll: 4 }, t);
  s.addServer(UP, { minpoll: 4, maxpoll: 4 }, t);
  const at = (a: string) => {
    const w = new IpWords();
    assert.ok(w.parse(a));
    return w;
  };
  assert.equal(s.hasConfiguredPeer(at("10.0.0.2"), 123), true);
  assert.equal(s.hasConfiguredPeer(at("10.0.0.2"), 124), false, "another port");
  assert.equal(s.hasConfiguredPeer(at("10.0.9.9"), 123), false, "a server line is no peer");
  assert.equal(s.hasConfiguredPeer(at("10.0.0.3"), 123), false);
  assert.equal(s.hasConfiguredPeer(at("::ffff:10.0.0.2"), 123), true, "v4-mapped is the same");
});

Deno.test("NtpSystem: a `peer` with a key takes nothing unauthenticated from its address", () => {
  const sys = system(5);
  const id = sys.addServer(B, { kind: "peer", key: 1, minpoll: 4, maxpoll: 4 }, NET_T0);
  sys.start(NET_T0);
  const before = sys.snapshot(NET_T0).associations.find((x) => x.id === id)!;
  for (const keyId of [0, -1]) {
    sys.onPacket({ data: mode1(keyId), peer: B, rxTime: NET_T0 }, NET_T0);
  }
  // The daemon's verdict (keyId 0) counts, whatever the packet carries.
  sys.onPacket({ data: mode1(1), peer: B, rxTime: NET_T0, keyId: 0 }, NET_T0);
  const after = sys.snapshot(NET_T0).associations.find((x) => x.id === id)!;
  assert.equal(after.reach, before.reach);
  assert.equal(after.offsetSec, before.offsetSec);
  const rejected = Object.values(after.rejected ?? {}).reduce((n, v) => n + v, 0);
  assert.equal(rejected, 3, JSON.stringify(after.rejected));
  assert.equal(sys.snapshot(NET_T0).counters.ephemeralMobilized, 0);
});
