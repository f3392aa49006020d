import assert from "node:assert/strict";
import { aesSivConformanceTests } from "../../../tests/support/aes_siv_suite.ts";
import { PureCrypto } from "../auth/pure_crypto.ts";
import { incrementCounter128 } from "./aes_siv.ts";

aesSivConformanceTests("PureCrypto", () => new PureCrypto());

Deno.test("incrementCounter128() carries across all 16 bytes and wraps", () => {
  const b = new Uint8Array(18).fill(0xff);
  b[0] = 7;
  b[17] = 9;
  incrementCounter128(b, 1);
  assert.deepEqual([...b], [7, ...new Array(16).fill(0), 9]);
  const c = new Uint8Array(16);
  c[15] = 0xfe;
  incrementCounter128(c, 0);
  assert.equal(c[15], 0xff);
  assert.equal(c[14], 0);
});

Deno.test("PureCrypto.aeadContext() refuses a key that is not 32 bytes", () => {
  assert.throws(() => new PureCrypto().aeadContext("AEAD_AES_SIV_CMAC_256", new Uint8Array(16)));
});
