// Tests for the leap-seconds file parser (hash check against node:crypto's SHA-1), the leap
// schedule (pending at month end, armed on the last day) and the survivors' vote.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  LeapSeconds,
  type LeapSecondTable,
  leapVote,
  monthStartNtpSec,
  nextLeap,
  nextMonthStartNtpSec,
  ntpSecOf,
  ntpTimeOfSec,
  parseLeapSecondsList,
  taiOffsetAt,
} from "./leap_seconds.ts";
import { fromUnix, UNIX_EPOCH_OFFSET_SEC } from "./ntp_time.ts";
import { SystemEvent } from "./events.ts";
import type { Action } from "./events.ts";

const sha1 = (d: Uint8Array) => new Uint8Array(createHash("sha1").update(d).digest());

/** The data of the IERS/NIST file (public domain) as tzdata ships it, hash included. */
const DATA = `2272060800 10 # 1 Jan 1972
2287785600 11 # 1 Jul 1972
2303683200 12 # 1 Jan 1973
2335219200 13 # 1 Jan 1974
2366755200 14 # 1 Jan 1975
2398291200 15 # 1 Jan 1976
2429913600 16 # 1 Jan 1977
2461449600 17 # 1 Jan 1978
2492985600 18 # 1 Jan 1979
2524521600 19 # 1 Jan 1980
2571782400 20 # 1 Jul 1981
2603318400 21 # 1 Jul 1982
2634854400 22 # 1 Jul 1983
2698012800 23 # 1 Jul 1985
2776982400 24 # 1 Jan 1988
2840140800 25 # 1 Jan 1990
2871676800 26 # 1 Jan 1991
2918937600 27 # 1 Jul 1992
2950473600 28 # 1 Jul 1993
2982009600 29 # 1 Jul 1994
3029443200 30 # 1 Jan 1996
3076704000 31 # 1 Jul 1997
3124137600 32 # 1 Jan 1999
3345062400 33 # 1 Jan 2006
3439756800 34 # 1 Jan 2009
3550089600 35 # 1 Jul 2012
3644697600 36 # 1 Jul 2015
3692217600 37 # 1 Jan 2017
`;
const REAL = `#\tLIST OF LEAP SECONDS (excerpt of leap-seconds.list)
#
#$\t 3960835200
#
#\tFile expires on 28 June 2026
#@\t3991593600
#
${DATA.replaceAll(" ", "\t")}#
#h\t49db2447 571e5e1b 2f002a53 9c8da8e4 39b8e49e
`;

/** NTP seconds of a UTC date-time. */
function ntp(iso: string): number {
  return Date.parse(iso) / 1000 + UNIX_EPOCH_OFFSET_SEC;
}

function table(): LeapSecondTable {
  const r = parseLeapSecondsList(REAL, { sha1, name: "leap-seconds.list" });
  assert.ok(r.ok, r.ok ? "" : r.reason);
  return r.table;
}

const codes = (a: Action[]) => a.map((x) => x.type === "event" ? x.code : -1);
const messages = (a: Action[]) => a.map((x) => x.type === "event" ? x.message : "");

Deno.test("parseLeapSecondsList() reads the IERS file and verifies its SHA-1", () => {
  const t = table();
  assert.equal(t.updatedNtpSec, 3960835200);
  assert.equal(t.expiresNtpSec, 3991593600);
  assert.equal(t.entries.length, 28);
  assert.deepEqual(t.entries[0], { ntpSec: 2272060800, taiOffsetSec: 10 });
  assert.deepEqual(t.entries.at(-1), { ntpSec: 3692217600, taiOffsetSec: 37 });
  assert.equal(t.hashVerified, true);
});

/** The system's leap-seconds.list (tzdata), or null: the test below is then reported ignored. */
const systemList = (() => {
  try {
    return Deno.readTextFileSync("/usr/share/zoneinfo/leap-seconds.list");
  } catch {
    return null;
  }
})();

Deno.test("parseLeapSecondsList() reads the system's leap-seconds.list when there is one", {
  ignore: systemList === null,
}, () => {
  const r = parseLeapSecondsList(systemList!, { sha1 });
  assert.ok(r.ok, r.ok ? "" : r.reason);
  assert.equal(r.table.hashVerified, true);
  assert.ok(r.table.entries.length >= 28);
});

Deno.test("parseLeapSecondsList() rejects a file whose data does not match #h", () => {
  const bad = REAL.replace("3960835200", "3960835201");
  const r = parseLeapSecondsList(bad, { sha1 });
  assert.equal(r.ok, false);
  assert.match(r.ok ? "" : r.reason, /^leap-seconds\.list: hash mismatch: #h says 49db2447 /);
  // Changing the expiry date also breaks the hash.
  const late = parseLeapSecondsList(REAL.replace("3991593600", "4007404800"), { sha1 });
  assert.match(late.ok ? "" : late.reason, /hash mismatch/);
});

Deno.test("parseLeapSecondsList() compares #h words as numbers (leading zeros may be missing)", () => {
  // A stand-in digest whose first word has leading zero bytes.
  const digest = new Uint8Array(20);
  digest.set([0, 0, 0x12, 0x34, 0, 0, 0, 1]);
  const text = REAL.replace(/#h.*\n/, "#h 1234 1 0 0 0\n");
  const r = parseLeapSecondsList(text, { sha1: () => digest });
  assert.ok(r.ok, r.ok ? "" : r.reason);
  const padded = parseLeapSecondsList(text.replace("#h 1234 1", "#h 00001234 00000001"), {
    sha1: () => digest,
  });
  assert.ok(padded.ok);
});

Deno.test("parseLeapSecondsList() needs #h unless allowed, and reports hashVerified", () => {
  const noHash = REAL.replace(/#h.*\n/, "");
  const r = parseLeapSecondsList(noHash, { sha1 });
  assert.deepEqual(r, { ok: false, reason: "leap-seconds.list: no #h (SHA-1 hash) line" });
  const allowed = parseLeapSecondsList(noHash, { sha1, allowMissingHash: true });
  assert.ok(allowed.ok);
  assert.equal(allowed.table.hashVerified, false);
});

Deno.test("parseLeapSecondsList() gives a line-numbered reason for malformed files", () => {
  const cases: [string, RegExp][] = [
    [REAL.replace("#$\t 3960835200", "#$ soon"), /line 3: #\$ \(last update\) needs NTP seconds/],
    [REAL.replace(/#@.*\n/, ""), /no #@ \(expiration\) line/],
    [REAL.replace("2287785600\t11", "2287785600\t13"), /line 9: TAI offset changes by other/],
    [REAL.replace("2287785600\t11", "2272060800\t11"), /line 9: entries out of time order/],
    [REAL.replace("2287785600\t11", "2287785601\t11"), /line 9: 1972-07-01T00:00:01Z is not/],
    [REAL.replace("2287785600\t11", "2287785600 11 12"), /line 9: expected "NTP-seconds TAI/],
    [REAL.replace("#h\t49db2447", "#h\tzz"), /#h needs five hexadecimal words/],
    [REAL + "#$ 1\n", /second #\$ \(last update\) line/],
    [REAL.replace("3991593600", "3900000000"), /expiration 2023-08-02 is not after/],
    ["", /no #\$ \(last update\) line/],
  ];
  for (const [text, re] of cases) {
    const r = parseLeapSecondsList(text, { sha1, name: "f" });
    assert.equal(r.ok, false, String(re));
    assert.match(r.ok ? "" : r.reason, re);
    assert.ok(!r.ok && r.reason.startsWith("f: "));
  }
  const huge = parseLeapSecondsList("#".repeat(2_000_000), { sha1 });
  assert.match(huge.ok ? "" : huge.reason, /file too large/);
  const throwing = parseLeapSecondsList(REAL, {
    sha1: () => {
      throw new Error("no digest");
    },
  });
  assert.match(throwing.ok ? "" : throwing.reason, /cannot compute SHA-1: no digest/);
});

Deno.test("parseLeapSecondsList() never throws on arbitrary or mangled text (property)", () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  // deno-lint-ignore no-console
  console.log(`parseLeapSecondsList: fast-check seed ${seed}`);
  const lines = REAL.split("\n");
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 400 }),
        fc.tuple(fc.nat(lines.length - 1), fc.string({ maxLength: 30 })).map(([i, s]) =>
          lines.map((l, k) => k === i ? s : l).join("\n")
        ),
      ),
      (text) => {
        const r = parseLeapSecondsList(text, { sha1 });
        assert.equal(typeof r.ok, "boolean");
        if (!r.ok) assert.ok(r.reason.length > 0);
      },
    ),
    { seed, numRuns: 300 },
  );
});

Deno.test("taiOffsetAt() and nextLeap() read the table", () => {
  const t = table();
  assert.equal(taiOffsetAt(t, ntp("1971-12-31T00:00:00Z")), null);
  assert.equal(taiOffsetAt(t, ntp("2016-12-31T23:59:59Z")), 36);
  assert.equal(taiOffsetAt(t, ntp("2017-01-01T00:00:00Z")), 37);
  assert.deepEqual(nextLeap(t, ntp("2016-06-01T00:00:00Z")), {
    atNtpSec: 3692217600,
    leap: 1,
    taiOffsetSec: 37,
  });
  assert.equal(nextLeap(t, ntp("2017-01-01T00:00:00Z")), null);
});

Deno.test("leapVote() needs more than half of the survivors", () => {
  assert.equal(leapVote([]), 0);
  assert.equal(leapVote([1, 1, 0]), 1);
  assert.equal(leapVote([1, 0]), 0, "half is not a majority");
  assert.equal(leapVote([2, 2, 2, 1]), 2);
  assert.equal(leapVote([1, 2, 3]), 0);
  assert.equal(leapVote([3, 3, 1]), 0, "unsynchronised indicators are not votes");
});

Deno.test("monthStartNtpSec() / nextMonthStartNtpSec() find UTC month boundaries", () => {
  const mid = ntp("2016-12-15T12:00:00Z");
  assert.equal(monthStartNtpSec(mid), ntp("2016-12-01T00:00:00Z"));
  assert.equal(nextMonthStartNtpSec(mid), ntp("2017-01-01T00:00:00Z"));
  assert.equal(nextMonthStartNtpSec(ntp("2016-02-29T23:59:59Z")), ntp("2016-03-01T00:00:00Z"));
  assert.equal(ntpSecOf(ntpTimeOfSec(3692217600) + (1n << 31n)), 3692217600.5);
});

Deno.test("LeapSeconds from the file: pending in the month, armed on the last day, then done", () => {
  const ls = new LeapSeconds(table());
  assert.deepEqual(ls.evaluate(fromUnix(Date.parse("2016-11-20T00:00:00Z") / 1000)), []);
  assert.equal(ls.status.pending, 0);
  const dec = fromUnix(Date.parse("2016-12-05T00:00:00Z") / 1000);
  assert.deepEqual(ls.evaluate(dec), []);
  assert.deepEqual(ls.status, {
    pending: 1,
    atNtpSec: 3692217600,
    armed: 0,
    source: "leapfile",
  });
  // The next thing to happen is the start of the last day.
  assert.equal(ls.deadline(dec), ntpTimeOfSec(3692217600 - 86400));
  const lastDay = fromUnix(Date.parse("2016-12-31T00:00:00Z") / 1000);
  const armed = ls.evaluate(lastDay);
  assert.deepEqual(codes(armed), [SystemEvent.ARMED]);
  assert.equal(
    messages(armed)[0],
    "leap_armed: insert a leap second at 2016-12-31 23:59:60 UTC (leapfile)",
  );
  assert.equal(ls.status.armed, 1);
  assert.deepEqual(ls.evaluate(lastDay), [], "armed once");
  const after = ls.evaluate(fromUnix(Date.parse("2017-01-01T00:00:01Z") / 1000));
  assert.deepEqual(codes(after), [SystemEvent.LEAP]);
  assert.equal(messages(after)[0], "leap_event: leap second inserted, TAI-UTC is now 37 s");
  assert.equal(ls.status.armed, 0);
});

Deno.test("LeapSeconds follows the servers' vote only where the table says nothing", () => {
  const t = table();
  const covered = new LeapSeconds(t);
  covered.setVote(1);
  covered.evaluate(fromUnix(Date.parse("2025-12-31T06:00:00Z") / 1000));
  assert.equal(covered.status.armed, 0, "the file covers December 2025: no leap");
  const ls = new LeapSeconds(null);
  ls.setVote(1);
  ls.evaluate(fromUnix(Date.parse("2030-06-01T12:00:00Z") / 1000));
  assert.equal(ls.status.pending, 0, "votes are ignored on the first day of a month");
  ls.evaluate(fromUnix(Date.parse("2030-06-10T00:00:00Z") / 1000));
  assert.deepEqual(ls.status, {
    pending: 1,
    atNtpSec: ntp("2030-07-01T00:00:00Z"),
    armed: 0,
    source: "servers",
  });
  const armed = ls.evaluate(fromUnix(Date.parse("2030-06-30T00:00:05Z") / 1000));
  assert.deepEqual(codes(armed), [SystemEvent.ARMED]);
  ls.setVote(0);
  const gone = ls.evaluate(fromUnix(Date.parse("2030-06-30T10:00:00Z") / 1000));
  assert.deepEqual(codes(gone), [SystemEvent.DISARMED]);
  assert.equal(ls.status.pending, 0);
  // Past the file's expiry the vote counts again.
  const expired = new LeapSeconds(t);
  expired.setVote(2);
  const acts = expired.evaluate(fromUnix(Date.parse("2026-06-30T01:00:00Z") / 1000));
  assert.equal(expired.status.armed, 2);
  assert.ok(messages(acts).some((m) => m.includes("delete the leap second 2026-06-30 23:59:59")));
});

Deno.test("LeapSeconds warns once a day while the file is about to expire or has expired", () => {
  const ls = new LeapSeconds(table());
  assert.deepEqual(ls.evaluate(fromUnix(Date.parse("2026-01-10T00:00:00Z") / 1000)), []);
  const soon = ls.evaluate(fromUnix(Date.parse("2026-06-10T08:00:00Z") / 1000));
  assert.deepEqual(codes(soon), [SystemEvent.LEAPVAL]);
  assert.equal(
    messages(soon)[0],
    "leapsecond file ('leap-seconds.list'): will expire in less than 18 days (on 2026-06-28)",
  );
  assert.deepEqual(ls.evaluate(fromUnix(Date.parse("2026-06-10T20:00:00Z") / 1000)), []);
  const stale = ls.evaluate(fromUnix(Date.parse("2026-07-03T00:00:00Z") / 1000));
  assert.match(messages(stale)[0] ?? "", /^stale leapsecond values: .* expired 5 days ago/);
});
