import assert from "node:assert/strict";
import fc from "fast-check";
import {
  cookieKeyPeriod,
  currentCookieKeyId,
  formatCookieKeys,
  parseCookieKeys,
  planCookieKeys,
} from "./cookie_keys.ts";

const DAY = 86400;
let n = 0;
const newKey = () => new Uint8Array(32).fill(++n & 0xff);

Deno.test("planCookieKeys() creates the current and the next key, then keeps N past ones", () => {
  const t0 = 20_000 * DAY + 5;
  const first = planCookieKeys(null, t0, DAY, 2, newKey);
  assert.equal(first.changed, true);
  assert.equal(first.currentId, 20_000);
  assert.deepEqual(first.keys.keys.map((k) => k.id), [20_000, 20_001]);
  // Same period: nothing to do.
  const same = planCookieKeys(first.keys, t0 + 100, DAY, 2, newKey);
  assert.equal(same.changed, false);
  // Next period: the pre-made key becomes current (unchanged bytes), one more is made.
  const next = planCookieKeys(first.keys, t0 + DAY, DAY, 2, newKey);
  assert.equal(next.changed, true);
  assert.equal(next.currentId, 20_001);
  assert.deepEqual(next.keys.keys[1]!.key, first.keys.keys[1]!.key);
  assert.deepEqual(next.keys.keys.map((k) => k.id), [20_000, 20_001, 20_002]);
  // Five periods on without running: the old keys are all past keeping.
  const later = planCookieKeys(next.keys, t0 + 5 * DAY, DAY, 2, newKey);
  assert.deepEqual(later.keys.keys.map((k) => k.id), [20_005, 20_006]);
  // Run every day: the 2 before the current one, the current one and the next.
  let keys = first.keys;
  for (let d = 1; d <= 5; d++) keys = planCookieKeys(keys, t0 + d * DAY, DAY, 2, newKey).keys;
  assert.deepEqual(keys.keys.map((k) => k.id), [20_003, 20_004, 20_005, 20_006]);
});

Deno.test("planCookieKeys() replaces a file written for another rotation period", () => {
  const hourly = planCookieKeys(null, 1e9, 3600, 3, newKey);
  const daily = planCookieKeys(hourly.keys, 1e9, DAY, 3, newKey);
  assert.equal(daily.changed, true);
  assert.equal(daily.keys.rotateSec, DAY);
  assert.deepEqual(daily.keys.keys.map((k) => k.id), [
    cookieKeyPeriod(1e9, DAY),
    cookieKeyPeriod(1e9, DAY) + 1,
  ]);
});

Deno.test("formatCookieKeys() and parseCookieKeys() round-trip", () => {
  const plan = planCookieKeys(null, 1.7e9, DAY, 7, newKey);
  const text = formatCookieKeys(plan.keys);
  const back = parseCookieKeys(text);
  assert.ok(back.ok);
  assert.deepEqual(back.value, plan.keys);
});

Deno.test("parseCookieKeys() names the line of each problem", () => {
  const hex = "ab".repeat(32);
  const cases: [string, number][] = [
    ["", 1],
    ["something else\n", 1],
    ["horae-nts-cookie-keys 1\n", 2],
    [`horae-nts-cookie-keys 1\nrotate 60\nkey 1 ${hex}\nkey 1 ${hex}\n`, 4],
    [`horae-nts-cookie-keys 1\nrotate 60\nkey 1 ${hex.slice(2)}\n`, 3],
    [`horae-nts-cookie-keys 1\nrotate 0\n`, 2],
    [`horae-nts-cookie-keys 1\nrotate 60\nkey 4294967296 ${hex}\n`, 3],
    [`horae-nts-cookie-keys 1\nrotate 60\nfrobnicate\n`, 3],
  ];
  for (const [text, line] of cases) {
    const r = parseCookieKeys(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.equal(r.line, line, text);
  }
  const many = "horae-nts-cookie-keys 1\nrotate 60\n" +
    Array.from({ length: 65 }, (_, k) => `key ${k} ${hex}`).join("\n");
  assert.equal(parseCookieKeys(many).ok, false);
});

Deno.test("parseCookieKeys() never throws", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      parseCookieKeys(s);
      parseCookieKeys("horae-nts-cookie-keys 1\n" + s);
    }),
    { numRuns: 300, seed: 6, verbose: true },
  );
});

Deno.test("currentCookieKeyId() picks the newest key already in force", () => {
  const keys = planCookieKeys(null, 100 * DAY, DAY, 1, newKey).keys;
  assert.equal(currentCookieKeyId(keys, 100 * DAY + 1), 100);
  assert.equal(currentCookieKeyId(keys, 101 * DAY + 1), 101);
  assert.equal(currentCookieKeyId(keys, 50 * DAY), 100); // clock behind every key: the oldest
  assert.equal(currentCookieKeyId({ rotateSec: DAY, keys: [] }, 0), -1);
});
