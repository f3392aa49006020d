import assert from "node:assert/strict";
import {
  civilFromDays,
  daysFromCivil,
  isoUtc,
  monthStartUnixSec,
  nextMonthStartUnixSec,
} from "./civil_time.ts";

Deno.test("daysFromCivil() and civilFromDays() agree with Date.UTC from 1600 to 2400", () => {
  for (let days = -135_000; days <= 157_000; days += 17) {
    const d = new Date(days * 86_400_000);
    const want = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
    assert.deepEqual(civilFromDays(days), want, `day ${days}`);
    assert.equal(daysFromCivil(want.year, want.month, want.day), days);
  }
});

Deno.test("daysFromCivil() rolls a month past December over, as Date.UTC", () => {
  assert.equal(daysFromCivil(2016, 13, 1), Date.UTC(2017, 0, 1) / 86_400_000);
  assert.equal(daysFromCivil(2016, 0, 1), Date.UTC(2015, 11, 1) / 86_400_000);
  assert.equal(daysFromCivil(2000, 3, 0), Date.UTC(2000, 1, 29) / 86_400_000);
});

Deno.test("monthStartUnixSec() and nextMonthStartUnixSec() bracket the month, leap years too", () => {
  const t = Date.UTC(2016, 11, 31, 23, 59, 59) / 1000;
  assert.equal(monthStartUnixSec(t), Date.UTC(2016, 11, 1) / 1000);
  assert.equal(nextMonthStartUnixSec(t), Date.UTC(2017, 0, 1) / 1000);
  const feb = Date.UTC(2024, 1, 29, 12) / 1000;
  assert.equal(nextMonthStartUnixSec(feb), Date.UTC(2024, 2, 1) / 1000);
  assert.equal(monthStartUnixSec(-1), Date.UTC(1969, 11, 1) / 1000);
});

Deno.test("isoUtc() formats whole seconds as Date.toISOString does, and refuses junk", () => {
  for (const ms of [0, 1_483_228_799_000, 4_102_444_800_000, -86_400_000]) {
    assert.equal(isoUtc(ms / 1000), new Date(ms).toISOString().replace(".000Z", "Z"));
  }
  assert.equal(isoUtc(Number.NaN), null);
  assert.equal(isoUtc(1e15), null);
});
