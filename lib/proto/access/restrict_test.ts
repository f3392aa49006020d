// Tests of the restrict list: most specific match, defaults per family, port conditions, own
// addresses, merging, non-contiguous masks, and agreement with a plain linear reference.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ipWordsOf, parseIp } from "../ip.ts";
import {
  formatRestrictEntry,
  RES_IGNORE,
  RES_INTERFACE,
  RES_KOD,
  RES_LIMITED,
  RES_NOQUERY,
  RES_NOSERVE,
  RES_NOTRUST,
  RES_VERSION,
  RESTRICT_FLAGS,
  restrictFlagNames,
  RestrictList,
  restrictWords,
} from "./restrict.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`restrict_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

function flagsFor(list: RestrictList, addr: string, port = 40000): number {
  const w = ipWordsOf(addr);
  assert.ok(w, addr);
  return list.lookup(w, port);
}

function add(list: RestrictList, addr: string, mask: string | number | null, ...f: string[]) {
  assert.equal(list.addRule(addr, mask, f), null);
}

Deno.test("RestrictList starts with a flagless default entry per family", () => {
  const list = new RestrictList();
  assert.equal(list.size, 2);
  assert.equal(flagsFor(list, "192.0.2.1"), 0);
  assert.equal(flagsFor(list, "2001:db8::1"), 0);
  assert.deepEqual(list.entries().map(formatRestrictEntry), [
    "0.0.0.0 mask 0.0.0.0",
    ":: mask ::",
  ]);
});

Deno.test("RestrictList: the default of each family is separate (-4 / -6 default)", () => {
  const list = new RestrictList();
  add(list, "0.0.0.0", "0.0.0.0", "ignore");
  add(list, "::", "::", "noserve", "kod");
  assert.equal(flagsFor(list, "10.1.1.1"), RES_IGNORE);
  assert.equal(flagsFor(list, "::1"), RES_NOSERVE | RES_KOD);
  // An IPv4 peer on a dual-stack socket arrives v4-mapped and is judged by the IPv4 rules.
  assert.equal(flagsFor(list, "::ffff:10.1.1.1"), RES_IGNORE);
  assert.equal(list.size, 2, "default lines merge into the built-in defaults");
});

Deno.test("RestrictList: the most specific match wins, whatever the order of the lines", () => {
  const lines: [string, string | null, string[]][] = [
    ["192.0.2.7", null, ["noquery"]],
    ["0.0.0.0", "0.0.0.0", ["ignore"]],
    ["192.0.2.0", "255.255.255.0", ["noserve"]],
    ["192.0.0.0", "255.255.0.0", ["kod", "limited"]],
  ];
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
    const list = new RestrictList();
    for (const i of order) {
      const [a, m, f] = lines[i]!;
      add(list, a, m, ...f);
    }
    assert.equal(flagsFor(list, "192.0.2.7"), RES_NOQUERY, "host");
    assert.equal(flagsFor(list, "192.0.2.8"), RES_NOSERVE, "/24");
    assert.equal(flagsFor(list, "192.0.3.1"), RES_KOD | RES_LIMITED, "/16");
    assert.equal(flagsFor(list, "198.51.100.1"), RES_IGNORE, "default");
    assert.equal(list.matched?.prefix.prefixLength, 0);
  }
});

Deno.test("RestrictList: IPv6 prefixes of any length, by mask or by prefix length", () => {
  const list = new RestrictList();
  add(list, "2001:db8::", 32, "noserve");
  add(list, "2001:db8:1::", "ffff:ffff:ffff::", "noquery");
  add(list, "2001:db8:1:0:8000::", 65, "version");
  add(list, "::1", null, "notrust");
  assert.equal(flagsFor(list, "2001:db8:2::1"), RES_NOSERVE);
  assert.equal(flagsFor(list, "2001:db8:1::1"), RES_NOQUERY);
  assert.equal(flagsFor(list, "2001:db8:1:0:8000::9"), RES_VERSION);
  assert.equal(flagsFor(list, "2001:db8:1:0:7fff::9"), RES_NOQUERY);
  assert.equal(flagsFor(list, "::1"), RES_NOTRUST);
  assert.equal(flagsFor(list, "::2"), 0);
  assert.equal(flagsFor(list, "2001:db9::"), 0);
});

Deno.test("RestrictList: same address and mask merge their flags (ntp.conf(5))", () => {
  const list = new RestrictList();
  add(list, "10.0.0.0", 8, "kod");
  add(list, "10.0.0.0", "255.0.0.0", "limited");
  add(list, "10.1.2.3", 8, "noquery"); // host bits are cleared: the same entry
  assert.equal(list.size, 3);
  assert.equal(flagsFor(list, "10.9.9.9"), RES_KOD | RES_LIMITED | RES_NOQUERY);
});

Deno.test("RestrictList: ntpport matches source port 123 only and is more specific", () => {
  const list = new RestrictList();
  add(list, "192.0.2.1", null, "noquery");
  add(list, "192.0.2.1", null, "ntpport", "ignore");
  add(list, "192.0.2.0", 24, "non-ntpport", "noserve");
  assert.equal(flagsFor(list, "192.0.2.1", 123), RES_IGNORE);
  assert.equal(flagsFor(list, "192.0.2.1", 50000), RES_NOQUERY);
  assert.equal(flagsFor(list, "192.0.2.2", 50000), RES_NOSERVE, "non-ntpport");
  assert.equal(flagsFor(list, "192.0.2.2", 123), 0, "non-ntpport does not match 123");
  // Both modifiers on one line: every port.
  const both = restrictWords(["ntpport", "non-ntpport", "kod"]);
  assert.deepEqual(both, { ok: true, flags: RES_KOD, match: null });
});

Deno.test("RestrictList: own addresses ignore the daemon's own port only", () => {
  const list = new RestrictList();
  add(list, "127.0.0.1", null, "noquery");
  assert.equal(list.addOwnAddress("127.0.0.1", 12300), null);
  assert.equal(list.addOwnAddress("::1"), null);
  assert.equal(flagsFor(list, "127.0.0.1", 12300), RES_IGNORE | RES_INTERFACE);
  assert.equal(flagsFor(list, "127.0.0.1", 40000), RES_NOQUERY, "a local client is served");
  assert.equal(flagsFor(list, "::1", 123), RES_IGNORE | RES_INTERFACE);
  assert.equal(flagsFor(list, "::1", 124), 0);
  assert.equal(list.matched?.match, null);
  assert.ok(list.entries().some((e) => e.match === "own" && e.port === 12300));
  list.clearOwnAddresses();
  assert.equal(flagsFor(list, "127.0.0.1", 12300), RES_NOQUERY);
  assert.notEqual(list.addOwnAddress("127.0.0.1", 0), null);
  assert.notEqual(list.addOwnAddress("nonsense"), null);
});

Deno.test("RestrictList: a non-contiguous mask obeys the list order against prefixes", () => {
  const list = new RestrictList();
  add(list, "10.0.0.5", "255.0.0.255", "noserve"); // any 10.x.y.5
  add(list, "10.1.0.0", 16, "noquery");
  add(list, "10.1.2.0", 24, "version");
  // 10.1.2.5: entries 10.0.0.5/255.0.0.255, 10.1.0.0/16, 10.1.2.0/24 match; 10.1.2.0 sorts last.
  assert.equal(flagsFor(list, "10.1.2.5"), RES_VERSION);
  // 10.1.3.5: 10.0.0.5 vs 10.1.0.0 — the greater address (10.1.0.0) comes later and wins.
  assert.equal(flagsFor(list, "10.1.3.5"), RES_NOQUERY);
  assert.equal(flagsFor(list, "10.2.3.5"), RES_NOSERVE);
  assert.equal(flagsFor(list, "10.2.3.6"), 0);
});

Deno.test("RestrictList refuses bad rules with a reason", () => {
  const list = new RestrictList();
  assert.match(list.addRule("10.0.0.1", null, ["bogus"]) ?? "", /unknown restrict flag/);
  assert.notEqual(list.addRule("host.example", null, []), null);
  assert.notEqual(list.addRule("10.0.0.1", "ffff::", []), null);
  assert.notEqual(list.addRule("10.0.0.1", 33, []), null);
  assert.equal(list.size, 2);
});

Deno.test("restrictFlagNames() lists every flag's word back", () => {
  const words = RESTRICT_FLAGS.filter((f) => f !== "ntpport" && f !== "non-ntpport");
  const r = restrictWords(words);
  assert.ok(r.ok);
  assert.deepEqual(restrictFlagNames(r.flags), words);
  const bits = words.map((w) => {
    const one = restrictWords([w]);
    assert.ok(one.ok);
    return one.flags;
  });
  assert.equal(new Set(bits).size, words.length, "one distinct bit per flag");
});

Deno.test("RestrictList.needsMonitor is true once limited or kod is used", () => {
  const list = new RestrictList();
  assert.equal(list.needsMonitor, false);
  add(list, "10.0.0.0", 8, "noquery");
  assert.equal(list.needsMonitor, false);
  add(list, "10.0.0.0", 8, "kod");
  assert.equal(list.needsMonitor, true);
});

/** The definition, computed the slow way: the last match in the sorted list. */
function linearLookup(list: RestrictList, addr: string, port: number): number {
  const w = ipWordsOf(addr)!;
  const bytes = w.toBytes();
  let flags = 0;
  for (const e of list.entries()) {
    if (e.prefix.ip.family !== w.family) continue;
    if (!e.prefix.mask.every((m, k) => (bytes[k]! & m) === e.prefix.ip.bytes[k])) continue;
    if (e.match === "ntpport" && port !== 123) continue;
    if (e.match === "non-ntpport" && port === 123) continue;
    if (e.match === "own" && port !== e.port) continue;
    flags = e.flags;
  }
  return flags;
}

Deno.test("RestrictList.lookup() equals the last match of the sorted list (property)", () => {
  const octet = fc.integer({ min: 0, max: 3 }); // few values, so rules overlap
  const v4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
  const mask = fc.oneof(
    fc.integer({ min: 0, max: 32 }),
    fc.constantFrom("255.0.255.0", "0.255.0.255", "255.255.0.255"),
  );
  const flag = fc.constantFrom("kod", "limited", "noquery", "noserve", "version", "ignore");
  const modifier = fc.constantFrom([], ["ntpport"], ["non-ntpport"]);
  const rule = fc.tuple(v4, mask, fc.array(flag, { maxLength: 2 }), modifier);
  fc.assert(
    fc.property(
      fc.array(rule, { maxLength: 12 }),
      fc.array(fc.tuple(v4, fc.constantFrom(123, 5000)), { minLength: 1, maxLength: 8 }),
      (rules, probes) => {
        const list = new RestrictList();
        for (const [a, m, f, mod] of rules) assert.equal(list.addRule(a, m, [...f, ...mod]), null);
        for (const [a, port] of probes) {
          assert.equal(flagsFor(list, a, port), linearLookup(list, a, port), `${a}:${port}`);
        }
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

Deno.test("RestrictList.fromEntries() rebuilds the same list from plain data (for server threads)", () => {
  const list = new RestrictList();
  add(list, "10.0.0.0", 8, "kod", "limited");
  add(list, "10.0.0.5", "255.0.255.255", "noserve");
  const ip = parseIp("2001:db8::");
  assert.ok(ip.ok);
  assert.equal(list.add(ip.ip, 32, RES_NOQUERY, "ntpport"), null);
  assert.equal(list.addOwnAddress("::1", 12300), null);
  const copy = RestrictList.fromEntries(structuredClone(list.entries()));
  assert.deepEqual(
    copy.entries().map(formatRestrictEntry),
    list.entries().map(formatRestrictEntry),
  );
  for (const [a, port] of [["10.1.0.5", 9], ["2001:db8::1", 123], ["::1", 12300]] as const) {
    assert.equal(flagsFor(copy, a, port), flagsFor(list, a, port), a);
  }
  assert.equal(flagsFor(copy, "2001:db8::1", 123), RES_NOQUERY);
  assert.equal(copy.needsMonitor, true);
});
