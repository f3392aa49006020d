// The shared memory driver (ntpd's type 28, 127.127.28.u): reads the SysV segment
// 0x4e545030 + u that gpsd and other time sources fill (struct shmTime, PLATFORM.md). Mode 0
// (the writer sets valid last) and mode 1 (count bumped before and after writing) are both
// read; the nanosecond fields are used when they agree with the microsecond ones.
// Units 0 and 1 are created root-only (0600) and 2 and up world-writable (0666), as in ntpd.

import { attachSegment, type SharedSegment } from "../ffi/shm.ts";
import { fromUnix, type NtpTime } from "../lib/proto/ntp_time.ts";
import type {
  RefclockConfig,
  RefclockContext,
  RefclockDriver,
  RefclockDriverEntry,
  RefclockFudge,
  RefclockSample,
} from "./driver.ts";
import { checkUnit, resolveFudge, SENTENCE_ERROR_SEC } from "./driver.ts";
import { medianFiltered } from "./median_filter.ts";

/** ntpd's SHM driver type number. */
export const SHM_DRIVER_TYPE = 28;
/** The key of unit 0's segment ("NTP0"). */
export const SHM_KEY_BASE = 0x4e545030;
/** sizeof(struct shmTime) on x86_64. */
export const SHM_SIZE = 96;
/**
 * Largest |reference − system| accepted (s). COMPAT: ntpd's SHM default is four hours too; a
 * sample further off (a timestamp from next year) is counted as insane and dropped.
 */
export const SHM_MAX_OFFSET_SEC = 4 * 3600;
/** A sample whose system-side stamp is older than this when read is stale (s). */
export const SHM_STALE_SEC = 5;
/** How often the segment is looked at (s): writers such as gpsd update it about once a second. */
export const SHM_READ_INTERVAL_SEC = 1;
/**
 * The precision the clock is described with (log2 s): the segment's time stamps are nanoseconds.
 * COMPAT: the writer's precision field gives the sample's root dispersion, but no more than a
 * sentence's error (SENTENCE_ERROR_SEC): gpsd writes -1 (half a second) for a unit fed by
 * sentences alone, which put a root dispersion of over 0.5 s on every reply; -20 for a PPS unit
 * is used as it is.
 */
export const SHM_PRECISION_LOG2 = -20;

/** What one look at the segment found. */
export type ShmRead =
  | {
    kind: "sample";
    clockSec: number;
    clockNsec: number;
    rxSec: number;
    rxNsec: number;
    leap: number;
    precisionLog2: number;
  }
  | { kind: "empty" }
  | { kind: "bad_mode"; mode: number }
  | { kind: "clash" }
  | { kind: "bad_time" };

/**
 * Reads a struct shmTime from `buffer` (a live segment or a test's copy), as mode 0 or mode 1
 * says, and clears `valid` after a read so that each sample is taken once.
 */
export function readShm(buffer: ArrayBuffer): ShmRead {
  const dv = new DataView(buffer);
  const i32 = new Int32Array(buffer, 0, 16);
  if (Atomics.load(i32, 12) === 0) return { kind: "empty" };
  const mode = dv.getInt32(0, true);
  if (mode !== 0 && mode !== 1) {
    Atomics.store(i32, 12, 0);
    return { kind: "bad_mode", mode };
  }
  const before = Atomics.load(i32, 1);
  const clockSec = Number(dv.getBigInt64(8, true));
  const clockUsec = dv.getInt32(16, true);
  const rxSec = Number(dv.getBigInt64(24, true));
  const rxUsec = dv.getInt32(32, true);
  const leap = dv.getInt32(36, true);
  const precisionLog2 = dv.getInt32(40, true);
  const clockNs = dv.getUint32(52, true);
  const rxNs = dv.getUint32(56, true);
  const after = Atomics.load(i32, 1);
  Atomics.store(i32, 12, 0);
  // Mode 1: the writer bumps count around its update; a change means we read half of one.
  if (mode === 1 && before !== after) return { kind: "clash" };
  if (
    !(clockUsec >= 0 && clockUsec < 1e6 && rxUsec >= 0 && rxUsec < 1e6) ||
    !Number.isSafeInteger(clockSec) || !Number.isSafeInteger(rxSec) || clockSec <= 0 || rxSec <= 0
  ) return { kind: "bad_time" };
  // The nanosecond fields came later; a writer that does not fill them leaves them out of step.
  const nsOk = (ns: number, us: number) => ns < 1e9 && Math.floor(ns / 1000) === us;
  return {
    kind: "sample",
    clockSec,
    clockNsec: nsOk(clockNs, clockUsec) ? clockNs : clockUsec * 1000,
    rxSec,
    rxNsec: nsOk(rxNs, rxUsec) ? rxNs : rxUsec * 1000,
    leap: leap >= 0 && leap <= 3 ? leap : 3,
    precisionLog2: precisionLog2 < 0 && precisionLog2 > -32 ? precisionLog2 : -1,
  };
}

/** Counters of the SHM driver (ntpq's clock variables and the log). */
export interface ShmCounters {
  samples: number;
  empty: number;
  badMode: number;
  clash: number;
  badTime: number;
  stale: number;
  duplicate: number;
  insane: number;
}

/** How a driver gets at its segment (tests pass a plain buffer). */
export type ShmAttach = (key: number, size: number, perm: number) => SharedSegment;

/** The SHM driver. */
export class ShmDriver implements RefclockDriver {
  readonly type = SHM_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  readonly precisionLog2 = SHM_PRECISION_LOG2;
  readonly lastResort = false;
  /** The precision the writer put in the segment (log2 s), null before a sample. */
  writerPrecisionLog2: number | null = null;
  timecode = "";
  readonly #attach: ShmAttach;
  #segment: SharedSegment | null = null;
  #cancel: (() => void) | null = null;
  #stopFilter: (() => void) | null = null;
  #stats: ((text: string) => void) | null = null;
  #last: string | null = null;
  readonly #counts: ShmCounters = {
    samples: 0,
    empty: 0,
    badMode: 0,
    clash: 0,
    badTime: 0,
    stale: 0,
    duplicate: 0,
    insane: 0,
  };

  /** SHM(unit); `attach` defaults to the real SysV segment. */
  constructor(
    config: RefclockConfig,
    attach: ShmAttach = (k, s, p) => attachSegment(k, s, p, true),
  ) {
    checkUnit(config.unit);
    this.unit = config.unit;
    this.name = `SHM(${config.unit})`;
    this.fudge = resolveFudge(config.fudge, { refid: "SHM" });
    this.#attach = attach;
  }

  /**
   * Attaches the segment (creating it) and reads it every second; the samples go through the
   * median filter, one a poll.
   */
  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    const perm = this.unit <= 1 ? 0o600 : 0o666;
    const key = SHM_KEY_BASE + this.unit;
    try {
      this.#segment = this.#attach(key, SHM_SIZE, perm);
    } catch (e) {
      ctx.log(
        "warn",
        `${this.name}: cannot attach segment 0x${key.toString(16)}: ${(e as Error).message}`,
      );
      return;
    }
    const filtered = medianFiltered(ctx, onSample);
    this.#stopFilter = filtered.stop;
    this.#stats = (text) => ctx.clockstats?.(text);
    this.#cancel = ctx.every(SHM_READ_INTERVAL_SEC, () => {
      const s = this.read(ctx.now());
      if (s !== null) filtered.add(s);
    });
  }

  /** One look at the segment at system time `now`: a sample, or null (counted why). */
  read(now: NtpTime): RefclockSample | null {
    const seg = this.#segment;
    if (seg === null) return null;
    const r = readShm(seg.buffer);
    const c = this.#counts;
    switch (r.kind) {
      case "empty":
        c.empty++;
        return null;
      case "bad_mode":
        c.badMode++;
        return null;
      case "clash":
        c.clash++;
        return null;
      case "bad_time":
        c.badTime++;
        return null;
    }
    const key = `${r.clockSec}.${r.clockNsec}/${r.rxSec}.${r.rxNsec}`;
    if (key === this.#last) {
      c.duplicate++;
      return null;
    }
    this.#last = key;
    const rx = fromUnix(r.rxSec, r.rxNsec);
    const ageSec = Number(now - rx) / 2 ** 32;
    if (ageSec > SHM_STALE_SEC || ageSec < -SHM_STALE_SEC) {
      c.stale++;
      return null;
    }
    const offsetSec = (r.clockSec - r.rxSec) + (r.clockNsec - r.rxNsec) / 1e9;
    if (!(Math.abs(offsetSec) <= SHM_MAX_OFFSET_SEC)) {
      c.insane++;
      return null;
    }
    c.samples++;
    this.writerPrecisionLog2 = r.precisionLog2;
    this.timecode = key;
    this.#stats?.(key);
    return {
      time: rx,
      offsetSec: offsetSec + this.fudge.time1Sec,
      dispersionSec: 2 ** SHM_PRECISION_LOG2,
      rootDispersionSec: Math.min(2 ** r.precisionLog2, SENTENCE_ERROR_SEC),
      leap: r.leap,
    };
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
    this.#stopFilter?.();
    this.#stopFilter = null;
    this.#segment?.detach();
    this.#segment = null;
  }

  /**
   * The counters, with ntpq's two: badformat (a segment that cannot be read: wrong mode, a
   * write in progress, impossible fields) and baddata (a reading not used: stale, a duplicate,
   * beyond SHM_MAX_OFFSET_SEC).
   */
  counters(): Readonly<Record<string, number>> {
    const c = this.#counts;
    return {
      ...c,
      badformat: c.badMode + c.clash + c.badTime,
      baddata: c.stale + c.duplicate + c.insane,
    };
  }
}

/** Registry entry of the SHM driver. */
export const SHM_DRIVER: RefclockDriverEntry = {
  type: SHM_DRIVER_TYPE,
  name: "SHM",
  create: (c) => new ShmDriver(c),
};
