import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CMAC_KEY,
  CMAC_VECTORS,
  DIGEST_VECTORS,
  hex,
  toHex,
} from "../../tests/support/crypto_vectors.ts";
import { KeyStore } from "../proto/auth/key_store.ts";
import { MacVerifier, signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { MAC_ALGORITHMS, MAC_OUTPUT_LEN } from "../proto/crypto.ts";
import { daemonCrypto, OpenSslCrypto } from "./crypto_openssl.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

Deno.test("OpenSslCrypto: AES128CMAC gives the RFC 4493 examples, in any order, repeatedly", () => {
  const mac = new OpenSslCrypto().macContext("AES128CMAC", hex(CMAC_KEY));
  const out = new Uint8Array(16);
  // Each tag must not depend on the messages before it (the CBC context carries its chain).
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 0, 3, 1, 1]]) {
    for (const i of order) {
      const [msg, tag] = CMAC_VECTORS[i]!;
      const m = hex(msg);
      mac.compute(m, 0, m.length, out, 0, 16);
      assert.equal(toHex(out), tag, `example ${i + 1}`);
    }
  }
});

Deno.test("OpenSslCrypto: digest MACs are digest(key ‖ data)", () => {
  const c = new OpenSslCrypto();
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

Deno.test("OpenSslCrypto and PureCrypto agree on every algorithm, key, range and truncation", () => {
  const ssl = new OpenSslCrypto(), pure = new PureCrypto();
  fc.assert(
    fc.property(
      fc.constantFrom(...MAC_ALGORITHMS),
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fc.uint8Array({ maxLength: 1200 }),
      fc.nat(),
      fc.nat(),
      (alg, key, data, a, b) => {
        const start = a % (data.length + 1);
        const end = start + b % (data.length - start + 1);
        const len = 1 + (a ^ b) % MAC_OUTPUT_LEN[alg];
        const x = new Uint8Array(len), y = new Uint8Array(len);
        ssl.macContext(alg, key).compute(data, start, end, x, 0, len);
        pure.macContext(alg, key).compute(data, start, end, y, 0, len);
        assert.equal(toHex(x), toHex(y));
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("daemonCrypto(): libcrypto for all four algorithms here; packets it signs verify with PureCrypto", () => {
  const { crypto, notes } = daemonCrypto();
  assert.deepEqual(notes, []);
  assert.match(crypto.name, /^libcrypto/);
  for (const alg of MAC_ALGORITHMS) {
    const key = { id: 9, algorithm: alg, key: ascii("a shared secret"), allowed: null };
    const signer = new KeyStore(crypto, [key], [9]);
    const checker = new MacVerifier(new KeyStore(new PureCrypto(), [key], [9]));
    const buf = new Uint8Array(84);
    buf[0] = 0x23;
    const n = signPacket(buf, 48, signer.get(9)!);
    assert.equal(checker.verify(buf, n, 48, null), "ok", alg);
  }
});

Deno.test("OpenSslCrypto: computing a MAC allocates nothing (no scavenge in 300k MACs)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--v8-flags=--trace-gc",
      `import { OpenSslCrypto } from "${new URL("./crypto_openssl.ts", import.meta.url).href}";
       const c = new OpenSslCrypto();
       const data = new Uint8Array(68), out = new Uint8Array(32);
       const macs = ["MD5", "SHA1", "SHA256", "AES128CMAC"].map((a) => c.macContext(a, new Uint8Array(20).fill(7)));
       for (let i = 0; i < 2000; i++) for (const m of macs) m.compute(data, 0, 48, out, 0, 16);
       console.log("warm");
       for (let i = 0; i < 75000; i++) for (const m of macs) m.compute(data, 0, 48, data, 52, 16);
       console.log("done");`,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const r = await child.output();
  const text = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const measured = text.slice(text.indexOf("warm"), text.indexOf("done"));
  const scavenges = measured.split("\n").filter((l) => l.includes("Scavenge")).length;
  assert.ok(scavenges <= 1, `${scavenges} scavenges in 300k MACs:\n${measured.slice(0, 2000)}`);
});
