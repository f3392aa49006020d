// Horae's own extensions of ntpd's configuration language. Each is marked `origin: "horae"`, so
// that the reference can list them apart; an ntpd reading such a line would reject it.

import { option } from "./option_spec.ts";

/** The clock disciplines Horae can run, in the order `check` lists them. */
export const DISCIPLINES = ["horae", "ntpd"] as const;

/** `tinker discipline horae|ntpd` ([tinker] discipline in TOML). */
export const HORAE_TINKER_OPTIONS = [
  option({
    field: "discipline",
    ntpConf: "discipline",
    toml: "discipline",
    type: "enum",
    values: DISCIPLINES,
    default: null,
    doc: "Clock discipline: Horae's estimator (horae, the default) or ntpd 4.2.x's PLL/FLL (ntpd).",
    applied: true,
    origin: "horae",
  }),
] as const;
