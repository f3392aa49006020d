// The undisciplined local clock driver (ntpd's type 1, 127.127.1.u): a "reference" that always
// agrees with the system clock, so an isolated network can still agree on one time. The core
// uses it only as the last resort (see NtpSystem's mitigation rules).

import type {
  RefclockConfig,
  RefclockContext,
  RefclockDriver,
  RefclockDriverEntry,
  RefclockFudge,
  RefclockSample,
} from "./driver.ts";
import { resolveFudge } from "./driver.ts";

/** ntpd's LOCAL driver type number. */
export const LOCAL_DRIVER_TYPE = 1;

/**
 * Stratum the local clock claims when not fudged.
 * COMPAT: ntpd 4.2 uses 5, but nearly every configuration fudges it to 10, and 10 keeps an
 * unfudged local clock from outranking real servers.
 */
export const LOCAL_DEFAULT_STRATUM = 10;

/** Dispersion of a local clock sample: it is exact with respect to itself. */
const LOCAL_DISPERSION_SEC = 0.01;
/**
 * Samples given at start, LOCAL_BURST_SPACING_SEC apart: they fill the clock filter's eight
 * stages, whose empty stages would otherwise keep the served root dispersion near 8 s (more than
 * clients accept) for the first eight polls.
 */
export const LOCAL_BURST = 8;
/** Spacing of the start-up samples (s). */
export const LOCAL_BURST_SPACING_SEC = 0.25;

/** The LOCAL driver: one zero-offset sample (plus fudge time1) per poll. */
export class LocalDriver implements RefclockDriver {
  readonly type = LOCAL_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  readonly precisionLog2 = -20;
  readonly lastResort = true;
  readonly timecode = "";
  #cancel: (() => void) | null = null;
  #samples = 0;

  /** Creates LOCAL(unit); missing fudge fields take the driver's defaults. */
  constructor(unit: number, fudge: Partial<RefclockFudge> = {}) {
    this.unit = unit;
    this.name = `LOCAL(${unit})`;
    this.fudge = resolveFudge(fudge, { stratum: LOCAL_DEFAULT_STRATUM, refid: "LOCL" });
  }

  /** A start-up burst of LOCAL_BURST samples, then one every poll. */
  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    const emit = () => {
      this.#samples++;
      onSample({
        time: ctx.now(),
        offsetSec: this.fudge.time1Sec,
        dispersionSec: LOCAL_DISPERSION_SEC,
        leap: 0,
      });
    };
    emit();
    let left = LOCAL_BURST - 1;
    this.#cancel = ctx.every(LOCAL_BURST_SPACING_SEC, () => {
      emit();
      if (--left > 0) return;
      this.#cancel?.();
      this.#cancel = ctx.every(ctx.pollSec, emit);
    });
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
  }

  counters(): Readonly<Record<string, number>> {
    return { samples: this.#samples };
  }
}

/** Registry entry of the LOCAL driver. */
export const LOCAL_DRIVER: RefclockDriverEntry = {
  type: LOCAL_DRIVER_TYPE,
  name: "LOCAL",
  create: (c: RefclockConfig) => new LocalDriver(c.unit, c.fudge),
};
