// Leap seconds (RFC 5905 §7.3 leap indicator; ntpd 4.2.x `leapfile`): the NIST/IERS
// leap-seconds.list format with its SHA-1 check, the leap pending at the end of the month, and
// the vote of the survivors' leap indicators.

import { type Action, SystemEvent, systemEvent } from "./events.ts";
import { type NtpTime, toFloatSec, UNIX_EPOCH_OFFSET_SEC } from "./ntp_time.ts";
import { LEAP_ADDSECOND, LEAP_DELSECOND, LEAP_NOWARNING } from "./constants.ts";
import { isoUtc, monthStartUnixSec, nextMonthStartUnixSec } from "./civil_time.ts";

/** One data line of a leap-seconds file: from `ntpSec` on, TAI − UTC is `taiOffsetSec`. */
export interface LeapTableEntry {
  /** NTP seconds (since 1900) of the midnight at which the new offset starts. */
  ntpSec: number;
  /** TAI − UTC from then on (seconds). */
  taiOffsetSec: number;
}

/** A parsed, checked leap-seconds file. */
export interface LeapSecondTable {
  /** Where the table came from (a file name), for messages. */
  name: string;
  /** `#$`: when the file was last updated (NTP seconds). */
  updatedNtpSec: number;
  /** `#@`: after this the file says nothing about future leaps (NTP seconds). */
  expiresNtpSec: number;
  /** The data lines, oldest first. */
  entries: readonly LeapTableEntry[];
  /** True when the `#h` SHA-1 was present and matched; false only with `allowMissingHash`. */
  hashVerified: boolean;
}

/** A SHA-1 function (lib/proto does no crypto of its own: the caller passes node:crypto's). */
export type Sha1 = (data: Uint8Array) => Uint8Array;

/** Options of {@link parseLeapSecondsList}. */
export interface LeapFileOptions {
  /** SHA-1 used to check the `#h` line. */
  sha1: Sha1;
  /** Accept a file without a `#h` line (the table then says `hashVerified: false`). */
  allowMissingHash?: boolean;
  /** Name for messages (default "leap-seconds.list"). */
  name?: string;
}

/** Result of {@link parseLeapSecondsList}: never throws. */
export type ParseLeapResult =
  | { ok: true; table: LeapSecondTable }
  | { ok: false; reason: string };

/** Largest leap-seconds file accepted (characters); the real one is about 10 kB. */
export const MAX_LEAP_FILE_CHARS = 1 << 20;
/** Most data lines accepted. */
export const MAX_LEAP_ENTRIES = 1000;
/** Seconds in a UTC day. */
export const SECONDS_PER_DAY = 86_400;
/** A file expiring within this many days draws a warning (ntpd warns in the last weeks too). */
export const LEAP_EXPIRY_WARNING_DAYS = 30;

const DIGITS = /^\d{1,12}$/;
const HEX_WORD = /^[0-9a-fA-F]{1,8}$/;

/**
 * Parses a NIST/IERS `leap-seconds.list`: the `#$` update time, the `#@` expiry, the data lines
 * "NTP-seconds TAI-offset [# comment]" and the `#h` line. The hash is SHA-1 over the digits of
 * the `#$` and `#@` values followed by the two fields of every data line, in file order, with
 * all white space and comments left out (as the file's own comments describe); the five `#h`
 * words are the digest's 32-bit words in hex (leading zeros may be missing). A mismatch, a
 * missing hash (unless allowed), a malformed line, entries out of order, an offset that changes
 * by other than ±1 s or a leap not at the start of a month all reject the file with a reason.
 */
export function parseLeapSecondsList(text: string, opts: LeapFileOptions): ParseLeapResult {
  const name = opts.name ?? "leap-seconds.list";
  const fail = (reason: string): ParseLeapResult => ({ ok: false, reason: `${name}: ${reason}` });
  if (typeof text !== "string") return fail("not text");
  if (text.length > MAX_LEAP_FILE_CHARS) {
    return fail(`file too large (${text.length} characters, limit ${MAX_LEAP_FILE_CHARS})`);
  }
  let updated: string | null = null;
  let expires: string | null = null;
  let hashWords: string[] | null = null;
  const data: { time: string; offset: string; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    if (line.startsWith("#$") || line.startsWith("#@")) {
      const value = line.slice(2).trim().split(/\s+/)[0] ?? "";
      const which = line[1] === "$" ? "#$ (last update)" : "#@ (expiration)";
      if (!DIGITS.test(value)) return fail(`line ${lineNo}: ${which} needs NTP seconds`);
      if (line[1] === "$") {
        if (updated !== null) return fail(`line ${lineNo}: second ${which} line`);
        updated = value;
      } else {
        if (expires !== null) return fail(`line ${lineNo}: second ${which} line`);
        expires = value;
      }
      continue;
    }
    if (line.startsWith("#h")) {
      if (hashWords !== null) return fail(`line ${lineNo}: second #h (hash) line`);
      const words = line.slice(2).trim().split(/\s+/).filter((w) => w !== "");
      if (words.length !== 5 || !words.every((w) => HEX_WORD.test(w))) {
        return fail(`line ${lineNo}: #h needs five hexadecimal words of a SHA-1 digest`);
      }
      hashWords = words;
      continue;
    }
    if (line.startsWith("#")) continue;
    const fields = line.split("#")[0]!.trim().split(/\s+/);
    if (fields.length !== 2 || !DIGITS.test(fields[0]!) || !DIGITS.test(fields[1]!)) {
      return fail(`line ${lineNo}: expected "NTP-seconds TAI-offset", got "${clip(line)}"`);
    }
    if (data.length >= MAX_LEAP_ENTRIES) return fail(`more than ${MAX_LEAP_ENTRIES} entries`);
    data.push({ time: fields[0]!, offset: fields[1]!, line: lineNo });
  }
  if (updated === null) return fail("no #$ (last update) line");
  if (expires === null) return fail("no #@ (expiration) line");
  if (data.length === 0) return fail("no leap second entries");
  const updatedNtpSec = Number(updated);
  const expiresNtpSec = Number(expires);
  if (expiresNtpSec <= updatedNtpSec) {
    return fail(`expiration ${isoDate(expiresNtpSec)} is not after the last update`);
  }
  const entries: LeapTableEntry[] = [];
  for (const d of data) {
    const e = { ntpSec: Number(d.time), taiOffsetSec: Number(d.offset) };
    const prev = entries.at(-1);
    if (prev !== undefined) {
      if (e.ntpSec <= prev.ntpSec) return fail(`line ${d.line}: entries out of time order`);
      if (Math.abs(e.taiOffsetSec - prev.taiOffsetSec) !== 1) {
        return fail(`line ${d.line}: TAI offset changes by other than one second`);
      }
    }
    if (monthStartNtpSec(e.ntpSec) !== e.ntpSec) {
      return fail(`line ${d.line}: ${isoTime(e.ntpSec)} is not the start of a month`);
    }
    entries.push(e);
  }
  let hashVerified = false;
  if (hashWords === null) {
    if (opts.allowMissingHash !== true) return fail("no #h (SHA-1 hash) line");
  } else {
    const input = updated + expires + data.map((d) => d.time + d.offset).join("");
    let digest: Uint8Array;
    try {
      digest = opts.sha1(new TextEncoder().encode(input));
    } catch (e) {
      return fail(`cannot compute SHA-1: ${(e as Error).message}`);
    }
    if (!(digest instanceof Uint8Array) || digest.length !== 20) {
      return fail("the SHA-1 function did not return 20 bytes");
    }
    const view = new DataView(digest.buffer, digest.byteOffset, 20);
    const actual = [0, 1, 2, 3, 4].map((k) => view.getUint32(4 * k));
    const expected = hashWords.map((w) => parseInt(w, 16));
    if (actual.some((w, k) => w !== expected[k])) {
      return fail(
        `hash mismatch: #h says ${hashWords.join(" ")} but the data hashes to ${
          actual.map((w) => w.toString(16).padStart(8, "0")).join(" ")
        }; file rejected`,
      );
    }
    hashVerified = true;
  }
  return { ok: true, table: { name, updatedNtpSec, expiresNtpSec, entries, hashVerified } };
}

/** TAI − UTC at `ntpSec` according to the table, or null before its first entry. */
export function taiOffsetAt(table: LeapSecondTable, ntpSec: number): number | null {
  let tai: number | null = null;
  for (const e of table.entries) {
    if (e.ntpSec > ntpSec) break;
    tai = e.taiOffsetSec;
  }
  return tai;
}

/** A leap second the table schedules. */
export interface ScheduledLeap {
  /** NTP seconds of the midnight right after the leap (the table entry's time). */
  atNtpSec: number;
  /** 1: insert (23:59:60 exists), 2: delete (23:59:59 is skipped). */
  leap: 1 | 2;
  /** TAI − UTC after the leap. */
  taiOffsetSec: number;
}

/** The first leap of the table strictly after `ntpSec`, or null. */
export function nextLeap(table: LeapSecondTable, ntpSec: number): ScheduledLeap | null {
  for (let i = 1; i < table.entries.length; i++) {
    const e = table.entries[i]!;
    if (e.ntpSec <= ntpSec) continue;
    const up = e.taiOffsetSec > table.entries[i - 1]!.taiOffsetSec;
    return {
      atNtpSec: e.ntpSec,
      leap: up ? LEAP_ADDSECOND : LEAP_DELSECOND,
      taiOffsetSec: e.taiOffsetSec,
    };
  }
  return null;
}

/**
 * The leap the survivors announce: insert (1) or delete (2) when more than half of them say so,
 * otherwise none (ntpd 4.2.x counts the survivors' leap bits the same way). Unsynchronised
 * indicators (3) count as "no leap".
 */
export function leapVote(indicators: readonly number[]): 0 | 1 | 2 {
  const n = indicators.length;
  if (n === 0) return LEAP_NOWARNING;
  let ins = 0;
  let del = 0;
  for (const li of indicators) {
    if (li === LEAP_ADDSECOND) ins++;
    else if (li === LEAP_DELSECOND) del++;
  }
  if (2 * ins > n) return LEAP_ADDSECOND;
  if (2 * del > n) return LEAP_DELSECOND;
  return LEAP_NOWARNING;
}

/** NTP seconds of 00:00:00 UTC on the first day of the month containing `ntpSec`. */
export function monthStartNtpSec(ntpSec: number): number {
  return monthStartUnixSec(Math.floor(ntpSec - UNIX_EPOCH_OFFSET_SEC)) + UNIX_EPOCH_OFFSET_SEC;
}

/** NTP seconds of 00:00:00 UTC on the first day of the month after the one containing `ntpSec`. */
export function nextMonthStartNtpSec(ntpSec: number): number {
  return nextMonthStartUnixSec(Math.floor(ntpSec - UNIX_EPOCH_OFFSET_SEC)) +
    UNIX_EPOCH_OFFSET_SEC;
}

/** NTP seconds (with fraction) of an NTP time. */
export function ntpSecOf(t: NtpTime): number {
  return toFloatSec(t);
}

/** The NTP time at whole NTP second `ntpSec`. */
export function ntpTimeOfSec(ntpSec: number): NtpTime {
  return BigInt(Math.floor(ntpSec)) << 32n;
}

/** What the leap machinery says at one moment. */
export interface LeapStatus {
  /** Leap at the end of the current month: 0 none, 1 insert, 2 delete. */
  pending: 0 | 1 | 2;
  /** NTP seconds of the midnight right after the pending leap, or null. */
  atNtpSec: number | null;
  /**
   * The pending leap during the last day before it, else 0: the leap indicator to send and the
   * kernel's STA_INS/STA_DEL arming.
   */
  armed: 0 | 1 | 2;
  /** Where the pending leap comes from. */
  source: "leapfile" | "servers" | null;
}

const NO_LEAP: LeapStatus = { pending: 0, atNtpSec: null, armed: 0, source: null };

/**
 * The leap state of the system: a leap-seconds table (authoritative up to its expiry) and the
 * survivors' vote (used for a month end the table does not cover), evaluated against the clock.
 *
 * COMPAT: a pending leap is known from the start of its month (from the file) or from the
 * servers' vote, but the leap indicator Horae sends and the kernel bit are only set during the
 * last day before the leap, as ntpd arms its kernel. A leap indicator raised for a whole month
 * makes older clients (and kernels, whose STA_INS acts at the end of the current day) insert the
 * second on the wrong day. Votes are ignored during the first day of a month, so that servers
 * still showing the last leap do not announce another one.
 */
export class LeapSeconds {
  #table: LeapSecondTable | null;
  #vote: 0 | 1 | 2 = 0;
  #status: LeapStatus = NO_LEAP;
  #warnedDay = -1;

  /** Starts with an optional table. */
  constructor(table: LeapSecondTable | null = null) {
    this.#table = table;
  }

  /** The table in use, or null. */
  get table(): LeapSecondTable | null {
    return this.#table;
  }

  /** The status found by the last {@link evaluate}. */
  get status(): LeapStatus {
    return this.#status;
  }

  /** The survivors' vote (see {@link leapVote}). */
  get vote(): 0 | 1 | 2 {
    return this.#vote;
  }

  /** Replaces the table (a reloaded leapfile); call {@link evaluate} afterwards. */
  setTable(table: LeapSecondTable | null): void {
    this.#table = table;
    this.#warnedDay = -1;
  }

  /** Records the survivors' vote; call {@link evaluate} afterwards. */
  setVote(vote: 0 | 1 | 2): void {
    this.#vote = vote;
  }

  /**
   * Recomputes the status at `now`; returns ntpd's events: `leap_armed` when the last day
   * starts, `leap_disarmed` when an armed leap is withdrawn, `leap_event` once it has passed,
   * and (once a day) a stale-values warning while the table is expired or about to expire.
   */
  evaluate(now: NtpTime): Action[] {
    const t = ntpSecOf(now);
    const actions: Action[] = [];
    const before = this.#status;
    const after = this.#compute(t);
    if (before.armed !== 0 && before.atNtpSec !== null && t >= before.atNtpSec) {
      const what = before.armed === LEAP_ADDSECOND ? "inserted" : "deleted";
      const tai = this.#table === null ? null : taiOffsetAt(this.#table, before.atNtpSec);
      actions.push(systemEvent(
        SystemEvent.LEAP,
        `leap_event: leap second ${what}${tai === null ? "" : `, TAI-UTC is now ${tai} s`}`,
      ));
    } else if (before.armed !== 0 && after.armed === 0) {
      actions.push(systemEvent(SystemEvent.DISARMED, "leap_disarmed: leap second withdrawn"));
    }
    if (after.armed !== 0 && (before.armed !== after.armed || before.atNtpSec !== after.atNtpSec)) {
      const at = after.atNtpSec!;
      const what = after.armed === LEAP_ADDSECOND
        ? `insert a leap second at ${isoDate(at - 1)} 23:59:60 UTC`
        : `delete the leap second ${isoDate(at - 1)} 23:59:59 UTC`;
      actions.push(systemEvent(SystemEvent.ARMED, `leap_armed: ${what} (${after.source})`));
    }
    this.#status = after;
    const warning = this.#expiryWarning(t);
    if (warning !== null) actions.push(systemEvent(SystemEvent.LEAPVAL, warning));
    return actions;
  }

  /** When {@link evaluate} must run next to see a change, or null when nothing is due. */
  deadline(now: NtpTime): NtpTime | null {
    const t = ntpSecOf(now);
    const candidates: number[] = [];
    const s = this.#status;
    if (s.atNtpSec !== null) candidates.push(s.atNtpSec - SECONDS_PER_DAY, s.atNtpSec);
    if (this.#table !== null || this.#vote !== 0) {
      // Month ends and the end of a month's first day change what is pending.
      candidates.push(nextMonthStartNtpSec(t), monthStartNtpSec(t) + SECONDS_PER_DAY);
    }
    const table = this.#table;
    if (
      table !== null && table.expiresNtpSec - t < (LEAP_EXPIRY_WARNING_DAYS + 1) * SECONDS_PER_DAY
    ) {
      candidates.push((Math.floor(t / SECONDS_PER_DAY) + 1) * SECONDS_PER_DAY);
    }
    let best: number | null = null;
    for (const c of candidates) if (c > t && (best === null || c < best)) best = c;
    return best === null ? null : ntpTimeOfSec(best);
  }

  #compute(t: number): LeapStatus {
    const monthEnd = nextMonthStartNtpSec(t);
    const table = this.#table;
    let pending: 0 | 1 | 2 = 0;
    let source: LeapStatus["source"] = null;
    if (table !== null) {
      const next = nextLeap(table, t);
      if (next !== null && next.atNtpSec === monthEnd) {
        pending = next.leap;
        source = "leapfile";
      }
    }
    const tableCovers = table !== null && table.expiresNtpSec >= monthEnd;
    const firstDay = t < monthStartNtpSec(t) + SECONDS_PER_DAY;
    if (pending === 0 && !tableCovers && !firstDay && this.#vote !== 0) {
      pending = this.#vote;
      source = "servers";
    }
    if (pending === 0) return NO_LEAP;
    const armed = t >= monthEnd - SECONDS_PER_DAY ? pending : 0;
    return { pending, atNtpSec: monthEnd, armed, source };
  }

  #expiryWarning(t: number): string | null {
    const table = this.#table;
    if (table === null) return null;
    const day = Math.floor(t / SECONDS_PER_DAY);
    if (day === this.#warnedDay) return null;
    const leftSec = table.expiresNtpSec - t;
    if (leftSec >= LEAP_EXPIRY_WARNING_DAYS * SECONDS_PER_DAY) return null;
    this.#warnedDay = day;
    if (leftSec <= 0) {
      return `stale leapsecond values: leapsecond file ('${table.name}') expired ${
        Math.floor(-leftSec / SECONDS_PER_DAY)
      } days ago (on ${isoDate(table.expiresNtpSec)})`;
    }
    return `leapsecond file ('${table.name}'): will expire in less than ${
      Math.ceil(leftSec / SECONDS_PER_DAY)
    } days (on ${isoDate(table.expiresNtpSec)})`;
  }
}

/** "2016-12-31" for NTP seconds. */
function isoDate(ntpSec: number): string {
  return isoTime(ntpSec).slice(0, 10);
}

function isoTime(ntpSec: number): string {
  return isoUtc(Math.floor(ntpSec - UNIX_EPOCH_OFFSET_SEC)) ?? `NTP ${ntpSec}`;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
