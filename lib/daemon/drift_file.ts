// The drift file: the clock's frequency correction in ppm, one number, as ntpd 4.2.x writes it.
// Written atomically (temporary file, fsync, rename) so a crash never leaves it empty or torn.

/** Largest frequency a drift file may hold (the kernel's limit), ppm. */
export const MAX_DRIFT_PPM = 500;

/** Result of reading a drift file. */
export type DriftReadResult =
  | { ok: true; freqPpm: number }
  | { ok: false; reason: "missing" | "unreadable" | "malformed" | "out_of_range"; detail: string };

/** Parses drift file text: one decimal number of ppm, optional surrounding whitespace. */
export function parseDrift(text: string): DriftReadResult {
  const token = text.trim().split(/\s+/)[0] ?? "";
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) {
    return { ok: false, reason: "malformed", detail: `not a number: "${token.slice(0, 32)}"` };
  }
  const freqPpm = Number(token);
  if (!Number.isFinite(freqPpm) || Math.abs(freqPpm) > MAX_DRIFT_PPM) {
    return {
      ok: false,
      reason: "out_of_range",
      detail: `${token} ppm is beyond ±${MAX_DRIFT_PPM}`,
    };
  }
  return { ok: true, freqPpm };
}

/** Reads the drift file at `path`. */
export async function readDriftFile(path: string): Promise<DriftReadResult> {
  let text: string;
  try {
    const file = await Deno.open(path, { read: true });
    try {
      const buf = new Uint8Array(256); // a drift file is one short line; never read more
      const n = (await file.read(buf)) ?? 0;
      text = new TextDecoder().decode(buf.subarray(0, n));
    } finally {
      file.close();
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, reason: "missing", detail: path };
    return { ok: false, reason: "unreadable", detail: `${path}: ${(e as Error).message}` };
  }
  return parseDrift(text);
}

/** Formats a frequency as ntpd does ("%.3f" and a newline). */
export function formatDrift(freqPpm: number): string {
  return `${freqPpm.toFixed(3)}\n`;
}

/** Opens a fresh `<path>.TEMP`: a stale one (left by a crash, or by root before -u) is removed
 * first, and the new one is created exclusively, so a link planted there is never followed. */
async function createTemp(path: string): Promise<{ tmp: string; file: Deno.FsFile }> {
  const tmp = `${path}.TEMP`;
  await Deno.remove(tmp).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return { tmp, file: await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 }) };
}

/** Writes the drift file atomically: temporary file in the same folder, fsync, rename. */
export async function writeDriftFile(path: string, freqPpm: number): Promise<void> {
  const { tmp, file } = await createTemp(path);
  try {
    await file.write(new TextEncoder().encode(formatDrift(freqPpm)));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

/**
 * Checks that the drift file can be written the way {@link writeDriftFile} writes it (a temporary
 * file created in its folder, then renamed): creates and removes the temporary file. Returns null
 * when it can, else the reason. Used after -u, when the daemon no longer runs as root.
 */
export async function probeDriftFile(path: string): Promise<string | null> {
  try {
    const { tmp, file } = await createTemp(path);
    file.close();
    await Deno.remove(tmp);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
