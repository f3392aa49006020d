import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CMAC_KEY,
  CMAC_VECTORS,
  DIGEST_VECTORS,
  hex,
  toHex,
} from "../../tests/support/crypto_vectors.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { MAC_ALGORITHMS, MAC_OUTPUT_LEN } from "../proto/crypto.ts";
import { NodeCrypto } from "./crypto_node.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

Deno.test("NodeCrypto: AES128CMAC gives the RFC 4493 examples, in any order, repeatedly", () => {
  const mac = new NodeCrypto().macContext("AES128CMAC", hex(CMAC_KEY));
  const out = new Uint8Array(16);
  // Twice round, and backwards: each tag must not depend on the messages before it.
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 0, 3, 1, 1]]) {
    for (const i of order) {
      const [msg, tag] = CMAC_VECTORS[i]!;
      const m = hex(msg);
      mac.compute(m, 0, m.length, out, 0, 16);
      assert.equal(toHex(out), tag, `example ${i + 1}`);
    }
  }
});

Deno.test("NodeCrypto: digest MACs are digest(key ‖ data)", () => {
  const c = new NodeCrypto();
  for (const alg of ["MD5", "SHA1", "SHA256"] as const) {
    for (const [msg, digest] of DIGEST_VECTORS[alg]) {
      if (msg.length < 2) continue;
      const mac = c.macContext(alg, ascii(msg.slice(0, 2)));
      const out = new Uint8Array(MAC_OUTPUT_LEN[alg]);
      const data = ascii(`..${msg.slice(2)}`);
      mac.compute(data, 2, data.length, out, 0, out.length);
      assert.equal(toHex(out), digest, `${alg}("${msg}")`);
    }
  }
});

Deno.test("NodeCrypto and PureCrypto agree on every algorithm, key, range and truncation", () => {
  const node = new NodeCrypto(), pure = new PureCrypto();
  fc.assert(
    fc.property(
      fc.constantFrom(...MAC_ALGORITHMS),
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fc.uint8Array({ maxLength: 400 }),
      fc.nat(),
      fc.nat(),
      (alg, key, data, a, b) => {
        const start = a % (data.length + 1);
        const end = start + b % (data.length - start + 1);
        const len = 1 + (a ^ b) % MAC_OUTPUT_LEN[alg];
        const x = new Uint8Array(len), y = new Uint8Array(len);
        node.macContext(alg, key).compute(data, start, end, x, 0, len);
        pure.macContext(alg, key).compute(data, start, end, y, 0, len);
        assert.equal(toHex(x), toHex(y));
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("NodeCrypto: a long-lived CMAC context grows for long messages and stays right", () => {
  const node = new NodeCrypto().macContext("AES128CMAC", hex(CMAC_KEY));
  const pure = new PureCrypto().macContext("AES128CMAC", hex(CMAC_KEY));
  for (const n of [48, 1000, 47, 0, 3000, 16, 68]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
    const x = new Uint8Array(16), y = new Uint8Array(16);
    node.compute(data, 0, n, x, 0, 16);
    pure.compute(data, 0, n, y, 0, 16);
    assert.equal(toHex(x), toHex(y), `length ${n}`);
  }
});

Deno.test("NodeCrypto has no AEAD yet", () => {
  assert.equal(new NodeCrypto().aeadContext("AEAD_AES_SIV_CMAC_256", new Uint8Array(32)), null);
});
