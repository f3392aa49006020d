// Tests of authentication on the packet path with real keys: signed requests get replies signed
// with the same key and digest length once the transmit stamp is final; every failure gets a
// crypto-NAK (requests) or a counted drop (replies, peers), counted as bad authentication; the
// keys file's address list; `enable auth`; the key id handed to the core; a server thread with
// its own keys answers as the main thread does.

import assert from "node:assert/strict";
import { MruList } from "../access/mru.ts";
import { RestrictList } from "../access/restrict.ts";
import type { MacAlgorithm } from "../crypto.ts";
import { type IpWords, ipWordsOf, parsePrefix } from "../ip.ts";
import { emptyReplyBuffer, PacketIn, PacketPath, type ReplyBuffer } from "../packet_path.ts";
import { Server } from "../server.ts";
import { SysStats } from "../sys_stats.ts";
import { KeyStore, type SymmetricKey } from "./key_store.ts";
import { isCryptoNak, macKeyId, MacVerifier, signPacket } from "./mac.ts";
import { KeyAuthenticator } from "./packet_auth.ts";
import { PureCrypto } from "./pure_crypto.ts";
import { SYNCED } from "../../../tests/support/server_state.ts";

const crypto = new PureCrypto();
const ascii = (s: string) => new TextEncoder().encode(s);
const T0 = 1_800_000_000;

function prefix(text: string) {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(r.reason);
  return r.prefix;
}

const KEYS: SymmetricKey[] = [
  { id: 1, algorithm: "MD5", key: ascii("md5-secret"), allowed: null },
  { id: 2, algorithm: "SHA1", key: ascii("sha1-secret"), allowed: null },
  { id: 3, algorithm: "SHA256", key: ascii("sha256-secret"), allowed: null },
  { id: 4, algorithm: "AES128CMAC", key: ascii("0123456789abcdef"), allowed: null },
  { id: 5, algorithm: "MD5", key: ascii("untrusted"), allowed: null },
  { id: 6, algorithm: "SHA1", key: ascii("lab only"), allowed: [prefix("192.0.2.0/24")] },
];
const TRUSTED = [1, 2, 3, 4, 6];

function store(): KeyStore {
  return new KeyStore(crypto, KEYS, TRUSTED);
}

/** A mode `mode` packet of `version` signed with key `keyId` (digest `digest` bytes). */
function signed(keyId: number, digest?: number, mode = 3, version = 4): Uint8Array {
  const buf = new Uint8Array(48 + 4 + 32);
  buf[0] = (version << 3) | mode;
  buf[2] = 6;
  buf.set([0xe9, 1, 2, 3, 4, 5, 6, 7], 40);
  const k = store().get(keyId)!;
  return buf.slice(0, signPacket(buf, 48, k, digest ?? Math.min(k.outputLength, 20)));
}

function plain(mode = 3): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (4 << 3) | mode;
  b.set([0xe9, 1, 2, 3, 4, 5, 6, 7], 40);
  return b;
}

function slot(): ReplyBuffer {
  return emptyReplyBuffer(1024);
}

interface Rig {
  path: PacketPath;
  stats: SysStats;
  out: ReplyBuffer;
  send(data: Uint8Array, src?: string): ReturnType<PacketPath["handle"]>;
  /** What the transport sends: the slot stamped with `txSec`, then finalized. */
  wire(txSec?: number): Uint8Array;
}

function rig(o: { authRequired?: boolean; serverThread?: boolean; stats?: SysStats } = {}): Rig {
  const stats = o.stats ?? SysStats.create(1, 0);
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: MruList.create({}),
    counters: stats.counters(o.serverThread ? 1 : 0),
    authenticator: new KeyAuthenticator(store()),
    ...(o.authRequired !== undefined ? { authRequired: o.authRequired } : {}),
    ...(o.serverThread ? { serverThread: true } : {}),
  });
  const input = new PacketIn();
  const out = slot();
  return {
    path,
    stats,
    out,
    send(data, src = "198.51.100.9") {
      input.data = data;
      assert.ok(input.src.parse(src));
      input.srcPort = 40000;
      input.rxUnixSec = T0;
      input.rxUnixNsec = 5;
      return path.handle(input, out);
    },
    wire(txSec = T0 + 1) {
      const b = out.buffer.slice(0, out.length);
      if (out.stampTransmit) new DataView(b.buffer).setUint32(40, txSec + 2208988800);
      out.finalize?.finalize(b, b.length);
      return b;
    },
  };
}

Deno.test("KeyAuthenticator: a signed request gets a reply signed with its key and digest length, after the transmit stamp", () => {
  const client = new MacVerifier(store());
  const cases: [MacAlgorithm, number, number | undefined, number][] = [
    ["MD5", 1, undefined, 4],
    ["SHA1", 2, undefined, 4],
    ["SHA256", 3, 20, 4], // NTPv4: cut to 20 bytes
    ["SHA256", 3, 32, 3], // chronyd's NTPv3 with the full digest
    ["AES128CMAC", 4, undefined, 3],
  ];
  for (const [alg, id, digest, version] of cases) {
    const r = rig();
    const req = signed(id, digest, 3, version);
    const v = r.send(req);
    assert.deepEqual([v.kind, v.reason, v.keyId], ["reply", null, id], alg);
    assert.equal(r.out.length, req.length, `${alg}: the reply mirrors the request's MAC length`);
    assert.ok(r.out.stampTransmit && r.out.finalize !== null, alg);
    const reply = r.wire();
    assert.equal(macKeyId(reply, 48), id);
    assert.equal(client.verify(reply, reply.length, 48, null), "ok", `${alg}: the reply verifies`);
    assert.equal(reply[0]! & 7, 4);
    assert.equal((reply[0]! >> 3) & 7, version);
    // Signed over the transmit timestamp the client reads: changing it breaks the MAC.
    reply[47]! ^= 1;
    assert.equal(client.verify(reply, reply.length, 48, null), "bad_mac", alg);
    assert.equal(r.stats.snapshot(0).processed, 1);
    assert.equal(r.stats.snapshot(0).badAuth, 0);
  }
});

Deno.test("KeyAuthenticator: each failure gets a crypto-NAK, counted by reason as bad authentication", () => {
  const r = rig();
  const md5 = signed(1);
  const unknown = md5.slice();
  unknown[51] = 77;
  const bad = md5.slice();
  bad[44]! ^= 1;
  const cases: [string, Uint8Array, string][] = [
    ["truncated_mac", signed(2).subarray(0, 68), "198.51.100.9"], // SHA1 cut to 16 bytes
    ["truncated_mac", md5.slice(0, 52).fill(1, 51, 52), "198.51.100.9"], // a key id alone
    ["unknown_key", unknown, "198.51.100.9"],
    ["untrusted_key", signed(5), "198.51.100.9"],
    ["address_excluded", signed(6), "198.51.100.9"],
    ["bad_mac", bad, "198.51.100.9"],
  ];
  for (const [reason, data, src] of cases) {
    const v = r.send(data, src);
    assert.deepEqual([v.kind, v.reason, v.keyId], ["reply", reason, 0], reason);
    assert.equal(r.out.length, 52, "header and crypto-NAK, never longer than the request");
    assert.equal(r.out.finalize, null, "a crypto-NAK is not signed");
    assert.ok(isCryptoNak(r.out.buffer, 52, 48));
  }
  // The keys file's fourth field admits its own network.
  assert.equal(r.send(signed(6), "192.0.2.44").reason, null);
  const s = r.stats.snapshot(0);
  assert.deepEqual(
    [s.drops.truncated_mac, s.drops.unknown_key, s.drops.untrusted_key, s.drops.address_excluded],
    [2, 1, 1, 1],
  );
  assert.equal(s.drops.bad_mac, 1);
  assert.equal(s.badAuth, 6);
  assert.equal(s.received, s.processed + 6);
});

Deno.test("KeyAuthenticator: replies and broadcasts that fail never reach the core; the core learns the key id", () => {
  const r = rig({ authRequired: false });
  const ok = r.send(signed(1, undefined, 4));
  assert.deepEqual([ok.kind, ok.keyId], ["core", 1]);
  assert.deepEqual([r.send(plain(4)).kind, r.send(plain(4)).keyId], ["core", 0]);
  const forged = signed(1, undefined, 4);
  forged[60]! ^= 0x10;
  assert.deepEqual([r.send(forged).kind, r.send(forged).reason], ["drop", "bad_mac"]);
  assert.equal(r.out.length, 0, "nothing is sent in answer to a reply");
  assert.equal(r.send(signed(5, undefined, 5)).reason, "untrusted_key", "a broadcast");
  // A crypto-NAK from a server: recognised and counted, never handed to the core.
  const nak = new Uint8Array(52);
  nak.set(plain(4));
  const v = r.send(nak);
  assert.deepEqual([v.kind, v.reason], ["drop", "crypto_nak"]);
  // In a request, a key id 0 alone means nothing: dropped, not answered.
  const nakRequest = nak.slice();
  nakRequest[0] = (4 << 3) | 3;
  assert.deepEqual([r.send(nakRequest).kind, r.out.length], ["drop", 0]);
  const s = r.stats.snapshot(0);
  assert.equal(s.drops.crypto_nak, 2);
  assert.equal(s.badAuth, 5);
});

Deno.test("PacketPath: enable auth refuses unauthenticated peers and broadcasts; disable auth lets them on", () => {
  const on = rig();
  for (const mode of [1, 5]) {
    assert.deepEqual([on.send(plain(mode)).kind, on.send(plain(mode)).reason], [
      "drop",
      "auth_required",
    ]);
    const v = on.send(signed(2, undefined, mode));
    assert.equal(v.kind, mode === 1 ? "forward" : "core", `mode ${mode} authenticated`);
    assert.equal(v.keyId, 2);
  }
  assert.equal(on.stats.snapshot(0).accessDenied, 4);
  const off = rig({ authRequired: false });
  assert.equal(off.send(plain(1)).forward, "peer");
  assert.equal(off.send(plain(5)).kind, "core");
  off.path.setAuthRequired(true);
  assert.equal(off.send(plain(5)).reason, "auth_required");
  // Server replies (mode 4) are the associations' business, never refused here.
  assert.equal(on.send(plain(4)).kind, "core");
});

Deno.test("PacketPath: enable auth takes a configured peer's mode 1 packets without a MAC, and no one else's", () => {
  const peer = "192.0.2.7";
  const known = (src: IpWords, port: number) => src.toString() === peer && port === 40000;
  const stats = SysStats.create(2, 0);
  const main = rig({ stats });
  main.path.setConfiguredPeers(known);
  const v = main.send(plain(1), peer);
  assert.deepEqual([v.kind, v.forward, v.keyId], ["forward", "peer", 0]);
  assert.equal(main.send(plain(1), "192.0.2.8").reason, "auth_required", "another sender");
  assert.equal(main.send(plain(5), peer).reason, "auth_required", "a broadcast is no peer");
  main.path.setConfiguredPeers(null);
  assert.equal(main.send(plain(1), peer).reason, "auth_required", "nothing known");
  // A server thread cannot know the associations: it hands the packet to the main thread,
  // whose acceptForwarded() decides as the main thread's own path does.
  const worker = rig({ stats, serverThread: true });
  const w = worker.send(plain(1), peer);
  assert.deepEqual([w.kind, w.forward, w.keyId], ["forward", "peer", 0]);
  main.path.setConfiguredPeers(known);
  const input = new PacketIn();
  input.data = plain(1);
  input.srcPort = 40000;
  for (const [src, want] of [[peer, "forward"], ["192.0.2.8", "drop"]] as const) {
    assert.ok(input.src.parse(src));
    const f = main.path.acceptForwarded(input, main.out, "forward", "peer", 0, 0);
    assert.equal(f.kind, want, src);
  }
  assert.equal(main.stats.snapshot(0).drops.auth_required, 4);
});

Deno.test("PacketPath: restrict notrust serves authenticated requests only", () => {
  const stats = SysStats.create(1, 0);
  const restrict = new RestrictList();
  restrict.addRule("0.0.0.0", 0, ["notrust"]);
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict,
    mru: null,
    counters: stats.counters(0),
    authenticator: new KeyAuthenticator(store()),
  });
  const p = new PacketIn();
  p.src.parse("198.51.100.1");
  p.srcPort = 123;
  const out = slot();
  p.data = plain();
  assert.equal(path.handle(p, out).reason, "notrust");
  p.data = signed(4);
  assert.deepEqual([path.handle(p, out).kind, out.length], ["reply", 68]);
  p.data = signed(5);
  assert.equal(path.handle(p, out).reason, "notrust", "a failed MAC is not trusted either");
});

Deno.test("PacketPath: a server thread with its own keys answers signed requests as the main thread does", () => {
  const stats = SysStats.create(2, 0);
  const main = rig({ stats });
  const worker = rig({ stats, serverThread: true });
  for (const [id, digest] of [[1, undefined], [3, 32], [4, undefined]] as const) {
    const req = signed(id, digest, 3, digest === 32 ? 3 : 4);
    const a = main.send(req);
    const b = worker.send(req);
    assert.deepEqual([a.kind, a.keyId], ["reply", id]);
    assert.deepEqual([b.kind, b.keyId], ["reply", id], "answered on the thread, not forwarded");
    assert.deepEqual(worker.wire(T0 + 7), main.wire(T0 + 7), `key ${id}: the same bytes`);
  }
  const bad = signed(5);
  assert.deepEqual(
    [main.send(bad).reason, worker.send(bad).reason],
    ["untrusted_key", "untrusted_key"],
  );
  assert.deepEqual(worker.wire(), main.wire());
  assert.equal(stats.snapshot(0).drops.untrusted_key, 2);
});

Deno.test("KeyAuthenticator.finalize(): a key gone by send time leaves a zero digest, never a throw", () => {
  const auth = new KeyAuthenticator(store());
  const buf = signed(1, undefined, 4);
  auth.setStore(new KeyStore(crypto, [], []));
  auth.finalize(buf, buf.length);
  assert.deepEqual([...buf.subarray(52)], new Array(16).fill(0));
  auth.finalize(buf, 48); // no MAC at all: nothing to do
  assert.equal(
    new MacVerifier(store()).verify(buf, buf.length, 48, ipWordsOf("192.0.2.1")),
    "bad_mac",
  );
});
