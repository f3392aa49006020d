// Tests of the libc socket bindings: sockaddr codecs, cmsg parsing, batch layout and real
// loopback sockets (bind, options, sendto, recvmmsg with kernel timestamps, poll, shutdown).

import assert from "node:assert/strict";
import fc from "fast-check";
import { OsError, realtime } from "./libc.ts";
import {
  AF_INET6,
  bindSocket,
  closeSocket,
  cmsgSpace,
  decodeSockaddr,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  findTimestampNs,
  getSocketName,
  getSocketOption,
  IP_RECVERR,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_RECVERR,
  MmsgBatch,
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_TRUNC,
  openUdpSocket,
  parseTxTimestampReport,
  POLLERR,
  POLLIN,
  PollSet,
  receiveBatch,
  SCM_TIMESTAMPING,
  SCM_TIMESTAMPNS,
  SCM_TSTAMP_SND,
  sendBatch,
  sendTo,
  setSocketOption,
  shutdownSocket,
  SO_EE_ORIGIN_TIMESTAMPING,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_TIMESTAMPING,
  SO_TIMESTAMPNS,
  SocketErrno,
  SOF_TIMESTAMPING_OPT_ID,
  SOF_TIMESTAMPING_OPT_RX_FILTER,
  SOF_TIMESTAMPING_OPT_TSONLY,
  SOF_TIMESTAMPING_SOFTWARE,
  SOL_SOCKET,
  TxTimestamper,
  type TxTimestampReport,
} from "./socket.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`socket_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

function loopback4(port = 0): Uint8Array {
  const sa = new Uint8Array(new ArrayBuffer(16));
  encodeSockaddrIn(sa, [127, 0, 0, 1], port);
  return sa;
}

function portOf(fd: number): number {
  const d = decodeSockaddr(getSocketName(fd));
  assert.ok(d);
  return d.port;
}

function pointerOf(a: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
}

Deno.test("cmsgSpace() matches CMSG_SPACE on x86_64", () => {
  assert.equal(cmsgSpace(16), 32);
  assert.equal(cmsgSpace(4), 24);
  assert.equal(cmsgSpace(0), 16);
});

Deno.test("encodeSockaddrIn() writes family LE, port BE and the address", () => {
  const sa = new Uint8Array(16).fill(0xee);
  assert.equal(encodeSockaddrIn(sa, [192, 0, 2, 7], 0x1234), 16);
  assert.deepEqual([...sa], [2, 0, 0x12, 0x34, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("encodeSockaddrIn6() lays out the 28-byte sockaddr_in6", () => {
  const sa = new Uint8Array(28);
  const addr = Array.from({ length: 16 }, (_, k) => k + 1);
  assert.equal(encodeSockaddrIn6(sa, addr, 123, 0x01020304, 0x000a0b0c), 28);
  assert.deepEqual([...sa.subarray(0, 8)], [10, 0, 0, 123, 0x00, 0x0a, 0x0b, 0x0c]);
  assert.deepEqual([...sa.subarray(8, 24)], addr);
  assert.deepEqual([...sa.subarray(24, 28)], [4, 3, 2, 1]);
});

Deno.test("decodeSockaddr() round-trips both families", () => {
  const v4 = decodeSockaddr(loopback4(4242));
  assert.deepEqual(v4, {
    family: 4,
    port: 4242,
    addr: new Uint8Array([127, 0, 0, 1]),
    scopeId: 0,
    flowInfo: 0,
  });
  const sa = new Uint8Array(28);
  const addr = new Uint8Array(16);
  addr[15] = 1;
  encodeSockaddrIn6(sa, addr, 65535, 7, 9);
  assert.deepEqual(decodeSockaddr(sa), {
    family: 6,
    port: 65535,
    addr,
    scopeId: 7,
    flowInfo: 9,
  });
});

Deno.test("decodeSockaddr() rejects unknown families and short lengths", () => {
  const sa = loopback4(1);
  assert.equal(decodeSockaddr(sa, 15), null);
  assert.equal(decodeSockaddr(sa, 40), null);
  const six = new Uint8Array(28);
  six[0] = AF_INET6;
  assert.equal(decodeSockaddr(six, 27), null);
  assert.equal(decodeSockaddr(new Uint8Array([1, 0, 0, 0]), 4), null);
});

Deno.test("decodeSockaddr() never throws on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(50), (bytes, len) => {
      const d = decodeSockaddr(bytes, len);
      if (d !== null) assert.ok(d.port >= 0 && d.port <= 65535);
    }),
    { seed: SEED },
  );
});

function cmsg(dv: DataView, at: number, len: number, level: number, type: number): void {
  dv.setUint32(at, len, true);
  dv.setUint32(at + 4, 0, true);
  dv.setInt32(at + 8, level, true);
  dv.setInt32(at + 12, type, true);
}

Deno.test("findTimestampNs() finds SCM_TIMESTAMPNS after another control message", () => {
  const dv = new DataView(new ArrayBuffer(128));
  const base = 8; // not at the start of the buffer
  cmsg(dv, base, 20, 0, 8); // an IP_PKTINFO-like message, 20 bytes, padded to 24
  cmsg(dv, base + 24, 32, SOL_SOCKET, SCM_TIMESTAMPNS);
  dv.setUint32(base + 24 + 16, 1_700_000_123, true);
  dv.setUint32(base + 24 + 20, 0, true);
  dv.setUint32(base + 24 + 24, 987_654_321, true);
  const out = new Float64Array(2);
  assert.equal(findTimestampNs(dv, base, 56, out), true);
  assert.deepEqual([...out], [1_700_000_123, 987_654_321]);
});

Deno.test("findTimestampNs() reads seconds beyond 2^32 (after 2106)", () => {
  const dv = new DataView(new ArrayBuffer(32));
  cmsg(dv, 0, 32, SOL_SOCKET, SCM_TIMESTAMPNS);
  dv.setUint32(16, 5, true);
  dv.setUint32(20, 1, true);
  const out = new Float64Array(2);
  assert.equal(findTimestampNs(dv, 0, 32, out), true);
  assert.equal(out[0], 4294967296 + 5);
});

Deno.test("findTimestampNs() rejects malformed or missing control data", () => {
  const out = new Float64Array(2);
  const dv = new DataView(new ArrayBuffer(64));
  assert.equal(findTimestampNs(dv, 0, 0, out), false, "no control data");
  cmsg(dv, 0, 8, SOL_SOCKET, SCM_TIMESTAMPNS);
  assert.equal(findTimestampNs(dv, 0, 32, out), false, "cmsg_len below the header size");
  cmsg(dv, 0, 48, SOL_SOCKET, SCM_TIMESTAMPNS);
  assert.equal(findTimestampNs(dv, 0, 32, out), false, "cmsg_len beyond the data");
  cmsg(dv, 0, 24, SOL_SOCKET, SCM_TIMESTAMPNS);
  assert.equal(findTimestampNs(dv, 0, 32, out), false, "too short for a timespec");
  cmsg(dv, 0, 32, SOL_SOCKET, SCM_TIMESTAMPNS);
  dv.setUint32(24, 1_000_000_000, true);
  assert.equal(findTimestampNs(dv, 0, 32, out), false, "nanoseconds out of range");
  cmsg(dv, 0, 32, SOL_SOCKET, 29);
  dv.setUint32(24, 5, true);
  assert.equal(findTimestampNs(dv, 0, 32, out), false, "another message type only");
});

Deno.test("findTimestampNs() never throws on arbitrary control bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
      const buf = new Uint8Array(96);
      buf.set(bytes);
      const out = new Float64Array(2);
      if (findTimestampNs(new DataView(buf.buffer), 0, bytes.length, out)) {
        assert.ok(out[1]! >= 0 && out[1]! < 1e9);
      }
    }),
    { seed: SEED },
  );
});

/** Writes an error-queue report: SCM_TIMESTAMPING, then an extended error; returns its length. */
function txReport(
  dv: DataView,
  at: number,
  o: { sec: number; nsec: number; key: number; origin?: number; info?: number; errno?: number },
  v6 = false,
): number {
  cmsg(dv, at, 16 + 48, SOL_SOCKET, SCM_TIMESTAMPING);
  dv.setBigInt64(at + 16, BigInt(o.sec), true);
  dv.setBigInt64(at + 24, BigInt(o.nsec), true);
  const e = at + 64;
  cmsg(dv, e, 16 + 32, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVERR : IP_RECVERR);
  dv.setUint32(e + 16, o.errno ?? SocketErrno.ENOMSG, true);
  dv.setUint8(e + 20, o.origin ?? SO_EE_ORIGIN_TIMESTAMPING);
  dv.setUint32(e + 24, o.info ?? SCM_TSTAMP_SND, true);
  dv.setUint32(e + 28, o.key, true);
  return 64 + 48;
}

Deno.test("parseTxTimestampReport() reads the software time and the key of a report", () => {
  for (const v6 of [false, true]) {
    const dv = new DataView(new ArrayBuffer(160));
    const n = txReport(dv, 8, { sec: 1_800_000_000, nsec: 5, key: 41 }, v6);
    const out: TxTimestampReport = { key: -1, sec: 0, nsec: 0 };
    assert.equal(parseTxTimestampReport(dv, 8, n, out), true);
    assert.deepEqual(out, { key: 41, sec: 1_800_000_000, nsec: 5 });
  }
});

Deno.test("parseTxTimestampReport() refuses anything but a software transmit report", () => {
  const out: TxTimestampReport = { key: -1, sec: 0, nsec: 0 };
  const cases: [string, (dv: DataView) => number][] = [
    [
      "an ICMP error, not a timestamp",
      (dv) => txReport(dv, 0, { sec: 1, nsec: 0, key: 1, origin: 2 }),
    ],
    ["a scheduler timestamp", (dv) => txReport(dv, 0, { sec: 1, nsec: 0, key: 1, info: 1 })],
    ["another errno", (dv) => txReport(dv, 0, { sec: 1, nsec: 0, key: 1, errno: 111 })],
    ["no software time (hardware only)", (dv) => txReport(dv, 0, { sec: 0, nsec: 0, key: 1 })],
    ["nanoseconds out of range", (dv) => txReport(dv, 0, { sec: 1, nsec: 1e9, key: 1 })],
    ["the time alone", (dv) => txReport(dv, 0, { sec: 1, nsec: 0, key: 1 }) - 48],
    ["a truncated length", (dv) => txReport(dv, 0, { sec: 1, nsec: 0, key: 1 }) - 8],
    ["cmsg_len beyond the data", (dv) => {
      txReport(dv, 0, { sec: 1, nsec: 0, key: 1 });
      dv.setUint32(64, 200, true);
      return 112;
    }],
  ];
  for (const [what, fill] of cases) {
    const dv = new DataView(new ArrayBuffer(160));
    assert.equal(parseTxTimestampReport(dv, 0, fill(dv), out), false, what);
  }
});

Deno.test("parseTxTimestampReport() never throws on arbitrary control bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => {
      const buf = new Uint8Array(160);
      buf.set(bytes);
      const out: TxTimestampReport = { key: -1, sec: 0, nsec: 0 };
      if (parseTxTimestampReport(new DataView(buf.buffer), 0, bytes.length, out)) {
        assert.ok(out.nsec >= 0 && out.nsec < 1e9 && out.sec > 0);
      }
    }),
    { seed: SEED },
  );
});

Deno.test("TxTimestamper numbers only the datagrams that ask, and adds nothing to received ones", () => {
  const a = openUdpSocket(4);
  const b = openUdpSocket(4);
  try {
    setSocketOption(a, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    setSocketOption(
      a,
      SOL_SOCKET,
      SO_TIMESTAMPING,
      SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY |
        SOF_TIMESTAMPING_OPT_RX_FILTER,
    );
    bindSocket(a, loopback4());
    bindSocket(b, loopback4());
    const tx = new TxTimestamper();
    const out: TxTimestampReport = { key: -1, sec: 0, nsec: 0 };
    const keys: number[] = [];
    for (const ask of [true, false, true, true]) {
      const [s0, n0] = realtime();
      assert.equal(tx.send(a, new Uint8Array(48), loopback4(portOf(b)), 16, ask), 48);
      const r = tx.readReport(a, out);
      if (!ask) {
        assert.equal(r, -SocketErrno.EAGAIN, "no report for a datagram that did not ask");
        continue;
      }
      assert.equal(r, 1);
      keys.push(out.key);
      const afterSend = (out.sec - s0) * 1e9 + (out.nsec - n0);
      assert.ok(afterSend >= 0 && afterSend < 1e9, `kernel stamp ${afterSend} ns after the read`);
    }
    assert.deepEqual(keys, [0, 1, 2]);
    assert.equal(tx.readReport(a, out), -SocketErrno.EAGAIN);
    // A datagram received on the socket carries only its SCM_TIMESTAMPNS (Linux 6.12).
    sendTo(b, new Uint8Array(48), loopback4(portOf(a)));
    const batch = new MmsgBatch({ count: 1 });
    const p = new PollSet([a]);
    assert.ok(p.waitBlocking(2000) > 0);
    assert.equal(p.revents(0) & POLLERR, 0, "no error queue left");
    assert.equal(receiveBatch(a, batch, 1, MSG_DONTWAIT), 1);
    assert.equal(batch.view.getUint32(40, true), 32, "one SCM_TIMESTAMPNS only");
    assert.equal(batch.rxFlags(0), 0, "nothing truncated");
  } finally {
    closeSocket(a);
    closeSocket(b);
  }
});

Deno.test("MmsgBatch lays out receive headers pointing at their own buffers", () => {
  const b = new MmsgBatch({ count: 3, bufferBytes: 100, controlBytes: 64 });
  const dv = b.view;
  for (let i = 0; i < 3; i++) {
    const h = i * MMSGHDR_BYTES;
    const hv = new DataView(b.rxHeaders.buffer, b.rxHeaders.byteOffset + h, MMSGHDR_BYTES);
    assert.equal(hv.getBigUint64(0, true), pointerOf(b.rxName(i)), "msg_name");
    assert.equal(hv.getUint32(8, true), 28, "msg_namelen");
    assert.equal(hv.getBigUint64(24, true), 1n, "msg_iovlen");
    assert.equal(hv.getBigUint64(40, true), 64n, "msg_controllen");
    const iovAt = Number(hv.getBigUint64(16, true) - pointerOf(b.bytes));
    assert.equal(dv.getBigUint64(iovAt, true), pointerOf(b.rxBuffer(i)), "iov_base");
    assert.equal(dv.getBigUint64(iovAt + 8, true), 100n, "iov_len");
    assert.equal(b.rxBuffer(i).length, 100);
    assert.equal(b.rxBuffer(i).byteOffset, b.rxBufferOffset(i));
  }
  assert.throws(() => new MmsgBatch({ count: 0 }), RangeError);
  assert.throws(() => new MmsgBatch({ controlBytes: 12 }), RangeError);
});

Deno.test("MmsgBatch.setTxToRxPeer() points a transmit header at the receive name", () => {
  const b = new MmsgBatch({ count: 4, bufferBytes: 64 });
  const rx = new DataView(b.rxHeaders.buffer, b.rxHeaders.byteOffset + 2 * MMSGHDR_BYTES);
  rx.setUint32(8, 16, true); // as if the kernel wrote an IPv4 sender
  b.setTxToRxPeer(1, 2, 48);
  const tx = new DataView(b.txHeaders.buffer, b.txHeaders.byteOffset + MMSGHDR_BYTES);
  assert.equal(tx.getBigUint64(0, true), pointerOf(b.rxName(2)));
  assert.equal(tx.getUint32(8, true), 16);
  const iovAt = Number(tx.getBigUint64(16, true) - pointerOf(b.bytes));
  assert.equal(b.view.getBigUint64(iovAt, true), pointerOf(b.txBuffer(2)));
  assert.equal(b.view.getBigUint64(iovAt + 8, true), 48n);
});

Deno.test("bindSocket() reports a taken port as OsError EADDRINUSE", () => {
  const a = openUdpSocket(4);
  const c = openUdpSocket(4);
  try {
    bindSocket(a, loopback4(0));
    const port = portOf(a);
    assert.ok(port > 0);
    assert.throws(() => bindSocket(c, loopback4(port)), (e: unknown) => {
      assert.ok(e instanceof OsError);
      assert.equal(e.syscall, "bind");
      assert.equal(e.errno, SocketErrno.EADDRINUSE);
      return true;
    });
  } finally {
    closeSocket(a);
    closeSocket(c);
  }
});

Deno.test("setSocketOption() and getSocketOption() round-trip int options", () => {
  const fd = openUdpSocket(4);
  try {
    setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    assert.equal(getSocketOption(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    setSocketOption(fd, SOL_SOCKET, SO_RCVBUF, 65536);
    assert.equal(getSocketOption(fd, SOL_SOCKET, SO_RCVBUF), 131072, "the kernel doubles it");
    assert.throws(() => setSocketOption(fd, SOL_SOCKET, 9999, 1), OsError);
  } finally {
    closeSocket(fd);
  }
});

Deno.test("receiveBatch() gets sendTo() datagrams with kernel timestamps and senders", async () => {
  const rx = openUdpSocket(4);
  const tx = openUdpSocket(4);
  try {
    setSocketOption(rx, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    bindSocket(rx, loopback4(0));
    bindSocket(tx, loopback4(0));
    const b = new MmsgBatch({ count: 8, bufferBytes: 64 });
    const poll = new PollSet([rx]);
    assert.equal(poll.check(), 0, "nothing to read yet");
    assert.equal(receiveBatch(rx, b, 8, MSG_DONTWAIT), -SocketErrno.EAGAIN);
    const dest = loopback4(portOf(rx));
    for (let k = 0; k < 3; k++) {
      assert.equal(sendTo(tx, new Uint8Array([k, 1, 2, 3, 4]), dest), 5);
    }
    assert.equal(sendTo(tx, new Uint8Array(100), dest), 100, "larger than the 64-byte slot");
    assert.equal(await poll.wait(2000), 1);
    assert.equal(poll.revents(0) & POLLIN, POLLIN);
    const [sec] = realtime();
    let got = 0;
    for (let tries = 0; got < 4 && tries < 100; tries++) {
      const n = receiveBatch(rx, b, 8 - got, MSG_DONTWAIT);
      if (n > 0) got += n;
      else await poll.wait(100);
    }
    assert.equal(got, 4);
    const out = new Float64Array(2);
    for (let k = 0; k < 3; k++) {
      assert.equal(b.rxLength(k), 5);
      assert.equal(b.rxBuffer(k)[0], k);
      assert.equal(b.rxFlags(k) & MSG_TRUNC, 0);
      assert.ok(b.rxTimestamp(k, out));
      assert.ok(Math.abs(out[0]! - sec) <= 2, "kernel timestamp is today's time");
      const from = decodeSockaddr(b.rxName(k), b.rxNameLength(k));
      assert.equal(from?.port, portOf(tx));
    }
    assert.equal(b.rxFlags(3) & MSG_TRUNC, MSG_TRUNC, "oversized datagram flagged");
    b.resetReceive(4);
  } finally {
    closeSocket(rx);
    closeSocket(tx);
  }
});

Deno.test("sendBatch() sends prepared headers to a given address", async () => {
  const rx = openUdpSocket(4);
  const tx = openUdpSocket(4);
  try {
    bindSocket(rx, loopback4(0));
    const out = new MmsgBatch({ count: 4, bufferBytes: 64, controlBytes: 0 });
    const dest = loopback4(portOf(rx));
    for (let j = 0; j < 4; j++) {
      out.txBuffer(j).fill(j + 10, 0, 48);
      out.setTx(j, j, 48, dest);
    }
    assert.equal(sendBatch(tx, out, 0, 4), 4);
    assert.equal(sendBatch(tx, out, 2, 2), 2, "continuing from a later header");
    assert.equal(out.txLength(3), 48);
    const inb = new MmsgBatch({ count: 8, bufferBytes: 64, controlBytes: 0 });
    const poll = new PollSet([rx]);
    let got = 0;
    for (let tries = 0; got < 6 && tries < 100; tries++) {
      const n = receiveBatch(rx, inb, 8 - got, MSG_DONTWAIT);
      if (n > 0) got += n;
      else await poll.wait(100);
    }
    assert.equal(got, 6);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => inb.rxBuffer(i)[0]), [10, 11, 12, 13, 12, 13]);
  } finally {
    closeSocket(rx);
    closeSocket(tx);
  }
});

Deno.test("shutdownSocket() wakes a poll pending on another thread", async () => {
  const fd = openUdpSocket(4);
  try {
    bindSocket(fd, loopback4(0));
    const poll = new PollSet([fd]);
    const t0 = performance.now();
    const pending = poll.wait(20_000);
    await new Promise((r) => setTimeout(r, 20));
    shutdownSocket(fd);
    assert.equal(await pending, 1);
    assert.ok(performance.now() - t0 < 10_000, "woken long before the 20 s timeout");
  } finally {
    closeSocket(fd);
  }
});
