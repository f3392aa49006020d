// Tests of the transport-level multicast settings on loopback: a UdpTransport bound to a group
// and joined on lo receives what another transport sends to the group with its TTL set, while a
// wildcard transport on the same port that keeps to its own groups does not.

import assert from "node:assert/strict";
import { getSocketOption, IPPROTO_IP } from "../../ffi/socket.ts";
import { IP_MULTICAST_TTL } from "../../ffi/multicast.ts";
import {
  allowBroadcast,
  interfaceIndexOf,
  joinGroup,
  multicastUnsupported,
  receiveOnlyOwnGroups,
  setSendTtl,
} from "./multicast.ts";
import type { Transport } from "./transport.ts";
import { UdpTransport } from "./udp_transport.ts";
import { within } from "./_test_helpers.ts";

Deno.test("interfaceIndexOf() gives 0 for any and throws for an unknown name", () => {
  assert.equal(interfaceIndexOf(null), 0);
  assert.ok(interfaceIndexOf("lo") > 0);
  assert.throws(() => interfaceIndexOf("nosuchif9"), /no interface named "nosuchif9"/);
});

Deno.test("joinGroup() refuses a unicast address and one of the other family", () => {
  const t = new UdpTransport({ address: "127.0.0.1", port: 0 });
  try {
    assert.throws(() => joinGroup(t, "192.0.2.1"), /not a multicast group/);
    assert.throws(() => joinGroup(t, "ff05::1"), /not of the socket's family/);
  } finally {
    t.close();
  }
});

Deno.test("multicastUnsupported() names a transport without an FFI socket", () => {
  const fake = { localAddress: { family: 4, address: "0.0.0.0", port: 1 } } as Transport;
  assert.match(multicastUnsupported(fake) ?? "", /not an FFI socket/);
  assert.throws(() => allowBroadcast(fake), /not an FFI socket/);
});

Deno.test("a group transport joined on lo receives a group datagram; a wildcard one keeping to its own groups does not", async () => {
  const group = "239.255.78.9";
  const lo = interfaceIndexOf("lo");
  const member = new UdpTransport({ address: group, port: 0, reuseAddress: true });
  const port = member.localAddress.port;
  const wildcard = new UdpTransport({ address: "0.0.0.0", port, reuseAddress: true });
  const sender = new UdpTransport({ address: "127.0.0.1", port: 0 });
  try {
    assert.equal(receiveOnlyOwnGroups(wildcard), true);
    joinGroup(member, group, lo);
    allowBroadcast(sender);
    setSendTtl(sender, { family: 4, address: group, port }, 3, { ifIndex: lo, loop: true });
    assert.equal(getSocketOption(sender.fd, IPPROTO_IP, IP_MULTICAST_TTL) & 0xff, 3);
    const got: string[] = [];
    const wildGot: string[] = [];
    let done!: () => void;
    const arrived = new Promise<void>((r) => done = r);
    const served = member.serve((d) => {
      got.push(d.peer.address);
      done();
    });
    const wildServed = wildcard.serve((d) => void wildGot.push(d.peer.address));
    sender.send(new Uint8Array(48), { family: 4, address: group, port });
    await within(arrived, 3000, "the group datagram");
    // Give the wildcard socket the same chance to see it.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, ["127.0.0.1"]);
    assert.deepEqual(wildGot, []);
    member.close();
    wildcard.close();
    await served;
    await wildServed;
  } finally {
    member.close();
    wildcard.close();
    sender.close();
  }
});
