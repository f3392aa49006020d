// `horae report`'s page, in the spirit of NTPsec's ntpviz: one self-contained HTML file (inline
// CSS and SVG, no script, nothing fetched) with the local clock's offset, frequency and jitter
// over time, each source's offset and delay over time, offset histograms, and a table of
// percentiles. Every plot carries `data-points`, the number of points it draws.

import type { QuantileSketch } from "./quantile_sketch.ts";
import type { PeerSeries, ReportData, Series } from "./report_data.ts";
import type { TimeBin } from "./time_bins.ts";

const WIDTH = 1000;
const HEIGHT = 280;
const LEFT = 78;
const RIGHT = 16;
const TOP = 30;
const BOTTOM = 40;
const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#17becf",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
];
/** Sources drawn in the per-source plots (the rest are in the table). */
export const MAX_PLOTTED_PEERS = 10;

/** Escapes text for HTML and SVG. */
export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** A display unit: values are multiplied by `scale` and shown with `name`. */
interface Unit {
  name: string;
  scale: number;
}

/** The unit that shows magnitudes up to `maxAbs` seconds as numbers below 1000. */
export function timeUnit(maxAbs: number): Unit {
  if (!(maxAbs > 0) || maxAbs >= 1) return { name: "s", scale: 1 };
  if (maxAbs >= 1e-3) return { name: "ms", scale: 1e3 };
  if (maxAbs >= 1e-6) return { name: "µs", scale: 1e6 };
  return { name: "ns", scale: 1e9 };
}

const PPM: Unit = { name: "ppm", scale: 1 };

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  if (a >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** A UTC time label, finer for shorter spans. */
export function timeLabel(t: number, spanSec: number): string {
  const d = new Date(t * 1000);
  const date = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  if (spanSec <= 600) return `${hm}:${pad2(d.getUTCSeconds())}`;
  if (spanSec <= 2 * 86_400) return hm;
  if (spanSec <= 30 * 86_400) return `${date.slice(5)} ${hm}`;
  return date;
}

/** One line of a time plot. */
interface Line {
  label: string;
  color: string;
  points: TimeBin[];
}

/**
 * The values a plot of these series needs to show: their 1–99 % range widened by twice its width
 * on each side. Beyond that (a start-up transient, a step) the plot is clipped, with a note.
 */
export function robustRange(sketches: readonly QuantileSketch[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sketches) {
    if (s.count === 0) continue;
    lo = Math.min(lo, s.quantile(0.01));
    hi = Math.max(hi, s.quantile(0.99));
  }
  const r = hi - lo;
  if (!(r > 0)) return null;
  return [lo - 2 * r, hi + 2 * r];
}

/**
 * Splits a line where the data has a gap. The usual spacing is the duration-weighted median of
 * the steps no longer than a tenth of the span (updates often come in bursts, one per source,
 * so the plain median says little); a gap is a step over three times that, and over 1/50 of the
 * span.
 */
export function segments(points: readonly TimeBin[], spanSec: number): TimeBin[][] {
  if (points.length === 0) return [];
  const steps = points.slice(1).map((p, i) => p.t - points[i]!.t).sort((a, b) => a - b);
  const short = steps.filter((d) => d <= spanSec / 10);
  const pool = short.length > 0 ? short : steps;
  const total = pool.reduce((a, b) => a + b, 0);
  let usual = 0;
  for (let acc = 0, i = 0; i < pool.length && acc < total / 2; i++) {
    usual = pool[i]!;
    acc += usual;
  }
  const gap = Math.max(spanSec / 50, 3 * usual);
  const out: TimeBin[][] = [[points[0]!]];
  for (let i = 1; i < points.length; i++) {
    if (points[i]!.t - points[i - 1]!.t > gap) out.push([]);
    out.at(-1)!.push(points[i]!);
  }
  return out;
}

/** A time plot: each line's bin means, with the min–max band of each bin behind it. */
function timePlot(
  title: string,
  lines: Line[],
  unit: Unit,
  fromSec: number,
  toSec: number,
  band: boolean,
  clip: [number, number] | null = null,
): string {
  const pw = WIDTH - LEFT - RIGHT;
  const ph = HEIGHT - TOP - BOTTOM;
  const drawn = lines.reduce((n, l) => n + l.points.length, 0);
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lines) {
    for (const p of l.points) {
      const a = (band ? p.min : p.mean) * unit.scale;
      const b = (band ? p.max : p.mean) * unit.scale;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  }
  if (!Number.isFinite(lo)) {
    lo = -1;
    hi = 1;
  }
  let clipped = false;
  if (clip !== null) {
    const [cl, ch] = [clip[0] * unit.scale, clip[1] * unit.scale];
    if (lo < cl || hi > ch) clipped = true;
    lo = Math.max(lo, cl);
    hi = Math.min(hi, ch);
  }
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    lo -= 1;
    hi += 1;
  }
  const padV = (hi - lo) * 0.05;
  lo -= padV;
  hi += padV;
  const span = Math.max(1e-6, toSec - fromSec);
  const x = (t: number) => LEFT + (t - fromSec) / span * pw;
  // Clipped values stay on the frame's edge.
  const y = (v: number) =>
    TOP + ph - Math.max(0, Math.min(1, (v * unit.scale - lo) / (hi - lo))) * ph;
  const out: string[] = [
    `<svg class="plot" data-points="${drawn}" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" ` +
    `height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${
      escapeHtml(title)
    }">`,
    `<rect x="${LEFT}" y="${TOP}" width="${pw}" height="${ph}" class="frame"/>`,
  ];
  for (const v of niceTicks(lo, hi)) {
    const yy = TOP + ph - (v - lo) / (hi - lo) * ph;
    out.push(
      `<line x1="${LEFT}" x2="${LEFT + pw}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" class="${
        v === 0 ? "zero" : "grid"
      }"/>`,
      `<text x="${LEFT - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${fmtNum(v)}</text>`,
    );
  }
  for (let k = 0; k <= 5; k++) {
    const t = fromSec + span * k / 5;
    out.push(
      `<text x="${x(t).toFixed(1)}" y="${TOP + ph + 16}" text-anchor="${
        k === 0 ? "start" : k === 5 ? "end" : "middle"
      }">${timeLabel(t, span)}</text>`,
    );
  }
  out.push(
    `<text x="${LEFT}" y="${TOP - 10}" class="title">${escapeHtml(title)} (${unit.name})</text>`,
    `<text x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end" class="note">UTC${
      clipped ? "; values far outside the 1–99 % range are drawn on the edge" : ""
    }</text>`,
  );
  for (const l of lines) {
    if (l.points.length === 0) continue;
    // A gap in the data well beyond its usual spacing breaks the line; a point standing
    // alone is drawn as a dot.
    for (const seg of segments(l.points, span)) {
      if (band && seg.length > 1) {
        const upper = seg.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
        const lower = seg.map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
        out.push(
          `<polygon points="${[...upper, ...lower].join(" ")}" fill="${l.color}" ` +
            `fill-opacity="0.15" stroke="none"/>`,
        );
      }
      if (seg.length === 1) {
        const p = seg[0]!;
        out.push(
          `<circle cx="${x(p.t).toFixed(1)}" cy="${
            y(p.mean).toFixed(1)
          }" r="2" fill="${l.color}"/>`,
        );
        continue;
      }
      const d = seg.map((p, i) =>
        `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.mean).toFixed(1)}`
      )
        .join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.3"/>`);
    }
  }
  out.push("</svg>");
  return out.join("\n");
}

/**
 * The range a histogram shows: the 0.5–99.5 % quantiles, narrowed to the median ± 3 × the 90 %
 * range, so that a start-up transient of a few samples does not squeeze the rest into one bar.
 */
export function histogramRange(sketch: QuantileSketch): [number, number] {
  const mid = sketch.quantile(0.5);
  const spread = 3 * (sketch.quantile(0.95) - sketch.quantile(0.05));
  return [
    Math.max(sketch.quantile(0.005), mid - spread),
    Math.min(sketch.quantile(0.995), mid + spread),
  ];
}

/** A histogram of a sketch over {@link histogramRange}, in 10 to 60 bars (2√n). */
function histogram(title: string, sketch: QuantileSketch, unit: Unit, color: string): string {
  const bars = Math.min(60, Math.max(10, Math.round(2 * Math.sqrt(sketch.count))));
  const pw = WIDTH / 2 - LEFT - RIGHT;
  const w = WIDTH / 2;
  const ph = HEIGHT - TOP - BOTTOM;
  let [lo, hi] = histogramRange(sketch);
  if (!(hi > lo)) {
    const c = Number.isFinite(lo) ? lo : 0;
    const d = Math.max(Math.abs(c) * 0.01, 1e-9);
    lo = c - d;
    hi = c + d;
  }
  const counts = new Array<number>(bars).fill(0);
  let outside = 0;
  for (const [a, b, n] of sketch.bins()) {
    const mid = (a + b) / 2;
    if (mid < lo || mid > hi) {
      outside += n;
      continue;
    }
    counts[Math.min(bars - 1, Math.floor((mid - lo) / (hi - lo) * bars))]! += n;
  }
  const top = Math.max(1, ...counts);
  const drawn = counts.filter((c) => c > 0).length;
  const out: string[] = [
    `<svg class="plot histogram" data-points="${drawn}" xmlns="http://www.w3.org/2000/svg" ` +
    `width="${w}" height="${HEIGHT}" viewBox="0 0 ${w} ${HEIGHT}" role="img" aria-label="${
      escapeHtml(title)
    }">`,
    `<rect x="${LEFT}" y="${TOP}" width="${pw}" height="${ph}" class="frame"/>`,
    `<text x="${LEFT}" y="${TOP - 10}" class="title">${escapeHtml(title)} (${unit.name})</text>`,
  ];
  const bw = pw / bars;
  counts.forEach((c, i) => {
    if (c === 0) return;
    const h = c / top * ph;
    out.push(
      `<rect x="${(LEFT + i * bw).toFixed(1)}" y="${(TOP + ph - h).toFixed(1)}" width="${
        Math.max(0.5, bw - 0.5).toFixed(1)
      }" height="${h.toFixed(1)}" fill="${color}"/>`,
    );
  });
  for (const v of niceTicks(lo * unit.scale, hi * unit.scale, 4)) {
    const xx = LEFT + (v / unit.scale - lo) / (hi - lo) * pw;
    if (xx < LEFT - 1 || xx > LEFT + pw + 1) continue;
    out.push(
      `<text x="${xx.toFixed(1)}" y="${TOP + ph + 16}" text-anchor="middle">${fmtNum(v)}</text>`,
    );
  }
  out.push(
    `<text x="${LEFT - 6}" y="${TOP + 10}" text-anchor="end">${top}</text>`,
    `<text x="${LEFT - 6}" y="${TOP + ph}" text-anchor="end">0</text>`,
  );
  if (outside > 0) {
    out.push(
      `<text x="${LEFT + pw}" y="${
        HEIGHT - 6
      }" text-anchor="end" class="note">${outside} outside the range shown</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}

/** A row of the percentile table. */
function summaryRow(name: string, s: QuantileSketch, unit: Unit): string {
  const q = (p: number) => fmtNum(s.quantile(p) * unit.scale);
  const cells = [
    escapeHtml(name),
    unit.name,
    String(s.count),
    fmtNum(s.min * unit.scale),
    q(0.01),
    q(0.05),
    q(0.5),
    q(0.95),
    q(0.99),
    fmtNum(s.max * unit.scale),
    fmtNum((s.quantile(0.95) - s.quantile(0.05)) * unit.scale),
    fmtNum((s.quantile(0.99) - s.quantile(0.01)) * unit.scale),
    fmtNum(s.mean * unit.scale),
    fmtNum(s.std * unit.scale),
  ];
  return `<tr>${cells.map((c, i) => i < 2 ? `<th>${c}</th>` : `<td>${c}</td>`).join("")}</tr>`;
}

function unitOf(s: Series): Unit {
  return timeUnit(Math.max(Math.abs(s.sketch.quantile(0.01)), Math.abs(s.sketch.quantile(0.99))));
}

function peerUnit(peers: PeerSeries[], pick: (p: PeerSeries) => Series): Unit {
  let m = 0;
  for (const p of peers) {
    const s = pick(p).sketch;
    m = Math.max(m, Math.abs(s.quantile(0.01)), Math.abs(s.quantile(0.99)));
  }
  return timeUnit(m);
}

/** Options of {@link renderReport}. */
export interface RenderOptions {
  title?: string;
  /** When the report was made (Unix seconds), for the page's header. */
  generatedSec?: number;
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}

/** The whole page. */
export function renderReport(data: ReportData, opts: RenderOptions = {}): string {
  const title = opts.title ?? "Horae statistics report";
  const from = data.fromSec ?? 0;
  const to = data.toSec ?? 1;
  const loop = data.loop;
  const body: string[] = [];
  body.push(`<h1>${escapeHtml(title)}</h1>`);
  const span = data.fromSec === null
    ? "no statistics in this folder"
    : `${iso(from)} to ${iso(to)} (${fmtNum((to - from) / 3600)} h)`;
  body.push(
    `<p class="meta">${
      escapeHtml(data.dir)
    }: ${span}. ${data.files.loopstats.length} loopstats and ` +
      `${data.files.peerstats.length} peerstats files, ${data.lines.used} lines used` +
      `${data.lines.malformed > 0 ? `, ${data.lines.malformed} malformed lines skipped` : ""}` +
      `${
        data.skippedPeerLines > 0
          ? `, ${data.skippedPeerLines} lines of further sources skipped`
          : ""
      }` +
      `${opts.generatedSec !== undefined ? `. Made ${iso(opts.generatedSec)}` : ""}.</p>`,
  );
  const plotted = data.peers.slice(0, MAX_PLOTTED_PEERS);
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const figures: [string, string, string][] = [];
  const offUnit = unitOf(loop.offset);
  figures.push([
    "loop-offset",
    "Local clock offset",
    timePlot(
      "Local clock offset (loopstats)",
      [{
        label: "offset",
        color: color(0),
        points: loop.offset.bins.points(),
      }],
      offUnit,
      from,
      to,
      true,
      robustRange([loop.offset.sketch]),
    ),
  ]);
  figures.push([
    "loop-frequency",
    "Local clock frequency",
    timePlot(
      "Frequency correction (loopstats)",
      [{
        label: "frequency",
        color: color(1),
        points: loop.freq.bins.points(),
      }],
      PPM,
      from,
      to,
      true,
      robustRange([loop.freq.sketch]),
    ),
  ]);
  figures.push([
    "loop-jitter",
    "Local clock jitter",
    timePlot(
      "Clock jitter (loopstats)",
      [{
        label: "jitter",
        color: color(2),
        points: loop.jitter.bins.points(),
      }],
      unitOf(loop.jitter),
      from,
      to,
      true,
      robustRange([loop.jitter.sketch]),
    ),
  ]);
  const legend = plotted.map((p, i) =>
    `<span class="key" style="--c:${color(i)}">${escapeHtml(p.address)}</span>`
  ).join(" ");
  figures.push([
    "peer-offset",
    "Source offsets",
    timePlot(
      "Offset of each source (peerstats)",
      plotted.map((p, i) => ({
        label: p.address,
        color: color(i),
        points: p.offset.bins.points(),
      })),
      peerUnit(plotted, (p) => p.offset),
      from,
      to,
      false,
      robustRange(plotted.map((p) => p.offset.sketch)),
    ) + `<div class="legend">${legend}</div>`,
  ]);
  figures.push([
    "peer-delay",
    "Source delays",
    timePlot(
      "Round-trip delay of each source (peerstats)",
      plotted.map((p, i) => ({ label: p.address, color: color(i), points: p.delay.bins.points() })),
      peerUnit(plotted, (p) => p.delay),
      from,
      to,
      false,
      robustRange(plotted.map((p) => p.delay.sketch)),
    ) + `<div class="legend">${legend}</div>`,
  ]);
  const hists = [
    histogram("Local clock offset", loop.offset.sketch, offUnit, color(0)),
    ...plotted.map((p, i) =>
      histogram(`Offset of ${p.address}`, p.offset.sketch, unitOf(p.offset), color(i))
    ),
  ];
  for (const [id, name, svg] of figures) {
    body.push(`<section id="${id}"><h2>${escapeHtml(name)}</h2>${svg}</section>`);
  }
  body.push(
    `<section id="histograms"><h2>Offset histograms</h2><div class="grid">${
      hists.join("\n")
    }</div></section>`,
  );
  const rows = [
    summaryRow("local clock offset", loop.offset.sketch, offUnit),
    summaryRow("frequency", loop.freq.sketch, PPM),
    summaryRow("clock jitter", loop.jitter.sketch, unitOf(loop.jitter)),
    summaryRow("frequency wander", loop.wander.sketch, PPM),
    ...data.peers.flatMap((p) => [
      summaryRow(`${p.address} offset`, p.offset.sketch, unitOf(p.offset)),
      summaryRow(`${p.address} delay`, p.delay.sketch, unitOf(p.delay)),
      summaryRow(`${p.address} jitter`, p.jitter.sketch, unitOf(p.jitter)),
    ]),
  ];
  body.push(
    `<section id="summary"><h2>Summary</h2><table><thead><tr><th>series</th><th>unit</th>` +
      `<th>samples</th><th>min</th><th>1 %</th><th>5 %</th><th>50 %</th><th>95 %</th>` +
      `<th>99 %</th><th>max</th><th>90 % range</th><th>98 % range</th><th>mean</th>` +
      `<th>std dev</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>` +
      `<p class="note">Percentiles within 1 % of the value (streaming quantile sketch).</p></section>`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.meta, .note { color: #555; font-size: 0.9em; }
svg.plot { display: block; font-size: 12px; background: #fff; }
svg .frame { fill: none; stroke: #888; } svg .grid { stroke: #eee; } svg .zero { stroke: #aaa; }
svg .title { font-size: 14px; font-weight: bold; } svg .note { fill: #666; font-size: 11px; }
.grid { display: flex; flex-wrap: wrap; }
.legend { margin: 0.3em 0 0 78px; font-size: 0.9em; }
.key::before { content: ""; display: inline-block; width: 1.4em; height: 0.25em;
  background: var(--c); margin: 0 0.3em 0.2em 0.8em; vertical-align: middle; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; } td { text-align: right; }
thead th { background: #f2f2f2; } tbody th { text-align: left; font-weight: normal; }
</style>
</head>
<body>
${body.join("\n")}
</body>
</html>
`;
}
