// The shared fake of {@link ControlView} for tests of the control server and `horae query`: a
// system synchronised to the first of its associations, with settable MRU entries and counters.

import type { MruEntry } from "../access/mru.ts";
import type { NtpTime } from "../ntp_time.ts";
import type { SysStatsSnapshot } from "../sys_stats.ts";
import { DROP_REASONS } from "../sys_stats.ts";
import {
  type ControlIdentity,
  type ControlIo,
  type ControlKernel,
  type ControlPeer,
  type ControlSystem,
  type ControlView,
  PeerSelect,
  SyncSource,
} from "./control_view.ts";

/** A peer with plausible values; `over` replaces any of them. */
export function fakePeer(id: number, over: Partial<ControlPeer> = {}): ControlPeer {
  return {
    id,
    srcAddress: `192.0.2.${id % 250}`,
    srcPort: 123,
    srcHost: null,
    dstAddress: "192.0.2.200",
    dstPort: 123,
    configured: true,
    authEnabled: false,
    authentic: false,
    selection: PeerSelect.CANDIDATE,
    leap: 0,
    stratum: 2,
    precisionLog2: -24,
    rootDelaySec: 0.0123,
    rootDispersionSec: 0.0456,
    refid: 0xc0000201,
    referenceTime: 0xe9000000_00000000n,
    receiveTime: 0xe9000010_80000000n,
    reach: 0xff,
    unreach: 0,
    hostMode: 3,
    peerMode: 4,
    hostPollLog2: 6,
    peerPollLog2: 6,
    headwaySec: 0,
    flash: 0,
    keyId: 0,
    offsetSec: 0.000123,
    delaySec: 0.000456,
    dispersionSec: 0.000789,
    jitterSec: 0.000012,
    filter: Array.from({ length: 8 }, (_, k) => ({
      delaySec: 0.0004 + k * 1e-5,
      offsetSec: 0.0001 + k * 1e-6,
      dispersionSec: 0.0002 * k,
    })),
    ...over,
  };
}

/** A fake view; every field may be changed by the test. */
export class FakeControlView implements ControlView {
  identity: ControlIdentity = { version: "horae 0.0.0-test", processor: "x86_64", system: "Linux" };
  peerList: ControlPeer[] = [fakePeer(1, { selection: PeerSelect.SYSPEER }), fakePeer(2)];
  sys: Omit<ControlSystem, "clock"> = {
    leap: 0,
    stratum: 3,
    precisionLog2: -24,
    rootDelaySec: 0.0125,
    rootDispersionSec: 0.05,
    refid: 0xc0000201,
    referenceTime: 0xe9000000_00000000n,
    source: SyncSource.NTP,
    systemPeer: 1,
    systemPeerMode: 4,
    pollLog2: 6,
    minPollLog2: 4,
    offsetSec: 0.000123,
    freqPpm: -12.5,
    sysJitterSec: 0.00002,
    clockJitterSec: 0.00001,
    clockWanderPpm: 0.002,
    leapTable: null,
  };
  mruList: MruEntry[] | null = [];
  stats: SysStatsSnapshot | null = {
    sinceRestartSec: 100,
    sinceResetSec: 100,
    received: 10,
    processed: 8,
    currentVersion: 9,
    oldVersion: 1,
    badVersion: 0,
    accessDenied: 1,
    badFormat: 1,
    badAuth: 0,
    rateExceeded: 0,
    declined: 0,
    kissesSent: 0,
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as SysStatsSnapshot["drops"],
  };

  system(now: NtpTime): ControlSystem {
    return { ...this.sys, clock: now };
  }

  peers(_now: NtpTime): ControlPeer[] {
    return this.peerList;
  }

  sysstats(): SysStatsSnapshot | null {
    return this.stats;
  }

  mru(): MruEntry[] | null {
    return this.mruList;
  }

  kernelState: ControlKernel | null = {
    offsetSec: 0,
    freqPpm: -12.5,
    maxErrorSec: 0.016,
    estErrorSec: 0.000002,
    status: 0x2001, // pll, nano
    constant: 7,
    precisionSec: 1e-9,
    toleranceSppm: 500 * 65536,
  };
  ioStats: ControlIo | null = {
    sinceResetSec: 100,
    received: 42,
    sent: 40,
    sendFailed: 1,
    dropped: 2,
  };

  kernel(): ControlKernel | null {
    return this.kernelState;
  }

  io(): ControlIo | null {
    return this.ioStats;
  }
}
