// A pretend kernel clock for the tests of `horae time`, `tickadj` and `date`: ntp_adjtime over a
// Timex held in memory, so no test of a writing command ever reaches the real kernel.

import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_OFFSET,
  ADJ_STATUS,
  ADJ_TAI,
  ADJ_TICK,
  ADJ_TIMECONST,
  type AdjtimeSyscall,
  decodeTimex,
  emptyTimex,
  encodeTimex,
  STA_NANO,
  STA_RONLY,
  STA_UNSYNC,
  TIME_ERROR,
  TIME_OK,
  type Timex,
} from "../../ffi/timex.ts";

/** EPERM. */
const EPERM = 1;

/** An ntp_adjtime over memory: reads return `state`, writes change it (unless not permitted). */
export class FakeKernel implements AdjtimeSyscall {
  /** The kernel's variables. */
  state: Timex;
  /** When false every write fails with EPERM (no CAP_SYS_TIME). */
  permitted: boolean;
  /** Every call's modes, in order. */
  readonly calls: number[] = [];
  /** Microseconds the kernel's clock advances per call. */
  stepUs = 7;
  #errno = 0;

  constructor(opts: { permitted?: boolean; state?: Partial<Timex> } = {}) {
    this.permitted = opts.permitted ?? false;
    this.state = {
      ...emptyTimex(),
      maxerror: 16_000_000,
      esterror: 16_000_000,
      status: STA_UNSYNC,
      constant: 2,
      precision: 1,
      tolerance: 500 * 65536,
      time: { sec: 1_796_000_000, frac: 123_456 },
      tick: 10_000,
      ...opts.state,
    };
  }

  /** Writes that were asked (calls with modes ≠ 0). */
  get writes(): number[] {
    return this.calls.filter((m) => m !== 0);
  }

  adjtime(buf: Uint8Array): number {
    const r = decodeTimex(buf);
    if (!r.ok) throw new Error(r.reason);
    const req = r.timex;
    this.calls.push(req.modes);
    if (req.modes !== 0 && !this.permitted) {
      this.#errno = EPERM;
      return -1;
    }
    const s = this.state;
    if (req.modes & ADJ_FREQUENCY) s.freq = req.freq;
    if (req.modes & ADJ_MAXERROR) s.maxerror = req.maxerror;
    if (req.modes & ADJ_ESTERROR) s.esterror = req.esterror;
    if (req.modes & ADJ_STATUS) s.status = (s.status & STA_RONLY) | (req.status & ~STA_RONLY);
    if ((req.modes & ADJ_TIMECONST) && !(req.modes & ADJ_TAI)) s.constant = req.constant;
    if (req.modes & ADJ_TAI) s.tai = req.constant;
    if ((req.modes & ADJ_OFFSET) && (req.modes & 0x8000) === 0) s.offset = req.offset;
    if (req.modes & ADJ_TICK) s.tick = req.tick;
    const unit = (s.status & STA_NANO) !== 0 ? 1e9 : 1e6;
    s.time = { sec: s.time.sec, frac: s.time.frac + this.stepUs * (unit / 1e6) };
    if (s.time.frac >= unit) s.time = { sec: s.time.sec + 1, frac: s.time.frac - unit };
    buf.set(encodeTimex({ ...s, modes: req.modes }));
    return (s.status & STA_UNSYNC) !== 0 ? TIME_ERROR : TIME_OK;
  }

  errno(): number {
    return this.#errno;
  }
}
