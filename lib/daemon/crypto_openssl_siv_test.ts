// The daemon's AES-SIV (lib/proto/nts/aes_siv.ts on re-keyable libcrypto AES contexts) against
// OpenSSL's own AES-128-SIV, an independent implementation, on random keys, nonces, associated
// data and non-empty plaintexts (OpenSSL 3.0's cannot take empty ones), interleaving keys as an
// NTS server does.

import assert from "node:assert/strict";
import fc from "fast-check";
import { openLibCryptoSiv, sivOpen, sivSeal } from "../../ffi/libcrypto_siv.ts";
import { toHex } from "../../tests/support/crypto_vectors.ts";
import { OpenSslCrypto } from "./crypto_openssl.ts";

Deno.test("OpenSslCrypto AES-SIV agrees with OpenSSL's AES-128-SIV, keys interleaved", () => {
  const siv = openLibCryptoSiv();
  assert.ok(typeof siv !== "string", String(siv));
  const crypto = new OpenSslCrypto();
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 1, maxLength: 40 }),
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ minLength: 1, maxLength: 900 }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
      (cases) => {
        // All contexts first, then use them in turn: the thread's AES contexts are re-keyed.
        const ctxs = cases.map(([key]) => crypto.aeadContext("AEAD_AES_SIV_CMAC_256", key)!);
        cases.forEach(([key, nonce, ad, plain], k) => {
          const ours = ctxs[k]!.seal(nonce, plain, ad);
          const theirs = sivSeal(siv, key, [ad, nonce], plain);
          assert.equal(toHex(ours), toHex(theirs!));
          assert.equal(toHex(sivOpen(siv, key, [ad, nonce], ours)!), toHex(plain));
          assert.equal(toHex(ctxs[k]!.open(nonce, theirs!, ad)!), toHex(plain));
        });
      },
    ),
    { numRuns: 200, seed: 5297, verbose: true },
  );
});
