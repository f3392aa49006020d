// What server replies carry (the system variables and observe mode's clock correction), shared
// by the main thread with its server workers through one SharedArrayBuffer under a sequence lock:
// a worker sees a change as soon as the main thread has published it, never a half-written one.

import type { SystemState } from "../proto/server.ts";
import type { VirtualCorrectionModel } from "./virtual_clock.ts";

/** One consistent reading of the shared state. */
export interface ServedStateReading {
  /** Publication number (even, grows with every publish). */
  version: number;
  state: SystemState;
  /** The virtual clock's correction when replies are on observe mode's clock, else null. */
  virtual: VirtualCorrectionModel | null;
}

// Layout: Int32 [0] sequence (odd while written); Float64 fields from byte 8; BigInt64 pairs
// (high part, low 64 bits) for the two era-extended times after them.
const F_LEAP = 0;
const F_STRATUM = 1;
const F_PRECISION = 2;
const F_ROOT_DELAY = 3;
const F_ROOT_DISPERSION = 4;
const F_REFID = 5;
const F_HAS_VIRTUAL = 6;
const F_PHASE = 7;
const F_RATE = 8;
const F_SLEW_LEFT = 9;
const F_HAS_ANCHOR = 10;
const FLOATS = 11;
const FLOAT_OFFSET = 8;
const BIG_OFFSET = FLOAT_OFFSET + FLOATS * 8;
const B_REFERENCE = 0;
const B_ANCHOR = 2;
const BYTES = BIG_OFFSET + 4 * 8;
const MASK64 = (1n << 64n) - 1n;
/** Reads retried before giving up on a writer that seems stuck (never seen in practice). */
const MAX_SPINS = 1_000_000;

/**
 * The seqlock'd state. The main thread creates it and calls {@link publish}; workers wrap the
 * same buffer and call {@link read} whenever {@link version} moved.
 */
export class SharedServedState {
  /** The shared memory (pass it to workers). */
  readonly buffer: SharedArrayBuffer;
  readonly #seq: Int32Array;
  readonly #f: Float64Array;
  readonly #b: BigInt64Array;

  /** Wraps `buffer`, or allocates a new one (then publish before anyone reads). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(BYTES);
    if (this.buffer.byteLength < BYTES) throw new RangeError("SharedServedState: buffer too small");
    this.#seq = new Int32Array(this.buffer, 0, 1);
    this.#f = new Float64Array(this.buffer, FLOAT_OFFSET, FLOATS);
    this.#b = new BigInt64Array(this.buffer, BIG_OFFSET, 4);
  }

  /** The current publication number (odd while a publish is in progress). */
  version(): number {
    return Atomics.load(this.#seq, 0);
  }

  /** Writes a new state (one writer only: the main thread). */
  publish(state: SystemState, virtual: VirtualCorrectionModel | null): void {
    Atomics.add(this.#seq, 0, 1);
    const f = this.#f;
    f[F_LEAP] = state.leap;
    f[F_STRATUM] = state.stratum;
    f[F_PRECISION] = state.precisionLog2;
    f[F_ROOT_DELAY] = state.rootDelaySec;
    f[F_ROOT_DISPERSION] = state.rootDispersionSec;
    f[F_REFID] = state.refid >>> 0;
    f[F_HAS_VIRTUAL] = virtual === null ? 0 : 1;
    f[F_PHASE] = virtual?.phaseSec ?? 0;
    f[F_RATE] = virtual?.rate ?? 0;
    f[F_SLEW_LEFT] = virtual?.slewLeftSec ?? 0;
    f[F_HAS_ANCHOR] = virtual === null || virtual.anchor === null ? 0 : 1;
    this.#putTime(B_REFERENCE, state.referenceTime);
    this.#putTime(B_ANCHOR, virtual?.anchor ?? 0n);
    Atomics.add(this.#seq, 0, 1);
  }

  /** A consistent copy (retries while a publish overlaps), or null if nothing was published. */
  read(): ServedStateReading | null {
    for (let spin = 0; spin < MAX_SPINS; spin++) {
      const before = Atomics.load(this.#seq, 0);
      if ((before & 1) !== 0) continue;
      if (before === 0) return null;
      const f = this.#f;
      const state: SystemState = {
        leap: f[F_LEAP]!,
        stratum: f[F_STRATUM]!,
        precisionLog2: f[F_PRECISION]!,
        rootDelaySec: f[F_ROOT_DELAY]!,
        rootDispersionSec: f[F_ROOT_DISPERSION]!,
        refid: f[F_REFID]!,
        referenceTime: this.#getTime(B_REFERENCE),
      };
      const virtual: VirtualCorrectionModel | null = f[F_HAS_VIRTUAL] === 0 ? null : {
        anchor: f[F_HAS_ANCHOR] === 0 ? null : this.#getTime(B_ANCHOR),
        phaseSec: f[F_PHASE]!,
        rate: f[F_RATE]!,
        slewLeftSec: f[F_SLEW_LEFT]!,
      };
      if (Atomics.load(this.#seq, 0) === before) return { version: before, state, virtual };
    }
    return null;
  }

  #putTime(at: number, t: bigint): void {
    this.#b[at] = t >> 64n;
    this.#b[at + 1] = BigInt.asIntN(64, t & MASK64);
  }

  #getTime(at: number): bigint {
    return (this.#b[at]! << 64n) + BigInt.asUintN(64, this.#b[at + 1]!);
  }
}
