// Options of the daemon's own files and its log: driftfile, leapfile, pidfile, logfile,
// saveconfigdir and logconfig (ntp.conf(5) Miscellaneous Options; TOML table [daemon]).

import { option, section } from "./option_spec.ts";

/** The file options (model `files`). */
export const FILE_OPTIONS = [
  option({
    field: "driftFile",
    ntpConf: "driftfile",
    toml: "driftfile",
    type: "path",
    default: null,
    doc: "File that keeps the clock's frequency offset (ppm) across restarts.",
    applied: true,
  }),
  option({
    field: "leapFile",
    ntpConf: "leapfile",
    toml: "leapfile",
    type: "path",
    default: null,
    doc: "NIST/IERS leap-seconds.list file, checked with its hash.",
    applied: true,
  }),
  option({
    field: "pidFile",
    ntpConf: "pidfile",
    toml: "pidfile",
    type: "path",
    default: null,
    doc: "File to write the daemon's process id to.",
    applied: true,
  }),
  option({
    field: "logFile",
    ntpConf: "logfile",
    toml: "logfile",
    type: "path",
    default: null,
    doc: 'File to log to instead of standard error ("syslog": the system logger; "stderr").',
    applied: true,
  }),
  option({
    field: "saveconfigDir",
    ntpConf: "saveconfigdir",
    toml: "saveconfigdir",
    type: "path",
    default: null,
    doc: "Directory for configurations saved with ntpq's saveconfig (with a controlkey); " +
      "without it saveconfig is refused, as ntpd does.",
    applied: true,
  }),
] as const;

/** The `logconfig` option (model root field `logConfig`). */
export const LOG_OPTIONS = [
  option({
    field: "logConfig",
    ntpConf: "logconfig",
    toml: "logconfig",
    type: "string-list",
    default: [],
    doc: "Message classes to log, as tokens such as =syncall, +clockall or -peerinfo.",
    applied: true,
  }),
] as const;

/** Files and logging. */
export const DAEMON_SECTION = section({
  id: "daemon",
  title: "Files and logging",
  doc: "Where the daemon keeps its state and what it logs.",
  group: "daemon",
  model: "",
  toml: "daemon",
  array: false,
  parts: [{ at: "files", options: FILE_OPTIONS }, { at: "", options: LOG_OPTIONS }],
  commands: [
    {
      keyword: "driftfile",
      syntax: "file",
      doc: "Keep the frequency offset in this file.",
      form: "value",
      applied: true,
    },
    {
      keyword: "leapfile",
      syntax: "file",
      doc: "Read leap second announcements from this file.",
      form: "value",
      applied: true,
    },
    {
      keyword: "pidfile",
      syntax: "file",
      doc: "Write the process id here.",
      form: "value",
      applied: true,
    },
    {
      keyword: "logfile",
      syntax: "file",
      doc: "Log to this file.",
      form: "value",
      applied: true,
    },
    {
      keyword: "saveconfigdir",
      syntax: "directory",
      doc: "Where ntpq's saveconfig writes (only with a controlkey).",
      form: "value",
      applied: true,
    },
    {
      keyword: "logconfig",
      syntax: "[=|+|-]class ...",
      doc: "Choose the classes of messages that are logged.",
      form: "list",
      applied: true,
    },
  ],
});
