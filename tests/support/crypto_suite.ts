// The tests every daemon Crypto implementation passes alike (node:crypto, libcrypto): the RFC 4493
// AES-CMAC examples on one long-lived context, digest(key ‖ data) against the published vectors,
// and agreement with the plain TypeScript reference (PureCrypto) under fast-check.

import assert from "node:assert/strict";
import fc from "fast-check";
import { PureCrypto } from "../../lib/proto/auth/pure_crypto.ts";
import { type Crypto, MAC_ALGORITHMS, MAC_OUTPUT_LEN } from "../../lib/proto/crypto.ts";
import { CMAC_KEY, CMAC_VECTORS, DIGEST_VECTORS, hex, toHex } from "./crypto_vectors.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

/** Registers the shared tests for the implementation `name` that `make` constructs. */
export function cryptoConformanceTests(
  name: string,
  make: () => Crypto,
  options: { maxDataLength: number },
): void {
  Deno.test(`${name}: AES128CMAC gives the RFC 4493 examples, in any order, repeatedly`, () => {
    const mac = make().macContext("AES128CMAC", hex(CMAC_KEY));
    const out = new Uint8Array(16);
    // Twice round, and backwards: each tag must not depend on the messages before it (a
    // long-lived CBC context carries its chain from one message to the next).
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 0, 3, 1, 1]]) {
      for (const i of order) {
        const [msg, tag] = CMAC_VECTORS[i]!;
        const m = hex(msg);
        mac.compute(m, 0, m.length, out, 0, 16);
        assert.equal(toHex(out), tag, `example ${i + 1}`);
      }
    }
  });

  Deno.test(`${name}: digest MACs are digest(key ‖ data)`, () => {
    const c = make();
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

  Deno.test(`${name} and PureCrypto agree on every algorithm, key, range and truncation`, () => {
    const tested = make(), pure = new PureCrypto();
    fc.assert(
      fc.property(
        fc.constantFrom(...MAC_ALGORITHMS),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ maxLength: options.maxDataLength }),
        fc.nat(),
        fc.nat(),
        (alg, key, data, a, b) => {
          const start = a % (data.length + 1);
          const end = start + b % (data.length - start + 1);
          const len = 1 + (a ^ b) % MAC_OUTPUT_LEN[alg];
          const x = new Uint8Array(len), y = new Uint8Array(len);
          tested.macContext(alg, key).compute(data, start, end, x, 0, len);
          pure.macContext(alg, key).compute(data, start, end, y, 0, len);
          assert.equal(toHex(x), toHex(y));
        },
      ),
      { numRuns: 400 },
    );
  });
}
