import assert from "node:assert/strict";
import { disableOpenSslAtExit, openLibCrypto } from "./libcrypto.ts";

const lib = openLibCrypto();

Deno.test({
  name: "OpenSSL registers no atexit cleanup once opened (the first open asks it not to)",
  ignore: !lib.ok,
  fn: () => {
    // openLibCrypto() above made the request; OpenSSL accepted it (1 from OPENSSL_init_crypto).
    assert.equal(disableOpenSslAtExit(lib.ok ? lib.path : ""), true);
  },
});

Deno.test({
  name: "exiting while other threads are inside libcrypto ends with the exit status, not a crash",
  ignore: !lib.ok,
  fn: async () => {
    // Without the request, OpenSSL's atexit cleanup freed its state under the busy threads: 5 of
    // 12 runs of this process ended in SIGSEGV or SIGBUS (measured 2026-12-03).
    const codes: number[] = [];
    let lastError = "";
    for (let i = 0; i < 8; i++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("./testdata/openssl_exit_main.ts", import.meta.url).pathname,
        ],
        stdout: "null",
        stderr: "piped",
        env: lib.ok ? { HORAE_TEST_LIBCRYPTO: lib.path } : {},
      }).output();
      codes.push(out.signal === null ? out.code : -1);
      if (out.code !== 3) lastError = new TextDecoder().decode(out.stderr).slice(-800);
    }
    assert.deepEqual(codes, codes.map(() => 3), lastError);
  },
});
