// `rlimit`: process resource limits (ntp.conf(5) Miscellaneous Options; TOML [rlimit]).

import { option, section } from "./option_spec.ts";

const NOT_SET = "resource limits are not set; the process keeps the limits it started with";

/** The resource limits (model `rlimit`). */
export const RLIMIT_OPTIONS = [
  option({
    field: "memlock",
    ntpConf: "memlock",
    toml: "memlock",
    type: "int",
    unit: "MB",
    range: { min: -1, max: 0x7fffffff, outside: "ignore" },
    default: null,
    doc: "Memory to lock (-1: unlock).",
    applied: NOT_SET,
  }),
  option({
    field: "stacksize",
    ntpConf: "stacksize",
    toml: "stacksize",
    type: "int",
    unit: "4 KiB pages",
    range: { min: 0, max: 0x7fffffff, outside: "ignore" },
    default: null,
    doc: "Stack size limit.",
    applied: NOT_SET,
  }),
  option({
    field: "filenum",
    ntpConf: "filenum",
    toml: "filenum",
    type: "int",
    range: { min: 0, max: 0x7fffffff, outside: "ignore" },
    default: null,
    doc: "Open file limit.",
    applied: NOT_SET,
  }),
] as const;

/** Resource limits. */
export const RLIMIT_SECTION = section({
  id: "rlimit",
  title: "Resource limits",
  doc: "Limits ntpd sets on itself at start.",
  group: "tuning",
  model: "rlimit",
  toml: "rlimit",
  array: false,
  parts: [{ at: "", options: RLIMIT_OPTIONS }],
  commands: [{
    keyword: "rlimit",
    syntax: "[memlock MB] [stacksize pages] [filenum n]",
    doc: "Set resource limits.",
    form: "options",
    applied: NOT_SET,
  }],
});
