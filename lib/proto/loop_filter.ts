// The loop filter stage of the system process (RFC 5905 §11.3): creates the clock discipline the
// options ask for. The disciplines themselves are Horae's (horae_discipline.ts, the default) and
// ntpd 4.2.x's PLL/FLL (ntpd_discipline.ts), both behind the Discipline interface (discipline.ts).
//
// The factory lives here rather than in discipline.ts because both disciplines import the
// interface from there: a factory beside it would close an import cycle.

import {
  DEFAULT_TINKER,
  type Discipline,
  type DisciplineKind,
  type DisciplineOptions,
  type DisciplineState,
} from "./discipline.ts";
import { HoraeDiscipline } from "./horae_discipline.ts";
import { NtpdDiscipline } from "./ntpd_discipline.ts";

export type { DisciplineAdjustClockAction } from "./ntpd_discipline.ts";
export type { DisciplineKind, DisciplineState };

/** The system's `loop` options: the discipline's options (see {@link DisciplineOptions}). */
export type LoopFilterOptions = DisciplineOptions;

/** The discipline the system process runs (see {@link Discipline}). */
export type LoopFilter = Discipline;

/** How each discipline is built from the options. */
const FACTORIES: Readonly<Record<DisciplineKind, (opts: DisciplineOptions) => Discipline>> = {
  horae: (opts) => new HoraeDiscipline(opts),
  ntpd: (opts) => {
    const t = { ...DEFAULT_TINKER, ...opts.tinker };
    return new NtpdDiscipline({
      stepSec: t.step,
      stepoutSec: t.stepout,
      panicSec: t.panic,
      allanSec: t.allan,
      huffpuffSec: t.huffpuff,
      driftPpm: opts.driftPpm ?? null,
      freqPpm: t.freq,
      allowBigFirstStep: opts.allowBigFirstStep ?? false,
      slewOnly: opts.slewOnly ?? false,
      setOnce: opts.setOnce ?? false,
      ntpEnabled: opts.ntpEnabled ?? true,
      kernel: opts.kernel ?? true,
      ...(opts.precisionSec !== undefined ? { precisionSec: opts.precisionSec } : {}),
    });
  },
};

/**
 * Creates the discipline `opts.discipline` names (default "horae"), with the tinker values
 * merged over ntpd's defaults. With a drift file it starts in FSET at that frequency.
 */
export function createDiscipline(opts: DisciplineOptions = {}): Discipline {
  return FACTORIES[opts.discipline ?? "horae"](opts);
}
