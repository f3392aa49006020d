import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  AES128_VECTORS,
  CMAC_K1,
  CMAC_K2,
  CMAC_KEY,
  CMAC_L,
  CMAC_VECTORS,
  DIGEST_VECTORS,
  hex,
  toHex,
} from "../../../tests/support/crypto_vectors.ts";
import { Aes128, AES_SBOX, AesCmac, cmacDouble } from "./_aes128.ts";
import { Md5 } from "./_md5.ts";
import { Sha1 } from "./_sha1.ts";
import { Sha256 } from "./_sha256.ts";
import { PureCrypto } from "./pure_crypto.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const HASHES = { MD5: () => new Md5(), SHA1: () => new Sha1(), SHA256: () => new Sha256() };
const NODE_NAME = { MD5: "md5", SHA1: "sha1", SHA256: "sha256" } as const;

for (const [name, make] of Object.entries(HASHES) as [keyof typeof HASHES, () => Md5][]) {
  Deno.test(`${name}: the published test vectors`, () => {
    const h = make();
    for (const [msg, digest] of DIGEST_VECTORS[name]) {
      h.reset();
      const m = ascii(msg);
      h.update(m, 0, m.length);
      const out = new Uint8Array(h.outputLength);
      h.finish(out, 0);
      assert.equal(toHex(out), digest, `${name}("${msg}")`);
    }
  });

  Deno.test(`${name}: any split of any message gives node:crypto's digest`, () => {
    const h = make();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(300), { maxLength: 4 }),
        (msg, cuts) => {
          const points = [0, ...cuts.map((c) => c % (msg.length + 1)).sort((a, b) => a - b)];
          h.reset();
          for (let k = 0; k < points.length; k++) {
            h.update(msg, points[k]!, points[k + 1] ?? msg.length);
          }
          const out = new Uint8Array(h.outputLength);
          h.finish(out, 0);
          assert.equal(toHex(out), createHash(NODE_NAME[name]).update(msg).digest("hex"));
        },
      ),
      { numRuns: 300 },
    );
  });
}

Deno.test("AES S-box: the FIPS 197 entries spot-checked", () => {
  assert.equal(AES_SBOX[0x00], 0x63);
  assert.equal(AES_SBOX[0x01], 0x7c);
  assert.equal(AES_SBOX[0x53], 0xed);
  assert.equal(AES_SBOX[0xff], 0x16);
  assert.equal(new Set(AES_SBOX).size, 256, "a permutation");
});

Deno.test("Aes128.encryptBlock() matches FIPS 197 Appendices B and C.1", () => {
  for (const [key, plain, cipher] of AES128_VECTORS) {
    const out = new Uint8Array(16);
    new Aes128(hex(key)).encryptBlock(hex(plain), 0, out, 0);
    assert.equal(toHex(out), cipher);
  }
});

Deno.test("Aes128 refuses a key that is not 16 bytes", () => {
  assert.throws(() => new Aes128(new Uint8Array(20)), RangeError);
});

Deno.test("AES-CMAC: RFC 4493 subkeys and examples 1–4", () => {
  const l = new Uint8Array(16);
  new Aes128(hex(CMAC_KEY)).encryptBlock(l, 0, l, 0);
  assert.equal(toHex(l), CMAC_L);
  const k1 = new Uint8Array(16), k2 = new Uint8Array(16);
  cmacDouble(l, k1);
  cmacDouble(k1, k2);
  assert.equal(toHex(k1), CMAC_K1);
  assert.equal(toHex(k2), CMAC_K2);
  const cmac = new AesCmac(hex(CMAC_KEY));
  for (const [msg, tag] of CMAC_VECTORS) {
    // At an offset inside a bigger buffer, as in a packet.
    const m = hex(msg);
    const buf = new Uint8Array(m.length + 7);
    buf.set(m, 3);
    const out = new Uint8Array(20);
    cmac.compute(buf, 3, 3 + m.length, out, 4);
    assert.equal(toHex(out.subarray(4)), tag, `length ${m.length}`);
  }
});

Deno.test("PureCrypto.macContext(): digest(key ‖ data), truncated on request", () => {
  const c = new PureCrypto();
  const out = new Uint8Array(32);
  const data = ascii("xxc");
  c.macContext("MD5", ascii("ab")).compute(data, 2, 3, out, 0, 16);
  assert.equal(toHex(out.subarray(0, 16)), DIGEST_VECTORS.MD5[2]![1]); // MD5("abc")
  c.macContext("SHA256", ascii("ab")).compute(data, 2, 3, out, 0, 20);
  assert.equal(toHex(out.subarray(0, 20)), DIGEST_VECTORS.SHA256[1]![1].slice(0, 40));
  const sha1 = c.macContext("SHA1", ascii("a"));
  assert.equal(sha1.outputLength, 20);
  sha1.compute(ascii("bc"), 0, 2, out, 0, 20);
  assert.equal(toHex(out.subarray(0, 20)), DIGEST_VECTORS.SHA1[1]![1]);
});

Deno.test("PureCrypto.macContext(): the key is copied, and CMAC keys are cut or padded to 16", () => {
  const c = new PureCrypto();
  const key = ascii("ab");
  const mac = c.macContext("MD5", key);
  key[0] = 0x7a;
  const out = new Uint8Array(16);
  mac.compute(ascii("c"), 0, 1, out, 0, 16);
  assert.equal(toHex(out), DIGEST_VECTORS.MD5[2]![1]);

  const long = new Uint8Array(20);
  long.set(hex(CMAC_KEY));
  long.fill(0xee, 16);
  const msg = hex(CMAC_VECTORS[1]![0]);
  c.macContext("AES128CMAC", long).compute(msg, 0, msg.length, out, 0, 16);
  assert.equal(toHex(out), CMAC_VECTORS[1]![1]);

  const short = hex("2b7e1516");
  const padded = new Uint8Array(16);
  padded.set(short);
  const a = new Uint8Array(16), b = new Uint8Array(16);
  c.macContext("AES128CMAC", short).compute(msg, 0, msg.length, a, 0, 16);
  new AesCmac(padded).compute(msg, 0, msg.length, b, 0, 16);
  assert.deepEqual(a, b);
});
