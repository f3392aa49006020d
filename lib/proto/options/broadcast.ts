// Broadcast, multicast and manycast reception: broadcastclient, multicastclient, manycastserver,
// ttl and broadcastdelay (ntp.conf(5); TOML [broadcast]).

import { option, section } from "./option_spec.ts";

/** ntpd's default group for `multicastclient` without an address: the IANA NTP group. */
export const DEFAULT_MULTICAST_GROUP = "224.0.1.1";

/** Most values the `ttl` list keeps (ntpd ignores the rest). */
export const MAX_TTL_VALUES = 8;

/** The broadcast settings (model `broadcast`). */
export const BROADCAST_OPTIONS = [
  option({
    field: "client",
    ntpConf: "broadcastclient",
    toml: "broadcastclient",
    type: "flag",
    default: false,
    doc: "Listen for broadcast servers (also `enable bclient`).",
    applied: true,
  }),
  option({
    field: "novolley",
    ntpConf: "novolley",
    toml: "novolley",
    type: "flag",
    default: false,
    doc: "Skip the initial exchange that measures the delay to a broadcast server.",
    applied: true,
  }),
  option({
    field: "multicastClient",
    ntpConf: "multicastclient",
    toml: "multicastclient",
    type: "string-list",
    default: [],
    doc: `Multicast groups to listen on (${DEFAULT_MULTICAST_GROUP} when none is named).`,
    applied: true,
  }),
  option({
    field: "manycastServer",
    ntpConf: "manycastserver",
    toml: "manycastserver",
    type: "string-list",
    default: [],
    doc: "Groups on which to answer manycast clients.",
    applied: true,
  }),
  option({
    field: "ttl",
    ntpConf: "ttl",
    toml: "ttl",
    type: "int-list",
    range: { min: 1, max: 255, outside: "clamp" },
    maxItems: MAX_TTL_VALUES,
    default: [],
    doc: "TTL values of the manycast expanding-ring search, in increasing order.",
    applied: true,
  }),
  option({
    field: "delaySec",
    ntpConf: "broadcastdelay",
    toml: "broadcastdelay",
    type: "number",
    unit: "s",
    range: { min: 0, max: 1, outside: "clamp", compat: "ntpd has no bound" },
    default: null,
    doc: "Assumed delay to broadcast servers, instead of measuring it.",
    applied: true,
  }),
] as const;

/** Broadcast, multicast and manycast. */
export const BROADCAST_SECTION = section({
  id: "broadcast",
  title: "Broadcast, multicast and manycast",
  doc: "Receiving time from broadcast servers and answering manycast clients.",
  group: "sources",
  model: "broadcast",
  toml: "broadcast",
  array: false,
  parts: [{ at: "", options: BROADCAST_OPTIONS }],
  commands: [
    {
      keyword: "broadcastclient",
      syntax: "[novolley]",
      doc: "Listen for broadcast servers.",
      form: "custom",
      takes: ["broadcastclient", "novolley"],
      applied: true,
    },
    {
      keyword: "multicastclient",
      syntax: "[-4|-6] [group ...]",
      doc: "Listen for multicast servers on these groups.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "manycastserver",
      syntax: "[-4|-6] group ...",
      doc: "Answer manycast clients on these groups.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "ttl",
      aliases: ["hop"],
      syntax: "hop ...",
      doc: "TTL list of the manycast expanding-ring search (at most 8 values).",
      form: "list",
      applied: true,
    },
    {
      keyword: "broadcastdelay",
      syntax: "seconds",
      doc: "Assume this delay to broadcast servers.",
      form: "value",
      applied: true,
    },
  ],
});
