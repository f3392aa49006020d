// The kernel PPS variables of ntpq's kerninfo (NTPsec's names) from the kernel readout.

import assert from "node:assert/strict";
import { KERNEL_VARS } from "./control_vars.ts";
import type { ControlKernel } from "./control_view.ts";

const BASE: ControlKernel = {
  offsetSec: 0,
  freqPpm: 0,
  maxErrorSec: 0,
  estErrorSec: 0,
  status: 0x0106, // PPSFREQ PPSTIME PPSSIGNAL
  constant: 4,
  precisionSec: 1e-6,
  toleranceSppm: 500 * 65536,
};

function read(k: ControlKernel): Record<string, string | null> {
  return Object.fromEntries(KERNEL_VARS.map((v) => [v.name, v.get(k)]));
}

Deno.test("KERNEL_VARS show the kernel PPS discipline's readout", () => {
  const v = read({
    ...BASE,
    pps: {
      freqPpm: -12.5,
      jitterSec: 2.5e-6,
      intervalLog2: 4,
      stabilityPpm: 0.031,
      jitterExceeded: 1,
      calibrations: 7,
      errors: 2,
      stabilityExceeded: 3,
    },
  });
  assert.equal(v.kstflags, '"ppsfreq ppstime ppssignal"');
  assert.equal(v.kppsfreq, "-12.500");
  assert.equal(v.kppsstab, "0.031");
  assert.equal(v.kppsjitter, "0.003");
  assert.equal(v.kppscalibdur, "16");
  assert.equal(v.kppscalibs, "7");
  assert.equal(v.kppscaliberrs, "2");
  assert.equal(v.kppsjitexc, "1");
  assert.equal(v.kppsstbexc, "3");
});

Deno.test("KERNEL_VARS show zeros when the kernel reports no PPS interval", () => {
  const v = read(BASE);
  assert.equal(v.kppscalibdur, "0");
  assert.equal(v.kppsfreq, "0.000");
});
