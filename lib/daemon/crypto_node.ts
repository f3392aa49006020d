// The daemon's Crypto: MD5, SHA-1 and SHA-256 digests and AES-128-CMAC (RFC 4493) through
// node:crypto, whose AES runs in constant time (AES-NI where the CPU has it). The core never
// imports this module; the daemon injects it.
//
// node:crypto has no CMAC, so it is built on one AES-128-CBC cipher per key (_chained_cmac.ts).

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
import { AES_SIV_CMAC_256_KEY_LEN, AesSiv, incrementCounter128 } from "../proto/nts/aes_siv.ts";
import { ChainedCmac, cmacPaddedLength } from "./_chained_cmac.ts";

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

/** AES-128-CMAC on one long-lived node:crypto CBC cipher. */
class NodeCmacMac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  readonly #cbc: Cipheriv;
  readonly #cmac: ChainedCmac;
  /** The message, padded and with the subkey applied; grows for a longer message. */
  #scratch = Buffer.alloc(256);

  constructor(key: Uint8Array) {
    const k = aes128KeyOf(key);
    const ecb = createCipheriv("aes-128-ecb", k, null);
    ecb.setAutoPadding(false);
    const zero = new Uint8Array(16);
    this.#cmac = new ChainedCmac(ecb.update(zero), zero);
    this.#cbc = createCipheriv("aes-128-cbc", k, zero);
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
    const need = cmacPaddedLength(end - start);
    if (this.#scratch.length < need) this.#scratch = Buffer.alloc(2 * need);
    const padded = this.#cmac.prepare(data, start, end, this.#scratch);
    const c = this.#cbc.update(this.#scratch.subarray(0, padded));
    this.#cmac.finish(c, padded, out, outOffset, outLength);
  }
}

/**
 * AES-128-CTR on one long-lived ECB cipher: the counter blocks for a whole message are encrypted
 * in one call and XORed in, so no cipher is set up per message (NTS fields are a few hundred bytes).
 */
function nodeCtr(key: Uint8Array) {
  const ecb = createCipheriv("aes-128-ecb", key, null);
  ecb.setAutoPadding(false);
  let blocks = Buffer.alloc(512);
  return (
    iv: Uint8Array,
    input: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
  ): void => {
    const n = end - start;
    const padded = (n + 15) & ~15;
    if (padded === 0) return;
    if (blocks.length < padded) blocks = Buffer.alloc(2 * padded);
    blocks.set(iv.subarray(0, 16), 0);
    for (let at = 16; at < padded; at += 16) {
      blocks.copyWithin(at, at - 16, at);
      incrementCounter128(blocks, at);
    }
    const stream = ecb.update(blocks.subarray(0, padded));
    for (let k = 0; k < n; k++) out[outOffset + k] = input[start + k]! ^ stream[k]!;
  };
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

  /** AEAD_AES_SIV_CMAC_256 on node:crypto's AES (CMAC on CBC, CTR on ECB). */
  aeadContext(_algorithm: AeadAlgorithm, key: Uint8Array): AeadContext | null {
    if (key.length !== AES_SIV_CMAC_256_KEY_LEN) {
      throw new RangeError(`AEAD_AES_SIV_CMAC_256 takes a 32-byte key, not ${key.length}`);
    }
    return new AesSiv(new NodeCmacMac(key.subarray(0, 16)), nodeCtr(key.slice(16, 32)));
  }
}
