// Turning what a transport received into the packet path's input, the same way on the main
// thread and on server threads, and the message a server thread sends for a datagram whose
// verdict belongs to the main thread.

import type { VirtualClock } from "../clock/virtual_clock.ts";
import type { ReceivedDatagram, SocketAddress } from "../net/transport.ts";
import { fromUnix, type NtpTime, toUnix } from "../proto/ntp_time.ts";
import type { ForwardTo, PacketIn } from "../proto/packet_path.ts";

/**
 * Fills `p` from `d` (sender, receive time; the destination is the caller's). With observe
 * mode's virtual clock, a kernel timestamp (a system clock reading) is converted to the clock
 * replies are served on; software receive times already came from that clock.
 */
export function readDatagram(p: PacketIn, d: ReceivedDatagram, virtual: VirtualClock | null) {
  p.data = d.data;
  const port = d.readPeer !== undefined ? d.readPeer(p.src) : parsePeer(p, d.peer);
  // Not an IP sender: the path drops it (source port 0).
  p.srcPort = port < 0 ? 0 : port;
  if (d.rxKernel && virtual !== null && !virtual.isIdentity) {
    const u = toUnix(virtual.fromSystem(d.rxTime));
    p.rxUnixSec = Number(u.sec);
    p.rxUnixNsec = u.nsec;
  } else {
    p.rxUnixSec = d.rxUnixSec;
    p.rxUnixNsec = d.rxUnixNsec;
  }
}

function parsePeer(p: PacketIn, peer: SocketAddress): number {
  return p.src.parse(peer.address) ? peer.port : -1;
}

/**
 * A receive time for the timekeeping core: on the core's clock (the virtual one in observe
 * mode), converted from a kernel timestamp when needed.
 */
export function coreReceiveTime(
  rxUnixSec: number,
  rxUnixNsec: number,
  kernel: boolean,
  virtual: VirtualClock | null,
  rxTime?: NtpTime,
): NtpTime {
  const t = rxTime ?? fromUnix(rxUnixSec, rxUnixNsec);
  return kernel && virtual !== null && !virtual.isIdentity ? virtual.fromSystem(t) : t;
}

/** A datagram a server thread hands to the main thread, with its verdict there. */
export interface ForwardedDatagram {
  kind: "packet";
  /** Index of the listen address it arrived on. */
  socket: number;
  data: Uint8Array;
  peer: SocketAddress;
  /** The receive time as the transport had it (a kernel timestamp is a system clock reading). */
  rxUnixSec: number;
  rxUnixNsec: number;
  rxKernel: boolean;
  /** The server thread's verdict: "core" or "forward". */
  verdict: "core" | "forward";
  /** The handler for "forward". */
  forward: ForwardTo | null;
  /** RES_* flags of the restrict entry that matched. */
  restrictFlags: number;
  /** The key id whose MAC the server thread verified (0 or absent: not authenticated). */
  keyId?: number;
}
