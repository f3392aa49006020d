// One run of ntpdate's exchange with its servers, without I/O (the core's style: events in,
// datagrams out): every server is polled in parallel, one request at a time, -p requests each,
// at least SAMPLE_SPACING_SEC apart; a request unanswered after -t seconds is lost and the next
// goes out. Replies are checked as RFC 5905 §8 asks (mode, origin, kiss-o'-death, leap and
// stratum, timestamps, and with -a the MAC of the key), then the on-wire offset and delay go
// into the server's core clock filter. date_select.ts makes the choice afterwards.

import type { StoredKey } from "../proto/auth/key_store.ts";
import { digestLengthFor, type MacVerifier, signPacket } from "../proto/auth/mac.ts";
import { ClockFilter, type FilterSample } from "../proto/clock_filter.ts";
import { LEAP_NOTINSYNC, MAXSTRAT, MODE_SERVER, PHI } from "../proto/constants.ts";
import {
  addSec,
  diffSec,
  fromTimestamp,
  type NtpTime,
  type NtpTimestamp,
  toTimestamp,
} from "../proto/ntp_time.ts";
import {
  decodePacket,
  encodeClientRequest,
  kissCode,
  type NtpPacket,
  rootDelaySec,
  rootDispersionSec,
} from "../proto/packet.ts";
import type { Rng } from "../proto/rng.ts";
import type { SocketAddress } from "../net/transport.ts";
import { type FilterResult, filterResult, type ServerVars } from "./date_select.ts";

/** Shortest time between two requests to one server (ntpdate's timer step: 0.2 s). */
export const SAMPLE_SPACING_SEC = 0.2;

/** One server of the command line, resolved. */
export interface DateServer {
  /** As given on the command line. */
  name: string;
  address: SocketAddress;
}

/** Options of a {@link DateSession}. */
export interface DateSessionOptions {
  /** Requests per server (-p, 1–8). */
  samples: number;
  /** Wait for each reply (-t, s). */
  timeoutSec: number;
  /** NTP version of the requests (-o, 1–4). */
  version: number;
  /** Precision of the local clock (log2 s). */
  precisionLog2: number;
  /** For the random low bits of the transmit timestamp. */
  rng: Rng;
  /** Signs requests and requires replies signed with this key (-a), or null. */
  key?: StoredKey | null;
  /** Checks the replies' MACs (its store holds `key`, trusted). Needed with `key`. */
  verifier?: MacVerifier | null;
  /** Added to the transmit timestamp of signed requests (-e, s). */
  authDelaySec?: number;
  /** Spacing of requests (default {@link SAMPLE_SPACING_SEC}). */
  spacingSec?: number;
}

/** A request to send now. */
export interface DateSend {
  /** Index of the server. */
  server: number;
  to: SocketAddress;
  data: Uint8Array;
  /** The request's transmit timestamp (for {@link DateSession.transmitted}). */
  xmt: NtpTimestamp;
}

/** Why a datagram or an exchange gave no sample. */
export type DateReject =
  | "unknown_sender"
  | "decode"
  | "mode"
  | "unauthenticated"
  | "bad_mac"
  | "not_expected"
  | "bogus_origin"
  | "unsynchronized"
  | "zero_timestamp"
  | "bad_delay"
  | "outlier"
  | "timeout";

/** Something that happened, for -d. */
export type DateEvent =
  | { kind: "transmit"; server: number }
  | { kind: "receive"; server: number; offsetSec: number; delaySec: number }
  | { kind: "reject"; server: number | null; from: string; reason: DateReject }
  | { kind: "kiss"; server: number; code: string };

/** Everything known about one server after (or during) the run. */
export interface DateServerState {
  server: DateServer;
  /** One entry per finished request: its sample, or null (lost or unusable). */
  samples: (FilterSample | null)[];
  /** Requests sent. */
  sent: number;
  /** The server's variables from its last reply that passed the origin check. */
  vars: ServerVars | null;
  /** The last such reply, decoded (for -d). */
  lastReply: NtpPacket | null;
  /** The kiss code that stopped the polling, or null. */
  kiss: string | null;
  /** Rejections by reason. */
  rejected: Partial<Record<DateReject, number>>;
}

interface Slot extends DateServerState {
  filter: ClockFilter;
  xmt: NtpTimestamp | null;
  xmtTime: NtpTime | null;
  xmtKernel: boolean;
  sentAt: NtpTime | null;
  nextAt: NtpTime | null;
  done: boolean;
}

/** ntpdate's polling of its servers; drive it with poll/transmitted/receive. */
export class DateSession {
  readonly #slots: Slot[];
  readonly #o: Required<Omit<DateSessionOptions, "key" | "verifier">> & {
    key: StoredKey | null;
    verifier: MacVerifier | null;
  };
  /** What happened, in order (for -d). */
  readonly events: DateEvent[] = [];

  constructor(servers: readonly DateServer[], options: DateSessionOptions) {
    this.#o = {
      samples: Math.max(1, Math.min(8, Math.trunc(options.samples))),
      timeoutSec: options.timeoutSec,
      version: options.version,
      precisionLog2: options.precisionLog2,
      rng: options.rng,
      key: options.key ?? null,
      verifier: options.verifier ?? null,
      authDelaySec: options.authDelaySec ?? 0,
      spacingSec: options.spacingSec ?? SAMPLE_SPACING_SEC,
    };
    if (this.#o.key !== null && this.#o.verifier === null) {
      throw new Error("DateSession: a key needs a verifier");
    }
    this.#slots = servers.map((server) => ({
      server,
      samples: [],
      sent: 0,
      vars: null,
      lastReply: null,
      kiss: null,
      rejected: {},
      filter: new ClockFilter({ precisionSec: 2 ** options.precisionLog2 }),
      xmt: null,
      xmtTime: null,
      xmtKernel: false,
      sentAt: null,
      nextAt: null,
      done: false,
    }));
  }

  /** Requests per server. */
  get samples(): number {
    return this.#o.samples;
  }

  /** True once every server has had its requests answered or timed out (or sent a kiss). */
  get done(): boolean {
    return this.#slots.every((s) => s.done);
  }

  /** When {@link poll} next has something to do, or null when done. */
  get deadline(): NtpTime | null {
    let d: NtpTime | null = null;
    for (const s of this.#slots) {
      if (s.done) continue;
      const t = s.xmt !== null ? addSec(s.sentAt!, this.#o.timeoutSec) : s.nextAt;
      if (t === null) return null; // not started: poll now
      if (d === null || t < d) d = t;
    }
    return d;
  }

  /** Times out overdue requests and returns the requests due at `now`. */
  poll(now: NtpTime): DateSend[] {
    const out: DateSend[] = [];
    for (let i = 0; i < this.#slots.length; i++) {
      const s = this.#slots[i]!;
      if (s.done) continue;
      if (s.xmt !== null) {
        // The same instant as `deadline` names, so that waiting for it always makes progress.
        if (now < addSec(s.sentAt!, this.#o.timeoutSec)) continue;
        s.xmt = null;
        s.samples.push(null);
        this.#reject(s, i, s.server.address.address, "timeout");
        s.nextAt = now;
      }
      if (s.sent >= this.#o.samples) {
        s.done = true;
        continue;
      }
      if (s.nextAt !== null && now < s.nextAt) continue;
      out.push(this.#request(s, i, now));
    }
    return out;
  }

  /** The transport's report of when request `xmt` to server `server` left. */
  transmitted(server: number, xmt: NtpTimestamp, at: NtpTime, kernel: boolean): void {
    const s = this.#slots[server];
    if (s === undefined || s.xmt !== xmt || (s.xmtKernel && !kernel)) return;
    s.xmtTime = at;
    s.xmtKernel = kernel;
  }

  /** A datagram from `from`, received at local time `rxTime`. */
  receive(data: Uint8Array, from: SocketAddress, rxTime: NtpTime): void {
    const i = this.#slots.findIndex((s) =>
      s.server.address.port === from.port && s.server.address.family === from.family &&
      s.server.address.address === from.address
    );
    const s = this.#slots[i];
    const fromText = from.family === 6 ? `[${from.address}]:${from.port}` : `${from.address}`;
    if (s === undefined) {
      this.events.push({ kind: "reject", server: null, from: fromText, reason: "unknown_sender" });
      return;
    }
    const r = decodePacket(data);
    if (!r.ok) return this.#reject(s, i, fromText, "decode");
    const p = r.packet;
    if (p.mode !== MODE_SERVER) return this.#reject(s, i, fromText, "mode");
    if (this.#o.key !== null) {
      // Only a reply signed with our key counts; anything else, a kiss included, is ignored and
      // the request stays open until it times out.
      if (p.mac === null || p.mac.digest.length === 0) {
        return this.#reject(s, i, fromText, "unauthenticated");
      }
      const at = data.length - 4 - p.mac.digest.length;
      const v = this.#o.verifier!.verify(data, data.length, at, null);
      if (v !== "ok" || p.mac.keyId !== this.#o.key.id) {
        return this.#reject(s, i, fromText, "bad_mac");
      }
    }
    if (s.xmt === null) return this.#reject(s, i, fromText, "not_expected");
    if (p.originTimestamp !== s.xmt) return this.#reject(s, i, fromText, "bogus_origin");
    // The exchange is complete: whatever it says, this request is answered.
    const t1 = s.xmtTime ?? fromTimestamp(p.originTimestamp, rxTime);
    s.xmt = null;
    s.nextAt = addSec(s.sentAt!, this.#o.spacingSec);
    s.lastReply = p;
    const code = kissCode(p);
    if (code !== null) {
      this.events.push({ kind: "kiss", server: i, code });
      s.kiss = code;
      s.samples.push(null);
      s.done = true; // a kiss-o'-death asks us to stop
      return;
    }
    s.vars = {
      leap: p.leap,
      // Stratum 0 without a kiss code: unspecified, i.e. not synchronised (RFC 5905 §7.3).
      stratum: p.stratum === 0 ? MAXSTRAT : p.stratum,
      precisionLog2: p.precisionLog2,
      rootDelaySec: rootDelaySec(p),
      rootDispersionSec: rootDispersionSec(p),
      refid: p.refid,
    };
    if (p.leap === LEAP_NOTINSYNC || s.vars.stratum >= MAXSTRAT) {
      s.samples.push(null);
      return this.#reject(s, i, fromText, "unsynchronized");
    }
    if (p.receiveTimestamp === 0n || p.transmitTimestamp === 0n) {
      s.samples.push(null);
      return this.#reject(s, i, fromText, "zero_timestamp");
    }
    const t2 = fromTimestamp(p.receiveTimestamp, rxTime);
    const t3 = fromTimestamp(p.transmitTimestamp, rxTime);
    const t4 = rxTime;
    const precisionSec = 2 ** p.precisionLog2 + 2 ** this.#o.precisionLog2;
    const offsetSec = (diffSec(t2, t1) + diffSec(t3, t4)) / 2;
    const rawDelaySec = diffSec(t4, t1) - diffSec(t3, t2);
    if (rawDelaySec < -precisionSec || rawDelaySec > 16) {
      s.samples.push(null);
      return this.#reject(s, i, fromText, "bad_delay");
    }
    const sample: FilterSample = {
      offsetSec,
      delaySec: Math.max(rawDelaySec, 2 ** this.#o.precisionLog2),
      dispersionSec: precisionSec + PHI * diffSec(t4, t1),
      at: t4,
    };
    const added = s.filter.add(sample);
    if (!added.accepted) {
      s.samples.push(null);
      return this.#reject(s, i, fromText, "outlier");
    }
    s.samples.push(sample);
    this.events.push({ kind: "receive", server: i, offsetSec, delaySec: sample.delaySec });
  }

  /** Each server's state and its filter result at `now`. */
  results(now: NtpTime): (DateServerState & { filter: FilterResult | null })[] {
    return this.#slots.map((s) => ({
      server: s.server,
      samples: [...s.samples],
      sent: s.sent,
      vars: s.vars,
      lastReply: s.lastReply,
      kiss: s.kiss,
      rejected: { ...s.rejected },
      filter: filterResult(s.filter, s.samples, now),
    }));
  }

  #reject(s: Slot, i: number, from: string, reason: DateReject): void {
    s.rejected[reason] = (s.rejected[reason] ?? 0) + 1;
    this.events.push({ kind: "reject", server: i, from, reason });
  }

  #request(s: Slot, i: number, now: NtpTime): DateSend {
    // The transmit timestamp is the send time (plus -e when signed, as ntpdate does), its bits
    // below our precision random: it identifies the reply; the measured send time is T1.
    const signed = this.#o.key !== null;
    const stamp = toTimestamp(signed ? addSec(now, this.#o.authDelaySec) : now);
    const lowBits = Math.max(0, Math.min(32, 32 + this.#o.precisionLog2));
    const mask = (1n << BigInt(lowBits)) - 1n;
    let xmt = (stamp & ~mask) | (BigInt(this.#o.rng.nextU32()) & mask);
    if (xmt === 0n) xmt = 1n;
    const packet = encodeClientRequest({
      version: this.#o.version,
      pollLog2: 0,
      precisionLog2: this.#o.precisionLog2,
      transmitTimestamp: xmt,
    });
    let data = packet;
    if (signed) {
      const key = this.#o.key!;
      const d = digestLengthFor(key, this.#o.version);
      data = new Uint8Array(packet.length + 4 + d);
      data.set(packet);
      signPacket(data, packet.length, key, d);
    }
    s.xmt = xmt;
    s.xmtTime = null;
    s.xmtKernel = false;
    s.sentAt = now;
    s.sent++;
    this.events.push({ kind: "transmit", server: i });
    return { server: i, to: s.server.address, data, xmt };
  }
}
