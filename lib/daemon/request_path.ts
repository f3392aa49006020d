// The server side of the packet path, shared by the daemon's main thread and its server workers
// so that both answer a request the same way (RFC 5905 §9.2 via lib/proto/server.ts).

import type { ReceivedDatagram, ReplySlot } from "../net/transport.ts";
import type { Server } from "../proto/server.ts";
import type { VirtualClock } from "../clock/virtual_clock.ts";

/**
 * True for datagrams a server worker answers itself: client (mode 3) requests. Everything else
 * (server replies to the daemon's own polls, control and private modes, broadcasts) belongs to
 * the main thread. Requests with a MAC get a crypto-NAK from `Server` today; once keys and NTS
 * exist (they live on the main thread), such requests must be forwarded too.
 */
export function isClientRequest(data: Uint8Array): boolean {
  return data.length > 0 && (data[0]! & 7) === 3;
}

/**
 * Answers `d` into `slot` with `server`. With a virtual clock that is not the identity (observe
 * mode with a correction), a kernel timestamp is a system clock reading and is converted first;
 * otherwise the bigint-free `respondAt` path is taken.
 */
export function answerRequest(
  server: Server,
  d: ReceivedDatagram,
  slot: ReplySlot,
  virtual: VirtualClock | null,
): void {
  const n = d.rxKernel && virtual !== null && !virtual.isIdentity
    ? server.respond(d.data, virtual.fromSystem(d.rxTime), slot.buffer)
    : server.respondAt(d.data, d.rxUnixSec, d.rxUnixNsec, slot.buffer, slot.view);
  slot.length = n;
  slot.stampTransmit = n > 0;
}
