import assert from "node:assert/strict";
import {
  formatSyslog,
  JournalSink,
  LOG_DAEMON,
  openLogSinks,
  stderrIsJournal,
  SyslogSink,
} from "./log_sinks.ts";
import { closeLogging, configureLogging, FileSink, logger, StderrSink } from "./logger.ts";

Deno.test("formatSyslog() writes syslog(3)'s datagram: priority, local time, program[pid]", () => {
  const d = new Date(2026, 2, 1, 9, 5, 7); // local time, day padded with a space
  assert.equal(
    formatSyslog(d, LOG_DAEMON, "info", "ntpd", 42, "synchronized to 192.0.2.1, stratum 2"),
    "<30>Mar  1 09:05:07 ntpd[42]: synchronized to 192.0.2.1, stratum 2",
  );
  assert.equal(
    formatSyslog(d, LOG_DAEMON, "error", "ntpd", 1, "x"),
    "<27>Mar  1 09:05:07 ntpd[1]: x",
  );
  assert.equal(
    formatSyslog(new Date(2026, 11, 24, 23, 0, 0), 3, "debug", "ntpd", 1, "y").slice(0, 8),
    "<31>Dec ",
  );
});

Deno.test("stderrIsJournal() needs JOURNAL_STREAM to name standard error's device and inode", () => {
  const stat = () => ({ dev: 25, ino: 123456 });
  assert.equal(stderrIsJournal("25:123456", stat), true);
  assert.equal(stderrIsJournal("25:123457", stat), false); // stderr was redirected since
  assert.equal(stderrIsJournal(undefined, stat), false);
  assert.equal(stderrIsJournal("garbage", stat), false);
  assert.equal(
    stderrIsJournal("25:123456", () => {
      throw new Error("no /proc");
    }),
    false,
  );
});

Deno.test("JournalSink prefixes every line with the journal priority of its level", () => {
  const out: string[] = [];
  const sink = new JournalSink((b) => out.push(new TextDecoder().decode(b)));
  sink.write("ignored line", "error", "sys", "cannot listen on 0.0.0.0:123");
  sink.write("ignored line", "warning", "sys", "two\nlines");
  sink.write("ignored line", "info", "peer", "reachable");
  assert.deepEqual(out, [
    "<3>cannot listen on 0.0.0.0:123\n",
    "<4>two\n<4>lines\n",
    "<6>reachable\n",
  ]);
});

Deno.test("openLogSinks() chooses a file, standard error or syslog from the logfile value", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = openLogSinks(`${dir}/ntp.log`);
    assert.ok(file[0] instanceof FileSink);
    file[0]!.close?.();
    assert.ok(openLogSinks("stderr")[0] instanceof StderrSink);
    assert.throws(() => openLogSinks(`${dir}/missing/ntp.log`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SyslogSink sends one datagram per record and reconnects after the logger restarts", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/log`;
  let server = Deno.listenDatagram({ transport: "unixpacket", path });
  let at = new Date(2026, 2, 1, 12, 0, 0);
  const sink = new SyslogSink({ program: "ntpd", path, now: () => at });
  try {
    configureLogging({ program: "ntpd", sinks: [sink], level: "info" });
    logger("sys").warn("frequency error 600 PPM exceeds tolerance 500 PPM");
    const [data] = await server.receive();
    assert.equal(
      new TextDecoder().decode(data),
      `<28>Mar  1 12:00:00 ntpd[${Deno.pid}]: frequency error 600 PPM exceeds tolerance 500 PPM`,
    );
    // The logger goes away and comes back at the same path: records are dropped meanwhile,
    // then delivered again without the daemon doing anything.
    server.close();
    await Deno.remove(path);
    logger("sys").info("lost");
    assert.equal(sink.dropped, 1);
    server = Deno.listenDatagram({ transport: "unixpacket", path });
    logger("sys").info("too soon"); // within a second of the failed attempt: not retried yet
    assert.equal(sink.dropped, 2);
    at = new Date(at.getTime() + 1500);
    logger("sys").info("back");
    const [again] = await server.receive();
    assert.match(new TextDecoder().decode(again), /: back$/);
  } finally {
    closeLogging();
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
