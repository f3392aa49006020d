// Writes the JSON status file (`--status-file`): periodically, soon after every change (several
// changes in a row give one write), and once more at exit, marked stopped (`"running": false`,
// `"synchronized": false`); never two writes at once, and a failing write logged once per
// distinct error.

import type { Logger } from "../log/logger.ts";
import { ErrorOnce } from "./error_once.ts";
import { markStopped, writeStatusFile } from "./status_file.ts";
import { repeat, type Timers } from "./timers.ts";

/** What a {@link StatusWriter} needs. */
export interface StatusWriterOptions {
  path: string;
  /** Seconds between periodic writes. */
  intervalSec: number;
  timers: Timers;
  log: Logger;
  /** Builds the document at the moment of writing. */
  document(): Record<string, unknown>;
}

/** The status file's writer. */
export class StatusWriter {
  readonly #o: StatusWriterOptions;
  readonly #errors: ErrorOnce;
  #writing: Promise<void> | null = null;
  #dirty = false;
  #soon: number | null = null;
  #cancel: (() => void) | null = null;
  #stopped = false;

  /** Prepares the writer; nothing is written before {@link start}. */
  constructor(options: StatusWriterOptions) {
    this.#o = options;
    this.#errors = new ErrorOnce(options.log, `status file ${options.path}`);
  }

  /** Writes now and then every `intervalSec`. */
  start(): void {
    this.#cancel = repeat(this.#o.timers, this.#o.intervalSec, () => this.write());
    this.write();
  }

  /** Something changed: write soon (one write for a burst of changes). */
  changed(): void {
    if (this.#soon !== null || this.#stopped) return;
    this.#soon = this.#o.timers.setTimeout(() => {
      this.#soon = null;
      this.write();
    }, 0);
  }

  /** Writes now, or right after the write in progress. */
  write(): void {
    if (this.#writing !== null) {
      this.#dirty = true;
      return;
    }
    this.#writing = this.#writeNow().then(() => {
      this.#writing = null;
      if (this.#dirty && !this.#stopped) {
        this.#dirty = false;
        this.write();
      }
    });
  }

  /** Stops the periodic writes and writes the final document, marked stopped. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancel?.();
    if (this.#soon !== null) this.#o.timers.clearTimeout(this.#soon);
    this.#soon = null;
    await this.#writing;
    await this.#writeNow(true);
  }

  async #writeNow(final = false): Promise<void> {
    try {
      const doc = this.#o.document();
      await writeStatusFile(this.#o.path, final ? markStopped(doc) : doc);
      this.#errors.succeeded();
    } catch (e) {
      this.#errors.failed(e as Error);
    }
  }
}
