// Hosts the reference clocks (ntpd's 127.127.t.u drivers): makes each configured driver from
// the registry (an unknown or unbuilt type is a warning and is skipped), mobilises it as a core
// association and hands its samples to the core, where they are selected like any source.

import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import { refidFromAscii } from "../proto/packet.ts";
import {
  refclockAddressText,
  type RefclockIdentity,
  type RefclockSample,
} from "../proto/refclock_sample.ts";
import type { AssociationOptions } from "../proto/association.ts";
import type { RefclockDriver, RefclockDriverEntry, RefclockFudge } from "../../drivers/driver.ts";
import { createRefclock, REFCLOCK_DRIVERS } from "../../drivers/registry.ts";
import { repeat, type Timers } from "./timers.ts";
import type { ControlRefclock } from "./control_host.ts";
import type { NtpTime } from "../proto/ntp_time.ts";

/** A reference clock the daemon should run. */
export interface RefclockSetting {
  type: number;
  unit: number;
  fudge: Partial<RefclockFudge>;
  /** Driver-specific mode (null or absent: the driver's default). */
  mode?: number | null;
  prefer?: boolean;
  noselect?: boolean;
  minpoll?: number;
  maxpoll?: number;
  /** The device (`path`), null or absent: the driver's default. */
  path?: string | null;
  /** The PPS device (`ppspath`). */
  ppsPath?: string | null;
  /** `enable pps`: flag3 may bind the kernel PPS discipline. */
  kernelPps?: boolean;
}

/** The core the clocks feed (the Timekeeper). */
export interface RefclockCore {
  /** Mobilises the clock's association; returns its id. */
  addRefclock(clock: RefclockIdentity, options: AssociationOptions): number;
  /** A sample of association `id`. */
  onRefclockSample(id: number, sample: RefclockSample): void;
}

/** What the host needs. */
export interface RefclockHostDeps {
  /** The core's clock (in observe mode the virtual clock). */
  clock: Clock;
  /**
   * The system clock drivers measure against (default `clock`); samples are moved onto the
   * core's clock by the difference of the two when they arrive.
   */
  systemClock?: Clock;
  timers: Timers;
  log: Logger;
  /** The driver table (tests pass fakes). */
  drivers?: ReadonlyMap<number, RefclockDriverEntry>;
  /** Writes a clockstats line for the clock at `address` (127.127.t.u); absent: none. */
  clockstats?: (address: string, text: string) => void;
}

interface Running {
  driver: RefclockDriver;
  setting: RefclockSetting;
  assocId: number | null;
  samples: number;
  /** Polls so far, and those that passed without a sample (ntpq's poll and noreply). */
  polls: number;
  noReply: number;
  samplesAtPoll: number;
  cancelPoll: (() => void) | null;
  lastSample: NtpTime;
  dispersionSec: number | null;
}

/** The daemon's reference clocks. */
export class RefclockHost {
  readonly #deps: RefclockHostDeps;
  readonly #clocks: Running[] = [];
  #stopped = false;

  /** Makes the drivers of `settings` (unknown types and bad settings are logged and skipped). */
  constructor(settings: readonly RefclockSetting[], deps: RefclockHostDeps) {
    this.#deps = deps;
    for (const rc of settings) {
      const made = createRefclock(
        {
          type: rc.type,
          unit: rc.unit,
          mode: rc.mode ?? null,
          fudge: rc.fudge,
          path: rc.path ?? null,
          ppsPath: rc.ppsPath ?? null,
          kernelPps: rc.kernelPps ?? false,
        },
        deps.drivers ?? REFCLOCK_DRIVERS,
      );
      if (!made.ok) {
        deps.log.warn(`refclock ${made.reason}; skipped`);
        continue;
      }
      const driver = made.driver;
      this.#clocks.push({
        driver,
        setting: rc,
        assocId: null,
        samples: 0,
        polls: 0,
        noReply: 0,
        samplesAtPoll: 0,
        cancelPoll: null,
        lastSample: 0n,
        dispersionSec: null,
      });
      deps.log.info(`refclock ${driver.name} at stratum ${driver.fudge.stratum}`);
    }
  }

  /** Number of drivers made. */
  get count(): number {
    return this.#clocks.length;
  }

  /** Mobilises every clock in `core` and starts its driver. */
  start(core: RefclockCore): void {
    if (this.#stopped) return;
    for (const c of this.#clocks) {
      const d = c.driver;
      const s = c.setting;
      const id = core.addRefclock(
        {
          type: d.type,
          unit: d.unit,
          stratum: d.fudge.stratum,
          refid: refidFromAscii(d.fudge.refid) ?? 0,
          precisionLog2: d.precisionLog2,
          lastResort: d.lastResort,
          ...(d.pps ? { pps: true } : {}),
          ...(d.ppsCapable ? { ppsCapable: true } : {}),
        },
        {
          name: d.name,
          ...(s.prefer ? { prefer: true } : {}),
          ...(s.noselect ? { noselect: true } : {}),
          ...(s.minpoll !== undefined ? { minpoll: s.minpoll } : {}),
          ...(s.maxpoll !== undefined ? { maxpoll: s.maxpoll } : {}),
        },
      );
      c.assocId = id;
      const pollSec = 2 ** Math.max(0, s.minpoll ?? 6);
      c.cancelPoll = repeat(this.#deps.timers, pollSec, () => {
        c.polls++;
        if (c.samples === c.samplesAtPoll) c.noReply++;
        c.samplesAtPoll = c.samples;
      });
      d.start({
        now: () => (this.#deps.systemClock ?? this.#deps.clock).now(),
        every: (sec, fn) => repeat(this.#deps.timers, sec, fn),
        pollSec,
        log: (level, message) =>
          level === "warn" ? this.#deps.log.warn(message) : this.#deps.log.info(message),
        clockstats: (text) => this.#deps.clockstats?.(refclockAddressText(d.type, d.unit), text),
      }, (raw) => {
        const sample = this.#onCoreClock(raw);
        c.samples++;
        c.lastSample = sample.time;
        c.dispersionSec = sample.dispersionSec;
        core.onRefclockSample(id, sample);
      });
    }
  }

  /** A sample measured against the system clock, as the core's clock sees it. */
  #onCoreClock(s: RefclockSample): RefclockSample {
    const sys = this.#deps.systemClock;
    if (sys === undefined || sys === this.#deps.clock) return s;
    const gap = this.#deps.clock.now() - sys.now();
    return { ...s, time: s.time + gap, offsetSec: s.offsetSec - Number(gap) / 2 ** 32 };
  }

  /** Each driver's identity and counters, for the control protocol (ntpq `cv`, `peers`). */
  controlInfo(): ControlRefclock[] {
    return this.#clocks.map((c) => {
      const d = c.driver;
      return {
        assocId: c.assocId,
        type: d.type,
        unit: d.unit,
        name: d.name,
        stratum: d.fudge.stratum,
        refid: d.fudge.refid,
        fudgeTime1Sec: d.fudge.time1Sec,
        fudgeTime2Sec: d.fudge.time2Sec,
        flags: d.fudge.flags,
        timecode: d.timecode,
        counters: d.counters(),
        polls: c.polls,
        noReply: c.noReply,
        reach: 0,
        dispersionSec: c.dispersionSec,
        lastSample: c.lastSample,
      };
    });
  }

  /** Stops the drivers. */
  stop(): void {
    this.#stopped = true;
    for (const c of this.#clocks) {
      c.cancelPoll?.();
      c.cancelPoll = null;
      c.driver.stop();
    }
  }
}
