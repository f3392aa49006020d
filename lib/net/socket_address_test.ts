// Tests of socket address parsing, RFC 5952 formatting, ordering and sockaddr conversion.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalIp,
  compareSocketAddresses,
  formatIp,
  formatSocketAddress,
  isUnspecified,
  parseIp,
  parseSocketAddress,
  sameSocketAddress,
  sockaddrToSocketAddress,
  socketAddressToSockaddr,
} from "./socket_address.ts";
import type { SocketAddress } from "./transport.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`socket_address_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("parseIp() accepts IPv4 and IPv6 text forms", () => {
  const cases: [string, string][] = [
    ["192.0.2.1", "c0000201"],
    ["0.0.0.0", "00000000"],
    ["::", "00".repeat(16)],
    ["::1", "00".repeat(15) + "01"],
    ["2001:DB8::1", "20010db8" + "00".repeat(11) + "01"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1::", "0001" + "00".repeat(14)],
    ["::ffff:192.0.2.1", "00".repeat(10) + "ffffc0000201"],
    ["64:ff9b::10.0.0.1", "0064ff9b" + "00".repeat(8) + "0a000001"],
  ];
  for (const [text, want] of cases) {
    const r = parseIp(text);
    assert.ok(r.ok, `${text}: ${r.ok ? "" : r.reason}`);
    assert.equal(hex(r.ip.bytes), want, text);
  }
  const z = parseIp("fe80::1%eth0");
  assert.ok(z.ok);
  assert.equal(z.ip.zone, "eth0");
});

Deno.test("parseIp() rejects malformed addresses with a reason", () => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.-4",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    ":1::",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::1",
    "1.2.3.4::",
    "::1.2.3",
    "::1%",
    "::1%a b",
    "1.2.3.4%eth0",
    "x".repeat(100),
  ];
  for (const text of bad) {
    const r = parseIp(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
});

Deno.test("formatIp() follows RFC 5952", () => {
  const cases: [string, string][] = [
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["::1.2.3.4", "::102:304"],
    ["fe80::0001%3", "fe80::1%3"],
  ];
  for (const [text, want] of cases) assert.equal(canonicalIp(text), want, text);
  assert.equal(formatIp(new Uint8Array([10, 0, 0, 255])), "10.0.0.255");
  assert.equal(formatIp(new Uint8Array(5)), "");
});

Deno.test("formatIp() output parses back to the same bytes (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        // sparse IPv6 addresses exercise the "::" choice
        fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 }).map((w) =>
          new Uint8Array(w.flatMap((x) => [x >> 8, x & 0xff]))
        ),
      ),
      (bytes) => {
        const text = formatIp(bytes);
        const r = parseIp(text);
        assert.ok(r.ok, text);
        assert.deepEqual(r.ip.bytes, bytes);
        assert.equal(formatIp(r.ip.bytes), text);
      },
    ),
    { seed: SEED },
  );
});

Deno.test("parseIp() and parseSocketAddress() never throw (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      parseIp(s);
      parseSocketAddress(s);
      parseIp(s.replace(/[^0-9a-f:.%\[\]]/g, ":"));
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
