// AES for NTS's AES-SIV through OpenSSL 3 (libcrypto FFI), two ways:
// - RekeyableAes: AES-128-CBC and -ECB contexts whose key can be replaced, on which
//   lib/daemon/crypto_openssl.ts builds AES-SIV's CMAC and CTR with a few contexts per thread.
//   That is what the daemon uses: an NTS server has new C2S/S2C keys with every request.
// - sivSeal/sivOpen: OpenSSL's own AES-128-SIV (EVP "AES-128-SIV", a 32-byte key K1 ‖ K2), whose
//   key set-up costs about 4 µs (it builds a CMAC and a CTR context per key) and which cannot
//   handle an empty plaintext in 3.0. Kept as an independent implementation the tests compare
//   against. Each call to EVP_*Update with a NULL output adds one S2V header component.

import { LIBCRYPTO_PATHS } from "./libcrypto.ts";

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
  let last = "no libcrypto 3";
  for (const path of LIBCRYPTO_PATHS) {
    try {
      const lib = Deno.dlopen(path, SYMBOLS);
      const cipher = lib.symbols.EVP_CIPHER_fetch(
        null,
        new TextEncoder().encode("AES-128-SIV\0"),
        null,
      );
      if (cipher === null) {
        opened = `${path}: no AES-128-SIV (OpenSSL older than 3.0, or a FIPS provider)`;
        return opened;
      }
      const ctx = lib.symbols.EVP_CIPHER_CTX_new();
      if (ctx === null) {
        opened = "EVP_CIPHER_CTX_new failed";
        return opened;
      }
      opened = { s: lib.symbols, cipher, ctx };
      return opened;
    } catch (e) {
      last = `${path}: ${(e as Error).message}`;
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) break;
    }
  }
  opened = `libcrypto 3 not usable (${last})`;
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
