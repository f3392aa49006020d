// CPU per NTS request through the server's packet path (RFC 8915 §5.7), without sockets: what
// the daemon's main thread spends on an NTS request besides the kernel's share. Requests from 512
// clients (each with its own C2S/S2C keys and a cookie under the server's master key) go through
// PacketPath.handle() in batches of 64 as the UDP transport hands them over: each datagram copied
// into its slot of one shared receive memory, each reply written into a slot of one shared
// transmit memory, then every reply of the batch finalized (cookies made, authenticator sealed).
// The replay memory is off so the 512 requests can be cycled. Prints CPU time per request (user +
// system, best of the rounds after a warm-up); the last batch's replies are checked by their
// clients (unique identifier echoed, authenticator opened under the S2C key, a cookie inside).
//
//   deno run -A --unstable-net tools/bench/nts_request_cpu.ts [--requests N] [--rounds R]
// deno-lint-ignore-file no-console

import process from "node:process";
import { parseArgs } from "node:util";
import { OpenSslCrypto } from "../../lib/daemon/crypto_openssl.ts";
import { CryptoRng } from "../../lib/daemon/crypto_rng.ts";
import { MruList } from "../../lib/proto/access/mru.ts";
import { RestrictList } from "../../lib/proto/access/restrict.ts";
import { NtsServerKeys } from "../../lib/proto/nts/cookies.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../../lib/proto/nts/ke_result.ts";
import { NtsClient } from "../../lib/proto/nts/nts_client.ts";
import { NtsServer } from "../../lib/proto/nts/nts_server.ts";
import { PacketIn, PacketPath, type ReplyBuffer } from "../../lib/proto/packet_path.ts";
import { SeededRng } from "../../lib/proto/rng.ts";
import { Server } from "../../lib/proto/server.ts";
import { SysStats } from "../../lib/proto/sys_stats.ts";
import { SYNCED } from "../../tests/support/server_state.ts";

const BATCH = 64;
const CLIENTS = 512;
const SLOT_BYTES = 2048;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "160000" },
    rounds: { type: "string", default: "5" },
  },
});
const requestsPerRound = Math.ceil(Number(values.requests) / BATCH) * BATCH;
const rounds = Number(values.rounds);

const crypto = new OpenSslCrypto();
const keys = new NtsServerKeys(crypto, new CryptoRng());
keys.setKeys([{ id: 1, key: globalThis.crypto.getRandomValues(new Uint8Array(32)) }], 1);
const path = new PacketPath({
  server: new Server(SYNCED),
  restrict: new RestrictList(),
  mru: MruList.create({ maxDepth: 1000 }),
  counters: SysStats.create(1, 0).counters(0),
  nts: new NtsServer(keys, crypto, new CryptoRng(), { reuseWindow: 0 }),
});

// Each client protects one request (48-byte header, unique identifier, one cookie, authenticator).
const seed = new SeededRng(9);
const clients: NtsClient[] = [];
const requests: Uint8Array[] = [];
for (let c = 0; c < CLIENTS; c++) {
  const c2s = new Uint8Array(32), s2c = new Uint8Array(32);
  for (let k = 0; k < 32; k++) {
    c2s[k] = seed.nextU32() & 0xff;
    s2c[k] = seed.nextU32() & 0xff;
  }
  const client = new NtsClient(crypto, new SeededRng(100 + c));
  const cookie = keys.makeCookie(AEAD_AES_SIV_CMAC_256, c2s, s2c);
  // Eight cookies held: the request asks for none more (no placeholders), as at steady state.
  client.install({
    aeadId: AEAD_AES_SIV_CMAC_256,
    c2sKey: c2s,
    s2cKey: s2c,
    cookies: Array(8).fill(cookie),
    ntpServer: "",
    ntpPort: 123,
  }, 0);
  const header = new Uint8Array(48);
  header[0] = (4 << 3) | 3;
  header[40] = 0xe9; // a transmit timestamp (a zero one is refused)
  header[42] = c >> 8;
  header[43] = c & 0xff;
  requests.push(client.protect(header)!);
  clients.push(client);
}

const rxMemory = new Uint8Array(new ArrayBuffer(BATCH * SLOT_BYTES));
const rxViews: (Uint8Array | undefined)[] = new Array(BATCH);
const txMemory = new ArrayBuffer(BATCH * SLOT_BYTES);
const slots: ReplyBuffer[] = Array.from({ length: BATCH }, (_, j) => ({
  buffer: new Uint8Array(txMemory, j * SLOT_BYTES, SLOT_BYTES),
  view: new DataView(txMemory, j * SLOT_BYTES, SLOT_BYTES),
  length: 0,
  stampTransmit: false,
  finalize: null,
}));
const input = new PacketIn();
input.src.parse("127.0.0.1");
input.srcPort = 40000;
input.rxUnixSec = 1_800_000_000;
let next = 0;

/** One batch, as the transport runs it: handle every datagram, then finalize every reply. */
function batch(): void {
  for (let j = 0; j < BATCH; j++) {
    const request = requests[next]!;
    next = (next + 1) % CLIENTS;
    rxMemory.set(request, j * SLOT_BYTES);
    let view = rxViews[j];
    if (view === undefined || view.length !== request.length) {
      view = rxViews[j] = rxMemory.subarray(j * SLOT_BYTES, j * SLOT_BYTES + request.length);
    }
    input.data = view;
    const slot = slots[j]!;
    slot.length = 0;
    slot.finalize = null;
    path.handle(input, slot);
    if (slot.finalize === null || slot.length <= 48) {
      throw new Error("an NTS request went unanswered");
    }
  }
  for (let j = 0; j < BATCH; j++) slots[j]!.finalize!.finalize(slots[j]!.buffer, slots[j]!.length);
}

const results: number[] = [];
for (let r = 0; r <= rounds; r++) {
  const t0 = process.cpuUsage();
  for (let n = 0; n < requestsPerRound; n += BATCH) batch();
  const d = process.cpuUsage(t0);
  if (r > 0) results.push((d.user + d.system) * 1000 / requestsPerRound); // round 0: warm-up
}
// The last batch's replies, each checked by the client whose request it answers.
for (let j = 0; j < BATCH; j++) {
  const c = (next - BATCH + j + CLIENTS) % CLIENTS;
  const reply = slots[j]!.buffer.subarray(0, slots[j]!.length);
  const verdict = clients[c]!.checkReply(reply, true);
  if (verdict !== "ok") throw new Error(`client ${c} refused its reply: ${verdict}`);
}
const fmt = (x: number) => x.toFixed(0);
console.log(
  `CPU per NTS request: best ${fmt(Math.min(...results))} ns, rounds ${
    results.map(fmt).join(" ")
  } ns (${requestsPerRound} requests a round, batches of ${BATCH})`,
);
