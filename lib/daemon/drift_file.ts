// The drift file: the clock's frequency correction in ppm, one number, as ntpd 4.2.x writes it.
// Written atomically (temporary file, fsync, rename) so a crash never leaves it empty or torn, and
// never through a link planted in its folder (lib/files/safe_file.ts).

import { probeWriteFileAtomic, readFileNoFollow, writeFileAtomic } from "../files/safe_file.ts";
import type { Logger } from "../log/logger.ts";
import { ErrorOnce } from "./error_once.ts";

/** Mode of a new drift file: readable by all, as ntpd leaves it. */
export const DRIFT_FILE_MODE = 0o644;

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

/** Reads the drift file at `path` (a link there is refused, never followed: see safe_file.ts). */
export function readDriftFile(path: string): Promise<DriftReadResult> {
  let text: string;
  try {
    // A drift file is one short line; never read more.
    text = new TextDecoder().decode(readFileNoFollow(path, 256));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return Promise.resolve({ ok: false, reason: "missing", detail: path });
    }
    const message = (e as Error).message;
    const detail = message.startsWith(path) ? message : `${path}: ${message}`;
    return Promise.resolve({ ok: false, reason: "unreadable", detail });
  }
  return Promise.resolve(parseDrift(text));
}

/** Formats a frequency as ntpd does ("%.3f" and a newline). */
export function formatDrift(freqPpm: number): string {
  return `${freqPpm.toFixed(3)}\n`;
}

/** Writes the drift file atomically: a fresh temporary file in the same folder, fsync, rename. */
export async function writeDriftFile(path: string, freqPpm: number): Promise<void> {
  await writeFileAtomic(path, formatDrift(freqPpm), DRIFT_FILE_MODE);
}

/**
 * Checks that the drift file can be written the way {@link writeDriftFile} writes it (a temporary
 * file created in its folder, then renamed): creates and removes a temporary file. Returns null
 * when it can, else the reason. Used after -u, when the daemon no longer runs as root.
 */
export function probeDriftFile(path: string): Promise<string | null> {
  return probeWriteFileAtomic(path);
}

/**
 * The daemon's drift file: read once at start, written periodically and at exit with the
 * discipline's frequency; a failing write is logged once per distinct error.
 */
export class DriftFile {
  readonly path: string;
  readonly #log: Logger;
  readonly #errors: ErrorOnce;

  /** The drift file at `path`. */
  constructor(path: string, log: Logger) {
    this.path = path;
    this.#log = log;
    this.#errors = new ErrorOnce(log, `drift file ${path}`);
  }

  /** The saved frequency (ppm), or null when there is none or it is unusable (then logged). */
  async read(): Promise<number | null> {
    const r = await readDriftFile(this.path);
    if (r.ok) {
      this.#log.info(`frequency initialized ${r.freqPpm.toFixed(3)} PPM from ${this.path}`);
      return r.freqPpm;
    }
    if (r.reason !== "missing") this.#log.warn(`drift file ${r.detail}: ignored`);
    return null;
  }

  /** Writes `freqPpm` (nothing when null: no frequency is known yet). */
  async save(freqPpm: number | null): Promise<void> {
    if (freqPpm === null) return;
    try {
      await writeDriftFile(this.path, freqPpm);
      this.#errors.succeeded();
    } catch (e) {
      this.#errors.failed(e as Error);
    }
  }
}
