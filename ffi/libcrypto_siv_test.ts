import assert from "node:assert/strict";
import { hex, toHex } from "../tests/support/crypto_vectors.ts";
import { openLibCryptoSiv, sivOpen, sivSeal } from "./libcrypto_siv.ts";

Deno.test("sivSeal()/sivOpen(): libcrypto's AES-128-SIV gives RFC 5297 A.1 and A.2", () => {
  const siv = openLibCryptoSiv();
  assert.ok(typeof siv !== "string", String(siv));
  const cases: [string, string[], string, string][] = [
    [
      "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
      ["101112131415161718191a1b1c1d1e1f2021222324252627"],
      "112233445566778899aabbccddee",
      "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c",
    ],
    [
      "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
      [
        "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
        "102030405060708090a0",
        "09f911029d74e35bd84156c5635688c0",
      ],
      "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553",
      "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17" +
      "dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d",
    ],
  ];
  for (const [key, headers, plain, output] of cases) {
    const h = headers.map(hex);
    const sealed = sivSeal(siv, hex(key), h, hex(plain));
    assert.equal(toHex(sealed!), output);
    assert.equal(toHex(sivOpen(siv, hex(key), h, sealed!)!), plain);
    sealed![sealed!.length - 1] = sealed![sealed!.length - 1]! ^ 1;
    assert.equal(sivOpen(siv, hex(key), h, sealed!), null);
  }
});
