import assert from "node:assert/strict";
import { shouldDetach } from "./background.ts";

Deno.test("shouldDetach(): only without -n, -q and a debug level, as ntpd", () => {
  assert.equal(shouldDetach({ noFork: false, quit: false, debugLevel: 0 }), true);
  assert.equal(shouldDetach({ noFork: true, quit: false, debugLevel: 0 }), false);
  assert.equal(shouldDetach({ noFork: false, quit: true, debugLevel: 0 }), false);
  assert.equal(shouldDetach({ noFork: false, quit: false, debugLevel: 2 }), false);
});
