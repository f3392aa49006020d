import assert from "node:assert/strict";
import { CryptoRng } from "./crypto_rng.ts";

Deno.test("CryptoRng gives 32-bit values and floats in [0, 1)", () => {
  const r = new CryptoRng();
  const seen = new Set<number>();
  for (let i = 0; i < 600; i++) {
    const u = r.nextU32();
    assert.ok(Number.isInteger(u) && u >= 0 && u < 2 ** 32);
    seen.add(u);
    const f = r.nextFloat();
    assert.ok(f >= 0 && f < 1);
  }
  assert.ok(seen.size > 590);
});
