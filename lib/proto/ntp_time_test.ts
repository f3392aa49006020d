// Property tests of exact NTP time (RFC 5905 §6): era handling, the 2036 rollover, Unix
// conversions, exact differences and the short format.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addSec,
  diffSec,
  ERA,
  fromTimestamp,
  fromUnix,
  fromUnixNs,
  ONE_SECOND,
  readTimestamp,
  secToShort,
  shortToSec,
  toTimestamp,
  toUnix,
  toUnixNs,
  UNIX_EPOCH_OFFSET_SEC,
  writeTimestamp,
  writeUnixTimestamp,
} from "./ntp_time.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`ntp_time_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);
const FC = { seed: SEED, numRuns: 2000 };

const HALF_ERA = 1n << 63n;
/** Unix second at which era 1 starts: 2036-02-07T06:28:16Z. */
const ROLLOVER_UNIX_SEC = 2 ** 32 - UNIX_EPOCH_OFFSET_SEC;
const NS = 1_000_000_000n;

/** Era-extended times from 8 eras before 1900 to 8 eras after it. */
const timeArb = fc.bigInt({ min: -8n * ERA, max: 8n * ERA });
/** Times within a few years of the 2036 rollover, where era mistakes show. */
const nearRolloverArb = fc.bigInt({ min: ERA - (10n << 57n), max: ERA + (10n << 57n) });
/** Offsets strictly inside half an era. */
const withinHalfEraArb = fc.bigInt({ min: -HALF_ERA + 1n, max: HALF_ERA - 1n });

Deno.test("fromTimestamp(toTimestamp(t), ref) === t whenever |t − ref| < 2^63 units", () => {
  fc.assert(
    fc.property(timeArb, withinHalfEraArb, (ref, delta) => {
      const t = ref + delta;
      assert.equal(fromTimestamp(toTimestamp(t), ref), t);
    }),
    FC,
  );
  fc.assert(
    fc.property(nearRolloverArb, nearRolloverArb, (t, ref) => {
      assert.equal(fromTimestamp(toTimestamp(t), ref), t);
    }),
    FC,
  );
});

Deno.test("fromTimestamp() resolves exactly half an era to the earlier side", () => {
  const ref = ERA + 12345n;
  assert.equal(fromTimestamp(toTimestamp(ref - HALF_ERA), ref), ref - HALF_ERA);
  assert.equal(fromTimestamp(toTimestamp(ref + HALF_ERA), ref), ref - HALF_ERA);
});

Deno.test("fromTimestamp() always lands within half an era of the reference", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: ERA - 1n }), timeArb, (ts, ref) => {
      const t = fromTimestamp(ts, ref);
      assert.equal(toTimestamp(t), ts);
      assert.ok(t - ref >= -HALF_ERA && t - ref < HALF_ERA);
    }),
    FC,
  );
});

Deno.test("toTimestamp() wraps to zero at the 2036 rollover (era 0 → 1)", () => {
  assert.equal(fromUnix(ROLLOVER_UNIX_SEC), ERA);
  assert.equal(new Date(ROLLOVER_UNIX_SEC * 1000).toISOString(), "2036-02-07T06:28:16.000Z");
  assert.equal(toTimestamp(ERA), 0n);
  assert.equal(toTimestamp(ERA - 1n), ERA - 1n);
  assert.equal(toTimestamp(ERA + ONE_SECOND), ONE_SECOND);
  // A reading just before the rollover places a post-rollover wire timestamp in era 1.
  const justBefore = fromUnix(ROLLOVER_UNIX_SEC - 1);
  assert.equal(
    fromTimestamp(toTimestamp(ERA + 5n * ONE_SECOND), justBefore),
    ERA + 5n * ONE_SECOND,
  );
  // And a reading just after places a pre-rollover timestamp back in era 0.
  const justAfter = fromUnix(ROLLOVER_UNIX_SEC + 1);
  assert.equal(fromTimestamp(ERA - ONE_SECOND, justAfter), ERA - ONE_SECOND);
  assert.equal(toUnix(ERA).sec, BigInt(ROLLOVER_UNIX_SEC));
});

Deno.test("diffSec() across the 2036 rollover equals the difference of the Unix times", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1e8, max: 1e8 }),
      fc.integer({ min: -1e8, max: 1e8 }),
      (aSec, bSec) => {
        const a = fromUnix(ROLLOVER_UNIX_SEC + aSec);
        const b = fromUnix(ROLLOVER_UNIX_SEC + bSec);
        assert.equal(diffSec(a, b), aSec - bSec);
        // The same through wire timestamps, recovered with a reference on either side.
        const ref = fromUnix(ROLLOVER_UNIX_SEC);
        const a2 = fromTimestamp(toTimestamp(a), ref);
        const b2 = fromTimestamp(toTimestamp(b), ref);
        assert.equal(diffSec(a2, b2), aSec - bSec);
      },
    ),
    FC,
  );
});

Deno.test("toUnixNs(fromUnixNs(ns)) === ns on whole nanoseconds, in every era", () => {
  // ±2^66 ns is about ±2300 years around 1970.
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 66n), max: 1n << 66n }), (ns) => {
      assert.equal(toUnixNs(fromUnixNs(ns)), ns);
    }),
    FC,
  );
});

Deno.test("fromUnix(sec, nsec) equals fromUnixNs(sec·10^9 + nsec), also for nsec outside [0, 10^9)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.integer({ min: -3e9, max: 3e9 }),
      (sec, nsec) => {
        const t = fromUnix(sec, nsec);
        assert.equal(t, fromUnixNs(BigInt(sec) * NS + BigInt(nsec)));
        assert.equal(toUnixNs(t), BigInt(sec) * NS + BigInt(nsec));
      },
    ),
    FC,
  );
});

Deno.test("fromUnix() rounds to the nearest 2^-32 s", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }), (ns) => {
      const t = fromUnixNs(ns);
      const exactTimes1e9 = (ns + BigInt(UNIX_EPOCH_OFFSET_SEC) * NS) * ONE_SECOND; // t·10^9, exactly
      const err = t * NS - exactTimes1e9; // rounding error in units of 10^-9 · 2^-32 s
      assert.ok(2n * err <= NS && 2n * err >= -NS, `error ${err}`);
    }),
    FC,
  );
});

Deno.test("toUnix() splits into seconds and nanoseconds in [0, 10^9)", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 66n), max: 1n << 66n }), (ns) => {
      const { sec, nsec } = toUnix(fromUnixNs(ns));
      assert.ok(nsec >= 0 && nsec < 1e9);
      assert.equal(sec * NS + BigInt(nsec), ns);
    }),
    FC,
  );
});

Deno.test("diffSec() is exact for differences below 2^53 units", () => {
  const limit = (1n << 53n) - 1n;
  fc.assert(
    fc.property(timeArb, fc.bigInt({ min: -limit, max: limit }), (b, d) => {
      assert.equal(diffSec(b + d, b), Number(d) / 2 ** 32);
      assert.equal(diffSec(b, b + d), Number(-d) / 2 ** 32);
    }),
    FC,
  );
});

Deno.test("diffSec() is correctly rounded for larger differences", () => {
  fc.assert(
    fc.property(timeArb, timeArb, (a, b) => {
      const d = a - b;
      const got = diffSec(a, b);
      // |got − d/2^32| must be within half an ulp of the result (plus the error of this check).
      const gotFixed = BigInt(Math.round(got * 2 ** 20)) << 12n; // got in units, to 2^-20 s
      const ulpUnits = 2 ** 32 * Math.max(Number.EPSILON * Math.abs(got), 2 ** -52);
      assert.ok(Math.abs(Number(gotFixed - d)) <= ulpUnits + 2 ** 12, `${a} − ${b}`);
    }),
    FC,
  );
});

Deno.test("addSec(t, diffSec(u, t)) === u for differences below 2^53 units", () => {
  const limit = (1n << 53n) - 1n;
  fc.assert(
    fc.property(timeArb, fc.bigInt({ min: -limit, max: limit }), (t, d) => {
      assert.equal(addSec(t, diffSec(t + d, t)), t + d);
    }),
    FC,
  );
});

Deno.test("secToShort() and shortToSec() round-trip the NTP short format", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (short) => {
      assert.equal(secToShort(shortToSec(short)), short);
    }),
    FC,
  );
  fc.assert(
    fc.property(fc.double({ min: 0, max: 65535.99, noNaN: true }), (sec) => {
      assert.ok(Math.abs(shortToSec(secToShort(sec)) - sec) <= 2 ** -17);
    }),
    FC,
  );
  assert.equal(secToShort(1.5), 0x0001_8000);
  assert.equal(secToShort(1e9), 0xffffffff);
  assert.equal(secToShort(-1), 0);
  assert.equal(secToShort(Number.NaN), 0);
  assert.equal(shortToSec(-1), 0xffffffff / 65536);
});

Deno.test("writeTimestamp() and readTimestamp() keep the low 64 bits big-endian", () => {
  const buf = new Uint8Array(12);
  const view = new DataView(buf.buffer);
  fc.assert(
    fc.property(timeArb, (t) => {
      writeTimestamp(view, 4, t);
      assert.equal(readTimestamp(view, 4), toTimestamp(t));
    }),
    FC,
  );
  writeTimestamp(view, 0, ERA + 0x0102_0304_0506_0708n);
  assert.deepEqual([...buf.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("writeUnixTimestamp() is within one unit of the exact conversion, across 2036", () => {
  const buf = new Uint8Array(8);
  const view = new DataView(buf.buffer);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: ROLLOVER_UNIX_SEC + 2 ** 31 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      (sec, nsec) => {
        writeUnixTimestamp(view, 0, sec, nsec);
        const exact = toTimestamp(fromUnix(sec, nsec));
        const got = readTimestamp(view, 0);
        const diff = (got - exact + ERA) % ERA; // modulo one era, as on the wire
        assert.ok(diff <= 1n || diff === ERA - 1n, `${sec}.${nsec}: ${got} vs ${exact}`);
      },
    ),
    FC,
  );
});
