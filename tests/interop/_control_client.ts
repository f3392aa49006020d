// A one-request mode 6 client for the control interop test, bound to a chosen source address
// (ntpq cannot choose one): sends a request, optionally signed, and prints one JSON line with
// what came back. Usage:
//   deno run -A --unstable-net _control_client.ts SOURCE DEST OPCODE TEXT [KEYID TYPE KEY]
// deno-lint-ignore-file no-console

import { KeyStore } from "../../lib/proto/auth/key_store.ts";
import { signPacket } from "../../lib/proto/auth/mac.ts";
import { PureCrypto } from "../../lib/proto/auth/pure_crypto.ts";
import { controlMacOffset, encodeControl, Reassembler } from "../../lib/proto/control/mode6.ts";
import { asciiBytes, bytesText } from "../../lib/proto/control/var_list.ts";
import type { MacAlgorithm } from "../../lib/proto/crypto.ts";

const [source, dest, opText, text, keyIdText, type, key] = Deno.args;
const opcode = Number(opText);
const data = asciiBytes(text ?? "");
const h = {
  version: 2,
  response: false,
  error: false,
  more: false,
  opcode,
  sequence: 77,
  status: 0,
  associd: 0,
  offset: 0,
};
let req: Uint8Array;
if (keyIdText !== undefined) {
  const id = Number(keyIdText);
  const store = new KeyStore(new PureCrypto(), [{
    id,
    algorithm: type as MacAlgorithm,
    key: new TextEncoder().encode(key),
    allowed: null,
  }], [id]);
  const k = store.get(id)!;
  req = encodeControl(h, data, 4 + k.v4DigestLength);
  signPacket(req, controlMacOffset(data.length), k, k.v4DigestLength);
} else req = encodeControl(h, data);

const sock = Deno.listenDatagram({ transport: "udp", hostname: source!, port: 0 });
await sock.send(req, { transport: "udp", hostname: dest!, port: 123 });
const r = new Reassembler(77, opcode);
let outcome = "timeout";
const deadline = Date.now() + 2000;
while (Date.now() < deadline) {
  const got = await Promise.race([
    sock.receive(),
    new Promise<null>((res) => setTimeout(() => res(null), Math.max(1, deadline - Date.now()))),
  ]);
  if (got === null) break;
  const step = r.add(got[0]);
  if (step === "complete" || step === "error") {
    outcome = step;
    break;
  }
}
console.log(JSON.stringify({
  outcome,
  error: r.errorCode,
  text: r.data === null ? "" : bytesText(r.data),
}));
sock.close();
Deno.exit(0);
