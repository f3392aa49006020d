// `horae time` (multi-call `ntptime`, ntptime(8) of ntpd 4.2.8): prints the kernel clock's
// ntp_gettime() and ntp_adjtime() state in ntptime's layout, status bits decoded, and with -e, -f,
// -m, -o, -s, -t or -T writes those variables with one ntp_adjtime() call. Writing needs
// CAP_SYS_TIME: without it the command refuses before any system call (exit 77), so nothing can
// change. --json prints the same state as one object.
//
// COMPAT: ntp_gettime() is read through ntp_adjtime() with modes 0, which is what glibc does on
// Linux; both sections therefore come from the same kind of read, taken one after the other.

import { parseArgs } from "node:util";
import { errnoName, OsError } from "../../ffi/libc.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_OFFSET,
  ADJ_STATUS,
  ADJ_TAI,
  ADJ_TIMECONST,
  type AdjtimeResult,
  type AdjtimeSyscall,
  emptyTimex,
  isNano,
  MAXFREQ_PPM,
  MAXTC,
  modeNames,
  ntpAdjtime,
  ppmToScaledPpm,
  scaledPpmToPpm,
  STA_RONLY,
  statusNames,
  timeStateName,
  type Timex,
} from "../../ffi/timex.ts";
import { type CliIo, denoIo, EXIT_USAGE } from "./check.ts";
import { EXIT_NO_PRIVILEGE, hasSysTimeCapability, NEEDS_SYS_TIME } from "./clock_privilege.ts";
import { helpText, longOptions, optionHelp, parseArgsMessage, usageError } from "./usage.ts";

/** Seconds from 1900 (NTP era 0) to 1970. */
const NTP_UNIX_OFFSET_SEC = 2_208_988_800;

/** Kernel reads `-c` times (ntptime's cost measurement). */
export const COST_READS = 20;

const TIME_OPTIONS = {
  cost: { type: "boolean", short: "c" },
  esterror: { type: "string", short: "e" },
  frequency: { type: "string", short: "f" },
  help: { type: "boolean", short: "h" },
  maxerror: { type: "string", short: "m" },
  offset: { type: "string", short: "o" },
  raw: { type: "boolean", short: "r" },
  status: { type: "string", short: "s" },
  timeconstant: { type: "string", short: "t" },
  tai: { type: "string", short: "T" },
  json: { type: "boolean" },
} as const;

const TIME_USAGE = "usage: horae time [-chr] [-e est_error] [-f frequency] [-m max_error]\n" +
  "                  [-o offset] [-s status] [-t time_constant] [-T tai_offset]     (ntptime)";

/** `horae time --help`. */
export const TIME_HELP = helpText(
  TIME_USAGE,
  optionHelp(TIME_OPTIONS, {
    cost: ["", "show the time taken by each of 20 kernel reads (us)"],
    esterror: ["US", "set the estimated error (us)"],
    frequency: ["PPM", `set the frequency offset (-${MAXFREQ_PPM} .. ${MAXFREQ_PPM} ppm)`],
    help: ["", "print this help and exit"],
    maxerror: ["US", "set the maximum error (us)"],
    offset: ["US", "hand the kernel PLL a phase offset (us)"],
    raw: ["", "also print the NTP and Unix times raw"],
    status: ["BITS", "set the status bits (a number: 0x2001 = PLL,NANO)"],
    timeconstant: ["N", `set the PLL time constant (0 .. ${MAXTC})`],
    tai: ["S", "set the TAI - UTC offset (s)"],
    json: ["", "print the kernel state as JSON"],
  }),
  "Reading needs no privilege. Setting needs CAP_SYS_TIME: without it nothing is written\n" +
    "and the exit status is 77.\n",
);

/** What `runTime` needs from the world (tests pass a fake kernel). */
export interface TimeEnv {
  io: CliIo;
  /** The ntp_adjtime system call (reads with modes 0; writes only after `canSetClock`). */
  kernel: AdjtimeSyscall;
  /** True when this process may write the kernel's clock variables (CAP_SYS_TIME). */
  canSetClock(): boolean;
  /** Print dates in UTC rather than local time (tests). */
  utc?: boolean;
}

/** The real environment: glibc's ntp_adjtime, the process's capabilities. */
export async function denoTimeEnv(): Promise<TimeEnv> {
  const { libcAdjtime } = await import("../../ffi/timex.ts");
  return { io: denoIo(), kernel: libcAdjtime(), canSetClock: hasSysTimeCapability };
}

/** The kernel variables a command line asks to write, as one `struct timex` request. */
export interface TimeWrite {
  modes: number;
  /** Field names written, for messages ("frequency", "status"). */
  fields: string[];
  /** Values (kernel units except `offsetUs`, which follows the kernel's current units). */
  timex: Timex;
  /** -o in microseconds: converted to the kernel's units once they are known. */
  offsetUs: number | null;
}

/** Parses a decimal number; null when `text` is not one. */
function decimal(text: string): number | null {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

/** Parses an integer, decimal or 0x hexadecimal; null when `text` is not one. */
function integer(text: string): number | null {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^[+-]?\d+$/.test(t)) return Number(t);
  return null;
}

/**
 * The write request of the parsed options, or a message saying which value is wrong (pure).
 * Values are range-checked as the kernel would refuse or clamp them.
 */
export function timeWriteOf(
  v: {
    [K in "esterror" | "frequency" | "maxerror" | "offset" | "status" | "tai" | "timeconstant"]?:
      | string
      | undefined;
  },
): TimeWrite | string {
  const t = emptyTimex();
  const w: TimeWrite = { modes: 0, fields: [], timex: t, offsetUs: null };
  const need = (
    name: string,
    text: string,
    parse: (s: string) => number | null,
    ok: (x: number) => boolean,
    range: string,
  ) => {
    const x = parse(text);
    if (x === null || !ok(x)) return `${name} ${JSON.stringify(text)} is not ${range}`;
    return x;
  };
  if (v.esterror !== undefined) {
    const x = need("-e", v.esterror, integer, (n) => n >= 0 && n <= 16_000_000, "0 .. 16000000 us");
    if (typeof x === "string") return x;
    w.modes |= ADJ_ESTERROR;
    w.fields.push("estimated error");
    t.esterror = x;
  }
  if (v.frequency !== undefined) {
    const x = need(
      "-f",
      v.frequency,
      decimal,
      (n) => Math.abs(n) <= MAXFREQ_PPM,
      `-${MAXFREQ_PPM} .. ${MAXFREQ_PPM} ppm`,
    );
    if (typeof x === "string") return x;
    w.modes |= ADJ_FREQUENCY;
    w.fields.push("frequency");
    t.freq = ppmToScaledPpm(x);
  }
  if (v.maxerror !== undefined) {
    const x = need("-m", v.maxerror, integer, (n) => n >= 0 && n <= 16_000_000, "0 .. 16000000 us");
    if (typeof x === "string") return x;
    w.modes |= ADJ_MAXERROR;
    w.fields.push("maximum error");
    t.maxerror = x;
  }
  if (v.offset !== undefined) {
    const x = need("-o", v.offset, decimal, (n) => Math.abs(n) <= 500_000, "-500000 .. 500000 us");
    if (typeof x === "string") return x;
    w.modes |= ADJ_OFFSET;
    w.fields.push("offset");
    w.offsetUs = x;
  }
  if (v.status !== undefined) {
    const x = need(
      "-s",
      v.status,
      integer,
      (n) => n >= 0 && n <= 0xffff,
      "a status word (0 .. 0xffff)",
    );
    if (typeof x === "string") return x;
    w.modes |= ADJ_STATUS;
    w.fields.push("status");
    // The read-only bits cannot be written; keeping them out makes the request say what it does.
    t.status = x & ~STA_RONLY;
  }
  if (v.timeconstant !== undefined) {
    const x = need("-t", v.timeconstant, integer, (n) => n >= 0 && n <= MAXTC, `0 .. ${MAXTC}`);
    if (typeof x === "string") return x;
    w.modes |= ADJ_TIMECONST;
    w.fields.push("time constant");
    t.constant = x;
  }
  if (v.tai !== undefined) {
    if (v.timeconstant !== undefined) {
      return "-T and -t cannot be set together (both use the time constant field)";
    }
    const x = need("-T", v.tai, integer, (n) => n >= 0 && n <= 1000, "0 .. 1000 s");
    if (typeof x === "string") return x;
    w.modes |= ADJ_TAI;
    w.fields.push("TAI offset");
    t.constant = x;
  }
  t.modes = w.modes;
  return w;
}

// ---- formatting (ntptime's layout) ----

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The kernel's `time` field as seconds and a fraction in its units (µs, or ns with STA_NANO). */
function timeParts(t: Timex): { sec: number; frac: number; nano: boolean } {
  return { sec: t.time.sec, frac: t.time.frac, nano: isNano(t) };
}

/** 32-bit NTP seconds and fraction of the kernel's time. */
export function ntpTimestampOf(t: Timex): { sec: number; frac: number } {
  const { sec, frac, nano } = timeParts(t);
  const fracSec = frac / (nano ? 1e9 : 1e6);
  return {
    sec: (sec + NTP_UNIX_OFFSET_SEC) >>> 0,
    frac: Math.min(0xffff_ffff, Math.floor(fracSec * 2 ** 32)) >>> 0,
  };
}

/** Weekday, month, day, year, hours, minutes and seconds of `unixSec`, in UTC or local time. */
function dateFields(
  unixSec: number,
  utc: boolean,
): [number, number, number, number, number, number, number] {
  const d = new Date(unixSec * 1000);
  return utc
    ? [
      d.getUTCDay(),
      d.getUTCMonth(),
      d.getUTCDate(),
      d.getUTCFullYear(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
    ]
    : [
      d.getDay(),
      d.getMonth(),
      d.getDate(),
      d.getFullYear(),
      d.getHours(),
      d.getMinutes(),
      d.getSeconds(),
    ];
}

/** ntpd's "pretty date": `Thu, Dec  3 2026 13:56:24.011` (local time unless `utc`). */
export function prettyDate(unixSec: number, fracSec: number, utc = false): string {
  const [wd, mo, day, year, h, m, s] = dateFields(unixSec, utc);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const ms = String(Math.min(999, Math.floor(fracSec * 1000))).padStart(3, "0");
  return `${DAYS[wd]}, ${MONTHS[mo]} ${String(day).padStart(2, " ")} ${year} ${p2(h)}:${p2(m)}:${
    p2(s)
  }.${ms}`;
}

/** ctime(3)'s date, with its newline: `Thu Dec  3 13:56:24 2026\n`. */
function ctimeOf(unixSec: number, utc: boolean): string {
  const [wd, mo, day, year, h, m, s] = dateFields(unixSec, utc);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[wd]} ${MONTHS[mo]} ${String(day).padStart(2, " ")} ${p2(h)}:${p2(m)}:${
    p2(s)
  } ${year}\n`;
}

/** `0x2001 (PLL,NANO)`: a status word and its bit names. */
function statusText(status: number): string {
  return `0x${(status >>> 0).toString(16)} (${statusNames(status).join(",")})`;
}

/** The `ntp_gettime()` section (three lines, or the -r raw times inside the third). */
export function gettimeSection(
  r: AdjtimeResult,
  opts: { raw?: boolean; utc?: boolean } = {},
): string {
  const t = r.timex;
  const ts = ntpTimestampOf(t);
  const { sec, frac, nano } = timeParts(t);
  const fracSec = frac / (nano ? 1e9 : 1e6);
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const digits = nano ? 9 : 6;
  let out = `ntp_gettime() returns code ${r.state} (${timeStateName(r.state)})\n`;
  out += `  time ${hex(ts.sec)}.${hex(ts.frac)}  ${prettyDate(sec, fracSec, opts.utc)}, ` +
    `(.${String(frac).padStart(digits, "0")}),\n`;
  out += `  maximum error ${t.maxerror} us, estimated error ${t.esterror} us`;
  if (opts.raw === true) {
    // As ntptime -r prints them: hex NTP time, hex Unix seconds with the decimal fraction, and
    // ctime(3)'s line (which ends the line itself).
    out += `  ntptime=${ts.sec.toString(16)}.${ts.frac.toString(16)} ` +
      `unixtime=${(sec >>> 0).toString(16)}.${String(frac).padStart(digits, "0")} ` +
      ctimeOf(sec, opts.utc === true);
  }
  out += `, TAI offset ${t.tai}\n`;
  return out;
}

/** The `ntp_adjtime()` section, with the PPS lines when the kernel reports a PPS interval. */
export function adjtimeSection(r: AdjtimeResult, modes: number): string {
  const t = r.timex;
  const nano = isNano(t);
  const us = (x: number) => (nano ? x / 1000 : x).toFixed(3);
  let out = `ntp_adjtime() returns code ${r.state} (${timeStateName(r.state)})\n`;
  out += `  modes 0x${(modes >>> 0).toString(16)} (${modeNames(modes).join(",")}),\n`;
  out += `  offset ${us(t.offset)} us, frequency ${scaledPpmToPpm(t.freq).toFixed(3)} ppm, ` +
    `interval ${2 ** t.shift} s,\n`;
  out += `  maximum error ${t.maxerror} us, estimated error ${t.esterror} us,\n`;
  out += `  status ${statusText(t.status)},\n`;
  out += `  time constant ${t.constant}, precision ${t.precision.toFixed(3)} us, ` +
    `tolerance ${Math.round(scaledPpmToPpm(t.tolerance))} ppm,\n`;
  if (t.shift !== 0) {
    out += `  pps frequency ${scaledPpmToPpm(t.ppsfreq).toFixed(3)} ppm, ` +
      `stability ${scaledPpmToPpm(t.stabil).toFixed(3)} ppm, jitter ${us(t.jitter)} us,\n`;
    out += `  intervals ${t.calcnt}, jitter exceeded ${t.jitcnt}, ` +
      `stability exceeded ${t.stbcnt}, errors ${t.errcnt}.\n`;
  }
  return out;
}

/** The state as `--json` prints it: every field in named units. */
export function timeJson(gettime: AdjtimeResult, adjtime: AdjtimeResult, modes: number): unknown {
  const t = adjtime.timex;
  const nano = isNano(t);
  const ts = ntpTimestampOf(gettime.timex);
  return {
    gettime: {
      code: gettime.state,
      state: timeStateName(gettime.state),
      ntpTime: `${ts.sec.toString(16).padStart(8, "0")}.${ts.frac.toString(16).padStart(8, "0")}`,
      unixSec: gettime.timex.time.sec,
      fraction: gettime.timex.time.frac,
      fractionUnit: isNano(gettime.timex) ? "ns" : "us",
      maxErrorUs: gettime.timex.maxerror,
      estErrorUs: gettime.timex.esterror,
      taiOffsetSec: gettime.timex.tai,
    },
    adjtime: {
      code: adjtime.state,
      state: timeStateName(adjtime.state),
      modes,
      modeNames: modeNames(modes),
      offsetUs: nano ? t.offset / 1000 : t.offset,
      freqPpm: scaledPpmToPpm(t.freq),
      intervalSec: 2 ** t.shift,
      maxErrorUs: t.maxerror,
      estErrorUs: t.esterror,
      status: t.status,
      statusNames: statusNames(t.status),
      timeConstant: t.constant,
      precisionUs: t.precision,
      tolerancePpm: scaledPpmToPpm(t.tolerance),
      tickUs: t.tick,
      pps: {
        freqPpm: scaledPpmToPpm(t.ppsfreq),
        stabilityPpm: scaledPpmToPpm(t.stabil),
        jitterUs: nano ? t.jitter / 1000 : t.jitter,
        intervals: t.calcnt,
        jitterExceeded: t.jitcnt,
        stabilityExceeded: t.stbcnt,
        errors: t.errcnt,
      },
    },
  };
}

/**
 * `-c`: `[ us 032074: 3 1 2 ... ]`, the microseconds of the first of {@link COST_READS} kernel
 * reads, then the time between each read and the next, as the kernel's own clock tells it.
 */
export function costLine(reads: readonly Timex[]): string {
  const usOf = (t: Timex) => t.time.sec * 1e6 + (isNano(t) ? t.time.frac / 1000 : t.time.frac);
  const first = reads[0];
  if (first === undefined) return "[ us ]\n";
  const firstUs = Math.floor(isNano(first) ? first.time.frac / 1000 : first.time.frac);
  const steps: number[] = [];
  for (let i = 1; i < reads.length; i++) {
    steps.push(Math.round(usOf(reads[i]!) - usOf(reads[i - 1]!)));
  }
  return `[ us ${String(firstUs).padStart(6, "0")}: ${steps.join(" ")} ]\n`;
}

/**
 * Joins `-f -12.5` into `-f-12.5`: ntptime's getopt takes a negative number after an option that
 * needs a value, where parseArgs would read it as an option of its own.
 */
export function joinNegativeValues(args: readonly string[], shorts: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (
      /^-[A-Za-z]$/.test(a) && shorts.includes(a[1]!) && next !== undefined && /^-[\d.]/.test(next)
    ) {
      out.push(`${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function parseTimeArgs(args: string[]) {
  return parseArgs({
    args: joinNegativeValues(args, "efmostT"),
    options: TIME_OPTIONS,
    strict: true,
    allowPositionals: false,
  });
}

/** `horae time` / `ntptime`: returns the exit status. */
export async function runTime(
  args: string[],
  program = "horae time",
  env?: TimeEnv,
): Promise<number> {
  let v: ReturnType<typeof parseTimeArgs>["values"];
  const e0 = env ?? null;
  const io = e0?.io ?? denoIo();
  try {
    v = parseTimeArgs(args).values;
  } catch (e) {
    io.stderr(usageError(program, parseArgsMessage(e, longOptions(TIME_OPTIONS))));
    return EXIT_USAGE;
  }
  if (v.help === true) {
    io.stdout(TIME_HELP);
    return 0;
  }
  const write = timeWriteOf(v);
  if (typeof write === "string") {
    io.stderr(usageError(program, write));
    return EXIT_USAGE;
  }
  let e: TimeEnv;
  try {
    e = e0 ?? await denoTimeEnv();
  } catch (err) {
    io.stderr(`${program}: cannot reach the kernel clock (needs --allow-ffi): ${err}\n`);
    return 1;
  }
  const read = () => ntpAdjtime(emptyTimex(), e.kernel);
  let modes = 0;
  let adjtime: AdjtimeResult;
  try {
    if (write.modes !== 0) {
      // Checked before anything is sent: without the capability no write reaches the kernel.
      if (!e.canSetClock()) {
        io.stderr(`${program}: setting the ${write.fields.join(", ")} ${NEEDS_SYS_TIME}\n`);
        return EXIT_NO_PRIVILEGE;
      }
      const t = write.timex;
      if (write.offsetUs !== null) {
        // The kernel takes the offset in its current units.
        t.offset = Math.round(isNano(read().timex) ? write.offsetUs * 1000 : write.offsetUs);
      }
      adjtime = ntpAdjtime(t, e.kernel);
      modes = write.modes;
    } else {
      adjtime = read();
    }
  } catch (err) {
    if (err instanceof OsError && err.errno === 1) {
      io.stderr(
        `${program}: ntp_adjtime refused to set the ${write.fields.join(", ")}: ` +
          `${errnoName(err.errno)}; ${NEEDS_SYS_TIME}\n`,
      );
      return EXIT_NO_PRIVILEGE;
    }
    io.stderr(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  let gettime: AdjtimeResult;
  let cost = "";
  try {
    if (v.cost === true) {
      const reads: Timex[] = [];
      for (let i = 0; i < COST_READS; i++) reads.push(read().timex);
      cost = costLine(reads);
    }
    gettime = read();
  } catch (err) {
    io.stderr(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (v.json === true) {
    io.stdout(`${JSON.stringify(timeJson(gettime, adjtime, modes), null, 2)}\n`);
    return 0;
  }
  const utc = e.utc === true;
  io.stdout(
    cost + gettimeSection(gettime, { raw: v.raw === true, utc }) + adjtimeSection(adjtime, modes),
  );
  return 0;
}
