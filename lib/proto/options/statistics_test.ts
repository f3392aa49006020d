import assert from "node:assert/strict";
import { DEFAULT_METRICS_PORT, parseMetricsAddress } from "./statistics.ts";

Deno.test("parseMetricsAddress() reads address:port, [v6]:port, bare addresses and bare ports", () => {
  const ok = (text: string) => {
    const r = parseMetricsAddress(text);
    assert.ok(r.ok, text);
    return r.address;
  };
  assert.deepEqual(ok("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(ok("[::1]:9100"), { hostname: "::1", port: 9100 });
  assert.deepEqual(ok("[fd00::5]"), { hostname: "fd00::5", port: DEFAULT_METRICS_PORT });
  assert.deepEqual(ok("::1"), { hostname: "::1", port: DEFAULT_METRICS_PORT });
  assert.deepEqual(ok("192.0.2.10"), { hostname: "192.0.2.10", port: DEFAULT_METRICS_PORT });
  assert.deepEqual(ok("9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(ok(":9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(ok("localhost:9100"), { hostname: "127.0.0.1", port: 9100 });
});

Deno.test("parseMetricsAddress() refuses names, bad ports and junk with a reason", () => {
  for (
    const bad of [
      "ntp.example:9100",
      "127.0.0.1:0",
      "127.0.0.1:70000",
      "127.0.0.1:9x",
      "",
      "[::1]:",
      "1.2.3:5",
    ]
  ) {
    const r = parseMetricsAddress(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
});
