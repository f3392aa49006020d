// SVG plot of a simulation run: true offset and frequency error over time, two stacked panels,
// self-contained (no scripts, no external resources) so it can be opened anywhere.

import type { SeriesPoint } from "./runner.ts";

/** Options for the plot. */
export interface PlotOptions {
  title: string;
  /** Start of the plotted range (s), e.g. the settle time; default 0. */
  fromSec?: number;
  width?: number;
  /** Most points drawn per line (the series is decimated by keeping min and max per bucket). */
  maxPoints?: number;
}

interface Panel {
  label: string;
  values: (p: SeriesPoint) => number;
  unit: string;
  scale: number;
}

/** Renders the offset (µs) and frequency error (ppm) of `series` as an SVG document. */
export function renderSvg(series: readonly SeriesPoint[], opts: PlotOptions): string {
  const width = opts.width ?? 900;
  const panelH = 220;
  const left = 80;
  const right = 20;
  const top = 40;
  const gap = 50;
  const from = opts.fromSec ?? 0;
  const pts = series.filter((p) => p.t >= from);
  const panels: Panel[] = [
    { label: "offset", values: (p) => p.offsetSec, unit: "µs", scale: 1e6 },
    { label: "frequency error", values: (p) => p.freqErrorPpm, unit: "ppm", scale: 1 },
  ];
  const height = top + panels.length * (panelH + gap);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${left}" y="22" font-size="15">${escapeXml(opts.title)}</text>`);
  if (pts.length < 2) {
    out.push(`<text x="${left}" y="${top + 20}">no data</text></svg>`);
    return out.join("\n");
  }
  const t0 = pts[0]!.t;
  const t1 = pts[pts.length - 1]!.t;
  const plotW = width - left - right;
  panels.forEach((panel, i) => {
    const y0 = top + i * (panelH + gap);
    const vals = pts.map((p) => panel.values(p) * panel.scale);
    // A loop, not Math.min(...vals): spreading a long run's series overflows the stack.
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of vals) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo < 1e-12) {
      hi += 1;
      lo -= 1;
    }
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    const xOf = (t: number) => left + (t - t0) / Math.max(1e-9, t1 - t0) * plotW;
    const yOf = (v: number) => y0 + panelH - (v - lo) / (hi - lo) * panelH;
    out.push(
      `<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#888"/>`,
    );
    for (let k = 0; k <= 4; k++) {
      const v = lo + (hi - lo) * k / 4;
      const y = yOf(v);
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${y.toFixed(1)}" y2="${
          y.toFixed(1)
        }" stroke="#eee"/>`,
      );
      out.push(
        `<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
      );
    }
    for (let k = 0; k <= 5; k++) {
      const t = t0 + (t1 - t0) * k / 5;
      out.push(
        `<text x="${xOf(t).toFixed(1)}" y="${y0 + panelH + 16}" text-anchor="middle">${
          Math.round(t)
        } s</text>`,
      );
    }
    if (lo < 0 && hi > 0) {
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${yOf(0).toFixed(1)}" y2="${
          yOf(0).toFixed(1)
        }" stroke="#aaa"/>`,
      );
    }
    out.push(
      `<text x="${left}" y="${y0 - 6}">${escapeXml(`${panel.label} (${panel.unit})`)}</text>`,
    );
    const line = decimate(pts.map((p, j) => [p.t, vals[j]!] as const), opts.maxPoints ?? 2000);
    const d = line.map(([t, v], j) =>
      `${j === 0 ? "M" : "L"}${xOf(t).toFixed(1)},${yOf(v).toFixed(1)}`
    )
      .join(" ");
    out.push(
      `<path d="${d}" fill="none" stroke="${i === 0 ? "#1f5fbf" : "#bf5f1f"}" stroke-width="1"/>`,
    );
  });
  out.push("</svg>");
  return out.join("\n");
}

function decimate(
  points: (readonly [number, number])[],
  max: number,
): (readonly [number, number])[] {
  if (points.length <= max) return points;
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = points.length / buckets;
  const out: (readonly [number, number])[] = [];
  for (let b = 0; b < buckets; b++) {
    const slice = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (slice.length === 0) continue;
    let mn = slice[0]!;
    let mx = slice[0]!;
    for (const p of slice) {
      if (p[1] < mn[1]) mn = p;
      if (p[1] > mx[1]) mx = p;
    }
    if (mn[0] <= mx[0]) out.push(mn, mx);
    else out.push(mx, mn);
  }
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
