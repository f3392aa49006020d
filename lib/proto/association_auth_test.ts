// Client associations with a symmetric key (`server ... key N`), through the core: requests are
// signed after their transmit timestamp is written; only replies authenticated with key N are
// used; an unauthenticated or differently keyed reply, kiss-o'-death included, changes nothing;
// a replayed authenticated reply is refused by the origin test; a missing key sends nothing.

import assert from "node:assert/strict";
import { KeyStore, type SymmetricKey } from "./auth/key_store.ts";
import { MacVerifier, signPacket } from "./auth/mac.ts";
import { PureCrypto } from "./auth/pure_crypto.ts";
import type { Action, PeerAddress } from "./events.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import { NtpSystem } from "./system.ts";

const T0 = fromUnix(1_700_000_000);
const ascii = (s: string) => new TextEncoder().encode(s);
const KEYS: SymmetricKey[] = [
  { id: 1, algorithm: "MD5", key: ascii("one"), allowed: null },
  { id: 2, algorithm: "SHA1", key: ascii("two"), allowed: null },
  { id: 3, algorithm: "SHA256", key: ascii("three"), allowed: null },
  { id: 4, algorithm: "AES128CMAC", key: ascii("0123456789abcdef"), allowed: null },
];
const SERVER: PeerAddress = { family: 4, address: "192.0.2.1", port: 123 };

function store(): KeyStore {
  return new KeyStore(new PureCrypto(), KEYS, [1, 2, 3, 4]);
}

const upstream = new Server({
  leap: 0,
  stratum: 1,
  precisionLog2: -20,
  rootDelaySec: 0,
  rootDispersionSec: 0,
  refid: 0x47505300,
  referenceTime: T0,
});

/** The server's reply to `request` at `at`, signed with `keyId` (0: unsigned, −1: crypto-NAK). */
function reply(request: Uint8Array, at: NtpTime, keyId: number, kiss?: string): Uint8Array {
  const out = new Uint8Array(128);
  const plain = request.slice(0, 48);
  const n = upstream.respond(plain, at, out);
  assert.equal(n, 48);
  if (kiss !== undefined) {
    out[1] = 0;
    out.set(ascii(kiss), 12);
  }
  if (keyId === 0) return out.slice(0, 48);
  if (keyId < 0) return out.slice(0, 52); // key id 0, no digest
  return out.slice(0, signPacket(out, 48, store().get(keyId)!));
}

function sends(actions: Action[]): Uint8Array[] {
  return actions.flatMap((a) => a.type === "send" ? [a.data] : []);
}

/** A system with one server `key` (and `version`), polled once: the request it sent. */
function polled(key: number | null, o: { version?: number; keys?: KeyStore | null } = {}) {
  const sys = new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(7),
    keys: o.keys === undefined ? store() : o.keys,
  });
  const id = sys.addServer(
    SERVER,
    { minpoll: 4, maxpoll: 4, key, ...(o.version ? { version: o.version } : {}) },
    T0,
  );
  const at = addSec(T0, 20);
  const out = sends(sys.onTimer(at));
  return { sys, id, at, request: out[0] ?? null, assoc: () => sys.snapshot(at).associations[0]! };
}

Deno.test("Association with key N signs its requests after the transmit timestamp (each type, NTPv4 and v3)", () => {
  const verifier = new MacVerifier(store());
  const lengths: Record<number, number> = { 1: 68, 2: 72, 3: 72, 4: 68 };
  for (const key of [1, 2, 3, 4]) {
    const { request } = polled(key);
    assert.ok(request !== null);
    assert.equal(request.length, lengths[key], `key ${key}`);
    assert.equal(verifier.verify(request, request.length, 48, null), "ok");
    assert.equal(verifier.lastKeyId, key);
    assert.notDeepEqual(request.subarray(40, 48), new Uint8Array(8), "transmit timestamp set");
  }
  // NTPv3: the full SHA-256 digest, as chronyd sends it.
  const v3 = polled(3, { version: 3 }).request!;
  assert.equal(v3.length, 84);
  assert.equal(verifier.verify(v3, v3.length, 48, null), "ok");
  // Without a key: a bare 48-byte request.
  assert.equal(polled(null).request!.length, 48);
});

Deno.test("Association with key N uses only replies authenticated with key N; the rest change nothing", () => {
  const r = polled(1);
  const rx = addSec(r.at, 0.002);
  const before = r.assoc();
  for (
    const [what, data] of [
      ["unsigned", reply(r.request!, rx, 0)],
      ["another trusted key", reply(r.request!, rx, 2)],
      ["a crypto-NAK", reply(r.request!, rx, -1)],
      ["an unauthenticated DENY kiss", reply(r.request!, rx, 0, "DENY")],
      ["an unauthenticated RATE kiss", reply(r.request!, rx, 0, "RATE")],
    ] as const
  ) {
    const acts = r.sys.onPacket({ data, peer: SERVER, rxTime: rx }, rx);
    assert.ok(!acts.some((a) => a.type === "demobilize"), what);
    const now = r.assoc();
    assert.deepEqual(
      [now.reach, now.received, now.kod, now.dead, now.pollSec],
      [before.reach, before.received, before.kod, before.dead, before.pollSec],
      what,
    );
  }
  assert.equal(r.assoc().rejected.unauthenticated, 5);
  // The daemon's packet path says which key verified: its verdict is taken as is.
  // A reply that carries key 1's MAC but that the path judged unauthenticated (keyId 0): the
  // core does not check it again.
  r.sys.onPacket({ data: reply(r.request!, rx, 1), peer: SERVER, rxTime: rx, keyId: 0 }, rx);
  assert.equal(r.assoc().reach, 0, "keyId 0 from the path: not authenticated");
  // The right key: used.
  const good = reply(r.request!, rx, 1);
  r.sys.onPacket({ data: good, peer: SERVER, rxTime: rx }, rx);
  const after = r.assoc();
  assert.deepEqual([after.reach, after.received, after.keyId, after.authentic], [1, 1, 1, true]);
  // Replayed: the origin test refuses it (the request was answered), and nothing changes.
  r.sys.onPacket({ data: good, peer: SERVER, rxTime: addSec(rx, 1) }, addSec(rx, 1));
  const replayed = r.assoc();
  assert.equal(replayed.received, 1);
  assert.equal(replayed.rejected.duplicate, 1);
});

Deno.test("Association with key N: an authenticated kiss-o'-death is obeyed", () => {
  const r = polled(4);
  const rx = addSec(r.at, 0.002);
  const acts = r.sys.onPacket(
    { data: reply(r.request!, rx, 4, "DENY"), peer: SERVER, rxTime: rx },
    rx,
  );
  assert.ok(acts.some((a) => a.type === "demobilize"));
});

Deno.test("Association without a key takes unauthenticated and authenticated replies", () => {
  for (const keyId of [0, 2]) {
    const r = polled(null);
    const rx = addSec(r.at, 0.002);
    r.sys.onPacket({ data: reply(r.request!, rx, keyId), peer: SERVER, rxTime: rx }, rx);
    assert.equal(r.assoc().reach, 1, `reply key ${keyId}`);
    assert.deepEqual([r.assoc().keyId, r.assoc().authentic], [0, false]);
  }
});

Deno.test("Association with a key the keys file lacks sends nothing, and says why", () => {
  const r = polled(9);
  assert.equal(r.request, null);
  assert.equal(r.assoc().rejected.no_key, 1);
  const none = polled(1, { keys: null });
  assert.equal(none.request, null, "no keys at all");
});
