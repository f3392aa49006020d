// Tests of the IP address module: parsing, RFC 5952 formatting, masks and prefixes, IpWords.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalIp,
  formatIp,
  hostMaskText,
  ipFamilyOf,
  IpWords,
  ipWordsOf,
  isGroupAddress,
  makePrefix,
  parseIp,
  parsePrefix,
  prefixContains,
  prefixLengthOf,
  prefixMask,
  unspecifiedText,
} from "./ip.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`ip_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

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

Deno.test("parseIp() never throws (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      parseIp(s);
      parseIp(s.replace(/[^0-9a-f:.%]/g, ":"));
    }),
    { seed: SEED },
  );
});

Deno.test("ipFamilyOf() tells IPv4 from IPv6 and refuses names", () => {
  assert.equal(ipFamilyOf("127.127.1.0"), 4);
  assert.equal(ipFamilyOf("::ffff:192.0.2.1"), 6);
  assert.equal(ipFamilyOf("fe80::1%eth0"), 6);
  assert.equal(ipFamilyOf("pool.ntp.org"), null);
  assert.equal(ipFamilyOf("1.2.3"), null);
});

Deno.test("prefixMask() and prefixLengthOf() agree on every length", () => {
  for (const family of [4, 6] as const) {
    for (let len = 0; len <= (family === 4 ? 32 : 128); len++) {
      assert.equal(prefixLengthOf(prefixMask(family, len)), len);
    }
  }
  assert.equal(formatIp(prefixMask(4, 20)), "255.255.240.0");
  assert.equal(prefixLengthOf(new Uint8Array([255, 0, 255, 0])), -1, "non-contiguous");
  assert.equal(prefixLengthOf(new Uint8Array([255, 0b11110001, 0, 0])), -1);
  assert.equal(hostMaskText(4), "255.255.255.255");
  assert.equal(hostMaskText(6), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  assert.equal(unspecifiedText(4), "0.0.0.0");
  assert.equal(unspecifiedText(6), "::");
});

Deno.test("parsePrefix() takes CIDR, a mask, or a host; clears host bits", () => {
  const cidr = parsePrefix("192.0.2.77/24");
  assert.ok(cidr.ok);
  assert.equal(formatIp(cidr.prefix.ip.bytes), "192.0.2.0");
  assert.equal(cidr.prefix.prefixLength, 24);
  const masked = parsePrefix("10.9.8.7", "255.255.0.0");
  assert.ok(masked.ok);
  assert.equal(formatIp(masked.prefix.ip.bytes), "10.9.0.0");
  assert.equal(masked.prefix.prefixLength, 16);
  const host = parsePrefix("2001:db8::1");
  assert.ok(host.ok);
  assert.equal(host.prefix.prefixLength, 128);
  const odd = parsePrefix("10.0.0.5", "255.0.255.0");
  assert.ok(odd.ok);
  assert.equal(odd.prefix.prefixLength, -1);
  assert.equal(formatIp(odd.prefix.ip.bytes), "10.0.0.0");
  for (
    const [text, mask] of [
      ["10.0.0.0/33", null],
      ["10.0.0.0/x", null],
      ["10.0.0.0/8", "255.0.0.0"],
      ["10.0.0.0", "ffff::"],
      ["10.0.0.0", "255.0.0"],
      ["nonsense/8", null],
    ] as const
  ) {
    assert.equal(parsePrefix(text, mask).ok, false, `${text} ${mask}`);
  }
  const ip = parseIp("10.0.0.1");
  assert.ok(ip.ok);
  assert.equal(makePrefix(ip.ip, 1.5).ok, false);
});

Deno.test("prefixContains() matches by the mask, never across families", () => {
  const p = parsePrefix("192.0.2.0/25");
  assert.ok(p.ok);
  const at = (s: string) => {
    const r = parseIp(s);
    assert.ok(r.ok);
    return r.ip;
  };
  assert.ok(prefixContains(p.prefix, at("192.0.2.127")));
  assert.ok(!prefixContains(p.prefix, at("192.0.2.128")));
  assert.ok(!prefixContains(p.prefix, at("::ffff:192.0.2.1")));
});

Deno.test("IpWords holds v4 in one word, v6 in four, and unmaps v4-mapped addresses", () => {
  const v4 = ipWordsOf("192.0.2.1")!;
  assert.equal(v4.family, 4);
  assert.equal(v4.w0, 0xc0000201);
  assert.equal(v4.toString(), "192.0.2.1");
  const v6 = ipWordsOf("2001:db8::ff:1")!;
  assert.equal(v6.family, 6);
  assert.deepEqual([v6.w0, v6.w1, v6.w2, v6.w3], [0x20010db8, 0, 0, 0x00ff0001]);
  assert.equal(v6.toString(), "2001:db8::ff:1");
  const mapped = ipWordsOf("::ffff:10.0.0.1")!;
  assert.equal(mapped.family, 4);
  assert.ok(mapped.equals(ipWordsOf("10.0.0.1")!));
  assert.ok(!v4.equals(v6));
  assert.ok(new IpWords().copy(v6).equals(v6));
  assert.equal(ipWordsOf("nope"), null);
  const w = new IpWords().setV4(7);
  assert.equal(w.parse("bad"), false);
  assert.equal(w.w0, 7, "unchanged when parsing fails");
});

Deno.test("IpWords.isInvalidSource() flags unspecified, broadcast and multicast senders", () => {
  for (const s of ["0.0.0.0", "255.255.255.255", "224.0.1.1", "239.1.2.3", "::", "ff02::101"]) {
    assert.ok(ipWordsOf(s)!.isInvalidSource(), s);
  }
  for (const s of ["127.0.0.1", "10.0.0.1", "223.255.255.255", "::1", "fe80::1"]) {
    assert.ok(!ipWordsOf(s)!.isInvalidSource(), s);
  }
});

Deno.test("IpWords round-trips any address (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
      ),
      (bytes) => {
        const w = new IpWords().setBytes(bytes, 0, bytes.length === 4 ? 4 : 6);
        const text = formatIp(bytes);
        const back = ipWordsOf(text)!;
        assert.ok(back.equals(w), text);
        if (w.family === 6 || bytes.length === 4) assert.equal(w.toString(), canonicalIp(text));
      },
    ),
    { seed: SEED },
  );
});

Deno.test("isGroupAddress() knows 224.0.0.0/4 and ff00::/8 and nothing else", () => {
  assert.equal(isGroupAddress("224.0.1.1"), true);
  assert.equal(isGroupAddress("239.255.255.255"), true);
  assert.equal(isGroupAddress("ff05::101"), true);
  assert.equal(isGroupAddress("223.255.255.255"), false);
  assert.equal(isGroupAddress("240.0.0.1"), false);
  assert.equal(isGroupAddress("192.0.2.255"), false);
  assert.equal(isGroupAddress("255.255.255.255"), false);
  assert.equal(isGroupAddress("fe80::1"), false);
  assert.equal(isGroupAddress("not an address"), false);
});
