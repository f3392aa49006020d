// Reading statistics files back (for `horae report`): the members of a file generation set in a
// folder, each file once however many names it has (the bare name is a link to the current
// member), gzip-compressed members included, line by line as a stream, and ntpd's loopstats and
// peerstats lines parsed into numbers. A line that does not parse is skipped and counted; it
// never stops the reading.

/** MJD of the Unix epoch, 1970-01-01. */
const MJD_1970 = 40_587;
/** Longest line kept; a longer one is skipped as malformed. */
export const MAX_LINE_BYTES = 4096;

/** A loopstats line. */
export interface LoopLine {
  /** Unix seconds. */
  t: number;
  offsetSec: number;
  freqPpm: number;
  jitterSec: number;
  wanderPpm: number;
  pollLog2: number;
}

/** A peerstats line. */
export interface PeerLine {
  /** Unix seconds. */
  t: number;
  address: string;
  status: number;
  offsetSec: number;
  delaySec: number;
  dispersionSec: number;
  jitterSec: number;
}

function num(s: string | undefined): number {
  // Number("") is 0: an empty field is not a number here.
  return s === undefined || s === "" ? NaN : Number(s);
}

/** The time of a line's first two fields (MJD, seconds past midnight), or NaN. */
export function lineTime(mjdField: string | undefined, secField: string | undefined): number {
  const mjd = num(mjdField);
  const sec = num(secField);
  if (!Number.isInteger(mjd) || !(sec >= 0 && sec <= 86_401)) return NaN;
  return (mjd - MJD_1970) * 86_400 + sec;
}

/** Parses a loopstats line; null when it is not one. */
export function parseLoopstatsLine(line: string): LoopLine | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 7) return null;
  const r: LoopLine = {
    t: lineTime(f[0], f[1]),
    offsetSec: num(f[2]),
    freqPpm: num(f[3]),
    jitterSec: num(f[4]),
    wanderPpm: num(f[5]),
    pollLog2: num(f[6]),
  };
  return Object.values(r).every(Number.isFinite) ? r : null;
}

/** Parses a peerstats line; null when it is not one. */
export function parsePeerstatsLine(line: string): PeerLine | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 8 || !/^[0-9a-fA-F]{1,4}$/.test(f[3]!) || !/^[0-9a-fA-F.:]{1,45}$/.test(f[2]!)) {
    return null;
  }
  const r: PeerLine = {
    t: lineTime(f[0], f[1]),
    address: f[2]!,
    status: parseInt(f[3]!, 16),
    offsetSec: num(f[4]),
    delaySec: num(f[5]),
    dispersionSec: num(f[6]),
    jitterSec: num(f[7]),
  };
  const { address: _, ...numbers } = r;
  return Object.values(numbers).every(Number.isFinite) ? r : null;
}

/**
 * The members of the set named `name` in `dir` (`name`, `name.<suffix>`, `name.<suffix>.gz`),
 * regular files only, each file once (a hard link counts once), sorted by name.
 */
export async function statsFiles(dir: string, name: string): Promise<string[]> {
  const found: { path: string; key: string }[] = [];
  const prefix = `${name}.`;
  for await (const e of Deno.readDir(dir)) {
    if (e.name !== name && !e.name.startsWith(prefix)) continue;
    const path = `${dir}/${e.name}`;
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(path);
    } catch {
      continue; // gone meanwhile, or a dangling link
    }
    if (!st.isFile) continue;
    found.push({ path, key: `${st.dev}:${st.ino}` });
  }
  found.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  // Prefer a suffixed member's name over the bare link to it.
  const seen = new Map<string, string>();
  for (const f of found) {
    const had = seen.get(f.key);
    if (had === undefined || had.endsWith(`/${name}`)) seen.set(f.key, f.path);
  }
  return [...new Set(seen.values())].sort();
}

/** The bytes of a file as a stream, decompressed when its name ends in .gz. */
async function openStream(path: string): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  const raw = file.readable;
  if (!path.endsWith(".gz")) return raw;
  return raw.pipeThrough(
    new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
}

/** Counters of a reading. */
export interface ReadCounts {
  lines: number;
  /** Lines too long to be a statistics line. */
  tooLong: number;
}

/**
 * The lines of a file, one at a time (memory stays bounded whatever the file's size); a line
 * longer than {@link MAX_LINE_BYTES} is skipped and counted in `counts.tooLong`.
 */
export async function* readLines(
  path: string,
  counts: ReadCounts = { lines: 0, tooLong: 0 },
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let carry = "";
  let skipping = false;
  for await (const chunk of await openStream(path)) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    carry = parts.pop() ?? "";
    for (const p of parts) {
      if (skipping) {
        skipping = false; // the rest of an over-long line
        continue;
      }
      if (p.length > MAX_LINE_BYTES) {
        counts.tooLong++;
        continue;
      }
      counts.lines++;
      yield p;
    }
    if (carry.length > MAX_LINE_BYTES) {
      if (!skipping) counts.tooLong++;
      skipping = true;
      carry = "";
    }
  }
  carry += decoder.decode();
  if (carry !== "" && !skipping && carry.length <= MAX_LINE_BYTES) {
    counts.lines++;
    yield carry;
  }
}

/**
 * The time span of a statistics file from its first and last parsable lines, read from the
 * file's head and tail only (a compressed file is read through). Null when no line parses.
 */
export async function fileTimeSpan(
  path: string,
  timeOf: (line: string) => number,
): Promise<{ first: number; last: number } | null> {
  if (path.endsWith(".gz")) return await scanSpan(path, timeOf);
  let span: { first: number; last: number } | null = null;
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const chunk = 8192;
    const head = await readAt(file, 0, Math.min(size, chunk));
    const tail = size <= chunk ? head : await readAt(file, size - chunk, chunk);
    // Only whole lines: the head may end inside one, the tail start inside one.
    const headLines = head.split("\n");
    if (size > chunk) headLines.pop();
    const tailLines = tail.split("\n");
    if (size > chunk) tailLines.shift();
    const firstT = headLines.map(timeOf).find(Number.isFinite);
    const lastT = tailLines.map(timeOf).filter(Number.isFinite).at(-1);
    if (firstT !== undefined && lastT !== undefined) {
      span = { first: Math.min(firstT, lastT), last: Math.max(firstT, lastT) };
    }
  } finally {
    file.close();
  }
  // No parsable line at either end: look through the whole file.
  return span ?? await scanSpan(path, timeOf);
}

async function scanSpan(
  path: string,
  timeOf: (line: string) => number,
): Promise<{ first: number; last: number } | null> {
  let first = Infinity;
  let last = -Infinity;
  for await (const line of readLines(path)) {
    const t = timeOf(line);
    if (!Number.isFinite(t)) continue;
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return Number.isFinite(first) ? { first, last } : null;
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<string> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let n = 0;
  while (n < length) {
    const r = await file.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return new TextDecoder().decode(buf.subarray(0, n));
}
