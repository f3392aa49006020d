import assert from "node:assert/strict";
import { fromUnix } from "../proto/ntp_time.ts";
import { unsynchronisedState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import type { DaemonStatus } from "./daemon.ts";
import { isoTime, refidText, statusDocument, writeStatusFile } from "./status_file.ts";

const NOW = fromUnix(1_800_000_000);

function status(over: Partial<DaemonStatus> = {}): DaemonStatus {
  return {
    state: unsynchronisedState(-20),
    sysstats: SysStats.create(1, 1_800_000_000).snapshot(1_800_000_000),
    server: { replied: 0, cryptoNak: 0 },
    mru: {
      monitoring: true,
      bytes: 1 << 20,
      discard: { averageLog2: 3, minimumSec: 2, monitorSec: 3000 },
      entries: 0,
      capacity: 12286,
      added: 0,
      recycled: 0,
      notRecorded: 0,
      busy: 0,
      kisses: 0,
      kissesSuppressed: 0,
    },
    serverThreads: [],
    listening: [{ family: 4, address: "127.0.0.1", port: 123 }],
    kernelTimestamps: [true],
    dropping: [],
    interfaceDropped: 0,
    driftPpm: null,
    system: null,
    observe: null,
    systemClockOffsetSec: null,
    timekeeper: null,
    source: "none",
    sources: [],
    eventLoop: null,
    ...over,
  };
}

function assoc(id: number, address: string) {
  return {
    id,
    address: { family: 4 as const, address, port: 123 },
    name: null,
    kind: "server" as const,
    reach: 0o377,
    pollLog2: 4,
    pollSec: 16,
    hostPollLog2: 4,
    server: {
      leap: 0,
      stratum: 2,
      precisionLog2: -20,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: 0x47505300,
      referenceTime: NOW,
      pollLog2: 4,
    },
    offsetSec: 1e-5,
    estimateOffsetSec: 2e-5,
    delaySec: 2e-4,
    dispersionSec: 1e-3,
    jitterSec: Infinity,
    sent: 9,
    received: 8,
    rejected: { bogus_origin: 2 },
    kod: 0,
    dead: false,
    keyId: 0,
    authentic: false,
  };
}

Deno.test("statusDocument() of an unsynchronised server without a core", () => {
  const doc = statusDocument(status(), NOW);
  assert.equal(doc.synchronized, false);
  assert.equal(doc.stratum, 16);
  assert.equal(doc.refid, "INIT");
  assert.equal(doc.referenceTime, null);
  assert.equal(doc.systemPeer, null);
  assert.deepEqual(doc.associations, []);
  assert.equal(doc.time, "2027-01-15T08:00:00.000Z");
});

Deno.test("statusDocument() tallies associations like ntpq and keeps reject counters", () => {
  const system = {
    leap: 0,
    stratum: 3,
    precisionLog2: -20,
    rootDelaySec: 0,
    rootDispersionSec: 0,
    refid: 0x7f000002,
    referenceTime: NOW,
    systemPeer: 1,
    offsetSec: 1e-5,
    sysJitterSec: 1e-5,
    freqPpm: 1.5,
    state: "SYNC" as const,
    survivors: [1, 2],
    falsetickers: [3],
    counters: { received: 10, noAssociation: 0, clockUpdates: 4, noMajority: 0 },
    discipline: "horae" as const,
    pollLog2: 6,
    leapStatus: {
      pending: 1 as const,
      atNtpSec: 3_944_678_400,
      armed: 0 as const,
      source: "leapfile" as const,
    },
    associations: [assoc(1, "127.0.0.2"), assoc(2, "127.0.0.3"), assoc(3, "127.0.0.5"), {
      ...assoc(4, "127.0.0.6"),
      server: null,
      reach: 0,
    }],
  };
  const doc = statusDocument(
    status({
      state: { ...unsynchronisedState(-20), leap: 0, stratum: 3, refid: 0x7f000002 },
      system,
      source: "network",
      systemClockOffsetSec: 1e-4,
    }),
    NOW,
  ) as { associations: Record<string, unknown>[] } & Record<string, unknown>;
  assert.equal(doc.synchronized, true);
  assert.equal(doc.refid, "127.0.0.2");
  assert.deepEqual(doc.systemPeer, { id: 1, address: "127.0.0.2" });
  assert.deepEqual(doc.associations.map((a) => a.tally), ["*", "+", "x", " "]);
  assert.equal(doc.associations[0]!.reach, "377");
  assert.equal(doc.associations[0]!.refid, "71.80.83.0", "stratum 2: an address");
  assert.equal(doc.associations[0]!.jitterSec, null, "Infinity is not JSON");
  assert.deepEqual(doc.associations[0]!.rejected, { bogus_origin: 2 });
  assert.equal(doc.associations[3]!.stratum, null);
  assert.equal(doc.format, 2);
  // The offsets an operator reads: the system clock's, then each server's from the system
  // clock; the discipline's last input and ntpq's filter offset under their own names.
  assert.equal(doc.offsetSec, 1e-4);
  assert.equal(doc.systemClockOffsetSec, 1e-4);
  assert.equal(doc.lastOffsetSec, 1e-5);
  assert.ok(Math.abs((doc.associations[0]!.offsetSec as number) - 1.2e-4) < 1e-12);
  assert.equal(doc.associations[0]!.filterOffsetSec, 1e-5);
  assert.equal(doc.systemPollLog2, 6);
  assert.equal(doc.discipline, "horae");
  assert.equal(doc.loopState, "SYNC");
  assert.deepEqual(doc.leapSecond, {
    pending: 1,
    armed: 0,
    source: "leapfile",
    at: "2025-01-01T00:00:00.000Z",
  });
  JSON.parse(JSON.stringify(doc));
});

Deno.test("writeStatusFile() replaces the file atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeStatusFile(`${dir}/s.json`, { a: 1 });
    await writeStatusFile(`${dir}/s.json`, { a: 2 });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/s.json`)), { a: 2 });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeStatusFile() refuses a link planted at its path and never writes through it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/st.json`;
    await Deno.writeTextFile(`${dir}/victim`, "precious\n", { mode: 0o600 });
    await Deno.symlink(`${dir}/victim`, path);
    await Deno.symlink(`${dir}/victim`, `${path}.TEMP`); // the old fixed temporary name
    await assert.rejects(
      () => writeStatusFile(path, { a: 1 }),
      { message: `${path} is a symbolic link (refused)` },
    );
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "precious\n");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["st.json", "st.json.TEMP", "victim"],
    );
    await Deno.remove(path);
    await writeStatusFile(path, { a: 2 });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { a: 2 });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "precious\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("refidText() shows text for stratum 0, 1 and 16 and an address above", () => {
  assert.equal(refidText(0x494e4954, 16), "INIT");
  assert.equal(refidText(0x47505300, 1), "GPS");
  assert.equal(refidText(0x7f000002, 3), "127.0.0.2");
});

Deno.test("isoTime() says null for a zero time", () => {
  assert.equal(isoTime(0n), null);
  assert.equal(isoTime(NOW), "2027-01-15T08:00:00.000Z");
});

Deno.test("statusDocument() lists the per-thread server counters", () => {
  const threads = [
    {
      thread: 0,
      running: true,
      restarts: 0,
      received: 5,
      replied: 4,
      dropped: 1,
      forwarded: 2,
      forwardDropped: 0,
    },
    {
      thread: 1,
      running: true,
      restarts: 1,
      received: 7,
      replied: 7,
      dropped: 0,
      forwarded: 2,
      forwardDropped: 0,
    },
  ];
  const doc = JSON.parse(JSON.stringify(statusDocument(status({ serverThreads: threads }), NOW)));
  assert.deepEqual(doc.serverThreads, threads);
});

Deno.test("statusDocument() shows sysstats, the MRU list and interface drops", () => {
  const stats = SysStats.create(2, 1_800_000_000);
  const c = stats.counters(1);
  c.received();
  c.version(true);
  c.dropped("rate_limited");
  c.kissSent();
  c.received();
  c.processed();
  const doc = JSON.parse(JSON.stringify(statusDocument(
    status({
      sysstats: stats.snapshot(1_800_000_060),
      dropping: [{ family: 4, address: "192.0.2.1", port: 123 }],
      interfaceDropped: 7,
    }),
    NOW,
  )));
  assert.equal(doc.sysstats.sinceRestartSec, 60);
  assert.equal(doc.sysstats.received, 2);
  assert.equal(doc.sysstats.processed, 1);
  assert.equal(doc.sysstats.rateExceeded, 1);
  assert.equal(doc.sysstats.kissesSent, 1);
  assert.equal(doc.sysstats.drops.rate_limited, 1);
  assert.equal(doc.mru.capacity, 12286);
  assert.equal(doc.mru.monitoring, true);
  assert.deepEqual(doc.dropping, [{ address: "192.0.2.1", port: 123 }]);
  assert.equal(doc.interfaceDropped, 7);
});
