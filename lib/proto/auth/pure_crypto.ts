// The Crypto interface in plain TypeScript (no node:crypto, no Web Crypto): what the simulator and
// tests inject into the core, so authenticated modes run there exactly as in the daemon.

import {
  type AeadAlgorithm,
  type AeadContext,
  aes128KeyOf,
  type Crypto,
  MAC_OUTPUT_LEN,
  type MacAlgorithm,
  type MacContext,
} from "../crypto.ts";
import { AES_SIV_CMAC_256_KEY_LEN, AesSiv, incrementCounter128 } from "../nts/aes_siv.ts";
import { Aes128, AesCmac } from "./_aes128.ts";
import type { BlockHash } from "./_block_hash.ts";
import { Md5 } from "./_md5.ts";
import { Sha1 } from "./_sha1.ts";
import { Sha256 } from "./_sha256.ts";

/** digest(key ‖ data) with one key and one reusable hash state. */
class DigestMac implements MacContext {
  readonly algorithm: MacAlgorithm;
  readonly outputLength: number;
  readonly #key: Uint8Array;
  readonly #hash: BlockHash;

  constructor(algorithm: MacAlgorithm, hash: BlockHash, key: Uint8Array) {
    this.algorithm = algorithm;
    this.outputLength = hash.outputLength;
    this.#hash = hash;
    this.#key = key.slice();
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    const h = this.#hash;
    h.reset();
    h.update(this.#key, 0, this.#key.length);
    h.update(data, start, end);
    h.finish(out, outOffset, outLength);
  }
}

/** AES-128-CMAC with one prepared key. */
class CmacMac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  readonly #cmac: AesCmac;

  constructor(key: Uint8Array) {
    this.#cmac = new AesCmac(aes128KeyOf(key));
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    this.#cmac.compute(data, start, end, out, outOffset, outLength);
  }
}

/** AES-128-CTR on the table-driven AES: one block of keystream at a time. */
function pureCtr(key: Uint8Array) {
  const aes = new Aes128(key);
  const counter = new Uint8Array(16);
  const stream = new Uint8Array(16);
  return (
    iv: Uint8Array,
    input: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
  ): void => {
    counter.set(iv.subarray(0, 16));
    for (let at = start; at < end; at += 16) {
      aes.encryptBlock(counter, 0, stream, 0);
      incrementCounter128(counter, 0);
      const n = Math.min(16, end - at);
      for (let k = 0; k < n; k++) out[outOffset + at - start + k] = input[at + k]! ^ stream[k]!;
    }
  };
}

/**
 * {@link Crypto} in plain TypeScript: MD5, SHA-1, SHA-256 and AES-128-CMAC, and the NTS AEAD
 * AES-SIV-CMAC-256.
 *
 * @example
 * ```ts
 * const mac = new PureCrypto().macContext("MD5", new TextEncoder().encode("secret"));
 * const out = new Uint8Array(16);
 * mac.compute(packet, 0, 48, out, 0, 16);
 * ```
 */
export class PureCrypto implements Crypto {
  readonly name = "pure";

  macContext(algorithm: MacAlgorithm, key: Uint8Array): MacContext {
    switch (algorithm) {
      case "MD5":
        return new DigestMac(algorithm, new Md5(), key);
      case "SHA1":
        return new DigestMac(algorithm, new Sha1(), key);
      case "SHA256":
        return new DigestMac(algorithm, new Sha256(), key);
      case "AES128CMAC":
        return new CmacMac(key);
    }
  }

  aeadContext(_algorithm: AeadAlgorithm, key: Uint8Array): AeadContext | null {
    if (key.length !== AES_SIV_CMAC_256_KEY_LEN) {
      throw new RangeError(`AEAD_AES_SIV_CMAC_256 takes a 32-byte key, not ${key.length}`);
    }
    return new AesSiv(new CmacMac(key.subarray(0, 16)), pureCtr(key.slice(16, 32)));
  }
}
