import assert from "node:assert/strict";
import { collectReport } from "./report_data.ts";

const MJD_1970 = 40_587;

/** Writes `days` daily loopstats and peerstats members from `startMjd`, `perDay` lines each. */
/** The day-set suffix of an MJD ("20251121"). */
function dayOf(mjd: number): string {
  return new Date((mjd - MJD_1970) * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "");
}

function writeDays(
  dir: string,
  startMjd: number,
  days: number,
  perDay: number,
  peers: string[],
  offsetOf = (mjd: number, i: number) => ((i % 7) - 3) * 1e-6 + (mjd - startMjd) * 1e-9,
): void {
  for (let d = 0; d < days; d++) {
    const mjd = startMjd + d;
    const date = dayOf(mjd);
    const loop: string[] = [];
    const peer: string[] = [];
    for (let i = 0; i < perDay; i++) {
      const sec = (i * 86_400 / perDay).toFixed(3);
      loop.push(`${mjd} ${sec} ${offsetOf(mjd, i).toFixed(9)} -12.345 0.000002000 0.010000 6`);
      peers.forEach((a, k) => {
        peer.push(
          `${mjd} ${sec} ${a} 9614 ${(offsetOf(mjd, i) + k * 1e-4).toFixed(9)} ${
            (0.001 * (k + 1)).toFixed(9)
          } 0.000100000 0.000010000`,
        );
      });
    }
    Deno.writeTextFileSync(`${dir}/loopstats.${date}`, loop.join("\n") + "\n");
    Deno.writeTextFileSync(`${dir}/peerstats.${date}`, peer.join("\n") + "\n");
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-report-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("collectReport() gathers loopstats and every source's peerstats over the whole span", async () => {
  await withDir(async (dir) => {
    writeDays(dir, 61000, 2, 48, ["192.0.2.1", "192.0.2.2", "2001:db8::3"]);
    // The bare name links to the newest member: read once, not twice.
    Deno.linkSync(`${dir}/loopstats.${dayOf(61001)}`, `${dir}/loopstats`);
    Deno.writeTextFileSync(`${dir}/peerstats.${dayOf(61001)}`, "garbage line\n", { append: true });
    const r = await collectReport(dir);
    assert.equal(r.files.loopstats.length, 2);
    assert.equal(r.loop.offset.sketch.count, 96);
    assert.equal(r.fromSec, (61000 - MJD_1970) * 86_400);
    assert.equal(r.toSec, (61001 - MJD_1970) * 86_400 + 86_400 * 47 / 48);
    assert.deepEqual(r.peers.map((p) => p.address), ["192.0.2.1", "192.0.2.2", "2001:db8::3"]);
    assert.equal(r.peers[1]!.delay.sketch.quantile(0.5), 0.002);
    assert.ok(Math.abs(r.loop.freq.sketch.mean + 12.345) < 1e-9);
    assert.equal(r.lines.malformed, 1);
    assert.equal(r.lines.used, 96 + 3 * 96);
    assert.ok(r.loop.offset.bins.points().length > 50);
  });
});

Deno.test("collectReport() keeps to the span and the sources asked for", async () => {
  await withDir(async (dir) => {
    writeDays(dir, 61000, 4, 24, ["192.0.2.1", "192.0.2.2"]);
    const day1 = (61001 - MJD_1970) * 86_400;
    const span = await collectReport(dir, {
      fromSec: day1,
      toSec: day1 + 86_399,
      peers: ["192.0.2.2"],
    });
    assert.equal(span.loop.offset.sketch.count, 24);
    assert.deepEqual(span.peers.map((p) => p.address), ["192.0.2.2"]);
    assert.equal(span.peers[0]!.offset.sketch.count, 24);
    const last = await collectReport(dir, { lastSec: 86_400 });
    assert.equal(last.loop.offset.sketch.count, 25); // the last day and the line a day before the end
    const none = await collectReport(dir, { fromSec: 0, toSec: 1000 });
    assert.equal(none.loop.offset.sketch.count, 0);
  });
});

Deno.test("collectReport() on an empty folder reports nothing to show", async () => {
  await withDir(async (dir) => {
    const r = await collectReport(dir);
    assert.equal(r.fromSec, null);
    assert.deepEqual(r.peers, []);
  });
});

Deno.test("collectReport() reads a year of daily files with the same bins and sketches as a day", async () => {
  await withDir(async (dir) => {
    writeDays(dir, 61000, 365, 48, ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    const r = await collectReport(dir, { bins: 600 });
    assert.equal(r.files.loopstats.length, 365);
    assert.equal(r.loop.offset.sketch.count, 365 * 48);
    assert.equal(r.peers.length, 4);
    assert.equal(r.peers[3]!.offset.sketch.count, 365 * 48);
    // Bounded: at most 600 points a plot, sketches of a few hundred bins, whatever the span.
    assert.ok(r.loop.offset.bins.points().length <= 600);
    assert.ok(r.peers.every((p) => p.offset.sketch.size < 1000 && p.delay.sketch.size < 10));
    // The drift of 1 ns/day in the offsets shows in the last bin's mean.
    const pts = r.loop.offset.bins.points();
    assert.ok(pts.at(-1)!.mean > pts[0]!.mean + 300e-9, `${pts[0]!.mean} ${pts.at(-1)!.mean}`);
  });
});

Deno.test("collectReport() stops taking new sources at maxPeers and counts what it skipped", async () => {
  await withDir(async (dir) => {
    writeDays(dir, 61000, 1, 10, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    const r = await collectReport(dir, { maxPeers: 2 });
    assert.equal(r.peers.length, 2);
    assert.equal(r.skippedPeerLines, 10);
  });
});
