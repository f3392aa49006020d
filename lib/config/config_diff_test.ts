import assert from "node:assert/strict";
import {
  describeChange,
  describeSource,
  diffConfig,
  isEmptyDiff,
  LIVE_PATHS,
  takeLiveChanges,
} from "./config_diff.ts";
import { parseNtpConf } from "./ntp_conf_parser.ts";
import type { NtpConfig } from "./config_model.ts";

function conf(text: string): NtpConfig {
  const r = parseNtpConf(text);
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error"), [], text);
  return r.config;
}

const BASE = [
  "server 192.0.2.1 iburst",
  "server 192.0.2.2",
  "pool pool.example.org",
  "restrict default kod",
  "tos minsane 1",
  "driftfile /var/lib/horae/drift",
  "",
].join("\n");

Deno.test("diffConfig() finds nothing between a configuration and itself", () => {
  const d = diffConfig(conf(BASE), conf(BASE));
  assert.ok(isEmptyDiff(d), JSON.stringify(d));
});

Deno.test("diffConfig() lists sources added and removed, in file order", () => {
  const next = BASE.replace("server 192.0.2.2\n", "") + "server 192.0.2.3\npeer 192.0.2.4\n";
  const d = diffConfig(conf(BASE), conf(next));
  assert.deepEqual(d.sourcesRemoved.map(describeSource), ["server 192.0.2.2"]);
  assert.deepEqual(d.sourcesAdded.map(describeSource), ["server 192.0.2.3", "peer 192.0.2.4"]);
  assert.deepEqual([d.live, d.restart], [[], []]);
});

Deno.test("diffConfig() restarts a source whose options changed (removed, then added)", () => {
  const next = BASE.replace("server 192.0.2.1 iburst", "server 192.0.2.1 iburst minpoll 4");
  const d = diffConfig(conf(BASE), conf(next));
  assert.deepEqual(d.sourcesRemoved.map((s) => [s.address, s.minpollLog2]), [["192.0.2.1", 6]]);
  assert.deepEqual(d.sourcesAdded.map((s) => [s.address, s.minpollLog2]), [["192.0.2.1", 4]]);
});

Deno.test("diffConfig() tells -4/-6 lines for the same name apart", () => {
  const d = diffConfig(conf("server -4 ntp.example\n"), conf("server -6 ntp.example\n"));
  assert.deepEqual(d.sourcesRemoved.map(describeSource), ["server -4 ntp.example"]);
  assert.deepEqual(d.sourcesAdded.map(describeSource), ["server -6 ntp.example"]);
});

Deno.test("diffConfig() marks restrict, tos thresholds, logconfig and statistics live", () => {
  const next = BASE.replace("restrict default kod", "restrict default kod noquery")
    .replace("tos minsane 1", "tos minsane 2 minclock 4") +
    "logconfig =syncall\nstatistics loopstats\nstatsdir /var/log/ntpstats\nlogfile /var/log/ntp.log\n";
  const d = diffConfig(conf(BASE), conf(next));
  assert.deepEqual(d.live.map((c) => c.path).sort(), [
    "files.logFile",
    "logConfig",
    "restrict",
    "stats.enabled",
    "stats.statsDir",
    "tos.minclock",
    "tos.minsane",
  ]);
  assert.deepEqual(d.restart, []);
  const lines = d.live.map(describeChange);
  assert.ok(lines.includes("tos minsane 1 -> 2"), lines.join("\n"));
  assert.ok(lines.includes("logconfig (none) -> =syncall"), lines.join("\n"));
  assert.ok(
    lines.includes(
      "restrict: + default 0.0.0.0 kod noquery; + default :: kod noquery; - default 0.0.0.0 kod; " +
        "- default :: kod",
    ),
    lines.join("\n"),
  );
});

Deno.test("diffConfig() says which changes need a restart, by their ntp.conf names", () => {
  const next = BASE.replace("/var/lib/horae/drift", "/tmp/drift") +
    "interface listen lo\ntos maxclock 6\nkeys /etc/ntp.keys\ncontrolkey 5\ntinker panic 0\n" +
    "server 127.127.1.0\n";
  const d = diffConfig(conf(BASE), conf(next));
  const names = d.restart.map((c) => c.name).sort();
  assert.deepEqual(
    names,
    [
      "controlkey",
      "driftfile",
      "interface/nic",
      "keys",
      "server/fudge",
      "tinker panic",
      "tos maxclock",
    ].sort(),
    names.join(", "),
  );
  assert.equal(
    describeChange(d.restart.find((c) => c.name === "driftfile")!),
    "driftfile /var/lib/horae/drift -> /tmp/drift",
  );
  assert.deepEqual(d.live, []);
  for (const c of d.restart) assert.ok(!LIVE_PATHS.has(c.path), c.path);
});

Deno.test("takeLiveChanges() takes the live changes and sources, and keeps the restart ones", () => {
  const running = conf(BASE);
  const next = conf(
    BASE.replace("tos minsane 1", "tos minsane 3").replace("/var/lib/horae/drift", "/tmp/d") +
      "server 192.0.2.9\n",
  );
  const d = diffConfig(running, next);
  const after = takeLiveChanges(running, next, d);
  assert.equal(after.tos.minsane, 3);
  assert.equal(after.files.driftFile, "/var/lib/horae/drift");
  assert.deepEqual(after.sources.map((s) => s.address), next.sources.map((s) => s.address));
  // Compared again, only the restart change is left.
  const again = diffConfig(after, next);
  assert.deepEqual(again.restart.map((c) => c.name), ["driftfile"]);
  assert.equal(again.live.length + again.sourcesAdded.length + again.sourcesRemoved.length, 0);
  // The inputs are left as they were, and the result shares nothing with them.
  assert.equal(running.tos.minsane, 1);
  after.sources[0]!.address = "changed";
  assert.equal(next.sources[0]!.address, "192.0.2.1");
});
