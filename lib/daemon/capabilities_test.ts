import assert from "node:assert/strict";
import { capGet } from "../../ffi/privileges.ts";
import { CAP_SYS_TIME, hasCapSysTime, parseEffectiveCaps } from "./capabilities.ts";

Deno.test("parseEffectiveCaps() reads the CapEff mask", () => {
  const caps = parseEffectiveCaps("Name:\tx\nCapInh:\t0\nCapEff:\t000001fffdffffff\n");
  assert.equal(caps, 0x1fffdffffffn);
  assert.equal((caps! >> 25n) & 1n, 0n); // sys_time dropped in this sample
  assert.equal(parseEffectiveCaps("nothing"), null);
});

Deno.test("hasCapSysTime() agrees with capget() on the calling thread", () => {
  assert.equal(hasCapSysTime(), (capGet().effective >> BigInt(CAP_SYS_TIME) & 1n) === 1n);
});
