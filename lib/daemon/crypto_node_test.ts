import assert from "node:assert/strict";
import { aesSivConformanceTests } from "../../tests/support/aes_siv_suite.ts";
import { cryptoConformanceTests } from "../../tests/support/crypto_suite.ts";
import { CMAC_KEY, hex, toHex } from "../../tests/support/crypto_vectors.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { NodeCrypto } from "./crypto_node.ts";

cryptoConformanceTests("NodeCrypto", () => new NodeCrypto(), { maxDataLength: 400 });

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

aesSivConformanceTests("NodeCrypto", () => new NodeCrypto());
