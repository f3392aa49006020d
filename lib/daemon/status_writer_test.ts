import assert from "node:assert/strict";
import { StatusWriter } from "./status_writer.ts";
import { markStopped } from "./status_file.ts";
import { realTimers } from "./timers.ts";
import type { Logger } from "../log/logger.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test("markStopped() says the daemon stopped and serves no time any more", () => {
  const doc = { time: "2026-12-03T10:00:00.000Z", running: true, synchronized: true, stratum: 2 };
  assert.deepEqual(markStopped(doc), {
    time: "2026-12-03T10:00:00.000Z",
    running: false,
    stopped: "2026-12-03T10:00:00.000Z",
    synchronized: false,
    stratum: 2,
  });
  // The document it was given is not changed.
  assert.equal(doc.synchronized, true);
});

Deno.test("StatusWriter.stop() writes the last document marked stopped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-status-" });
  const path = `${dir}/status.json`;
  let n = 0;
  const w = new StatusWriter({
    path,
    intervalSec: 3600,
    timers: realTimers,
    log: quiet,
    document: () => ({ time: `t${++n}`, running: true, synchronized: true }),
  });
  try {
    w.start();
    // Real file I/O: wait for the first write (up to 5 s on a loaded machine).
    let text = "";
    for (let i = 0; i < 100 && text === ""; i++) {
      await new Promise((r) => setTimeout(r, 50));
      text = await Deno.readTextFile(path).catch(() => "");
    }
    const running = JSON.parse(text);
    assert.deepEqual([running.running, running.synchronized], [true, true]);
    await w.stop();
    const last = JSON.parse(await Deno.readTextFile(path));
    assert.equal(last.running, false);
    assert.equal(last.synchronized, false);
    assert.equal(last.stopped, last.time);
    assert.notEqual(last.time, running.time);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
