// Tests of address classification: IPv4/IPv6 literals, hostnames and 127.127.t.u refclocks.

import assert from "node:assert/strict";
import { classifyAddress, isHostname } from "./address.ts";

Deno.test("classifyAddress() accepts dotted quads and rejects other IPv4-like text", () => {
  for (const ok of ["0.0.0.0", "192.0.2.1", "255.255.255.255", "127.0.0.1"]) {
    assert.equal(classifyAddress(ok).kind, "ipv4", ok);
  }
  for (
    const bad of [
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      "a.b.c.d",
      "1.2.3.4 ",
      "",
      "01.2.3.4",
    ]
  ) {
    assert.notEqual(classifyAddress(bad).kind, "ipv4", bad);
  }
});

Deno.test("classifyAddress() accepts full, compressed, v4-mapped and zoned IPv6 literals", () => {
  for (
    const ok of [
      "::",
      "::1",
      "2001:db8::1",
      "fe80::1%eth0",
      "2001:0db8:0000:0000:0000:0000:0000:0001",
      "::ffff:192.0.2.1",
      "64:ff9b::192.0.2.33",
      "ffff:ffff:ffff::",
    ]
  ) {
    assert.equal(classifyAddress(ok).kind, "ipv6", ok);
  }
  for (
    const bad of [
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::1",
      "::ffff:300.1.1.1",
      "2001:db8::g",
      "1:2:3:4:5:6:7",
      "fe80::1%",
      "192.0.2.1",
    ]
  ) {
    assert.notEqual(classifyAddress(bad).kind, "ipv6", bad);
  }
});

Deno.test("isHostname() follows RFC 1123 labels", () => {
  for (const ok of ["pool.ntp.org", "a", "ntp-1.example.com.", "host_name.lan", "0.pool.ntp.org"]) {
    assert.ok(isHostname(ok), ok);
  }
  for (const bad of ["-a.example", "a-.example", "a..b", "", "1.2.3", "x".repeat(64) + ".com"]) {
    assert.ok(!isHostname(bad), bad);
  }
});

Deno.test("classifyAddress() recognises refclocks 127.127.t.u with type and unit", () => {
  assert.deepEqual(classifyAddress("127.127.20.0"), { kind: "refclock", type: 20, unit: 0 });
  assert.deepEqual(classifyAddress("127.127.28.3"), { kind: "refclock", type: 28, unit: 3 });
  assert.equal(classifyAddress("127.127.0.0").kind, "invalid");
  assert.equal(classifyAddress("127.127.47.0").kind, "invalid");
  assert.equal(classifyAddress("127.127.1.256").kind, "invalid");
  assert.equal(classifyAddress("127.0.0.1").kind, "ipv4");
});

Deno.test("classifyAddress() explains invalid addresses", () => {
  const c = classifyAddress("300.1.2.3");
  assert.equal(c.kind, "invalid");
  assert.match(c.kind === "invalid" ? c.reason : "", /not a valid IPv4 address/);
  assert.equal(classifyAddress("2001:db8::zz").kind, "invalid");
  assert.equal(classifyAddress("bad host").kind, "invalid");
  assert.equal(classifyAddress("::1").kind, "ipv6");
  assert.equal(classifyAddress("ntp.example").kind, "hostname");
});
