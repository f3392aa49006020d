import assert from "node:assert/strict";
import { renderSvg } from "./svg_plot.ts";
import type { SeriesPoint } from "./runner.ts";

const series: SeriesPoint[] = Array.from({ length: 10_000 }, (_, t) => ({
  t,
  offsetSec: 1e-5 * Math.sin(t / 300),
  freqErrorPpm: 0.01 * Math.cos(t / 500),
  freqCorrectionPpm: -100,
}));

Deno.test("renderSvg() draws two decimated panels with a title and axis labels", () => {
  const svg = renderSvg(series, { title: "a <test> & title", fromSec: 100, maxPoints: 500 });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("a &lt;test&gt; &amp; title"));
  assert.ok(svg.includes("offset (µs)") && svg.includes("frequency error (ppm)"));
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)];
  assert.equal(paths.length, 2);
  for (const p of paths) {
    const n = p[1]!.split(" ").length;
    assert.ok(n <= 500 && n > 100, `${n} points`);
  }
});

Deno.test("renderSvg() says so when there is nothing to draw", () => {
  assert.ok(renderSvg([], { title: "empty" }).includes("no data"));
});

Deno.test("renderSvg() plots a series longer than a spread argument list can hold", () => {
  const long: SeriesPoint[] = Array.from({ length: 300_000 }, (_, t) => ({
    t,
    offsetSec: t === 123_456 ? 2e-3 : 0,
    freqErrorPpm: 0,
    freqCorrectionPpm: 0,
  }));
  const svg = renderSvg(long, { title: "long" });
  assert.equal([...svg.matchAll(/<path d="/g)].length, 2);
  // The axis reaches the lone 2 ms spike (labels in µs, 5% padding above it).
  assert.ok(svg.includes(">2100<"), "top axis label 2100 µs");
});
