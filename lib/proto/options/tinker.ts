// `tinker`: the clock discipline's constants (ntp.conf(5) Miscellaneous Options, ntpd 4.2.x
// semantics: seconds and ppm; TOML [tinker]), plus Horae's `discipline` extension.

import { HORAE_TINKER_OPTIONS } from "./horae.ts";
import { defaultsOf, option, section } from "./option_spec.ts";

/** ntpd 4.2.x's tinker options (model `tinker`). */
export const NTPD_TINKER_OPTIONS = [
  option({
    field: "allanSec",
    ntpConf: "allan",
    toml: "allan",
    type: "number",
    unit: "s",
    range: { min: 1, max: 1e6, outside: "clamp", compat: "ntpd has no bound" },
    default: 1500,
    doc: "Allan intercept: where ntpd's discipline moves from phase to frequency lock.",
    applied: true,
  }),
  option({
    field: "dispersionPpm",
    ntpConf: "dispersion",
    toml: "dispersion",
    type: "number",
    unit: "ppm",
    range: { min: 0, max: 500, outside: "clamp", compat: "ntpd has no bound" },
    default: 15,
    doc: "Rate at which dispersion grows with time.",
    applied: true,
  }),
  option({
    field: "freqPpm",
    ntpConf: "freq",
    toml: "freq",
    type: "number",
    unit: "ppm",
    range: { min: -500, max: 500, outside: "clamp" },
    default: null,
    doc: "Initial frequency offset, instead of the drift file's.",
    applied: true,
  }),
  option({
    field: "huffpuffSec",
    ntpConf: "huffpuff",
    toml: "huffpuff",
    type: "number",
    unit: "s",
    range: { min: 900, max: 7 * 86400, outside: "clamp", compat: "ntpd has no upper bound" },
    default: null,
    doc: "Span of the huff-n'-puff filter (off when not given).",
    applied: true,
  }),
  option({
    field: "panicSec",
    ntpConf: "panic",
    toml: "panic",
    type: "number",
    unit: "s",
    range: { min: 0, max: 1e9, outside: "clamp" },
    default: 1000,
    doc: "Offsets beyond this stop the daemon (0: no limit).",
    applied: true,
  }),
  option({
    field: "stepSec",
    ntpConf: "step",
    toml: "step",
    type: "number",
    unit: "s",
    range: { min: 0, max: 1e9, outside: "clamp" },
    default: 0.128,
    doc: "Offsets beyond this are stepped rather than slewed (0: never step).",
    applied: true,
  }),
  option({
    field: "stepoutSec",
    ntpConf: "stepout",
    toml: "stepout",
    type: "number",
    unit: "s",
    range: { min: 0, max: 1e6, outside: "clamp" },
    default: 900,
    doc: "How long an offset beyond the step threshold must last before a step.",
    applied: true,
  }),
  option({
    field: "tickSec",
    ntpConf: "tick",
    toml: "tick",
    type: "number",
    unit: "s",
    range: { min: 1e-9, max: 1, outside: "ignore" },
    default: null,
    doc: "Kernel tick value.",
    applied: "the kernel tick is never changed",
  }),
] as const;

/** ntpd 4.2.x's tinker defaults, in the spec's units (seconds, ppm); null: not set. */
export const TINKER_DEFAULTS = defaultsOf(NTPD_TINKER_OPTIONS);

/** Every tinker option: ntpd's and Horae's. */
export const TINKER_OPTIONS = [...NTPD_TINKER_OPTIONS, ...HORAE_TINKER_OPTIONS] as const;

/** Clock discipline. */
export const TINKER_SECTION = section({
  id: "tinker",
  title: "Clock discipline",
  doc: "Constants of the clock discipline. ntpd reads them before the sources; so should you.",
  group: "tuning",
  model: "tinker",
  toml: "tinker",
  array: false,
  parts: [{ at: "", options: TINKER_OPTIONS }],
  commands: [{
    keyword: "tinker",
    syntax: "option value ...",
    doc: "Set discipline constants.",
    form: "options",
    applied: true,
  }],
});
