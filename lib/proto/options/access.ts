// Access control: `restrict` lines and their flags, `discard` rate limits, `mru` list sizing and
// `interface`/`nic` rules (ntp.conf(5) Access Control Support, Miscellaneous Options; TOML
// [[restrict]], [discard], [mru], [[interface]]).

import { RESTRICT_FLAGS, type RestrictFlag } from "../access/restrict.ts";
import { ADDRESS_FAMILIES } from "./sources.ts";
import { option, section } from "./option_spec.ts";

export { RESTRICT_FLAGS, type RestrictFlag };

/** What each restrict flag does (for the reference). */
export const RESTRICT_FLAG_DOCS: Readonly<Record<RestrictFlag, string>> = {
  ignore: "drop every packet from these addresses",
  kod: "send a kiss-o'-death packet to a client that is refused or rate limited",
  limited: "refuse clients that exceed the discard rates",
  lowpriotrap: "traps set by these hosts have low priority",
  nomodify: "refuse control messages that would change the server's state",
  noquery: "refuse control (mode 6) and private (mode 7) queries",
  nopeer: "do not mobilise an association for an unauthenticated peer",
  noepeer: "do not mobilise an ephemeral peer association",
  noserve: "refuse time requests (queries are still answered)",
  notrap: "refuse to set traps",
  notrust: "refuse packets that are not authenticated",
  nomrulist: "refuse the MRU list query",
  mssntp: "sign replies with Samba's signing daemon (MS-SNTP)",
  ntpport: "match only packets from source port 123",
  "non-ntpport": "match only packets from other source ports",
  version: "refuse packets of another NTP version",
};

/** The values of a restrict line (model `restrict[i]`, after `default` is expanded). */
export const RESTRICT_OPTIONS = [
  option({
    field: "address",
    ntpConf: null,
    toml: "address",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: '"default", "source", or an address or host name.',
    applied: true,
  }),
  option({
    field: "family",
    ntpConf: null,
    toml: "family",
    type: "enum",
    values: ADDRESS_FAMILIES,
    default: "any",
    doc: "-4 / -6 before the address.",
    applied: true,
  }),
  option({
    field: "mask",
    ntpConf: "mask",
    toml: "mask",
    type: "string",
    default: null,
    doc: "Mask of the address range (default: the single address).",
    applied: true,
  }),
  option({
    field: "flags",
    ntpConf: null,
    toml: "flags",
    type: "enum-list",
    values: RESTRICT_FLAGS,
    default: [],
    doc: "What to refuse; no flag means no restriction.",
    applied: true,
  }),
] as const;

/** Restrict lines. */
export const RESTRICT_SECTION = section({
  id: "restrict",
  title: "Access control",
  doc: "Which clients get what. The most specific matching line wins; " +
    "an unknown flag is an error, so that a typo never opens the server.",
  group: "access",
  model: "restrict",
  toml: "restrict",
  array: true,
  parts: [{ at: "", options: RESTRICT_OPTIONS }],
  commands: [{
    keyword: "restrict",
    syntax: "[-4|-6] default|source|address [mask m] [flag ...]",
    doc: "Restrict what the matching clients may do.",
    form: "custom",
    applied: true,
  }],
});

/** `discard` rate limits (model `discard`). */
export const DISCARD_OPTIONS = [
  option({
    field: "averageLog2",
    ntpConf: "average",
    toml: "average",
    type: "int",
    unit: "log2 s",
    range: { min: 0, max: 16, outside: "clamp", compat: "ntpd accepts up to 255" },
    default: 3,
    doc: "Minimum average interval between packets of one client.",
    applied: true,
  }),
  option({
    field: "minimumSec",
    ntpConf: "minimum",
    toml: "minimum",
    type: "int",
    unit: "s",
    range: { min: 0, max: 65535, outside: "clamp" },
    default: 2,
    doc: "Minimum interval between two packets of one client.",
    applied: true,
  }),
  option({
    field: "monitor",
    ntpConf: "monitor",
    toml: "monitor",
    type: "int",
    range: { min: 0, max: 0x7fffffff, outside: "clamp" },
    default: 3000,
    doc: "Sampling threshold of the monitor (MRU) list.",
    applied: true,
  }),
] as const;

/** Rate limits. */
export const DISCARD_SECTION = section({
  id: "discard",
  title: "Rate limits",
  doc: "The rates that restrict's limited and kod flags enforce.",
  group: "access",
  model: "discard",
  toml: "discard",
  array: false,
  parts: [{ at: "", options: DISCARD_OPTIONS }],
  commands: [{
    keyword: "discard",
    syntax: "[average n] [minimum n] [monitor n]",
    doc: "Set the rate limits.",
    form: "options",
    applied: true,
  }],
});

/** The list is allocated once, at its bound: sizing steps for growth have nothing to act on. */
const NO_GROWTH = "the MRU list is allocated once at its full size (maxdepth or maxmem), so " +
  "this growth setting has no effect";
const MRU_RANGE = { min: 0, max: 0x7fffffff, outside: "ignore" } as const;

/** `mru` list sizing (model `mru`). */
export const MRU_OPTIONS = [
  option({
    field: "maxdepth",
    ntpConf: "maxdepth",
    toml: "maxdepth",
    type: "int",
    range: MRU_RANGE,
    default: null,
    doc: "Most entries in the list.",
    applied: true,
  }),
  option({
    field: "maxmem",
    ntpConf: "maxmem",
    toml: "maxmem",
    type: "int",
    unit: "KiB",
    range: MRU_RANGE,
    default: null,
    doc: "Most memory for the list.",
    applied: true,
  }),
  option({
    field: "mindepth",
    ntpConf: "mindepth",
    toml: "mindepth",
    type: "int",
    range: MRU_RANGE,
    default: null,
    doc: "Entries kept whatever their age.",
    applied:
      "entries are recycled only when the list is full, oldest first, so mindepth has no effect",
  }),
  option({
    field: "maxage",
    ntpConf: "maxage",
    toml: "maxage",
    type: "int",
    unit: "s",
    range: MRU_RANGE,
    default: null,
    doc: "Entries older than this are recycled first.",
    applied: true,
  }),
  option({
    field: "initalloc",
    ntpConf: "initalloc",
    toml: "initalloc",
    type: "int",
    range: MRU_RANGE,
    default: null,
    doc: "Entries allocated at start.",
    applied: NO_GROWTH,
  }),
  option({
    field: "initmem",
    ntpConf: "initmem",
    toml: "initmem",
    type: "int",
    unit: "KiB",
    range: MRU_RANGE,
    default: null,
    doc: "Memory allocated at start.",
    applied: NO_GROWTH,
  }),
  option({
    field: "incalloc",
    ntpConf: "incalloc",
    toml: "incalloc",
    type: "int",
    range: MRU_RANGE,
    default: null,
    doc: "Entries added each time the list grows.",
    applied: NO_GROWTH,
  }),
  option({
    field: "incmem",
    ntpConf: "incmem",
    toml: "incmem",
    type: "int",
    unit: "KiB",
    range: MRU_RANGE,
    default: null,
    doc: "Memory added each time the list grows.",
    applied: NO_GROWTH,
  }),
] as const;

/** The MRU list. */
export const MRU_SECTION = section({
  id: "mru",
  title: "MRU list",
  doc: "Size of the list of recent clients that rate limiting and ntpq's mrulist use.",
  group: "tuning",
  model: "mru",
  toml: "mru",
  array: false,
  parts: [{ at: "", options: MRU_OPTIONS }],
  commands: [{
    keyword: "mru",
    syntax: "[maxdepth n] [maxmem KiB] [mindepth n] [maxage s] [initalloc n] ...",
    doc: "Size the MRU list.",
    form: "options",
    applied: true,
  }],
});

/** Actions of an interface rule. */
export const INTERFACE_ACTIONS = ["listen", "ignore", "drop"] as const;

/** Address-class words an interface rule may match. */
export const INTERFACE_CLASSES: readonly string[] = ["all", "ipv4", "ipv6", "wildcard"];

/** The values of an interface rule (model `interfaces[i]`). */
export const INTERFACE_OPTIONS = [
  option({
    field: "action",
    ntpConf: null,
    toml: "action",
    type: "enum",
    values: INTERFACE_ACTIONS,
    default: "listen",
    required: true,
    always: true,
    doc: "listen, ignore or drop.",
    applied: true,
  }),
  option({
    field: "match",
    ntpConf: null,
    toml: "match",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: "all, ipv4, ipv6, wildcard, an interface name, or an address[/prefix].",
    applied: true,
  }),
] as const;

/** Interface rules. */
export const INTERFACE_SECTION = section({
  id: "interface",
  title: "Interfaces",
  doc: "Which local addresses to listen on. The last matching rule decides; a listen rule " +
    "naming an address, prefix or interface serves only what such rules name (and loopback).",
  group: "access",
  model: "interfaces",
  toml: "interface",
  array: true,
  parts: [{ at: "", options: INTERFACE_OPTIONS }],
  commands: [
    {
      keyword: "interface",
      syntax: "listen|ignore|drop all|ipv4|ipv6|wildcard|name|address[/prefix]",
      doc: "Listen on, ignore or drop the matching addresses.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "nic",
      syntax: "listen|ignore|drop all|ipv4|ipv6|wildcard|name|address[/prefix]",
      doc: "Same as interface.",
      form: "custom",
      applied: true,
    },
  ],
});
