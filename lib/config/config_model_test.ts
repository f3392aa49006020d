// Tests of the model's default constructors against the ntpd 4.2.x manual's defaults.

import assert from "node:assert/strict";
import {
  defaultRefclock,
  defaultSource,
  defaultSystemFlags,
  defaultTinker,
  defaultTos,
  emptyConfig,
} from "./config_model.ts";

Deno.test("emptyConfig() returns a fresh object every time", () => {
  const a = emptyConfig();
  a.sources.push(defaultSource("server", "x"));
  a.tos.orphan = 3;
  assert.deepEqual(emptyConfig().sources, []);
  assert.equal(emptyConfig().tos.orphan, 16);
});

Deno.test("defaults follow the ntpd 4.2.x manual", () => {
  const s = defaultSource("server", "a");
  assert.deepEqual([s.version, s.minpollLog2, s.maxpollLog2, s.family], [4, 6, 10, "any"]);
  assert.deepEqual(
    [defaultTinker().panicSec, defaultTinker().stepSec, defaultTinker().stepoutSec],
    [1000, 0.128, 900],
  );
  const tos = defaultTos();
  assert.deepEqual([tos.ceiling, tos.floor, tos.minclock, tos.minsane, tos.orphan], [
    15,
    1,
    3,
    1,
    16,
  ]);
  const sys = defaultSystemFlags();
  assert.deepEqual([sys.auth, sys.kernel, sys.ntp, sys.bclient, sys.pps], [
    true,
    true,
    true,
    false,
    false,
  ]);
});

Deno.test("defaultRefclock() names the pseudo-address", () => {
  assert.equal(defaultRefclock(22, 1).address, "127.127.22.1");
  assert.equal(defaultRefclock(22, 1).fudge.time1Sec, null);
});
