import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeIoStatsItem,
  decodeKernelItem,
  decodeLoopInfoItem,
  decodeMemStatsItem,
  decodeMode7,
  decodePeerInfoItem,
  decodePeerListItem,
  decodePeerSummaryItem,
  decodeSysInfoItem,
  decodeSysStatsItem,
  encodeIoStatsItem,
  encodeKernelItem,
  encodeLoopInfoItem,
  encodeMemStatsItem,
  encodeMode7Answer,
  encodeMode7Error,
  encodeMode7Request,
  encodePeerInfoItem,
  encodePeerListItem,
  encodePeerSummaryItem,
  encodeSysInfoItem,
  encodeSysStatsItem,
  fromSignedLfp,
  IMPL_XNTPD,
  ItemSize,
  MODE7_REQUEST_LEN,
  mode7Items,
  Mode7Req,
  type PeerInfoItem,
  toSFp,
  toSignedLfp,
  toUFp,
} from "./mode7.ts";

Deno.test("encodeMode7Request() writes ntpdc's 192-byte request header", () => {
  const req = encodeMode7Request({ request: Mode7Req.PEER_LIST_SUM });
  assert.equal(req.length, MODE7_REQUEST_LEN);
  assert.equal(req.length, 192);
  // response 0, more 0, version 2, mode 7; auth 0, sequence 0; implementation 3; request 1.
  assert.deepEqual([...req.subarray(0, 8)], [0x17, 0, 3, 1, 0, 0, 0, 0]);
  const d = decodeMode7(req);
  assert.ok(d.ok);
  assert.equal(d.message.version, 2);
  assert.equal(d.message.response, false);
  assert.equal(d.message.implementation, IMPL_XNTPD);
});

Deno.test("encodeMode7Request() carries items and their size; mode7Items() cuts them", () => {
  const a = encodePeerListItem({ address: "192.0.2.1", port: 123, hmode: 0, flags: 0 }, 32);
  const b = encodePeerListItem({ address: "2001:db8::1", port: 123, hmode: 0, flags: 0 }, 32);
  const req = encodeMode7Request({ request: Mode7Req.PEER_INFO, items: [a, b], itemSize: 32 });
  assert.equal((req[4]! << 8) | req[5]!, 2);
  assert.equal((req[6]! << 8) | req[7]!, 32);
  const d = decodeMode7(req);
  assert.ok(d.ok);
  const items = mode7Items(d.message)!;
  assert.equal(decodePeerListItem(items[0]!).address, "192.0.2.1");
  assert.equal(decodePeerListItem(items[1]!).address, "2001:db8::1");
  assert.throws(
    () => encodeMode7Request({ request: 2, items: [a, a, a, a, a, a], itemSize: 32 }),
    RangeError,
  );
});

Deno.test("mode7Items() is null when the items claimed do not fit", () => {
  const req = encodeMode7Request({ request: Mode7Req.PEER_INFO }).subarray(0, 20);
  req[5] = 2;
  req[7] = 32;
  const d = decodeMode7(req);
  assert.ok(d.ok);
  assert.equal(mode7Items(d.message), null);
});

Deno.test("decodeMode7() never throws and rejects what is not mode 7", () => {
  assert.deepEqual(decodeMode7(new Uint8Array(7)), { ok: false, reason: "too_short" });
  assert.deepEqual(decodeMode7(new Uint8Array(8).fill(0x1b)), { ok: false, reason: "not_mode7" });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const d = decodeMode7(b);
      if (d.ok) mode7Items(d.message);
    }),
    { seed: 7, numRuns: 2000 },
  );
});

Deno.test("encodeMode7Answer() packs items into 500-byte datagrams with more bits", () => {
  const items = Array.from({ length: 15 }, (_, i) => new Uint8Array(72).fill(i));
  const to = { version: 2, implementation: 3, request: Mode7Req.PEER_LIST_SUM };
  const frags = encodeMode7Answer(to, items, 72);
  // 6 items of 72 bytes per datagram (432 <= 500 < 504).
  assert.deepEqual(frags.map((f) => f.length), [8 + 432, 8 + 432, 8 + 216]);
  frags.forEach((f, i) => {
    const d = decodeMode7(f);
    assert.ok(d.ok);
    assert.equal(d.message.response, true);
    assert.equal(d.message.more, i < 2);
    assert.equal(d.message.sequence, i);
    assert.equal(d.message.itemSize, 72);
    assert.equal(d.message.request, Mode7Req.PEER_LIST_SUM);
  });
  const back = frags.flatMap((f) => {
    const d = decodeMode7(f);
    return d.ok ? mode7Items(d.message)! : [];
  });
  assert.deepEqual(back.map((b) => b[0]), items.map((_, i) => i));
});

Deno.test("encodeMode7Answer() stops at 128 datagrams, as ntpd", () => {
  const items = Array.from({ length: 200 }, () => new Uint8Array(280));
  const frags = encodeMode7Answer({ version: 2, implementation: 3, request: 2 }, items, 280);
  assert.equal(frags.length, 128);
  assert.equal(frags[127]![0]! & 0x40, 0);
});

Deno.test("encodeMode7Error() is an 8-byte header with the code", () => {
  const e = encodeMode7Error({ version: 2, implementation: 3, request: 20 }, 2);
  assert.deepEqual([...e], [0x97, 0, 3, 20, 0x20, 0, 0, 0]);
});

Deno.test("fixed-point fields: s_fp, u_fp and signed l_fp", () => {
  assert.equal(toSFp(1), 65536);
  assert.equal(toSFp(-0.5), -32768);
  assert.equal(toSFp(1e9), 0x7fffffff);
  assert.equal(toUFp(-1), 0);
  assert.equal(toSignedLfp(-1), 0xffffffff00000000n);
  assert.equal(fromSignedLfp(toSignedLfp(-0.000123)).toFixed(9), "-0.000123000");
  assert.equal(toSignedLfp(NaN), 0n);
});

Deno.test("peer summary items round-trip in both layouts", () => {
  const p = {
    dstAddress: "127.0.0.1",
    srcAddress: "127.0.0.2",
    srcPort: 123,
    stratum: 2,
    hpollLog2: 6,
    ppollLog2: -3,
    reach: 0o377,
    flags: 0x83,
    hmode: 3,
    delaySec: 0.25,
    offsetSec: -0.0625,
    dispersionSec: 0.5,
  };
  assert.deepEqual(decodePeerSummaryItem(encodePeerSummaryItem(p, 72)), p);
  assert.deepEqual(decodePeerSummaryItem(encodePeerSummaryItem(p, 32)), p);
  const v6 = { ...p, dstAddress: "::1", srcAddress: "2001:db8::5" };
  const b = encodePeerSummaryItem(v6, 72);
  assert.equal(new DataView(b.buffer).getUint32(32), 1); // v6_flag
  assert.deepEqual(decodePeerSummaryItem(b), v6);
});

Deno.test("peer info items round-trip with the filter register", () => {
  const p: PeerInfoItem = {
    dstAddress: "192.0.2.200",
    srcAddress: "192.0.2.1",
    srcPort: 123,
    flags: 3,
    leap: 0,
    hmode: 3,
    pmode: 4,
    stratum: 2,
    ppollLog2: 6,
    hpollLog2: 6,
    precisionLog2: -24,
    version: 4,
    reach: 255,
    unreach: 0,
    flash: 0x200,
    ttl: 0,
    associd: 5,
    keyId: 9,
    refid: 0x7f000001,
    timerSec: 12,
    rootDelaySec: 0.125,
    rootDispersionSec: 0.25,
    reftime: 0xe9000000_80000000n,
    org: 1n,
    rec: 2n,
    xmt: 3n,
    filter: Array.from({ length: 8 }, (_, i) => ({
      delaySec: i / 64,
      offsetSec: (i - 4) / 128,
      order: 7 - i,
    })),
    delaySec: 0.5,
    dispersionSec: 0.75,
    offsetSec: -0.25,
    selectDispersionSec: 0.0625,
  };
  const b = encodePeerInfoItem(p, ItemSize.PEER_INFO.v6);
  assert.equal(b.length, 280);
  assert.deepEqual(decodePeerInfoItem(b), p);
  assert.deepEqual(decodePeerInfoItem(encodePeerInfoItem(p, ItemSize.PEER_INFO.v4)), p);
});

Deno.test("sysinfo, sysstats, iostats, memstats, loopinfo and kernel items round-trip", () => {
  const sys = {
    peerAddress: "192.0.2.1",
    peerMode: 3,
    leap: 0,
    stratum: 3,
    precisionLog2: -23,
    rootDelaySec: 0.015625,
    rootDispersionSec: 0.03125,
    refid: 0xc0000201,
    reftime: 0xe9000000_00000000n,
    pollLog2: 6,
    flags: 0xcc,
    broadcastDelaySec: 0,
    jitterSec: 0.0001220703125,
    authDelaySec: 0,
    stabilityPpm: 0.5,
  };
  assert.deepEqual(decodeSysInfoItem(encodeSysInfoItem(sys, 80)), sys);
  assert.equal(encodeSysInfoItem(sys, 56).length, 56);
  const ss = {
    timeUpSec: 1,
    timeResetSec: 2,
    denied: 3,
    oldVersion: 4,
    newVersion: 5,
    unknownVersion: 6,
    badLength: 7,
    processed: 8,
    badAuth: 9,
    received: 10,
    limitRejected: 11,
  };
  assert.deepEqual(decodeSysStatsItem(encodeSysStatsItem(ss)), ss);
  assert.equal(decodeSysStatsItem(encodeSysStatsItem(ss).subarray(0, 40)).limitRejected, 0);
  const io = {
    timeResetSec: 1,
    totalRecvBufs: 2,
    freeRecvBufs: 3,
    fullRecvBufs: 4,
    lowWater: 5,
    dropped: 6,
    ignored: 7,
    received: 8,
    sent: 9,
    notSent: 10,
    interrupts: 11,
    intReceived: 12,
  };
  assert.deepEqual(decodeIoStatsItem(encodeIoStatsItem(io)), io);
  const mem = {
    timeResetSec: 5,
    totalPeerMem: 3,
    freePeerMem: 0,
    findPeerCalls: 99,
    allocations: 4,
    demobilizations: 1,
    hashCount: Array.from({ length: 128 }, (_, i) => i % 3),
  };
  assert.deepEqual(decodeMemStatsItem(encodeMemStatsItem(mem)), mem);
  const loop = { lastOffsetSec: -0.001, driftPpm: -12.5, compliance: 3, watchdogSec: 17 };
  const l = decodeLoopInfoItem(encodeLoopInfoItem(loop));
  assert.equal(l.lastOffsetSec.toFixed(9), "-0.001000000");
  assert.deepEqual({ ...l, lastOffsetSec: -0.001 }, loop);
  const k = {
    offset: -1500,
    freq: -12 * 65536,
    maxError: 16000,
    estError: 2,
    status: 0x2001,
    shift: 0,
    constant: 7,
    precision: 1,
    tolerance: 500 * 65536,
    ppsFreq: 0,
    jitter: 0,
    stabil: 0,
    jitCnt: 0,
    calCnt: 0,
    errCnt: 0,
    stbCnt: 0,
  };
  assert.deepEqual(decodeKernelItem(encodeKernelItem(k)), k);
});
