import assert from "node:assert/strict";
import {
  dnsErrorText,
  familyAllows,
  hostsLookup,
  literalAddress,
  systemResolver,
} from "./resolver.ts";

Deno.test("literalAddress() canonicalises IPv4 and IPv6 literals and rejects names", () => {
  assert.deepEqual(literalAddress("192.0.2.1"), { family: 4, address: "192.0.2.1" });
  assert.deepEqual(literalAddress("2001:DB8:0:0::1"), { family: 6, address: "2001:db8::1" });
  assert.deepEqual(literalAddress("[::1]"), { family: 6, address: "::1" });
  assert.equal(literalAddress("pool.ntp.org"), null);
  assert.equal(literalAddress("999.1.1.1"), null);
});

Deno.test("hostsLookup() finds every address of a name, case-insensitively, skipping comments", () => {
  const text = [
    "# comment 10.0.0.9 ntp1",
    "127.0.0.1 localhost",
    "10.0.0.1   ntp1 NTP1.example.  # trailing",
    "fd00::1 ntp1",
    "10.0.0.1 ntp1",
    "bogus ntp1",
  ].join("\n");
  assert.deepEqual(hostsLookup(text, "NTP1"), [
    { family: 4, address: "10.0.0.1" },
    { family: 6, address: "fd00::1" },
  ]);
  assert.deepEqual(hostsLookup(text, "ntp1.example"), [{ family: 4, address: "10.0.0.1" }]);
  assert.deepEqual(hostsLookup(text, "missing"), []);
});

Deno.test("familyAllows() applies -4 and -6", () => {
  assert.equal(familyAllows("any", 6), true);
  assert.equal(familyAllows("ipv4", 4), true);
  assert.equal(familyAllows("ipv4", 6), false);
  assert.equal(familyAllows("ipv6", 4), false);
});

Deno.test("systemResolver() answers literals itself and uses the hosts file before DNS", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/hosts`, "10.1.2.3 ntp-a\nfd00::7 ntp-a\n");
    const resolve = systemResolver({ hostsFile: `${dir}/hosts`, timeoutMs: 200 });
    assert.deepEqual(await resolve("10.9.9.9", "any"), {
      ok: true,
      addresses: [{ family: 4, address: "10.9.9.9" }],
    });
    const wrong = await resolve("10.9.9.9", "ipv6");
    assert.equal(wrong.ok, false);
    assert.deepEqual(await resolve("ntp-a", "ipv6"), {
      ok: true,
      addresses: [{ family: 6, address: "fd00::7" }],
    });
    assert.deepEqual(await resolve("NTP-A", "any"), {
      ok: true,
      addresses: [{ family: 4, address: "10.1.2.3" }, { family: 6, address: "fd00::7" }],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemResolver() returns a reason, never throws, when a name cannot be resolved", async () => {
  const resolve = systemResolver({ hostsFile: null, timeoutMs: 300 });
  const r = await resolve("no-such-host.invalid", "ipv4");
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.reason.length > 0);
});

Deno.test("dnsErrorText() shortens the resolver's error messages", () => {
  assert.equal(
    dnsErrorText(
      new Error(
        'proto error: no records found for Query { name: Name("pool.ntp.org."), query_type: A }',
      ),
    ),
    "no records",
  );
  assert.equal(dnsErrorText(new Deno.errors.NotFound("x")), "no such name");
  assert.equal(dnsErrorText(new DOMException("t", "TimeoutError")), "timed out");
  assert.equal(dnsErrorText(new Error("refused")), "refused");
});
