// Reference clocks: `server 127.127.t.u` lines, their options, and the `fudge` command
// (ntp.conf(5) Reference Clock Support; TOML [[refclock]]).

import { NTP_MAXDPOLL, NTP_MAXPOLL, NTP_MINDPOLL } from "../constants.ts";
import { option, section } from "./option_spec.ts";
import { checkPollOrder } from "./sources.ts";

/**
 * Driver types the daemon runs today (1 LOCAL, 20 NMEA, 22 PPS, 28 SHM, 46 GPSD_JSON); keep in
 * step with drivers/registry.ts.
 */
export const IMPLEMENTED_REFCLOCK_TYPES: readonly number[] = [1, 20, 22, 28, 46];

/**
 * A clock's poll may go down to 8 s (ntpd's NTP_MINPOLL of 3: a driver's median filter hands the
 * core one sample a poll); lower values are clamped, as ntpd does, never refused.
 */
export const REFCLOCK_MINPOLL = 3;
const POLL_RANGE = {
  min: REFCLOCK_MINPOLL,
  max: NTP_MAXPOLL,
  outside: "clamp",
  compat: "RFC 5905's MINPOLL is 4; ntpd's refclocks go to 3",
} as const;

/** The values of a refclock's server line (model `refclocks[i]`). */
export const REFCLOCK_OPTIONS = [
  option({
    field: "type",
    ntpConf: null,
    toml: "type",
    type: "int",
    default: 0,
    required: true,
    always: true,
    doc: "Driver type t of 127.127.t.u (1 LOCAL, 20 NMEA, 22 PPS, 28 SHM, ...).",
    applied: true,
  }),
  option({
    field: "unit",
    ntpConf: null,
    toml: "unit",
    type: "int",
    default: 0,
    always: true,
    doc: "Unit number u of 127.127.t.u.",
    applied: true,
  }),
  option({
    field: "mode",
    ntpConf: "mode",
    toml: "mode",
    type: "int",
    range: { min: 0, max: 0xffffffff, outside: "drop" },
    default: null,
    doc: "Driver-specific mode (on the server line or the fudge line): NMEA's sentences and " +
      "baud rate.",
    applied: true,
  }),
  option({
    field: "path",
    ntpConf: "path",
    toml: "path",
    type: "string",
    default: null,
    doc: "The clock's device instead of the driver's default (/dev/gpsU for NMEA, /dev/ppsU " +
      "for PPS); for GPSD_JSON the gpsd address host:port (default 127.0.0.1:2947), then the " +
      "device to watch if not all (127.0.0.1:2947/dev/ttyUSB0). " +
      "COMPAT: NTPsec's refclock option; ntpd has only the fixed device names.",
    applied: true,
  }),
  option({
    field: "ppspath",
    ntpConf: "ppspath",
    toml: "ppspath",
    type: "string",
    default: null,
    doc: "The PPS device of an NMEA clock with flag1 (default /dev/gpsppsU).",
    applied: true,
  }),
  option({
    field: "prefer",
    ntpConf: "prefer",
    toml: "prefer",
    type: "flag",
    default: false,
    doc: "Prefer this clock in selection.",
    applied: true,
  }),
  option({
    field: "noselect",
    ntpConf: "noselect",
    toml: "noselect",
    type: "flag",
    default: false,
    doc: "Read the clock but never select it.",
    applied: true,
  }),
  option({
    field: "trueChimer",
    ntpConf: "true",
    toml: "true",
    type: "flag",
    default: false,
    doc: "Always count the clock as a truechimer.",
    applied: "the clock goes through selection and may be marked a falseticker",
  }),
  option({
    field: "minpollLog2",
    ntpConf: "minpoll",
    toml: "minpoll",
    type: "int",
    unit: "log2 s",
    range: POLL_RANGE,
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
    range: POLL_RANGE,
    default: NTP_MAXDPOLL,
    doc: "Longest poll interval.",
    applied: true,
  }),
] as const;

/** The values of a `fudge` line (model `refclocks[i].fudge`). */
export const FUDGE_OPTIONS = [
  option({
    field: "time1Sec",
    ntpConf: "time1",
    toml: "time1",
    type: "number",
    unit: "s",
    range: { min: -86400, max: 86400, outside: "clamp", compat: "ntpd has no bound" },
    default: null,
    doc: "Offset added to the clock's time.",
    applied: true,
  }),
  option({
    field: "time2Sec",
    ntpConf: "time2",
    toml: "time2",
    type: "number",
    unit: "s",
    range: { min: -86400, max: 86400, outside: "clamp", compat: "ntpd has no bound" },
    default: null,
    doc: "Second, driver-specific time constant (NMEA: the sentence's delay after the second).",
    applied: true,
  }),
  option({
    field: "stratum",
    ntpConf: "stratum",
    toml: "stratum",
    type: "int",
    range: { min: 0, max: 15, outside: "clamp" },
    default: null,
    doc: "Stratum the clock claims.",
    applied: true,
  }),
  option({
    field: "refid",
    ntpConf: "refid",
    toml: "refid",
    type: "string",
    default: null,
    doc: "Reference id of the clock, 1 to 4 ASCII characters.",
    applied: true,
  }),
  option({
    field: "flag1",
    ntpConf: "flag1",
    toml: "flag1",
    type: "bool",
    default: null,
    doc: "Driver flag 1 (0 or 1): NMEA and GPSD_JSON take their PPS.",
    applied: true,
  }),
  option({
    field: "flag2",
    ntpConf: "flag2",
    toml: "flag2",
    type: "bool",
    default: null,
    doc: "Driver flag 2 (0 or 1): the PPS clear edge instead of assert.",
    applied: true,
  }),
  option({
    field: "flag3",
    ntpConf: "flag3",
    toml: "flag3",
    type: "bool",
    default: null,
    doc: "Driver flag 3 (0 or 1): PPS binds the kernel PPS discipline (with enable pps; it " +
      "steers while the clock is the system peer under tinker discipline ntpd, enable kernel).",
    applied: true,
  }),
  option({
    field: "flag4",
    ntpConf: "flag4",
    toml: "flag4",
    type: "bool",
    default: null,
    doc: "Driver flag 4 (0 or 1): no driver uses it yet.",
    applied: "no driver implemented uses flag4",
  }),
] as const;

/** Reference clocks. */
export const REFCLOCK_SECTION = section({
  id: "refclock",
  title: "Reference clocks",
  doc: "A clock attached to this machine, named by the pseudo-address 127.127.t.u.",
  group: "refclocks",
  model: "refclocks",
  toml: "refclock",
  array: true,
  parts: [{ at: "", options: REFCLOCK_OPTIONS }, { at: "fudge", options: FUDGE_OPTIONS }],
  commands: [
    {
      keyword: "server",
      syntax:
        "127.127.t.u [prefer] [noselect] [true] [minpoll n] [maxpoll n] [mode m] [path p] [ppspath p]",
      doc: "Run driver t, unit u.",
      form: "custom",
      takes: ["prefer", "noselect", "true", "minpoll", "maxpoll", "mode", "path", "ppspath"],
      applied: true,
    },
    {
      keyword: "fudge",
      syntax: "127.127.t.u [time1 s] [time2 s] [stratum n] [refid id] [mode m] [flagN 0|1]",
      doc: "Adjust a reference clock (the server line may come before or after).",
      form: "custom",
      takes: [
        "time1",
        "time2",
        "stratum",
        "refid",
        "mode",
        "flag1",
        "flag2",
        "flag3",
        "flag4",
      ],
      applied: true,
    },
  ],
  rules: [{ doc: "A minpoll above maxpoll is lowered to maxpoll.", check: checkPollOrder }],
  elementApplied: (r) =>
    IMPLEMENTED_REFCLOCK_TYPES.includes(r.type as number)
      ? true
      : `driver type ${r.type} is not implemented; this clock is not used`,
});
