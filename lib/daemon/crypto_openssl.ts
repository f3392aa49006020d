// The daemon's MACs through OpenSSL's libcrypto (FFI): MD5, SHA-1 and SHA-256 of key ‖ packet by
// the one-shot digests, and AES-128-CMAC (RFC 4493) on one long-lived AES-128-CBC context per key
// (AES-NI: constant time). Measured on these machines for a 48-byte packet: MD5 0.3 µs, AES-CMAC
// 0.1 µs per MAC against 0.6–0.8 µs in TypeScript and 2.3–2.6 µs through node:crypto (whose
// per-call Buffer and object work dominates), so the server's signed replies stay close to its
// unsigned rate. `daemonCrypto()` checks every algorithm against known answers at start and uses
// node:crypto for any that libcrypto cannot give (no library, FIPS mode without MD5).

import {
  Aes128Cbc,
  type LibCryptoSymbols,
  openLibCrypto,
  SHA_CTX_BYTES,
} from "../../ffi/libcrypto.ts";
import { LibCryptoSiv, RekeyableAes } from "../../ffi/libcrypto_siv.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import {
  AES_SIV_CMAC_256_KEY_LEN,
  type AesCtr,
  AesSiv,
  fillCounterBlocks,
  type SivContext,
  sivContextOf,
  type SivProvider,
} from "../proto/nts/aes_siv.ts";
import {
  type AeadAlgorithm,
  type AeadContext,
  aes128KeyOf,
  cmacDouble,
  type Crypto,
  MAC_ALGORITHMS,
  MAC_OUTPUT_LEN,
  type MacAlgorithm,
  type MacContext,
} from "../proto/crypto.ts";
import { ChainedCmac, cmacPaddedLength } from "./_chained_cmac.ts";
import { NodeCrypto } from "./crypto_node.ts";

type DigestName = "MD5" | "SHA1" | "SHA256";

/** digest(key ‖ data) by libcrypto (MD5's one-shot function, SHA's init/update/final). */
class OpenSslDigestMac implements MacContext {
  readonly algorithm: MacAlgorithm;
  readonly outputLength: number;
  readonly #symbols: LibCryptoSymbols;
  readonly #ctx = new Uint8Array(SHA_CTX_BYTES);
  /** The last length hashed, as the BigInt the call takes (one per length, not per call). */
  #length = -1;
  #lengthBig = 0n;
  readonly #keyLength: number;
  /** The key, then room for the message (grows for a longer one). */
  #scratch: Uint8Array;
  readonly #md = new Uint8Array(32);

  constructor(symbols: LibCryptoSymbols, algorithm: DigestName, key: Uint8Array) {
    this.algorithm = algorithm;
    this.outputLength = MAC_OUTPUT_LEN[algorithm];
    this.#symbols = symbols;
    this.#keyLength = key.length;
    this.#scratch = new Uint8Array(key.length + 512);
    this.#scratch.set(key);
  }

  compute(
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void {
    const n = end - start;
    const kl = this.#keyLength;
    if (this.#scratch.length < kl + n) {
      const grown = new Uint8Array(2 * (kl + n));
      grown.set(this.#scratch.subarray(0, kl));
      this.#scratch = grown;
    }
    const s = this.#scratch;
    // Byte by byte: a subarray per call would be the only allocation.
    for (let k = 0; k < n; k++) s[kl + k] = data[start + k]!;
    const md = this.#md;
    // A usize argument as a number takes Deno's slow FFI path; a new BigInt per call allocates.
    if (kl + n !== this.#length) {
      this.#length = kl + n;
      this.#lengthBig = BigInt(kl + n);
    }
    if (!this.#hash(s, this.#lengthBig, md)) md.fill(0); // checked at start: never
    for (let k = 0; k < outLength; k++) out[outOffset + k] = md[k]!;
  }

  #hash(s: Uint8Array, n: bigint, md: Uint8Array): boolean {
    const y = this.#symbols, c = this.#ctx;
    switch (this.algorithm) {
      case "MD5":
        return y.MD5(s, n, md) !== null;
      case "SHA1":
        return y.SHA1_Init(c) === 1 && y.SHA1_Update(c, s, n) === 1 && y.SHA1_Final(md, c) === 1;
      default:
        return y.SHA256_Init(c) === 1 && y.SHA256_Update(c, s, n) === 1 &&
          y.SHA256_Final(md, c) === 1;
    }
  }
}

/** AES-128-CMAC on one AES-128-CBC context that lives as long as the key (_chained_cmac.ts). */
class OpenSslCmacMac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  readonly #cbc: Aes128Cbc;
  readonly #cmac: ChainedCmac;
  #in = new Uint8Array(512);
  #out = new Uint8Array(512);

  constructor(symbols: LibCryptoSymbols, key: Uint8Array) {
    this.#cbc = new Aes128Cbc(symbols, aes128KeyOf(key));
    // L = AES(K, 0^128): the first block from the zero IV is the encrypted zero block, and the
    // context's chaining value from then on.
    const l = new Uint8Array(16);
    if (!this.#cbc.encrypt(l, new Uint8Array(16), 16)) throw new Error("AES-128 failed");
    this.#cmac = new ChainedCmac(l, l);
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
    if (this.#in.length < need) {
      this.#in = new Uint8Array(2 * need);
      this.#out = new Uint8Array(2 * need);
    }
    const padded = this.#cmac.prepare(data, start, end, this.#in);
    const c = this.#out;
    if (!this.#cbc.encrypt(c, this.#in, padded)) c.fill(0, padded - 16, padded);
    this.#cmac.finish(c, padded, out, outOffset, outLength);
  }
}

/** One of this thread's AES-128 contexts for AES-SIV, with its CBC chaining value. */
interface AesSlot {
  aes: RekeyableAes;
  /** CBC: the last ciphertext block (what the next message's first block is XORed with). */
  chain: Uint8Array;
  lastUse: number;
}

/** Contexts kept per mode: the master key stays loaded while C2S/S2C keys come and go. */
const AES_SLOTS = 4;
let aesSlots: { cbc: AesSlot[]; ecb: AesSlot[] } | null = null;
let aesUse = 0;
const ZERO_BLOCK = new Uint8Array(16);
let cmacIn = new Uint8Array(1024);
let cmacOut = new Uint8Array(1024);
let ctrBlocks = new Uint8Array(1024);

/**
 * This thread's context holding `key` in `mode`, loading it into the least recently used one
 * when none does (a CBC context then restarts from a zero chaining value). Null when OpenSSL
 * fails.
 */
function aesSlot(mode: "cbc" | "ecb", key: Uint8Array): AesSlot | null {
  aesSlots ??= {
    cbc: Array.from({ length: AES_SLOTS }, () => ({
      aes: new RekeyableAes("cbc"),
      chain: new Uint8Array(16),
      lastUse: 0,
    })),
    ecb: Array.from({ length: AES_SLOTS }, () => ({
      aes: new RekeyableAes("ecb"),
      chain: new Uint8Array(16),
      lastUse: 0,
    })),
  };
  const slots = aesSlots[mode];
  let pick = slots[0]!;
  for (const s of slots) {
    if (s.aes.holds(key)) {
      s.lastUse = ++aesUse;
      return s;
    }
    if (s.lastUse < pick.lastUse) pick = s;
  }
  if (!pick.aes.start(key, mode === "cbc" ? ZERO_BLOCK : null)) return null;
  pick.chain.fill(0);
  pick.lastUse = ++aesUse;
  return pick;
}

/**
 * AES-128-CMAC (RFC 4493) under one key on this thread's shared CBC contexts: a key still loaded
 * costs nothing to use (the first block is XORed with the context's chaining value instead of
 * resetting its IV), a new one one AES key schedule. For AES-SIV, whose C2S/S2C keys change with
 * every NTS request a server answers, while its master key stays loaded.
 */
class RekeyedCmac implements MacContext {
  readonly algorithm: MacAlgorithm = "AES128CMAC";
  readonly outputLength = MAC_OUTPUT_LEN.AES128CMAC;
  // Key, subkeys K1 and K2 and L in one buffer (little to allocate per key).
  readonly #keys = new Uint8Array(64);
  readonly #key = this.#keys.subarray(0, 16);
  readonly #k1 = this.#keys.subarray(16, 32);
  readonly #k2 = this.#keys.subarray(32, 48);

  constructor(key: Uint8Array) {
    this.#key.set(key.subarray(0, 16));
    const l = this.#keys.subarray(48, 64);
    // L = AES(K, 0): CMAC's machinery with an all-zero padded block gives the raw block cipher.
    if (!this.#cbc(ZERO_BLOCK, 16, l)) throw new Error("AES-128-CBC failed");
    cmacDouble(l, this.#k1);
    cmacDouble(this.#k1, this.#k2);
  }

  /** CBC-encrypts `input[0, padded)` from a zero IV; the last block to `last`. */
  #cbc(input: Uint8Array, padded: number, last: Uint8Array): boolean {
    const slot = aesSlot("cbc", this.#key);
    if (slot === null) return false;
    const chain = slot.chain;
    for (let k = 0; k < 16; k++) cmacIn[k] = input[k]! ^ chain[k]!;
    if (input !== cmacIn) { for (let k = 16; k < padded; k++) cmacIn[k] = input[k]!; }
    if (!slot.aes.update(cmacOut, cmacIn, padded)) return false;
    for (let k = 0; k < 16; k++) chain[k] = last[k] = cmacOut[padded - 16 + k]!;
    return true;
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
    const padded = cmacPaddedLength(len);
    // The thread's scratch: compute() runs to the end before anything else can.
    if (cmacIn.length < padded) {
      cmacIn = new Uint8Array(2 * padded);
      cmacOut = new Uint8Array(2 * padded);
    }
    const input = cmacIn;
    // Short messages byte by byte; longer ones by memcpy (the view costs less than the loop).
    if (len <= 32) { for (let k = 0; k < len; k++) input[k] = data[start + k]!; }
    else input.set(data.subarray(start, end));
    const full = len > 0 && len % 16 === 0;
    if (!full) {
      input[len] = 0x80;
      for (let k = len + 1; k < padded; k++) input[k] = 0;
    }
    const sub = full ? this.#k1 : this.#k2;
    for (let k = 0; k < 16; k++) input[padded - 16 + k] = input[padded - 16 + k]! ^ sub[k]!;
    const tag = this.#keys.subarray(48, 64); // L is not needed after the constructor
    // A failure leaves a zero tag, which nothing verifies.
    if (!this.#cbc(input, padded, tag)) tag.fill(0);
    for (let k = 0; k < outLength; k++) out[outOffset + k] = tag[k]!;
  }
}

/**
 * AES-128-CTR under `key`: the counter blocks of a message encrypted in one ECB call on this
 * thread's shared ECB contexts, XORed in here.
 */
function rekeyedCtr(key: Uint8Array): AesCtr {
  const k = key.slice(0, 16);
  return (iv, input, start, end, out, outOffset) => {
    const n = end - start;
    if (n === 0) return;
    const padded = (n + 15) & ~15;
    if (ctrBlocks.length < padded) ctrBlocks = new Uint8Array(2 * padded);
    if (cmacOut.length < padded) cmacOut = new Uint8Array(2 * padded);
    const blocks = ctrBlocks;
    fillCounterBlocks(iv, blocks, padded);
    const slot = aesSlot("ecb", k);
    const stream = cmacOut;
    if (slot === null || !slot.aes.update(stream, blocks, padded)) {
      out.fill(0, outOffset, outOffset + n);
      return;
    }
    for (let j = 0; j < n; j++) out[outOffset + j] = input[start + j]! ^ stream[j]!;
  };
}

/**
 * {@link Crypto} on libcrypto. Construct it through {@link daemonCrypto}, which checks it; the
 * constructor throws when libcrypto cannot be opened.
 */
export class OpenSslCrypto implements Crypto, SivProvider {
  readonly name: string;
  readonly #symbols: LibCryptoSymbols;

  constructor() {
    const lib = openLibCrypto();
    if (!lib.ok) throw new Error(lib.reason);
    this.#symbols = lib.symbols;
    this.name = `libcrypto (${lib.path})`;
  }

  macContext(algorithm: MacAlgorithm, key: Uint8Array): MacContext {
    return algorithm === "AES128CMAC"
      ? new OpenSslCmacMac(this.#symbols, key)
      : new OpenSslDigestMac(this.#symbols, algorithm, key);
  }

  /**
   * AES-SIV-CMAC-256 (lib/proto/nts/aes_siv.ts) on a few re-keyable libcrypto AES-128 CBC (for
   * CMAC) and ECB (for CTR) contexts per thread: about 1 µs to prepare a key, against 27 µs for
   * node:crypto's ciphers and 4 µs for OpenSSL's own AES-128-SIV, and a key still loaded (the
   * master key) costs nothing. Null when libcrypto cannot be used.
   */
  aeadContext(_algorithm: AeadAlgorithm, key: Uint8Array): AeadContext | null {
    if (key.length !== AES_SIV_CMAC_256_KEY_LEN) {
      throw new RangeError(`AEAD_AES_SIV_CMAC_256 takes a 32-byte key, not ${key.length}`);
    }
    try {
      return new AesSiv(new RekeyedCmac(key.subarray(0, 16)), rekeyedCtr(key.subarray(16, 32)));
    } catch {
      return null; // no libcrypto AES here: daemonCrypto() then takes node:crypto's
    }
  }
  /**
   * A re-keyable AES-SIV context for the NTS server (ffi/libcrypto_siv.ts LibCryptoSiv: two
   * libcrypto contexts of its own, nothing allocated per message). Throws without libcrypto.
   */
  sivContext(): SivContext {
    return new LibCryptoSiv();
  }
}

/** One {@link Crypto} whose algorithms each come from the first implementation that passed. */
class MixedCrypto implements Crypto {
  readonly name: string;
  readonly #by: Readonly<Record<MacAlgorithm, Crypto>>;
  readonly #fallback: Crypto;
  readonly #aead: Crypto;
  /** The AEAD implementation's re-keyable contexts, when it has them (see sivContextOf). */
  readonly sivContext?: () => SivContext;

  constructor(by: Record<MacAlgorithm, Crypto>, fallback: Crypto, aead: Crypto = fallback) {
    this.#by = by;
    this.#fallback = fallback;
    this.#aead = aead;
    if (typeof (aead as Partial<SivProvider>).sivContext === "function") {
      this.sivContext = () => sivContextOf(aead);
    }
    const names = [...new Set(MAC_ALGORITHMS.map((a) => by[a].name))];
    this.name = names.length === 1
      ? names[0]!
      : MAC_ALGORITHMS.map((a) => `${a} ${by[a].name}`).join(", ");
  }

  macContext(algorithm: MacAlgorithm, key: Uint8Array): MacContext {
    return this.#by[algorithm].macContext(algorithm, key);
  }

  aeadContext(algorithm: AeadAlgorithm, key: Uint8Array): AeadContext | null {
    return this.#aead.aeadContext(algorithm, key);
  }
}

/**
 * True when `c`'s AES-SIV seals as the TypeScript reference does (empty and longer plaintexts,
 * empty and longer associated data), opens what it sealed and refuses a changed byte.
 */
function sivAgrees(c: Crypto): boolean {
  const reference = new PureCrypto();
  try {
    const key = Uint8Array.from({ length: 32 }, (_, k) => (k * 53 + 7) & 0xff);
    const a = c.aeadContext("AEAD_AES_SIV_CMAC_256", key);
    const r = reference.aeadContext("AEAD_AES_SIV_CMAC_256", key)!;
    if (a === null) return false;
    for (const [adLength, plainLength] of [[228, 0], [0, 5], [84, 864], [48, 16]] as const) {
      const ad = Uint8Array.from({ length: adLength }, (_, k) => k & 0xff);
      const plain = Uint8Array.from({ length: plainLength }, (_, k) => (k * 3) & 0xff);
      const nonce = Uint8Array.from({ length: 16 }, (_, k) => k + 1);
      const got = a.seal(nonce, plain, ad), want = r.seal(nonce, plain, ad);
      if (got.length !== want.length || got.some((x, k) => x !== want[k])) return false;
      const back = a.open(nonce, got, ad);
      if (back === null || back.some((x, k) => x !== plain[k])) return false;
      got[got.length - 1] = got[got.length - 1]! ^ 1;
      if (a.open(nonce, got, ad) !== null) return false;
      // The NTS server's re-keyable contexts (when offered) on the same inputs.
      if (typeof (c as Partial<SivProvider>).sivContext !== "function") continue;
      const siv = sivContextOf(c);
      siv.setKey(key, 0);
      const out = new Uint8Array(want.length), opened = new Uint8Array(plainLength);
      if (!siv.seal(ad, 0, adLength, nonce, 0, 16, plain, 0, plainLength, out, 0)) return false;
      if (out.some((x, k) => x !== want[k])) return false;
      if (!siv.open(ad, 0, adLength, nonce, 0, 16, out, 0, out.length, opened, 0)) return false;
      if (opened.some((x, k) => x !== plain[k])) return false;
      out[0] = out[0]! ^ 1;
      if (siv.open(ad, 0, adLength, nonce, 0, 16, out, 0, out.length, opened, 0)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** True when `c` computes `algorithm` as the TypeScript reference does, for a few shapes. */
function agrees(c: Crypto, algorithm: MacAlgorithm): boolean {
  const reference = new PureCrypto();
  try {
    for (const [keyLength, dataLength] of [[16, 48], [20, 68], [32, 0], [7, 33]] as const) {
      const key = Uint8Array.from({ length: keyLength }, (_, k) => (k * 37 + 11) & 0xff);
      const data = Uint8Array.from({ length: dataLength }, (_, k) => (k * 13 + 5) & 0xff);
      const n = MAC_OUTPUT_LEN[algorithm];
      const got = new Uint8Array(n), want = new Uint8Array(n);
      const mac = c.macContext(algorithm, key);
      for (let round = 0; round < 2; round++) {
        mac.compute(data, 0, dataLength, got, 0, n);
        reference.macContext(algorithm, key).compute(data, 0, dataLength, want, 0, n);
        for (let k = 0; k < n; k++) if (got[k] !== want[k]) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The daemon's crypto: libcrypto for every algorithm it computes correctly (checked now against
 * the TypeScript reference), node:crypto for the others (no libcrypto, no FFI permission, a FIPS
 * build without MD5). `notes` says what was not taken from libcrypto, for the log.
 */
export function daemonCrypto(): { crypto: Crypto; notes: string[] } {
  const node = new NodeCrypto();
  let ssl: OpenSslCrypto | null = null;
  const notes: string[] = [];
  try {
    ssl = new OpenSslCrypto();
  } catch (e) {
    notes.push(`${(e as Error).message}: MACs through node:crypto (slower)`);
  }
  const by = {} as Record<MacAlgorithm, Crypto>;
  for (const a of MAC_ALGORITHMS) {
    if (ssl !== null && agrees(ssl, a)) by[a] = ssl;
    else {
      if (ssl !== null) notes.push(`${ssl.name} gives wrong or no ${a} MACs: using node:crypto`);
      by[a] = node;
    }
  }
  let aead: Crypto = node;
  if (ssl !== null && sivAgrees(ssl)) aead = ssl;
  else if (ssl !== null) notes.push(`${ssl.name} gives wrong or no AES-SIV: using node:crypto`);
  return { crypto: new MixedCrypto(by, node, aead), notes };
}
