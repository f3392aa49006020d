// Micro-benchmarks of NTS on the daemon's crypto (`deno bench lib/daemon/nts_bench.ts`): AES-SIV
// seal/open as NTS uses it (libcrypto, node:crypto and the TypeScript reference), the NTS server's
// re-keyable contexts (SivContext: what a request costs in key set-ups and seals), cookies, a
// whole NTS request through the packet path against a plain one, and the postMessage hop a server
// thread would pay to hand an NTS request to the main thread.

import { MruList } from "../proto/access/mru.ts";
import { RestrictList } from "../proto/access/restrict.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { Crypto } from "../proto/crypto.ts";
import { sivContextOf } from "../proto/nts/aes_siv.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { NtsServer } from "../proto/nts/nts_server.ts";
import { emptyReplyBuffer, PacketIn, PacketPath } from "../proto/packet_path.ts";
import { SeededRng } from "../proto/rng.ts";
import { Server } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import { NodeCrypto } from "./crypto_node.ts";
import { OpenSslCrypto } from "./crypto_openssl.ts";
import { SYNCED } from "../../tests/support/server_state.ts";

const key = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(16).fill(1);
const ad228 = new Uint8Array(228).fill(2); // header + unique id + cookie (a request's AD)
const cookies8 = new Uint8Array(8 * 108).fill(3); // eight cookie fields (a reply's plaintext)
const c2s = new Uint8Array(32).fill(4), s2c = new Uint8Array(32).fill(5);

for (const crypto of [new OpenSslCrypto(), new NodeCrypto(), new PureCrypto()] as Crypto[]) {
  const aead = crypto.aeadContext("AEAD_AES_SIV_CMAC_256", key)!;
  const sealedEmpty = aead.seal(nonce, new Uint8Array(0), ad228);
  const sealed8 = aead.seal(nonce, cookies8, ad228);
  Deno.bench(`AES-SIV seal, empty, 228 B AD (${crypto.name})`, { group: "seal request" }, () => {
    aead.seal(nonce, new Uint8Array(0), ad228);
  });
  Deno.bench(`AES-SIV open, empty, 228 B AD (${crypto.name})`, { group: "open request" }, () => {
    aead.open(nonce, sealedEmpty, ad228);
  });
  Deno.bench(`AES-SIV seal, 864 B (8 cookies) (${crypto.name})`, { group: "seal reply" }, () => {
    aead.seal(nonce, cookies8, ad228);
  });
  Deno.bench(`AES-SIV open, 864 B (8 cookies) (${crypto.name})`, { group: "open reply" }, () => {
    aead.open(nonce, sealed8, ad228);
  });
  Deno.bench(`aeadContext() key set-up (${crypto.name})`, { group: "setup" }, () => {
    crypto.aeadContext("AEAD_AES_SIV_CMAC_256", key);
  });
  // The server's per-request work on its re-keyable context: a new key, then a seal or an open.
  const siv = sivContextOf(crypto);
  const reply = new Uint8Array(1024).fill(6);
  const k64 = new Uint8Array(64).fill(8);
  siv.setKey(k64, 0);
  const sealedAuth = new Uint8Array(16);
  siv.seal(ad228, 0, 228, nonce, 0, 16, reply, 0, 0, sealedAuth, 0);
  Deno.bench(`SivContext setKey (${crypto.name})`, { group: "siv key" }, () => {
    siv.setKey(k64, 0);
  });
  Deno.bench(
    `SivContext setKey + open request authenticator, 228 B AD (${crypto.name})`,
    { group: "siv request" },
    () => {
      siv.setKey(k64, 0);
      siv.open(ad228, 0, 228, nonce, 0, 16, sealedAuth, 0, 16, reply, 0);
    },
  );
  Deno.bench(
    `SivContext setKey + seal reply, 84 B AD, 1 cookie (${crypto.name})`,
    { group: "siv reply" },
    () => {
      siv.setKey(k64, 32);
      siv.seal(reply, 0, 84, nonce, 0, 16, cookies8, 0, 108, reply, 200);
    },
  );
  const keys = new NtsServerKeys(crypto, new SeededRng(1));
  keys.setKeys([{ id: 1, key }], 1);
  const cookie = keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  const cookieOut = new Uint8Array(512);
  Deno.bench(`makeCookieInto (${crypto.name})`, { group: "make cookie" }, () => {
    keys.makeCookieInto(AEAD_AES_SIV_CMAC_256, k64, 0, cookieOut, 0);
  });
  Deno.bench(`openCookieInto (${crypto.name})`, { group: "open cookie" }, () => {
    keys.openCookieInto(cookie, 0, cookie.length, cookieOut);
  });
  Deno.bench(`makeCookie (${crypto.name})`, { group: "make cookie" }, () => {
    keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  });
  Deno.bench(`openCookie (${crypto.name})`, { group: "open cookie" }, () => {
    keys.openCookie(cookie);
  });
}

/** A path with NTS on the daemon's crypto, and requests: plain, NTS with 0 and 7 placeholders. */
function pathRig(crypto: Crypto) {
  const keys = new NtsServerKeys(crypto, new SeededRng(1));
  keys.setKeys([{ id: 1, key }], 1);
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: MruList.create({ maxDepth: 1000 }),
    counters: SysStats.create(1, 0).counters(0),
    nts: new NtsServer(keys, crypto, new SeededRng(2), { reuseWindow: 0 }),
  });
  const slot = emptyReplyBuffer(2048);
  const input = new PacketIn();
  input.src.parse("127.0.0.1");
  input.srcPort = 40000;
  input.rxUnixSec = 1_800_000_000;
  const header = new Uint8Array(48);
  header[0] = (4 << 3) | 3;
  header.set([0xe9, 1, 2, 3, 4, 5, 6, 7], 40);
  const request = (cookiesHeld: number) => {
    const client = new NtsClient(crypto, new SeededRng(3));
    client.install({
      aeadId: AEAD_AES_SIV_CMAC_256,
      c2sKey: c2s,
      s2cKey: s2c,
      cookies: Array.from(
        { length: cookiesHeld },
        () => keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c),
      ),
      ntpServer: "",
      ntpPort: 123,
    }, 0);
    return client.protect(header)!;
  };
  const run = (data: Uint8Array) => {
    input.data = data;
    path.handle(input, slot);
    slot.finalize?.finalize(slot.buffer, slot.length);
  };
  return { run, plain: header, nts1: request(8), nts8: request(1) };
}

for (const crypto of [new OpenSslCrypto(), new NodeCrypto()] as Crypto[]) {
  const r = pathRig(crypto);
  const n = crypto.name.startsWith("libcrypto") ? "libcrypto" : crypto.name;
  Deno.bench(`packet path, plain request (${n})`, { group: `path ${n}`, baseline: true }, () => {
    r.run(r.plain);
  });
  Deno.bench(`packet path, NTS request, 1 cookie back (${n})`, { group: `path ${n}` }, () => {
    r.run(r.nts1);
  });
  Deno.bench(`packet path, NTS request, 8 cookies back (${n})`, { group: `path ${n}` }, () => {
    r.run(r.nts8);
  });
}

// The hand-over a server thread without keys would do: the request to the main thread and the
// reply back (the main thread then sends it), measured as one postMessage round trip of a
// 400-byte datagram to a worker that echoes it.
const echo = new Worker(
  URL.createObjectURL(
    new Blob(["self.onmessage = (e) => self.postMessage(e.data);"], { type: "text/javascript" }),
  ),
  { type: "module" },
);
const datagram = new Uint8Array(400);
Deno.bench("postMessage round trip, 400 B (hand-over)", { group: "handover" }, async () => {
  await new Promise<void>((resolve) => {
    echo.onmessage = () => resolve();
    echo.postMessage(datagram);
  });
});
globalThis.addEventListener("unload", () => echo.terminate());
