// Logging for a write the daemon repeats (the drift file hourly, the status file every few
// seconds): a failure is logged once per distinct error, not at every attempt, and the recovery
// once when writes work again.

import type { Logger } from "../log/logger.ts";

/** The last failure of one repeated write. */
export class ErrorOnce {
  readonly #log: Logger;
  readonly #what: string;
  #last: string | null = null;

  /** Tracks writes of `what` ("drift file /var/lib/ntp/drift"). */
  constructor(log: Logger, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** The error being remembered, or null after a success. */
  get last(): string | null {
    return this.#last;
  }

  /** A write failed: logged unless it is the same error as last time. */
  failed(e: Error): void {
    if (e.message !== this.#last) this.#log.error(`cannot write ${this.#what}: ${e.message}`);
    this.#last = e.message;
  }

  /** A write worked: logged when it follows a failure. */
  succeeded(): void {
    if (this.#last !== null) this.#log.info(`${this.#what} written again`);
    this.#last = null;
  }
}
