import assert from "node:assert/strict";
import type { AssociationSnapshot } from "../association.ts";
import type { SystemSnapshot } from "../system.ts";
import { Flash, flashBits, PeerSelect, peersFromSnapshot } from "./control_view.ts";
import { PEER_VARS } from "./control_vars.ts";

function assoc(id: number, over: Partial<AssociationSnapshot> = {}): AssociationSnapshot {
  return {
    id,
    address: { family: 4, address: `192.0.2.${id}`, port: 123 },
    name: null,
    kind: "server",
    reach: 0o377,
    pollLog2: 6,
    pollSec: 64,
    hostPollLog2: 6,
    server: null,
    offsetSec: 0.001,
    estimateOffsetSec: 0.001,
    delaySec: 0.002,
    dispersionSec: 0.003,
    jitterSec: 0.0004,
    sent: 10,
    received: 10,
    rejected: {},
    kod: 0,
    dead: false,
    keyId: 0,
    authentic: false,
    ...over,
  } as AssociationSnapshot;
}

function snapshot(associations: AssociationSnapshot[]): SystemSnapshot {
  return {
    systemPeer: 1,
    survivors: [1],
    falsetickers: [],
    associations,
  } as unknown as SystemSnapshot;
}

Deno.test("peersFromSnapshot() takes unreach, flash and the filter register from the snapshot", () => {
  const filter = Array.from({ length: 8 }, (_, i) => ({
    offsetSec: i * 1e-3,
    delaySec: 0.01 + i * 1e-3,
    dispersionSec: i * 1e-4,
  }));
  const [p1, p2, p3] = peersFromSnapshot(snapshot([
    assoc(1, { unanswered: 0, lastReject: null, filter }),
    assoc(2, { unanswered: 3, lastReject: "bogus_origin", filter: filter.slice(0, 2) }),
    assoc(3),
  ]));
  assert.equal(p1!.selection, PeerSelect.SYSPEER);
  assert.equal(p1!.unreach, 0);
  assert.equal(p1!.flash, 0);
  assert.deepEqual(p1!.filter, filter);
  assert.equal(p2!.unreach, 3);
  assert.equal(p2!.flash, Flash.BOGUS);
  // Without these fields in the snapshot they stay unknown (and ntpq is not shown them).
  assert.equal(p3!.unreach, null);
  assert.equal(p3!.flash, null);
  assert.equal(p3!.filter, null);
  const get = (name: string, p: typeof p1) => PEER_VARS.find((v) => v.name === name)!.get(p!);
  assert.equal(
    get("filtdelay", p1),
    "10.000 11.000 12.000 13.000 14.000 15.000 16.000 17.000",
  );
  assert.equal(get("filtoffset", p1), "0.000 1.000 2.000 3.000 4.000 5.000 6.000 7.000");
  assert.equal(get("filtdisp", p1), "0.000 0.100 0.200 0.300 0.400 0.500 0.600 0.700");
  // Stages the register does not have yet: delay and offset 0, dispersion 16 s as ntpd.
  assert.equal(
    get("filtdisp", p2),
    "0.000 0.100 16000.000 16000.000 16000.000 16000.000 16000.000 16000.000",
  );
  assert.equal(get("unreach", p2), "3");
  assert.equal(get("flash", p2), "0x2");
  assert.equal(get("flash", p3), null);
});

Deno.test("flashBits() maps reject reasons to ntpd's tests", () => {
  assert.equal(flashBits(null), 0);
  assert.equal(flashBits("duplicate"), 0x1);
  assert.equal(flashBits("unauthenticated"), 0x10);
  assert.equal(flashBits("unsynchronized"), 0x20);
  assert.equal(flashBits("distance"), 0x400);
  assert.equal(flashBits("outlier"), 0);
});
