import assert from "node:assert/strict";
import { aesSivConformanceTests } from "../../tests/support/aes_siv_suite.ts";
import { cryptoConformanceTests } from "../../tests/support/crypto_suite.ts";
import { KeyStore } from "../proto/auth/key_store.ts";
import { MacVerifier, signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { MAC_ALGORITHMS } from "../proto/crypto.ts";
import { daemonCrypto, OpenSslCrypto } from "./crypto_openssl.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

cryptoConformanceTests("OpenSslCrypto", () => new OpenSslCrypto(), { maxDataLength: 1200 });
aesSivConformanceTests("OpenSslCrypto", () => new OpenSslCrypto());

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
