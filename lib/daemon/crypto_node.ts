// The daemon's Crypto: MD5, SHA-1 and SHA-256 digests and AES-128-CMAC (RFC 4493) through
// node:crypto, whose AES runs in constant time (AES-NI where the CPU has it). The core never
// imports this module; the daemon injects it.
//
// node:crypto has no CMAC, so it is built on one AES-128-CBC cipher per key (_chained_cmac.ts).
//
// node:crypto is loaded on the first key prepared, not when this module is imported: it costs the
// daemon 5-6 MB of resident memory, and a daemon with no keys (or with libcrypto for all of them)
// never needs it. A static import would also be hoisted to the top of the single-file bundle.

import type * as NodeCryptoModule from "node:crypto";
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
import { AES_SIV_CMAC_256_KEY_LEN, AesSiv, fillCounterBlocks } from "../proto/nts/aes_siv.ts";
import { ChainedCmac, cmacPaddedLength } from "./_chained_cmac.ts";

let nodeCryptoModule: typeof NodeCryptoModule | null = null;

/**
 * node:crypto, loaded synchronously on first use (process.getBuiltinModule: Node 22.3, Deno 2):
 * the Crypto interface is synchronous, so a dynamic import() cannot serve here.
 */
function nodeCrypto(): typeof NodeCryptoModule {
  if (nodeCryptoModule === null) {
    const proc = (globalThis as unknown as {
      process: { getBuiltinModule(id: "node:crypto"): typeof NodeCryptoModule };
    }).process;
    nodeCryptoModule = proc.getBuiltinModule("node:crypto");
  }
  return nodeCryptoModule;
}

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
  readonly #key: Uint8Array;

  constructor(algorithm: Exclude<MacAlgorithm, "AES128CMAC">, key: Uint8Array) {
    this.algorithm = algorithm;
    this.outputLength = MAC_OUTPUT_LEN[algorithm];
    this.#name = HASH_NAME[algorithm];
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
    const d = nodeCrypto().createHash(this.#name).update(this.#key).update(
      data.subarray(start, end),
    ).digest();
    for (let k = 0; k < outLength; k++) out[outOffset + k] = d[k]!;
  }
}

/**
 * AES-128-CMAC on one long-lived node:crypto CBC cipher, set up on the first MAC: the control
 * server makes its nonce key at start, and node:crypto then stays unloaded until a client asks
 * for a nonce.
 */
class NodeCmacMac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  /** The 16-byte key until the ciphers are made, then null. */
  #key: Uint8Array | null;
  #cbc: Cipheriv | null = null;
  #cmac: ChainedCmac | null = null;
  /** The message, padded and with the subkey applied; grows for a longer message. */
  #scratch = new Uint8Array(256);

  constructor(key: Uint8Array) {
    this.#key = aes128KeyOf(key);
  }

  #setUp(k: Uint8Array): { cbc: Cipheriv; cmac: ChainedCmac } {
    const { createCipheriv } = nodeCrypto();
    const ecb = createCipheriv("aes-128-ecb", k, null);
    ecb.setAutoPadding(false);
    const zero = new Uint8Array(16);
    const cmac = new ChainedCmac(ecb.update(zero), zero);
    const cbc = createCipheriv("aes-128-cbc", k, zero);
    cbc.setAutoPadding(false);
    this.#cmac = cmac;
    this.#cbc = cbc;
    k.fill(0);
    this.#key = null;
    return { cbc, cmac };
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    let cbc = this.#cbc;
    let cmac = this.#cmac;
    if (cbc === null || cmac === null) ({ cbc, cmac } = this.#setUp(this.#key!));
    const need = cmacPaddedLength(end - start);
    if (this.#scratch.length < need) this.#scratch = new Uint8Array(2 * need);
    const padded = cmac.prepare(data, start, end, this.#scratch);
    const c = cbc.update(this.#scratch.subarray(0, padded));
    cmac.finish(c, padded, out, outOffset, outLength);
  }
}

/**
 * AES-128-CTR on one long-lived ECB cipher: the counter blocks for a whole message are encrypted
 * in one call and XORed in, so no cipher is set up per message (NTS fields are a few hundred bytes).
 */
function nodeCtr(key: Uint8Array) {
  const ecb = nodeCrypto().createCipheriv("aes-128-ecb", key, null);
  ecb.setAutoPadding(false);
  let blocks = new Uint8Array(512);
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
    if (blocks.length < padded) blocks = new Uint8Array(2 * padded);
    fillCounterBlocks(iv, blocks, padded);
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
