// What server replies carry (the system variables and observe mode's clock correction), shared
// by the main thread with its server workers through one SharedArrayBuffer under a sequence lock:
// a worker sees a change as soon as the main thread has published it, never a half-written one.

import type { SystemState } from "../proto/server.ts";
import type { VirtualCorrectionModel } from "../clock/virtual_clock.ts";

/** One consistent reading of the shared state. */
export interface ServedStateReading {
  /** Publication number (even, grows with every publish). */
  version: number;
  state: SystemState;
  /** The virtual clock's correction when replies are on observe mode's clock, else null. */
  virtual: VirtualCorrectionModel | null;
}

// Layout: Int32 [0] sequence (odd while written); from byte 8, 64-bit words: the float fields as
// their IEEE-754 bits, then BigInt64 pairs (high part, low 64 bits) for the two era-extended
// times. Every word is read and written with Atomics, so the sequence lock is sound under the
// JavaScript memory model on any CPU (plain accesses between the sequence checks could be
// reordered on weakly ordered ones).
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
const B_REFERENCE = 0;
const B_ANCHOR = 2;
const BYTES = FLOAT_OFFSET + (FLOATS + 4) * 8;
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
  readonly #words: BigInt64Array;
  /** Scratch for converting a float to and from its bits. */
  readonly #bits = new BigInt64Array(1);
  readonly #float = new Float64Array(this.#bits.buffer);

  /** Wraps `buffer`, or allocates a new one (then publish before anyone reads). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(BYTES);
    if (this.buffer.byteLength < BYTES) throw new RangeError("SharedServedState: buffer too small");
    this.#seq = new Int32Array(this.buffer, 0, 1);
    this.#words = new BigInt64Array(this.buffer, FLOAT_OFFSET, FLOATS + 4);
  }

  /** The current publication number (odd while a publish is in progress). */
  version(): number {
    return Atomics.load(this.#seq, 0);
  }

  /** Writes a new state (one writer only: the main thread). */
  publish(state: SystemState, virtual: VirtualCorrectionModel | null): void {
    Atomics.add(this.#seq, 0, 1);
    this.#put(F_LEAP, state.leap);
    this.#put(F_STRATUM, state.stratum);
    this.#put(F_PRECISION, state.precisionLog2);
    this.#put(F_ROOT_DELAY, state.rootDelaySec);
    this.#put(F_ROOT_DISPERSION, state.rootDispersionSec);
    this.#put(F_REFID, state.refid >>> 0);
    this.#put(F_HAS_VIRTUAL, virtual === null ? 0 : 1);
    this.#put(F_PHASE, virtual?.phaseSec ?? 0);
    this.#put(F_RATE, virtual?.rate ?? 0);
    this.#put(F_SLEW_LEFT, virtual?.slewLeftSec ?? 0);
    this.#put(F_HAS_ANCHOR, virtual === null || virtual.anchor === null ? 0 : 1);
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
      const state: SystemState = {
        leap: this.#get(F_LEAP),
        stratum: this.#get(F_STRATUM),
        precisionLog2: this.#get(F_PRECISION),
        rootDelaySec: this.#get(F_ROOT_DELAY),
        rootDispersionSec: this.#get(F_ROOT_DISPERSION),
        refid: this.#get(F_REFID),
        referenceTime: this.#getTime(B_REFERENCE),
      };
      const virtual: VirtualCorrectionModel | null = this.#get(F_HAS_VIRTUAL) === 0 ? null : {
        anchor: this.#get(F_HAS_ANCHOR) === 0 ? null : this.#getTime(B_ANCHOR),
        phaseSec: this.#get(F_PHASE),
        rate: this.#get(F_RATE),
        slewLeftSec: this.#get(F_SLEW_LEFT),
      };
      if (Atomics.load(this.#seq, 0) === before) return { version: before, state, virtual };
    }
    return null;
  }

  #put(field: number, value: number): void {
    this.#float[0] = value;
    Atomics.store(this.#words, field, this.#bits[0]!);
  }

  #get(field: number): number {
    this.#bits[0] = Atomics.load(this.#words, field);
    return this.#float[0]!;
  }

  #putTime(at: number, t: bigint): void {
    Atomics.store(this.#words, FLOATS + at, t >> 64n);
    Atomics.store(this.#words, FLOATS + at + 1, BigInt.asIntN(64, t & MASK64));
  }

  #getTime(at: number): bigint {
    const high = Atomics.load(this.#words, FLOATS + at);
    return (high << 64n) + BigInt.asUintN(64, Atomics.load(this.#words, FLOATS + at + 1));
  }
}
