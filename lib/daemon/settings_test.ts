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
    ["peer", "192.0.2.9", "any"],
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

Deno.test("settingsFromConfig() keeps -4/-6, the port, interface rules, -I and -L for the listen plan", () => {
  const c = emptyConfig();
  c.interfaces.push({ action: "ignore", match: "wildcard" }, { action: "listen", match: "lo" });
  const s = settingsFromConfig(c, {
    family: "ipv6",
    port: 1123,
    interfaceOptions: ["eth0"],
    noVirtual: true,
  });
  assert.deepEqual(s.listen, [], "no --listen: the interface rules decide");
  assert.deepEqual(s.interfaces, {
    port: 1123,
    family: "ipv6",
    rules: [{ action: "ignore", match: "wildcard" }, { action: "listen", match: "lo" }],
    interfaceOptions: ["eth0"],
    noVirtual: true,
  });
  assert.deepEqual(s.sources, []);
  const l = settingsFromConfig(emptyConfig(), { listen: ["127.0.0.1", "[::1]"], family: "ipv4" });
  assert.deepEqual(l.listen, [{ family: 4, address: "127.0.0.1", port: 123 }]);
});

Deno.test("settingsFromConfig() passes restrict, discard, mru (maxmem in KiB) and monitor", () => {
  const c = emptyConfig();
  c.restrict.push(
    {
      match: "default",
      address: "0.0.0.0",
      mask: "0.0.0.0",
      family: "ipv4",
      flags: ["kod", "limited"],
    },
    { match: "address", address: "ntp.example", mask: null, family: "any", flags: ["noserve"] },
    { match: "source", address: "", mask: null, family: "any", flags: ["nomodify"] },
  );
  c.discard.averageLog2 = 5;
  c.discard.minimumSec = 1;
  c.mru.maxmem = 64;
  c.mru.maxage = 30;
  c.system.monitor = false;
  const a = settingsFromConfig(c).access!;
  assert.deepEqual(a.restrict!.map((r) => [r.match, r.address, r.mask, r.family, r.flags]), [
    ["default", "0.0.0.0", "0.0.0.0", "ipv4", ["kod", "limited"]],
    ["address", "ntp.example", null, "any", ["noserve"]],
    ["source", "", null, "any", ["nomodify"]],
  ]);
  assert.deepEqual(a.discard, { averageLog2: 5, minimumSec: 1, monitorSec: 3000 });
  assert.deepEqual(a.mru, { maxMemBytes: 64 * 1024, maxAgeSec: 30 });
  assert.equal(a.monitor, false);
  const plain = settingsFromConfig(emptyConfig()).access!;
  assert.deepEqual(plain.mru, {});
  assert.equal(plain.monitor, true);
});

Deno.test("settingsFromConfig() passes --source-check and --unreach-polls to the source manager", () => {
  const plain = settingsFromConfig(emptyConfig());
  assert.equal(plain.timekeeping!.maintenanceSec, undefined);
  assert.equal(plain.timekeeping!.unreachPolls, undefined);
  const s = settingsFromConfig(emptyConfig(), { sourceCheckSec: 5, unreachPolls: 2 });
  assert.equal(s.timekeeping!.maintenanceSec, 5);
  assert.equal(s.timekeeping!.unreachPolls, 2);
});

Deno.test("settingsFromConfig() passes keys, trustedkey, controlkey, key N and enable/disable auth", () => {
  const c = emptyConfig();
  c.sources.push({ ...defaultSource("server", "192.0.2.1"), key: 7 });
  c.auth.keysFile = "/etc/ntp.keys";
  c.auth.trustedKeys = [7, 8];
  c.auth.controlKey = 8;
  c.system.auth = false;
  const keys = [{ id: 7, algorithm: "MD5" as const, key: new Uint8Array([1]), allowed: null }];
  const s = settingsFromConfig(c, { keys });
  assert.equal(s.sources![0]!.options.key, 7);
  assert.deepEqual(s.auth, {
    keysFile: "/etc/ntp.keys",
    keys,
    trustedKeys: [7, 8],
    controlKey: 8,
    requestKey: null,
    required: false,
  });
  assert.deepEqual(settingsFromConfig(emptyConfig()).auth?.required, true);
});
