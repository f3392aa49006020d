// Tests of ntpd's command line (4.2.4 options, --toml, --observe) and its overrides.

import assert from "node:assert/strict";
import {
  applyNtpdOptions,
  NTPD_LONG_OPTIONS,
  NTPD_OPTION_HELP,
  type NtpdOptions,
  parseNtpdArgs,
} from "./ntpd_options.ts";
import { emptyConfig } from "../config/config_model.ts";

function ok(argv: string[]): NtpdOptions {
  const r = parseNtpdArgs(argv);
  if (!r.ok) throw new Error(`unexpected usage error: ${r.message}`);
  return r.options;
}

function usage(argv: string[]): string {
  const r = parseNtpdArgs(argv);
  assert.equal(r.ok, false, `expected a usage error for ${argv.join(" ")}`);
  return r.ok ? "" : r.message;
}

Deno.test("parseNtpdArgs() with no arguments gives ntpd's defaults", () => {
  const o = ok([]);
  assert.equal(o.configFile, null);
  assert.equal(o.debugLevel, 0);
  assert.equal(o.authRequired, null);
  assert.equal(o.observe, false);
});

Deno.test("parseNtpdArgs() reads every boolean flag of ntpd 4.2.4", () => {
  const cases: [string, keyof NtpdOptions, unknown][] = [
    ["-4", "ipv4Only", true],
    ["-6", "ipv6Only", true],
    ["-a", "authRequired", true],
    ["-A", "authRequired", false],
    ["-b", "broadcastClient", true],
    ["-g", "panicGate", true],
    ["-L", "noVirtualIps", true],
    ["-m", "multicastClient", true],
    ["-n", "noFork", true],
    ["-N", "nice", true],
    ["-q", "quit", true],
    ["-x", "slew", true],
    ["--toml", "toml", true],
    ["--observe", "observe", true],
  ];
  for (const [flag, field, value] of cases) assert.equal(ok([flag])[field], value, flag);
});

Deno.test("parseNtpdArgs() reads every option with a value, separate or attached", () => {
  const o = ok([
    "-c",
    "/etc/ntp.conf",
    "-f/var/lib/ntp/drift",
    "-i",
    "/var/jail",
    "-I",
    "eth0",
    "-I",
    "192.0.2.1",
    "-k",
    "/etc/ntp.keys",
    "-l",
    "/var/log/ntp.log",
    "-p",
    "/run/ntpd.pid",
    "-P",
    "20",
    "-r",
    "0.004",
    "-s",
    "/var/log/ntpstats",
    "-t",
    "5",
    "-t10",
    "-u",
    "ntp:ntp",
    "-U",
    "300",
    "-v",
    "owner=ops",
    "-V",
    "rack=12",
  ]);
  assert.equal(o.configFile, "/etc/ntp.conf");
  assert.equal(o.driftFile, "/var/lib/ntp/drift");
  assert.equal(o.jailDir, "/var/jail");
  assert.deepEqual(o.interfaces, ["eth0", "192.0.2.1"]);
  assert.equal(o.keysFile, "/etc/ntp.keys");
  assert.equal(o.logFile, "/var/log/ntp.log");
  assert.equal(o.pidFile, "/run/ntpd.pid");
  assert.equal(o.priority, 20);
  assert.equal(o.broadcastDelaySec, 0.004);
  assert.equal(o.statsDir, "/var/log/ntpstats");
  assert.deepEqual(o.trustedKeys, [5, 10]);
  assert.deepEqual([o.user, o.group], ["ntp", "ntp"]);
  assert.equal(o.updateIntervalSec, 300);
  assert.deepEqual(o.vars, ["owner=ops"]);
  assert.deepEqual(o.defaultVars, ["rack=12"]);
});

Deno.test("parseNtpdArgs() combines short flags like -gqx and ends a group with a value", () => {
  const o = ok(["-gqx"]);
  assert.deepEqual([o.panicGate, o.quit, o.slew], [true, true, true]);
  const p = ok(["-gnc/etc/ntp.conf"]);
  assert.deepEqual([p.panicGate, p.noFork, p.configFile], [true, true, "/etc/ntp.conf"]);
});

Deno.test("parseNtpdArgs() counts repeated -d and lets -D set the level", () => {
  assert.equal(ok(["-d"]).debugLevel, 1);
  assert.equal(ok(["-d", "-d", "-d"]).debugLevel, 3);
  assert.equal(ok(["-ddd", "-n"]).debugLevel, 3);
  assert.equal(ok(["-D", "5"]).debugLevel, 5);
  assert.equal(ok(["--debug-level", "--debug-level"]).debugLevel, 2);
});

Deno.test("parseNtpdArgs() accepts the 4.2.4 long option names", () => {
  const o = ok(["--configfile=/x.conf", "--panicgate", "--nofork", "--user", "ntp"]);
  assert.deepEqual([o.configFile, o.panicGate, o.noFork, o.user, o.group], [
    "/x.conf",
    true,
    true,
    "ntp",
    null,
  ]);
});

Deno.test("parseNtpdArgs() returns usage errors instead of throwing", () => {
  assert.equal(usage(["-z"]), "unknown option -z");
  assert.equal(usage(["-c"]), "option -c, --configfile needs a value");
  assert.equal(usage(["--obsrve"]), "unknown option --obsrve (did you mean --observe?)");
  assert.equal(
    usage(["--confgfile=x"]),
    "unknown option --confgfile (did you mean --configfile?)",
  );
  assert.equal(usage(["--toml=yes"]), "option --toml takes no value");
  assert.match(usage(["-4", "-6"]), /-4 and -6 cannot be used together/);
  assert.match(usage(["-a", "-A"]), /-a and -A/);
  assert.match(usage(["-t", "0"]), /-t needs a key id \(1-65534\)/);
  assert.match(usage(["-t", "seven"]), /-t needs a key id/);
  assert.match(usage(["-D", "x"]), /-D needs a debug level/);
  assert.match(usage(["-P", "high"]), /-P needs a priority/);
  assert.match(usage(["-r", "fast"]), /-r needs a delay/);
  assert.match(usage(["-u", "a:b:c"]), /-u needs user or user:group/);
  assert.match(usage(["-U", "-1"]), /-U needs an interval|ambiguous/);
  assert.match(usage(["-v", "novalue"]), /-v needs name=value/);
  assert.match(usage(["stray"]), /unexpected argument "stray"/);
});

Deno.test("applyNtpdOptions() lets the command line override the configuration", () => {
  const base = emptyConfig();
  base.files.driftFile = "/conf/drift";
  base.auth.trustedKeys = [3];
  const o = ok([
    "-f",
    "/cli/drift",
    "-k",
    "/cli/keys",
    "-t",
    "1",
    "-b",
    "-m",
    "-r",
    "0.01",
    "-A",
    "-x",
    "-v",
    "a = b",
    "-V",
    "c=d",
    "-s",
    "/stats",
    "-l",
    "/log",
    "-p",
    "/pid",
  ]);
  const c = applyNtpdOptions(base, o);
  assert.equal(base.files.driftFile, "/conf/drift", "input left alone");
  assert.equal(c.files.driftFile, "/cli/drift");
  assert.equal(c.auth.keysFile, "/cli/keys");
  assert.deepEqual(c.auth.trustedKeys, [1, 3]);
  assert.deepEqual([c.broadcast.client, c.system.bclient], [true, true]);
  assert.deepEqual(c.broadcast.multicastClient, ["224.0.1.1"]);
  assert.equal(c.broadcast.delaySec, 0.01);
  assert.equal(c.system.auth, false);
  assert.equal(c.tinker.stepSec, 600);
  assert.deepEqual(c.setvar, [
    { name: "a", value: "b", isDefault: false },
    { name: "c", value: "d", isDefault: true },
  ]);
  assert.deepEqual([c.stats.statsDir, c.files.logFile, c.files.pidFile], [
    "/stats",
    "/log",
    "/pid",
  ]);
  assert.deepEqual(applyNtpdOptions(base, ok([])), base);
});

Deno.test("NTPD_OPTION_HELP has one line for every option parseNtpdArgs takes", () => {
  assert.equal(NTPD_OPTION_HELP.length, NTPD_LONG_OPTIONS.length);
  for (const name of NTPD_LONG_OPTIONS) {
    const lines = NTPD_OPTION_HELP.filter((o) => o.synopsis.split(/[ ,]+/).includes(name));
    assert.equal(lines.length, 1, name);
    assert.ok(lines[0]!.help.length > 10 && !lines[0]!.help.includes("\n"), name);
  }
  // Each short option in the synopsis is the one parseNtpdArgs takes for that long name.
  assert.ok(NTPD_OPTION_HELP.some((o) => o.synopsis === "-c, --configfile FILE"));
  assert.ok(parseNtpdArgs(["--configfile", "x"]).ok);
});

Deno.test("parseNtpdArgs() suggests the caller's own options too", () => {
  const r = parseNtpdArgs(["--prot", "5"], ["--port", "--listen"]);
  assert.equal(r.ok ? "" : r.message, "unknown option --prot (did you mean --port?)");
});
