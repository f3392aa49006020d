// AES for NTS's AES-SIV through OpenSSL 3 (libcrypto FFI), three ways:
// - LibCryptoSiv: AES-SIV (RFC 5297) with S2V's chaining done here on one AES-128-CBC context
//   (K1) and one AES-128-ECB context (K2, CTR on its counter blocks), re-keyed in place: what
//   the NTS server uses, with new C2S and S2C keys for every request. Every call passes numbers
//   and pointers to its own off-heap buffers only (V8's fast calls), and nothing is allocated
//   per message.
// - RekeyableAes: AES-128-CBC and -ECB contexts whose key can be replaced, on which
//   lib/daemon/crypto_openssl.ts builds AES-SIV's CMAC and CTR with a few contexts per thread.
//   That is what the daemon uses: an NTS server has new C2S/S2C keys with every request.
// - sivSeal/sivOpen: OpenSSL's own AES-128-SIV (EVP "AES-128-SIV", a 32-byte key K1 ‖ K2), whose
//   key set-up costs about 4 µs (it builds a CMAC and a CTR context per key) and which cannot
//   handle an empty plaintext in 3.0. Kept as an independent implementation the tests compare
//   against. Each call to EVP_*Update with a NULL output adds one S2V header component.

import { LIBCRYPTO_PATHS, openOpenSsl } from "./libcrypto.ts";

const SYMBOLS = {
  // EVP_CIPHER *EVP_CIPHER_fetch(OSSL_LIB_CTX *ctx, const char *algorithm, const char *props)
  EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  // int EVP_CipherInit_ex(ctx, cipher, engine, key, iv, int enc): 1 on success.
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "pointer", "i32"],
    result: "i32",
  },
  // int EVP_CipherUpdate(ctx, out, int *outl, in, int inl): 1 on success.
  EVP_CipherUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // int EVP_CipherFinal_ex(ctx, out, int *outl)
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  // int EVP_CIPHER_CTX_ctrl(ctx, int type, int arg, void *ptr)
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  EVP_aes_128_ecb: { parameters: [], result: "pointer" },
  EVP_aes_128_ctr: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  // int EVP_EncryptInit_ex(ctx, cipher, engine, key, iv): NULL cipher and key keep them.
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  // Both calls below take pointers made once for LibCryptoSiv's own (off-heap) buffers: a
  // "buffer" argument costs Deno's FFI about 25 ns a call to resolve (measured on Deno 2.9: 45
  // against 21 ns for a one-block EVP_Cipher), and a request makes about 19 of these calls.
  // int EVP_Cipher(ctx, out, in, unsigned inl): the provider's one-shot cipher call, without
  // EVP_EncryptUpdate's partial-block bookkeeping (whole blocks only here); inl on success.
  EVP_Cipher_p: {
    name: "EVP_Cipher",
    parameters: ["pointer", "pointer", "pointer", "u32"],
    result: "i32",
  },
  // EVP_EncryptInit_ex with a NULL cipher and IV: a new key only. OpenSSL 3.0 then skips the IV
  // length query (a provider parameter lookup, about 60 ns) and a CBC context's chaining value
  // goes back to the IV it was first given.
  EVP_EncryptInit_key_p: {
    name: "EVP_EncryptInit_ex",
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
} as const;

const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

interface Siv {
  s: Symbols;
  cipher: Deno.PointerObject;
  ctx: Deno.PointerObject;
}

let opened: Siv | string | null = null;

/** OpenSSL's AES-128-SIV for this thread, or why it is not available. */
export function openLibCryptoSiv(): Siv | string {
  if (opened !== null) return opened;
  const lib = openOpenSsl(LIBCRYPTO_PATHS, SYMBOLS, "libcrypto 3");
  if (!lib.ok) {
    opened = lib.reason;
    return opened;
  }
  const cipher = lib.symbols.EVP_CIPHER_fetch(
    null,
    new TextEncoder().encode("AES-128-SIV\0"),
    null,
  );
  if (cipher === null) {
    opened = `${lib.path}: no AES-128-SIV (OpenSSL older than 3.0, or a FIPS provider)`;
    return opened;
  }
  const ctx = lib.symbols.EVP_CIPHER_CTX_new();
  opened = ctx === null ? "EVP_CIPHER_CTX_new failed" : { s: lib.symbols, cipher, ctx };
  return opened;
}

const outLen = new Int32Array(1);
const outLenBytes = new Uint8Array(outLen.buffer);
const finalScratch = new Uint8Array(16);
const EMPTY = new Uint8Array(1);

/**
 * SIV-encrypts `plaintext` with the header components `headers` under the 32-byte `key`; returns
 * tag ‖ ciphertext, or null when OpenSSL reports an error.
 */
export function sivSeal(
  siv: Siv,
  key: Uint8Array,
  headers: readonly Uint8Array[],
  plaintext: Uint8Array,
): Uint8Array | null {
  const { s, cipher, ctx } = siv;
  if (s.EVP_CipherInit_ex(ctx, cipher, null, key, null, 1) !== 1) return null;
  for (const h of headers) {
    // A zero-length component still counts in S2V: pass a valid pointer with length 0.
    if (
      s.EVP_CipherUpdate(
        ctx,
        null as unknown as Uint8Array,
        outLenBytes,
        h.length > 0 ? h : EMPTY,
        h.length,
      ) !== 1
    ) {
      return null;
    }
  }
  const out = new Uint8Array(16 + plaintext.length);
  const body = out.subarray(16);
  if (
    s.EVP_CipherUpdate(
      ctx,
      plaintext.length > 0 ? body : EMPTY,
      outLenBytes,
      plaintext.length > 0 ? plaintext : EMPTY,
      plaintext.length,
    ) !== 1
  ) return null;
  if (s.EVP_CipherFinal_ex(ctx, finalScratch, outLenBytes) !== 1) return null;
  if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out) !== 1) return null;
  return out;
}

/** Opens tag ‖ ciphertext; the plaintext, or null when the tag does not verify (or on error). */
export function sivOpen(
  siv: Siv,
  key: Uint8Array,
  headers: readonly Uint8Array[],
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < 16) return null;
  const { s, cipher, ctx } = siv;
  if (s.EVP_CipherInit_ex(ctx, cipher, null, key, null, 0) !== 1) return null;
  const tag = sealed.slice(0, 16);
  if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) !== 1) return null;
  for (const h of headers) {
    if (
      s.EVP_CipherUpdate(
        ctx,
        null as unknown as Uint8Array,
        outLenBytes,
        h.length > 0 ? h : EMPTY,
        h.length,
      ) !== 1
    ) {
      return null;
    }
  }
  const n = sealed.length - 16;
  const out = new Uint8Array(n);
  const ok = s.EVP_CipherUpdate(
    ctx,
    n > 0 ? out : EMPTY,
    outLenBytes,
    n > 0 ? sealed.subarray(16) : EMPTY,
    n,
  ) === 1;
  const fin = s.EVP_CipherFinal_ex(ctx, finalScratch, outLenBytes) === 1;
  if (!ok || !fin) {
    out.fill(0);
    return null;
  }
  return out;
}

/**
 * An AES-128 context (CBC or ECB, no padding) whose key can be replaced. Setting the key it
 * already has only resets the IV.
 */
export class RekeyableAes {
  readonly #s: Symbols;
  readonly #ctx: Deno.PointerObject;
  readonly #cipher: Deno.PointerValue;
  readonly #key = new Uint8Array(16);
  #keyed = false;
  readonly #outLength = new Uint8Array(4);

  /** Throws when libcrypto or a context is not available. */
  constructor(mode: "cbc" | "ecb") {
    const siv = openLibCryptoSiv();
    if (typeof siv === "string") throw new Error(siv);
    this.#s = siv.s;
    const ctx = siv.s.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new Error("EVP_CIPHER_CTX_new failed");
    this.#ctx = ctx;
    this.#cipher = mode === "cbc" ? siv.s.EVP_aes_128_cbc() : siv.s.EVP_aes_128_ecb();
  }

  /** True when `key` (16 bytes) is the one loaded. */
  holds(key: Uint8Array): boolean {
    let same = this.#keyed;
    for (let k = 0; same && k < 16; k++) same = this.#key[k] === key[k];
    return same;
  }

  /** Loads `key` (16 bytes, unless already loaded) and `iv`; false when OpenSSL fails. */
  start(key: Uint8Array, iv: Uint8Array | null): boolean {
    if (this.holds(key)) return this.#s.EVP_EncryptInit_ex(this.#ctx, null, null, null, iv) === 1;
    this.#keyed = false;
    if (
      this.#s.EVP_EncryptInit_ex(this.#ctx, this.#cipher, null, key, iv) !== 1 ||
      this.#s.EVP_CIPHER_CTX_set_padding(this.#ctx, 0) !== 1
    ) return false;
    this.#key.set(key.subarray(0, 16));
    this.#keyed = true;
    return true;
  }

  /** Encrypts `length` bytes (a multiple of 16) of `input` to `output`, chaining in CBC. */
  update(output: Uint8Array, input: Uint8Array, length: number): boolean {
    if (length === 0) return true;
    return this.#s.EVP_EncryptUpdate(this.#ctx, output, this.#outLength, input, length) === 1;
  }
}

/** Frees a {@link LibCryptoSiv}'s two contexts once it is collected. */
const sivContexts = new FinalizationRegistry<
  { s: Symbols; contexts: Deno.PointerObject[] }
>(({ s, contexts }) => {
  for (const c of contexts) s.EVP_CIPHER_CTX_free(c);
});

// Off-heap (made from an ArrayBuffer) so that a pointer to it stays valid: a small typed array
// made with a length can live on V8's heap, where the collector moves it.
const ZERO16 = new Uint8Array(new ArrayBuffer(16));

/** True when this machine stores the low byte of a word first (32-bit views then swap). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A 32-bit word read from (or for) big-endian bytes through a native-order view. */
function be(x: number): number {
  return LITTLE_ENDIAN
    ? ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24))
    : x;
}

/**
 * Doubling in GF(2^128) (RFC 5297 §2.3, as RFC 4493 derives CMAC subkeys) of the block at word
 * `from` of `w` to the block at word `to` (the same block allowed): the block is a big-endian
 * 128-bit number shifted left by one, with 0x87 XORed in when a bit falls off.
 */
function dbl(w: Int32Array, from: number, to: number): void {
  if (LITTLE_ENDIAN) {
    // Byte lanes shifted left within each word, each lane taking the top bit of the byte after
    // it (the next lane up, or the next word's first byte): no byte swaps (the profile had
    // this function at 20 ns a call with them, about ten calls a request).
    const a = w[from]!, b = w[from + 1]!, c = w[from + 2]!, d = w[from + 3]!;
    w[to] = ((a << 1) & 0xfefefefe) | ((a >>> 15) & 0x00010101) | ((b & 0x80) << 17);
    w[to + 1] = ((b << 1) & 0xfefefefe) | ((b >>> 15) & 0x00010101) | ((c & 0x80) << 17);
    w[to + 2] = ((c << 1) & 0xfefefefe) | ((c >>> 15) & 0x00010101) | ((d & 0x80) << 17);
    w[to + 3] = (((d << 1) & 0xfefefefe) | ((d >>> 15) & 0x00010101)) ^
      ((((a >>> 7) & 1) * 0x87) << 24);
    return;
  }
  const a = be(w[from]!), b = be(w[from + 1]!), c = be(w[from + 2]!), d = be(w[from + 3]!);
  w[to] = be((a << 1) | (b >>> 31));
  w[to + 1] = be((b << 1) | (c >>> 31));
  w[to + 2] = be((c << 1) | (d >>> 31));
  w[to + 3] = be((d << 1) ^ ((a >>> 31) * 0x87));
}

/**
 * AES-SIV-CMAC-256 (RFC 5297, AEAD_AES_SIV_CMAC_256 of RFC 8915 §5.1) on two libcrypto contexts
 * that are re-keyed in place. CMAC runs on the CBC context without resetting its IV: the first
 * block of each message is XORed with the context's chaining value (its last output block), which
 * cancels it, so a CMAC is one call. A key costs one CBC key schedule and two blocks (L and S2V's
 * CMAC(0)); the ECB context takes K2 only when a message has a plaintext. The S2V value after a
 * short associated data is kept, so a master key sealing and opening cookies under the same key
 * id skips that CMAC. Structurally a lib/proto/nts/aes_siv.ts SivContext.
 */
export class LibCryptoSiv {
  readonly #s: Symbols;
  readonly #cbc: Deno.PointerObject;
  /** K2 in ECB: CTR runs as one call on its counter blocks (no IV to set). */
  readonly #ecb: Deno.PointerObject;
  readonly #cbcCipher: Deno.PointerValue;
  readonly #ecbCipher: Deno.PointerValue;
  #ecbLoaded = false;
  /** The ECB context holds this context's K2. */
  #ecbKeyed = false;
  /** The contexts hold their cipher: later keys are loaded with a null cipher (no fetch). */
  #cbcLoaded = false;
  #keyed = false;
  // Key halves, CMAC subkeys, the CBC chaining value and S2V's blocks in one buffer, worked on
  // 32 bits at a time (#w) where bytes order does not matter (copies and XORs).
  readonly #blocks = new Uint8Array(new ArrayBuffer(13 * 16));
  readonly #w = new Int32Array(this.#blocks.buffer);
  readonly #k1 = this.#blocks.subarray(0, 16);
  readonly #k2 = this.#blocks.subarray(16, 32);
  readonly #q = this.#blocks.subarray(144, 160);
  /** Length of the associated data kept at AD_KEPT (-1: none kept). */
  #adKeptLength = -1;
  #in = new Uint8Array(new ArrayBuffer(1024));
  #in32 = new Int32Array(this.#in.buffer);
  #out = new Uint8Array(new ArrayBuffer(1024));
  #out32 = new Int32Array(this.#out.buffer);
  // Pointers to the buffers above, for the pointer-typed calls (renewed when they grow). The
  // buffers are this object's own and never detached, so the pointers stay valid as long as it.
  #inP: Deno.PointerObject;
  #outP: Deno.PointerObject;
  readonly #k1P: Deno.PointerObject;
  readonly #k2P: Deno.PointerObject;
  readonly #zeroP: Deno.PointerObject;
  /** K1 in ECB, for the CMACs of nonces prepared ahead (created on first use). */
  #ecbK1: Deno.PointerObject | null = null;
  #ecbK1Keyed = false;
  /** Prepared nonces and their CMACs under K1 (16 bytes each), handed out in order. */
  #pool = new Uint8Array(0);
  #pool32 = new Int32Array(0);
  #poolMacs32 = new Int32Array(0);
  #poolCount = 0;
  #poolLeft = 0;
  /** The prepared nonce last handed out (its index), until a seal uses it; -1: none. */
  #drawn = -1;
  /** Word views of the buffers messages last came from ({@link #wordsOf}). */
  readonly #viewBuffers: (ArrayBufferLike | null)[] = new Array(VIEWS).fill(null);
  readonly #views: Int32Array[] = new Array(VIEWS);
  #nextView = 0;
  /**
   * Word views by the byte array itself, for the few arrays that start their own buffer (a
   * server's scratch arrays): reading `.buffer` is a runtime call (about 13 ns), eleven a request.
   */
  readonly #arrays: (Uint8Array | null)[] = new Array(ARRAYS).fill(null);
  readonly #arrayWords: (Int32Array | null)[] = new Array(ARRAYS).fill(null);
  #nextArray = 0;
  readonly #recent: (Uint8Array | null)[] = [null, null];
  readonly #recentWords: (Int32Array | null)[] = [null, null];

  /** Throws when libcrypto 3 or a context is not available. */
  constructor() {
    const siv = openLibCryptoSiv();
    if (typeof siv === "string") throw new Error(siv);
    const s = siv.s;
    this.#s = s;
    const contexts = [s.EVP_CIPHER_CTX_new(), s.EVP_CIPHER_CTX_new()];
    const [cbc, ecb] = contexts;
    if (cbc === null || ecb === null) {
      for (const c of contexts) if (c !== null) s.EVP_CIPHER_CTX_free(c);
      throw new Error("EVP_CIPHER_CTX_new failed");
    }
    this.#cbc = cbc!;
    this.#ecb = ecb!;
    this.#cbcCipher = s.EVP_aes_128_cbc();
    this.#ecbCipher = s.EVP_aes_128_ecb();
    sivContexts.register(this, { s, contexts: [cbc!, ecb!] });
    this.#inP = pointerTo(this.#in);
    this.#outP = pointerTo(this.#out);
    this.#k1P = pointerTo(this.#k1);
    this.#k2P = pointerTo(this.#k2);
    this.#zeroP = pointerTo(ZERO16);
  }

  /** Loads the 32-byte key `key[at, at+32)`: K1 (CMAC) ‖ K2 (CTR). */
  setKey(key: Uint8Array, at: number): void {
    this.#keyed = false;
    this.#poolLeft = 0;
    this.#drawn = -1;
    this.#ecbK1Keyed = false;
    this.#adKeptLength = -1;
    if (at < 0 || at + 32 > key.length) return;
    const b = this.#blocks, w = this.#w;
    // K1 ‖ K2, 32 bits at a time from an aligned key (an NTS server's are), else byte by byte.
    const from = key.byteOffset + at;
    const words = (from & 3) === 0 ? this.#wordsOfArray(key) : null;
    if (words !== null && (from >> 2) + 8 <= words.length) {
      for (let k = 0; k < 8; k++) w[k] = words[(from >> 2) + k]!;
    } else for (let k = 0; k < 32; k++) b[k] = key[at + k]!;
    this.#ecbKeyed = false;
    const s = this.#s;
    // The first key comes with the cipher and the zero IV; later ones with neither (no fetch,
    // no IV length query), and the chaining value returns to that zero IV.
    const keyed = this.#cbcLoaded
      ? s.EVP_EncryptInit_key_p(this.#cbc, null, null, this.#k1P, null)
      : s.EVP_EncryptInit_ex(this.#cbc, this.#cbcCipher, null, this.#k1, ZERO16);
    if (keyed !== 1) return;
    this.#cbcLoaded = true;
    // L = AES(K1, 0^128): the zero block through the freshly reset CBC context.
    if (s.EVP_Cipher_p(this.#cbc, this.#outP, this.#zeroP, 16) !== 16) {
      this.#resetChain();
      return;
    }
    const o = this.#out32;
    for (let k = 0; k < 4; k++) w[CHAIN + k] = o[k]!; // the chaining value is L now
    dbl(w, CHAIN, SUB1);
    dbl(w, SUB1, SUB2);
    // S2V starts from CMAC(K1, 0^128).
    if (!this.#cmac(ZERO16, 0, 16, -1, D0)) return;
    this.#keyed = true;
  }

  /** The CBC context back to a zero IV and chaining value (after a failed call). */
  #resetChain(): void {
    this.#s.EVP_EncryptInit_ex(this.#cbc, null, null, null as unknown as Uint8Array, ZERO16);
    for (let k = 0; k < 4; k++) this.#w[CHAIN + k] = 0;
  }

  /**
   * CMAC under K1 of `src[start, end)`, with the block at word `tail` of #blocks XORed into the
   * message's last 16 bytes unless `tail` is -1 (S2V's xorend), to the block at word `mac`.
   */
  #cmac(src: Uint8Array, start: number, end: number, tail: number, mac: number): boolean {
    const len = end - start;
    if (len === 16 && tail < 0) return this.#cmacBlock(src, start, mac);
    const full = len > 0 && (len & 15) === 0;
    const padded = full ? len : (len + 16) & ~15;
    if (this.#in.length < padded) this.#grow(padded);
    const b = this.#in, b32 = this.#in32, w = this.#w;
    const at = src.byteOffset + start;
    const words = (at & 3) === 0 && len > 32 ? this.#wordsOfArray(src) : null;
    const n = len >> 2, from = at >> 2;
    if (words !== null && from + n <= words.length) {
      // 32 bits at a time from a word view of the source's buffer (no subarray to allocate).
      for (let k = 0; k < n; k++) b32[k] = words[from + k]!;
      for (let k = n << 2; k < len; k++) b[k] = src[start + k]!;
    } else for (let k = 0; k < len; k++) b[k] = src[start + k]!;
    if (tail >= 0) {
      if ((len & 3) === 0) {
        for (let k = 0, j = (len - 16) >> 2; k < 4; k++, j++) b32[j] = b32[j]! ^ w[tail + k]!;
      } else {
        const t = this.#blocks;
        for (let k = 0, j = len - 16; k < 16; k++, j++) b[j] = b[j]! ^ t[4 * tail + k]!;
      }
    }
    if (!full) {
      b[len] = 0x80;
      for (let k = len + 1; k < padded; k++) b[k] = 0;
    }
    const sub = full ? SUB1 : SUB2;
    const last = (padded - 16) >> 2;
    for (let k = 0; k < 4; k++) b32[last + k] = b32[last + k]! ^ w[sub + k]!;
    for (let k = 0; k < 4; k++) b32[k] = b32[k]! ^ w[CHAIN + k]!;
    if (this.#s.EVP_Cipher_p(this.#cbc, this.#outP, this.#inP, padded) !== padded) {
      this.#resetChain();
      return false;
    }
    const o = this.#out32;
    for (let k = 0; k < 4; k++) w[CHAIN + k] = w[mac + k] = o[last + k]!;
    return true;
  }

  /**
   * Takes the first `count` 16-byte blocks of `random` (fresh random bytes) as the nonces
   * {@link drawNonce} hands out next, their CMACs under K1 worked out now in one ECB call: a
   * seal with such a nonce then skips that CMAC. Replaces nonces not yet drawn; setKey()
   * discards them. False without a key or when OpenSSL fails.
   */
  prepareNonces(random: Uint8Array, count: number): boolean {
    this.#poolLeft = 0;
    this.#drawn = -1;
    const bytes = 16 * count;
    if (!this.#keyed || count <= 0 || bytes > random.length) return false;
    const s = this.#s;
    if (this.#ecbK1 === null) {
      const ctx = s.EVP_CIPHER_CTX_new();
      if (ctx === null) return false;
      sivContexts.register(this, { s, contexts: [ctx] });
      this.#ecbK1 = ctx;
      if (s.EVP_EncryptInit_ex(ctx, this.#ecbCipher, null, this.#k1, ZERO16) !== 1) return false;
    } else if (
      !this.#ecbK1Keyed &&
      s.EVP_EncryptInit_key_p(this.#ecbK1, null, null, this.#k1P, null) !== 1
    ) return false;
    this.#ecbK1Keyed = true;
    if (this.#pool.length !== 2 * bytes) {
      this.#pool = new Uint8Array(2 * bytes); // nonces, then their CMACs
      this.#pool32 = new Int32Array(this.#pool.buffer);
      this.#poolMacs32 = new Int32Array(this.#pool.buffer, bytes, bytes >> 2);
    }
    const pool = this.#pool, p32 = this.#pool32, w = this.#w;
    pool.set(random.subarray(0, bytes));
    if (this.#in.length < bytes) this.#grow(bytes);
    // A one-block CMAC is AES(K1, N ⊕ K1's first subkey).
    const b32 = this.#in32;
    for (let j = 0; j < bytes >> 2; j += 4) {
      for (let k = 0; k < 4; k++) b32[j + k] = p32[j + k]! ^ w[SUB1 + k]!;
    }
    if (s.EVP_Cipher_p(this.#ecbK1, this.#outP, this.#inP, bytes) !== bytes) return false;
    this.#poolMacs32.set(this.#out32.subarray(0, bytes >> 2));
    this.#poolLeft = this.#poolCount = count;
    return true;
  }

  /**
   * Writes the next prepared nonce (16 bytes) to `out` at `at`; false when none is left (or
   * `out` is too short). A seal() whose nonce is those 16 bytes skips the nonce's CMAC.
   */
  drawNonce(out: Uint8Array, at: number): boolean {
    if (this.#poolLeft === 0 || at < 0 || at + 16 > out.length) return false;
    const i = this.#poolCount - this.#poolLeft--; // in the order they were given
    const pool = this.#pool;
    for (let k = 0; k < 16; k++) out[at + k] = pool[16 * i + k]!;
    this.#drawn = i;
    return true;
  }

  /**
   * True when `nonce[start, end)` is the prepared nonce last drawn (compared byte for byte):
   * its CMAC is then copied to T instead of being computed. Either way the draw is used up.
   */
  #preparedMac(nonce: Uint8Array, start: number, end: number): boolean {
    const i = this.#drawn;
    if (i < 0) return false;
    this.#drawn = -1;
    if (end - start !== 16) return false;
    const pool = this.#pool;
    let diff = 0;
    for (let k = 0; k < 16; k++) diff |= pool[16 * i + k]! ^ nonce[start + k]!;
    if (diff !== 0) return false;
    const m = this.#poolMacs32, w = this.#w;
    for (let k = 0; k < 4; k++) w[T + k] = m[4 * i + k]!;
    return true;
  }

  /**
   * CMAC of the one full block at `src[start, start+16)` (a nonce, S2V's zero block or its last
   * step) to the block at word `mac`: AES(K1, M ⊕ K1's first subkey), chained as in #cmac.
   */
  #cmacBlock(src: Uint8Array, start: number, mac: number): boolean {
    const b = this.#in, b32 = this.#in32, w = this.#w;
    if (src === this.#blocks && (start & 3) === 0) {
      for (let k = 0, j = start >> 2; k < 4; k++, j++) {
        b32[k] = w[j]! ^ w[SUB1 + k]! ^ w[CHAIN + k]!;
      }
    } else {
      for (let k = 0; k < 16; k++) b[k] = src[start + k]!;
      for (let k = 0; k < 4; k++) b32[k] = b32[k]! ^ w[SUB1 + k]! ^ w[CHAIN + k]!;
    }
    if (this.#s.EVP_Cipher_p(this.#cbc, this.#outP, this.#inP, 16) !== 16) {
      this.#resetChain();
      return false;
    }
    const o = this.#out32;
    for (let k = 0; k < 4; k++) w[CHAIN + k] = w[mac + k] = o[k]!;
    return true;
  }

  /**
   * A 32-bit view of the whole buffer under `a` ({@link #wordsOf}), found by the array itself
   * first, so that `.buffer` (a runtime call) is read once per array; null as #wordsOf.
   */
  #wordsOfArray(a: Uint8Array): Int32Array | null {
    const arrays = this.#arrays;
    for (let k = 0; k < ARRAYS; k++) if (arrays[k] === a) return this.#arrayWords[k]!;
    const recent = this.#recent;
    if (recent[0] === a) return this.#recentWords[0]!;
    if (recent[1] === a) return this.#recentWords[1]!;
    const words = this.#wordsOf(a.buffer);
    if (words === null) return null;
    if (a.byteOffset === 0) {
      const slot = this.#nextArray;
      this.#nextArray = (slot + 1) % ARRAYS;
      arrays[slot] = a;
      this.#arrayWords[slot] = words;
    } else {
      // The transport's views into its batch memory (a request, then its reply, each used
      // more than once in a row) only in a two-entry list of their own: there are many, and
      // they would push the scratch arrays out.
      recent[1] = recent[0]!;
      this.#recentWords[1] = this.#recentWords[0]!;
      recent[0] = a;
      this.#recentWords[0] = words;
    }
    return words;
  }

  /**
   * A 32-bit view of `buffer` (its whole words), kept for the few buffers a server passes
   * (receive and transmit memory, its scratch buffers); null for a buffer that cannot have one.
   */
  #wordsOf(buffer: ArrayBufferLike): Int32Array | null {
    const bufs = this.#viewBuffers;
    for (let k = 0; k < VIEWS; k++) if (bufs[k] === buffer) return this.#views[k]!;
    if (buffer.byteLength < 16) return null;
    const slot = this.#nextView;
    this.#nextView = (slot + 1) % VIEWS;
    const view = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    bufs[slot] = buffer;
    this.#views[slot] = view;
    return view;
  }

  #grow(n: number): void {
    this.#in = new Uint8Array(new ArrayBuffer(2 * n));
    this.#in32 = new Int32Array(this.#in.buffer);
    this.#out = new Uint8Array(new ArrayBuffer(2 * n));
    this.#out32 = new Int32Array(this.#out.buffer);
    this.#inP = pointerTo(this.#in);
    this.#outP = pointerTo(this.#out);
  }

  /** S2V (RFC 5297 §2.4) of (ad, nonce, plaintext) to the block V. */
  #s2v(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    p: Uint8Array,
    pStart: number,
    pEnd: number,
  ): boolean {
    const b = this.#blocks, w = this.#w;
    const adLength = adEnd - adStart;
    let kept = adLength === this.#adKeptLength;
    for (let k = 0; kept && k < adLength; k++) kept = b[4 * AD_KEPT + k] === ad[adStart + k];
    if (kept) { for (let k = 0; k < 4; k++) w[D + k] = w[D_AFTER_AD + k]!; }
    else {
      if (!this.#cmac(ad, adStart, adEnd, -1, T)) return false;
      dbl(w, D0, D);
      for (let k = 0; k < 4; k++) w[D + k] = w[D + k]! ^ w[T + k]!;
      if (adLength <= 16) {
        for (let k = 0; k < adLength; k++) b[4 * AD_KEPT + k] = ad[adStart + k]!;
        this.#adKeptLength = adLength;
        for (let k = 0; k < 4; k++) w[D_AFTER_AD + k] = w[D + k]!;
      }
    }
    if (!this.#preparedMac(nonce, nStart, nEnd) && !this.#cmac(nonce, nStart, nEnd, -1, T)) {
      return false;
    }
    dbl(w, D, D);
    for (let k = 0; k < 4; k++) w[D + k] = w[D + k]! ^ w[T + k]!;
    const n = pEnd - pStart;
    if (n >= 16) return this.#cmac(p, pStart, pEnd, D, V);
    dbl(w, D, T);
    for (let k = 0; k < n; k++) b[4 * T + k] = b[4 * T + k]! ^ p[pStart + k]!;
    b[4 * T + n] = b[4 * T + n]! ^ 0x80;
    return this.#cmac(b, 4 * T, 4 * T + 16, -1, V);
  }

  /**
   * AES-128-CTR under K2 of `src[start, end)` to `dst` at `dstAt`, from the counter block made
   * of the block at word `iv` (RFC 5297 §2.6: bits 63 and 31 cleared).
   */
  #ctrRun(
    iv: number,
    src: Uint8Array,
    start: number,
    end: number,
    dst: Uint8Array,
    dstAt: number,
  ): boolean {
    const w = this.#w, q = this.#q;
    for (let k = 0; k < 4; k++) w[Q + k] = w[iv + k]!;
    q[8] = q[8]! & 0x7f;
    q[12] = q[12]! & 0x7f;
    return this.#ecbCtr(src, start, end, dst, dstAt);
  }

  /**
   * CTR for a key used before (a master key's cookies): the counter blocks from Q encrypted in
   * one ECB call (no IV to reset) and XORed in here. RFC 5297 §2.6 cleared bit 31 of Q's last
   * word, so counting up the last 32 bits never carries into the rest for any message here.
   */
  #ecbCtr(src: Uint8Array, start: number, end: number, dst: Uint8Array, dstAt: number): boolean {
    const s = this.#s;
    if (!this.#ecbKeyed) {
      // As for K1: the cipher only with the first key, and never an IV (ECB has none).
      const keyed = this.#ecbLoaded
        ? s.EVP_EncryptInit_key_p(this.#ecb, null, null, this.#k2P, null)
        : s.EVP_EncryptInit_ex(this.#ecb, this.#ecbCipher, null, this.#k2, ZERO16);
      if (keyed !== 1) return false;
      this.#ecbLoaded = true;
      this.#ecbKeyed = true;
    }
    const n = end - start;
    const padded = (n + 15) & ~15;
    if (this.#in.length < padded) this.#grow(padded);
    const b = this.#blocks, c = this.#in, c32 = this.#in32, w = this.#w;
    const low = ((b[4 * Q + 12]! << 24) | (b[4 * Q + 13]! << 16) | (b[4 * Q + 14]! << 8) |
      b[4 * Q + 15]!) >>> 0;
    for (let at = 0, i = 0; at < padded; at += 16, i++) {
      const j = at >> 2;
      c32[j] = w[Q]!;
      c32[j + 1] = w[Q + 1]!;
      c32[j + 2] = w[Q + 2]!;
      const x = (low + i) >>> 0;
      c[at + 12] = x >>> 24;
      c[at + 13] = (x >>> 16) & 0xff;
      c[at + 14] = (x >>> 8) & 0xff;
      c[at + 15] = x & 0xff;
    }
    const stream = this.#out;
    if (s.EVP_Cipher_p(this.#ecb, this.#outP, this.#inP, padded) !== padded) return false;
    // The key stream XORed in 32 bits at a time when both sides are word-aligned (as a cookie,
    // its plaintext and a reply's are in the server), byte by byte otherwise.
    const from = src.byteOffset + start, to = dst.byteOffset + dstAt, words = n >> 2;
    const srcW = (from & 3) === 0 && n > 32 ? this.#wordsOfArray(src) : null;
    const dstW = srcW !== null && (to & 3) === 0 ? this.#wordsOfArray(dst) : null;
    let k = 0;
    if (
      srcW !== null && dstW !== null && (from >> 2) + words <= srcW.length &&
      (to >> 2) + words <= dstW.length
    ) {
      const o = this.#out32, f = from >> 2, t = to >> 2;
      for (let i = 0; i < words; i++) dstW[t + i] = srcW[f + i]! ^ o[i]!;
      k = words << 2;
    }
    for (; k < n; k++) dst[dstAt + k] = src[start + k]! ^ stream[k]!;
    return true;
  }

  /** Seals p[pStart, pEnd) to V ‖ C at out[outAt, …); see SivContext.seal. */
  seal(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    p: Uint8Array,
    pStart: number,
    pEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    const n = pEnd - pStart;
    if (
      !this.#keyed || n < 0 || pStart < 0 || pEnd > p.length || outAt < 0 ||
      outAt + 16 + n > out.length || !inside(ad, adStart, adEnd) || !inside(nonce, nStart, nEnd)
    ) return false;
    if (!this.#s2v(ad, adStart, adEnd, nonce, nStart, nEnd, p, pStart, pEnd)) return false;
    const b = this.#blocks;
    for (let k = 0; k < 16; k++) out[outAt + k] = b[4 * V + k]!;
    return n === 0 || this.#ctrRun(V, p, pStart, pEnd, out, outAt + 16);
  }

  /** Opens V ‖ C at c[cStart, cEnd) to out[outAt, …); see SivContext.open. */
  open(
    ad: Uint8Array,
    adStart: number,
    adEnd: number,
    nonce: Uint8Array,
    nStart: number,
    nEnd: number,
    c: Uint8Array,
    cStart: number,
    cEnd: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    const n = cEnd - cStart - 16;
    if (
      !this.#keyed || n < 0 || cStart < 0 || cEnd > c.length || outAt < 0 ||
      outAt + n > out.length || !inside(ad, adStart, adEnd) || !inside(nonce, nStart, nEnd)
    ) return false;
    const b = this.#blocks, w = this.#w;
    for (let k = 0; k < 16; k++) b[4 * TAG + k] = c[cStart + k]!;
    let ok = n === 0 || this.#ctrRun(TAG, c, cStart + 16, cEnd, out, outAt);
    ok = ok && this.#s2v(ad, adStart, adEnd, nonce, nStart, nEnd, out, outAt, outAt + n);
    if (ok) {
      let diff = 0;
      for (let k = 0; k < 4; k++) diff |= w[V + k]! ^ w[TAG + k]!;
      ok = diff === 0;
    }
    if (!ok) out.fill(0, outAt, outAt + n);
    return ok;
  }
}

// Where LibCryptoSiv keeps its blocks in #blocks, in 32-bit words (K1 at 0, K2 at 4).
const SUB1 = 8, SUB2 = 12, CHAIN = 16, D0 = 20, D = 24, T = 28, V = 32, Q = 36, TAG = 40;
const AD_KEPT = 44, D_AFTER_AD = 48;
/** How many buffers LibCryptoSiv keeps a word view of. */
const VIEWS = 8;
/** How many byte arrays LibCryptoSiv finds its word views by directly. */
const ARRAYS = 6;

/** The address of `b`'s first byte (off-heap memory this module owns); throws when it has none. */
function pointerTo(b: Uint8Array): Deno.PointerObject {
  const p = Deno.UnsafePointer.of(b);
  if (p === null) throw new Error("LibCryptoSiv: a buffer without an address");
  return p;
}

function inside(b: Uint8Array, start: number, end: number): boolean {
  return start >= 0 && start <= end && end <= b.length;
}
