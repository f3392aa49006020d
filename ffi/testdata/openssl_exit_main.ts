// ffi/libcrypto_exit_test.ts's process: OpenSSL opened the daemon's way, two threads inside
// libcrypto, and the main thread exits with status 3 under them.
import { openLibCrypto } from "../libcrypto.ts";

const r = openLibCrypto();
if (!r.ok) throw new Error(r.reason);
const url = new URL("./openssl_exit_worker.ts", import.meta.url);
const workers = [0, 1].map(() => new Worker(url, { type: "module" }));
await Promise.all(workers.map((w) => new Promise((ok) => w.onmessage = ok)));
await new Promise((ok) => setTimeout(ok, 30));
Deno.exit(3);
