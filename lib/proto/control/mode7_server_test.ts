import assert from "node:assert/strict";
import fc from "fast-check";
import { IpWords } from "../ip.ts";
import { fromUnix, type NtpTime } from "../ntp_time.ts";
import { PeerSelect } from "./control_view.ts";
import { FakeControlView, fakePeer } from "./fake_control_view.ts";
import {
  decodeKernelItem,
  decodeLoopInfoItem,
  decodeMemStatsItem,
  decodeMode7,
  decodePeerInfoItem,
  decodePeerListItem,
  decodePeerSummaryItem,
  decodeSysInfoItem,
  decodeSysStatsItem,
  encodeMode7Request,
  encodePeerListItem,
  IMPL_XNTPD_OLD,
  MODE7_REQUEST_LEN,
  Mode7Err,
  mode7Items,
  Mode7Req,
  PeerFlag,
  SysFlag,
} from "./mode7.ts";
import {
  type Mode7Answer,
  type Mode7Extras,
  Mode7Server,
  type Mode7ServerOptions,
} from "./mode7_server.ts";

const NOW: NtpTime = fromUnix(1_700_000_000);
const LOOPBACK = new IpWords().setV4(0x7f000001);
const REMOTE = new IpWords().setV4(0xc6336401); // 198.51.100.1

const extras: Mode7Extras = {
  systemFlags: () => SysFlag.NTP | SysFlag.KERNEL | SysFlag.MONITOR | SysFlag.FILEGEN,
  memory: () => ({ findPeerCalls: 77, allocations: 3, demobilizations: 1 }),
  pollAdjust: () => 30,
};

function server(view = new FakeControlView(), o: Partial<Mode7ServerOptions> = {}) {
  return new Mode7Server({ view, extras, ...o });
}

function ask(s: Mode7Server, data: Uint8Array, src = LOOPBACK, now = NOW): Mode7Answer {
  return s.handle({ data, src, srcPort: 40000 }, now);
}

/** The items of an answer, all datagrams together, with the header of the first. */
function itemsOf(a: Mode7Answer) {
  const out: Uint8Array[] = [];
  let itemSize = -1;
  let error = -1;
  for (const d of a.replies) {
    const m = decodeMode7(d);
    assert.ok(m.ok);
    assert.equal(m.message.response, true);
    error = m.message.error;
    itemSize = m.message.itemSize;
    out.push(...mode7Items(m.message)!);
  }
  return { items: out, itemSize, error };
}

Deno.test("Mode7Server answers the peer summary collectd reads", () => {
  const view = new FakeControlView();
  const a = ask(server(view), encodeMode7Request({ request: Mode7Req.PEER_LIST_SUM }));
  assert.equal(a.outcome, "answered");
  const { items, itemSize } = itemsOf(a);
  assert.equal(itemSize, 72);
  const p = items.map(decodePeerSummaryItem);
  assert.deepEqual(p.map((x) => x.srcAddress), ["192.0.2.1", "192.0.2.2"]);
  assert.equal(p[0]!.flags & PeerFlag.SYSPEER, PeerFlag.SYSPEER);
  assert.equal(p[1]!.flags & PeerFlag.SYSPEER, 0);
  assert.equal(p[0]!.reach, 0xff);
  assert.equal(p[0]!.hmode, 3);
  assert.ok(Math.abs(p[0]!.offsetSec - 0.000123) < 1e-9);
  assert.ok(Math.abs(p[0]!.delaySec - 0.000456) < 2e-5);
  assert.equal(p[0]!.dstAddress, "192.0.2.200");
});

Deno.test("Mode7Server answers the peer list, and peer info for the peers asked", () => {
  const view = new FakeControlView();
  view.peerList.push(fakePeer(3, { srcAddress: "2001:db8::3", selection: PeerSelect.OUTLIER }));
  const s = server(view);
  const list = itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.PEER_LIST })));
  assert.equal(list.itemSize, 32);
  assert.deepEqual(list.items.map((b) => decodePeerListItem(b).address), [
    "192.0.2.1",
    "192.0.2.2",
    "2001:db8::3",
  ]);
  const q = [
    encodePeerListItem({ address: "192.0.2.2", port: 123, hmode: 0, flags: 0 }, 32),
    encodePeerListItem({ address: "203.0.113.9", port: 123, hmode: 0, flags: 0 }, 32),
    encodePeerListItem({ address: "2001:db8::3", port: 123, hmode: 0, flags: 0 }, 32),
  ];
  const a = ask(s, encodeMode7Request({ request: Mode7Req.PEER_INFO, items: q, itemSize: 32 }));
  const info = itemsOf(a);
  assert.equal(info.itemSize, 280);
  const got = info.items.map(decodePeerInfoItem);
  // The unknown peer is left out, as ntpd does.
  assert.deepEqual(got.map((p) => p.srcAddress), ["192.0.2.2", "2001:db8::3"]);
  assert.equal(got[0]!.associd, 2);
  assert.equal(got[1]!.flags & PeerFlag.SEL_CANDIDATE, PeerFlag.SEL_CANDIDATE);
  assert.equal(got[1]!.flags & PeerFlag.SHORTLIST, 0);
  // The filter register, with delays in order: stage 0 is the shortest.
  assert.ok(Math.abs(got[0]!.filter[7]!.offsetSec - 0.000107) < 1e-9);
  assert.equal(got[0]!.filter.map((f) => f.order).join(","), "0,1,2,3,4,5,6,7");
  assert.ok(Math.abs(got[0]!.selectDispersionSec - 0.000012) < 2e-5);
});

Deno.test("Mode7Server: an IPv4-only client (implementation 2) gets IPv4 layouts, no IPv6 peer", () => {
  const view = new FakeControlView();
  view.peerList.push(fakePeer(3, { srcAddress: "2001:db8::3" }));
  const a = ask(
    server(view),
    encodeMode7Request({ request: Mode7Req.PEER_LIST_SUM, implementation: IMPL_XNTPD_OLD }),
  );
  const { items, itemSize } = itemsOf(a);
  assert.equal(itemSize, 32);
  assert.equal(items.length, 2);
});

Deno.test("Mode7Server answers sysinfo, sysstats, loopinfo, kerninfo, memstats, iostats", () => {
  const view = new FakeControlView();
  const s = server(view);
  const sys = decodeSysInfoItem(
    itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.SYS_INFO }))).items[0]!,
  );
  assert.equal(sys.peerAddress, "192.0.2.1");
  assert.equal(sys.stratum, 3);
  assert.equal(sys.refid, 0xc0000201);
  assert.equal(sys.flags, SysFlag.NTP | SysFlag.KERNEL | SysFlag.MONITOR | SysFlag.FILEGEN);
  assert.ok(Math.abs(sys.jitterSec - 0.00002) < 2e-5);
  const ss = decodeSysStatsItem(
    itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.SYS_STATS }))).items[0]!,
  );
  assert.equal(ss.received, 10);
  assert.equal(ss.processed, 8);
  assert.equal(ss.newVersion, 9);
  const loop = decodeLoopInfoItem(
    itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.LOOP_INFO }))).items[0]!,
  );
  assert.equal(loop.driftPpm, -12.5);
  assert.equal(loop.compliance, 30);
  const k = decodeKernelItem(
    itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.GET_KERNEL }))).items[0]!,
  );
  assert.equal(k.freq, -12.5 * 65536);
  assert.equal(k.precision, 1); // nanoseconds: STA_NANO is set
  assert.equal(k.maxError, 16000);
  const mem = decodeMemStatsItem(
    itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.MEM_STATS }))).items[0]!,
  );
  assert.equal(mem.totalPeerMem, 2);
  assert.equal(mem.allocations, 3);
  assert.equal(mem.findPeerCalls, 77);
  assert.equal(mem.hashCount.reduce((x, y) => x + y, 0), 2);
  const io = itemsOf(ask(s, encodeMode7Request({ request: Mode7Req.IO_STATS })));
  assert.equal(io.itemSize, 40);
  view.kernelState = null;
  assert.equal(
    ask(s, encodeMode7Request({ request: Mode7Req.GET_KERNEL })).errorCode,
    Mode7Err.NODATA,
  );
});

Deno.test("Mode7Server refuses monlist, configuration and every other request", () => {
  const s = server();
  for (const code of [Mode7Req.MON_GETLIST, Mode7Req.MON_GETLIST_1, Mode7Req.CONFIG, 16, 3, 99]) {
    const a = ask(s, encodeMode7Request({ request: code }));
    assert.equal(a.errorCode, Mode7Err.REQ, `request ${code}`);
    assert.equal(a.replies[0]!.length, 8);
  }
  assert.equal(ask(s, encodeMode7Request({ request: 1, implementation: 9 })).errorCode, 1);
  assert.equal(ask(s, encodeMode7Request({ request: 1, implementation: 0 })).errorCode, 2);
});

Deno.test("Mode7Server: wrong item sizes are format errors; malformed requests get nothing", () => {
  const s = server();
  const sized = encodeMode7Request({ request: Mode7Req.SYS_INFO });
  sized[7] = 4;
  assert.equal(ask(s, sized).errorCode, Mode7Err.FMT);
  const info = encodeMode7Request({
    request: Mode7Req.PEER_INFO,
    items: [new Uint8Array(12)],
    itemSize: 12,
  });
  assert.equal(ask(s, info).errorCode, Mode7Err.FMT);
  const response = encodeMode7Request({ request: 1 });
  response[0]! |= 0x80;
  const seq = encodeMode7Request({ request: 1 });
  seq[1] = 3;
  const v5 = encodeMode7Request({ request: 1, version: 5 });
  for (const bad of [response, seq, v5, new Uint8Array(5)]) {
    assert.deepEqual(ask(s, bad).replies, []);
  }
  assert.equal(s.counters().badFormat, 4);
  // Nothing to say is "no data", as ntpd answers an empty list.
  const empty = new FakeControlView();
  empty.peerList = [];
  assert.equal(
    ask(server(empty), encodeMode7Request({ request: 1 })).errorCode,
    Mode7Err.NODATA,
  );
});

Deno.test("Mode7Server never throws on any datagram", () => {
  const s = server();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (b) => {
      if (b.length > 0) b[0] = (b[0]! & 0x38) | 7;
      const a = s.handle({ data: b, src: REMOTE, srcPort: 1 }, NOW);
      for (const r of a.replies) assert.ok(r.length <= Math.max(8, b.length));
    }),
    { seed: 11, numRuns: 3000 },
  );
});

Deno.test("Mode7Server: no answer to a non-loopback source is larger than its request", () => {
  const view = new FakeControlView();
  for (let i = 3; i <= 12; i++) view.peerList.push(fakePeer(i));
  const codes = [
    Mode7Req.PEER_LIST,
    Mode7Req.PEER_LIST_SUM,
    Mode7Req.SYS_INFO,
    Mode7Req.SYS_STATS,
    Mode7Req.IO_STATS,
    Mode7Req.MEM_STATS,
    Mode7Req.LOOP_INFO,
    Mode7Req.GET_KERNEL,
    Mode7Req.MON_GETLIST,
    Mode7Req.MON_GETLIST_1,
  ];
  const ratios: string[] = [];
  let t = NOW;
  for (const len of [8, 48, MODE7_REQUEST_LEN]) {
    for (const code of codes) {
      // A fresh server each time: the bound, not the byte budget, is under test.
      const s = server(view);
      const req = encodeMode7Request({ request: code }).subarray(0, len);
      const a = ask(s, req, REMOTE, t);
      const bytes = a.replies.reduce((n, r) => n + r.length, 0);
      ratios.push(`${code}/${len}: ${(bytes / len).toFixed(2)}`);
      assert.ok(bytes <= len, `request ${code} of ${len} bytes got ${bytes}`);
      t += 1n << 32n;
    }
    const q = [encodePeerListItem({ address: "192.0.2.1", port: 123, hmode: 0, flags: 0 }, 32)];
    const info = encodeMode7Request({ request: Mode7Req.PEER_INFO, items: q, itemSize: 32 });
    const a = ask(server(view), info, REMOTE);
    assert.equal(a.errorCode, Mode7Err.AUTH);
    assert.ok(a.replies[0]!.length <= info.length);
  }
  // Small answers still go out: sysinfo (88 bytes) fits in ntpdc's 192-byte request.
  const a = ask(server(view), encodeMode7Request({ request: Mode7Req.SYS_INFO }), REMOTE);
  assert.equal(a.outcome, "answered");
  // The same large list goes whole to loopback.
  const local = ask(server(view), encodeMode7Request({ request: 1 }), LOOPBACK);
  assert.equal(local.outcome, "answered");
  assert.equal(itemsOf(local).items.length, 12);
  assert.ok(ratios.length === 30);
});

Deno.test("Mode7Server: a source over its byte budget gets nothing until it refills", () => {
  const s = server(new FakeControlView(), {
    limits: { sourceBurstBytes: 400, sourceBytesPerSec: 100 },
  });
  const req = encodeMode7Request({ request: Mode7Req.SYS_INFO });
  let answered = 0;
  for (let i = 0; i < 10; i++) if (ask(s, req, REMOTE).outcome === "answered") answered++;
  // 88 bytes each out of 400.
  assert.equal(answered, 4);
  assert.equal(ask(s, req, REMOTE).outcome, "rate_limited");
  // Another source has its own budget.
  assert.equal(ask(s, req, new IpWords().setV4(0xc6336402)).outcome, "answered");
  // One second later: 100 more bytes, one more answer.
  assert.equal(ask(s, req, REMOTE, NOW + (1n << 32n)).outcome, "answered");
  assert.ok(s.counters().rateLimited >= 6);
});

Deno.test("Mode7Server kerninfo carries the kernel PPS readout (nanoseconds with STA_NANO)", () => {
  const view = new FakeControlView();
  view.kernelState = {
    ...view.kernelState!,
    status: 0x2107,
    pps: {
      freqPpm: -15.25,
      jitterSec: 1.2e-6,
      intervalLog2: 6,
      stabilityPpm: 0.5,
      jitterExceeded: 1,
      calibrations: 40,
      errors: 3,
      stabilityExceeded: 2,
    },
  };
  const k = decodeKernelItem(
    itemsOf(ask(server(view), encodeMode7Request({ request: Mode7Req.GET_KERNEL }))).items[0]!,
  );
  assert.deepEqual(
    [k.shift, k.ppsFreq, k.jitter, k.stabil, k.jitCnt, k.calCnt, k.errCnt, k.stbCnt],
    [6, -15.25 * 65536, 1200, 0.5 * 65536, 1, 40, 3, 2],
  );
});
