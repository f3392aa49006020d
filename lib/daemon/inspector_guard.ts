// Keeps SIGUSR1 from opening Deno's V8 inspector on 127.0.0.1:9229 (Deno ≥ 2.9.2 arms that
// trigger 500 ms after start): in a root daemon it would let any local user run code as root.

import { ignoreSignal, Signal } from "../../ffi/signals.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Sets SIGUSR1 to "ignore" now and re-asserts it every `periodMs` for `durationMs`, so Deno's
 * delayed handler installation is overridden within one period. Returns a function that stops
 * the re-assertion early (the signal stays ignored).
 * COMPAT: ntpd raises its debug level on SIGUSR1; Horae ignores the signal instead.
 */
export function guardInspectorSignal(
  log: Logger,
  opts: { periodMs?: number; durationMs?: number } = {},
): () => void {
  let overridden = false;
  const check = () => {
    if (ignoreSignal(Signal.SIGUSR1) && !overridden) {
      overridden = true;
      log.debug("SIGUSR1 is ignored (it would open the V8 inspector)");
    }
  };
  check();
  const timer = setInterval(check, opts.periodMs ?? 50);
  const stopTimer = setTimeout(() => clearInterval(timer), opts.durationMs ?? 3000);
  return () => {
    clearInterval(timer);
    clearTimeout(stopTimer);
  };
}
