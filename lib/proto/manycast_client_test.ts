// Tests of the manycast client search: requests to the group with the TTLs of the ring in turn,
// the ring capped by the line's ttl, no requests once enough servers are held (and the ring
// starting again after), answers matched by origin timestamp (and key), and the surplus rule.

import assert from "node:assert/strict";
import type { Action, PeerAddress, SendAction } from "./events.ts";
import { fromUnix, type NtpTime } from "./ntp_time.ts";
import { decodePacket } from "./packet.ts";
import { SeededRng } from "./rng.ts";
import {
  DEFAULT_TTL_LIST,
  MANYCAST_PENDING,
  ManycastClient,
  manycastSurplus,
} from "./manycast_client.ts";

const T0 = fromUnix(1_700_000_000);
const GROUP: PeerAddress = { family: 4, address: "239.9.9.9", port: 123 };

function send(actions: Action[]): SendAction | null {
  return actions.find((a): a is SendAction => a.type === "send") ?? null;
}

/** Runs the search's timer at each deadline `n` times; returns the sends. */
function polls(m: ManycastClient, n: number, held = 0, maxclock = 3): SendAction[] {
  const out: SendAction[] = [];
  for (let i = 0; i < n; i++) {
    const s = send(m.onTimer(m.deadline, held, maxclock));
    if (s !== null) out.push(s);
  }
  return out;
}

Deno.test("ManycastClient walks the ttl ring in order and stays at its last TTL", () => {
  const m = new ManycastClient(
    1,
    GROUP,
    { pollLog2: 4, ttlList: [3, 1, 2] },
    new SeededRng(1),
    -20,
    T0,
    null,
  );
  assert.deepEqual(m.ring, [1, 2, 3]);
  const sent = polls(m, 5);
  assert.deepEqual(sent.map((s) => s.ttl), [1, 2, 3, 3, 3]);
  for (const s of sent) {
    assert.deepEqual(s.to, GROUP);
    const r = decodePacket(s.data);
    assert.ok(r.ok);
    assert.equal(r.packet.mode, 3);
    assert.notEqual(r.packet.transmitTimestamp, 0n);
  }
  assert.equal(m.counters.sent, 5);
});

Deno.test("ManycastClient: the line's ttl caps the ring; the default ring is ntpd's", () => {
  const capped = new ManycastClient(1, GROUP, { maxTtl: 100 }, new SeededRng(2), -20, T0, null);
  assert.deepEqual(capped.ring, [31, 63, 95]);
  const dflt = new ManycastClient(1, GROUP, {}, new SeededRng(2), -20, T0, null);
  assert.deepEqual(dflt.ring, DEFAULT_TTL_LIST);
  const tiny = new ManycastClient(1, GROUP, { maxTtl: 2 }, new SeededRng(2), -20, T0, null);
  assert.deepEqual(tiny.ring, [2]);
});

Deno.test("ManycastClient sends nothing with maxclock servers held and restarts the ring after", () => {
  const m = new ManycastClient(
    1,
    GROUP,
    { pollLog2: 4, ttlList: [1, 2, 3] },
    new SeededRng(3),
    -20,
    T0,
    null,
  );
  assert.deepEqual(polls(m, 2).map((s) => s.ttl), [1, 2]);
  assert.deepEqual(polls(m, 2, 3, 3), []);
  assert.deepEqual(polls(m, 1, 2, 3).map((s) => s.ttl), [1]);
});

Deno.test("ManycastClient.matches() takes answers to its recent requests only", () => {
  const m = new ManycastClient(
    1,
    GROUP,
    { pollLog2: 4, ttlList: [1] },
    new SeededRng(4),
    -20,
    T0,
    null,
  );
  const xmts: bigint[] = [];
  let now: NtpTime = T0;
  for (let i = 0; i < MANYCAST_PENDING + 2; i++) {
    now = m.deadline;
    const s = send(m.onTimer(now, 0, 3))!;
    const r = decodePacket(s.data);
    assert.ok(r.ok);
    xmts.push(r.packet.transmitTimestamp);
  }
  assert.equal(m.matches(xmts.at(-1)!, 0), true);
  assert.equal(m.matches(xmts[0]!, 0), false, "too old");
  assert.equal(m.matches(12345n, 0), false, "never sent");
});

Deno.test("ManycastClient with a key wants answers with that key", () => {
  const m = new ManycastClient(1, GROUP, { key: 7, ttlList: [1] }, new SeededRng(5), -20, T0, null);
  // No key store: nothing can be signed, nothing is sent.
  assert.equal(send(m.onTimer(m.deadline, 0, 3)), null);
  assert.equal(m.matches(1n, 0), false);
  assert.equal(m.keyId, 7);
});

Deno.test("manycastSurplus() drops the worst ranked beyond maxclock", () => {
  const members = [
    { id: 4, rank: 3 },
    { id: 5, rank: 0 },
    { id: 6, rank: 9 },
    { id: 7, rank: 1 },
  ];
  assert.deepEqual(manycastSurplus(members, 2), [4, 6]);
  assert.deepEqual(manycastSurplus(members, 4), []);
  assert.deepEqual(manycastSurplus(members, 0), [5, 7, 4, 6]);
});

Deno.test("ManycastClient shows the group with hmode 3 (ntpq type a)", () => {
  const m = new ManycastClient(9, GROUP, {}, new SeededRng(6), -20, T0, null);
  const s = m.snapshot(T0);
  assert.equal(s.kind, "manycast");
  assert.equal(s.hostMode, 3);
  assert.equal(s.address.address, "239.9.9.9");
});
