// The control protocol's configuration: trap and setvar (ntp.conf(5) Miscellaneous Options;
// TOML [[trap]] and [[setvar]]), and the modem drivers' phone and calldelay ([modem]).

import { option, section } from "./option_spec.ts";

/** The values of a trap line (model `traps[i]`). */
export const TRAP_OPTIONS = [
  option({
    field: "address",
    ntpConf: null,
    toml: "address",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: "Where to send traps.",
    applied: true,
  }),
  option({
    field: "port",
    ntpConf: "port",
    toml: "port",
    type: "int",
    range: { min: 1, max: 65535, outside: "drop" },
    default: null,
    doc: "UDP port of the trap receiver (default 18447).",
    applied: true,
  }),
  option({
    field: "interface",
    ntpConf: "interface",
    toml: "interface",
    type: "string",
    default: null,
    doc: "Local address to send traps from.",
    applied: "traps go out through the daemon's socket for the receiver's family",
  }),
] as const;

/** Traps. */
export const TRAP_SECTION = section({
  id: "trap",
  title: "Traps",
  doc: "Receivers of mode 6 trap messages.",
  group: "stats",
  model: "traps",
  toml: "trap",
  array: true,
  parts: [{ at: "", options: TRAP_OPTIONS }],
  commands: [{
    keyword: "trap",
    syntax: "address [port n] [interface address]",
    doc: "Send trap messages to this address.",
    form: "custom",
    applied: true,
  }],
});

/** The values of a setvar line (model `setvar[i]`). */
export const SETVAR_OPTIONS = [
  option({
    field: "name",
    ntpConf: null,
    toml: "name",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: "Variable name.",
    applied: true,
  }),
  option({
    field: "value",
    ntpConf: null,
    toml: "value",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: "Variable value.",
    applied: true,
  }),
  option({
    field: "isDefault",
    ntpConf: "default",
    toml: "default",
    type: "flag",
    default: false,
    doc: "List the variable among the default read variables.",
    applied: true,
  }),
] as const;

/** System variables. */
export const SETVAR_SECTION = section({
  id: "setvar",
  title: "System variables",
  doc: "Variables that ntpq shows among the system variables.",
  group: "stats",
  model: "setvar",
  toml: "setvar",
  array: true,
  parts: [{ at: "", options: SETVAR_OPTIONS }],
  commands: [{
    keyword: "setvar",
    syntax: "name = value [default]",
    doc: "Set a system variable.",
    form: "custom",
    applied: true,
  }],
});

const NO_MODEM = "no modem driver is implemented; nothing is dialled";

/** Modem driver settings (model root fields `phone` and `callDelaySec`). */
export const MODEM_OPTIONS = [
  option({
    field: "phone",
    ntpConf: "phone",
    toml: "phone",
    type: "string-list",
    default: [],
    doc: "Numbers the modem drivers dial.",
    applied: NO_MODEM,
  }),
  option({
    field: "callDelaySec",
    ntpConf: "calldelay",
    toml: "calldelay",
    type: "int",
    unit: "s",
    range: { min: 0, max: 3600, outside: "clamp" },
    default: null,
    doc: "Delay between dialling and the first request.",
    applied: NO_MODEM,
  }),
] as const;

/** Modem drivers. */
export const MODEM_SECTION = section({
  id: "modem",
  title: "Modem drivers",
  doc: "Settings of the dial-up reference clock drivers.",
  group: "refclocks",
  model: "",
  toml: "modem",
  array: false,
  parts: [{ at: "", options: MODEM_OPTIONS }],
  commands: [
    {
      keyword: "phone",
      syntax: "number ...",
      doc: "Numbers to dial.",
      form: "list",
      applied: NO_MODEM,
    },
    {
      keyword: "calldelay",
      syntax: "seconds",
      doc: "Delay after dialling.",
      form: "value",
      applied: NO_MODEM,
    },
  ],
});
