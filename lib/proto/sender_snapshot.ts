// The control-protocol view of an association that only sends (a broadcast server, a manycast
// search): it has no server of its own, so every measurement is empty and reach stays 0.

import type { AssociationKind, AssociationSnapshot } from "./association.ts";
import type { PeerAddress } from "./events.ts";

/** What a sending-only association knows of itself. */
export interface SenderState {
  id: number;
  address: PeerAddress;
  kind: AssociationKind;
  pollLog2: number;
  sent: number;
  received: number;
  keyId: number;
  /** The mode it sends (ntpq's hmode). */
  hostMode: number;
}

/** The snapshot of a sending-only association: its poll and counters, no server, no samples. */
export function senderSnapshot(s: SenderState): AssociationSnapshot {
  return {
    id: s.id,
    address: { ...s.address },
    name: null,
    kind: s.kind,
    reach: 0,
    pollLog2: s.pollLog2,
    pollSec: 2 ** s.pollLog2,
    hostPollLog2: s.pollLog2,
    server: null,
    offsetSec: null,
    estimateOffsetSec: null,
    delaySec: null,
    dispersionSec: null,
    jitterSec: null,
    sent: s.sent,
    received: s.received,
    rejected: {},
    kod: 0,
    dead: false,
    keyId: s.keyId,
    authentic: false,
    hostMode: s.hostMode,
  };
}
