import assert from "node:assert/strict";
import fc from "fast-check";
import { PureCrypto } from "../auth/pure_crypto.ts";
import { SeededRng } from "../rng.ts";
import { cookieLength, NtsServerKeys } from "./cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "./ke_result.ts";

const key = (seed: number) => Uint8Array.from({ length: 32 }, (_, k) => (k * 29 + seed) & 0xff);
const c2s = Uint8Array.from({ length: 32 }, (_, k) => k);
const s2c = Uint8Array.from({ length: 32 }, (_, k) => 200 - k);

function jar(seed = 1): NtsServerKeys {
  const j = new NtsServerKeys(new PureCrypto(), new SeededRng(seed));
  j.setKeys([{ id: 7, key: key(7) }, { id: 8, key: key(8) }], 8);
  return j;
}

Deno.test("NtsServerKeys.makeCookie() round-trips through openCookie(), 104 bytes", () => {
  const j = jar();
  const c = j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  assert.equal(c.length, cookieLength(AEAD_AES_SIV_CMAC_256));
  assert.equal(c.length, 104);
  const r = j.openCookie(c);
  assert.ok(r.ok);
  assert.equal(r.keyId, 8);
  assert.equal(r.cookie.aeadId, AEAD_AES_SIV_CMAC_256);
  assert.deepEqual(r.cookie.c2s, c2s);
  assert.deepEqual(r.cookie.s2c, s2c);
  // Fresh nonce each time: two cookies for the same keys differ (unlinkable, RFC 8915 §6).
  assert.notDeepEqual(j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c), c);
});

Deno.test("NtsServerKeys: another instance with the same keys opens the cookie", () => {
  const c = jar(1).makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  const other = new NtsServerKeys(new PureCrypto(), new SeededRng(99));
  other.setKeys([{ id: 8, key: key(8) }], 8);
  assert.ok(other.openCookie(c).ok);
  const stranger = new NtsServerKeys(new PureCrypto(), new SeededRng(99));
  stranger.setKeys([{ id: 8, key: key(9) }], 8);
  assert.deepEqual(stranger.openCookie(c), { ok: false, reason: "cookie_tag" });
});

Deno.test("NtsServerKeys: a cookie opens while its key is kept, not after", () => {
  const j = jar();
  const c = j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  j.setKeys([{ id: 8, key: key(8) }, { id: 9, key: key(9) }], 9); // rotated, 8 kept
  assert.ok(j.openCookie(c).ok);
  assert.equal(j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c)[3], 9);
  j.setKeys([{ id: 9, key: key(9) }, { id: 10, key: key(10) }], 10); // 8 dropped
  assert.deepEqual(j.openCookie(c), { ok: false, reason: "cookie_key_unknown" });
});

Deno.test("NtsServerKeys.openCookie() refuses every single-byte change and every truncation", () => {
  const j = jar();
  const c = j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  for (let k = 0; k < c.length; k++) {
    const t = c.slice();
    t[k] = t[k]! ^ 0x10;
    const r = j.openCookie(t);
    assert.equal(r.ok, false, `byte ${k}`);
    if (k >= 4) assert.equal(!r.ok && r.reason, "cookie_tag");
  }
  for (let n = 0; n < c.length; n++) assert.equal(j.openCookie(c.subarray(0, n)).ok, false);
  const longer = new Uint8Array(c.length + 1);
  longer.set(c);
  assert.equal(j.openCookie(longer).ok, false);
});

Deno.test("NtsServerKeys.makeCookie() refuses what the caller should not ask", () => {
  const none = new NtsServerKeys(new PureCrypto(), new SeededRng(1));
  assert.equal(none.ready, false);
  assert.throws(() => none.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c), RangeError);
  assert.deepEqual(none.openCookie(new Uint8Array(104)), {
    ok: false,
    reason: "cookie_key_unknown",
  });
  const j = jar();
  assert.throws(() => j.makeCookie(30, c2s, s2c), RangeError);
  assert.throws(() => j.makeCookie(AEAD_AES_SIV_CMAC_256, c2s.subarray(1), s2c), RangeError);
  assert.throws(() => j.setKeys([{ id: 1, key: key(1) }], 2), RangeError);
  assert.throws(() => j.setKeys([{ id: 1, key: key(1) }, { id: 1, key: key(2) }], 1), RangeError);
  // A failed setKeys leaves the old keys in place.
  assert.equal(j.currentKeyId, 8);
  assert.deepEqual(j.keyIds.sort(), [7, 8]);
});

Deno.test("NtsServerKeys.openCookie() never throws on arbitrary bytes", () => {
  const j = jar();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, knownKey) => {
      if (knownKey && bytes.length >= 4) bytes.set([0, 0, 0, 8]);
      const r = j.openCookie(bytes);
      assert.equal(r.ok, false);
    }),
    { numRuns: 300, seed: 8915, verbose: true },
  );
});
