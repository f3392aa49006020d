import assert from "node:assert/strict";
import { hex, toHex } from "../tests/support/crypto_vectors.ts";
import fc from "fast-check";
import { LibCryptoSiv, openLibCryptoSiv, sivOpen, sivSeal } from "./libcrypto_siv.ts";

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

Deno.test("LibCryptoSiv gives RFC 5297 A.1 and opens it; a changed byte is refused", () => {
  const siv = new LibCryptoSiv();
  const key = hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  // A.1 has one header (the AD) and no nonce; as AEAD (AD, nonce) compare with sivSeal instead.
  const ad = hex("101112131415161718191a1b1c1d1e1f2021222324252627");
  const nonce = hex("09f911029d74e35bd84156c5635688c0");
  const plain = hex("112233445566778899aabbccddee");
  siv.setKey(key, 0);
  const out = new Uint8Array(16 + plain.length);
  assert.ok(siv.seal(ad, 0, ad.length, nonce, 0, 16, plain, 0, plain.length, out, 0));
  const ref = openLibCryptoSiv();
  assert.ok(typeof ref !== "string");
  assert.equal(toHex(out), toHex(sivSeal(ref, key, [ad, nonce], plain)!));
  const back = new Uint8Array(plain.length);
  assert.ok(siv.open(ad, 0, ad.length, nonce, 0, 16, out, 0, out.length, back, 0));
  assert.equal(toHex(back), toHex(plain));
  out[20] = out[20]! ^ 1;
  assert.equal(siv.open(ad, 0, ad.length, nonce, 0, 16, out, 0, out.length, back, 0), false);
  assert.ok(back.every((b) => b === 0), "plaintext zeroed on failure");
});

Deno.test("LibCryptoSiv refuses ranges outside its buffers and works only once keyed", () => {
  const siv = new LibCryptoSiv();
  const b = new Uint8Array(64);
  assert.equal(siv.seal(b, 0, 4, b, 0, 16, b, 0, 0, b, 0), false, "no key yet");
  siv.setKey(new Uint8Array(32), 0);
  assert.ok(siv.seal(b, 0, 4, b, 0, 16, new Uint8Array(0), 0, 0, new Uint8Array(16), 0));
  assert.equal(siv.seal(b, 0, 4, b, 0, 16, b, 0, 20, new Uint8Array(35), 0), false);
  assert.equal(siv.seal(b, 0, 65, b, 0, 16, b, 0, 0, new Uint8Array(16), 0), false);
  assert.equal(siv.open(b, 0, 4, b, 0, 16, b, 60, 80, new Uint8Array(64), 0), false);
  assert.equal(siv.open(b, 0, 4, b, 0, 16, b, 0, 15, new Uint8Array(64), 0), false);
  siv.setKey(new Uint8Array(31), 0);
  assert.equal(siv.seal(b, 0, 4, b, 0, 16, b, 0, 0, new Uint8Array(16), 0), false, "short key");
});

Deno.test("LibCryptoSiv agrees with OpenSSL's AES-128-SIV at offsets, keys and contexts interleaved", () => {
  const ref = openLibCryptoSiv();
  assert.ok(typeof ref !== "string");
  const a = new LibCryptoSiv(), b = new LibCryptoSiv();
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          nonce: fc.uint8Array({ minLength: 0, maxLength: 40 }),
          ad: fc.uint8Array({ maxLength: 300 }),
          plain: fc.uint8Array({ minLength: 1, maxLength: 900 }),
          pad: fc.nat(7),
          other: fc.boolean(),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      (cases) => {
        for (const { key, nonce, ad, plain, pad, other } of cases) {
          const siv = other ? b : a;
          const keyAt = new Uint8Array(pad + 32);
          keyAt.set(key, pad);
          siv.setKey(keyAt, pad);
          // Everything at an offset `pad` into a larger buffer.
          const buf = new Uint8Array(pad + ad.length + nonce.length + plain.length);
          buf.set(ad, pad);
          buf.set(nonce, pad + ad.length);
          buf.set(plain, pad + ad.length + nonce.length);
          const adAt = pad, nAt = pad + ad.length, pAt = nAt + nonce.length;
          const out = new Uint8Array(pad + 16 + plain.length);
          assert.ok(siv.seal(buf, adAt, nAt, buf, nAt, pAt, buf, pAt, buf.length, out, pad));
          const want: Uint8Array = sivSeal(ref, key, [ad, nonce], plain)!;
          assert.equal(toHex(out.subarray(pad)), toHex(want));
          const back = new Uint8Array(pad + plain.length);
          assert.ok(siv.open(buf, adAt, nAt, buf, nAt, pAt, out, pad, out.length, back, pad));
          assert.equal(toHex(back.subarray(pad)), toHex(plain));
          // The same AD again (the kept S2V state) and then a different one of the same length.
          assert.ok(siv.open(buf, adAt, nAt, buf, nAt, pAt, out, pad, out.length, back, pad));
          if (ad.length > 0) {
            buf[adAt] = buf[adAt]! ^ 0x40;
            assert.equal(
              siv.open(buf, adAt, nAt, buf, nAt, pAt, out, pad, out.length, back, pad),
              false,
            );
            buf[adAt] = buf[adAt]! ^ 0x40;
          }
        }
      },
    ),
    { numRuns: 150, seed: 8915, verbose: true },
  );
});

Deno.test("LibCryptoSiv.prepareNonces()/drawNonce(): nonces handed out in order, seals as with any nonce", () => {
  const ref = openLibCryptoSiv();
  assert.ok(typeof ref !== "string");
  const siv = new LibCryptoSiv();
  const key = Uint8Array.from({ length: 32 }, (_, k) => (k * 7 + 1) & 0xff);
  const random = Uint8Array.from({ length: 16 * 5 }, (_, k) => (k * 13 + 5) & 0xff);
  assert.equal(siv.prepareNonces(random, 3), false); // no key yet
  siv.setKey(key, 0);
  assert.equal(siv.prepareNonces(random, 6), false); // more than `random` holds
  assert.ok(siv.prepareNonces(random, 5));
  const ad = Uint8Array.from({ length: 20 }, (_, k) => k);
  const plain = Uint8Array.from({ length: 68 }, (_, k) => 255 - k);
  const buf = new Uint8Array(3 + 16);
  for (let i = 0; i < 5; i++) {
    assert.ok(siv.drawNonce(buf, 3));
    const nonce = buf.subarray(3);
    assert.equal(toHex(nonce), toHex(random.subarray(16 * i, 16 * i + 16)));
    if (i === 2) nonce[0] = nonce[0]! ^ 1; // a nonce changed after the draw: computed afresh
    const out = new Uint8Array(16 + plain.length);
    assert.ok(siv.seal(ad, 0, ad.length, buf, 3, 19, plain, 0, plain.length, out, 0));
    const want: Uint8Array = sivSeal(ref, key, [ad, nonce.slice()], plain)!;
    assert.equal(toHex(out), toHex(want));
  }
  assert.equal(siv.drawNonce(buf, 3), false); // used up
  assert.ok(siv.prepareNonces(random, 2));
  siv.setKey(key, 0);
  assert.equal(siv.drawNonce(buf, 3), false); // a new key discards them
});
