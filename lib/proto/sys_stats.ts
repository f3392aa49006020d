// The system packet counters ntpq's `sysstats` shows (ntpd 4.2.x: received, processed, current
// and old version, access denied, bad length or format, bad authentication, rate exceeded, kisses
// sent), plus one counter per drop reason, kept per thread and summed exactly.
//
// Each thread writes only its own block (plain stores, no atomics on the hot path); a counter is
// a pair of 32-bit words (low, high) so it never wraps or allocates. The owner (the main thread)
// reads every block with atomic loads, re-reading a pair whose high word moved, and keeps the
// values at the last reset as a baseline, so a reset never races with a writer.

/** Why a datagram got no normal processing. Each one is counted once, in exactly one reason. */
export const DROP_REASONS = [
  // bad length or format
  "too_short", // under 48 bytes (modes 1–5), or empty
  "bad_length", // not a multiple of 4
  "bad_extension", // an extension field overruns the packet or has a bad length
  "bad_mac_length", // what follows the header is not a MAC or extension fields
  "bad_mode", // mode 0
  "source_port_zero", // from UDP port 0
  "source_invalid", // from an unspecified, broadcast or multicast address
  "zero_transmit", // a client request without a transmit timestamp
  // bad version
  "bad_version", // version 0 or 5–7
  // NTPv1 (RFC 1059), never answered; NTPsec's ss_ver1* counters (ntpq sysstats) show them.
  "v1_client", // an NTPv1 client request (mode 3)
  "v1_symmetric", // an NTPv1 symmetric active packet (mode 1)
  "v1_mode0", // an NTPv1 packet without a mode (RFC 1059 had none)
  "v1_other", // an NTPv1 packet of another mode (2, 4, 5)
  // access denied (restrict)
  "ignored", // restrict ignore
  "own_address", // from the daemon's own address and port
  "noserve", // restrict noserve (time service)
  "notrust", // restrict notrust, and the packet is not authenticated
  "noquery", // restrict noquery (control and private modes)
  "version", // restrict version, and the version is not 4
  "auth_required", // enable auth: a peer or broadcast packet that would mobilise, unauthenticated
  // rate exceeded
  "rate_limited", // restrict limited, and the client is over the discard rates
  // bad authentication (a request among these is answered with a crypto-NAK)
  "truncated_mac", // a digest shorter than the key's (or a key id alone that is not 0)
  "unknown_key", // no key with the MAC's key id
  "untrusted_key", // the key is not trusted (trustedkey)
  "address_excluded", // the key's address list (keys file, fourth field) excludes the sender
  "bad_mac", // the digest does not match
  "crypto_nak", // a crypto-NAK: a reply saying our MAC failed, or one in a request
  // NTS (RFC 8915): client requests with NTS fields
  "nts_malformed", // NTS extension fields that break RFC 8915 §5 framing or counts
  "nts_bad_cookie", // a cookie no kept master key opens (answered with an NTS NAK)
  "nts_wrong_aead", // a cookie for an AEAD this server does not run (answered with an NTS NAK)
  "nts_bad_auth", // the NTS authenticator does not verify (tampered)
  "nts_cookie_reuse", // a cookie this server accepted before, spent again (a replay)
  // declined
  "private_mode", // mode 7 (ntpdc): not served
  "control_response", // a mode 6 response or error: never answered
  "no_handler", // a mode whose handler is not built yet
  "overload", // a server thread could not hand it to the main thread (queue full)
] as const;

/** A drop reason. */
export type DropReason = typeof DROP_REASONS[number];

/** The sysstats group a drop reason counts in. */
export type DropGroup =
  | "badFormat"
  | "badVersion"
  | "accessDenied"
  | "rateExceeded"
  | "badAuth"
  | "declined";

/** The group of each reason. */
export const DROP_GROUP: Readonly<Record<DropReason, DropGroup>> = {
  too_short: "badFormat",
  bad_length: "badFormat",
  bad_extension: "badFormat",
  bad_mac_length: "badFormat",
  bad_mode: "badFormat",
  source_port_zero: "badFormat",
  source_invalid: "badFormat",
  zero_transmit: "badFormat",
  bad_version: "badVersion",
  v1_client: "badVersion",
  v1_symmetric: "badVersion",
  v1_mode0: "badVersion",
  v1_other: "badVersion",
  ignored: "accessDenied",
  own_address: "accessDenied",
  noserve: "accessDenied",
  notrust: "accessDenied",
  noquery: "accessDenied",
  version: "accessDenied",
  auth_required: "accessDenied",
  rate_limited: "rateExceeded",
  truncated_mac: "badAuth",
  unknown_key: "badAuth",
  untrusted_key: "badAuth",
  address_excluded: "badAuth",
  bad_mac: "badAuth",
  crypto_nak: "badAuth",
  nts_malformed: "badFormat",
  nts_bad_cookie: "badAuth",
  nts_wrong_aead: "badAuth",
  nts_bad_auth: "badAuth",
  nts_cookie_reuse: "badAuth",
  private_mode: "declined",
  control_response: "declined",
  no_handler: "declined",
  overload: "declined",
};

/** The counters, summed over threads, since the last reset. */
export interface SysStatsSnapshot {
  /** Seconds since the counters were created (the daemon's start). */
  sinceRestartSec: number;
  /** Seconds since the last reset. */
  sinceResetSec: number;
  /** Datagrams received. */
  received: number;
  /** Datagrams processed: answered, handed to the timekeeping core or forwarded to a handler. */
  processed: number;
  /** Packets of the current version (4). */
  currentVersion: number;
  /** Packets of an older version (1–3). */
  oldVersion: number;
  badVersion: number;
  accessDenied: number;
  badFormat: number;
  badAuth: number;
  rateExceeded: number;
  declined: number;
  /** Kiss-o'-death packets sent. */
  kissesSent: number;
  /** Every drop reason's count. received = processed + the sum of these. */
  drops: Record<DropReason, number>;
}

/** One thread's share of the counters (see {@link SysStats.threadTotals}). */
export interface ThreadTotals {
  received: number;
  processed: number;
  /** Every drop reason added up. */
  dropped: number;
  kissesSent: number;
}

const C_RECEIVED = 0;
const C_PROCESSED = 1;
const C_CURRENT_VERSION = 2;
const C_OLD_VERSION = 3;
const C_KISSES = 4;
const C_DROPS = 5;
const COUNTERS = C_DROPS + DROP_REASONS.length;
/** Index of each drop reason's counter. */
const DROP_INDEX: Readonly<Record<DropReason, number>> = Object.fromEntries(
  DROP_REASONS.map((r, k) => [r, C_DROPS + k]),
) as Record<DropReason, number>;

// Layout: Float64 header [start, reset, magic, threads, baselines × COUNTERS], then per thread
// COUNTERS pairs of Uint32 (low, high).
const H_START = 0;
const H_RESET = 1;
const H_MAGIC = 2;
const H_THREADS = 3;
const H_BASE = 4;
const HEADER_FLOATS = H_BASE + COUNTERS;
const MAGIC = 0x53595353;
const BLOCK_WORDS = 2 * COUNTERS;

/**
 * One thread's counters (the writer side). Each method adds one; none allocates.
 */
export class SysCounters {
  readonly #u: Uint32Array;

  /** Wraps a block (use {@link SysStats.counters}). */
  constructor(words: Uint32Array) {
    this.#u = words;
  }

  #bump(i: number): void {
    const u = this.#u;
    const j = 2 * i;
    const v = (u[j]! + 1) >>> 0;
    u[j] = v;
    if (v === 0) u[j + 1] = (u[j + 1]! + 1) >>> 0;
  }

  /** A datagram arrived. */
  received(): void {
    this.#bump(C_RECEIVED);
  }

  /** It was processed (answered, handed to the core, forwarded). */
  processed(): void {
    this.#bump(C_PROCESSED);
  }

  /** Its version was the current one (`current`) or an older one. */
  version(current: boolean): void {
    this.#bump(current ? C_CURRENT_VERSION : C_OLD_VERSION);
  }

  /** It was dropped (or answered only with a kiss or crypto-NAK) for `reason`. */
  dropped(reason: DropReason): void {
    this.#bump(DROP_INDEX[reason]);
  }

  /** A kiss-o'-death was sent. */
  kissSent(): void {
    this.#bump(C_KISSES);
  }
}

/**
 * The counters of every thread of a daemon, in one buffer (a SharedArrayBuffer for server
 * threads). The main thread creates it, each thread takes its {@link counters} block, and the
 * main thread reads the sums with {@link snapshot}.
 *
 * @example
 * ```ts
 * const stats = SysStats.create(3, nowSec, true);
 * const mine = stats.counters(0); // thread 0; workers: SysStats.attach(buffer).counters(k)
 * mine.received();
 * stats.snapshot(nowSec).received; // 1
 * ```
 */
export class SysStats {
  /** The memory (pass it to server threads). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly #h: Float64Array;
  readonly #threads: number;
  readonly #shared: boolean;

  private constructor(buffer: ArrayBuffer | SharedArrayBuffer) {
    this.buffer = buffer;
    this.#h = new Float64Array(buffer, 0, HEADER_FLOATS);
    this.#threads = this.#h[H_THREADS]!;
    this.#shared = typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
  }

  /** Counters for `threads` threads, started at `nowSec` (shared: in a SharedArrayBuffer). */
  static create(threads: number, nowSec: number, shared = false): SysStats {
    const n = Math.max(1, Math.floor(threads));
    const bytes = 8 * HEADER_FLOATS + 4 * BLOCK_WORDS * n;
    const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const h = new Float64Array(buffer, 0, HEADER_FLOATS);
    h[H_START] = nowSec;
    h[H_RESET] = nowSec;
    h[H_MAGIC] = MAGIC;
    h[H_THREADS] = n;
    return new SysStats(buffer);
  }

  /** Wraps counters created elsewhere; throws a RangeError when `buffer` holds none. */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer): SysStats {
    if (buffer.byteLength < 8 * HEADER_FLOATS) throw new RangeError("SysStats: buffer too small");
    const h = new Float64Array(buffer, 0, HEADER_FLOATS);
    const n = h[H_THREADS]!;
    if (
      h[H_MAGIC] !== MAGIC || !Number.isInteger(n) || n < 1 ||
      buffer.byteLength < 8 * HEADER_FLOATS + 4 * BLOCK_WORDS * n
    ) throw new RangeError("SysStats: buffer does not hold counters");
    return new SysStats(buffer);
  }

  /** Number of thread blocks. */
  get threads(): number {
    return this.#threads;
  }

  /** The writer for thread `thread` (0 = main). */
  counters(thread: number): SysCounters {
    if (!Number.isInteger(thread) || thread < 0 || thread >= this.#threads) {
      throw new RangeError(`SysStats: no block for thread ${thread}`);
    }
    return new SysCounters(
      new Uint32Array(this.buffer, 8 * HEADER_FLOATS + 4 * BLOCK_WORDS * thread, BLOCK_WORDS),
    );
  }

  #sum(i: number): number {
    let total = 0;
    for (let t = 0; t < this.#threads; t++) total += this.#read(t, i);
    return total;
  }

  /** Counter `i` of thread `t`. */
  #read(t: number, i: number): number {
    const all = new Uint32Array(this.buffer, 8 * HEADER_FLOATS, BLOCK_WORDS * this.#threads);
    const j = t * BLOCK_WORDS + 2 * i;
    if (!this.#shared) return all[j + 1]! * 2 ** 32 + all[j]!;
    // A carry between the two loads shows as a moved high word: read again.
    for (;;) {
      const hi = Atomics.load(all, j + 1);
      const lo = Atomics.load(all, j);
      if (Atomics.load(all, j + 1) === hi) return hi * 2 ** 32 + lo;
    }
  }

  /**
   * One thread's totals since the counters were created (a reset does not clear them): what the
   * status file shows per server thread. `dropped` is the sum of every drop reason.
   */
  threadTotals(thread: number): ThreadTotals {
    if (!Number.isInteger(thread) || thread < 0 || thread >= this.#threads) {
      throw new RangeError(`SysStats: no block for thread ${thread}`);
    }
    let dropped = 0;
    for (const r of DROP_REASONS) dropped += this.#read(thread, DROP_INDEX[r]);
    return {
      received: this.#read(thread, C_RECEIVED),
      processed: this.#read(thread, C_PROCESSED),
      dropped,
      kissesSent: this.#read(thread, C_KISSES),
    };
  }

  /** Sums over every thread since the last reset. Call it from the owning (main) thread. */
  snapshot(nowSec: number): SysStatsSnapshot {
    const h = this.#h;
    const v = (i: number) => this.#sum(i) - h[H_BASE + i]!;
    const drops = Object.fromEntries(DROP_REASONS.map((r) => [r, v(DROP_INDEX[r])])) as Record<
      DropReason,
      number
    >;
    const group = (g: DropGroup) =>
      DROP_REASONS.reduce((s, r) => s + (DROP_GROUP[r] === g ? drops[r] : 0), 0);
    return {
      sinceRestartSec: nowSec - h[H_START]!,
      sinceResetSec: nowSec - h[H_RESET]!,
      received: v(C_RECEIVED),
      processed: v(C_PROCESSED),
      currentVersion: v(C_CURRENT_VERSION),
      oldVersion: v(C_OLD_VERSION),
      badVersion: group("badVersion"),
      accessDenied: group("accessDenied"),
      badFormat: group("badFormat"),
      badAuth: group("badAuth"),
      rateExceeded: group("rateExceeded"),
      declined: group("declined"),
      kissesSent: v(C_KISSES),
      drops,
    };
  }

  /** Starts counting from zero (ntpq's `reset sys`); the restart time is kept. */
  reset(nowSec: number): void {
    const h = this.#h;
    for (let i = 0; i < COUNTERS; i++) h[H_BASE + i] = this.#sum(i);
    h[H_RESET] = nowSec;
  }
}
