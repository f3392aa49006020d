// Hosts the reference clocks (ntpd's 127.127.t.u drivers): starts the supported drivers, polls
// them, and offers the best one's system variables for the daemon to serve when no network
// source is better. Today only LOCAL (type 1) exists.

import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import { refidFromAscii } from "../proto/packet.ts";
import type { SystemState } from "../proto/server.ts";
import { LocalDriver } from "../../drivers/local.ts";
import { refclockAddress, type RefclockDriver, type RefclockFudge } from "../../drivers/driver.ts";
import { repeat, type Timers } from "./timers.ts";
import type { ControlRefclock } from "./control_host.ts";
import type { NtpTime } from "../proto/ntp_time.ts";

/** A reference clock the daemon should run. */
export interface RefclockSetting {
  type: number;
  unit: number;
  fudge: Partial<RefclockFudge>;
}

/** What the best reference clock offers. */
export interface RefclockTime {
  /** The system variables replies would carry. */
  state: SystemState;
  /** The driver's name, "LOCAL(0)". */
  name: string;
}

/** What the host needs. */
export interface RefclockHostDeps {
  /** The clock samples are taken on. */
  clock: Clock;
  timers: Timers;
  log: Logger;
}

/** The daemon's reference clocks. */
export class RefclockHost {
  readonly #deps: RefclockHostDeps;
  readonly #drivers: RefclockDriver[] = [];
  readonly #counts = new Map<
    RefclockDriver,
    { polls: number; noReply: number; reach: number; dispersionSec: number | null; at: NtpTime }
  >();
  #best: RefclockTime | null = null;
  #cancel: (() => void) | null = null;

  /** Starts the drivers of `settings` (unsupported types are logged and skipped). */
  constructor(settings: readonly RefclockSetting[], deps: RefclockHostDeps) {
    this.#deps = deps;
    for (const rc of settings) {
      if (rc.type !== 1) {
        deps.log.warn(
          `refclock 127.127.${rc.type}.${rc.unit}: driver type ${rc.type} is not supported yet`,
        );
        continue;
      }
      const driver = new LocalDriver(rc.unit, rc.fudge);
      this.#drivers.push(driver);
      deps.log.info(`refclock ${driver.name} at stratum ${driver.fudge.stratum}`);
    }
  }

  /** Number of running drivers. */
  get count(): number {
    return this.#drivers.length;
  }

  /** The best clock's offer after the last poll, or null. */
  get best(): RefclockTime | null {
    return this.#best;
  }

  /** Polls now and every `pollSec`, calling `onUpdate` after each poll that gave a sample. */
  start(pollSec: number, onUpdate: (best: RefclockTime) => void): void {
    if (this.#drivers.length === 0) return;
    const poll = () => {
      const best = this.poll();
      if (best !== null) onUpdate(best);
    };
    poll();
    this.#cancel = repeat(this.#deps.timers, pollSec, poll);
  }

  /** Each driver's polls and samples, for the control protocol (ntpq `cv`, `peers`). */
  controlInfo(): ControlRefclock[] {
    return this.#drivers.map((d) => {
      const c = this.#counts.get(d) ??
        { polls: 0, noReply: 0, reach: 0, dispersionSec: null, at: 0n };
      return {
        type: d.type,
        unit: d.unit,
        name: d.name,
        stratum: d.fudge.stratum,
        refid: d.fudge.refid,
        fudgeTime1Sec: d.fudge.time1Sec,
        fudgeTime2Sec: d.fudge.time2Sec,
        polls: c.polls,
        noReply: c.noReply,
        reach: c.reach,
        dispersionSec: c.dispersionSec,
        lastSample: c.at,
      };
    });
  }

  /** Takes a sample from each driver and keeps the lowest-stratum one's system variables. */
  poll(): RefclockTime | null {
    const now = this.#deps.clock.now();
    let best: { driver: RefclockDriver; dispersionSec: number; leap: number } | null = null;
    for (const driver of this.#drivers) {
      const s = driver.poll(now);
      const c = this.#counts.get(driver) ??
        { polls: 0, noReply: 0, reach: 0, dispersionSec: null, at: 0n };
      this.#counts.set(driver, c);
      c.polls++;
      c.reach = ((c.reach << 1) | (s === null ? 0 : 1)) & 0xff;
      if (s === null) c.noReply++;
      else {
        c.dispersionSec = s.dispersionSec;
        c.at = now;
      }
      if (s === null) continue;
      if (best === null || driver.fudge.stratum < best.driver.fudge.stratum) {
        best = { driver, dispersionSec: s.dispersionSec, leap: s.leap };
      }
    }
    if (best === null) return null;
    const precisionLog2 = this.#deps.clock.precisionLog2;
    const stratum = Math.min(16, best.driver.fudge.stratum + 1);
    // RFC 5905: a stratum-1 server names its reference clock; above that, the refid is the
    // address of the system peer, here the refclock's 127.127.t.u address.
    const refid = stratum === 1
      ? refidFromAscii(best.driver.fudge.refid) ?? 0
      : refclockAddress(best.driver.type, best.driver.unit);
    this.#best = {
      name: best.driver.name,
      state: {
        leap: best.leap,
        stratum,
        precisionLog2,
        rootDelaySec: 0,
        rootDispersionSec: best.dispersionSec + 2 ** precisionLog2,
        refid,
        referenceTime: now,
      },
    };
    return this.#best;
  }

  /** Stops polling and closes the drivers. */
  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
    for (const d of this.#drivers) d.close();
  }
}
