// The daemon's signals, with ntpd's meanings: SIGTERM and SIGINT end it; SIGHUP reopens the log
// and statistics files and reads the configuration again (reload.ts); SIGUSR1 raises and SIGUSR2
// lowers the debug level. SIGUSR1 and
// SIGUSR2 are blocked in every thread from the start (main.ts) and read from a signalfd here, so
// Deno's own SIGUSR1 handler, which opens the V8 inspector, never sees one.

import { Signal, SignalReader } from "../../ffi/signals.ts";
import { type Logger, setLogLevel } from "../log/logger.ts";

/** The highest debug level the signals raise to (ntpd's -D accepts larger numbers). */
export const MAX_DEBUG_LEVEL = 9;

/** The log level a debug level selects. */
export function levelForDebug(debugLevel: number): "debug" | "info" {
  return debugLevel > 0 ? "debug" : "info";
}

/** How the daemon's run ended on a signal. */
export interface SignalEnd {
  signal: number;
  name: "SIGTERM" | "SIGINT";
}

/** Listens for the daemon's signals until {@link DaemonSignals.stop}. */
export class DaemonSignals {
  #debugLevel: number;
  #reader: SignalReader;
  #listeners: [Deno.Signal, () => void][] = [];
  #onHangup: (() => void) | null = null;
  #hangupPending = false;
  /** Resolves with the first terminating signal. */
  readonly ended: Promise<SignalEnd>;

  /**
   * Starts listening. `onUsr2` runs on each SIGUSR2 besides the debug change (the loop-lag
   * probe's new window).
   */
  constructor(log: Logger, debugLevel: number, onUsr2: (() => void) | null = null) {
    this.#debugLevel = debugLevel;
    this.#reader = new SignalReader([Signal.SIGUSR1, Signal.SIGUSR2], (signo) => {
      const before = this.#debugLevel;
      if (signo === Signal.SIGUSR1) {
        this.#debugLevel = Math.min(MAX_DEBUG_LEVEL, before + 1);
        log.info(`debug raised to ${this.#debugLevel}`);
      } else {
        this.#debugLevel = Math.max(0, before - 1);
        log.info(`debug lowered to ${this.#debugLevel}`);
        onUsr2?.();
      }
      setLogLevel(levelForDebug(this.#debugLevel));
    });
    this.ended = new Promise((resolve) => {
      const on = (name: SignalEnd["name"], signal: number) => {
        const f = () => resolve({ signal, name });
        Deno.addSignalListener(name, f);
        this.#listeners.push([name, f]);
      };
      on("SIGTERM", Signal.SIGTERM);
      on("SIGINT", Signal.SIGINT);
    });
    const hup = () => {
      if (this.#onHangup !== null) this.#onHangup();
      else this.#hangupPending = true;
    };
    Deno.addSignalListener("SIGHUP", hup);
    this.#listeners.push(["SIGHUP", hup]);
  }

  /**
   * What SIGHUP does (the reload). A SIGHUP that came before this was set (while the daemon was
   * starting) runs it once now.
   */
  set onHangup(fn: (() => void) | null) {
    this.#onHangup = fn;
    if (fn !== null && this.#hangupPending) {
      this.#hangupPending = false;
      fn();
    }
  }

  /** The current debug level. */
  get debugLevel(): number {
    return this.#debugLevel;
  }

  /** Stops listening (the signals' default actions return for SIGTERM, SIGINT and SIGHUP). */
  async stop(): Promise<void> {
    for (const [name, f] of this.#listeners) Deno.removeSignalListener(name, f);
    this.#listeners = [];
    await this.#reader.close();
  }
}
