// The main thread's side of the one packet path: every datagram from the daemon's sockets, and
// every datagram a server thread hands over, goes through the core's PacketPath; the router only
// carries out the verdict (send the reply, hand the datagram to the timekeeping core, forward it
// to a main-thread handler) and never looks at a packet's mode itself.

import type { VirtualClock } from "../clock/virtual_clock.ts";
import type { DatagramHandler, ReplySlot, SocketAddress, Transport } from "../net/transport.ts";
import type { MruList } from "../proto/access/mru.ts";
import type { RestrictList } from "../proto/access/restrict.ts";
import { IpWords } from "../proto/ip.ts";
import { type NtpTime, toUnix } from "../proto/ntp_time.ts";
import { emptyReplyBuffer, PacketIn, PacketPath, type Verdict } from "../proto/packet_path.ts";
import type { Server } from "../proto/server.ts";
import type { SysCounters } from "../proto/sys_stats.ts";
import type { DaemonAuth } from "./daemon_auth.ts";
import { isLoopback } from "./listen_plan.ts";
import { setSendTtl } from "../net/multicast.ts";
import { isGroupAddress } from "../proto/ip.ts";
import { coreReceiveTime, type ForwardedDatagram, readDatagram } from "./packet_input.ts";

/**
 * Hands a datagram to the timekeeping core (`rxTime` on the core's clock; `keyId` the key whose
 * MAC the packet path verified, 0 when it was not authenticated; `restrictFlags` the sender's
 * restrict flags, which decide whether a symmetric active packet may mobilise a passive peer).
 * Symmetric active packets (mode 1, the path's "peer" handler) go to the core too. `group`: the
 * multicast group it was sent to, when it came on a group socket.
 */
export type CoreHandler = (
  data: Uint8Array,
  peer: SocketAddress,
  rxTime: NtpTime,
  keyId: number,
  restrictFlags: number,
  group?: string,
) => void;

/**
 * Answers a control (mode 6) datagram the path forwarded: `p` as the path saw it, its restrict
 * flags, and `send` back to its sender.
 */
export type ControlHandler = (
  p: PacketIn,
  restrictFlags: number,
  send: (data: Uint8Array) => void,
) => void;

/**
 * What a socket is for (ntp.conf `interface listen` / `interface drop`), or "group": bound to a
 * multicast group it joined (`multicastclient`, `manycastserver`), taking only mode 5 packets
 * and, for a `manycastserver` group while synchronised, manycast requests, whose replies leave
 * from a unicast socket.
 */
export type SocketRole = "listen" | "drop" | "group";

/** Whether a manycast request that arrived on group `group` is answered now. */
export type ManycastPolicy = (group: string) => boolean;

/** Options of a {@link PacketRouter}. */
export interface PacketRouterOptions {
  /** The main thread's Server. */
  server: Server;
  restrict: RestrictList;
  mru: MruList | null;
  /** The main thread's sysstats block. */
  counters: SysCounters;
  /** `enable monitor` (default true). */
  monitor?: boolean;
  /** `enable mode7` (default false): mode 7 goes to the handler {@link PacketRouter.setMode7} sets. */
  mode7?: boolean;
  /** Observe mode's virtual clock when replies are served on it, else null. */
  virtual: VirtualClock | null;
  /** The main thread's keys and `enable auth` (default: no keys, auth required). */
  auth?: DaemonAuth;
}

interface RoutedSocket {
  transport: Transport;
  role: SocketRole;
  dst: IpWords;
  dstPort: number;
}

/** Counters of the router itself (sysstats count the packet path's side). */
export interface RouterCounters {
  /** Datagrams read and discarded on `interface drop` sockets. */
  interfaceDropped: number;
  /** Datagrams taken from server threads. */
  forwardedIn: number;
  /**
   * Datagrams dropped on group sockets: other modes than 5 and manycast requests, and manycast
   * requests while not answering on that group (not a `manycastserver` group, unsynchronised).
   */
  groupDropped?: number;
  /** Multicast TTL settings that failed before a send (the send went on with the old one). */
  ttlErrors?: number;
}

/** The main thread's packet routing. */
export class PacketRouter {
  /** The main thread's packet path. */
  readonly path: PacketPath;
  readonly #virtual: VirtualClock | null;
  readonly #sockets: RoutedSocket[] = [];
  readonly #in = new PacketIn();
  #core: CoreHandler | null = null;
  #control: ControlHandler | null = null;
  #mode7: ControlHandler | null = null;
  #slot: ReplySlot = newSlot(2048);
  #interfaceDropped = 0;
  #forwardedIn = 0;
  #groupDropped = 0;
  #ttlErrors = 0;
  #manycast: ManycastPolicy = () => false;
  #stopped = false;

  /** A router over a new packet path. */
  constructor(o: PacketRouterOptions) {
    this.#virtual = o.virtual;
    this.path = new PacketPath({
      server: o.server,
      restrict: o.restrict,
      mru: o.mru,
      counters: o.counters,
      ...(o.monitor !== undefined ? { monitor: o.monitor } : {}),
      ...(o.mode7 !== undefined ? { mode7: o.mode7 } : {}),
      ...(o.auth !== undefined
        ? { authenticator: o.auth.authenticator, authRequired: o.auth.required }
        : {}),
      // Nothing on this thread takes replies until the core starts; control and peer modes
      // have no handler yet (they are dropped and counted as such).
      handlers: { core: false, control: false, peer: false, mode7: false },
    });
  }

  /** Adds a bound socket; returns its index (the one server threads name it by). */
  addSocket(transport: Transport, role: SocketRole): number {
    const dst = new IpWords();
    dst.parse(transport.localAddress.address.replace(/%.*$/, ""));
    this.#sockets.push({ transport, role, dst, dstPort: transport.localAddress.port });
    return this.#sockets.length - 1;
  }

  /** The sockets, in index order. */
  get transports(): Transport[] {
    return this.#sockets.map((s) => s.transport);
  }

  /** The role of socket `index`. */
  role(index: number): SocketRole | null {
    return this.#sockets[index]?.role ?? null;
  }

  /** Serves socket `index` until it closes. */
  serve(index: number): Promise<void> {
    const s = this.#sockets[index]!;
    return s.transport.serve(this.#handler(s));
  }

  /** Sets (or removes) the timekeeping core that takes replies to the daemon's polls. */
  setCore(core: CoreHandler | null): void {
    this.#core = core;
    this.path.setHandlers({ core: core !== null, peer: core !== null });
  }

  /** Sets (or removes) the mode 7 handler (`enable mode7`). */
  setMode7(handler: ControlHandler | null): void {
    this.#mode7 = handler;
    this.path.setHandlers({ mode7: handler !== null });
  }

  /** Sets (or removes) the control protocol's handler (mode 6). */
  setControl(control: ControlHandler | null): void {
    this.#control = control;
    this.path.setHandlers({ control: control !== null });
  }

  /** Replaces the restrict list (the configuration's, own addresses and sources). */
  setRestrict(list: RestrictList): void {
    this.path.setRestrict(list);
  }

  /** The router's counters. */
  counters(): RouterCounters {
    return {
      interfaceDropped: this.#interfaceDropped,
      forwardedIn: this.#forwardedIn,
      groupDropped: this.#groupDropped,
      ttlErrors: this.#ttlErrors,
    };
  }

  /** Says which groups answer manycast requests, and when (default: none). */
  setManycastPolicy(policy: ManycastPolicy): void {
    this.#manycast = policy;
  }

  /** True when a socket of `family` can send the daemon's own requests. */
  canSend(family: 4 | 6): boolean {
    return this.#sockets.some((s) =>
      s.role === "listen" && s.transport.localAddress.family === family
    );
  }

  /**
   * Sends a client request of the timekeeping core from a socket of the destination's family
   * (the wildcard first, then one on the same side of loopback; never an `interface drop`
   * socket, whose replies would be discarded) and reports when it left on the core's clock
   * (kernel transmit timestamps are system clock readings, converted like receive timestamps).
   */
  sendRequest(
    data: Uint8Array,
    to: SocketAddress,
    onTransmit?: (at: NtpTime, kernel: boolean) => void,
    ttl?: number,
  ): boolean {
    const pick = this.#unicastSocket(to);
    if (pick === null) return false;
    if (ttl !== undefined && isGroupAddress(to.address)) {
      try {
        setSendTtl(pick, to, ttl);
      } catch {
        this.#ttlErrors++;
      }
    }
    if (onTransmit === undefined) {
      pick.send(data, to, false);
      return true;
    }
    const virtual = this.#virtual;
    return pick.sendRequest(data, to, (t) => {
      onTransmit(coreReceiveTime(0, 0, t.kernel, virtual, t.time), t.kernel);
    });
  }

  /** The socket the daemon's own datagrams to `to` leave from (see sendRequest), or null. */
  #unicastSocket(to: SocketAddress): Transport | null {
    let pick: Transport | null = null;
    let score = -1;
    const toLoopback = isLoopback(to.family, to.address);
    for (const s of this.#sockets) {
      const a = s.transport.localAddress;
      if (s.role !== "listen" || a.family !== to.family) continue;
      const wildcard = s.dst.family === 4
        ? s.dst.w0 === 0
        : (s.dst.w0 | s.dst.w1 | s.dst.w2 | s.dst.w3) === 0;
      const score1 = wildcard ? 2 : isLoopback(a.family, a.address) === toLoopback ? 1 : 0;
      if (score1 > score) {
        pick = s.transport;
        score = score1;
      }
    }
    return pick;
  }

  /** After this, datagrams handed over by server threads are ignored (the sockets are closing). */
  stop(): void {
    this.#stopped = true;
  }

  #handler(s: RoutedSocket): DatagramHandler {
    if (s.role === "drop") return () => void this.#interfaceDropped++;
    const p = this.#in;
    const group = s.role === "group";
    return (d, slot) => {
      if (group && !this.#groupAdmits(s, d.data)) return;
      readDatagram(p, d, this.#virtual);
      p.dst.copy(s.dst);
      p.dstPort = s.dstPort;
      const v = this.path.handle(p, slot);
      if (v.kind === "reply") {
        if (group) return this.#replyFromUnicast(slot, d.peer);
        // Only mode 6 has more fragments: building `d.peer` (an address string) for every
        // server reply would be the hot path's one allocation.
        if (v.more.length > 0) this.#sendMore(v, s.transport, d.peer);
      } else if (v.kind === "core" || (v.kind === "forward" && v.forward === "peer")) {
        const rx = coreReceiveTime(0, 0, d.rxKernel, this.#virtual, d.rxTime);
        // From a group socket: the group it was sent to (a multicast client's association).
        const to = group ? s.transport.localAddress.address : undefined;
        this.#core!(d.data, d.peer, rx, v.keyId, v.restrictFlags, to);
      } else if (v.kind === "forward" && v.forward === "control") {
        const peer = d.peer;
        this.#control?.(p, v.restrictFlags, (b) => s.transport.send(b, peer, false));
      } else if (v.kind === "forward" && v.forward === "mode7") {
        const peer = d.peer;
        this.#mode7?.(p, v.restrictFlags, (b) => s.transport.send(b, peer, false));
      }
    };
  }

  /**
   * A group socket takes mode 5 packets, and manycast requests (mode 3) on a group that answers
   * them now; the rest is counted and dropped before the packet path.
   */
  #groupAdmits(s: RoutedSocket, data: Uint8Array): boolean {
    const mode = data.length > 0 ? data[0]! & 7 : 0;
    if (mode === 5 || (mode === 3 && this.#manycast(s.transport.localAddress.address))) {
      return true;
    }
    this.#groupDropped++;
    return false;
  }

  /**
   * A reply to a manycast request leaves from a unicast socket of our own (a datagram from a
   * group address means nothing to the client, which mobilises the server by its address).
   */
  #replyFromUnicast(slot: ReplySlot, peer: SocketAddress): void {
    const out = this.#unicastSocket(peer);
    if (out !== null && slot.length > 0) {
      out.send(slot.buffer.subarray(0, slot.length), peer, slot.stampTransmit, slot.finalize);
    }
    slot.length = 0;
  }

  /** Mode 6 answers come in fragments: the first is in the slot, the rest follow. */
  #sendMore(v: Verdict, t: Transport, peer: SocketAddress): void {
    for (const more of v.more) t.send(more, peer, false);
  }

  /**
   * A datagram a server thread handed over: the main thread's side of its verdict (counted here),
   * carried out as if it had arrived on socket `m.socket`.
   */
  acceptForwarded(m: ForwardedDatagram): void {
    // The main sockets close before the workers are told to stop: what they forward meanwhile
    // has no socket to be answered on.
    if (this.#stopped) return;
    const s = this.#sockets[m.socket];
    if (s === undefined) return;
    this.#forwardedIn++;
    const p = this.#in;
    p.data = m.data;
    if (!p.src.parse(m.peer.address.replace(/%.*$/, ""))) p.src.setV4(0);
    p.srcPort = m.peer.port;
    p.dst.copy(s.dst);
    p.dstPort = s.dstPort;
    const rx = coreReceiveTime(m.rxUnixSec, m.rxUnixNsec, m.rxKernel, this.#virtual);
    if (this.#virtual !== null && m.rxKernel && !this.#virtual.isIdentity) {
      // Replies (an authenticated request the main thread answers) use the served clock too.
      const u = toUnix(rx);
      p.rxUnixSec = Number(u.sec);
      p.rxUnixNsec = u.nsec;
    } else {
      p.rxUnixSec = m.rxUnixSec;
      p.rxUnixNsec = m.rxUnixNsec;
    }
    if (this.#slot.buffer.length < m.data.length) this.#slot = newSlot(m.data.length);
    const slot = this.#slot;
    const v = this.path.acceptForwarded(
      p,
      slot,
      m.verdict,
      m.forward,
      m.restrictFlags,
      m.keyId ?? 0,
    );
    if (v.kind === "reply") {
      if (slot.length > 0) {
        const reply = slot.buffer.subarray(0, slot.length);
        s.transport.send(reply, m.peer, slot.stampTransmit, slot.finalize);
      }
      this.#sendMore(v, s.transport, m.peer);
    } else if (v.kind === "core" || (v.kind === "forward" && v.forward === "peer")) {
      this.#core!(m.data, m.peer, rx, v.keyId, v.restrictFlags);
    } else if (v.kind === "forward" && v.forward === "control") {
      this.#control?.(p, v.restrictFlags, (b) => s.transport.send(b, m.peer, false));
    } else if (v.kind === "forward" && v.forward === "mode7") {
      this.#mode7?.(p, v.restrictFlags, (b) => s.transport.send(b, m.peer, false));
    }
  }
}

function newSlot(size: number): ReplySlot {
  return emptyReplyBuffer(Math.max(size, 2048));
}
