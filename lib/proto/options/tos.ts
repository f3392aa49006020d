// `tos`: the selection and orphan-mode parameters (ntp.conf(5) Miscellaneous Options, ntpd
// 4.2.x's tos; TOML [tos]), with ntpd's clamps and its consistency checks.

import { MAXDIST, MAXSTRAT, NTP_MAXCLOCK, NTP_MINCLOCK } from "../constants.ts";
import { defaultsOf, option, type RuleIssue, section } from "./option_spec.ts";

/** The tos settings (model `tos`). */
export const TOS_OPTIONS = [
  option({
    field: "beaconSec",
    ntpConf: "beacon",
    toml: "beacon",
    type: "int",
    unit: "s",
    range: { min: 1, max: 86400, outside: "clamp", compat: "ntpd has no bound" },
    default: 3600,
    doc: "Interval between orphan-mode beacons.",
    applied: "orphan-mode beacons are not sent",
  }),
  option({
    field: "ceiling",
    ntpConf: "ceiling",
    toml: "ceiling",
    type: "int",
    range: { min: 0, max: MAXSTRAT - 1, outside: "clamp" },
    default: MAXSTRAT - 1,
    doc: "Servers at this stratum or above are not used.",
    applied: true,
  }),
  option({
    field: "cohort",
    ntpConf: "cohort",
    toml: "cohort",
    type: "int",
    range: { min: 0, max: 1, outside: "clamp" },
    default: 0,
    doc: "1: also accept servers of our own stratum.",
    applied: "servers of our own stratum are treated as without cohort",
  }),
  option({
    field: "floor",
    ntpConf: "floor",
    toml: "floor",
    type: "int",
    range: { min: 0, max: MAXSTRAT - 1, outside: "clamp" },
    default: 1,
    doc: "Servers below this stratum are not used.",
    applied: true,
  }),
  option({
    field: "maxclock",
    ntpConf: "maxclock",
    toml: "maxclock",
    type: "int",
    range: { min: 1, max: 100, outside: "clamp", compat: "ntpd has no upper bound" },
    default: NTP_MAXCLOCK,
    doc: "Most associations kept (pool servers are added up to it).",
    applied: true,
  }),
  option({
    field: "maxdistSec",
    ntpConf: "maxdist",
    toml: "maxdist",
    type: "number",
    unit: "s",
    range: { min: 0.001, max: 16, outside: "clamp", compat: "ntpd has no bound" },
    default: MAXDIST,
    doc: "Largest root distance of a server that can be selected.",
    applied: true,
  }),
  option({
    field: "minclock",
    ntpConf: "minclock",
    toml: "minclock",
    type: "int",
    range: { min: 1, max: 100, outside: "clamp", compat: "ntpd has no upper bound" },
    default: NTP_MINCLOCK,
    doc: "Fewest survivors the cluster algorithm keeps.",
    applied: true,
  }),
  option({
    field: "mindistSec",
    ntpConf: "mindist",
    toml: "mindist",
    type: "number",
    unit: "s",
    range: { min: 0.000001, max: 16, outside: "clamp", compat: "ntpd has no bound" },
    default: 0.001,
    doc: "Smallest distance the selection algorithm uses for a server.",
    applied: "the selection uses its built-in minimum distance",
  }),
  option({
    field: "minsane",
    ntpConf: "minsane",
    toml: "minsane",
    type: "int",
    range: {
      min: 1,
      max: 100,
      outside: "clamp",
      compat: "ntpd accepts 0; Horae needs at least one truechimer to synchronise",
    },
    default: 1,
    doc: "Fewest truechimers needed to synchronise.",
    applied: true,
  }),
  option({
    field: "orphan",
    ntpConf: "orphan",
    toml: "orphan",
    type: "int",
    range: { min: 1, max: MAXSTRAT, outside: "clamp" },
    default: MAXSTRAT,
    doc: "Stratum of orphan mode; 16 turns orphan mode off.",
    applied: true,
  }),
  option({
    field: "orphanwaitSec",
    ntpConf: "orphanwait",
    toml: "orphanwait",
    type: "int",
    unit: "s",
    range: { min: 0, max: 86400, outside: "clamp" },
    default: 300,
    doc:
      "Time without a system peer (from start-up, or from losing the last one) before orphan mode starts.",
    applied: true,
  }),
] as const;

/** ntpd 4.2.x's tos defaults, in the spec's units. */
export const TOS_DEFAULTS = defaultsOf(TOS_OPTIONS);

const BROKEN = "the daemon will not operate properly (ntpd logs the same and goes on)";

/** ntpd's check: minsane < minclock <= maxclock, else it logs an error and carries on. */
export function checkClockCounts(v: Record<string, unknown>): RuleIssue[] {
  const { minsane, minclock, maxclock } = v as Record<string, number>;
  if (minclock === undefined || maxclock === undefined || minsane === undefined) return [];
  if (minsane < minclock && minclock <= maxclock) return [];
  const field = minclock > maxclock ? "minclock" : "minsane";
  return [{
    field,
    message: `tos needs minsane (${minsane}) < minclock (${minclock}) <= maxclock ` +
      `(${maxclock}); ${BROKEN}`,
  }];
}

/** ntpd's check: floor <= ceiling. Horae says so when floor == ceiling too (no server fits). */
export function checkStrata(v: Record<string, unknown>): RuleIssue[] {
  const { floor, ceiling } = v as Record<string, number>;
  if (floor === undefined || ceiling === undefined || floor < ceiling) return [];
  return [{
    field: "floor",
    message: `tos floor ${floor} is not below ceiling ${ceiling}: no server can be selected`,
  }];
}

/** mindist above maxdist leaves no server selectable. */
export function checkDistances(v: Record<string, unknown>): RuleIssue[] {
  const { mindistSec, maxdistSec } = v as Record<string, number>;
  if (mindistSec === undefined || maxdistSec === undefined || mindistSec <= maxdistSec) return [];
  return [{
    field: "mindistSec",
    message: `tos mindist ${mindistSec} is greater than maxdist ${maxdistSec}`,
  }];
}

/** Selection and orphan mode. */
export const TOS_SECTION = section({
  id: "tos",
  title: "Selection and orphan mode",
  doc: "Which servers the selection algorithm accepts and how many it needs.",
  group: "tuning",
  model: "tos",
  toml: "tos",
  array: false,
  parts: [{ at: "", options: TOS_OPTIONS }],
  commands: [{
    keyword: "tos",
    syntax: "option value ...",
    doc: "Set selection and orphan-mode parameters.",
    form: "options",
    applied: true,
  }],
  rules: [
    {
      doc: "minsane < minclock <= maxclock, or a warning (ntpd logs an error).",
      check: checkClockCounts,
    },
    { doc: "floor below ceiling, or a warning.", check: checkStrata },
    { doc: "mindist not above maxdist, or a warning.", check: checkDistances },
  ],
});
