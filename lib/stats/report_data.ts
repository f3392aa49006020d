// What `horae report` shows, gathered from a statistics folder in two streaming passes: the
// time span from each file's first and last lines, then every loopstats and peerstats line of
// that span into fixed-size time bins and quantile sketches. Memory depends on the number of
// sources and plot bins, not on how many files or lines there are: a year of daily files is
// read like a day of them.

import { QuantileSketch } from "./quantile_sketch.ts";
import {
  fileTimeSpan,
  lineTime,
  type LoopLine,
  parseLoopstatsLine,
  parsePeerstatsLine,
  type PeerLine,
  type ReadCounts,
  readLines,
  statsFiles,
} from "./stats_reader.ts";
import { TimeBins } from "./time_bins.ts";

/** Which part of the statistics to show. */
export interface ReportOptions {
  /** Start of the span (Unix seconds), or null: from the first line. */
  fromSec?: number | null;
  /** End of the span (Unix seconds), or null: to the last line. */
  toSec?: number | null;
  /** Only the last this many seconds before the end. */
  lastSec?: number | null;
  /** Only these source addresses (none: all). */
  peers?: readonly string[];
  /** Time bins of each plot (default 800). */
  bins?: number;
  /** Sources kept at most (default 256); lines of further ones are counted and skipped. */
  maxPeers?: number;
}

/** One series: its distribution and its course over time. */
export interface Series {
  sketch: QuantileSketch;
  bins: TimeBins;
}

/** One source's series from peerstats. */
export interface PeerSeries {
  address: string;
  offset: Series;
  delay: Series;
  jitter: Series;
}

/** Everything a report shows. */
export interface ReportData {
  dir: string;
  /** The span shown (Unix seconds); null when there was nothing to show. */
  fromSec: number | null;
  toSec: number | null;
  files: { loopstats: string[]; peerstats: string[] };
  loop: { offset: Series; freq: Series; jitter: Series; wander: Series };
  /** Sources by number of samples, most first. */
  peers: PeerSeries[];
  /** Lines read, lines in the span, lines that did not parse. */
  lines: { read: number; used: number; malformed: number };
  /** Lines of sources beyond `maxPeers`. */
  skippedPeerLines: number;
}

function series(from: number, to: number, bins: number): Series {
  return { sketch: new QuantileSketch(), bins: new TimeBins(from, to, bins) };
}

function addTo(s: Series, t: number, v: number): void {
  s.sketch.add(v);
  s.bins.add(t, v);
}

function timeOfLine(line: string): number {
  const f = line.trim().split(/\s+/, 2);
  return lineTime(f[0], f[1]);
}

/** Reads `dir`'s loopstats and peerstats sets (see the module comment). */
export async function collectReport(dir: string, opts: ReportOptions = {}): Promise<ReportData> {
  const files = {
    loopstats: await statsFiles(dir, "loopstats"),
    peerstats: await statsFiles(dir, "peerstats"),
  };
  // Pass 1: each file's span from its ends.
  const spans = new Map<string, { first: number; last: number } | null>();
  let first = Infinity;
  let last = -Infinity;
  for (const path of [...files.loopstats, ...files.peerstats]) {
    const span = await fileTimeSpan(path, timeOfLine);
    spans.set(path, span);
    if (span === null) continue;
    first = Math.min(first, span.first);
    last = Math.max(last, span.last);
  }
  let from = opts.fromSec ?? first;
  let to = opts.toSec ?? last;
  const lastSec = opts.lastSec ?? null;
  if (lastSec !== null && Number.isFinite(to)) from = Math.max(from, to - lastSec);
  const empty = !(Number.isFinite(from) && Number.isFinite(to) && to >= from);
  if (empty) {
    from = 0;
    to = 1;
  }
  const nBins = opts.bins ?? 800;
  const maxPeers = opts.maxPeers ?? 256;
  const wanted = opts.peers && opts.peers.length > 0 ? new Set(opts.peers) : null;
  const data: ReportData = {
    dir,
    fromSec: empty ? null : from,
    toSec: empty ? null : to,
    files,
    loop: {
      offset: series(from, to, nBins),
      freq: series(from, to, nBins),
      jitter: series(from, to, nBins),
      wander: series(from, to, nBins),
    },
    peers: [],
    lines: { read: 0, used: 0, malformed: 0 },
    skippedPeerLines: 0,
  };
  if (empty) return data;
  const peers = new Map<string, PeerSeries>();
  const counts: ReadCounts = { lines: 0, tooLong: 0 };
  const inSpan = (path: string) => {
    const s = spans.get(path);
    return s === null || s === undefined || (s.last >= from && s.first <= to);
  };

  // Pass 2: every line of the files that overlap the span.
  for (const path of files.loopstats.filter(inSpan)) {
    for await (const line of readLines(path, counts)) {
      if (line.trim() === "") continue;
      const r: LoopLine | null = parseLoopstatsLine(line);
      if (r === null) {
        data.lines.malformed++;
        continue;
      }
      if (r.t < from || r.t > to) continue;
      data.lines.used++;
      addTo(data.loop.offset, r.t, r.offsetSec);
      addTo(data.loop.freq, r.t, r.freqPpm);
      addTo(data.loop.jitter, r.t, r.jitterSec);
      addTo(data.loop.wander, r.t, r.wanderPpm);
    }
  }
  for (const path of files.peerstats.filter(inSpan)) {
    for await (const line of readLines(path, counts)) {
      if (line.trim() === "") continue;
      const r: PeerLine | null = parsePeerstatsLine(line);
      if (r === null) {
        data.lines.malformed++;
        continue;
      }
      if (r.t < from || r.t > to || (wanted !== null && !wanted.has(r.address))) continue;
      let p = peers.get(r.address);
      if (p === undefined) {
        if (peers.size >= maxPeers) {
          data.skippedPeerLines++;
          continue;
        }
        p = {
          address: r.address,
          offset: series(from, to, nBins),
          delay: series(from, to, nBins),
          jitter: series(from, to, nBins),
        };
        peers.set(r.address, p);
      }
      data.lines.used++;
      addTo(p.offset, r.t, r.offsetSec);
      addTo(p.delay, r.t, r.delaySec);
      addTo(p.jitter, r.t, r.jitterSec);
    }
  }
  data.lines.read = counts.lines + counts.tooLong;
  data.lines.malformed += counts.tooLong;
  data.peers = [...peers.values()].sort((a, b) =>
    b.offset.sketch.count - a.offset.sketch.count || (a.address < b.address ? -1 : 1)
  );
  return data;
}
