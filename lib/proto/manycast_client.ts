// Manycast client (ntpd 4.2.x `manycastclient`, RFC 5905 §3's "manycast"): client requests to a
// group with an expanding-ring search over the `ttl` list. A server that answers one of them is
// mobilised as an ordinary client association by the system; the search goes on at the next
// TTL while fewer than `tos maxclock` servers are held (ntpd's rule), and once more than that
// many are, the system keeps the best ones as selection ranks them and drops the rest.

import { addSec, type NtpTime } from "./ntp_time.ts";
import type { Action, PeerAddress } from "./events.ts";
import { encodeClientRequest } from "./packet.ts";
import { MODE_CLIENT, NTP_VERSION } from "./constants.ts";
import type { KeyStore } from "./auth/key_store.ts";
import { withMac } from "./auth/mac.ts";
import { type AssociationSnapshot, clampPoll, fuzzedTransmit } from "./association.ts";
import { senderSnapshot } from "./sender_snapshot.ts";
import type { Rng } from "./rng.ts";

/** ntpd's `ttl` default: eight multiples of 32 starting at 31. */
export const DEFAULT_TTL_LIST: readonly number[] = [31, 63, 95, 127, 159, 191, 223, 255];

/** Requests remembered for matching answers (the newest; older answers are ignored). */
export const MANYCAST_PENDING = 8;

/** The options of a `manycastclient` line the core uses. */
export interface ManycastClientOptions {
  /** Poll exponent of the search (the line's minpoll, default 6). */
  pollLog2?: number;
  /** The `ttl` list (default {@link DEFAULT_TTL_LIST}); the line's `ttl` caps it. */
  ttlList?: readonly number[];
  /** The line's `ttl`: the largest TTL of the search (null: the whole list). */
  maxTtl?: number | null;
  /** Symmetric key that signs the requests and that answers must carry (null: none). */
  key?: number | null;
  /** NTP version of the requests. */
  version?: number;
}

/** Counters of a manycast client association. */
export interface ManycastCounters {
  /** Requests sent to the group. */
  sent: number;
  /** Answers that matched a request (each from a server not yet held). */
  answers: number;
  /** Servers mobilised from answers. */
  mobilized: number;
  /** Servers dropped because more than `maxclock` were held. */
  pruned: number;
}

/** One `manycastclient GROUP` line. */
export class ManycastClient {
  /** Association id of the search itself (ntpq shows it with the group address, type "a"). */
  readonly id: number;
  /** The group and port the requests go to. */
  readonly address: PeerAddress;
  readonly #pollLog2: number;
  readonly #ring: number[];
  readonly #keyId: number;
  readonly #keys: KeyStore | null;
  readonly #version: number;
  readonly #precisionLog2: number;
  readonly #rng: Rng;
  #next: NtpTime;
  /** Index into the ring of the next request's TTL (−1 before the first). */
  #ringAt = -1;
  /** Transmit timestamps of the latest requests, oldest first. */
  #pending: bigint[] = [];
  #counters: ManycastCounters = { sent: 0, answers: 0, mobilized: 0, pruned: 0 };

  /** A search whose first request is due shortly after `now`. */
  constructor(
    id: number,
    address: PeerAddress,
    options: ManycastClientOptions,
    rng: Rng,
    precisionLog2: number,
    now: NtpTime,
    keys: KeyStore | null,
  ) {
    this.id = id;
    this.address = address;
    this.#pollLog2 = clampPoll(options.pollLog2 ?? 6);
    const list = options.ttlList !== undefined && options.ttlList.length > 0
      ? options.ttlList
      : DEFAULT_TTL_LIST;
    const max = options.maxTtl ?? null;
    const ring = [...list].filter((t) => t >= 1 && t <= 255 && (max === null || t <= max));
    ring.sort((a, b) => a - b);
    // A line's ttl below the whole list still searches: with that TTL alone.
    this.#ring = ring.length > 0 ? ring : [Math.max(1, Math.min(255, max ?? 1))];
    this.#keyId = options.key ?? 0;
    this.#keys = keys;
    this.#version = options.version ?? NTP_VERSION;
    this.#precisionLog2 = precisionLog2;
    this.#rng = rng;
    this.#next = addSec(now, 1 + rng.nextFloat());
  }

  /** When `onTimer` is next needed. */
  get deadline(): NtpTime {
    return this.#next;
  }

  /** The TTL values of the search, in the order they are tried. */
  get ring(): readonly number[] {
    return this.#ring;
  }

  /** The TTL of the last request (null before the first). */
  get ttl(): number | null {
    return this.#ringAt < 0 ? null : this.#ring[this.#ringAt]!;
  }

  /** The key answers must be authenticated with (0: none). */
  get keyId(): number {
    return this.#keyId;
  }

  /** Counters so far. */
  get counters(): ManycastCounters {
    return { ...this.#counters };
  }

  /**
   * At the poll time: while fewer than `maxclock` servers are held (`held`), a request to the
   * group with the next TTL of the ring (the last one is kept once reached); with enough
   * servers, nothing is sent and the ring starts again from its first TTL the next time.
   */
  onTimer(now: NtpTime, held: number, maxclock: number): Action[] {
    if (now < this.#next) return [];
    this.#next = addSec(now, 2 ** this.#pollLog2 * (1 - this.#rng.nextFloat() / 32));
    if (held >= maxclock) {
      this.#ringAt = -1;
      return [];
    }
    this.#ringAt = Math.min(this.#ring.length - 1, this.#ringAt + 1);
    const ttl = this.#ring[this.#ringAt]!;
    const xmt = fuzzedTransmit(now, this.#precisionLog2, this.#rng);
    const data = encodeClientRequest({
      version: this.#version,
      pollLog2: this.#pollLog2,
      precisionLog2: this.#precisionLog2,
      transmitTimestamp: xmt,
    });
    let out = data;
    if (this.#keyId !== 0) {
      const key = this.#keys?.get(this.#keyId);
      if (key === undefined) return [];
      out = withMac(data, key, this.#version);
    }
    this.#pending.push(xmt);
    if (this.#pending.length > MANYCAST_PENDING) this.#pending.shift();
    this.#counters.sent++;
    return [{ type: "send", assocId: this.id, to: this.address, data: out, ttl }];
  }

  /**
   * True when a mode 4 answer with origin timestamp `origin`, authenticated with `keyId` (0:
   * not), answers one of this search's requests (and carries the key when the line has one).
   */
  matches(origin: bigint, keyId: number): boolean {
    if (this.#keyId !== 0 && keyId !== this.#keyId) return false;
    return this.#pending.includes(origin);
  }

  /** Counts an answer that mobilised a server. */
  noteMobilized(): void {
    this.#counters.answers++;
    this.#counters.mobilized++;
  }

  /** Counts servers dropped for being beyond `maxclock`. */
  notePruned(n: number): void {
    this.#counters.pruned += n;
  }

  /** Control-protocol view: the group address, the search's poll, no server. */
  snapshot(_now: NtpTime): AssociationSnapshot {
    return senderSnapshot({
      id: this.id,
      address: this.address,
      kind: "manycast",
      pollLog2: this.#pollLog2,
      sent: this.#counters.sent,
      received: this.#counters.answers,
      keyId: this.#keyId,
      hostMode: MODE_CLIENT,
    });
  }
}

/**
 * Which manycast-mobilised servers to drop so that at most `maxclock` stay: the worst as
 * selection ranks them (`rank`: lower is better; falsetickers and servers that never answered
 * rank last). Returns their ids.
 */
export function manycastSurplus(
  members: readonly { id: number; rank: number }[],
  maxclock: number,
): number[] {
  if (members.length <= maxclock) return [];
  const sorted = [...members].sort((a, b) => a.rank - b.rank || a.id - b.id);
  return sorted.slice(Math.max(0, maxclock)).map((m) => m.id);
}
