import assert from "node:assert/strict";
import { collectReport } from "./report_data.ts";
import {
  escapeHtml,
  niceTicks,
  renderReport,
  robustRange,
  segments,
  timeLabel,
  timeUnit,
} from "./report_html.ts";
import { QuantileSketch } from "./quantile_sketch.ts";

/** The plots of a page: each <svg class="plot..."> with its data-points count and its body. */
function plots(html: string): { points: number; svg: string }[] {
  return [...html.matchAll(/<svg class="plot[^"]*" data-points="(\d+)"[\s\S]*?<\/svg>/g)].map((
    m,
  ) => ({
    points: Number(m[1]),
    svg: m[0],
  }));
}

async function sampleDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "horae-html-" });
  const loop: string[] = [];
  const peer: string[] = [];
  for (let i = 0; i < 200; i++) {
    const sec = (i * 60).toFixed(3);
    const off = Math.sin(i / 10) * 20e-6;
    loop.push(`61000 ${sec} ${off.toFixed(9)} ${(-3 + i * 1e-3).toFixed(3)} 0.000005 0.002 6`);
    peer.push(`61000 ${sec} 192.0.2.1 9614 ${(off + 1e-5).toFixed(9)} 0.000200000 0.0001 0.00001`);
    peer.push(`61000 ${sec} 192.0.2.2 9414 ${(off - 2e-5).toFixed(9)} 0.000300000 0.0001 0.00001`);
  }
  Deno.writeTextFileSync(`${dir}/loopstats.20251120`, loop.join("\n") + "\n");
  Deno.writeTextFileSync(`${dir}/peerstats.20251120`, peer.join("\n") + "\n");
  return dir;
}

Deno.test("renderReport() draws every plot with data: offset, frequency, jitter, sources, histograms", async () => {
  const dir = await sampleDir();
  try {
    const html = renderReport(await collectReport(dir), { title: "Test <page>", generatedSec: 0 });
    const p = plots(html);
    // 3 loop plots, source offset and delay, histograms of the loop and of each source.
    assert.equal(p.length, 3 + 2 + 3);
    for (const x of p) {
      assert.ok(x.points > 0, x.svg.slice(0, 200));
      assert.match(
        x.svg,
        /<path d="M[\d.]+,[\d.]+ L|<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#/,
      );
    }
    for (
      const id of [
        "loop-offset",
        "loop-frequency",
        "loop-jitter",
        "peer-offset",
        "peer-delay",
        "histograms",
        "summary",
      ]
    ) {
      assert.match(html, new RegExp(`<section id="${id}">`));
    }
    // Self-contained: no script, nothing loaded from elsewhere; the title is escaped.
    assert.doesNotMatch(html, /<script|<link|<img|src=|url\(/i);
    assert.match(html, /<title>Test &lt;page&gt;<\/title>/);
    // The summary's median of the loop offset (µs) and a source's delay (µs).
    assert.match(
      html,
      /<th>192\.0\.2\.2 delay<\/th><th>µs<\/th><td>200<\/td>(<td>[^<]*<\/td>){3}<td>300\.0<\/td>/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderReport() of an empty folder says so and still writes a page", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const html = renderReport(await collectReport(dir));
    assert.match(html, /no statistics in this folder/);
    assert.ok(plots(html).every((p) => p.points === 0));
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("report helpers: units, ticks, labels, escaping, the clipping range", () => {
  assert.deepEqual(timeUnit(3e-5), { name: "µs", scale: 1e6 });
  assert.deepEqual(timeUnit(0.2), { name: "ms", scale: 1e3 });
  assert.deepEqual(timeUnit(4e-10), { name: "ns", scale: 1e9 });
  assert.deepEqual(niceTicks(-3, 7), [-2, 0, 2, 4, 6]);
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(timeLabel(Date.UTC(2026, 2, 1, 13, 5, 9) / 1000, 3600), "13:05");
  assert.equal(timeLabel(Date.UTC(2026, 2, 1, 13, 5, 9) / 1000, 7 * 86400), "03-01 13:05");
  assert.equal(timeLabel(Date.UTC(2026, 2, 1, 13, 5, 9) / 1000, 90 * 86400), "2026-03-01");
  assert.equal(escapeHtml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  const s = new QuantileSketch();
  for (let i = 0; i < 1000; i++) s.add(i < 5 ? -0.1 : (i % 10) * 1e-6);
  const [lo, hi] = robustRange([s])!;
  assert.ok(lo > -0.001 && hi < 0.001, `${lo} ${hi}`); // the 5 transient samples are clipped
});

Deno.test("segments() breaks a line only at gaps well beyond its usual spacing", () => {
  const pt = (t: number) => ({ t, count: 1, mean: 0, min: 0, max: 0 });
  // Sparse but regular (every 16 s over 100 s): one line, not a row of lone points.
  assert.deepEqual(segments([0, 16, 32, 48, 64].map(pt), 100).map((s) => s.length), [5]);
  // A long silence in the middle splits it.
  assert.deepEqual(
    segments([0, 10, 20, 30, 500, 510, 520].map(pt), 1000).map((s) => s.length),
    [4, 3],
  );
  // Bursts (three sources answering within a second, every 16 s): one line.
  const bursts = Array.from({ length: 15 }, (_, i) => [i * 16, i * 16 + 0.2, i * 16 + 0.3]).flat();
  assert.deepEqual(segments(bursts.map(pt), 240).map((s) => s.length), [45]);
  assert.deepEqual(segments([pt(5)], 10).map((s) => s.length), [1]);
  assert.deepEqual(segments([], 10), []);
});
