import assert from "node:assert/strict";
import fc from "fast-check";
import {
  authenticatorLength,
  EF_AUTHENTICATOR,
  EF_COOKIE,
  EF_COOKIE_PLACEHOLDER,
  EF_UNIQUE_ID,
  fieldLength,
  looksLikeNts,
  MAX_NTS_FIELDS,
  readEncryptedCookies,
  readNtsFields,
  writeAuthenticator,
  writeField,
} from "./extension_fields.ts";

interface Field {
  type: number;
  body: Uint8Array;
}

function packet(fields: Field[], auth: { nonce: number; sealed: number } | null): Uint8Array {
  let n = 48;
  for (const f of fields) n += fieldLength(f.body.length);
  if (auth !== null) n += 8 + ((auth.nonce + 3) & ~3) + ((auth.sealed + 3) & ~3);
  const out = new Uint8Array(n);
  out[0] = 0x23;
  let at = 48;
  for (const f of fields) at = writeField(out, at, f.type, f.body);
  if (auth !== null) {
    writeAuthenticator(
      out,
      at,
      new Uint8Array(auth.nonce).fill(9),
      new Uint8Array(auth.sealed).fill(8),
    );
  }
  return out;
}

const uid = { type: EF_UNIQUE_ID, body: new Uint8Array(32).fill(1) };
const cookie = { type: EF_COOKIE, body: new Uint8Array(104).fill(2) };
const holder = { type: EF_COOKIE_PLACEHOLDER, body: new Uint8Array(104) };
const AUTH = { nonce: 16, sealed: 16 };

Deno.test("readNtsFields() reads a well-formed request: offsets and views", () => {
  const p = packet([uid, cookie, holder, holder], AUTH);
  const r = readNtsFields(p, true);
  assert.ok(r.ok);
  assert.deepEqual(r.fields.uniqueId, uid.body);
  assert.deepEqual(r.fields.cookies, [cookie.body]);
  assert.deepEqual(r.fields.placeholderLengths, [104, 104]);
  assert.equal(r.fields.authStart, p.length - authenticatorLength(0));
  assert.equal(r.fields.nonce.length, 16);
  assert.equal(r.fields.ciphertext.length, 16);
  assert.ok(looksLikeNts(p));
  assert.equal(looksLikeNts(p.subarray(0, 48)), false);
});

Deno.test("readNtsFields() refuses every malformation with its reason", () => {
  const cases: [string, Uint8Array, string][] = [
    ["no unique id", packet([cookie], AUTH), "nts_unique_id"],
    ["two unique ids", packet([uid, uid, cookie], AUTH), "nts_unique_id"],
    [
      "short unique id",
      packet([{ type: EF_UNIQUE_ID, body: new Uint8Array(28) }, cookie], AUTH),
      "nts_unique_id",
    ],
    ["no cookie", packet([uid], AUTH), "nts_cookie"],
    ["two cookies", packet([uid, cookie, cookie], AUTH), "nts_cookie"],
    [
      "placeholder of another size",
      packet([uid, cookie, { type: EF_COOKIE_PLACEHOLDER, body: new Uint8Array(100) }], AUTH),
      "nts_cookie",
    ],
    ["no authenticator", packet([uid, cookie], null), "nts_authenticator"],
    ["nonce under 16 bytes", packet([uid, cookie], { nonce: 12, sealed: 16 }), "nts_authenticator"],
    [
      "ciphertext under a tag",
      packet([uid, cookie], { nonce: 16, sealed: 12 }),
      "nts_authenticator",
    ],
    [
      "a field after the authenticator",
      (() => {
        const p = packet([uid, cookie], AUTH);
        const q = new Uint8Array(p.length + 16);
        q.set(p);
        writeField(q, p.length, 0x7777, new Uint8Array(12));
        return q;
      })(),
      "nts_authenticator",
    ],
  ];
  for (const [what, p, reason] of cases) {
    const r = readNtsFields(p, true);
    assert.equal(r.ok, false, what);
    if (!r.ok) assert.equal(r.reason, reason, what);
  }
});

Deno.test("readNtsFields() checks the authenticator's padding and lengths byte by byte", () => {
  const p = packet([uid, { type: EF_COOKIE, body: new Uint8Array(100) }], {
    nonce: 18,
    sealed: 17,
  });
  assert.ok(readNtsFields(p, true).ok);
  const at = p.length - (8 + 20 + 20);
  // Padding after the 18-byte nonce and after the 17-byte ciphertext must be zero.
  for (const k of [at + 8 + 18, at + 8 + 19, at + 8 + 20 + 17, at + 8 + 20 + 19]) {
    const q = p.slice();
    q[k] = 1;
    assert.equal(readNtsFields(q, true).ok, false, `padding byte ${k - at}`);
  }
  // Lengths that overrun the field.
  const q = p.slice();
  q[at + 7] = 40; // ciphertext length 40 > room
  assert.equal(readNtsFields(q, true).ok, false);
  // RFC 7822 framing: a field length not a multiple of 4, under 16, or overrunning.
  for (const len of [15, 18, 0, 0xfffc]) {
    const r = p.slice();
    r[50] = len >> 8;
    r[51] = len & 0xff;
    const out = readNtsFields(r, true);
    assert.equal(out.ok, false, `length ${len}`);
  }
});

Deno.test("readNtsFields() stops at MAX_NTS_FIELDS fields", () => {
  const unknown = { type: 0x7000, body: new Uint8Array(12) };
  const many = Array.from({ length: MAX_NTS_FIELDS }, () => unknown);
  const r = readNtsFields(packet([uid, cookie, ...many], AUTH), true);
  assert.deepEqual(r, { ok: false, reason: "nts_field_count" });
  // Unknown fields below the limit are skipped (RFC 7822) and authenticated.
  assert.ok(readNtsFields(packet([uid, unknown, cookie], AUTH), true).ok);
});

Deno.test("readNtsFields() for replies: no cookie or placeholder outside the authenticator", () => {
  assert.ok(readNtsFields(packet([uid], AUTH), false).ok);
  assert.equal(readNtsFields(packet([uid, cookie], AUTH), false).ok, false);
  assert.equal(readNtsFields(packet([uid, holder], AUTH), false).ok, false);
});

Deno.test("readEncryptedCookies() reads a run of fields strictly", () => {
  const plain = new Uint8Array(2 * 108 + 8);
  let at = writeField(plain, 0, EF_COOKIE, new Uint8Array(104).fill(5));
  at = writeField(plain, at, 0x7000, new Uint8Array(4));
  writeField(plain, at, EF_COOKIE, new Uint8Array(104).fill(6));
  const cookies = readEncryptedCookies(plain)!;
  assert.equal(cookies.length, 2);
  assert.equal(cookies[1]![0], 6);
  assert.deepEqual(readEncryptedCookies(new Uint8Array(0)), []);
  assert.equal(readEncryptedCookies(plain.subarray(0, 107)), null);
  assert.equal(readEncryptedCookies(new Uint8Array([2, 4, 0, 4])), null, "an empty cookie");
  assert.equal(readEncryptedCookies(new Uint8Array([0, 0, 0, 2])), null);
});

Deno.test("readNtsFields() and readEncryptedCookies() never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), fc.boolean(), (bytes, isRequest) => {
      readNtsFields(bytes, isRequest);
      readEncryptedCookies(bytes);
      looksLikeNts(bytes);
    }),
    { numRuns: 1000, seed: 8915, verbose: true },
  );
  // Structured: random runs of fields with random lengths.
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom(EF_UNIQUE_ID, EF_COOKIE, EF_COOKIE_PLACEHOLDER, EF_AUTHENTICATOR, 0x7000),
          fc.integer({ min: 0, max: 300 }),
        ),
        { maxLength: 40 },
      ),
      (spec) => {
        const p = packet(spec.map(([type, n]) => ({ type, body: new Uint8Array(n) })), null);
        readNtsFields(p, true);
        readNtsFields(p, false);
      },
    ),
    { numRuns: 500, seed: 7822, verbose: true },
  );
});
