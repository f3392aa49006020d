// The MRU (monitor) list and rate control: one entry per client address with its packet count,
// first and last arrival, last port, mode, version and restrict flags, ordered by last arrival,
// bounded in memory; plus the `discard average/minimum/monitor` rate check that `restrict
// limited` and `kod` rely on (ntp.conf(5) "discard", "mru"; ntpd 4.2.x ntp_monitor behaviour).
//
// Threads. The whole list lives in one ArrayBuffer or SharedArrayBuffer of fixed size: typed
// arrays, no JavaScript objects, so it costs no allocation per packet and server threads can
// share it. SO_REUSEPORT spreads one address's ports over every thread, so per-thread lists
// would each see a fraction of a flooding client's packets and let it through N times faster;
// partitioning by address would need a datagram hand-off between threads for most packets.
// Shared state is exact and cheap instead: every operation is a short critical section under
// one lock word (compare-and-swap; a contended taker spins briefly, then sleeps in Atomics.wait
// in short slices). A taker that cannot get the lock within a bounded number of tries gives up
// and reports the packet as not recorded ("busy", counted) rather than stall a server thread;
// a thread that died holding the lock can be cleared with `releaseStaleLock`. A list in a plain
// ArrayBuffer (one thread) takes no lock at all.

import { NTP_SHIFT } from "../constants.ts";
import { IpWords } from "../ip.ts";

/** `discard` parameters (ntp.conf(5)). */
export interface DiscardSettings {
  /** Minimum average interval between packets of a client, log2 seconds (default 3: 8 s). */
  averageLog2: number;
  /** Minimum interval between two packets of a client, seconds (default 2). */
  minimumSec: number;
  /**
   * With the list full and its oldest entry younger than `maxAgeSec`, a new client replaces the
   * oldest entry at the rate (age of the oldest entry) / monitor, seconds (default 3000).
   */
  monitorSec: number;
}

/** ntpd's `discard` defaults. */
export const DEFAULT_DISCARD: Readonly<DiscardSettings> = {
  averageLog2: 3,
  minimumSec: 2,
  monitorSec: 3000,
};

/** Default memory bound of the list: ntpd's `mru maxmem` default, 1024 KiB. */
export const DEFAULT_MRU_MAXMEM_BYTES = 1024 * 1024;
/** Default `mru maxage`: an entry older than this is recycled first, seconds. */
export const DEFAULT_MRU_MAXAGE_SEC = 64;
/**
 * Default limit on kisses sent by the whole list, per second (tokens refill at this rate, and
 * at most this many can be saved up).
 * COMPAT: ntpd limits kisses per client only; a global cap also bounds what a flood of spoofed
 * sources (each new to the list) can make the server send.
 */
export const DEFAULT_KISSES_PER_SEC = 100;

/** Options of an {@link MruList}. */
export interface MruOptions {
  /** Entry bound (`mru maxdepth`). Wins over `maxMemBytes` when both are given. */
  maxDepth?: number;
  /** Memory bound in bytes (`mru maxmem` × 1024); default {@link DEFAULT_MRU_MAXMEM_BYTES}. */
  maxMemBytes?: number;
  /** `mru maxage`, seconds. */
  maxAgeSec?: number;
  /** `discard` settings. */
  discard?: Partial<DiscardSettings>;
  /** Global kiss rate cap, per second. */
  kissesPerSec?: number;
  /** Put the list in a SharedArrayBuffer (for server threads). */
  shared?: boolean;
}

/** One entry as {@link MruList.entries} shows it (what ntpq's mrulist prints). */
export interface MruEntry {
  address: string;
  family: 4 | 6;
  /** Source port of the last packet. */
  port: number;
  count: number;
  firstSec: number;
  lastSec: number;
  mode: number;
  version: number;
  /** Restrict flags (RES_*) the last packet was judged by. */
  restrictFlags: number;
}

/** Counters of the list. */
export interface MruStats {
  /** Entries in use. */
  entries: number;
  /** The entry bound. */
  capacity: number;
  /** Clients added to the list. */
  added: number;
  /** Entries taken over for a new client (oldest first). */
  recycled: number;
  /** Packets of new clients not recorded because the list was full of recent clients. */
  notRecorded: number;
  /** Packets not recorded because the lock could not be taken in time. */
  busy: number;
  /** Kisses granted. */
  kisses: number;
  /** Kisses refused by the per-client spacing or the global cap. */
  kissesSuppressed: number;
}

/**
 * A receive time as Unix seconds and nanoseconds (the packet path's `PacketIn` is one). Passed
 * as an object so the hot path hands no float across a call: a float argument is boxed.
 */
export interface ReceiveTime {
  readonly rxUnixSec: number;
  readonly rxUnixNsec: number;
}

/** {@link MruList.observe} result bit: the packet broke the `discard` rates. */
export const MRU_EXCEEDED = 1;
/** {@link MruList.observe} result bit: the client has an entry (rates and kisses apply). */
export const MRU_RECORDED = 2;

// Header: Int32 words, then Float64 words.
const I_LOCK = 0;
const I_WAITERS = 1;
const I_COUNT = 2;
const I_HEAD = 3;
const I_TAIL = 4;
const I_CAPACITY = 5;
const I_BUCKETS = 6;
const I_MAGIC = 7;
const HEADER_INTS = 8;
const F_AVERAGE = 0;
const F_MINIMUM = 1;
const F_MONITOR = 2;
const F_MAXAGE = 3;
const F_KISS_RATE = 4;
const F_KISS_TOKENS = 5;
const F_KISS_TIME = 6;
const F_ADDED = 7;
const F_RECYCLED = 8;
const F_NOT_RECORDED = 9;
const F_BUSY = 10;
const F_KISSES = 11;
const F_KISSES_SUPPRESSED = 12;
const F_ADMIT_CREDIT = 13;
const HEADER_FLOATS = 16;
const HEADER_BYTES = 4 * HEADER_INTS + 8 * HEADER_FLOATS;
const MAGIC = 0x4d52554c; // "MRUL"

// Per entry: 4 key words; Int32 meta (family, mode, version), port, flags, hash chain, LRU
// links; Float64 first, last, leak (rate score, seconds), last kiss, count.
const KEY_WORDS = 4;
const INTS = 6;
const J_META = 0;
const J_PORT = 1;
const J_FLAGS = 2;
const J_CHAIN = 3;
const J_NEWER = 4;
const J_OLDER = 5;
const FLOATS = 5;
const G_FIRST = 0;
const G_LAST = 1;
const G_LEAK = 2;
const G_KISS = 3;
const G_COUNT = 4;
/** Bytes per entry, not counting its hash bucket. */
export const MRU_ENTRY_BYTES = 4 * KEY_WORDS + 4 * INTS + 8 * FLOATS;

/** Spins on a held lock before sleeping. */
const LOCK_SPINS = 200;
/** Sleeps of LOCK_SLEEP_MS before giving up (about 10 ms in all). */
const LOCK_SLEEPS = 200;
const LOCK_SLEEP_MS = 0.05;

function bucketCount(capacity: number): number {
  let n = 1;
  while (n < capacity) n *= 2;
  return n;
}

/** Bytes of a list with room for `capacity` entries. */
export function mruBytes(capacity: number): number {
  return HEADER_BYTES + capacity * MRU_ENTRY_BYTES + 4 * bucketCount(capacity);
}

/** The largest entry count whose list fits in `bytes` (at least 1). */
export function mruCapacityFor(bytes: number): number {
  let cap = Math.max(1, Math.floor((bytes - HEADER_BYTES) / (MRU_ENTRY_BYTES + 8)));
  while (mruBytes(cap + 1) <= bytes) cap++;
  while (cap > 1 && mruBytes(cap) > bytes) cap--;
  return cap;
}

/** Hash of a key; takes the words from an IpWords so no 32-bit value crosses a call. */
function hashOf(s: IpWords, mask: number): number {
  let h = Math.imul(s.w0 ^ s.family, 0x9e3779b1);
  h = Math.imul(h ^ s.w1 ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ s.w2 ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ s.w3 ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) & mask;
}

/**
 * The MRU list with rate control. The main thread creates it ({@link MruList.create}) and
 * hands {@link buffer} to server threads, which wrap the same memory ({@link MruList.attach}).
 *
 * @example
 * ```ts
 * const mru = MruList.create({ maxMemBytes: 1 << 20 });
 * const r = mru.observe(src, port, 3, 4, flags, packetIn);
 * if ((flags & RES_LIMITED) && (r & MRU_EXCEEDED)) { ... drop, maybe kiss ... }
 * ```
 */
export class MruList {
  /** The list's memory (a SharedArrayBuffer when created `shared`). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly #shared: boolean;
  readonly #head: Int32Array;
  readonly #f: Float64Array;
  readonly #keys: Uint32Array;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  readonly #buckets: Int32Array;
  readonly #capacity: number;
  readonly #bucketMask: number;
  /** Lock owner id of this thread (thread number + 1). */
  readonly #owner: number;
  // The discard settings, fixed at creation, in the forms observe() needs.
  readonly #headSec: number;
  readonly #limitSec: number;
  readonly #minimumSec: number;
  /** Scratch key for rehashing an entry being recycled. */
  readonly #scratch = new IpWords();

  private constructor(buffer: ArrayBuffer | SharedArrayBuffer, thread: number) {
    this.buffer = buffer;
    this.#shared = typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
    this.#head = new Int32Array(buffer, 0, HEADER_INTS);
    this.#f = new Float64Array(buffer, 4 * HEADER_INTS, HEADER_FLOATS);
    const cap = this.#head[I_CAPACITY]!;
    const buckets = this.#head[I_BUCKETS]!;
    this.#capacity = cap;
    this.#bucketMask = buckets - 1;
    let at = HEADER_BYTES;
    this.#floats = new Float64Array(buffer, at, cap * FLOATS);
    at += 8 * cap * FLOATS;
    this.#keys = new Uint32Array(buffer, at, cap * KEY_WORDS);
    at += 4 * cap * KEY_WORDS;
    this.#ints = new Int32Array(buffer, at, cap * INTS);
    at += 4 * cap * INTS;
    this.#buckets = new Int32Array(buffer, at, buckets);
    this.#owner = thread + 1;
    this.#headSec = 2 ** this.#f[F_AVERAGE]!;
    this.#limitSec = NTP_SHIFT * this.#headSec;
    this.#minimumSec = this.#f[F_MINIMUM]!;
  }

  /** A new, empty list sized by `options` (the thread creating it is thread 0). */
  static create(options: MruOptions = {}): MruList {
    const cap = options.maxDepth !== undefined
      ? Math.max(1, Math.floor(options.maxDepth))
      : mruCapacityFor(options.maxMemBytes ?? DEFAULT_MRU_MAXMEM_BYTES);
    const bytes = mruBytes(cap);
    const buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const h = new Int32Array(buffer, 0, HEADER_INTS);
    h[I_CAPACITY] = cap;
    h[I_BUCKETS] = bucketCount(cap);
    h[I_MAGIC] = MAGIC;
    const d = { ...DEFAULT_DISCARD, ...options.discard };
    const f = new Float64Array(buffer, 4 * HEADER_INTS, HEADER_FLOATS);
    f[F_AVERAGE] = d.averageLog2;
    f[F_MINIMUM] = d.minimumSec;
    f[F_MONITOR] = d.monitorSec;
    f[F_MAXAGE] = options.maxAgeSec ?? DEFAULT_MRU_MAXAGE_SEC;
    f[F_KISS_RATE] = options.kissesPerSec ?? DEFAULT_KISSES_PER_SEC;
    f[F_KISS_TOKENS] = f[F_KISS_RATE]!;
    f[F_KISS_TIME] = -Infinity;
    const list = new MruList(buffer, 0);
    list.#clearEntries();
    return list;
  }

  /**
   * Wraps the memory of a list created elsewhere (a server thread; `thread` ≥ 1 identifies it
   * as the lock owner). Throws a RangeError when `buffer` does not hold a list.
   */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer, thread: number): MruList {
    if (buffer.byteLength < HEADER_BYTES) throw new RangeError("MruList: buffer too small");
    const h = new Int32Array(buffer, 0, HEADER_INTS);
    if (h[I_MAGIC] !== MAGIC || buffer.byteLength < mruBytes(h[I_CAPACITY]!)) {
      throw new RangeError("MruList: buffer does not hold an MRU list");
    }
    return new MruList(buffer, thread);
  }

  /** The entry bound. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The `discard` settings in force. */
  get discard(): DiscardSettings {
    const f = this.#f;
    return { averageLog2: f[F_AVERAGE]!, minimumSec: f[F_MINIMUM]!, monitorSec: f[F_MONITOR]! };
  }

  #clearEntries(): void {
    const h = this.#head;
    h[I_COUNT] = 0;
    h[I_HEAD] = -1;
    h[I_TAIL] = -1;
    this.#buckets.fill(-1);
  }

  // --- locking -------------------------------------------------------------------------------

  #lock(): boolean {
    if (!this.#shared) return true;
    const h = this.#head;
    const me = this.#owner;
    for (let i = 0; i < LOCK_SPINS; i++) {
      if (Atomics.compareExchange(h, I_LOCK, 0, me) === 0) return true;
    }
    for (let i = 0; i < LOCK_SLEEPS; i++) {
      const held = Atomics.compareExchange(h, I_LOCK, 0, me);
      if (held === 0) return true;
      Atomics.add(h, I_WAITERS, 1);
      Atomics.wait(h, I_LOCK, held, LOCK_SLEEP_MS);
      Atomics.sub(h, I_WAITERS, 1);
    }
    return false;
  }

  #unlock(): void {
    if (!this.#shared) return;
    const h = this.#head;
    Atomics.store(h, I_LOCK, 0);
    if (Atomics.load(h, I_WAITERS) > 0) Atomics.notify(h, I_LOCK, 1);
  }

  /**
   * Clears the lock if thread `thread` (which has died) holds it. The entry it was updating
   * may be half-written; the structure stays within bounds because every link is checked.
   */
  releaseStaleLock(thread: number): boolean {
    if (!this.#shared) return false;
    return Atomics.compareExchange(this.#head, I_LOCK, thread + 1, 0) === thread + 1;
  }

  // --- the table -----------------------------------------------------------------------------

  #find(s: IpWords): number {
    const keys = this.#keys;
    const ints = this.#ints;
    const fam = s.family;
    let i = this.#buckets[hashOf(s, this.#bucketMask)]!;
    // Bounded walk: a chain can never be longer than the list.
    for (let n = 0; i >= 0 && n < this.#capacity; n++) {
      const k = KEY_WORDS * i;
      if (
        keys[k] === s.w0 && keys[k + 1] === s.w1 && keys[k + 2] === s.w2 &&
        keys[k + 3] === s.w3 && (ints[INTS * i + J_META]! >>> 8) === fam
      ) return i;
      i = ints[INTS * i + J_CHAIN]!;
    }
    return -1;
  }

  #unlinkLru(i: number): void {
    const ints = this.#ints;
    const h = this.#head;
    const newer = ints[INTS * i + J_NEWER]!;
    const older = ints[INTS * i + J_OLDER]!;
    if (newer >= 0) ints[INTS * newer + J_OLDER] = older;
    else h[I_HEAD] = older;
    if (older >= 0) ints[INTS * older + J_NEWER] = newer;
    else h[I_TAIL] = newer;
  }

  #pushLru(i: number): void {
    const ints = this.#ints;
    const h = this.#head;
    const first = h[I_HEAD]!;
    ints[INTS * i + J_NEWER] = -1;
    ints[INTS * i + J_OLDER] = first;
    if (first >= 0) ints[INTS * first + J_NEWER] = i;
    else h[I_TAIL] = i;
    h[I_HEAD] = i;
  }

  #unchain(i: number): void {
    const keys = this.#keys;
    const ints = this.#ints;
    const k = KEY_WORDS * i;
    const w = this.#scratch;
    w.family = (ints[INTS * i + J_META]! >>> 8) === 6 ? 6 : 4;
    w.w0 = keys[k]!;
    w.w1 = keys[k + 1]!;
    w.w2 = keys[k + 2]!;
    w.w3 = keys[k + 3]!;
    const b = hashOf(w, this.#bucketMask);
    let prev = -1;
    let j = this.#buckets[b]!;
    for (let n = 0; j >= 0 && n < this.#capacity; n++) {
      const next = ints[INTS * j + J_CHAIN]!;
      if (j === i) {
        if (prev < 0) this.#buckets[b] = next;
        else ints[INTS * prev + J_CHAIN] = next;
        return;
      }
      prev = j;
      j = next;
    }
  }

  /** A slot for a new client, or −1 when it is not to be recorded. */
  #allocate(nowSec: number): number {
    const h = this.#head;
    const count = h[I_COUNT]!;
    if (count < this.#capacity) {
      h[I_COUNT] = count + 1;
      return count;
    }
    const oldest = h[I_TAIL]!;
    if (oldest < 0) return -1;
    const age = nowSec - this.#floats[FLOATS * oldest + G_LAST]!;
    const f = this.#f;
    // The storage is allocated up front, so unlike ntpd the list never grows in steps: a
    // recent oldest entry gives way to new clients only at the `discard monitor` rate.
    // COMPAT: ntpd draws a random number per newcomer; a credit that each newcomer raises by
    // age/monitor admits the same share, deterministically, with no call per packet.
    if (age <= f[F_MAXAGE]!) {
      const credit = f[F_ADMIT_CREDIT]! + age / f[F_MONITOR]!;
      if (credit < 1) {
        f[F_ADMIT_CREDIT] = credit;
        return -1;
      }
      f[F_ADMIT_CREDIT] = credit - 1;
    }
    this.#unchain(oldest);
    this.#unlinkLru(oldest);
    f[F_RECYCLED]!++;
    return oldest;
  }

  /**
   * Records a packet from `src` and checks the `discard` rates: returns MRU_RECORDED when the
   * client has an entry, plus MRU_EXCEEDED when this packet came too soon (the minimum spacing,
   * or an average above 2^average s over the last several packets). Whether that drops the
   * packet is the caller's decision (`restrict limited`). A client that exceeds must then stay
   * under the rates for 2^average s before it is within them again. O(1), no allocation.
   */
  observe(
    src: IpWords,
    port: number,
    mode: number,
    version: number,
    restrictFlags: number,
    now: ReceiveTime,
  ): number {
    const nowSec = now.rxUnixSec + now.rxUnixNsec * 1e-9;
    if (!this.#lock()) {
      this.#f[F_BUSY]!++;
      return 0;
    }
    const f = this.#f;
    const floats = this.#floats;
    const ints = this.#ints;
    let i = this.#find(src);
    let interval: number;
    if (i >= 0) {
      interval = Math.floor(nowSec - floats[FLOATS * i + G_LAST]! + 0.5);
      floats[FLOATS * i + G_COUNT]!++;
      if (this.#head[I_HEAD] !== i) {
        this.#unlinkLru(i);
        this.#pushLru(i);
      }
    } else {
      i = this.#allocate(nowSec);
      if (i < 0) {
        f[F_NOT_RECORDED]!++;
        this.#unlock();
        return 0;
      }
      const k = KEY_WORDS * i;
      this.#keys[k] = src.w0;
      this.#keys[k + 1] = src.w1;
      this.#keys[k + 2] = src.w2;
      this.#keys[k + 3] = src.w3;
      const b = hashOf(src, this.#bucketMask);
      ints[INTS * i + J_CHAIN] = this.#buckets[b]!;
      this.#buckets[b] = i;
      floats[FLOATS * i + G_FIRST] = nowSec;
      floats[FLOATS * i + G_LEAK] = 0;
      floats[FLOATS * i + G_KISS] = -Infinity;
      floats[FLOATS * i + G_COUNT] = 1;
      interval = Infinity;
      f[F_ADDED]!++;
      this.#pushLru(i);
    }
    floats[FLOATS * i + G_LAST] = nowSec;
    ints[INTS * i + J_META] = (src.family << 8) | ((version & 7) << 3) | (mode & 7);
    ints[INTS * i + J_PORT] = port;
    ints[INTS * i + J_FLAGS] = restrictFlags;
    // The leaky bucket: the score drains one second per second and each packet within the
    // rates adds the average spacing (less 2 s of grace); a packet closer than the minimum
    // spacing (1 s of grace) or one that would push the score to NTP_SHIFT average spacings is
    // over the rates. The first one over sets the score past the limit, so the client must be
    // quiet for a while before it is served again.
    const headSec = this.#headSec;
    const limitSec = this.#limitSec;
    let leak = floats[FLOATS * i + G_LEAK]! - interval;
    if (!(leak > 0)) leak = 0;
    let result = MRU_RECORDED;
    if (interval + 1 >= this.#minimumSec && leak + headSec < limitSec) {
      leak = Math.max(0, leak + headSec - 2);
    } else {
      result |= MRU_EXCEEDED;
      if (leak < limitSec) leak = limitSec + headSec;
    }
    floats[FLOATS * i + G_LEAK] = leak;
    this.#unlock();
    return result;
  }

  /**
   * Asks to send a kiss-o'-death to `src` now: granted at most once per 2^average s per client
   * and within the global kiss rate; only clients with an entry can be kissed. Counts the
   * answer either way.
   */
  takeKiss(src: IpWords, nowSec: number): boolean {
    if (!this.#lock()) {
      this.#f[F_BUSY]!++;
      return false;
    }
    const f = this.#f;
    let granted = false;
    const i = this.#find(src);
    if (i >= 0) {
      const at = FLOATS * i + G_KISS;
      const headSec = this.#headSec;
      const rate = f[F_KISS_RATE]!;
      const tokens = Math.min(
        rate,
        f[F_KISS_TOKENS]! + Math.max(0, nowSec - f[F_KISS_TIME]!) * rate,
      );
      f[F_KISS_TIME] = nowSec;
      f[F_KISS_TOKENS] = tokens;
      if (nowSec - this.#floats[at]! >= headSec && tokens >= 1) {
        f[F_KISS_TOKENS] = tokens - 1;
        this.#floats[at] = nowSec;
        granted = true;
      }
    }
    if (granted) f[F_KISSES]!++;
    else f[F_KISSES_SUPPRESSED]!++;
    this.#unlock();
    return granted;
  }

  /** Empties the list (`disable monitor`, or a reset). Counters are kept. */
  clear(): void {
    if (!this.#lock()) return;
    this.#clearEntries();
    this.#unlock();
  }

  /** The counters. */
  stats(): MruStats {
    const locked = this.#lock();
    const f = this.#f;
    const s: MruStats = {
      entries: this.#head[I_COUNT]!,
      capacity: this.#capacity,
      added: f[F_ADDED]!,
      recycled: f[F_RECYCLED]!,
      notRecorded: f[F_NOT_RECORDED]!,
      busy: f[F_BUSY]!,
      kisses: f[F_KISSES]!,
      kissesSuppressed: f[F_KISSES_SUPPRESSED]!,
    };
    if (locked) this.#unlock();
    return s;
  }

  /** The entries, most recent first (at most `limit`). */
  entries(limit = Infinity): MruEntry[] {
    const out: MruEntry[] = [];
    if (!this.#lock()) return out;
    const ints = this.#ints;
    const floats = this.#floats;
    const keys = this.#keys;
    const w = new IpWords();
    let i = this.#head[I_HEAD]!;
    for (let n = 0; i >= 0 && n < this.#capacity && out.length < limit; n++) {
      const meta = ints[INTS * i + J_META]!;
      const family = (meta >>> 8) === 6 ? 6 : 4;
      const k = KEY_WORDS * i;
      if (family === 4) w.setV4(keys[k]!);
      else w.setV6(keys[k]!, keys[k + 1]!, keys[k + 2]!, keys[k + 3]!);
      out.push({
        address: w.toString(),
        family,
        port: ints[INTS * i + J_PORT]!,
        count: floats[FLOATS * i + G_COUNT]!,
        firstSec: floats[FLOATS * i + G_FIRST]!,
        lastSec: floats[FLOATS * i + G_LAST]!,
        mode: meta & 7,
        version: (meta >> 3) & 7,
        restrictFlags: ints[INTS * i + J_FLAGS]!,
      });
      i = ints[INTS * i + J_OLDER]!;
    }
    this.#unlock();
    return out;
  }
}
