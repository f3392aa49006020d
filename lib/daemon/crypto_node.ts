// The daemon's Crypto: MD5, SHA-1 and SHA-256 digests and AES-128-CMAC (RFC 4493) through
// node:crypto, whose AES runs in constant time (AES-NI where the CPU has it). The core never
// imports this module; the daemon injects it.
//
// node:crypto has no CMAC, so it is built here on AES-128-CBC: CMAC is CBC-MAC over the message
// whose last block has a subkey XORed in (RFC 4493 §2.4). One CBC cipher per key lives as long as
// the key: instead of a fresh cipher (and zero IV) per message, the first block of each message
// is XORed with the cipher's chaining value (the last ciphertext block it produced), which
// cancels it. So a tag costs one native call and no cipher set-up.

import { Buffer } from "node:buffer";
import { createCipheriv, createHash } from "node:crypto";
import type { Cipheriv } from "node:crypto";
import {
  type AeadAlgorithm,
  type AeadContext,
  aes128KeyOf,
  type Crypto,
  MAC_OUTPUT_LEN,
  type MacAlgorithm,
  type MacContext,
} from "../proto/crypto.ts";

/** node:crypto's names of the digests. */
const HASH_NAME: Readonly<Record<Exclude<MacAlgorithm, "AES128CMAC">, string>> = {
  MD5: "md5",
  SHA1: "sha1",
  SHA256: "sha256",
};

/** digest(key ‖ data) with node:crypto's hashes. */
class NodeDigestMac implements MacContext {
  readonly algorithm: MacAlgorithm;
  readonly outputLength: number;
  readonly #name: string;
  readonly #key: Buffer;

  constructor(algorithm: Exclude<MacAlgorithm, "AES128CMAC">, key: Uint8Array) {
    this.algorithm = algorithm;
    this.outputLength = MAC_OUTPUT_LEN[algorithm];
    this.#name = HASH_NAME[algorithm];
    this.#key = Buffer.from(key);
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    const d = createHash(this.#name).update(this.#key).update(data.subarray(start, end)).digest();
    for (let k = 0; k < outLength; k++) out[outOffset + k] = d[k]!;
  }
}

/** Shift left by one bit in GF(2^128), XORing 0x87 when the top bit falls out (RFC 4493 §2.3). */
function double(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let k = 0; k < 15; k++) out[k] = ((input[k]! << 1) | (input[k + 1]! >>> 7)) & 0xff;
  out[15] = ((input[15]! << 1) & 0xff) ^ (input[0]! & 0x80 ? 0x87 : 0);
  return out;
}

/** AES-128-CMAC on one long-lived node:crypto CBC cipher. */
class NodeCmacMac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  readonly #cbc: Cipheriv;
  readonly #k1: Uint8Array;
  readonly #k2: Uint8Array;
  /** The CBC cipher's chaining value: the last ciphertext block it returned (the IV at first). */
  readonly #chain = new Uint8Array(16);
  /** The message, padded and with the subkey applied; grows for a longer message. */
  #scratch = Buffer.alloc(256);

  constructor(key: Uint8Array) {
    const k = aes128KeyOf(key);
    const ecb = createCipheriv("aes-128-ecb", k, null);
    ecb.setAutoPadding(false);
    const l = ecb.update(new Uint8Array(16));
    this.#k1 = double(l);
    this.#k2 = double(this.#k1);
    this.#cbc = createCipheriv("aes-128-cbc", k, this.#chain);
    this.#cbc.setAutoPadding(false);
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    const len = end - start;
    const full = len > 0 && len % 16 === 0;
    const padded = full ? len : len + 16 - (len % 16);
    if (this.#scratch.length < padded) this.#scratch = Buffer.alloc(2 * padded);
    const s = this.#scratch;
    s.set(data.subarray(start, end), 0);
    if (!full) {
      s[len] = 0x80;
      s.fill(0, len + 1, padded);
    }
    const sub = full ? this.#k1 : this.#k2;
    const last = padded - 16;
    for (let k = 0; k < 16; k++) s[last + k] = s[last + k]! ^ sub[k]!;
    // Cancel the chaining value the cipher carries over from the previous message.
    const chain = this.#chain;
    for (let k = 0; k < 16; k++) s[k] = s[k]! ^ chain[k]!;
    const c = this.#cbc.update(s.subarray(0, padded));
    for (let k = 0; k < 16; k++) chain[k] = c[padded - 16 + k]!;
    for (let k = 0; k < outLength; k++) out[outOffset + k] = chain[k]!;
  }
}

/**
 * {@link Crypto} on node:crypto, for the daemon.
 *
 * @example
 * ```ts
 * const mac = new NodeCrypto().macContext("AES128CMAC", key16);
 * mac.compute(packet, 0, 48, packet, 52, 16);
 * ```
 */
export class NodeCrypto implements Crypto {
  readonly name = "node:crypto";

  macContext(algorithm: MacAlgorithm, key: Uint8Array): MacContext {
    return algorithm === "AES128CMAC" ? new NodeCmacMac(key) : new NodeDigestMac(algorithm, key);
  }

  aeadContext(_algorithm: AeadAlgorithm, _key: Uint8Array): AeadContext | null {
    return null;
  }
}
