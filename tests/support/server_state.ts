// A synchronised stratum 2 server's state, the one most packet-path tests and benchmarks answer
// with (reference time 0xe9000000.00000000, in 2023).

import type { SystemState } from "../../lib/proto/server.ts";

/** Stratum 2, precision 2^-20, root delay 10 ms and dispersion 20 ms, refid 192.0.2.1. */
export const SYNCED: SystemState = {
  leap: 0,
  stratum: 2,
  precisionLog2: -20,
  rootDelaySec: 0.01,
  rootDispersionSec: 0.02,
  refid: 0xc0000201,
  referenceTime: 0xe9000000_00000000n,
};
