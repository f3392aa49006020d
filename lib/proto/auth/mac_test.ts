import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hex, toHex } from "../../../tests/support/crypto_vectors.ts";
import type { MacAlgorithm } from "../crypto.ts";
import { ipWordsOf, parsePrefix } from "../ip.ts";
import type { IpPrefix } from "../ip.ts";
import { KeyStore, type SymmetricKey } from "./key_store.ts";
import {
  AUTH_FAILURES,
  digestLengthFor,
  isCryptoNak,
  macKeyId,
  MacVerifier,
  signPacket,
  withMac,
  writeCryptoNak,
} from "./mac.ts";
import { PureCrypto } from "./pure_crypto.ts";

const crypto = new PureCrypto();
const ascii = (s: string) => new TextEncoder().encode(s);

/**
 * Client requests chronyd 4.3 sent on loopback (`server ... key N`, captured by a UDP socket),
 * with the keys file that signed them: golden vectors of real authenticated packets. chronyd
 * sends NTPv3 with a full 32-byte digest for SHA256 keys.
 */
const CHRONYD_KEYS: SymmetricKey[] = [
  { id: 1, algorithm: "MD5", key: hex("0102030405060708090a0b0c0d0e0f1011121314"), allowed: null },
  { id: 2, algorithm: "SHA1", key: ascii("hello-sha1"), allowed: null },
  {
    id: 3,
    algorithm: "SHA256",
    key: hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
    allowed: null,
  },
  { id: 4, algorithm: "AES128CMAC", key: hex("2b7e151628aed2a6abf7158809cf4f3c"), allowed: null },
];
const HEADER = "00062" + "0".repeat(73);
const CHRONYD_PACKETS: [number, string][] = [
  [1, `23${HEADER}218b35a538ad74ca00000001bb218d3204857552001ab2cf72198446`],
  [2, `23${HEADER}074f4bd4555a0677000000022ad4af673d23b6b02ea81c1b2ae8e4dc726cb2b0`],
  [
    3,
    `1b${HEADER}99d654107cb3956c00000003` +
    "1cfc2466f1a6cc047488786915f581ab06e9d539dc88b98ab86fbadcc7af6482",
  ],
  [4, `23${HEADER}f5d117b5cff3abb200000004fc2b81b43f3e169e3e79292c57461ca5`],
];

function store(keys: SymmetricKey[] = CHRONYD_KEYS, trusted = keys.map((k) => k.id)): KeyStore {
  return new KeyStore(crypto, keys, trusted);
}

function prefix(text: string): IpPrefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(r.reason);
  return r.prefix;
}

Deno.test("MacVerifier.verify() accepts chronyd's authenticated requests (MD5, SHA1, SHA256, AES128CMAC)", () => {
  const v = new MacVerifier(store());
  for (const [keyId, packet] of CHRONYD_PACKETS) {
    const data = hex(packet);
    assert.equal(v.verify(data, data.length, 48, null), "ok", `key ${keyId}`);
    assert.equal(v.lastKeyId, keyId);
  }
});

Deno.test("signPacket() reproduces chronyd's MACs byte for byte", () => {
  const s = store();
  for (const [keyId, packet] of CHRONYD_PACKETS) {
    const want = hex(packet);
    const buf = new Uint8Array(100).fill(0xaa);
    buf.set(want.subarray(0, 48));
    const length = signPacket(buf, 48, s.get(keyId)!, want.length - 52);
    assert.equal(length, want.length);
    assert.equal(toHex(buf.subarray(0, length)), packet, `key ${keyId}`);
    assert.equal(buf[length], 0xaa, "nothing written past the MAC");
  }
});

Deno.test("signPacket(): digest(key ‖ packet) as node:crypto computes it, ntpd's lengths", () => {
  const key = ascii("ntp-keygen-20-chars!");
  const names: Partial<Record<MacAlgorithm, string>> = {
    MD5: "md5",
    SHA1: "sha1",
    SHA256: "sha256",
  };
  for (const [alg, name] of Object.entries(names) as [MacAlgorithm, string][]) {
    const s = store([{ id: 7, algorithm: alg, key, allowed: null }]);
    const k = s.get(7)!;
    const buf = new Uint8Array(48 + 16 + 4 + 32);
    buf.set(Uint8Array.from({ length: 64 }, (_, i) => i * 3 + 1)); // header + one extension
    const end = signPacket(buf, 64, k); // default: the NTPv4 length
    const full = createHash(name).update(key).update(buf.subarray(0, 64)).digest();
    assert.equal(end, 64 + 4 + Math.min(full.length, 20));
    assert.equal(macKeyId(buf, 64), 7);
    assert.equal(toHex(buf.subarray(68, end)), toHex(full.subarray(0, end - 68)), alg);
  }
});

Deno.test("digestLengthFor(): full in NTPv3, at most 20 bytes in NTPv4", () => {
  const s = store();
  assert.equal(digestLengthFor(s.get(1)!, 4), 16);
  assert.equal(digestLengthFor(s.get(2)!, 4), 20);
  assert.equal(digestLengthFor(s.get(3)!, 4), 20);
  assert.equal(digestLengthFor(s.get(3)!, 3), 32);
  assert.equal(digestLengthFor(s.get(4)!, 3), 16);
});

Deno.test("MacVerifier: SHA256 MACs verify both cut to 20 bytes and in full", () => {
  const s = store();
  const v = new MacVerifier(s);
  for (const len of [20, 32]) {
    const buf = new Uint8Array(84);
    buf[0] = 0x23;
    const end = signPacket(buf, 48, s.get(3)!, len);
    assert.equal(v.verify(buf, end, 48, null), "ok", `${len} bytes`);
  }
  assert.throws(() => signPacket(new Uint8Array(84), 48, s.get(3)!, 24), RangeError);
});

Deno.test("MacVerifier: each rejection has its own reason and count", () => {
  const keys: SymmetricKey[] = [
    ...CHRONYD_KEYS,
    {
      id: 9,
      algorithm: "MD5",
      key: ascii("nine"),
      allowed: [prefix("192.0.2.0/24"), prefix("2001:db8::1")],
    },
  ];
  const s = store(keys, [1, 2, 3, 4, 9]);
  s.setTrusted(2, false);
  const v = new MacVerifier(s);
  const sign = (keyId: number, len?: number) => {
    const buf = new Uint8Array(84);
    buf.set(hex(CHRONYD_PACKETS[0]![1]).subarray(0, 48));
    return buf.subarray(0, signPacket(buf, 48, s.get(keyId)!, len));
  };
  const md5 = sign(1);
  const check = (data: Uint8Array, from: string | null, want: string, what: string) =>
    assert.equal(
      v.verify(data, data.length, 48, from === null ? null : ipWordsOf(from)),
      want,
      what,
    );

  check(md5, null, "ok", "control");
  // A SHA1 key's MAC cut to 16 bytes (an MD5-sized trailer).
  const sha1 = sign(2); // untrusted so far
  check(sha1, null, "untrusted_key", "key 2 is not trusted");
  s.setTrusted(2, true);
  check(sha1.subarray(0, 68), null, "truncated_mac", "SHA1 digest cut to 16 bytes");
  const noDigest = md5.slice(0, 52);
  check(noDigest, null, "truncated_mac", "a key id alone that is not 0");
  const unknown = md5.slice();
  unknown[51] = 99;
  check(unknown, null, "unknown_key", "key 99");
  const bad = md5.slice();
  bad[40] = bad[40]! ^ 1; // the transmit timestamp changed after signing
  check(bad, null, "bad_mac", "header changed");
  const badDigest = md5.slice();
  badDigest[67] = badDigest[67]! ^ 0x80;
  check(badDigest, null, "bad_mac", "digest changed");
  // An MD5 key with a 20-byte digest: a length the key never produces.
  const long = new Uint8Array(72);
  long.set(md5);
  check(long, null, "bad_mac", "MD5 key, 20-byte digest");

  const nine = sign(9);
  check(nine, "192.0.2.77", "ok", "inside 192.0.2.0/24");
  check(nine, "2001:db8::1", "ok", "the listed IPv6 host");
  check(nine, "::ffff:192.0.2.1", "ok", "IPv4-mapped counts as IPv4");
  check(nine, "198.51.100.1", "address_excluded", "outside the list");
  check(nine, "2001:db8::2", "address_excluded", "another IPv6 host");
  check(nine, null, "address_excluded", "sender unknown");

  assert.deepEqual(
    Object.fromEntries(AUTH_FAILURES.map((r) => [r, v.failures(r)])),
    { truncated_mac: 2, unknown_key: 1, untrusted_key: 1, address_excluded: 3, bad_mac: 3 },
  );
});

Deno.test("crypto-NAK: written, recognised, and not counted as a failure", () => {
  const buf = new Uint8Array(52).fill(0x55);
  assert.equal(writeCryptoNak(buf, 48), 52);
  assert.ok(isCryptoNak(buf, 52, 48));
  assert.ok(!isCryptoNak(buf, 48, -1));
  const v = new MacVerifier(store());
  assert.equal(v.verify(buf, 52, 48, null), "crypto_nak");
  assert.equal(AUTH_FAILURES.reduce((n, r) => n + v.failures(r), 0), 0);
  buf[51] = 1;
  assert.ok(!isCryptoNak(buf, 52, 48));
  assert.throws(() => writeCryptoNak(new Uint8Array(50), 48), RangeError);
});

Deno.test("MacVerifier: a length that leaves no key id is a truncated MAC, never a throw", () => {
  const v = new MacVerifier(store());
  const data = new Uint8Array(50);
  assert.equal(v.verify(data, 50, 48, null), "truncated_mac");
  assert.equal(v.verify(data, 50, -1, null), "truncated_mac");
  assert.equal(v.verify(data, 60, 48, null), "truncated_mac"); // length beyond the buffer
});

Deno.test("MacVerifier.setStore(): a reloaded key list takes effect at once", () => {
  const v = new MacVerifier(store());
  const data = hex(CHRONYD_PACKETS[0]![1]);
  assert.equal(v.verify(data, data.length, 48, null), "ok");
  v.setStore(store(CHRONYD_KEYS.slice(1)));
  assert.equal(v.verify(data, data.length, 48, null), "unknown_key");
});

Deno.test("signPacket() refuses a misplaced or oversized MAC", () => {
  const k = store().get(1)!;
  assert.throws(() => signPacket(new Uint8Array(60), 48, k), RangeError);
  assert.throws(() => signPacket(new Uint8Array(80), 50, k), RangeError);
});

Deno.test("signPacket() and MacVerifier.verify() allocate nothing with PureCrypto (no scavenge in 300k MACs)", async () => {
  const here = new URL(".", import.meta.url).pathname;
  const script = `
    import { KeyStore } from "${here}key_store.ts";
    import { MacVerifier, signPacket } from "${here}mac.ts";
    import { PureCrypto } from "${here}pure_crypto.ts";
    const alg = Deno.args[0];
    const store = new KeyStore(new PureCrypto(), [{ id: 1, algorithm: alg, key: new Uint8Array(16).fill(1), allowed: null }], [1]);
    const k = store.get(1), v = new MacVerifier(store);
    const p = new Uint8Array(100);
    const len = signPacket(p, 48, k);
    for (let i = 0; i < 300000; i++) {
      p[40] = i & 0xff;
      signPacket(p, 48, k);
      if (v.verify(p, len, 48, null) !== "ok") throw new Error("does not verify");
    }
  `;
  const dir = await Deno.makeTempDir({ prefix: "horae-alloc-" });
  try {
    await Deno.writeTextFile(`${dir}/alloc.ts`, script);
    for (const alg of ["MD5", "SHA1", "SHA256", "AES128CMAC"]) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-check", "--v8-flags=--trace-gc", `${dir}/alloc.ts`, alg],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 0, out);
      const scavenges = out.split("\n").filter((l) => l.includes("Scavenge")).length;
      assert.ok(scavenges <= 2, `${alg}: ${scavenges} scavenges, so the MAC path allocates`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withMac() appends the key id and the version's digest length, leaving the packet as it was", () => {
  const s = new KeyStore(crypto, CHRONYD_KEYS, [1, 2, 3, 4]);
  const data = new Uint8Array(48).fill(0x23);
  for (const version of [3, 4]) {
    const key = s.get(3)!; // SHA256: 32 bytes in v3, 20 in v4
    const out = withMac(data, key, version);
    const d = digestLengthFor(key, version);
    assert.equal(out.length, 48 + 4 + d);
    const want = new Uint8Array(48 + 4 + d);
    want.set(data);
    signPacket(want, 48, key, d);
    assert.deepEqual(out, want);
    assert.equal(macKeyId(out, 48), 3);
    assert.deepEqual(data, new Uint8Array(48).fill(0x23));
  }
});
