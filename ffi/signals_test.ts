import assert from "node:assert/strict";
import { ignoreSignal, Signal } from "./signals.ts";

Deno.test("ignoreSignal() makes SIGUSR2 harmless and reports an earlier handler", () => {
  // SIGUSR2's default action would terminate the test process.
  ignoreSignal(Signal.SIGUSR2);
  Deno.kill(Deno.pid, "SIGUSR2");
  assert.equal(ignoreSignal(Signal.SIGUSR2), false); // already ignored, nothing else installed
});
