// The observe-only clock (like `chronyd -x`): reads CLOCK_REALTIME and the kernel discipline state,
// never changes either, and remembers what it was asked to do so observe mode can report it.

import { ffiAvailable, realtimeNs } from "../../ffi/libc.ts";
import { type AdjtimeResult, readKernelTime } from "../../ffi/timex.ts";
import { fromUnixNs, type NtpTime } from "../proto/ntp_time.ts";
import type { Clock, ClockAdjustment, KernelClockState } from "./clock.ts";
import { measurePrecision } from "./clock_precision.ts";
import { kernelClockState } from "./linux_clock.ts";

/**
 * Where the time comes from: FFI clock_gettime (1 ns resolution), Temporal (µs steps) or Date
 * (1 ms) when FFI is not permitted.
 */
export type TimeSource = "ffi" | "temporal" | "date";

/** Options for {@link NullClock}. */
export interface NullClockOptions {
  /** Force a time source; "auto" (default) picks the best one available. */
  source?: TimeSource | "auto";
  /** Reads the kernel state (default: ntp_adjtime with modes 0 when FFI is available). */
  kernelReader?: () => AdjtimeResult;
}

/** A request the null clock received and ignored. */
export interface IgnoredRequest<T> {
  /** The request. */
  request: T;
  /** When it came (a reading of this clock). */
  at: NtpTime;
}

/** The last step and the last adjustment asked of a {@link NullClock}. */
export interface LastRequests {
  /** Last `step(offsetSec)`, or null. */
  step: IgnoredRequest<{ offsetSec: number }> | null;
  /** Last `adjust(adj)` (a copy), or null. */
  adjust: IgnoredRequest<ClockAdjustment> | null;
}

interface TemporalLike {
  Now: { instant(): { epochNanoseconds: bigint } };
}

function temporal(): TemporalLike | undefined {
  return (globalThis as { Temporal?: TemporalLike }).Temporal;
}

/** The best time source this process can use. */
export function bestTimeSource(): TimeSource {
  if (ffiAvailable()) return "ffi";
  return temporal() === undefined ? "date" : "temporal";
}

function reader(source: TimeSource): () => bigint {
  switch (source) {
    case "ffi":
      return realtimeNs;
    case "temporal": {
      const t = temporal();
      if (t === undefined) throw new Error("Temporal is not available in this runtime");
      return () => t.Now.instant().epochNanoseconds;
    }
    case "date":
      return () => BigInt(Date.now()) * 1_000_000n;
  }
}

/** Reads the real clock, never steers it (`canSteer` is false; requests are only recorded). */
export class NullClock implements Clock {
  /** Always "null". */
  readonly name = "null";
  /** Always false. */
  readonly canSteer = false;
  /** The time source in use; anything but "ffi" means FFI was unavailable (or not chosen). */
  readonly source: TimeSource;
  #read: () => bigint;
  #kernelReader: (() => AdjtimeResult) | null;
  #precisionLog2: number | null = null;
  #last: LastRequests = { step: null, adjust: null };

  /** Picks the time source (throws when a forced source is not available). */
  constructor(opts: NullClockOptions = {}) {
    const wanted = opts.source ?? "auto";
    this.source = wanted === "auto" ? bestTimeSource() : wanted;
    if (this.source === "ffi" && !ffiAvailable()) throw new Error("FFI is not permitted");
    this.#read = reader(this.source);
    this.#kernelReader = opts.kernelReader ??
      (this.source === "ffi" ? () => readKernelTime() : null);
  }

  /** RFC 5905 precision of the time source, measured once on first use. */
  get precisionLog2(): number {
    if (this.#precisionLog2 === null) {
      this.#precisionLog2 = measurePrecision(this.#read).precisionLog2;
    }
    return this.#precisionLog2;
  }

  /** Reads the realtime clock. */
  now(): NtpTime {
    return fromUnixNs(this.#read());
  }

  /** Does not step; records the request. */
  step(offsetSec: number): void {
    this.#last.step = { request: { offsetSec }, at: this.now() };
  }

  /** Does not adjust; records a copy of the request. */
  adjust(adj: ClockAdjustment): void {
    this.#last.adjust = { request: structuredClone(adj), at: this.now() };
  }

  /** The last ignored step and adjustment (for observe-mode reports). */
  lastRequested(): LastRequests {
    return { step: this.#last.step, adjust: this.#last.adjust };
  }

  /** The kernel discipline state (read-only ntp_adjtime), or null when it cannot be read. */
  kernelState(): KernelClockState | null {
    if (this.#kernelReader === null) return null;
    try {
      return kernelClockState(this.#kernelReader());
    } catch {
      return null;
    }
  }
}
