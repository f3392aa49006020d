// Broadcast and multicast server associations (RFC 5905 §3 "broadcast server", ntpd 4.2.x
// `broadcast`): a mode 5 packet with the system variables every poll interval to an IPv4
// broadcast address or an IPv4/IPv6 group, with the line's TTL and, with `key N`, a MAC. Nothing
// is sent while the system is unsynchronised (a client would only reject it), as ntpd does.

import type { SystemState } from "./server.ts";
import { addSec, diffSec, type NtpTime, secToShort, toTimestamp } from "./ntp_time.ts";
import type { Action, PeerAddress } from "./events.ts";
import { encodePacket } from "./packet.ts";
import { MODE_BROADCAST, NTP_VERSION, PHI } from "./constants.ts";
import type { KeyStore } from "./auth/key_store.ts";
import { withMac } from "./auth/mac.ts";
import { type AssociationSnapshot, clampPoll } from "./association.ts";
import { senderSnapshot } from "./sender_snapshot.ts";
import type { Rng } from "./rng.ts";

/** Default poll of a broadcast server (ntpd: 64 s). */
export const BROADCAST_DEFAULT_POLL = 6;

/** The options of a `broadcast` line the core uses. */
export interface BroadcastServerOptions {
  /** Poll exponent of the sends (minpoll of the line; clamped to NTP_MINPOLL–NTP_MAXPOLL). */
  pollLog2?: number;
  /** IPv4 TTL / IPv6 hop limit of the packets (null: the daemon's default). */
  ttl?: number | null;
  /** Symmetric key that signs the packets (null: unsigned). */
  key?: number | null;
  /** NTP version written in the packets (default 4). */
  version?: number;
}

/** Counters of a broadcast server association. */
export interface BroadcastServerCounters {
  /** Packets handed to the daemon to send. */
  sent: number;
  /** Polls with nothing sent because the system was unsynchronised. */
  unsynchronized: number;
  /** Polls with nothing sent because the key is missing. */
  noKey: number;
}

/** One `broadcast ADDRESS` line: sends mode 5 packets at its poll interval. */
export class BroadcastServer {
  /** Association id (ntpq assID). */
  readonly id: number;
  /** Where the packets go (a broadcast address or a group, port 123). */
  readonly address: PeerAddress;
  readonly #pollLog2: number;
  readonly #ttl: number | null;
  readonly #keyId: number;
  readonly #keys: KeyStore | null;
  readonly #version: number;
  readonly #rng: Rng;
  #next: NtpTime;
  #counters: BroadcastServerCounters = { sent: 0, unsynchronized: 0, noKey: 0 };

  /** A broadcast association whose first packet is due shortly after `now`. */
  constructor(
    id: number,
    address: PeerAddress,
    options: BroadcastServerOptions,
    rng: Rng,
    now: NtpTime,
    keys: KeyStore | null,
  ) {
    this.id = id;
    this.address = address;
    this.#pollLog2 = clampPoll(options.pollLog2 ?? BROADCAST_DEFAULT_POLL);
    this.#ttl = options.ttl ?? null;
    this.#keyId = options.key ?? 0;
    this.#keys = keys;
    this.#version = options.version ?? NTP_VERSION;
    this.#rng = rng;
    this.#next = addSec(now, 1 + rng.nextFloat());
  }

  /** When `onTimer` is next needed. */
  get deadline(): NtpTime {
    return this.#next;
  }

  /** The poll exponent the packets carry. */
  get pollLog2(): number {
    return this.#pollLog2;
  }

  /** The TTL / hop limit of the packets, or null for the daemon's default. */
  get ttl(): number | null {
    return this.#ttl;
  }

  /** Counters so far. */
  get counters(): BroadcastServerCounters {
    return { ...this.#counters };
  }

  /**
   * At the poll time, a mode 5 packet with the system variables `state` (null: unsynchronised,
   * nothing is sent), its transmit timestamp `now`. The next poll follows one interval later,
   * with a little jitter so that several servers do not stay in step.
   */
  onTimer(now: NtpTime, state: SystemState | null): Action[] {
    if (now < this.#next) return [];
    this.#next = addSec(now, 2 ** this.#pollLog2 * (1 - this.#rng.nextFloat() / 64));
    if (state === null || state.leap === 3 || state.stratum >= 16) {
      this.#counters.unsynchronized++;
      return [];
    }
    const ageSec = state.referenceTime === 0n ? 0 : Math.max(0, diffSec(now, state.referenceTime));
    const data = encodePacket({
      leap: state.leap as 0 | 1 | 2 | 3,
      version: this.#version,
      mode: MODE_BROADCAST,
      stratum: state.stratum,
      pollLog2: this.#pollLog2,
      precisionLog2: state.precisionLog2,
      rootDelayShort: secToShort(state.rootDelaySec),
      rootDispersionShort: secToShort(state.rootDispersionSec + PHI * ageSec),
      refid: state.refid >>> 0,
      referenceTimestamp: state.referenceTime === 0n ? 0n : toTimestamp(state.referenceTime),
      originTimestamp: 0n,
      receiveTimestamp: 0n,
      transmitTimestamp: toTimestamp(now),
      extensions: [],
      mac: null,
    });
    let out = data;
    if (this.#keyId !== 0) {
      const key = this.#keys?.get(this.#keyId);
      if (key === undefined) {
        this.#counters.noKey++;
        return [];
      }
      out = withMac(data, key, this.#version);
    }
    this.#counters.sent++;
    return [{
      type: "send",
      assocId: this.id,
      to: this.address,
      data: out,
      ...(this.#ttl !== null ? { ttl: this.#ttl } : {}),
    }];
  }

  /** Control-protocol view: a broadcast association has no server, only its own poll. */
  snapshot(_now: NtpTime): AssociationSnapshot {
    return senderSnapshot({
      id: this.id,
      address: this.address,
      kind: "broadcast",
      pollLog2: this.#pollLog2,
      sent: this.#counters.sent,
      received: 0,
      keyId: this.#keyId,
      hostMode: MODE_BROADCAST,
    });
  }
}
