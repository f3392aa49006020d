import assert from "node:assert/strict";
import { openLibCrypto, openOpenSsl } from "./libcrypto.ts";

Deno.test("openOpenSsl() takes the first path that loads and names the first failure otherwise", () => {
  const symbols = { OpenSSL_version_num: { parameters: [], result: "u64" } } as const;
  const none = openOpenSsl(["/nonexistent/libcrypto.so.3"], symbols, "libcrypto 3");
  assert.ok(!none.ok);
  assert.match(none.reason, /^libcrypto 3 not usable \(\/nonexistent\/libcrypto\.so\.3: /);
  assert.deepEqual(openOpenSsl([], symbols, "libssl 3"), {
    ok: false,
    reason: "libssl 3 not usable (no path)",
  });
  const real = openLibCrypto();
  assert.ok(real.ok, real.ok ? "" : real.reason);
  const again = openOpenSsl(["/nonexistent/libcrypto.so.3", real.path], symbols, "libcrypto 3");
  assert.ok(again.ok);
  assert.equal(again.path, real.path);
  assert.ok(again.symbols.OpenSSL_version_num() >= 0x30000000n, "OpenSSL 3");
});
