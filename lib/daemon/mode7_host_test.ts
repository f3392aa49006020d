import assert from "node:assert/strict";
import type { Clock } from "../clock/clock.ts";
import { Mode7Client, Mode7Error } from "../cli/dc_client.ts";
import { transportLink } from "../cli/query_client.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { SocketAddress } from "../net/transport.ts";
import {
  decodeKernelItem,
  decodeMemStatsItem,
  decodePeerSummaryItem,
  decodeSysInfoItem,
  decodeSysStatsItem,
  Mode7Req,
  SysFlag,
} from "../proto/control/mode7.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { sysInfoFlags } from "./mode7_host.ts";
import { fakeClock } from "./_test_daemon.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SERVER: SocketAddress = { family: 4, address: "127.0.0.1", port: 123 };

/** The memory network's clock, with a kernel that reports a PLL state. */
function kernelClock(network: MemoryNetwork): Clock {
  return {
    ...fakeClock(network),
    kernelState: () => ({
      offsetSec: 0,
      freqPpm: 3.5,
      maxErrorSec: 0.5,
      estErrorSec: 0.000001,
      status: 0x2041, // pll, unsync, nano
      constant: 4,
      precisionSec: 1e-9,
      toleranceSppm: 500 * 65536,
      state: 5,
      tick: 10000,
      tai: 37,
      nano: true,
    }),
  };
}

async function daemonWith(extra: Partial<DaemonSettings>) {
  const network = new MemoryNetwork();
  const daemon = new Daemon({
    listen: [SERVER],
    refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
    driftFile: null,
    noSteerReason: null,
    refclockPollSec: 64,
    ...extra,
  }, {
    clock: kernelClock(network),
    openTransport: (a) => Promise.resolve(network.open(a)),
    log: quiet,
  });
  await daemon.start();
  const client = (from = "127.0.0.1:40000") => {
    const c = new Mode7Client(transportLink(network.open(from), SERVER, () => network.flush()));
    c.timeoutMs = 1;
    c.moreTimeoutMs = 1;
    return c;
  };
  return { network, daemon, client };
}

Deno.test("Daemon with enable mode7 answers ntpdc's read-only requests", async () => {
  const { daemon, client } = await daemonWith({ mode7: true });
  try {
    const c = client();
    const peers = await c.query(Mode7Req.PEER_LIST_SUM);
    assert.equal(peers.itemSize, 72);
    const p = decodePeerSummaryItem(peers.items[0]!);
    // The LOCAL refclock, as collectd names it from 127.127.1.0.
    assert.equal(p.srcAddress, "127.127.1.0");
    assert.equal(p.stratum, 9);
    const sys = decodeSysInfoItem((await c.query(Mode7Req.SYS_INFO)).items[0]!);
    assert.equal(sys.stratum, 10);
    assert.equal(sys.peerAddress, "127.127.1.0");
    assert.equal(sys.flags & SysFlag.NTP, SysFlag.NTP);
    const k = decodeKernelItem((await c.query(Mode7Req.GET_KERNEL)).items[0]!);
    assert.equal(k.freq, 3.5 * 65536);
    assert.equal(k.status, 0x2041);
    const mem = decodeMemStatsItem((await c.query(Mode7Req.MEM_STATS)).items[0]!);
    assert.equal(mem.totalPeerMem, 1);
    const ss = decodeSysStatsItem((await c.query(Mode7Req.SYS_STATS)).items[0]!);
    assert.ok(ss.received >= 4, JSON.stringify(ss));
    await assert.rejects(
      () => c.query(Mode7Req.MON_GETLIST_1),
      (e) => e instanceof Mode7Error && e.code === 2,
    );
    c.close();
  } finally {
    await daemon.stop();
  }
});

Deno.test("Daemon without enable mode7 drops mode 7 (counted); noquery drops it too", async () => {
  const off = await daemonWith({});
  try {
    const c = off.client();
    await assert.rejects(() => c.query(Mode7Req.PEER_LIST_SUM), /timed out/);
    c.close();
    assert.equal(off.daemon.status().sysstats.drops.private_mode, 1);
  } finally {
    await off.daemon.stop();
  }
  const on = await daemonWith({
    mode7: true,
    access: {
      restrict: [
        { match: "default", address: "0.0.0.0", mask: "0.0.0.0", family: "ipv4", flags: [] },
        { match: "address", address: "127.0.0.9", mask: null, family: "any", flags: ["noquery"] },
      ],
    },
  });
  try {
    const c = on.client("127.0.0.9:40000");
    await assert.rejects(() => c.query(Mode7Req.SYS_INFO), /timed out/);
    c.close();
    assert.equal(on.daemon.status().sysstats.drops.noquery, 1);
  } finally {
    await on.daemon.stop();
  }
});

Deno.test("sysInfoFlags() sets ntpdc's sysinfo bits", () => {
  assert.equal(
    sysInfoFlags({ auth: true, monitor: true, ntp: true, kernel: false, stats: true }),
    SysFlag.AUTHENTICATE | SysFlag.MONITOR | SysFlag.NTP | SysFlag.FILEGEN,
  );
});
