// OpenSSL 3's libcrypto through Deno FFI: the one-shot digests (MD5, SHA1, SHA256) and an
// AES-128-CBC cipher context, which is all symmetric-key NTP authentication needs. Calls pass
// typed arrays ("buffer"), so a call allocates nothing. The library is opened once per thread,
// on first use; a missing library is an answer ({ok: false}), not an exception.

/** Where Debian, Ubuntu, Fedora and others keep libcrypto 3 (absolute: FFI permissions name it). */
export const LIBCRYPTO_PATHS = [
  "/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/lib/aarch64-linux-gnu/libcrypto.so.3",
  "/usr/lib/aarch64-linux-gnu/libcrypto.so.3",
  "/usr/lib64/libcrypto.so.3",
  "/usr/lib/libcrypto.so.3",
] as const;

/**
 * Bytes to allocate for a SHA_CTX or SHA256_CTX (96 and 112 in OpenSSL 3, with room to spare).
 */
export const SHA_CTX_BYTES = 256;

const SYMBOLS = {
  // unsigned char *MD5(const unsigned char *d, size_t n, unsigned char *md): md, or NULL.
  MD5: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  // The low-level SHA functions: OpenSSL 3's one-shot SHA1()/SHA256() fetch the algorithm from a
  // provider on every call (about 1 µs); these do not. Each returns 1 on success.
  SHA1_Init: { parameters: ["buffer"], result: "i32" },
  SHA1_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA1_Final: { parameters: ["buffer", "buffer"], result: "i32" },
  SHA256_Init: { parameters: ["buffer"], result: "i32" },
  SHA256_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  // int EVP_EncryptInit_ex(ctx, cipher, engine, key, iv): 1 on success.
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  // int EVP_EncryptUpdate(ctx, out, int *outl, in, int inl): 1 on success.
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
} as const;

/** The libcrypto functions this module binds. */
export type LibCryptoSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libcrypto opened, or why not. */
export type LibCryptoResult =
  | { ok: true; symbols: LibCryptoSymbols; path: string }
  | { ok: false; reason: string };

let opened: LibCryptoResult | null = null;

/** OPENSSL_INIT_NO_ATEXIT: no cleanup handler registered with atexit(3). */
const OPENSSL_INIT_NO_ATEXIT = 0x0008_0000n;
let atExitHandled = false;

/**
 * Tells OpenSSL (libcrypto at `path`, or libssl, whose handle finds libcrypto's symbols) not to
 * free its global state from an atexit(3) handler. Server threads may still be inside libcrypto
 * when the main thread exits, and a cleanup under their feet ends the process with "double free
 * or corruption" instead of its exit status. It must come before OpenSSL's first initialisation,
 * so every opener here calls it right after dlopen; later calls do nothing. Returns whether
 * OpenSSL accepted it (false: initialised already, or the symbol is missing).
 */
export function disableOpenSslAtExit(path: string): boolean {
  if (atExitHandled) return true;
  try {
    const lib = Deno.dlopen(path, {
      OPENSSL_init_crypto: { parameters: ["u64", "pointer"], result: "i32" },
    });
    // The handle stays open (closing it could unload the library under the other handles).
    atExitHandled = lib.symbols.OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, null) === 1;
  } catch {
    atExitHandled = false;
  }
  return atExitHandled;
}

/** An OpenSSL library opened with the symbols `S`, or why not. */
export type OpenSslLibrary<S extends Deno.ForeignLibraryInterface> =
  | { ok: true; symbols: Deno.DynamicLibrary<S>["symbols"]; path: string }
  | { ok: false; reason: string };

/**
 * Opens the first of `paths` that loads with `symbols`, asking OpenSSL at once not to clean up
 * at exit ({@link disableOpenSslAtExit}); `name` ("libcrypto 3") words the reason when none
 * does. A refused permission ends the search: no other path would be allowed either.
 */
export function openOpenSsl<S extends Deno.ForeignLibraryInterface>(
  paths: readonly string[],
  symbols: S,
  name: string,
): OpenSslLibrary<S> {
  const reasons: string[] = [];
  for (const path of paths) {
    try {
      const lib = Deno.dlopen(path, symbols);
      disableOpenSslAtExit(path);
      return { ok: true, symbols: lib.symbols, path };
    } catch (e) {
      reasons.push(`${path}: ${(e as Error).message}`);
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) break;
    }
  }
  return { ok: false, reason: `${name} not usable (${reasons[0] ?? "no path"})` };
}

/**
 * Opens libcrypto 3 (once per thread; later calls return the same answer). Fails with a reason
 * when FFI is not permitted or no library is found.
 */
export function openLibCrypto(): LibCryptoResult {
  opened ??= openOpenSsl(LIBCRYPTO_PATHS, SYMBOLS, "libcrypto 3");
  return opened;
}

/** An AES-128-CBC encryption context (no padding) owned by JavaScript; freed when collected. */
export class Aes128Cbc {
  readonly #symbols: LibCryptoSymbols;
  readonly #ctx: Deno.PointerValue;
  readonly #outLength = new Uint8Array(4);

  /** A context for `key` (16 bytes) with an all-zero IV. Throws when OpenSSL refuses. */
  constructor(symbols: LibCryptoSymbols, key: Uint8Array) {
    if (key.length !== 16) throw new RangeError("AES-128 takes a 16-byte key");
    this.#symbols = symbols;
    const ctx = symbols.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new Error("EVP_CIPHER_CTX_new failed");
    const iv = new Uint8Array(16);
    if (
      symbols.EVP_EncryptInit_ex(ctx, symbols.EVP_aes_128_cbc(), null, key, iv) !== 1 ||
      symbols.EVP_CIPHER_CTX_set_padding(ctx, 0) !== 1
    ) {
      symbols.EVP_CIPHER_CTX_free(ctx);
      throw new Error("EVP_EncryptInit_ex failed for AES-128-CBC");
    }
    this.#ctx = ctx;
    CONTEXTS.register(this, { symbols, ctx });
  }

  /**
   * Encrypts `length` bytes (a multiple of 16) of `input` into `output`, chaining from the last
   * block of the previous call (CBC across calls). False when OpenSSL reports an error.
   */
  encrypt(output: Uint8Array, input: Uint8Array, length: number): boolean {
    return this.#symbols.EVP_EncryptUpdate(this.#ctx, output, this.#outLength, input, length) === 1;
  }
}

const CONTEXTS = new FinalizationRegistry<{ symbols: LibCryptoSymbols; ctx: Deno.PointerValue }>(
  ({ symbols, ctx }) => symbols.EVP_CIPHER_CTX_free(ctx),
);
