// A reference clock driver for tests: samples are pushed in by the test, and start/stop are
// recorded, so the daemon's refclock wiring can be checked without a device.

import type { RefclockContext, RefclockDriver, RefclockFudge, RefclockSample } from "./driver.ts";
import { resolveFudge } from "./driver.ts";

/** A driver whose samples come from `push`. */
export class FakeRefclock implements RefclockDriver {
  readonly type: number;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  readonly precisionLog2 = -20;
  readonly lastResort: boolean;
  timecode = "";
  /** Times started and stopped. */
  started = 0;
  stopped = 0;
  #onSample: ((s: RefclockSample) => void) | null = null;
  #ctx: RefclockContext | null = null;

  /** A fake of driver type `type` (default 99, a number no real driver uses). */
  constructor(unit = 0, fudge: Partial<RefclockFudge> = {}, type = 99, lastResort = false) {
    this.type = type;
    this.unit = unit;
    this.name = `FAKE(${unit})`;
    this.fudge = resolveFudge(fudge, { refid: "FAKE" });
    this.lastResort = lastResort;
  }

  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    this.started++;
    this.#ctx = ctx;
    this.#onSample = onSample;
  }

  stop(): void {
    this.stopped++;
    this.#onSample = null;
  }

  /** Delivers a sample whose offset is `offsetSec` (plus fudge time1) at the context's now. */
  push(offsetSec: number, dispersionSec = 1e-5, leap = 0): void {
    const now = this.#ctx?.now();
    if (now === undefined || this.#onSample === null) return;
    this.#onSample({ time: now, offsetSec: offsetSec + this.fudge.time1Sec, dispersionSec, leap });
  }

  /** Writes a clockstats line through the context, as a driver does for a timecode. */
  note(text: string): void {
    this.timecode = text;
    this.#ctx?.clockstats?.(text);
  }

  counters(): Readonly<Record<string, number>> {
    return {};
  }
}
