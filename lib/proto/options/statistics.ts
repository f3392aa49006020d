// Statistics files: statsdir, statistics and filegen (ntp.conf(5) Monitoring Support; TOML
// [stats] and [[stats.filegen]]).

import { option, section } from "./option_spec.ts";

/** The statistics files (filegens) ntpd knows, sorted. */
export const STAT_NAMES = [
  "clockstats",
  "cryptostats",
  "loopstats",
  "peerstats",
  "protostats",
  "rawstats",
  "sysstats",
  "timingstats",
] as const;

/** How a file generation set rolls over. */
export const FILEGEN_TYPES = ["none", "pid", "day", "week", "month", "year", "age"] as const;

const NO_STATS = "statistics files are not written yet";

/** The statistics settings (model `stats`). */
export const STATS_OPTIONS = [
  option({
    field: "statsDir",
    ntpConf: "statsdir",
    toml: "statsdir",
    type: "path",
    default: null,
    doc: "Directory of the statistics files (default: the working directory).",
    applied: NO_STATS,
  }),
  option({
    field: "enabled",
    ntpConf: "statistics",
    toml: "statistics",
    type: "enum-list",
    values: STAT_NAMES,
    default: [],
    doc: "Statistics files to write (filegen ... enable/disable changes the list).",
    applied: NO_STATS,
  }),
] as const;

/** Statistics. */
export const STATS_SECTION = section({
  id: "stats",
  title: "Statistics",
  doc: "Files of measurements, one line per event, in ntpd's formats.",
  group: "stats",
  model: "stats",
  toml: "stats",
  array: false,
  parts: [{ at: "", options: STATS_OPTIONS }],
  commands: [
    {
      keyword: "statsdir",
      syntax: "directory",
      doc: "Write statistics files here.",
      form: "value",
      applied: NO_STATS,
    },
    {
      keyword: "statistics",
      syntax: "name ...",
      doc: "Write these statistics files.",
      form: "list",
      applied: NO_STATS,
    },
  ],
});

/** The values of a filegen line (model `stats.filegens[i]`). */
export const FILEGEN_OPTIONS = [
  option({
    field: "name",
    ntpConf: null,
    toml: "name",
    type: "enum",
    values: STAT_NAMES,
    default: "loopstats",
    required: true,
    always: true,
    doc: "Which statistics file.",
    applied: NO_STATS,
  }),
  option({
    field: "file",
    ntpConf: "file",
    toml: "file",
    type: "string",
    default: "",
    doc: "File name prefix, relative to statsdir (default: the statistics name).",
    applied: NO_STATS,
  }),
  option({
    field: "type",
    ntpConf: "type",
    toml: "type",
    type: "enum",
    values: FILEGEN_TYPES,
    default: "day",
    always: true,
    doc: "How files roll over: none, pid, day, week, month, year or age.",
    applied: NO_STATS,
  }),
  option({
    field: "link",
    ntpConf: "link",
    toml: "link",
    type: "bool",
    default: true,
    always: true,
    doc: "Keep a link from the plain name to the current file (link / nolink).",
    applied: NO_STATS,
  }),
] as const;

/** File generation sets. */
export const FILEGEN_SECTION = section({
  id: "filegen",
  title: "File generation sets",
  doc: "How each statistics file is named and rolled over.",
  group: "stats",
  model: "stats.filegens",
  toml: "stats.filegen",
  array: true,
  parts: [{ at: "", options: FILEGEN_OPTIONS }],
  commands: [{
    keyword: "filegen",
    syntax: "name [file f] [type t] [link|nolink] [enable|disable]",
    doc: "Configure one statistics file.",
    form: "custom",
    applied: NO_STATS,
  }],
});
