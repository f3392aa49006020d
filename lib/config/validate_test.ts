// Tests of the shared semantic checks (ranges and cross-field rules of ntp.conf(5)).

import assert from "node:assert/strict";
import { checkStatsFileName, isLogConfigToken, validateConfig } from "./validate.ts";
import { defaultRefclock, defaultSource, emptyConfig } from "./config_model.ts";

function issues(mutate: (c: ReturnType<typeof emptyConfig>) => void): string[] {
  const c = emptyConfig();
  mutate(c);
  return validateConfig(c).map((i) => `${i.path}: ${i.message}`);
}

Deno.test("validateConfig() accepts the empty configuration", () => {
  assert.deepEqual(validateConfig(emptyConfig()), []);
});

Deno.test("validateConfig() checks poll bounds and their order", () => {
  assert.deepEqual(
    issues((c) => c.sources.push({ ...defaultSource("server", "a"), minpollLog2: 12 })),
    ["sources.0.minpollLog2: minpoll 12 is greater than maxpoll 10; using minpoll 10, as ntpd does"],
  );
  assert.deepEqual(
    issues((c) => c.sources.push({ ...defaultSource("server", "a"), maxpollLog2: 18 })),
    ["sources.0.maxpollLog2: maxpoll 18 is out of range 4–17"],
  );
  assert.deepEqual(
    issues((c) => c.refclocks.push({ ...defaultRefclock(1, 0), minpollLog2: 2 })),
    ["refclocks.0.minpollLog2: minpoll 2 is out of range 3–17"],
  );
});

Deno.test("validateConfig() checks key ids 1–65534 everywhere (models built by code)", () => {
  assert.deepEqual(
    issues((c) => {
      c.auth.trustedKeys = [1, 65535];
      c.auth.requestKey = 0;
      c.sources.push({ ...defaultSource("peer", "p"), key: 65534 });
    }),
    [
      "auth.trustedKeys.1: trustedkey 65535 is out of range 1–65534",
      "auth.requestKey: requestkey 0 is out of range 1–65534",
    ],
  );
});

Deno.test("validateConfig() applies ntpd's tos checks as warnings, and the spec's ranges", () => {
  const c = emptyConfig();
  c.tos.floor = 15;
  c.tos.ceiling = 15;
  c.tos.minsane = 11;
  c.tos.orphan = 0;
  c.tos.mindistSec = 3;
  c.tos.maxdistSec = 2;
  assert.deepEqual(
    validateConfig(c).map((i) => `${i.severity} ${i.path}: ${i.message}`),
    [
      "warning tos.minsane: tos needs minsane (11) < minclock (3) <= maxclock (10); the daemon " +
      "will not operate properly (ntpd logs the same and goes on)",
      "warning tos.floor: tos floor 15 is not below ceiling 15: no server can be selected",
      "warning tos.mindistSec: tos mindist 3 is greater than maxdist 2",
      "error tos.orphan: orphan 0 is out of range 1–16",
    ],
  );
});

Deno.test("validateConfig() limits the ttl list to 8 values of 1–255", () => {
  assert.deepEqual(issues((c) => (c.broadcast.ttl = [1, 2, 3, 4, 5, 6, 7, 8])), []);
  assert.deepEqual(issues((c) => (c.broadcast.ttl = [1, 2, 3, 4, 5, 6, 7, 8, 9])), [
    "broadcast.ttl: ttl takes at most 8 values, got 9",
  ]);
  assert.deepEqual(issues((c) => (c.broadcast.ttl = [0])), [
    "broadcast.ttl.0: ttl 0 is out of range 1–255",
  ]);
});

Deno.test("validateConfig() rejects duplicate refclocks and bad fudge values", () => {
  assert.deepEqual(
    issues((c) => {
      c.refclocks.push(defaultRefclock(28, 0), defaultRefclock(28, 0));
      c.refclocks[0]!.fudge.refid = "TOOLONG";
    }),
    [
      'refclocks.0.fudge.refid: refid "TOOLONG" must be 1–4 printable ASCII characters',
      "refclocks.1: reference clock 127.127.28.0 is configured twice",
    ],
  );
});

Deno.test("validateConfig() rejects refclock addresses on peers and family mismatches", () => {
  assert.deepEqual(issues((c) => c.sources.push(defaultSource("peer", "127.127.1.0"))), [
    'sources.0.address: reference clock 127.127.1.0 is only valid with "server"',
  ]);
  assert.deepEqual(
    issues((c) => c.sources.push({ ...defaultSource("server", "192.0.2.1"), family: "ipv6" })),
    ['sources.0.address: server: "192.0.2.1" is an IPv4 address but -6 was given'],
  );
});

Deno.test("checkStatsFileName() keeps files inside statsdir", () => {
  assert.equal(checkStatsFileName("loopstats"), null);
  assert.equal(checkStatsFileName("sub/dir/peers"), null);
  assert.match(checkStatsFileName("../x") ?? "", /must not contain "\.\."/);
  assert.match(checkStatsFileName("a/../../x") ?? "", /must not contain "\.\."/);
  assert.match(checkStatsFileName("/etc/x") ?? "", /relative to statsdir/);
  assert.match(checkStatsFileName("") ?? "", /empty/);
});

Deno.test("isLogConfigToken() accepts ntpd's class names", () => {
  for (const ok of ["=syncall", "+clockall", "-peerinfo", "sysevents", "=all", "allstatus"]) {
    assert.ok(isLogConfigToken(ok), ok);
  }
  for (const bad of ["+everything", "==syncall", "sync", "peerall+"]) {
    assert.ok(!isLogConfigToken(bad), bad);
  }
});

Deno.test("validateConfig() warns that enable pps needs the ntpd discipline in kernel mode", () => {
  const pps = (i: string[]) => i.filter((x) => x.startsWith('system.pps: "enable pps" is parsed'));
  assert.match(issues((c) => (c.system.pps = true)).join("\n"), /tinker discipline ntpd/);
  assert.deepEqual(
    pps(issues((c) => {
      c.system.pps = true;
      c.tinker.discipline = "ntpd";
    })),
    [],
  );
  assert.equal(
    pps(issues((c) => {
      c.system.pps = true;
      c.tinker.discipline = "ntpd";
      c.system.kernel = false;
    })).length,
    1,
  );
  assert.deepEqual(pps(issues((c) => (c.tinker.discipline = "ntpd"))), []);
});

Deno.test("validateConfig() warns that broadcast and manycastclient lines need an address literal", () => {
  const got = issues((c) => {
    c.sources.push(defaultSource("broadcast", "ntp.example.org"));
    c.sources.push(defaultSource("manycastclient", "192.0.2.1"));
    c.sources.push(defaultSource("manycastclient", "239.1.1.1"));
    c.sources.push(defaultSource("broadcast", "192.0.2.255"));
  });
  assert.deepEqual(got, [
    'sources.0.address: "broadcast ntp.example.org" is parsed but not applied: needs an address, ' +
    "not a name; line left out",
    'sources.1.address: "manycastclient 192.0.2.1" is parsed but not applied: not a multicast ' +
    "group; line left out",
  ]);
});
