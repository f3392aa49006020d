import assert from "node:assert/strict";
import { eventText, statsPath, StatsWriter } from "./stats_writer.ts";
import { fromUnix, type NtpTime } from "../proto/ntp_time.ts";
import { type Action, PeerEvent, SystemEvent } from "../proto/events.ts";
import type { SysStatsSnapshot } from "../proto/sys_stats.ts";
import type { Logger } from "../log/logger.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

// 2026-03-01 12:00:00 UTC is MJD 61100, 43200 s past midnight.
const NOON = fromUnix(Date.UTC(2026, 2, 1, 12) / 1000);
const PEER = { family: 4 as const, address: "192.0.2.7", port: 123 };

function read(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "");
}

async function withDir(fn: (dir: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-stats-" });
  try {
    fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function counters(received: number, kisses: number, sinceResetSec: number): SysStatsSnapshot {
  return {
    sinceRestartSec: sinceResetSec,
    sinceResetSec,
    received,
    processed: received - 1,
    currentVersion: received - 2,
    oldVersion: 1,
    badVersion: 0,
    accessDenied: 0,
    badFormat: 1,
    badAuth: 0,
    rateExceeded: 0,
    declined: 0,
    kissesSent: kisses,
    drops: {} as SysStatsSnapshot["drops"],
  };
}

Deno.test("statsPath() joins statsdir and the file name as ntpd does", () => {
  assert.equal(statsPath(null, "loopstats"), "loopstats");
  assert.equal(statsPath("/var/log/ntpstats", "loopstats"), "/var/log/ntpstats/loopstats");
  assert.equal(statsPath("/var/log/ntpstats/", "peer/x"), "/var/log/ntpstats/peer/x");
});

Deno.test("StatsWriter writes the core's records to the enabled statistics only", async () => {
  await withDir((dir) => {
    const w = new StatsWriter({
      statsDir: dir,
      enabled: ["loopstats", "peerstats", "protostats"],
      filegens: [{ name: "peerstats", file: "peers", type: "none", link: true }],
    }, { log: quiet, pid: 1, startedAt: NOON, addressOf: (id) => id === 3 ? PEER.address : null });
    const at: NtpTime = NOON;
    const actions: Action[] = [
      { type: "event", scope: "peer", assocId: 3, code: PeerEvent.REACH, message: "reachable" },
      {
        type: "stats",
        record: {
          kind: "peerstats",
          at,
          assocId: 3,
          address: PEER,
          statusByte: 0x94,
          offsetSec: 0.00125,
          delaySec: 0.0005,
          dispersionSec: 0.0001,
          jitterSec: 0.00002,
        },
      },
      {
        type: "stats",
        record: {
          kind: "rawstats",
          at,
          assocId: 3,
          source: PEER,
          destination: null,
          t1: at,
          t2: at,
          t3: at,
          t4: at,
          leap: 0,
          version: 4,
          mode: 4,
          stratum: 2,
          pollLog2: 6,
          precisionLog2: -20,
          rootDelaySec: 0,
          rootDispersionSec: 0,
          refid: 0,
        },
      },
      { type: "setStatus", synchronized: true, leap: 0, stratum: 3, refid: 0 },
      { type: "event", scope: "system", assocId: 0, code: SystemEvent.SYNC, message: "clock_sync" },
      {
        type: "stats",
        record: {
          kind: "loopstats",
          at,
          offsetSec: -0.0001,
          freqPpm: -12.5,
          jitterSec: 0.00003,
          wanderPpm: 0.002,
          pollLog2: 6,
        },
      },
    ];
    w.onActions(actions, at);
    w.close();
    assert.deepEqual(read(`${dir}/peers`), [
      "61100 43200.000 192.0.2.7 9414 0.001250000 0.000500000 0.000100000 0.000020000",
    ]);
    assert.deepEqual(read(`${dir}/loopstats.20260301`), [
      "61100 43200.000 -0.000100000 -12.500 0.000030000 0.002000 6",
    ]);
    assert.deepEqual(read(`${dir}/protostats.20260301`), [
      "61100 43200.000 192.0.2.7 8014 84 reachable",
      "61100 43200.000 0.0.0.0 0615 05 clock_sync",
    ]);
    // rawstats is not enabled: no file at all.
    assert.throws(() => Deno.statSync(`${dir}/rawstats.20260301`), Deno.errors.NotFound);
    assert.deepEqual(Object.keys(w.counts()).sort(), ["loopstats", "peerstats", "protostats"]);
  });
});

Deno.test("StatsWriter.sysstats() writes the growth of the counters since the previous line", async () => {
  await withDir((dir) => {
    const w = new StatsWriter({ statsDir: dir, enabled: ["sysstats"] }, {
      log: quiet,
      pid: 1,
      startedAt: NOON,
    });
    w.sysstats(NOON, counters(100, 2, 3600));
    w.sysstats(NOON + (3600n << 32n), counters(250, 5, 7200));
    w.close();
    assert.deepEqual(read(`${dir}/sysstats.20260301`), [
      "61100 43200.000 3600 100 99 98 1 0 1 0 0 0 2",
      "61100 46800.000 3600 150 150 150 0 0 0 0 0 0 3",
    ]);
  });
});

Deno.test("StatsWriter writes nothing when no statistics are enabled", async () => {
  await withDir((dir) => {
    const w = new StatsWriter({ statsDir: dir, enabled: [] }, {
      log: quiet,
      pid: 1,
      startedAt: NOON,
    });
    w.clockstats(NOON, "127.127.1.0", "hello");
    w.sysstats(NOON, counters(1, 0, 1));
    w.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("StatsWriter age sets count the daemon's running time", async () => {
  await withDir((dir) => {
    const w = new StatsWriter({
      statsDir: dir,
      enabled: ["clockstats"],
      filegens: [{ name: "clockstats", file: "", type: "age", link: false }],
    }, { log: quiet, pid: 1, startedAt: NOON });
    w.clockstats(NOON + (10n << 32n), "127.127.20.0", "$GPRMC,1");
    w.clockstats(NOON + (86_410n << 32n), "127.127.20.0", "$GPRMC,2\r\n");
    w.close();
    assert.deepEqual(read(`${dir}/clockstats.a00000000`), [
      "61100 43210.000 127.127.20.0 $GPRMC,1",
    ]);
    assert.deepEqual(read(`${dir}/clockstats.a00086400`), [
      "61101 43210.000 127.127.20.0 $GPRMC,2??",
    ]);
  });
});

Deno.test("eventText() keeps the event's name first and drops the source's name", () => {
  assert.equal(eventText("reachable", "ntp1.example reachable"), "reachable");
  assert.equal(
    eventText("access_denied", "192.0.2.1 access_denied (DENY)"),
    "access_denied (DENY)",
  );
  assert.equal(eventText("spike_detect", "spike_detect +1.500000 s"), "spike_detect +1.500000 s");
  assert.equal(eventText("clock_step", "time reset +0.2 s"), "clock_step time reset +0.2 s");
  assert.equal(eventText("clock_sync", "clock_sync"), "clock_sync");
});
