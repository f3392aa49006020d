import assert from "node:assert/strict";
import { senderSnapshot } from "./sender_snapshot.ts";

Deno.test("senderSnapshot() carries the poll and counters, copies the address, and has no server", () => {
  const address = { family: 4 as const, address: "239.1.2.3", port: 123 };
  const s = senderSnapshot({
    id: 7,
    address,
    kind: "manycast",
    pollLog2: 6,
    sent: 5,
    received: 2,
    keyId: 3,
    hostMode: 3,
  });
  assert.equal(s.pollSec, 64);
  assert.equal(s.hostPollLog2, 6);
  assert.equal(s.sent, 5);
  assert.equal(s.received, 2);
  assert.equal(s.keyId, 3);
  assert.equal(s.hostMode, 3);
  assert.equal(s.reach, 0);
  assert.equal(s.server, null);
  assert.equal(s.offsetSec, null);
  assert.equal(s.authentic, false);
  assert.deepEqual(s.address, address);
  assert.notEqual(s.address, address, "a copy, not the association's own object");
});
