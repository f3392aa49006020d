// The type column of horae query's peer billboard for the broadcast and manycast kinds, as ntpq
// shows them: M/B for a multicast/broadcast server (IPv4 and IPv6 groups), b for a broadcast or
// multicast client alike, a for a manycast client's search of its group, u for a server it found.

import assert from "node:assert/strict";
import { peerLine } from "./query_format.ts";

/** The type letter of a billboard line for these peer variables. */
function typeOf(vars: Record<string, string>): string {
  const line = peerLine(
    {
      associd: 1,
      status: 0,
      vars: Object.entries(vars).map(([name, value]) => ({ name, value })),
    },
    "peers",
    0,
    true,
  );
  // remote (16), refid (16), stratum, then the type.
  return line.trim().split(/\s+/)[3]!;
}

Deno.test("peerLine() types: M/B servers, b clients, a manycast searches", () => {
  const common = { refid: "INIT", stratum: "16" };
  assert.equal(typeOf({ ...common, srcadr: "239.1.2.3", hmode: "5" }), "M");
  assert.equal(typeOf({ ...common, srcadr: "ff05::101", hmode: "5" }), "M");
  assert.equal(typeOf({ ...common, srcadr: "192.0.2.255", hmode: "5" }), "B");
  assert.equal(typeOf({ ...common, srcadr: "192.0.2.7", hmode: "6", dstadr: "239.1.2.3" }), "b");
  assert.equal(typeOf({ ...common, srcadr: "192.0.2.7", hmode: "6", dstadr: "0.0.0.0" }), "b");
  assert.equal(typeOf({ ...common, srcadr: "239.8.8.8", hmode: "3" }), "a");
  assert.equal(typeOf({ ...common, srcadr: "ff05::8", hmode: "3" }), "a");
  assert.equal(typeOf({ ...common, srcadr: "192.0.2.9", hmode: "3" }), "u");
});
