import assert from "node:assert/strict";
import { parseNtpConf } from "../config/ntp_conf_parser.ts";
import type { NtpConfig } from "../config/config_model.ts";
import { type Logger } from "../log/logger.ts";
import type { RestrictSetting } from "./access_control.ts";
import {
  type LiveDaemon,
  MAX_PENDING_CONFIGURE,
  MAX_QUEUED_HANGUPS,
  type ReloadedConfig,
  Reloader,
} from "./reload.ts";
import { settingsFromConfig } from "./settings.ts";
import type { SourceSetting } from "./source_manager.ts";
import type { StatsSettings } from "./stats_host.ts";
import type { TosOptions } from "../proto/system.ts";

/** A daemon that records what the seam asks of it. */
class FakeDaemon implements LiveDaemon {
  calls: string[] = [];
  timekeeping = true;
  addSource(s: SourceSetting): boolean {
    this.calls.push(`add ${s.kind} ${s.address} minpoll ${s.options.minpoll}`);
    return this.timekeeping;
  }
  removeSource(kind: string, address: string, reason: string): number {
    this.calls.push(`remove ${kind} ${address} (${reason})`);
    return 1;
  }
  sourceOfAssociation(id: number) {
    return id === 3 ? { kind: "server", address: "192.0.2.1" } : null;
  }
  setRestrict(rules: readonly RestrictSetting[]): Promise<void> {
    this.calls.push(`restrict ${rules.map((r) => `${r.address}:${r.flags.join("+")}`).join(" ")}`);
    return Promise.resolve();
  }
  setTos(tos: Partial<TosOptions>): boolean {
    this.calls.push(`tos ${JSON.stringify(tos)}`);
    return this.timekeeping;
  }
  setLogConfig(tokens: readonly string[]): string[] | null {
    this.calls.push(`logconfig ${tokens.join(" ")}`);
    return this.timekeeping ? tokens.filter((t) => t.includes("bogus")) : null;
  }
  reopenStats(s: StatsSettings | null): void {
    this.calls.push(`stats ${s === null ? "none" : s.enabled.join(" ")}`);
  }
}

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

function conf(text: string): ReloadedConfig {
  const r = parseNtpConf(text, { file: "/etc/ntp.conf" });
  return {
    ok: !r.diagnostics.some((d) => d.severity === "error"),
    config: r.config,
    diagnostics: r.diagnostics,
  };
}

const START = "server 192.0.2.1 iburst\nserver 192.0.2.2\nrestrict default kod\n";

function setup(start = START) {
  const daemon = new FakeDaemon();
  const log = memoryLog();
  let next: ReloadedConfig = conf(start);
  let loads = 0;
  const logFiles: (string | null)[] = [];
  const reloader = new Reloader(conf(start).config, {
    daemon,
    log,
    load: () => {
      loads++;
      return Promise.resolve(structuredClone(next));
    },
    settingsOf: (c: NtpConfig) => settingsFromConfig(c),
    reopenLog: (f) => void logFiles.push(f),
  });
  return {
    daemon,
    log,
    reloader,
    logFiles,
    get loads() {
      return loads;
    },
    write(text: string) {
      next = conf(text);
    },
  };
}

Deno.test("Reloader.hangup() reopens the log and statistics files even when nothing changed", async () => {
  const t = setup(START + "statistics loopstats\nlogfile /var/log/ntp.log\nkeys /etc/ntp.keys\n");
  const r = await t.reloader.hangup();
  assert.deepEqual(r, { ok: true, applied: [], restart: [], errors: [] });
  assert.deepEqual(t.logFiles, ["/var/log/ntp.log"]);
  // Keys are not read again, and the log says so.
  assert.ok(
    t.log.lines.includes(
      "warn reload: keys in /etc/ntp.keys are not read again; restart to use changed keys",
    ),
    t.log.lines.join("\n"),
  );
  assert.deepEqual(t.daemon.calls, ["stats loopstats"]);
  assert.ok(t.log.lines.includes("info reload: configuration unchanged"), t.log.lines.join("\n"));
});

Deno.test("Reloader.hangup() adds and removes sources and applies restrict, tos and logconfig", async () => {
  const t = setup();
  t.write(
    "server 192.0.2.1 iburst\nserver 192.0.2.3 minpoll 4\nrestrict default kod noquery\n" +
      "tos minsane 2 maxclock 5\nlogconfig =syncall\ndriftfile /var/lib/ntp/drift\n",
  );
  const r = (await t.reloader.hangup())!;
  assert.equal(r.ok, true);
  assert.deepEqual(t.daemon.calls, [
    "stats none",
    "remove server 192.0.2.2 (removed (reload))",
    "add server 192.0.2.3 minpoll 4",
    "logconfig =syncall",
    "restrict 0.0.0.0:kod+noquery :::kod+noquery",
    'tos {"minclock":3,"minsane":2,"floor":1,"ceiling":15,"cohort":false,"orphan":16}',
  ]);
  assert.deepEqual(r.applied, [
    "removed server 192.0.2.2",
    "added server 192.0.2.3",
    "logconfig (none) -> =syncall",
    "restrict: + default 0.0.0.0 kod noquery; + default :: kod noquery; - default 0.0.0.0 kod; " +
    "- default :: kod",
    "tos minsane 1 -> 2",
  ]);
  assert.deepEqual(r.restart, ["driftfile (none) -> /var/lib/ntp/drift", "tos maxclock 10 -> 5"]);
  for (const line of r.applied) assert.ok(t.log.lines.includes(`info reload: ${line}`), line);
  assert.ok(t.log.lines.some((l) => /^warn reload: driftfile .* needs a restart/.test(l)));
  assert.ok(!t.log.lines.some((l) => /keys in/.test(l)), "no keys file, no note");
  t.write(
    "server 192.0.2.1 iburst\nserver 192.0.2.3 minpoll 4\nrestrict default kod noquery\n" +
      "tos minsane 2 maxclock 5\nlogconfig =syncall\ndriftfile /var/lib/ntp/drift\n" +
      "keys /etc/ntp.keys\n",
  );
  // The running configuration took the live changes only: the same file again changes nothing
  // live, and warns again about what still needs a restart.
  assert.equal(t.reloader.running.tos.minsane, 2);
  assert.equal(t.reloader.running.tos.maxclock, 10);
  assert.equal(t.reloader.running.files.driftFile, null);
  t.daemon.calls = [];
  const again = (await t.reloader.hangup())!;
  assert.deepEqual(again.applied, []);
  assert.deepEqual(again.restart, [
    ...r.restart.slice(0, 1),
    "keys (none) -> /etc/ntp.keys",
    ...r.restart.slice(1),
  ]);
  assert.deepEqual(t.daemon.calls, ["stats none"]);
});

Deno.test("Reloader.hangup() refuses a configuration with errors and keeps the old one", async () => {
  const t = setup();
  t.write("server 192.0.2.9\nserver\ntos minsane two\n");
  const r = (await t.reloader.hangup())!;
  assert.equal(r.ok, false);
  assert.deepEqual(r.errors, [
    '/etc/ntp.conf:2:1: error: "server" needs an address',
    '/etc/ntp.conf:3:13: error: tos minsane needs an integer, got "two"',
  ]);
  // Files reopened (log rotation happens anyway; without a log file there is none to reopen);
  // nothing else touched.
  assert.deepEqual(t.daemon.calls, ["stats none"]);
  assert.deepEqual(t.logFiles, []);
  assert.deepEqual(t.reloader.running.sources.map((s) => s.address), ["192.0.2.1", "192.0.2.2"]);
  assert.ok(
    t.log.lines.includes(
      "error reload: the configuration has 2 errors: refused, still running the previous one",
    ),
    t.log.lines.join("\n"),
  );
});

Deno.test("Reloader.hangup(): a burst of signals gives at most one more reload", async () => {
  const daemon = new FakeDaemon();
  let loads = 0;
  let release: () => void = () => {};
  const reloader = new Reloader(conf(START).config, {
    daemon,
    log: memoryLog(),
    load: async () => {
      loads++;
      // The first reload stays in progress until released.
      if (loads === 1) await new Promise<void>((r) => release = r);
      return conf(START);
    },
    settingsOf: (c) => settingsFromConfig(c),
    reopenLog: () => {},
  });
  // Signals before a reload has started reading are served by it.
  const first = [reloader.hangup(), reloader.hangup(), reloader.hangup()];
  for (let i = 0; i < 20 && loads === 0; i++) await Promise.resolve();
  assert.equal(loads, 1);
  // While it reads: a burst queues one reload, the rest fold into it.
  const burst = Array.from({ length: 50 }, () => reloader.hangup());
  release();
  const reports = await Promise.all([...first, ...burst]);
  assert.equal(loads, 1 + MAX_QUEUED_HANGUPS);
  assert.equal(reports.filter((r) => r !== null).length, 1 + MAX_QUEUED_HANGUPS);
  assert.equal(reloader.hangupsCoalesced, 53 - 1 - MAX_QUEUED_HANGUPS);
  // Once those are done, a new signal reloads again.
  assert.notEqual(await reloader.hangup(), null);
  assert.equal(loads, 2 + MAX_QUEUED_HANGUPS);
});

Deno.test("Reloader.hangup(): a log file that cannot be opened is logged and logging goes on", async () => {
  const daemon = new FakeDaemon();
  const log = memoryLog();
  const reloader = new Reloader(conf(START).config, {
    daemon,
    log,
    load: () => Promise.resolve(conf(START + "logfile /nonexistent/ntp.log\n")),
    settingsOf: (c) => settingsFromConfig(c),
    reopenLog: (f) => {
      if (f !== null) throw new Error("No such file or directory");
    },
  });
  const r = (await reloader.hangup())!;
  assert.deepEqual(r.restart, ["logfile (none) -> /nonexistent/ntp.log"]);
  assert.ok(log.lines.some((l) => l.startsWith("error reload: cannot open log file /nonexistent")));
  assert.equal(reloader.running.files.logFile, null);
});

Deno.test("Reloader.configure() applies :config lines through the same seam", async () => {
  const t = setup();
  assert.equal(
    await t.reloader.configure("server 192.0.2.7 minpoll 5", "127.0.0.1:4000"),
    "Config Succeeded",
  );
  assert.equal(await t.reloader.configure("unpeer 3", "127.0.0.1:4000"), "Config Succeeded");
  assert.equal(
    await t.reloader.configure("restrict 127.0.0.5 nomodify", "127.0.0.1:4000"),
    "Config Succeeded",
  );
  assert.deepEqual(t.daemon.calls, [
    "add server 192.0.2.7 minpoll 5",
    "remove server 192.0.2.1 (removed (runtime configuration))",
    "restrict 0.0.0.0:kod :::kod 127.0.0.5:nomodify",
  ]);
  assert.deepEqual(t.reloader.running.sources.map((s) => s.address), ["192.0.2.2", "192.0.2.7"]);
  assert.ok(t.log.lines.includes('info runtime configuration from 127.0.0.1:4000: "unpeer 3"'));
  // Refused text changes nothing and says why, in ntpd's words.
  t.daemon.calls = [];
  assert.equal(
    await t.reloader.configure("server", "127.0.0.1:4000"),
    'column 1 syntax error: "server" needs an address',
  );
  assert.deepEqual(t.daemon.calls, []);
  // A change that needs a restart is answered as such.
  assert.equal(
    await t.reloader.configure("tinker panic 0", "127.0.0.1:4000"),
    "Config Succeeded\nnot applied: tinker panic 1000 -> 0",
  );
  // No file is named at run time.
  assert.match(
    await t.reloader.configure("logfile /etc/shadow", "127.0.0.1:4000"),
    /^column 1 syntax error: logfile: files cannot be named at run time/,
  );
  assert.equal(t.reloader.running.files.logFile, null);
});

Deno.test("Reloader.configure(): without timekeeping a new source needs a restart", async () => {
  const t = setup();
  t.daemon.timekeeping = false;
  const reply = await t.reloader.configure("server 192.0.2.8", "[::1]:4000");
  assert.match(reply, /^Config Succeeded\nnot applied: server 192\.0\.2\.8: the daemon started/);
  assert.deepEqual(t.reloader.running.sources.map((s) => s.address), ["192.0.2.1", "192.0.2.2"]);
});

Deno.test("Reloader.configure(): at most MAX_PENDING_CONFIGURE requests wait; more are busy", async () => {
  const t = setup();
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) => t.reloader.configure(`server 192.0.2.${100 + i}`, "x")),
  );
  assert.equal(replies.filter((r) => r === "Config Succeeded").length, MAX_PENDING_CONFIGURE);
  assert.equal(
    replies.filter((r) => r === "Config failed: busy (too many changes waiting)").length,
    20 - MAX_PENDING_CONFIGURE,
  );
  assert.equal(t.reloader.running.sources.length, 2 + MAX_PENDING_CONFIGURE);
  // Once they are done, new requests are taken again.
  assert.equal(await t.reloader.configure("server 192.0.2.200", "x"), "Config Succeeded");
});
