// The NMEA driver (ntpd's type 20, 127.127.20.u): GPS receivers' NMEA 0183 sentences on a serial
// port (/dev/gpsU) read through ffi/termios.ts. $xxRMC, $xxGGA, $xxGLL and $xxZDA from the GP
// (GPS), GN (multi-system) and GL (GLONASS) talkers, chosen by the low `mode` bits (none set:
// all); the baud rate from mode bits 4-6 (ntpd's 4800/9600/19200/38400/57600/115200). Each
// sentence is stamped when its line ends; fudge time2 is how long after the second that is.
// With fudge flag1 a PPS device (/dev/gpsppsU, e.g. the DCD line through `ldattach pps`) gives
// where the second begins and the sentences say which second it is; time1 is the pulse's delay.

import { openSerial, type SerialPort } from "../ffi/termios.ts";
import { openPpsDevice } from "../ffi/pps.ts";
import { diffSec, fromUnix, type NtpTime, toUnix } from "../lib/proto/ntp_time.ts";
import type {
  RefclockConfig,
  RefclockContext,
  RefclockDriver,
  RefclockDriverEntry,
  RefclockFudge,
  RefclockSample,
} from "./driver.ts";
import { checkUnit, resolveFudge, SENTENCE_ERROR_SEC } from "./driver.ts";
import { medianFiltered } from "./median_filter.ts";
import { type PpsOpen, PpsReader, pulseOffsetSec } from "./pps.ts";

/** ntpd's NMEA driver type number. */
export const NMEA_DRIVER_TYPE = 20;
/** Mode bits choosing sentences (none set: all four). */
export const NMEA_MODE_RMC = 0x1;
export const NMEA_MODE_GGA = 0x2;
export const NMEA_MODE_GLL = 0x4;
export const NMEA_MODE_ZDA = 0x8;
/** The baud rates of mode bits 4-6 (0x00 ... 0x50). */
export const NMEA_BAUDS = [4800, 9600, 19200, 38400, 57600, 115200] as const;
/** Longest line kept (bytes): NMEA allows 82; longer input is garbage. */
export const NMEA_MAX_LINE = 128;
/** Talker ids accepted. */
export const NMEA_TALKERS = ["GP", "GN", "GL"] as const;
/** Precision of a sentence's time (log2 s): serial timing is good to a few ms at best. */
export const NMEA_PRECISION_LOG2 = -9;

/** Wait before opening a missing port again (s). */
export const NMEA_REOPEN_SEC = 10;

/**
 * The sentence mask and baud rate a `mode` asks for, and the bits this driver does not implement
 * (ntpd's $PMOTG/$PGRMF/GPS-week options from bit 7 up); throws for a baud code ntpd lacks.
 */
export function nmeaMode(
  mode: number | null,
): { mask: number; baud: number; unsupported: number } {
  const m = mode ?? 0;
  const code = (m >>> 4) & 0x7;
  const baud = NMEA_BAUDS[code];
  if (baud === undefined) throw new Error(`mode ${m}: baud rate code ${code} is not 0-5`);
  const mask = m & 0xf;
  return { mask: mask === 0 ? 0xf : mask, baud, unsupported: (m & ~0x7f) >>> 0 };
}

/** What one line is. */
export type NmeaParse =
  | { kind: "time"; sentence: string; sec: number; nsec: number; leap: number }
  | { kind: "bad_format"; reason: string }
  | { kind: "bad_data"; reason: string }
  | { kind: "ignored" };

/** The NMEA checksum of the text between `$` and `*`. */
export function nmeaChecksum(body: string): number {
  let c = 0;
  for (let i = 0; i < body.length; i++) c ^= body.charCodeAt(i);
  return c;
}

const SENTENCE_BIT: Record<string, number> = {
  RMC: NMEA_MODE_RMC,
  GGA: NMEA_MODE_GGA,
  GLL: NMEA_MODE_GLL,
  ZDA: NMEA_MODE_ZDA,
};

/** hhmmss[.fff] as seconds of the day and nanoseconds, or null. */
function timeOfDay(text: string | undefined): { sod: number; nsec: number } | null {
  const m = /^(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?$/.exec(text ?? "");
  if (m === null) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const s = Number(m[3]);
  if (h > 23 || min > 59 || s > 59) return null;
  const nsec = m[4] === undefined ? 0 : Number(m[4].padEnd(9, "0"));
  return { sod: h * 3600 + min * 60 + s, nsec };
}

const DAY = 86400;

/** The Unix day (UTC) of year/month/day, or null when the date does not exist. */
function unixDay(y: number, mo: number, d: number): number | null {
  if (!(mo >= 1 && mo <= 12 && d >= 1 && d <= 31)) return null;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1) return null;
  return ms / 1000 / DAY;
}

/**
 * Reads one line (without CR/LF) received near Unix second `nearSec`: its checksum, talker,
 * sentence and time. Sentences not in `mask` and other talkers are "ignored". A two-digit year
 * takes the century nearest `nearSec`; sentences without a date take the day that puts them
 * nearest `nearSec`. Never throws.
 */
export function parseNmea(line: string, nearSec: number, mask = 0xf): NmeaParse {
  const star = line.lastIndexOf("*");
  if (line[0] !== "$" || star < 0 || star !== line.length - 3) {
    return { kind: "bad_format", reason: "no $...*hh frame" };
  }
  const body = line.slice(1, star);
  const sum = Number.parseInt(line.slice(star + 1), 16);
  if (!/^[0-9A-Fa-f]{2}$/.test(line.slice(star + 1)) || sum !== nmeaChecksum(body)) {
    return { kind: "bad_format", reason: "checksum" };
  }
  if (!/^[\x20-\x7e]*$/.test(body)) return { kind: "bad_format", reason: "not ASCII" };
  const f = body.split(",");
  const id = f[0] ?? "";
  const talker = id.slice(0, 2);
  const sentence = id.slice(2);
  const bit = SENTENCE_BIT[sentence];
  if (
    id.length !== 5 || bit === undefined || !(NMEA_TALKERS as readonly string[]).includes(talker)
  ) {
    return { kind: "ignored" };
  }
  if ((mask & bit) === 0) return { kind: "ignored" };
  let tod: { sod: number; nsec: number } | null;
  let day: number | null = null;
  switch (sentence) {
    case "RMC": {
      if (f[2] !== "A") return { kind: "bad_data", reason: "RMC: no fix (status not A)" };
      tod = timeOfDay(f[1]);
      const dm = /^(\d{2})(\d{2})(\d{2})$/.exec(f[9] ?? "");
      if (dm === null) return { kind: "bad_format", reason: "RMC: date" };
      const yy = Number(dm[3]);
      const nearYear = new Date(nearSec * 1000).getUTCFullYear();
      let year = nearYear - (nearYear % 100) + yy;
      if (year > nearYear + 50) year -= 100;
      else if (year < nearYear - 50) year += 100;
      day = unixDay(year, Number(dm[2]), Number(dm[1]));
      if (day === null) return { kind: "bad_data", reason: "RMC: no such date" };
      break;
    }
    case "GGA":
      if (!/^[1-8]$/.test(f[6] ?? "")) return { kind: "bad_data", reason: "GGA: no fix" };
      tod = timeOfDay(f[1]);
      break;
    case "GLL":
      if (f[6] !== "A") return { kind: "bad_data", reason: "GLL: no fix (status not A)" };
      tod = timeOfDay(f[5]);
      break;
    default: { // ZDA
      tod = timeOfDay(f[1]);
      if (
        !/^\d{2}$/.test(f[2] ?? "") || !/^\d{2}$/.test(f[3] ?? "") || !/^\d{4}$/.test(f[4] ?? "")
      ) {
        return {
          kind: tod === null && (f[1] ?? "") === "" ? "bad_data" : "bad_format",
          reason: "ZDA: date",
        };
      }
      day = unixDay(Number(f[4]), Number(f[3]), Number(f[2]));
      if (day === null) return { kind: "bad_data", reason: "ZDA: no such date" };
    }
  }
  if (tod === null) {
    return (f[1] ?? "") === ""
      ? { kind: "bad_data", reason: `${sentence}: no time` }
      : { kind: "bad_format", reason: `${sentence}: time` };
  }
  let sec: number;
  if (day !== null) sec = day * DAY + tod.sod;
  else {
    // The day of `nearSec` or the one either side, whichever is nearest.
    const base = Math.floor(nearSec / DAY) * DAY + tod.sod;
    sec = [base - DAY, base, base + DAY].reduce((a, b) =>
      Math.abs(b - nearSec) < Math.abs(a - nearSec) ? b : a
    );
  }
  return { kind: "time", sentence: id, sec, nsec: tod.nsec, leap: 0 };
}

/** Counters of the NMEA driver. */
export interface NmeaCounters {
  /** Lines read (complete, framed by $ and a line end). */
  lines: number;
  /** Accepted sentence times (one a second at most). */
  samples: number;
  /** Bytes outside any sentence, overlong lines, half lines cut by a new `$`. */
  garbage: number;
  /** Bad checksums and unreadable sentences. */
  badformat: number;
  /** Readable sentences that carry no usable time (no fix, no date). */
  baddata: number;
  /** Other sentences and talkers, and those the mode leaves out. */
  ignored: number;
  /** Further sentences of a second already sampled. */
  sameSecond: number;
  /** PPS pulses used. */
  ppsSamples: number;
}

/** How the driver opens its port (tests pass a socketpair or a canned source). */
export type SerialOpen = (path: string, baud: number) => SerialPort;

/** The NMEA driver. */
export class NmeaDriver implements RefclockDriver {
  readonly type = NMEA_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  /** The clock's precision: a pulse's (-20) with flag1, else a sentence's. */
  readonly precisionLog2: number;
  readonly lastResort = false;
  timecode = "";
  readonly path: string;
  readonly ppsPath: string;
  /** Set with flag1: the clock's seconds come with its own PPS. */
  readonly ppsCapable: boolean;
  readonly mask: number;
  readonly baud: number;
  readonly #openPort: SerialOpen;
  readonly #openPps: PpsOpen;
  #ctx: RefclockContext | null = null;
  #add: ((s: RefclockSample) => void) | null = null;
  #stopFilter: (() => void) | null = null;
  #port: SerialPort | null = null;
  #pps: PpsReader | null = null;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #pending = "";
  #inLine = false;
  #lastSec: number | null = null;
  /** The last sentence's second and reference-minus-system offset, for numbering pulses. */
  #lastSentence: { at: NtpTime; offsetSec: number } | null = null;
  #openFailures = 0;
  readonly #unsupportedMode: number;
  readonly #counts: NmeaCounters = {
    lines: 0,
    samples: 0,
    garbage: 0,
    badformat: 0,
    baddata: 0,
    ignored: 0,
    sameSecond: 0,
    ppsSamples: 0,
  };

  /** NMEA(unit) on `config.path` or /dev/gpsU; throws for a mode ntpd does not have. */
  constructor(
    config: RefclockConfig,
    openPort: SerialOpen = openSerial,
    openPps: PpsOpen = (p) => openPpsDevice(p),
  ) {
    checkUnit(config.unit);
    const { mask, baud, unsupported } = nmeaMode(config.mode);
    this.#unsupportedMode = unsupported;
    this.unit = config.unit;
    this.name = `NMEA(${config.unit})`;
    this.fudge = resolveFudge(config.fudge, { refid: "GPS" });
    this.path = config.path ?? `/dev/gps${config.unit}`;
    this.ppsPath = config.ppsPath ?? `/dev/gpspps${config.unit}`;
    this.mask = mask;
    this.baud = baud;
    this.#openPort = openPort;
    this.#openPps = openPps;
    this.ppsCapable = this.fudge.flags[0];
    this.precisionLog2 = this.ppsCapable ? -20 : NMEA_PRECISION_LOG2;
  }

  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    this.#ctx = ctx;
    if (this.#unsupportedMode !== 0) {
      ctx.log(
        "warn",
        `${this.name}: mode bits 0x${this.#unsupportedMode.toString(16)} are not implemented ` +
          "(only sentences and baud rate); ignored",
      );
    }
    const filtered = medianFiltered(ctx, onSample);
    this.#add = filtered.add;
    this.#stopFilter = filtered.stop;
    this.#running = true;
    if (this.fudge.flags[0]) this.#startPps(ctx);
    this.#loop = this.#readLoop(ctx);
  }

  #startPps(ctx: RefclockContext): void {
    try {
      this.#pps = new PpsReader(this.#openPps(this.ppsPath), this.fudge.flags[1]);
    } catch (e) {
      ctx.log(
        "warn",
        `${this.name}: flag1 asks for PPS but ${this.ppsPath}: ${(e as Error).message}; ` +
          "PPS not applied, time from the sentences only",
      );
      return;
    }
    ctx.log("info", `${this.name}: PPS from ${this.ppsPath}`);
    this.#pps.start((at) => this.#pulse(at), (e) => ctx.log("warn", `${this.name}: ${e.message}`));
  }

  /**
   * A pulse: it says where a second began, the last sentence says which second that was. The
   * offset is the pulse's fraction plus the whole seconds by which the sentence's offset differs
   * (time2 must bring the sentence within half a second of the truth for that to be right).
   */
  #pulse(at: NtpTime): void {
    const last = this.#lastSentence;
    // Only while the sentences are current (one within the last two seconds).
    if (last === null || Math.abs(diffSec(at, last.at)) > 2) return;
    const frac = pulseOffsetSec(at);
    const wholeSec = Math.round(last.offsetSec - frac);
    this.#counts.ppsSamples++;
    this.#add?.({
      time: at,
      offsetSec: frac + wholeSec + this.fudge.time1Sec,
      dispersionSec: 2 ** -20,
      leap: 0,
    });
  }

  async #readLoop(ctx: RefclockContext): Promise<void> {
    let backoffSec = 0;
    // Bounded by stop(): each wait is at most a second, each reopen wait at most NMEA_REOPEN_SEC.
    while (this.#running) {
      if (this.#port === null) {
        if (backoffSec > 0) await this.#sleep(backoffSec);
        if (!this.#running) break;
        try {
          this.#port = this.#openPort(this.path, this.baud);
          ctx.log("info", `${this.name}: ${this.path} open at ${this.baud} baud`);
          ctx.clockstats?.(`open ${this.path} ${this.baud}`);
          backoffSec = 0;
        } catch (e) {
          if (this.#openFailures++ === 0) {
            ctx.log("warn", `${this.name}: ${this.path}: ${(e as Error).message}; trying again`);
          }
          backoffSec = NMEA_REOPEN_SEC;
          continue;
        }
      }
      const port = this.#port;
      try {
        if (!(await port.wait(1000)) || !this.#running) continue;
        const bytes = port.read();
        if (bytes.length > 0) this.receive(bytes, ctx.now());
      } catch (e) {
        ctx.log("warn", `${this.name}: ${(e as Error).message}; reopening`);
        port.close();
        this.#port = null;
        this.#pending = "";
        this.#inLine = false;
        backoffSec = 1;
      }
    }
  }

  #sleep(sec: number): Promise<void> {
    // In slices, so that stop() is not held up.
    return (async () => {
      for (let left = sec; left > 0 && this.#running; left -= 0.25) {
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }

  /**
   * Bytes read at system time `at` (stamped when the read returned): complete lines are read,
   * a part line waits for the rest. Lines are framed from `$` to CR or LF; anything else is
   * counted as garbage.
   */
  receive(bytes: Uint8Array, at: NtpTime): void {
    const c = this.#counts;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0x24) { // "$"
        if (this.#inLine && this.#pending.length > 0) c.garbage++; // a half line
        this.#pending = "$";
        this.#inLine = true;
      } else if (b === 0x0d || b === 0x0a) {
        if (this.#inLine) this.#line(this.#pending, at);
        this.#pending = "";
        this.#inLine = false;
      } else if (!this.#inLine) {
        c.garbage++;
      } else if (this.#pending.length >= NMEA_MAX_LINE) {
        c.garbage++;
        this.#pending = "";
        this.#inLine = false;
      } else {
        this.#pending += String.fromCharCode(b);
      }
    }
  }

  #line(line: string, at: NtpTime): void {
    const c = this.#counts;
    c.lines++;
    const u = toUnix(at);
    const nearSec = Number(u.sec) + u.nsec / 1e9;
    const p = parseNmea(line, nearSec, this.mask);
    switch (p.kind) {
      case "bad_format":
        c.badformat++;
        return;
      case "bad_data":
        c.baddata++;
        return;
      case "ignored":
        c.ignored++;
        return;
    }
    if (p.sec === this.#lastSec) {
      c.sameSecond++;
      return;
    }
    this.#lastSec = p.sec;
    c.samples++;
    this.timecode = line;
    this.#ctx?.clockstats?.(line);
    const offsetSec = diffSec(fromUnix(p.sec, p.nsec), at) + this.fudge.time2Sec;
    this.#lastSentence = { at, offsetSec };
    // With PPS running the pulses are the samples; the sentences only number them.
    if (this.#pps !== null) return;
    this.#add?.({
      time: at,
      offsetSec,
      dispersionSec: 2 ** NMEA_PRECISION_LOG2,
      leap: p.leap,
      rootDispersionSec: SENTENCE_ERROR_SEC,
    });
  }

  stop(): void {
    this.#running = false;
    this.#stopFilter?.();
    this.#stopFilter = null;
    const pps = this.#pps;
    this.#pps = null;
    if (pps !== null) void pps.stop().finally(() => pps.close());
    void this.#loop.finally(() => {
      this.#port?.close();
      this.#port = null;
    });
  }

  /** Resolves when the read loop has ended (after stop()). */
  get stopped(): Promise<void> {
    return this.#loop;
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.#counts, openFailures: this.#openFailures };
  }
}

/** Registry entry of the NMEA driver. */
export const NMEA_DRIVER: RefclockDriverEntry = {
  type: NMEA_DRIVER_TYPE,
  name: "NMEA",
  create: (c) => new NmeaDriver(c),
};
