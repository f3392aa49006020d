// The daemon's AES-SIV (lib/proto/nts/aes_siv.ts on re-keyable libcrypto AES contexts) against
// OpenSSL's own AES-128-SIV, an independent implementation, on random keys, nonces, associated
// data and non-empty plaintexts (OpenSSL 3.0's cannot take empty ones), interleaving keys as an
// NTS server does.

import assert from "node:assert/strict";
import fc from "fast-check";
import { LibCryptoSiv, openLibCryptoSiv, sivOpen, sivSeal } from "../../ffi/libcrypto_siv.ts";
import { toHex } from "../../tests/support/crypto_vectors.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import type { Crypto } from "../proto/crypto.ts";
import { sivContextOf } from "../proto/nts/aes_siv.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../proto/nts/ke_result.ts";
import { NtsClient } from "../proto/nts/nts_client.ts";
import { NtsServer } from "../proto/nts/nts_server.ts";
import { SeededRng } from "../proto/rng.ts";
import { daemonCrypto, OpenSslCrypto } from "./crypto_openssl.ts";
import { DaemonAuth, NO_AUTH } from "./daemon_auth.ts";

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

Deno.test("The daemon's crypto gives the NTS server libcrypto's re-keyable AES-SIV", () => {
  // Every wrapper on the way (daemonCrypto's mix, DaemonAuth's lazy crypto) must pass it on:
  // without it the NTS server falls back to an AEAD context per key, several times slower.
  for (const crypto of [daemonCrypto().crypto, new DaemonAuth(NO_AUTH).crypto]) {
    assert.ok(sivContextOf(crypto) instanceof LibCryptoSiv, crypto.name);
  }
  assert.ok(!(sivContextOf(new PureCrypto()) instanceof LibCryptoSiv));
});

Deno.test("NtsServer on libcrypto answers byte for byte as on the TypeScript reference", () => {
  // Two servers with the same master keys and the same seeded nonces, one on OpenSslCrypto
  // (LibCryptoSiv), one on PureCrypto: every reply must be identical, cookies included, and the
  // reference client must accept it. Requests carry 0 to 7 placeholders, and the replies of a
  // batch are sealed in a shuffled order. A changed byte of a request is refused by both.
  const master = Uint8Array.from({ length: 32 }, (_, k) => (k * 29 + 3) & 0xff);
  const make = (c: Crypto) => {
    const keys = new NtsServerKeys(c, new SeededRng(5));
    keys.setKeys([{ id: 7, key: master }, { id: 8, key: master.map((b) => b ^ 0x5a) }], 8);
    return { keys, server: new NtsServer(keys, c, new SeededRng(6)) };
  };
  const fast = make(new OpenSslCrypto()), ref = make(new PureCrypto());
  const issuer = make(new PureCrypto()).keys; // the NTS-KE side: its own nonces
  const pure = new PureCrypto();
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          c2s: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          s2c: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          held: fc.integer({ min: 1, max: 8 }),
          flip: fc.nat(),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      fc.nat(),
      (cases, shuffle) => {
        const batch: {
          client: NtsClient;
          request: Uint8Array;
          replies: Uint8Array[];
          n: number[];
        }[] = [];
        for (const { c2s, s2c, held, flip } of cases) {
          const client = new NtsClient(pure, new SeededRng(flip));
          const cookies = Array.from(
            { length: held },
            () => issuer.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c),
          );
          client.install({
            aeadId: AEAD_AES_SIV_CMAC_256,
            c2sKey: c2s,
            s2cKey: s2c,
            cookies,
            ntpServer: "",
            ntpPort: 123,
          }, 0);
          const h = new Uint8Array(48);
          h[0] = (4 << 3) | 3;
          h[40] = flip & 0xff;
          const request = client.protect(h)!;
          const bad = request.slice();
          bad[flip % bad.length] = bad[flip % bad.length]! ^ 0x01;
          assert.notEqual(fast.server.check(bad), "ok");
          assert.notEqual(ref.server.check(bad), "ok");
          const entry = { client, request, replies: [] as Uint8Array[], n: [] as number[] };
          for (const s of [fast, ref]) {
            assert.equal(s.server.check(request), "ok");
            const out = new Uint8Array(request.length);
            out[0] = (4 << 3) | 4;
            out.set(request.subarray(40, 48), 24);
            entry.n.push(s.server.writeReply(request, out, 48));
            entry.replies.push(out);
          }
          batch.push(entry);
        }
        // Finalize in a shuffled order (the same for both servers, so the nonces line up).
        const order = batch.map((_, k) => k);
        for (let k = order.length - 1; k > 0; k--) {
          const j = (shuffle + k * 7) % (k + 1);
          [order[k], order[j]] = [order[j]!, order[k]!];
        }
        for (const s of [0, 1]) {
          for (const k of order) {
            const e = batch[k]!;
            [fast, ref][s]!.server.finalize(e.replies[s]!, e.n[s]!);
          }
        }
        for (const e of batch) {
          assert.equal(e.n[0], e.n[1]);
          const a = e.replies[0]!.subarray(0, e.n[0]), b = e.replies[1]!.subarray(0, e.n[1]);
          assert.equal(toHex(a), toHex(b));
          assert.equal(e.client.checkReply(a, true), "ok");
        }
      },
    ),
    { numRuns: 60, seed: 8915, verbose: true },
  );
});

Deno.test("LibCryptoSiv agrees with OpenSSL's AES-128-SIV on views into shared buffers", () => {
  // As in the daemon: keys, associated data, nonces and plaintexts are views at any offset
  // into a few shared buffers (the transport's batch memory), through more view objects than
  // LibCryptoSiv remembers word views for, aligned and not, with contents rewritten between
  // uses of the same view. Every result must match OpenSSL's own AES-128-SIV.
  const opened = openLibCryptoSiv();
  assert.ok(typeof opened !== "string", String(opened));
  const siv = opened;
  const ctx = new LibCryptoSiv();
  const rx = new Uint8Array(new ArrayBuffer(8192)), tx = new Uint8Array(new ArrayBuffer(8192));
  const views = new Map<string, Uint8Array>();
  const view = (b: Uint8Array, at: number, n: number) => {
    const id = `${b === rx ? "rx" : "tx"}:${at}:${n}`;
    let v = views.get(id);
    if (v === undefined) views.set(id, v = b.subarray(at, at + n));
    return v;
  };
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          keyAt: fc.integer({ min: 0, max: 40 }),
          // Lengths over the whole range (fast-check favours short arrays otherwise), so the
          // 32-bit paths of messages over 32 bytes are taken.
          ad: fc.uint8Array({ maxLength: 260, size: "max" }),
          nonce: fc.uint8Array({ minLength: 1, maxLength: 20 }),
          plain: fc.uint8Array({ minLength: 1, maxLength: 300, size: "max" }),
          slot: fc.integer({ min: 0, max: 11 }),
          shift: fc.integer({ min: 0, max: 5 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      (cases) => {
        for (const c of cases) {
          const base = 512 * c.slot + c.shift;
          const keyView = view(rx, 6144 + c.keyAt, 32);
          keyView.set(c.key);
          const adView = view(rx, base, c.ad.length + 16);
          adView.set(c.ad);
          const nonceView = view(rx, base + c.ad.length, c.nonce.length);
          nonceView.set(c.nonce);
          const plainView = view(tx, base, c.plain.length);
          plainView.set(c.plain);
          const outView = view(tx, 6144 + c.shift, 16 + c.plain.length);
          ctx.setKey(keyView, 0);
          assert.ok(
            ctx.seal(
              adView,
              0,
              c.ad.length,
              nonceView,
              0,
              c.nonce.length,
              plainView,
              0,
              c.plain.length,
              outView,
              0,
            ),
          );
          const theirs = sivSeal(siv, c.key, [c.ad, c.nonce], c.plain)!;
          assert.equal(toHex(outView), toHex(theirs));
          const back = view(rx, 7168 + c.shift, c.plain.length);
          assert.ok(
            ctx.open(
              adView,
              0,
              c.ad.length,
              nonceView,
              0,
              c.nonce.length,
              outView,
              0,
              16 + c.plain.length,
              back,
              0,
            ),
          );
          assert.equal(toHex(back), toHex(c.plain));
        }
      },
    ),
    { numRuns: 150, seed: 5297, verbose: true },
  );
});
