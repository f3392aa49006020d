// A server thread's stand-in for ffi/libcrypto_exit_test.ts: keeps libcrypto busy (cipher fetch,
// context set-up and free, the calls that touch OpenSSL's global state) until the process exits.
import { LIBCRYPTO_PATHS } from "../libcrypto.ts";

const lib = Deno.dlopen(Deno.env.get("HORAE_TEST_LIBCRYPTO") ?? LIBCRYPTO_PATHS[0], {
  EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_CIPHER_free: { parameters: ["pointer"], result: "void" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
});
const s = lib.symbols;
const name = new TextEncoder().encode("AES-128-CBC\0");
const key = new Uint8Array(16);
const iv = new Uint8Array(16);
(self as unknown as Worker).postMessage("busy");
for (;;) {
  const cipher = s.EVP_CIPHER_fetch(null, name, null);
  const ctx = s.EVP_CIPHER_CTX_new();
  s.EVP_EncryptInit_ex(ctx, cipher, null, key, iv);
  s.EVP_CIPHER_CTX_free(ctx);
  s.EVP_CIPHER_free(cipher);
}
