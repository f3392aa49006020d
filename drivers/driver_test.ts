import assert from "node:assert/strict";
import { checkUnit } from "./driver.ts";

Deno.test("checkUnit() passes 0-255 and throws for a unit no 127.127.t.u address can hold", () => {
  assert.equal(checkUnit(0), 0);
  assert.equal(checkUnit(255), 255);
  for (const bad of [-1, 256, 1.5, NaN]) {
    assert.throws(() => checkUnit(bad), new Error(`unit ${bad} is not 0-255`));
  }
});
