// Network time sources: the server, peer, pool, broadcast and manycastclient commands and the
// options of their lines (ntp.conf(5) Configuration Commands; TOML [[source]]).

import { NTP_MAXDPOLL, NTP_MAXPOLL, NTP_MINDPOLL, NTP_MINPOLL, NTP_VERSION } from "../constants.ts";
import { option, type RuleIssue, section } from "./option_spec.ts";

/** The commands that create a network source, in the order the TOML writer lists them. */
export const SOURCE_KINDS = ["server", "peer", "pool", "broadcast", "manycastclient"] as const;

/** The `-4` / `-6` qualifiers of a line: which address family it is restricted to. */
export const ADDRESS_FAMILIES = ["any", "ipv4", "ipv6"] as const;

/** Lowest and highest symmetric key id. */
export const MIN_KEY_ID = 1;
/** Highest symmetric key id (ntpd's NTP_MAXKEY). */
export const MAX_KEY_ID = 65534;

const MINPOLL_RANGE = {
  min: NTP_MINPOLL,
  max: NTP_MAXPOLL,
  outside: "clamp",
  compat: "ntpd 4.2.8 accepts 3",
} as const;
const MAXPOLL_RANGE = { min: NTP_MINPOLL, max: NTP_MAXPOLL, outside: "clamp" } as const;

const NO_AUTOKEY = "Autokey is not implemented; the source is polled without it";

/** The values of a source line (model `sources[i]`). */
export const SOURCE_OPTIONS = [
  option({
    field: "kind",
    ntpConf: null,
    toml: "kind",
    type: "enum",
    values: SOURCE_KINDS,
    default: "server",
    always: true,
    doc: "The command of the line: server, peer, pool, broadcast or manycastclient.",
    applied: true,
  }),
  option({
    field: "address",
    ntpConf: null,
    toml: "address",
    type: "string",
    default: "",
    required: true,
    always: true,
    doc: "Host name or address (IPv4, or IPv6 without brackets).",
    applied: true,
  }),
  option({
    field: "family",
    ntpConf: null,
    toml: "family",
    type: "enum",
    values: ADDRESS_FAMILIES,
    default: "any",
    doc: "-4 / -6 before the address: resolve and use only that family.",
    applied: true,
  }),
  option({
    field: "key",
    ntpConf: "key",
    toml: "key",
    type: "int",
    unit: "key id",
    range: { min: MIN_KEY_ID, max: MAX_KEY_ID, outside: "drop" },
    default: null,
    doc: "Symmetric key that signs and checks this source's packets.",
    applied: true,
  }),
  option({
    field: "autokey",
    ntpConf: "autokey",
    toml: "autokey",
    type: "flag",
    default: false,
    doc: "Authenticate with Autokey (public key) instead of a symmetric key.",
    applied: NO_AUTOKEY,
  }),
  option({
    field: "nts",
    ntpConf: "nts",
    toml: "nts",
    type: "flag",
    default: false,
    doc: "Authenticate with Network Time Security: NTS-KE over TLS first, then NTS-protected NTP.",
    applied: true,
  }),
  option({
    field: "ntsPort",
    ntpConf: "ntsport",
    toml: "ntsport",
    type: "int",
    range: { min: 1, max: 65535, outside: "drop" },
    default: null,
    doc: "TCP port of the source's NTS-KE server (default 4460).",
    applied: true,
    origin: "horae",
  }),
  option({
    field: "burst",
    ntpConf: "burst",
    toml: "burst",
    type: "flag",
    default: false,
    doc: "Send a burst of packets at each poll while the source is reachable.",
    applied: true,
  }),
  option({
    field: "iburst",
    ntpConf: "iburst",
    toml: "iburst",
    type: "flag",
    default: false,
    doc: "Send a burst of packets while the source is unreachable, for a quick start.",
    applied: true,
  }),
  option({
    field: "prefer",
    ntpConf: "prefer",
    toml: "prefer",
    type: "flag",
    default: false,
    doc: "Prefer this source when the selection algorithm keeps it.",
    applied: true,
  }),
  option({
    field: "noselect",
    ntpConf: "noselect",
    toml: "noselect",
    type: "flag",
    default: false,
    doc: "Poll and show the source, but never select it.",
    applied: true,
  }),
  option({
    field: "trueChimer",
    ntpConf: "true",
    toml: "true",
    type: "flag",
    default: false,
    doc: "Always count the source as a truechimer (it survives selection).",
    applied: "the source still goes through the selection algorithm like any other",
  }),
  option({
    field: "preempt",
    ntpConf: "preempt",
    toml: "preempt",
    type: "flag",
    default: false,
    doc: "Let the association be removed when it is not useful.",
    applied: "the association is never removed for being useless",
  }),
  option({
    field: "xleave",
    ntpConf: "xleave",
    toml: "xleave",
    type: "flag",
    default: false,
    doc: "Use interleaved mode.",
    applied: "interleaved mode is not implemented; basic mode is used",
  }),
  option({
    field: "version",
    ntpConf: "version",
    toml: "version",
    type: "int",
    range: { min: 1, max: 4, outside: "clamp", compat: "ntpd accepts up to 255" },
    default: NTP_VERSION,
    doc: "NTP version of the packets sent.",
    applied: true,
  }),
  option({
    field: "minpollLog2",
    ntpConf: "minpoll",
    toml: "minpoll",
    type: "int",
    unit: "log2 s",
    range: MINPOLL_RANGE,
    default: NTP_MINDPOLL,
    doc: "Shortest poll interval.",
    applied: true,
  }),
  option({
    field: "maxpollLog2",
    ntpConf: "maxpoll",
    toml: "maxpoll",
    type: "int",
    unit: "log2 s",
    range: MAXPOLL_RANGE,
    default: NTP_MAXDPOLL,
    doc: "Longest poll interval.",
    applied: true,
  }),
  option({
    field: "ttl",
    ntpConf: "ttl",
    toml: "ttl",
    type: "int",
    range: { min: 0, max: 255, outside: "drop" },
    default: null,
    doc: "Time to live of broadcast and manycast packets.",
    applied: true,
  }),
  option({
    field: "mode",
    ntpConf: "mode",
    toml: "mode",
    type: "int",
    range: { min: 0, max: 0xffffffff, outside: "drop" },
    default: null,
    doc: "Mode value of the line (meaningful for reference clocks).",
    applied: "a mode has no effect on a network source",
  }),
] as const;

/** ntpd lowers a minpoll above maxpoll to maxpoll; so does Horae, saying so. */
export function checkPollOrder(v: Record<string, unknown>): RuleIssue[] {
  const min = v.minpollLog2;
  const max = v.maxpollLog2;
  if (typeof min !== "number" || typeof max !== "number" || min <= max) return [];
  v.minpollLog2 = max;
  return [{
    field: "minpollLog2",
    message: `minpoll ${min} is greater than maxpoll ${max}; using minpoll ${max}, as ntpd does`,
  }];
}

/** Network sources. */
export const SOURCE_SECTION = section({
  id: "source",
  title: "Network sources",
  doc: "Servers to poll. Reference clocks are written as servers with a 127.127.t.u address.",
  group: "sources",
  model: "sources",
  toml: "source",
  array: true,
  parts: [{ at: "", options: SOURCE_OPTIONS }],
  commands: [
    {
      keyword: "server",
      syntax: "[-4|-6] address [option ...]",
      doc: "Poll a server (client mode).",
      form: "custom",
      applied: true,
    },
    {
      keyword: "pool",
      syntax: "[-4|-6] name [option ...]",
      doc: "Poll several servers found under one DNS name, replacing those that fail.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "peer",
      syntax: "[-4|-6] address [option ...]",
      doc:
        "Exchange time with a peer in symmetric active mode (mode 1): each side may synchronise to the other, whichever has the better time. Use a key: the far side mobilises a passive association only for authenticated packets.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "broadcast",
      syntax: "[-4|-6] address [option ...]",
      doc: "Send broadcast or multicast packets to this address.",
      form: "custom",
      applied: true,
    },
    {
      keyword: "manycastclient",
      syntax: "[-4|-6] address [option ...]",
      doc: "Look for servers with manycast requests to this group address.",
      form: "custom",
      applied: true,
    },
  ],
  rules: [{ doc: "A minpoll above maxpoll is lowered to maxpoll.", check: checkPollOrder }],
});
