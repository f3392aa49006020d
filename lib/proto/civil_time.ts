// UTC calendar arithmetic for the core (proleptic Gregorian calendar, no leap seconds, as Unix
// time counts): dates to day numbers and back, and ISO 8601 text, without the runtime's Date.

/** Seconds in a day. */
const DAY_SEC = 86_400;

/**
 * Days from 1970-01-01 to `year`-`month`-`day` (month 1–12; a day or month outside its range
 * rolls over, as in `Date.UTC`). Valid for any year a float64 day count holds.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Normalise the month, then count from March so that the leap day ends a (shifted) year.
  const m0 = month - 1;
  const y = year + Math.floor(m0 / 12);
  const m = ((m0 % 12) + 12) % 12 + 1;
  const shiftedYear = m <= 2 ? y - 1 : y;
  const era = Math.floor(shiftedYear / 400);
  const yearOfEra = shiftedYear - era * 400; // 0..399
  const monthFromMarch = (m + 9) % 12; // March = 0 ... February = 11
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) +
    dayOfYear;
  // 719468: days from 0000-03-01 to 1970-01-01.
  return era * 146_097 + dayOfEra - 719_468;
}

/** A calendar date. */
export interface CivilDate {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
}

/** The date `days` after 1970-01-01 (negative: before). */
export function civilFromDays(days: number): CivilDate {
  const z = Math.floor(days) + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097; // 0..146096
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra -
    (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Unix seconds of 00:00:00 UTC on the first day of the month containing Unix second `sec`. */
export function monthStartUnixSec(sec: number): number {
  const d = civilFromDays(Math.floor(sec / DAY_SEC));
  return daysFromCivil(d.year, d.month, 1) * DAY_SEC;
}

/** Unix seconds of 00:00:00 UTC on the first day of the month after the one containing `sec`. */
export function nextMonthStartUnixSec(sec: number): number {
  const d = civilFromDays(Math.floor(sec / DAY_SEC));
  return daysFromCivil(d.year, d.month + 1, 1) * DAY_SEC;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * "2016-12-31T23:59:60Z"-style text of whole Unix seconds (no fraction; years 0–9999), or null
 * when `sec` is not a finite number in that range.
 */
export function isoUtc(sec: number): string | null {
  if (!Number.isFinite(sec)) return null;
  const s = Math.floor(sec);
  const days = Math.floor(s / DAY_SEC);
  const d = civilFromDays(days);
  if (d.year < 0 || d.year > 9999) return null;
  const inDay = s - days * DAY_SEC;
  return `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}T${
    pad(Math.floor(inDay / 3600), 2)
  }:${pad(Math.floor(inDay / 60) % 60, 2)}:${pad(inDay % 60, 2)}Z`;
}
