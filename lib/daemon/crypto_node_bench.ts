// Cost of one MAC on a 48-byte NTP packet, node:crypto against the plain TypeScript
// implementation: `deno bench --allow-all lib/daemon/crypto_node_bench.ts`. signPacket is what a
// server does per authenticated reply, verify what it does per authenticated request.

import { KeyStore } from "../proto/auth/key_store.ts";
import { MacVerifier, signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { Crypto, MacAlgorithm } from "../proto/crypto.ts";
import { NodeCrypto } from "./crypto_node.ts";

const ALGORITHMS: MacAlgorithm[] = ["MD5", "SHA1", "SHA256", "AES128CMAC"];
const IMPLEMENTATIONS: Crypto[] = [new NodeCrypto(), new PureCrypto()];

for (const alg of ALGORITHMS) {
  for (const impl of IMPLEMENTATIONS) {
    const key = crypto.getRandomValues(new Uint8Array(alg === "AES128CMAC" ? 16 : 20));
    const store = new KeyStore(impl, [{ id: 1, algorithm: alg, key, allowed: null }], [1]);
    const k = store.get(1)!;
    const packet = new Uint8Array(48 + 4 + 20);
    crypto.getRandomValues(packet.subarray(0, 48));
    const length = signPacket(packet, 48, k);
    const verifier = new MacVerifier(store);
    Deno.bench(`signPacket ${alg} (${impl.name})`, { group: `sign ${alg}` }, () => {
      packet[47] = (packet[47]! + 1) & 0xff;
      signPacket(packet, 48, k);
    });
    const signed = packet.slice(0, length);
    Deno.bench(`MacVerifier.verify ${alg} (${impl.name})`, { group: `verify ${alg}` }, () => {
      if (verifier.verify(signed, length, 48, null) !== "ok") throw new Error("does not verify");
    });
  }
}
