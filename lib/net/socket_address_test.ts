// Tests of socket address parsing, RFC 5952 formatting, ordering and sockaddr conversion.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compareSocketAddresses,
  formatSocketAddress,
  isUnspecified,
  parseSocketAddress,
  sameSocketAddress,
  sockaddrToIpWords,
  sockaddrToSocketAddress,
  socketAddressToSockaddr,
} from "./socket_address.ts";
import { formatIp, IpWords } from "../proto/ip.ts";
import type { SocketAddress } from "./transport.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`socket_address_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

Deno.test("parseSocketAddress() never throws (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      parseSocketAddress(s);
      parseSocketAddress(s.replace(/[^0-9a-f:.%\[\]]/g, ":"));
    }),
    { seed: SEED },
  );
});

Deno.test("parseSocketAddress() handles bracketed, bare and defaulted forms", () => {
  const ok: [string, SocketAddress][] = [
    ["[::1]:123", { family: 6, address: "::1", port: 123 }],
    ["[0:0::1]", { family: 6, address: "::1", port: 123 }],
    ["::1", { family: 6, address: "::1", port: 123 }],
    ["[fe80::1%2]:4460", { family: 6, address: "fe80::1%2", port: 4460 }],
    ["127.0.0.1:8123", { family: 4, address: "127.0.0.1", port: 8123 }],
    [" 192.0.2.9 ", { family: 4, address: "192.0.2.9", port: 123 }],
    ["[::ffff:1.2.3.4]:0", { family: 6, address: "::ffff:1.2.3.4", port: 0 }],
  ];
  for (const [text, want] of ok) {
    const r = parseSocketAddress(text);
    assert.ok(r.ok, `${text}: ${r.ok ? "" : r.reason}`);
    assert.deepEqual(r.address, want, text);
  }
  const d = parseSocketAddress("10.0.0.1", 0);
  assert.ok(d.ok);
  assert.equal(d.address.port, 0);
  for (const text of ["[::1]:65536", "[127.0.0.1]:1", "[::1]x", "[::1", "1.2.3.4:", "1.2.3.4:-1"]) {
    assert.equal(parseSocketAddress(text).ok, false, text);
  }
});

Deno.test("formatSocketAddress() brackets IPv6", () => {
  assert.equal(formatSocketAddress({ family: 6, address: "::1", port: 123 }), "[::1]:123");
  assert.equal(formatSocketAddress({ family: 4, address: "10.1.1.1", port: 5 }), "10.1.1.1:5");
});

Deno.test("compareSocketAddresses() orders by family, bytes, then port", () => {
  const list: SocketAddress[] = [
    { family: 6, address: "::1", port: 1 },
    { family: 4, address: "10.0.0.2", port: 1 },
    { family: 4, address: "10.0.0.10", port: 1 },
    { family: 4, address: "9.255.255.255", port: 99 },
    { family: 6, address: "::", port: 5 },
    { family: 4, address: "10.0.0.2", port: 0 },
  ];
  const sorted = [...list].sort(compareSocketAddresses).map(formatSocketAddress);
  assert.deepEqual(sorted, [
    "9.255.255.255:99",
    "10.0.0.2:0",
    "10.0.0.2:1",
    "10.0.0.10:1",
    "[::]:5",
    "[::1]:1",
  ]);
  assert.ok(
    sameSocketAddress({ family: 6, address: "0:0::1", port: 3 }, {
      family: 6,
      address: "::1",
      port: 3,
    }),
  );
  assert.equal(
    sameSocketAddress({ family: 6, address: "::1", port: 3 }, {
      family: 6,
      address: "::1",
      port: 4,
    }),
    false,
  );
});

Deno.test("compareSocketAddresses() is antisymmetric (property)", () => {
  const addr = fc.record({
    family: fc.constantFrom(4 as const, 6 as const),
    bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    port: fc.integer({ min: 0, max: 65535 }),
  }).map(({ family, bytes, port }) => ({
    family,
    address: formatIp(family === 4 ? bytes.subarray(0, 4) : bytes),
    port,
  }));
  fc.assert(
    fc.property(addr, addr, (a, b) => {
      assert.equal(
        Math.sign(compareSocketAddresses(a, b)),
        -Math.sign(compareSocketAddresses(b, a)),
      );
      assert.equal(compareSocketAddresses(a, a), 0);
    }),
    { seed: SEED },
  );
});

Deno.test("isUnspecified() recognises wildcard addresses", () => {
  assert.ok(isUnspecified({ family: 4, address: "0.0.0.0", port: 123 }));
  assert.ok(isUnspecified({ family: 6, address: "::", port: 123 }));
  assert.equal(isUnspecified({ family: 6, address: "::1", port: 123 }), false);
});

Deno.test("socketAddressToSockaddr() maps IPv4 onto IPv6 sockets and back", () => {
  const out = new Uint8Array(28);
  const v4 = { family: 4 as const, address: "192.0.2.5", port: 123 };
  const a = socketAddressToSockaddr(v4, out, 6);
  assert.ok(a.ok);
  assert.equal(a.length, 28);
  assert.deepEqual(sockaddrToSocketAddress(out, a.length), v4, "v4-mapped decodes as IPv4");
  assert.deepEqual(sockaddrToSocketAddress(out, a.length, false), {
    family: 6,
    address: "::ffff:192.0.2.5",
    port: 123,
  });
  const b = socketAddressToSockaddr(v4, out, 4);
  assert.ok(b.ok);
  assert.equal(b.length, 16);
  assert.deepEqual(sockaddrToSocketAddress(out, 16), v4);
  const mapped = socketAddressToSockaddr(
    { family: 6, address: "::ffff:192.0.2.5", port: 123 },
    out,
    4,
  );
  assert.ok(mapped.ok);
  assert.deepEqual(sockaddrToSocketAddress(out, 16), v4);
});

Deno.test("socketAddressToSockaddr() keeps numeric zones and rejects the impossible", () => {
  const out = new Uint8Array(28);
  const z = socketAddressToSockaddr({ family: 6, address: "fe80::1%7", port: 9 }, out, 6);
  assert.ok(z.ok);
  assert.deepEqual(sockaddrToSocketAddress(out, 28), {
    family: 6,
    address: "fe80::1%7",
    port: 9,
  });
  const reasons = [
    socketAddressToSockaddr({ family: 6, address: "fe80::1%eth0", port: 9 }, out, 6),
    socketAddressToSockaddr({ family: 6, address: "2001:db8::1", port: 9 }, out, 4),
    socketAddressToSockaddr({ family: 4, address: "10.0.0.1", port: 70000 }, out, 4),
    socketAddressToSockaddr({ family: 4, address: "nonsense", port: 1 }, out, 4),
    socketAddressToSockaddr({ family: 4, address: "10.0.0.1", port: 1 }, new Uint8Array(8), 4),
  ];
  for (const r of reasons) assert.equal(r.ok, false);
});

Deno.test("sockaddrToIpWords() reads the sender without allocating a string", () => {
  const out = new Uint8Array(28);
  const w = new IpWords();
  const v4 = socketAddressToSockaddr({ family: 4, address: "192.0.2.5", port: 4123 }, out, 4);
  assert.ok(v4.ok);
  assert.equal(sockaddrToIpWords(out, v4.length, w), 4123);
  assert.equal(w.family, 4);
  assert.equal(w.w0, 0xc0000205);
  // An IPv4 peer on a dual-stack socket (v4-mapped) is IPv4 for the packet path.
  const mapped = socketAddressToSockaddr({ family: 4, address: "10.1.2.3", port: 9 }, out, 6);
  assert.ok(mapped.ok);
  assert.equal(sockaddrToIpWords(out, mapped.length, w), 9);
  assert.equal(w.toString(), "10.1.2.3");
  const v6 = socketAddressToSockaddr({ family: 6, address: "2001:db8::7", port: 123 }, out, 6);
  assert.ok(v6.ok);
  assert.equal(sockaddrToIpWords(out, v6.length, w), 123);
  assert.equal(w.family, 6);
  assert.equal(w.toString(), "2001:db8::7");
  const before = w.toString();
  assert.equal(sockaddrToIpWords(new Uint8Array([1, 0, 0, 0]), 4, w), -1, "AF_UNIX");
  assert.equal(sockaddrToIpWords(out, 10, w), -1, "truncated");
  assert.equal(w.toString(), before, "unchanged on failure");
});
