// `enable` / `disable`: the system flags (ntp.conf(5) Miscellaneous Options; TOML [system]).

import { option, section } from "./option_spec.ts";

/** Every system flag, sorted. */
export const SYSTEM_FLAGS = [
  "auth",
  "bclient",
  "calibrate",
  "kernel",
  "mode7",
  "monitor",
  "ntp",
  "pps",
  "stats",
] as const;

/** The system flags (model `system`), with ntpd's defaults. */
export const SYSTEM_FLAG_OPTIONS = [
  option({
    field: "auth",
    ntpConf: "auth",
    toml: "auth",
    type: "bool",
    default: true,
    doc: "Require authentication for peers and broadcast servers that mobilise by themselves.",
    applied: true,
  }),
  option({
    field: "bclient",
    ntpConf: "bclient",
    toml: "bclient",
    type: "bool",
    default: false,
    written: false,
    doc: "Listen for broadcast servers (the same as broadcastclient).",
    applied: true,
  }),
  option({
    field: "calibrate",
    ntpConf: "calibrate",
    toml: "calibrate",
    type: "bool",
    default: false,
    doc: "Calibrate reference clock drivers that support it.",
    applied: "no driver calibrates",
  }),
  option({
    field: "kernel",
    ntpConf: "kernel",
    toml: "kernel",
    type: "bool",
    default: true,
    doc: "Use the kernel's PLL (ntpd discipline).",
    applied: true,
  }),
  option({
    field: "mode7",
    ntpConf: "mode7",
    toml: "mode7",
    type: "bool",
    default: false,
    doc: "Answer mode 7 (ntpdc, collectd) read-only requests; never monlist or configuration.",
    applied: true,
  }),
  option({
    field: "monitor",
    ntpConf: "monitor",
    toml: "monitor",
    type: "bool",
    default: true,
    doc: "Keep the MRU list of recent clients.",
    applied: true,
  }),
  option({
    field: "ntp",
    ntpConf: "ntp",
    toml: "ntp",
    type: "bool",
    default: true,
    doc: "Discipline the clock (disable ntp: measure only).",
    applied: true,
  }),
  option({
    field: "pps",
    ntpConf: "pps",
    toml: "pps",
    type: "bool",
    default: false,
    doc: "Use the kernel's PPS discipline: a PPS clock with fudge flag3 binds it (PPS_KC_BIND), " +
      "and while that clock is the system peer the ntpd discipline in kernel mode (tinker " +
      "discipline ntpd, enable kernel) sets STA_PPSTIME/STA_PPSFREQ so that the kernel steers " +
      "from the pulses, offsets then only numbering the seconds; cleared when the clock stops " +
      "being the system peer and at exit. With the horae discipline or disable kernel the " +
      "kernel only measures the pulses, and start-up says so.",
    applied: true,
  }),
  option({
    field: "stats",
    ntpConf: "stats",
    toml: "stats",
    type: "bool",
    default: true,
    doc: "Write the statistics files.",
    applied: true,
  }),
] as const;

/** System flags. */
export const SYSTEM_SECTION = section({
  id: "system",
  title: "System flags",
  doc: "Switches set by enable and disable (COMPAT: stats is on by default, as ntpd in practice).",
  group: "tuning",
  model: "system",
  toml: "system",
  array: false,
  parts: [{ at: "", options: SYSTEM_FLAG_OPTIONS }],
  commands: [
    {
      keyword: "enable",
      syntax: "flag ...",
      doc: "Turn flags on.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "disable",
      syntax: "flag ...",
      doc: "Turn flags off.",
      form: "custom",
      applied: true,
    },
  ],
});
