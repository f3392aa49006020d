// Tests of the load generator's reply checks and transmit-stamp tagging (no sockets).

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkReply, LoadMac, parseLoadKey, tagTransmit } from "./loadgen.ts";

const NOW_HI = 3_970_000_000;

function be32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, false);
}

/** A valid 48-byte server reply whose origin is (NOW_HI − 1, 0x12345). */
function reply(): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (0 << 6) | (4 << 3) | 4; // LI 0, version 4, mode 4
  b[1] = 8; // stratum
  b[2] = 6;
  b[3] = 0xec; // precision −20
  be32(b, 4, 0x10); // root delay
  be32(b, 8, 0x20); // root dispersion
  be32(b, 12, 0x7f7f0100);
  be32(b, 16, NOW_HI - 10); // reference
  be32(b, 24, NOW_HI - 1); // origin
  be32(b, 28, 0x12345);
  be32(b, 32, NOW_HI - 1); // receive, 1 ms after origin
  be32(b, 36, 0x12345 + 4_294_967);
  be32(b, 40, NOW_HI - 1); // transmit, after receive
  be32(b, 44, 0x12345 + 2 * 4_294_967);
  return b;
}

const expect = { nowHi: NOW_HI, nowLo: 0 };

Deno.test("checkReply() accepts a well-formed mode 4 reply and returns its origin", () => {
  const r = checkReply(reply(), expect);
  assert.deepEqual(r, { ok: true, originHi: NOW_HI - 1, originLo: 0x12345 });
});

Deno.test("checkReply() rejects a client-mode packet", () => {
  const b = reply();
  b[0] = (4 << 3) | 3;
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "mode" });
});

Deno.test("checkReply() rejects an unsynchronised reply (leap 3)", () => {
  const b = reply();
  b[0] = (3 << 6) | (4 << 3) | 4;
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "leap" });
});

Deno.test("checkReply() rejects stratum 0 and a stratum other than the expected one", () => {
  const b = reply();
  b[1] = 0;
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "stratum" });
  assert.deepEqual(checkReply(reply(), { ...expect, stratum: 10 }), {
    ok: false,
    reason: "stratum",
  });
  assert.equal(checkReply(reply(), { ...expect, stratum: 8 }).ok, true);
});

Deno.test("checkReply() rejects another version than the request's", () => {
  const b = reply();
  b[0] = (3 << 3) | 4;
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "version" });
});

Deno.test("checkReply() rejects a transmit timestamp before the receive timestamp", () => {
  const b = reply();
  be32(b, 44, 0x12345); // transmit now earlier than receive
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "order" });
});

Deno.test("checkReply() rejects a receive timestamp well before our transmit", () => {
  const b = reply();
  be32(b, 32, NOW_HI - 2);
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "order" });
});

Deno.test("checkReply() rejects timestamps later than now", () => {
  assert.deepEqual(checkReply(reply(), { nowHi: NOW_HI - 2, nowLo: 0 }), {
    ok: false,
    reason: "future",
  });
});

Deno.test("checkReply() rejects root distance of 16 s or more and bad precision", () => {
  const b = reply();
  be32(b, 8, 16 * 65536);
  assert.deepEqual(checkReply(b, expect), { ok: false, reason: "root" });
  const c = reply();
  c[3] = 5;
  assert.deepEqual(checkReply(c, expect), { ok: false, reason: "precision" });
});

Deno.test("checkReply() rejects short datagrams and replies longer than 48 bytes", () => {
  assert.deepEqual(checkReply(reply().subarray(0, 47), expect), { ok: false, reason: "decode" });
  const long = new Uint8Array(52);
  long.set(reply());
  assert.deepEqual(checkReply(long, expect), { ok: false, reason: "length" });
});

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`loadgen_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

Deno.test("checkReply() never throws on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (bytes) => {
      const r = checkReply(bytes, expect);
      assert.equal(typeof r.ok, "boolean");
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

Deno.test("tagTransmit() puts socket index and sequence in the low 20 bits only", () => {
  const [hi, lo] = tagTransmit(NOW_HI, 0xabcdef12, 5, 0x1_2345);
  assert.equal(hi, NOW_HI);
  assert.equal(lo >>> 20, 0xabcdef12 >>> 20);
  assert.equal((lo >>> 16) & 0xf, 5);
  assert.equal(lo & 0xffff, 0x2345);
  // Different sockets or sequence numbers at the same instant never collide.
  const seen = new Set<number>();
  for (let s = 0; s < 16; s++) {
    for (let q = 0; q < 64; q++) seen.add(tagTransmit(NOW_HI, 0, s, q)[1]);
  }
  assert.equal(seen.size, 16 * 64);
});

Deno.test("checkReply() with a key: only a reply signed with it counts", () => {
  const mac = new LoadMac(parseLoadKey("7:AES128CMAC:000102030405060708090a0b0c0d0e0f"));
  assert.equal(mac.packetLength, 68);
  const signed = new Uint8Array(68);
  signed.set(reply());
  mac.sign(signed);
  assert.equal(checkReply(signed, { ...expect, mac }).ok, true);
  assert.deepEqual(checkReply(reply(), { ...expect, mac }), { ok: false, reason: "length" });
  const forged = signed.slice();
  forged[45] = forged[45]! ^ 1;
  assert.deepEqual(checkReply(forged, { ...expect, mac }), { ok: false, reason: "mac" });
  const otherKey = signed.slice();
  otherKey[51] = 8;
  assert.deepEqual(checkReply(otherKey, { ...expect, mac }), { ok: false, reason: "mac" });
  assert.deepEqual(checkReply(signed, expect), { ok: false, reason: "length" }, "unexpected MAC");
});

Deno.test("parseLoadKey() reads ID:TYPE:HEX and refuses anything else", () => {
  const k = parseLoadKey("12:md5:00ff");
  assert.deepEqual([k.id, k.algorithm, [...k.key]], [12, "MD5", [0, 255]]);
  assert.equal(new LoadMac(parseLoadKey("1:SHA256:aa")).digestLength, 20);
  for (const bad of ["12:MD5", "x:MD5:00", "1:RC4:00", "1:MD5:0g", "1:MD5:abc"]) {
    assert.throws(() => parseLoadKey(bad), RangeError, bad);
  }
});
