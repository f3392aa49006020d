import assert from "node:assert/strict";
import { defaultSource, emptyConfig } from "../config/config_model.ts";
import { settingsFromConfig } from "./settings.ts";

Deno.test("settingsFromConfig() turns server and pool lines into sources with their options", () => {
  const c = emptyConfig();
  c.sources.push(
    { ...defaultSource("server", "192.0.2.1"), iburst: true, minpollLog2: 4, prefer: true },
    { ...defaultSource("pool", "pool.example"), family: "ipv6" },
    defaultSource("broadcast", "192.0.2.255"),
    defaultSource("peer", "192.0.2.9"),
  );
  c.tos.maxclock = 5;
  c.tos.maxdistSec = 2;
  const s = settingsFromConfig(c, { family: "ipv4" });
  assert.deepEqual(s.sources!.map((x) => [x.kind, x.address, x.family]), [
    ["server", "192.0.2.1", "any"],
    ["pool", "pool.example", "ipv6"],
    ["server", "192.0.2.9", "any"],
  ]);
  assert.deepEqual(s.sources![0]!.options, {
    minpoll: 4,
    maxpoll: 10,
    iburst: true,
    burst: false,
    prefer: true,
    noselect: false,
    version: 4,
    maxDistanceSec: 2,
  });
  assert.equal(s.sources![0]!.port, 123);
  assert.equal(s.timekeeping!.maxclock, 5);
  assert.equal(s.timekeeping!.family, "ipv4");
  // The readers report what is not applied (broadcast, a peer's symmetric mode), with lines.
  assert.deepEqual(s.warnings, []);
});

Deno.test("settingsFromConfig() passes tinker, tos, enable/disable and -g/-q/-x to the core", () => {
  const c = emptyConfig();
  c.tinker.stepSec = 0.5;
  c.tinker.panicSec = 0;
  c.tinker.dispersionPpm = 20;
  c.tinker.discipline = "ntpd";
  c.tos.minsane = 2;
  c.tos.cohort = 1;
  c.system.ntp = false;
  c.system.kernel = false;
  c.files.leapFile = "/etc/leap-seconds.list";
  c.logConfig = ["=syncall"];
  const s = settingsFromConfig(c, { panicGate: true, quit: true, slew: true, statusFile: "/s" });
  const loop = s.timekeeping!.loop!;
  assert.equal(loop.tinker!.step, 0.5);
  assert.equal(loop.tinker!.panic, 0);
  assert.ok(Math.abs(loop.tinker!.dispersion! - 20e-6) < 1e-15);
  assert.equal(loop.discipline, "ntpd");
  assert.equal(loop.allowBigFirstStep, true);
  assert.equal(loop.setOnce, true);
  assert.equal(loop.slewOnly, true);
  assert.equal(loop.ntpEnabled, false);
  assert.equal(loop.kernel, false);
  assert.equal(s.timekeeping!.tos!.minsane, 2);
  assert.equal(s.timekeeping!.tos!.cohort, true);
  assert.equal(s.statusFile, "/s");
  assert.equal(s.leapFile, "/etc/leap-seconds.list");
  assert.deepEqual(s.logConfig, ["=syncall"]);
});

Deno.test("settingsFromConfig() keeps -4/-6 for listen addresses", () => {
  const s = settingsFromConfig(emptyConfig(), { family: "ipv6", port: 1123 });
  assert.deepEqual(s.listen, [{ family: 6, address: "::", port: 1123 }]);
  assert.deepEqual(s.sources, []);
});

Deno.test("settingsFromConfig() passes --source-check and --unreach-polls to the source manager", () => {
  const plain = settingsFromConfig(emptyConfig());
  assert.equal(plain.timekeeping!.maintenanceSec, undefined);
  assert.equal(plain.timekeeping!.unreachPolls, undefined);
  const s = settingsFromConfig(emptyConfig(), { sourceCheckSec: 5, unreachPolls: 2 });
  assert.equal(s.timekeeping!.maintenanceSec, 5);
  assert.equal(s.timekeeping!.unreachPolls, 2);
});
