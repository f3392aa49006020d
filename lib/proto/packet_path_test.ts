// Tests of the packet path: format checks, restrict (most specific match, defaults, ntpport,
// version, own addresses), rate control and kisses, authentication, dispatch by mode, counters
// that add up, shared limits across threads, and a bounded MRU under a million sources.

import { SYSSTATS_VARS } from "./control/control_vars.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MruList } from "./access/mru.ts";
import { RestrictList } from "./access/restrict.ts";
import {
  type Authenticator,
  emptyReplyBuffer,
  type ForwardTo,
  type Handlers,
  PacketIn,
  PacketPath,
  type ReplyBuffer,
  type VerdictKind,
} from "./packet_path.ts";
import { Server } from "./server.ts";
import { SysStats } from "./sys_stats.ts";
import { SYNCED } from "../../tests/support/server_state.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`packet_path_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

/** A request: mode, version, length (MAC bytes after 48), transmit timestamp bytes 40–47. */
function request(mode = 3, version = 4, length = 48, poll = 6): Uint8Array {
  const b = new Uint8Array(length);
  b[0] = (version << 3) | mode;
  b[2] = poll;
  if (length >= 48) b.set([0xe9, 1, 2, 3, 4, 5, 6, 7], 40);
  return b;
}

function slot(size = 1024): ReplyBuffer {
  return emptyReplyBuffer(size);
}

interface Rig {
  path: PacketPath;
  stats: SysStats;
  mru: MruList;
  restrict: RestrictList;
  input: PacketIn;
  out: ReplyBuffer;
  /** Handles `data` from `src`:`port` at `t` seconds; returns the verdict's fields. */
  send(data: Uint8Array, src: string, port: number, t: number): {
    kind: VerdictKind;
    reason: string | null;
    kiss: string | null;
    forward: ForwardTo | null;
    length: number;
  };
  /** received = processed + every drop reason. */
  checkBalance(): void;
}

function rig(
  rules: [string, string | number | null, string[]][] = [],
  opts: {
    monitor?: boolean;
    mruDepth?: number;
    auth?: Authenticator;
    authRequired?: boolean;
    discard?: number;
    handlers?: Partial<Handlers>;
    mode7?: boolean;
  } = {},
): Rig {
  const restrict = new RestrictList();
  for (const [a, m, f] of rules) assert.equal(restrict.addRule(a, m, f), null);
  const stats = SysStats.create(1, 0);
  const mru = MruList.create({
    maxDepth: opts.mruDepth ?? 1000,
    ...(opts.discard !== undefined ? { discard: { averageLog2: opts.discard } } : {}),
  });
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict,
    mru,
    counters: stats.counters(0),
    ...(opts.monitor !== undefined ? { monitor: opts.monitor } : {}),
    ...(opts.auth ? { authenticator: opts.auth } : {}),
    ...(opts.authRequired !== undefined ? { authRequired: opts.authRequired } : {}),
    ...(opts.handlers ? { handlers: opts.handlers } : {}),
    ...(opts.mode7 !== undefined ? { mode7: opts.mode7 } : {}),
  });
  const input = new PacketIn();
  const out = slot();
  return {
    path,
    stats,
    mru,
    restrict,
    input,
    out,
    send(data, src, port, t) {
      input.data = data;
      assert.ok(input.src.parse(src), src);
      input.srcPort = port;
      input.rxUnixSec = Math.floor(t);
      input.rxUnixNsec = Math.round((t - Math.floor(t)) * 1e9);
      const v = path.handle(input, out);
      assert.ok(out.length <= data.length, "never a reply longer than the request");
      return {
        kind: v.kind,
        reason: v.reason,
        kiss: v.kiss,
        forward: v.forward,
        length: out.length,
      };
    },
    checkBalance() {
      const s = stats.snapshot(0);
      const drops = Object.values(s.drops).reduce((a, b) => a + b, 0);
      assert.equal(s.received, s.processed + drops, "received = processed + drops");
    },
  };
}

const T0 = 1_800_000_000;

Deno.test("PacketPath answers a client request into the slot", () => {
  const r = rig();
  const req = request();
  const v = r.send(req, "192.0.2.10", 40000, T0);
  assert.equal(v.kind, "reply");
  assert.equal(v.reason, null);
  assert.equal(v.length, 48);
  assert.equal(r.out.stampTransmit, true);
  const b = r.out.buffer;
  assert.equal(b[0]! & 7, 4, "server mode");
  assert.equal((b[0]! >> 3) & 7, 4);
  assert.equal(b[1], 2, "stratum");
  assert.deepEqual(b.subarray(24, 32), req.subarray(40, 48), "origin = request transmit");
  const s = r.stats.snapshot(0);
  assert.equal(s.received, 1);
  assert.equal(s.processed, 1);
  assert.equal(s.currentVersion, 1);
  assert.equal(r.mru.entries()[0]?.address, "192.0.2.10", "monitoring on by default");
  r.checkBalance();
});

Deno.test("PacketPath drops source port 0, impossible senders and malformed packets", () => {
  const r = rig();
  const cases: [Uint8Array, string, number, string][] = [
    [request(), "192.0.2.1", 0, "source_port_zero"],
    [request(), "0.0.0.0", 123, "source_invalid"],
    [request(), "224.0.1.1", 123, "source_invalid"],
    [request(), "ff02::101", 123, "source_invalid"],
    [new Uint8Array(0), "192.0.2.1", 9, "too_short"],
    [request(3, 4, 47), "192.0.2.1", 9, "too_short"],
    [request(3, 4, 50), "192.0.2.1", 9, "bad_length"],
    [request(3, 4, 56), "192.0.2.1", 9, "bad_mac_length"],
    [request(0, 4), "192.0.2.1", 9, "bad_mode"],
    [request(3, 0), "192.0.2.1", 9, "bad_version"],
    [request(3, 5), "192.0.2.1", 9, "bad_version"],
    [request(3, 1), "192.0.2.1", 9, "v1_client"],
    [request(6, 2, 8), "192.0.2.1", 9, "too_short"],
  ];
  for (const [data, src, port, reason] of cases) {
    const v = r.send(data, src, port, T0);
    assert.equal(v.kind, "drop", reason);
    assert.equal(v.reason, reason);
    assert.equal(v.length, 0);
  }
  const zero = request();
  zero.fill(0, 40, 48);
  assert.equal(r.send(zero, "192.0.2.1", 9, T0).reason, "zero_transmit");
  const s = r.stats.snapshot(0);
  assert.equal(s.badFormat, 11);
  assert.equal(s.badVersion, 3);
  r.checkBalance();
});

Deno.test("PacketPath dispatches by mode: 3 server, 2/4/5 core, 1 peer, 6 control, 7 dropped", () => {
  const r = rig([], { authRequired: false });
  const src = "198.51.100.7";
  assert.equal(r.send(request(3), src, 5000, T0).kind, "reply");
  for (const mode of [2, 4, 5]) {
    const v = r.send(request(mode), src, 123, T0 + mode * 100);
    assert.equal(v.kind, "core", `mode ${mode}`);
    assert.equal(v.length, 0, "nothing is sent in answer to a reply");
  }
  const peer = r.send(request(1), src, 123, T0 + 1000);
  assert.deepEqual([peer.kind, peer.forward], ["forward", "peer"]);
  const control = new Uint8Array(12);
  control[0] = (2 << 3) | 6;
  control[1] = 1; // read status
  const c = r.send(control, src, 40001, T0);
  assert.deepEqual([c.kind, c.forward], ["forward", "control"]);
  control[1] = 0x81; // a response
  assert.equal(r.send(control, src, 40001, T0).reason, "control_response");
  const mode7 = new Uint8Array(8);
  mode7[0] = (2 << 3) | 7;
  assert.equal(r.send(mode7, src, 40001, T0).reason, "private_mode");
  r.checkBalance();
});

Deno.test("PacketPath forwards mode 7 to its handler only with enable mode7; noquery first", () => {
  const r = rig([["192.0.2.66", null, ["noquery"]]], { mode7: true });
  const mode7 = new Uint8Array(192);
  mode7[0] = (2 << 3) | 7;
  mode7[2] = 3;
  mode7[3] = 1; // peer summary
  const v = r.send(mode7, "192.0.2.10", 40001, T0);
  assert.deepEqual([v.kind, v.forward, v.length], ["forward", "mode7", 0]);
  assert.equal(r.send(mode7, "192.0.2.66", 40001, T0).reason, "noquery");
  r.path.setMode7(false);
  assert.equal(r.send(mode7, "192.0.2.10", 40001, T0).reason, "private_mode");
  r.path.setMode7(true);
  r.path.setHandlers({ mode7: false });
  assert.equal(r.send(mode7, "192.0.2.10", 40001, T0).reason, "no_handler");
  const s = r.stats.snapshot(0);
  assert.equal(s.processed, 1);
  assert.equal(s.drops.private_mode, 1);
  r.checkBalance();
  // A server thread with mode 7 on hands it to the main thread, which counts it there.
  const stats = SysStats.create(2, 0);
  const worker = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: null,
    counters: stats.counters(1),
    serverThread: true,
    mode7: true,
  });
  const main = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: null,
    counters: stats.counters(0),
  });
  const p = new PacketIn();
  p.data = mode7;
  p.src.parse("192.0.2.12");
  p.srcPort = 4000;
  const out = slot();
  const w = worker.handle(p, out);
  assert.deepEqual([w.kind, w.forward], ["forward", "mode7"]);
  const m = main.acceptForwarded(p, out, w.kind, w.forward, w.restrictFlags);
  assert.deepEqual([m.kind, m.forward], ["forward", "mode7"]);
  assert.equal(stats.snapshot(0).processed, 1);
});

Deno.test("PacketPath drops what no handler on this thread takes, as no_handler, never processed", () => {
  const r = rig([], {
    handlers: { core: false, control: false, peer: false },
    authRequired: false,
  });
  for (const mode of [1, 2, 4, 5, 6]) {
    const data = mode === 6 ? new Uint8Array(12).fill(0) : request(mode);
    data[0] = (4 << 3) | mode;
    const v = r.send(data, "192.0.2.10", 40000 + mode, T0 + mode);
    assert.deepEqual([v.kind, v.reason], ["drop", "no_handler"], `mode ${mode}`);
  }
  assert.equal(r.send(request(3), "192.0.2.10", 40000, T0 + 9).kind, "reply", "the server stays");
  r.path.setHandlers({ core: true });
  assert.equal(r.send(request(4), "192.0.2.11", 123, T0 + 10).kind, "core");
  const s = r.stats.snapshot(0);
  assert.equal(s.drops.no_handler, 5);
  assert.equal(s.processed, 2);
  r.checkBalance();
  // A server thread hands everything on: the main thread's handlers decide when it takes it.
  const stats = SysStats.create(2, 0);
  const worker = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: null,
    counters: stats.counters(1),
    serverThread: true,
    handlers: { core: false },
  });
  const main = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru: null,
    counters: stats.counters(0),
    handlers: { core: false },
  });
  const p = new PacketIn();
  p.data = request(4);
  p.src.parse("192.0.2.12");
  p.srcPort = 123;
  const out = slot();
  const v = worker.handle(p, out);
  assert.equal(v.kind, "core");
  assert.equal(main.acceptForwarded(p, out, "core", null, v.restrictFlags).reason, "no_handler");
  const totals = stats.snapshot(0);
  assert.equal(totals.received, 1);
  assert.equal(totals.drops.no_handler, 1);
  assert.deepEqual(stats.threadTotals(1), { received: 1, processed: 0, dropped: 0, kissesSent: 0 });
  assert.deepEqual(stats.threadTotals(0), { received: 0, processed: 0, dropped: 1, kissesSent: 0 });
});

Deno.test("PacketPath: the most specific restrict entry decides; -4 and -6 defaults apart", () => {
  const r = rig([
    ["0.0.0.0", "0.0.0.0", ["ignore"]],
    ["::", "::", ["noserve"]],
    ["127.0.0.0", 8, ["noquery"]],
    ["127.0.0.5", null, ["ignore"]],
    ["10.0.0.0", "255.255.0.0", []],
  ]);
  assert.equal(r.send(request(), "192.0.2.1", 4000, T0).reason, "ignored", "-4 default");
  assert.equal(r.send(request(), "::1", 4000, T0).reason, "noserve", "-6 default");
  assert.equal(r.send(request(), "127.0.0.9", 4000, T0).kind, "reply", "prefix");
  assert.equal(r.send(request(), "127.0.0.5", 4000, T0).reason, "ignored", "host");
  assert.equal(r.send(request(), "10.0.77.1", 4000, T0).kind, "reply", "mask");
  assert.equal(r.send(request(), "10.1.0.1", 4000, T0).reason, "ignored");
  const control = new Uint8Array(12);
  control[0] = (2 << 3) | 6;
  assert.equal(r.send(control, "127.0.0.9", 4000, T0).reason, "noquery");
  assert.equal(r.send(control, "::1", 4000, T0).kind, "forward", "noserve allows queries");
  assert.equal(r.stats.snapshot(0).accessDenied, 5);
  r.checkBalance();
});

Deno.test("PacketPath: ntpport and version flags", () => {
  const r = rig([
    ["192.0.2.0", 24, ["ntpport", "noserve"]],
    ["192.0.2.0", 24, ["version"]],
  ]);
  assert.equal(r.send(request(3, 4), "192.0.2.3", 123, T0).reason, "noserve");
  assert.equal(r.send(request(3, 4), "192.0.2.3", 50000, T0 + 10).kind, "reply");
  assert.equal(r.send(request(3, 3), "192.0.2.4", 50000, T0).reason, "version");
  assert.equal(r.send(request(3, 3), "192.0.2.5", 123, T0).reason, "noserve");
  assert.equal(r.send(request(3, 3), "198.51.100.1", 50000, T0).kind, "reply", "v3 elsewhere");
  const s = r.stats.snapshot(0);
  assert.equal(s.oldVersion, 3);
  assert.equal(s.currentVersion, 2);
});

Deno.test("PacketPath never answers its own address and port", () => {
  const r = rig();
  r.restrict.addOwnAddress("127.0.0.1", 12300);
  assert.equal(r.send(request(3), "127.0.0.1", 12300, T0).reason, "own_address");
  assert.equal(r.send(request(3), "127.0.0.1", 40000, T0).kind, "reply", "local client");
});

Deno.test("PacketPath: noserve kod sends a DENY kiss, spaced per client; without kod, silence", () => {
  const r = rig([["192.0.2.0", 24, ["noserve", "kod"]], ["198.51.100.0", 24, ["noserve"]]]);
  const req = request(3, 4, 48, 4);
  const v = r.send(req, "192.0.2.9", 40000, T0);
  assert.deepEqual([v.kind, v.kiss, v.reason, v.length], ["reply", "DENY", "noserve", 48]);
  const b = r.out.buffer;
  assert.equal(b[0]! >> 6, 3, "leap: unsynchronised");
  assert.equal(b[0]! & 7, 4);
  assert.equal(b[1], 0, "stratum 0");
  assert.equal(String.fromCharCode(...b.subarray(12, 16)), "DENY");
  assert.equal(b[2], 4, "the client's poll, at least the average (3)");
  assert.deepEqual(b.subarray(24, 32), req.subarray(40, 48));
  // Within 2^3 s no second kiss; after it, one more.
  assert.equal(r.send(req, "192.0.2.9", 40000, T0 + 5).kind, "drop");
  assert.equal(r.send(req, "192.0.2.9", 40000, T0 + 9).kiss, "DENY");
  assert.equal(r.send(req, "198.51.100.1", 40000, T0).kind, "drop");
  const s = r.stats.snapshot(0);
  assert.equal(s.kissesSent, 2);
  assert.equal(s.accessDenied, 4);
  r.checkBalance();
});

Deno.test("PacketPath: limited kod drops a too-fast client with spaced RATE kisses, serves a polite one", () => {
  const r = rig([["0.0.0.0", "0.0.0.0", ["limited", "kod"]]]);
  const kinds: string[] = [];
  // A client every 0.2 s for 30 s (closer than the minimum spacing), and a polite one.
  let polite = 0;
  for (let k = 0; k < 150; k++) {
    const t = T0 + k * 0.2;
    const v = r.send(request(3, 4, 48, 6), "203.0.113.50", 1024 + k, t);
    kinds.push(v.kiss ?? v.kind);
    if (k % 32 === 0) {
      assert.equal(r.send(request(), "203.0.113.60", 40000, t).kind, "reply");
      polite++;
    }
  }
  assert.equal(kinds[0], "reply", "the first packet is within the rates");
  assert.equal(kinds[1], "RATE", "the first one over the rates gets a kiss");
  // Kisses are spaced by 2^3 s: at 0.2, 8.2, 16.2 and 24.2 s; a flood never drains its score.
  assert.deepEqual(
    kinds.flatMap((k, i) => k === "RATE" ? [i] : []),
    [1, 41, 81, 121],
  );
  assert.equal(kinds.filter((k) => k === "reply").length, 1, "served once");
  const s = r.stats.snapshot(0);
  assert.equal(s.kissesSent, 4);
  assert.equal(s.rateExceeded, 149);
  assert.equal(s.processed, 1 + polite);
  r.checkBalance();
});

Deno.test("PacketPath: the minimum spacing has ntpd's rounding and 1 s of grace", () => {
  const r = rig([["0.0.0.0", "0.0.0.0", ["limited"]]]);
  // 0.5 s rounds to 1 s, within the 2 s minimum with its grace: only the average stops it.
  const kinds: string[] = [];
  for (let k = 0; k < 20; k++) kinds.push(r.send(request(), "192.0.2.1", 999, T0 + k / 2).kind);
  const firstDrop = kinds.indexOf("drop");
  assert.ok(firstDrop > 5, `first drop at ${firstDrop}`);
  assert.ok(kinds.slice(firstDrop).every((k) => k === "drop"));
});

Deno.test("PacketPath: a limited client's replies and broadcasts are dropped, never kissed", () => {
  const r = rig([["0.0.0.0", "0.0.0.0", ["limited", "kod"]]]);
  for (const mode of [4, 2, 5]) {
    for (let k = 0; k < 20; k++) {
      const v = r.send(request(mode), `192.0.2.${mode}`, 123, T0 + k * 0.1);
      assert.equal(v.length, 0);
      assert.equal(v.kiss, null);
    }
  }
  // A kiss (mode 4, stratum 0) is a reply like any other.
  const kod = request(4);
  kod[1] = 0;
  kod.set([0x52, 0x41, 0x54, 0x45], 12);
  for (let k = 0; k < 5; k++) assert.equal(r.send(kod, "192.0.2.9", 123, T0 + k).length, 0);
  assert.equal(r.stats.snapshot(0).kissesSent, 0);
  r.checkBalance();
});

Deno.test("PacketPath: disable monitor keeps the MRU empty unless limited/kod need it", () => {
  const off = rig([], { monitor: false });
  off.send(request(), "192.0.2.1", 4000, T0);
  assert.equal(off.mru.entries().length, 0);
  assert.equal(off.path.monitoring, false);
  const on = rig();
  on.send(request(), "192.0.2.1", 4000, T0);
  assert.equal(on.mru.entries().length, 1);
  on.path.setMonitor(false);
  assert.equal(on.mru.entries().length, 0, "disable monitor empties the list");
  on.send(request(), "192.0.2.1", 4000, T0 + 1);
  assert.equal(on.mru.entries().length, 0);
  const needed = rig([["10.0.0.0", 8, ["limited"]]], { monitor: false });
  needed.send(request(), "192.0.2.1", 4000, T0);
  assert.equal(needed.mru.entries().length, 1);
  assert.equal(needed.path.monitoring, true);
});

Deno.test("PacketPath: a MAC with no keys gets a crypto-NAK; notrust denies the unauthenticated", () => {
  const r = rig();
  const v = r.send(request(3, 4, 68), "192.0.2.1", 4000, T0);
  assert.deepEqual([v.kind, v.reason, v.length], ["reply", "unknown_key", 52]);
  assert.equal(new DataView(r.out.buffer.buffer).getUint32(48), 0, "key id 0, no digest");
  assert.equal(r.stats.snapshot(0).badAuth, 1);
  const t = rig([["0.0.0.0", 0, ["notrust", "kod"]]], {
    auth: { check: (_d, mac) => mac >= 0 ? "ok" : "none", signer: { finalize: () => {} } },
  });
  const denied = t.send(request(), "192.0.2.1", 4000, T0);
  assert.deepEqual([denied.kiss, denied.reason], ["DENY", "notrust"]);
  assert.equal(t.send(request(3, 4, 68), "192.0.2.2", 4000, T0).kind, "reply", "authenticated");
  t.checkBalance();
});

Deno.test("PacketPath: a server thread hands on, the main thread counts; limits are shared", () => {
  const restrict = new RestrictList();
  restrict.addRule("0.0.0.0", 0, ["limited", "kod"]);
  const stats = SysStats.create(2, 0, true);
  const mru = MruList.create({ maxDepth: 100, shared: true });
  const main = new PacketPath({
    server: new Server(SYNCED),
    restrict,
    mru,
    counters: stats.counters(0),
    authenticator: { check: () => "ok", signer: { finalize: () => {} } },
  });
  const worker = new PacketPath({
    server: new Server(SYNCED),
    restrict,
    mru: MruList.attach(mru.buffer, 1),
    counters: SysStats.attach(stats.buffer).counters(1),
    authenticator: { check: (_d, mac) => mac >= 0 ? "forward" : "none", signer: null },
    authRequired: false,
    serverThread: true,
  });
  const p = new PacketIn();
  const out = slot();
  p.src.parse("192.0.2.77");
  // One client whose ports land on both threads: the second packet, on the other thread, is
  // still too soon.
  p.data = request();
  p.srcPort = 1000;
  p.rxUnixSec = T0;
  assert.equal(main.handle(p, out).kind, "reply");
  p.srcPort = 1001;
  p.rxUnixNsec = 100_000_000;
  assert.equal(worker.handle(p, out).kiss, "RATE");
  // A reply to the daemon's poll, on the worker: handed to the main thread, counted there.
  p.src.parse("198.51.100.1");
  p.data = request(4);
  const v = worker.handle(p, out);
  assert.equal(v.kind, "core");
  assert.equal(main.acceptForwarded(p, out, v.kind, v.forward, v.restrictFlags).kind, "core");
  // A MAC'd request: the worker forwards it for authentication; the main thread answers.
  p.src.parse("198.51.100.2");
  p.data = request(3, 4, 68);
  const f = worker.handle(p, out);
  assert.deepEqual([f.kind, f.forward], ["forward", "auth"]);
  const a = main.acceptForwarded(p, out, f.kind, f.forward, f.restrictFlags);
  assert.deepEqual([a.kind, a.reason, out.length, a.keyId], ["reply", null, 68, 0]);
  assert.ok(out.finalize !== null, "signed after the transmit stamp");
  // A forward the worker could not deliver.
  p.src.parse("198.51.100.3");
  p.data = request(1);
  const lost = worker.handle(p, out);
  assert.equal(lost.forward, "peer");
  worker.forwardDropped();
  const s = stats.snapshot(0);
  assert.equal(s.received, 5);
  assert.equal(s.processed, 3);
  assert.equal(s.drops.rate_limited, 1);
  assert.equal(s.drops.overload, 1);
  assert.equal(s.kissesSent, 1);
});

Deno.test("PacketPath: never a reply to anything but a request, never longer than it (property)", () => {
  const r = rig([["0.0.0.0", 0, ["kod", "limited"]], ["10.0.0.0", 8, ["noserve", "kod"]]], {
    mruDepth: 50,
  });
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 120 }),
      fc.constantFrom("10.1.1.1", "192.0.2.1", "2001:db8::1", "10.2.2.2"),
      fc.integer({ min: 0, max: 65535 }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      (data, src, port, dt) => {
        const v = r.send(data, src, port, T0 + dt);
        const mode = data.length > 0 ? data[0]! & 7 : -1;
        if (v.length > 0) {
          assert.ok(mode === 3 || mode === 1, `reply to mode ${mode}`);
          assert.ok(data.length >= 48);
        }
        if (v.kiss !== null) assert.equal(v.length, 48);
      },
    ),
    { seed: SEED, numRuns: 3000 },
  );
  r.checkBalance();
});

Deno.test("PacketPath: one address flooding from many ports while a client polls", () => {
  const r = rig([["0.0.0.0", 0, ["limited", "kod"]]]);
  let served = 0;
  let kisses = 0;
  let politeServed = 0;
  const polls = 20;
  // 200 s of flood at 1000 packets/s from one address (port changes every packet), and a
  // client polling every 10 s.
  for (let k = 0; k < 200_000; k++) {
    const t = T0 + k / 1000;
    const v = r.send(request(), "203.0.113.9", 1024 + (k % 60000), t);
    if (v.kiss !== null) kisses++;
    else if (v.kind === "reply") served++;
    if (k % 10_000 === 0) {
      if (r.send(request(), "192.0.2.200", 51000, t).kind === "reply") politeServed++;
    }
  }
  assert.equal(politeServed, polls, "the polite client keeps every sample");
  assert.ok(served <= 200 / 8 + 1, `flooder served ${served} times`);
  assert.ok(kisses <= 200 / 8 + 1, `kisses ${kisses}`);
  const s = r.stats.snapshot(0);
  assert.equal(s.kissesSent, kisses);
  assert.equal(s.received, 200_000 + polls);
  r.checkBalance();
});

Deno.test("PacketPath: a million distinct sources leave the MRU list within its bound", () => {
  // The default sizing (1024 KiB): the entry count is fixed by the byte bound.
  const stats = SysStats.create(1, 0);
  const mru = MruList.create({});
  const path = new PacketPath({
    server: new Server(SYNCED),
    restrict: new RestrictList(),
    mru,
    counters: stats.counters(0),
  });
  const p = new PacketIn();
  const out = slot();
  p.data = request();
  p.srcPort = 40000;
  const before = mru.buffer.byteLength;
  const heapBefore = Deno.memoryUsage().heapUsed;
  const n = 1_000_000;
  let replies = 0;
  for (let i = 0; i < n; i++) {
    // Distinct addresses spread over the IPv4 space (i × a large odd number is a bijection).
    p.src.setV4(0x0b000000 + 97 * i); // 11.0.0.0 onwards, all unicast, all distinct
    if (i % 10 === 0) {
      p.src.setV6(0x20010db8, i, 0, 1); // and some IPv6 ones
    }
    p.rxUnixSec = T0 + Math.floor(i / 10_000); // 10,000 packets per second
    p.rxUnixNsec = (i % 10_000) * 100_000;
    if (path.handle(p, out).kind === "reply") replies++;
  }
  const m = mru.stats();
  assert.equal(replies, n, "every one served");
  assert.ok(m.entries <= m.capacity);
  assert.equal(m.entries, m.capacity, "the list filled up");
  assert.ok(m.capacity < 20_000, `capacity ${m.capacity}`);
  assert.equal(mru.buffer.byteLength, before, "fixed memory");
  assert.ok(m.recycled > 0, "old entries gave way");
  assert.equal(m.added - m.recycled, m.entries);
  const heapGrowthMb = (Deno.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  assert.ok(heapGrowthMb < 64, `heap grew ${heapGrowthMb.toFixed(1)} MB`);
  const s = stats.snapshot(0);
  assert.equal(s.received, n);
  assert.equal(s.processed, n);
});

Deno.test("PacketPath counts NTPv1 packets by mode (NTPsec's ss_ver1* counters), answers none", () => {
  const r = rig();
  const v1 = (mode: number) => {
    const d = request(3, 1);
    d[0] = (1 << 3) | mode;
    return d;
  };
  assert.equal(r.send(v1(3), "192.0.2.1", 4000, T0).reason, "v1_client");
  assert.equal(r.send(v1(1), "192.0.2.1", 4000, T0).reason, "v1_symmetric");
  assert.equal(r.send(v1(0), "192.0.2.1", 4000, T0).reason, "v1_mode0");
  assert.equal(r.send(v1(4), "192.0.2.1", 4000, T0).reason, "v1_other");
  const s = r.stats.snapshot(0);
  assert.equal(s.badVersion, 4);
  assert.equal(s.processed, 0);
  const get = (name: string) => SYSSTATS_VARS.find((v) => v.name === name)!.get(s);
  assert.deepEqual(
    ["ss_ver1", "ss_ver1client", "ss_ver1zero", "ss_ver1symm"].map(get),
    ["4", "1", "1", "1"],
  );
  r.checkBalance();
});
