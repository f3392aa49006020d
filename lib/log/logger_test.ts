import assert from "node:assert/strict";
import { closeLogging, configureLogging, formatNtpdLine, logger, MemorySink } from "./logger.ts";

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
