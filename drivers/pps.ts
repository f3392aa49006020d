// The PPS driver (ntpd's type 22, "ATOM", 127.127.22.u): pulse-per-second edges time-stamped by
// the kernel on /dev/ppsU through the RFC 2783 API (ffi/pps.ts). A pulse says where a second
// begins, not which one, so each sample is the offset to the nearest whole second and the core
// uses it only while another source numbers the seconds (NtpSystem's mitigation rules).
// fudge flag2 picks the clear edge instead of assert; flag3 binds the kernel's hardpps()
// discipline (PPS_KC_BIND) when `enable pps` is set, and marks the samples so (kernelPps): while
// this clock is the system peer, the ntpd discipline in kernel mode then sets STA_PPSTIME |
// STA_PPSFREQ and the kernel steers from the same pulses; time1 is the pulse's delay.

import {
  openPpsDevice,
  PPS_API_VERS_1,
  PPS_CANWAIT,
  PPS_CAPTUREASSERT,
  PPS_CAPTURECLEAR,
  PPS_TSFMT_TSPEC,
  type PpsDevice,
} from "../ffi/pps.ts";
import { fromUnix, type NtpTime } from "../lib/proto/ntp_time.ts";
import type {
  RefclockConfig,
  RefclockContext,
  RefclockDriver,
  RefclockDriverEntry,
  RefclockFudge,
  RefclockSample,
} from "./driver.ts";
import { checkUnit, resolveFudge } from "./driver.ts";
import { medianFiltered } from "./median_filter.ts";

/** ntpd's PPS (ATOM) driver type number. */
export const PPS_DRIVER_TYPE = 22;
/** How long one PPS_FETCH waits for a pulse (s); stop() takes at most this long. */
export const PPS_FETCH_TIMEOUT_SEC = 1.5;
/** Wait before opening a missing device again (s). */
export const PPS_REOPEN_SEC = 30;
/** The precision of a kernel-stamped pulse (log2 s, about 1 µs). */
export const PPS_PRECISION_LOG2 = -20;

/** Counters of a PPS reader. */
export interface PpsCounters {
  pulses: number;
  /** Fetches that saw no new pulse. */
  noPulse: number;
  /** Pulses skipped (sequence jumped by more than one). */
  missed: number;
  /** Pulses with an impossible time stamp. */
  baddata: number;
  /** Failed fetches (device errors). */
  errors: number;
}

/**
 * Reads pulses of one edge from a PPS device until stopped: configures the device, then fetches
 * in a bounded wait loop and hands each new pulse's system time to `onPulse`.
 */
export class PpsReader {
  readonly #device: PpsDevice;
  readonly #clear: boolean;
  #running = false;
  #lastSeq: number | null = null;
  #done: Promise<void> = Promise.resolve();
  readonly counts: PpsCounters = { pulses: 0, noPulse: 0, missed: 0, baddata: 0, errors: 0 };

  /**
   * Sets `device` to capture the assert edge (or the clear edge when `clear`) in timespec
   * format; throws an Error naming what the device cannot do.
   */
  constructor(device: PpsDevice, clear: boolean) {
    this.#device = device;
    this.#clear = clear;
    const caps = device.capabilities();
    const edge = this.edge;
    if ((caps & edge) === 0) {
      throw new Error(`the device cannot capture the ${clear ? "clear" : "assert"} edge`);
    }
    if ((caps & PPS_CANWAIT) === 0) throw new Error("the device cannot wait for a pulse");
    const p = device.params();
    device.setParams({ ...p, apiVersion: PPS_API_VERS_1, mode: edge | PPS_TSFMT_TSPEC });
  }

  /** PPS_CAPTUREASSERT or PPS_CAPTURECLEAR. */
  get edge(): number {
    return this.#clear ? PPS_CAPTURECLEAR : PPS_CAPTUREASSERT;
  }

  /** Binds (or with false unbinds) the kernel PPS discipline to this edge. */
  bindKernel(on: boolean): void {
    this.#device.bindKernel(on ? this.edge : 0);
  }

  /** Starts the fetch loop. */
  start(onPulse: (at: NtpTime) => void, onError: (e: Error) => void): void {
    if (this.#running) return;
    this.#running = true;
    this.#done = (async () => {
      let failures = 0;
      // Bounded: it ends on stop(), or after ten failed fetches in a row (a device gone).
      while (this.#running && failures < 10) {
        try {
          const info = await this.#device.fetch(PPS_FETCH_TIMEOUT_SEC);
          failures = 0;
          if (!this.#running) break;
          const seq = this.#clear ? info.clearSequence : info.assertSequence;
          const t = this.#clear ? info.clear : info.assert;
          if (seq === this.#lastSeq || seq === 0) {
            this.counts.noPulse++;
            continue;
          }
          if (this.#lastSeq !== null && ((seq - this.#lastSeq) >>> 0) > 1) {
            this.counts.missed += ((seq - this.#lastSeq) >>> 0) - 1;
          }
          this.#lastSeq = seq;
          if (!(t.nsec >= 0 && t.nsec < 1e9) || !(t.sec > 0)) {
            this.counts.baddata++;
            continue;
          }
          this.counts.pulses++;
          onPulse(fromUnix(t.sec, t.nsec));
        } catch (e) {
          this.counts.errors++;
          failures++;
          onError(e as Error);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      if (failures >= 10) {
        onError(new Error("ten fetches in a row failed; the device is no longer read"));
      }
      this.#running = false;
    })();
  }

  /** Stops the loop (after the fetch in flight, at most PPS_FETCH_TIMEOUT_SEC). */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  /** Closes the device. */
  close(): void {
    this.#device.close();
  }
}

/** The offset of a pulse at system time `at` to the nearest whole second: (−0.5, 0.5] s. */
export function pulseOffsetSec(at: NtpTime): number {
  const frac = Number(at & 0xffffffffn) / 2 ** 32;
  if (frac === 0) return 0;
  return frac <= 0.5 ? -frac : 1 - frac;
}

/** How the driver opens its device (tests pass a fake kernel behind the real code). */
export type PpsOpen = (path: string) => PpsDevice;

/** The PPS (ATOM) driver. */
export class PpsDriver implements RefclockDriver {
  readonly type = PPS_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  readonly precisionLog2 = PPS_PRECISION_LOG2;
  readonly lastResort = false;
  readonly pps = true;
  timecode = "";
  readonly path: string;
  readonly #kernelPps: boolean;
  readonly #open: PpsOpen;
  #reader: PpsReader | null = null;
  #stopFilter: (() => void) | null = null;
  #cancelReopen: (() => void) | null = null;
  #kernelBound = false;
  #openFailures = 0;
  #samples = 0;

  /** PPS(unit) on `config.path` or /dev/ppsU. */
  constructor(config: RefclockConfig, open: PpsOpen = (p) => openPpsDevice(p)) {
    checkUnit(config.unit);
    this.unit = config.unit;
    this.name = `PPS(${config.unit})`;
    this.fudge = resolveFudge(config.fudge, { refid: "PPS" });
    this.path = config.path ?? `/dev/pps${config.unit}`;
    this.#kernelPps = config.kernelPps ?? false;
    this.#open = open;
  }

  /** Whether the kernel PPS discipline was bound (flag3 with `enable pps`). */
  get kernelBound(): boolean {
    return this.#kernelBound;
  }

  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    // Samples say whether the kernel's PPS discipline is bound to the same pulses.
    const filtered = medianFiltered(
      ctx,
      (s) => onSample(this.#kernelBound ? { ...s, kernelPps: true } : s),
    );
    this.#stopFilter = filtered.stop;
    const tryOpen = (): boolean => {
      let reader: PpsReader;
      try {
        reader = new PpsReader(this.#open(this.path), this.fudge.flags[1]);
      } catch (e) {
        // Said once; the device may still appear (udev, ldattach), so keep trying.
        if (this.#openFailures++ === 0) {
          ctx.log("warn", `${this.name}: ${this.path}: ${(e as Error).message}; trying again`);
        }
        return false;
      }
      this.#reader = reader;
      if (this.fudge.flags[2]) this.#bindKernel(ctx, reader);
      ctx.log(
        "info",
        `${this.name}: ${this.path} open, ${this.fudge.flags[1] ? "clear" : "assert"} edge`,
      );
      ctx.clockstats?.(`open ${this.path} edge ${this.fudge.flags[1] ? "clear" : "assert"}`);
      reader.start((at) => {
        this.#samples++;
        const offsetSec = pulseOffsetSec(at) + this.fudge.time1Sec;
        this.timecode = `${at}`;
        filtered.add({ time: at, offsetSec, dispersionSec: 2 ** PPS_PRECISION_LOG2, leap: 0 });
      }, (e) => ctx.log("warn", `${this.name}: ${e.message}`));
      return true;
    };
    if (!tryOpen()) {
      this.#cancelReopen = ctx.every(PPS_REOPEN_SEC, () => {
        if (tryOpen()) {
          this.#cancelReopen?.();
          this.#cancelReopen = null;
        }
      });
    }
  }

  #bindKernel(ctx: RefclockContext, reader: PpsReader): void {
    if (!this.#kernelPps) {
      ctx.log(
        "warn",
        `${this.name}: flag3 asks for the kernel PPS discipline but "enable pps" is not set; ` +
          "not bound",
      );
      return;
    }
    try {
      reader.bindKernel(true);
      this.#kernelBound = true;
      ctx.log("info", `${this.name}: kernel PPS discipline bound to ${this.path}`);
    } catch (e) {
      ctx.log(
        "warn",
        `${this.name}: cannot bind the kernel PPS discipline: ${(e as Error).message}`,
      );
    }
  }

  stop(): void {
    this.#cancelReopen?.();
    this.#cancelReopen = null;
    this.#stopFilter?.();
    this.#stopFilter = null;
    const r = this.#reader;
    this.#reader = null;
    if (r === null) return;
    if (this.#kernelBound) {
      try {
        r.bindKernel(false);
      } catch { /* the device may be gone */ }
      this.#kernelBound = false;
    }
    void r.stop().finally(() => r.close());
  }

  counters(): Readonly<Record<string, number>> {
    const c = this.#reader?.counts;
    return {
      samples: this.#samples,
      pulses: c?.pulses ?? 0,
      noPulse: c?.noPulse ?? 0,
      missed: c?.missed ?? 0,
      baddata: c?.baddata ?? 0,
      errors: c?.errors ?? 0,
      openFailures: this.#openFailures,
    };
  }
}

/** Registry entry of the PPS driver. */
export const PPS_DRIVER: RefclockDriverEntry = {
  type: PPS_DRIVER_TYPE,
  name: "PPS",
  create: (c) => new PpsDriver(c),
};
