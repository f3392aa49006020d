// A small deterministic network of protocol cores for tests of modes where cores talk to each
// other (symmetric peers, orphan mode): each node is an NtpSystem at an address with its own
// simulated clock (lib/clock/sim_clock.ts, steered by the node's actions as the daemon would),
// datagrams take a fixed one-way delay, and upstream servers can be switched off and on. True
// time only moves forward, in bounded steps.

import { clockAdjustmentFromAction } from "../../lib/clock/linux_clock.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { SeededRng } from "../../lib/proto/rng.ts";
import type { Action, PeerAddress } from "../../lib/proto/events.ts";
import { addSec, diffSec, fromUnix, type NtpTime } from "../../lib/proto/ntp_time.ts";
import { Server, type SystemState } from "../../lib/proto/server.ts";
import type { InboundDatagram, NtpSystem } from "../../lib/proto/system.ts";

/** The true time the network starts at. */
export const NET_T0: NtpTime = fromUnix(1_750_000_000);

/** One core on the network. */
export interface NetNode {
  address: PeerAddress;
  system: NtpSystem;
  /** Local clock minus true time at the start (s). */
  clockOffsetSec: number;
  /** Intrinsic frequency error of the node's clock (default 0). */
  clockFreq?: number;
  /** The node's clock. */
  clock: SimClock;
  timer: NtpTime | null;
  /** Every action the core returned, with the local time it returned them at. */
  log: { at: NtpTime; action: Action }[];
  /** Key id the receiving side reports for datagrams to this node (undefined: the core checks). */
  keyIdFor?: (data: Uint8Array, from: PeerAddress) => number | undefined;
  /** RES_* flags applied to datagrams arriving here. */
  restrictFlags?: number;
}

interface InFlight {
  at: NtpTime;
  to: PeerAddress;
  from: PeerAddress;
  data: Uint8Array;
}

/** An upstream server every node may reach at `address` while it is up. */
export interface Upstream {
  address: PeerAddress;
  state: SystemState;
  up: boolean;
}

/** The network. */
export class PeerNet {
  readonly nodes: NetNode[] = [];
  readonly upstreams: Upstream[] = [];
  /** Datagrams sent to an address nobody holds (or a server that is down). */
  lost = 0;
  #now: NtpTime = NET_T0;
  #flight: InFlight[] = [];
  readonly #delaySec: number;

  constructor(delaySec = 0.001) {
    this.#delaySec = delaySec;
  }

  /** True time now. */
  get now(): NtpTime {
    return this.#now;
  }

  /** Adds a node and starts its core. */
  add(node: Omit<NetNode, "timer" | "log" | "clock">): NetNode {
    const clock = new SimClock({
      startTime: NET_T0,
      initialOffsetSec: node.clockOffsetSec,
      initialFreq: node.clockFreq ?? 0,
      wander: 0,
      rng: new SeededRng(this.nodes.length + 1),
    });
    clock.advanceTo(diffSec(this.#now, NET_T0));
    const n: NetNode = { ...node, clock, timer: null, log: [] };
    this.nodes.push(n);
    this.#apply(n, n.system.start(this.#local(n)));
    return n;
  }

  /** Adds an upstream server (answers mode 3 with `state`). */
  addUpstream(address: PeerAddress, state: SystemState): Upstream {
    const u = { address, state, up: true };
    this.upstreams.push(u);
    return u;
  }

  /** Local time of node `n`. */
  local(n: NetNode): NtpTime {
    return this.#local(n);
  }

  /** Injects a datagram from `from` to node `to`, delivered after the one-way delay. */
  inject(from: PeerAddress, to: PeerAddress, data: Uint8Array): void {
    this.#flight.push({ at: addSec(this.#now, this.#delaySec), to, from, data });
  }

  /** Runs for `seconds` of true time (at most `maxEvents` events). */
  run(seconds: number, maxEvents = 200_000): void {
    const end = addSec(this.#now, seconds);
    for (let i = 0; i < maxEvents; i++) {
      let next: NtpTime = end;
      let node: NetNode | null = null;
      let pkt = -1;
      for (const n of this.nodes) {
        if (n.timer === null) continue;
        const trueAt = addSec(n.timer, -n.clock.trueOffsetSec);
        if (trueAt < next) {
          next = trueAt;
          node = n;
        }
      }
      for (let k = 0; k < this.#flight.length; k++) {
        if (this.#flight[k]!.at < next) {
          next = this.#flight[k]!.at;
          pkt = k;
          node = null;
        }
      }
      if (next > this.#now) {
        this.#now = next;
        const sec = diffSec(next, NET_T0);
        for (const n of this.nodes) n.clock.advanceTo(sec);
      }
      if (pkt >= 0) {
        const f = this.#flight.splice(pkt, 1)[0]!;
        this.#deliver(f);
      } else if (node !== null) {
        node.timer = null;
        this.#apply(node, node.system.onTimer(this.#local(node)));
      } else {
        return;
      }
    }
    throw new Error("PeerNet.run: event budget exhausted");
  }

  #local(n: NetNode): NtpTime {
    return n.clock.now();
  }

  #deliver(f: InFlight): void {
    const up = this.upstreams.find((u) => same(u.address, f.to));
    if (up !== undefined) {
      if (!up.up || (f.data[0]! & 7) !== 3) {
        this.lost++;
        return;
      }
      const out = new Uint8Array(48);
      const srv = new Server(up.state);
      const len = srv.respond(f.data.slice(0, 48), this.#now, out);
      if (len > 0) this.inject(up.address, f.from, out.slice(0, len));
      return;
    }
    const n = this.nodes.find((x) => same(x.address, f.to));
    if (n === undefined) {
      this.lost++;
      return;
    }
    const dg: InboundDatagram = { data: f.data, peer: f.from, rxTime: this.#local(n) };
    const keyId = n.keyIdFor?.(f.data, f.from);
    if (keyId !== undefined) dg.keyId = keyId;
    if (n.restrictFlags !== undefined) dg.restrictFlags = n.restrictFlags;
    this.#apply(n, n.system.onPacket(dg, this.#local(n)));
  }

  #apply(n: NetNode, actions: Action[]): void {
    const at = this.#local(n);
    for (const a of actions) {
      n.log.push({ at, action: a });
      if (a.type === "send") this.inject(n.address, a.to, a.data);
      else if (a.type === "setTimer") n.timer = a.at;
      else if (a.type === "stepClock") n.clock.step(a.offsetSec);
      else if (a.type === "adjustClock") n.clock.adjust(clockAdjustmentFromAction(a));
    }
  }
}

function same(a: PeerAddress, b: PeerAddress): boolean {
  return a.address === b.address && a.port === b.port;
}
