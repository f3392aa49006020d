// The whole configuration specification: every section in the order the TOML writer and the
// reference list them, the include directive, and the ntpd keywords Horae knows but ignores.
// This is the one list of ntp.conf keywords.

import { AUTH_SECTION, CRYPTO_SECTION } from "./keys.ts";
import { BROADCAST_SECTION } from "./broadcast.ts";
import { DAEMON_SECTION } from "./daemon.ts";
import { DISCARD_SECTION, INTERFACE_SECTION, MRU_SECTION, RESTRICT_SECTION } from "./access.ts";
import { FILEGEN_SECTION, STATS_SECTION } from "./statistics.ts";
import { MODEM_SECTION, SETVAR_SECTION, TRAP_SECTION } from "./control.ts";
import { type ConfigSpec, section, type UnsupportedCommand } from "./option_spec.ts";
import { NTS_SECTION } from "./nts.ts";
import { REFCLOCK_SECTION } from "./refclock.ts";
import { RLIMIT_SECTION } from "./rlimit.ts";
import { SOURCE_SECTION } from "./sources.ts";
import { SYSTEM_SECTION } from "./system_flags.ts";
import { TINKER_SECTION } from "./tinker.ts";
import { TOS_SECTION } from "./tos.ts";

/** Deepest `includefile` nesting accepted (the main file is level 0). */
export const MAX_INCLUDE_DEPTH = 5;

/** `includefile`: a directive of the ntp.conf reader, with no value of its own. */
export const INCLUDE_SECTION = section({
  id: "include",
  title: "Included files",
  doc: `Reading other files in place (nested at most ${MAX_INCLUDE_DEPTH} deep).`,
  group: "daemon",
  model: "",
  toml: null,
  array: false,
  parts: [],
  commands: [{
    keyword: "includefile",
    syntax: "file",
    doc: "Read this file here, as if its lines were written in place.",
    form: "custom",
    applied: true,
  }],
});

/** ntpd 4.2.x keywords Horae recognises but does not implement (warned about, line ignored). */
export const UNSUPPORTED_COMMANDS: readonly UnsupportedCommand[] = [
  { keyword: "automax", doc: "Autokey session key lifetime (old spelling)." },
  { keyword: "dscp", doc: "DSCP value of sent packets." },
  { keyword: "leapsmearinterval", doc: "Leap second smearing." },
  { keyword: "mdnstries", doc: "mDNS registration attempts." },
  { keyword: "nonvolatile", doc: "Drift file write threshold." },
  { keyword: "qos", doc: "Old spelling of dscp." },
  { keyword: "reset", doc: "Reset counters (runtime command)." },
  { keyword: "unconfig", doc: "Remove an association (runtime command)." },
  { keyword: "unpeer", doc: "Remove an association (runtime command)." },
];

/** Every section, in the TOML writer's order. */
export const CONFIG_SPEC: ConfigSpec = {
  sections: [
    DAEMON_SECTION,
    INCLUDE_SECTION,
    SOURCE_SECTION,
    BROADCAST_SECTION,
    RESTRICT_SECTION,
    DISCARD_SECTION,
    INTERFACE_SECTION,
    AUTH_SECTION,
    CRYPTO_SECTION,
    NTS_SECTION,
    STATS_SECTION,
    FILEGEN_SECTION,
    TRAP_SECTION,
    SETVAR_SECTION,
    REFCLOCK_SECTION,
    MODEM_SECTION,
    TOS_SECTION,
    TINKER_SECTION,
    SYSTEM_SECTION,
    MRU_SECTION,
    RLIMIT_SECTION,
  ],
  unsupported: UNSUPPORTED_COMMANDS,
};
