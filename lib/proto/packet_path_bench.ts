// Micro-benchmarks of the packet path (`deno bench lib/proto/packet_path_bench.ts`): restrict
// lookup with no list and with a 1,000-entry list (none matching the source), and a client
// request through the whole path against the bare `Server.respondAt` it replaces.

import { MruList } from "./access/mru.ts";
import { RestrictList } from "./access/restrict.ts";
import { IpWords } from "./ip.ts";
import { PacketIn, PacketPath, type ReplyBuffer } from "./packet_path.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import { SysStats } from "./sys_stats.ts";
import { SYNCED } from "../../tests/support/server_state.ts";

/** 1,000 entries of mixed kinds and lengths, none of them covering 127.0.0.0/8 or ::1. */
function bigList(): RestrictList {
  const list = new RestrictList();
  const rng = new SeededRng(42);
  const octet = () => 1 + (rng.nextU32() % 100); // 1–100: never 127
  for (let i = 0; i < 1000; i++) {
    const a = `${octet()}.${rng.nextU32() & 255}.${rng.nextU32() & 255}.${rng.nextU32() & 255}`;
    const kind = i % 10;
    if (kind < 5) list.addRule(a, null, ["noquery"]);
    else if (kind < 7) list.addRule(a, 24, ["kod", "limited"]);
    else if (kind < 8) list.addRule(a, 16, ["noserve"]);
    else if (kind < 9) list.addRule(`2001:db8:${i.toString(16)}::`, 48, ["nomodify"]);
    else list.addRule(`2001:db8::${i.toString(16)}`, null, ["ignore"]);
  }
  list.addRule("0.0.0.0", 0, ["nomodify", "notrap"]);
  return list;
}

const empty = new RestrictList();
const big = bigList();
const src = new IpWords().setV4(0x7f000001);
const src6 = new IpWords().setV6(0, 0, 0, 1);

Deno.bench("restrict lookup, IPv4, no list", { group: "lookup4", baseline: true }, () => {
  empty.lookup(src, 40000);
});
Deno.bench("restrict lookup, IPv4, 1,000 entries", { group: "lookup4" }, () => {
  big.lookup(src, 40000);
});
Deno.bench("restrict lookup, IPv6, no list", { group: "lookup6", baseline: true }, () => {
  empty.lookup(src6, 40000);
});
Deno.bench("restrict lookup, IPv6, 1,000 entries", { group: "lookup6" }, () => {
  big.lookup(src6, 40000);
});

function request(): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (4 << 3) | 3;
  b[2] = 6;
  b.set([0xe9, 1, 2, 3, 4, 5, 6, 7], 40);
  return b;
}

const out = new Uint8Array(2048);
const slot: ReplyBuffer = {
  buffer: out,
  view: new DataView(out.buffer),
  length: 0,
  stampTransmit: false,
  finalize: null,
};
const req = request();
const bare = new Server(SYNCED);
let t = 1_800_000_000;

function pathWith(list: RestrictList, monitor: boolean): [PacketPath, PacketIn] {
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict: list,
    mru: MruList.create({}),
    counters: SysStats.create(1, 0).counters(0),
    monitor,
  });
  const p = new PacketIn();
  p.data = req;
  p.src.setV4(0x7f000001);
  p.srcPort = 40000;
  return [path, p];
}

const [plain, pIn0] = pathWith(empty, false);
const [monitored, pIn1] = pathWith(empty, true);
const [listed, pIn2] = pathWith(big, true);
const [churn, pIn3] = pathWith(big, true);
let n = 0;

Deno.bench("Server.respondAt (no packet path)", { group: "request", baseline: true }, () => {
  bare.respondAt(req, t++, 1000, out, slot.view);
});
Deno.bench("packet path, no list, monitor off", { group: "request" }, () => {
  pIn0.rxUnixSec = t++;
  plain.handle(pIn0, slot);
});
Deno.bench("packet path, no list, monitor on", { group: "request" }, () => {
  pIn1.rxUnixSec = t++;
  monitored.handle(pIn1, slot);
});
Deno.bench("packet path, 1,000 entries, monitor on", { group: "request" }, () => {
  pIn2.rxUnixSec = t++;
  listed.handle(pIn2, slot);
});
Deno.bench("packet path, 1,000 entries, monitor on, new source each time", {
  group: "request",
}, () => {
  pIn3.rxUnixSec = t++;
  pIn3.src.setV4(0x0b000000 + n++);
  churn.handle(pIn3, slot);
});
