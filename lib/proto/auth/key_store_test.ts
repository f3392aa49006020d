import assert from "node:assert/strict";
import { ipWordsOf, parsePrefix } from "../ip.ts";
import { KeyStore, type SymmetricKey } from "./key_store.ts";
import { PureCrypto } from "./pure_crypto.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const key = (id: number, text: string, allowed: string[] | null = null): SymmetricKey => ({
  id,
  algorithm: "MD5",
  key: ascii(text),
  allowed: allowed === null ? null : allowed.map((a) => {
    const r = parsePrefix(a);
    if (!r.ok) throw new Error(r.reason);
    return r.prefix;
  }),
});

Deno.test("KeyStore: lookups by id, a later key with the same id wins", () => {
  const s = new KeyStore(new PureCrypto(), [key(5, "a"), key(2, "b"), key(5, "c")]);
  assert.equal(s.size, 2);
  assert.deepEqual(s.ids(), [2, 5]);
  assert.equal(s.get(5)!.algorithm, "MD5");
  const out1 = new Uint8Array(16), out2 = new Uint8Array(16);
  s.get(5)!.mac.compute(new Uint8Array(0), 0, 0, out1, 0, 16);
  new PureCrypto().macContext("MD5", ascii("c")).compute(new Uint8Array(0), 0, 0, out2, 0, 16);
  assert.deepEqual(out1, out2);
  assert.equal(s.get(3), undefined);
});

Deno.test("KeyStore: trust is by id, may precede the key, and follows setTrusted()", () => {
  const s = new KeyStore(new PureCrypto(), [key(1, "a"), key(2, "b")], [2, 40]);
  assert.equal(s.get(1)!.trusted, false);
  assert.equal(s.get(2)!.trusted, true);
  assert.ok(s.isTrusted(40));
  assert.deepEqual(s.trustedIds(), [2, 40]);
  s.setTrusted(1, true);
  s.setTrusted(2, false);
  assert.equal(s.get(1)!.trusted, true);
  assert.equal(s.get(2)!.trusted, false);
  const reloaded = new KeyStore(new PureCrypto(), [key(40, "x")], s.trustedIds());
  assert.equal(reloaded.get(40)!.trusted, true);
});

Deno.test("StoredKey.allows(): any address without a list, else the listed prefixes only", () => {
  const s = new KeyStore(new PureCrypto(), [
    key(1, "a"),
    key(2, "b", ["10.1.0.0/16", "fe80::/10", "192.0.2.9"]),
  ]);
  const w = (t: string) => ipWordsOf(t)!;
  assert.ok(s.get(1)!.allows(w("203.0.113.1")));
  assert.ok(s.get(1)!.allows(null));
  const k = s.get(2)!;
  assert.ok(k.allows(w("10.1.255.255")));
  assert.ok(!k.allows(w("10.2.0.0")));
  assert.ok(k.allows(w("fe80::1234")));
  assert.ok(!k.allows(w("fec0::1")));
  assert.ok(k.allows(w("192.0.2.9")));
  assert.ok(!k.allows(w("192.0.2.10")));
  assert.ok(!k.allows(w("::a01:1")), "an IPv6 address with the same low word is not 10.1.0.1");
});

Deno.test("StoredKey: digest lengths per algorithm", () => {
  const c = new PureCrypto();
  const s = new KeyStore(c, [
    { id: 1, algorithm: "MD5", key: ascii("k"), allowed: null },
    { id: 2, algorithm: "SHA1", key: ascii("k"), allowed: null },
    { id: 3, algorithm: "SHA256", key: ascii("k"), allowed: null },
    { id: 4, algorithm: "AES128CMAC", key: new Uint8Array(16), allowed: null },
  ]);
  const lengths = [1, 2, 3, 4].map((id) => [s.get(id)!.outputLength, s.get(id)!.v4DigestLength]);
  assert.deepEqual(lengths, [[16, 16], [20, 20], [32, 20], [16, 16]]);
  assert.ok(s.get(3)!.acceptsDigestLength(20) && s.get(3)!.acceptsDigestLength(32));
  assert.ok(!s.get(3)!.acceptsDigestLength(16));
  assert.ok(!s.get(1)!.acceptsDigestLength(20));
});
