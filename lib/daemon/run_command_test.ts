import assert from "node:assert/strict";
import { defaultSource, emptyConfig } from "../config/config_model.ts";
import { extractHoraeFlags, HORAE_RUN_OPTIONS, runHelp, saveConfigSetting } from "./run_command.ts";

Deno.test("extractHoraeFlags() splits --port, --listen and --status-file from ntpd's options", () => {
  const r = extractHoraeFlags([
    "-n",
    "--port",
    "1123",
    "--listen=127.0.0.1",
    "--status-file",
    "/run/horae.json",
    "-q",
    "--observe",
  ]);
  assert.deepEqual(r, {
    ok: true,
    port: 1123,
    listen: ["127.0.0.1"],
    statusFile: "/run/horae.json",
    sourceCheckSec: null,
    unreachPolls: null,
    serverThreads: null,
    loopLagMs: null,
    metricsListen: [],
    rest: ["-n", "-q", "--observe"],
  });
});

Deno.test("extractHoraeFlags() takes --source-check and --unreach-polls within their ranges", () => {
  const r = extractHoraeFlags(["--source-check", "5", "--unreach-polls=2", "-n"]);
  assert.ok(r.ok);
  assert.equal(r.sourceCheckSec, 5);
  assert.equal(r.unreachPolls, 2);
  assert.deepEqual(r.rest, ["-n"]);
  assert.equal(extractHoraeFlags(["--source-check", "0"]).ok, false);
  assert.equal(extractHoraeFlags(["--source-check", "1.5"]).ok, false);
  assert.equal(extractHoraeFlags(["--unreach-polls", "9"]).ok, false);
  assert.equal(extractHoraeFlags(["--unreach-polls", "0"]).ok, false);
});

Deno.test("extractHoraeFlags() rejects a missing value and a bad port", () => {
  assert.deepEqual(extractHoraeFlags(["--status-file"]), {
    ok: false,
    message: "--status-file needs a value",
  });
  assert.equal(extractHoraeFlags(["--port", "0"]).ok, false);
});

Deno.test("extractHoraeFlags() takes --server-threads from 1 to 64", () => {
  const r = extractHoraeFlags(["--server-threads", "4", "-n"]);
  assert.ok(r.ok);
  assert.equal(r.serverThreads, 4);
  assert.deepEqual(r.rest, ["-n"]);
  assert.equal(extractHoraeFlags(["--server-threads=1"]).ok, true);
  assert.equal(extractHoraeFlags(["--server-threads", "0"]).ok, false);
  assert.equal(extractHoraeFlags(["--server-threads", "65"]).ok, false);
  assert.equal(extractHoraeFlags(["--server-threads", "two"]).ok, false);
});

Deno.test("extractHoraeFlags() takes --loop-lag-ms from 1 to 1000", () => {
  const r = extractHoraeFlags(["--loop-lag-ms", "10", "-n"]);
  assert.ok(r.ok);
  assert.equal(r.loopLagMs, 10);
  assert.deepEqual(r.rest, ["-n"]);
  assert.equal(extractHoraeFlags(["--loop-lag-ms=1000"]).ok, true);
  assert.equal(extractHoraeFlags(["--loop-lag-ms", "0"]).ok, false);
  assert.equal(extractHoraeFlags(["--loop-lag-ms", "1001"]).ok, false);
  assert.equal(extractHoraeFlags(["--loop-lag-ms", "2.5"]).ok, false);
});

Deno.test("extractHoraeFlags() takes --metrics-listen as address:port, repeatable, loopback by default", () => {
  const r = extractHoraeFlags(["--metrics-listen", "9100", "--metrics-listen=[::1]:9101", "-n"]);
  assert.ok(r.ok);
  assert.deepEqual(r.metricsListen, [
    { hostname: "127.0.0.1", port: 9100 },
    { hostname: "::1", port: 9101 },
  ]);
  assert.deepEqual(r.rest, ["-n"]);
  assert.equal(extractHoraeFlags(["--metrics-listen", "host.example:80"]).ok, false);
  assert.equal(extractHoraeFlags(["--metrics-listen", "127.0.0.1:0"]).ok, false);
  assert.equal(extractHoraeFlags(["--metrics-listen", "127.0.0.1:65536"]).ok, false);
});

Deno.test("HORAE_RUN_OPTIONS lists exactly the flags extractHoraeFlags takes, one line each", () => {
  const values: Record<string, string> = {
    "--port": "123",
    "--listen": "::1",
    "--status-file": "s.json",
    "--source-check": "5",
    "--unreach-polls": "2",
    "--server-threads": "2",
    "--loop-lag-ms": "10",
    "--metrics-listen": "9975",
  };
  const listed = HORAE_RUN_OPTIONS.map((o) => o.synopsis.trim().split(" ")[0]!);
  assert.deepEqual([...listed].sort(), Object.keys(values).sort());
  for (const name of listed) {
    const r = extractHoraeFlags([name, values[name]!, "-n"]);
    assert.ok(r.ok, name);
    assert.deepEqual(r.rest, ["-n"], `${name} was not taken`);
  }
  // --help: ntpd's options and Horae's, each on exactly one line.
  const text = runHelp();
  const help = text.slice(text.indexOf("\noptions:\n")).split("\n");
  for (const name of [...listed, "--observe", "--configfile", "--help", "--version"]) {
    assert.equal(help.filter((l) => l.split(/[ ,]+/).includes(name)).length, 1, name);
  }
});

Deno.test("saveConfigSetting(): only with a controlkey, into saveconfigdir", () => {
  const config = emptyConfig();
  assert.equal(saveConfigSetting(config, "/etc/horae/ntp.conf"), null);
  config.auth.controlKey = 10;
  // Security: never the configuration file's folder by default (for /etc/ntp.conf that is /etc,
  // where `saveconfig passwd` would replace /etc/passwd); ntpd refuses without saveconfigdir too.
  assert.equal(saveConfigSetting(config, "/etc/ntp.conf"), null);
  assert.equal(saveConfigSetting(config, "ntp.conf"), null);
  config.files.saveconfigDir = "/etc/horae/saved";
  const s = saveConfigSetting(config, "/etc/horae/ntp.conf")!;
  assert.equal(s.dir, "/etc/horae/saved");
  // ntp.conf text, or TOML for a .toml name.
  assert.equal(
    s.text("saved.conf"),
    "# Saved by horae (saveconfig), running configuration loaded from /etc/horae/ntp.conf\n\n" +
      "# Files and logging\nsaveconfigdir /etc/horae/saved\n\n" +
      "# Authentication\ncontrolkey 10\n",
  );
  assert.match(s.text("saved.toml"), /^# Saved by horae \(saveconfig\)[^\n]*\n[^]*controlkey = 10/);
  config.files.saveconfigDir = "/var/lib/horae";
  assert.equal(saveConfigSetting(config, null)!.dir, "/var/lib/horae");
  // With the running configuration's getter, the text is made at each save, from what runs then.
  let running = emptyConfig();
  const live = saveConfigSetting(config, "/etc/horae/ntp.conf", () => running)!;
  assert.doesNotMatch(live.text("x.conf"), /192\.0\.2\.7/);
  running = structuredClone(running);
  running.sources.push({ ...defaultSource("server", "192.0.2.7") });
  assert.match(live.text("x.conf"), /^server 192\.0\.2\.7$/m);
  assert.match(live.text("x.toml"), /192\.0\.2\.7/);
});

Deno.test("privilegedPortMessage() and NO_SYS_TIME_MESSAGE: one line each, naming the way out", async () => {
  const { isPrivilegedPortDenied, NO_SYS_TIME_MESSAGE, privilegedPortMessage } = await import(
    "./run_command.ts"
  );
  const { OsError, Errno } = await import("../../ffi/libc.ts");
  assert.match(
    privilegedPortMessage(123),
    /^port 123 is privileged: .*CAP_NET_BIND_SERVICE.*--port/,
  );
  assert.match(NO_SYS_TIME_MESSAGE, /CAP_SYS_TIME.*--observe/);
  for (const m of [privilegedPortMessage(123), NO_SYS_TIME_MESSAGE]) assert.ok(!m.includes("\n"));
  assert.equal(isPrivilegedPortDenied(new OsError("bind", Errno.EACCES), 123), true);
  assert.equal(isPrivilegedPortDenied(new OsError("bind", Errno.EACCES), 1123), false);
  assert.equal(isPrivilegedPortDenied(new OsError("bind", Errno.EADDRINUSE), 123), false);
  assert.equal(isPrivilegedPortDenied(new Error("EACCES"), 123), false);
});
