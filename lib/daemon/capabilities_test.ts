import assert from "node:assert/strict";
import { parseEffectiveCaps } from "./capabilities.ts";

Deno.test("parseEffectiveCaps() reads the CapEff mask", () => {
  const caps = parseEffectiveCaps("Name:\tx\nCapInh:\t0\nCapEff:\t000001fffdffffff\n");
  assert.equal(caps, 0x1fffdffffffn);
  assert.equal((caps! >> 25n) & 1n, 0n); // sys_time dropped in this sample
  assert.equal(parseEffectiveCaps("nothing"), null);
});
