import assert from "node:assert/strict";
import {
  closeLogging,
  configureLogging,
  FileSink,
  formatNtpdLine,
  logger,
  MemorySink,
} from "./logger.ts";

Deno.test("formatNtpdLine() writes ntpd's logfile layout", () => {
  const t = Date.UTC(2026, 10, 21, 3, 4, 5);
  assert.equal(formatNtpdLine(t, "ntpd", 42, "hello"), "21 Nov 03:04:05 ntpd[42]: hello");
});

Deno.test("logger() routes messages at or above the level to every sink", () => {
  const sink = new MemorySink();
  configureLogging({ program: "ntpd", sinks: [sink], level: "info" });
  try {
    logger("sys").debug("hidden");
    logger("sys").info("shown {braces} stay");
    logger("peer").error("bad");
  } finally {
    closeLogging();
  }
  assert.equal(sink.lines.length, 2);
  assert.match(sink.lines[0]!, /ntpd\[\d+\]: shown \{braces\} stay$/);
  assert.match(sink.lines[1]!, /: bad$/);
});

Deno.test("FileSink appends one line per record to a file it creates 0644", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ntpd.log`;
    await Deno.writeTextFile(path, "earlier\n");
    const sink = new FileSink(path);
    sink.write("one");
    sink.write("two");
    sink.close();
    assert.equal(await Deno.readTextFile(path), "earlier\none\ntwo\n");
    const fresh = new FileSink(`${dir}/new.log`);
    fresh.close();
    assert.equal((await Deno.stat(`${dir}/new.log`)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSink refuses a link planted at the log file and leaves its target alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ntpd.log`;
    await Deno.writeTextFile(`${dir}/victim`, "precious\n", { mode: 0o600 });
    await Deno.symlink(`${dir}/victim`, path);
    assert.throws(() => new FileSink(path), { message: `${path} is a symbolic link (refused)` });
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "precious\n");
    assert.equal(await Deno.readLink(path), `${dir}/victim`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
