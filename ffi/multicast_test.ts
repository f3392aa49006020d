// Tests of the broadcast and multicast socket options: the struct layouts (checked against
// gcc's sizeof/offsetof on these machines), the option values read back from real sockets, and
// a datagram sent to a group on loopback reaching a socket that joined it, and not one that did
// not (IP_MULTICAST_ALL off).

import assert from "node:assert/strict";
import {
  encodeIpMreqn,
  encodeIpv6Mreq,
  interfaceIndex,
  IP_MREQN_BYTES,
  IP_MULTICAST_ALL,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPV6_MREQ_BYTES,
  IPV6_MULTICAST_HOPS,
  joinGroup4,
  joinGroup6,
  setBroadcast,
  setMulticastAll,
  setMulticastInterface,
  setMulticastLoop,
  setMulticastTtl,
  SO_BROADCAST,
} from "./multicast.ts";
import {
  bindSocket,
  closeSocket,
  decodeSockaddr,
  encodeSockaddrIn,
  getSocketName,
  getSocketOption,
  IPPROTO_IP,
  IPPROTO_IPV6,
  MmsgBatch,
  MSG_DONTWAIT,
  openUdpSocket,
  receiveBatch,
  sendTo,
  setSocketOption,
  SO_REUSEADDR,
  SOL_SOCKET,
} from "./socket.ts";

Deno.test("encodeIpMreqn() lays out struct ip_mreqn: group@0, local@4, ifindex i32 LE@8", () => {
  const b = encodeIpMreqn([239, 1, 2, 3], [10, 0, 0, 1], 0x01020304);
  assert.equal(b.length, IP_MREQN_BYTES);
  assert.equal(IP_MREQN_BYTES, 12);
  assert.deepEqual([...b], [239, 1, 2, 3, 10, 0, 0, 1, 4, 3, 2, 1]);
  assert.deepEqual([...encodeIpMreqn([224, 0, 1, 1], null, 0)], [
    224,
    0,
    1,
    1,
    ...new Array(8).fill(0),
  ]);
});

Deno.test("encodeIpv6Mreq() lays out struct ipv6_mreq: group@0 (16), interface u32 LE@16", () => {
  const group = [0xff, 0x05, ...new Array(13).fill(0), 0x01];
  const b = encodeIpv6Mreq(group, 7);
  assert.equal(b.length, IPV6_MREQ_BYTES);
  assert.equal(IPV6_MREQ_BYTES, 20);
  assert.deepEqual([...b.subarray(0, 16)], group);
  assert.deepEqual([...b.subarray(16)], [7, 0, 0, 0]);
});

Deno.test("setBroadcast(), setMulticastTtl(), setMulticastLoop(), setMulticastAll() read back", () => {
  const fd4 = openUdpSocket(4);
  const fd6 = openUdpSocket(6);
  try {
    assert.equal(getSocketOption(fd4, SOL_SOCKET, SO_BROADCAST), 0);
    setBroadcast(fd4, true);
    assert.equal(getSocketOption(fd4, SOL_SOCKET, SO_BROADCAST), 1);
    setMulticastTtl(fd4, 4, 7);
    assert.equal(getSocketOption(fd4, IPPROTO_IP, IP_MULTICAST_TTL) & 0xff, 7);
    setMulticastLoop(fd4, 4, false);
    assert.equal(getSocketOption(fd4, IPPROTO_IP, IP_MULTICAST_LOOP) & 0xff, 0);
    assert.equal(setMulticastAll(fd4, 4, false), true);
    assert.equal(getSocketOption(fd4, IPPROTO_IP, IP_MULTICAST_ALL) & 0xff, 0);
    setMulticastTtl(fd6, 6, 5);
    assert.equal(getSocketOption(fd6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 5);
  } finally {
    closeSocket(fd4);
    closeSocket(fd6);
  }
});

Deno.test("interfaceIndex() finds lo and gives 0 for a name that does not exist", () => {
  assert.ok(interfaceIndex("lo") > 0);
  assert.equal(interfaceIndex("no-such-if0"), 0);
});

Deno.test("joinGroup6() with a bad interface index fails with an OsError, not a crash", () => {
  const fd = openUdpSocket(6);
  try {
    assert.throws(
      () => joinGroup6(fd, [0xff, 0x05, ...new Array(13).fill(0), 0x01], 0x7ffffff0),
      (e: Error) => e.name === "OsError" && /setsockopt/.test(e.message),
    );
  } finally {
    closeSocket(fd);
  }
});

function bound4(address: number[], port: number): number {
  const fd = openUdpSocket(4);
  setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  const sa = new Uint8Array(new ArrayBuffer(16));
  encodeSockaddrIn(sa, address, port);
  bindSocket(fd, sa);
  return fd;
}

function receivedCount(fd: number): number {
  const batch = new MmsgBatch({ count: 4, bufferBytes: 256 });
  batch.resetReceive();
  const n = receiveBatch(fd, batch, 4, MSG_DONTWAIT);
  return n < 0 ? 0 : n;
}

Deno.test("joinGroup4() on lo: a group datagram reaches the member, not a wildcard socket with IP_MULTICAST_ALL off", async () => {
  const lo = interfaceIndex("lo");
  const group = [239, 255, 77, 1];
  // The receiver binds the group, the bystander the wildcard on the same port.
  const member = bound4(group, 0);
  const port = decodeSockaddr(getSocketName(member))!.port;
  const bystander = bound4([0, 0, 0, 0], port);
  const sender = openUdpSocket(4);
  try {
    assert.equal(setMulticastAll(bystander, 4, false), true);
    joinGroup4(member, group, lo);
    setMulticastInterface(sender, 4, lo);
    setMulticastLoop(sender, 4, true);
    setMulticastTtl(sender, 4, 1);
    const to = new Uint8Array(new ArrayBuffer(16));
    encodeSockaddrIn(to, group, port);
    assert.equal(sendTo(sender, new Uint8Array(48), to), 48);
    let got = 0;
    for (let i = 0; i < 50 && got === 0; i++) {
      got = receivedCount(member);
      if (got === 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(got, 1, "the member socket received the group datagram");
    assert.equal(receivedCount(bystander), 0, "the wildcard socket did not");
  } finally {
    closeSocket(member);
    closeSocket(bystander);
    closeSocket(sender);
  }
});

Deno.test("joinGroup4() really joins: a second join of the same group and interface is refused", () => {
  const fd = openUdpSocket(4);
  try {
    const lo = interfaceIndex("lo");
    joinGroup4(fd, [239, 255, 77, 2], lo);
    // A second join of the same group on the same interface is refused (EADDRINUSE): the
    // membership really exists in the kernel.
    assert.throws(() => joinGroup4(fd, [239, 255, 77, 2], lo), /EADDRINUSE|errno 98/);
  } finally {
    closeSocket(fd);
  }
});
