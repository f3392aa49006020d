import assert from "node:assert/strict";
import { createRefclock, REFCLOCK_DRIVERS } from "./registry.ts";

Deno.test("createRefclock() makes LOCAL, NMEA, PPS, SHM and GPSD_JSON, and refuses other types without throwing", () => {
  assert.deepEqual([...REFCLOCK_DRIVERS.keys()].sort((a, b) => a - b), [1, 20, 22, 28, 46]);
  const local = createRefclock({ type: 1, unit: 0, mode: null, fudge: { stratum: 8 } });
  assert.ok(local.ok);
  assert.equal(local.driver.name, "LOCAL(0)");
  assert.equal(local.driver.fudge.stratum, 8);
  assert.equal(local.driver.lastResort, true);
  const shm = createRefclock({ type: 28, unit: 2, mode: null, fudge: {} });
  assert.ok(shm.ok);
  assert.equal(shm.driver.fudge.refid, "SHM");
  assert.deepEqual(createRefclock({ type: 42, unit: 0, mode: null, fudge: {} }), {
    ok: false,
    reason: "127.127.42.0: driver type 42 is not built in Horae",
  });
  assert.deepEqual(createRefclock({ type: 20, unit: 0, mode: 0x70, fudge: {} }), {
    ok: false,
    reason: "127.127.20.0: NMEA: mode 112: baud rate code 7 is not 0-5",
  });
  const bad = createRefclock({ type: 28, unit: 999, mode: null, fudge: {} });
  assert.deepEqual(bad, { ok: false, reason: "127.127.28.999: SHM: unit 999 is not 0-255" });
});
