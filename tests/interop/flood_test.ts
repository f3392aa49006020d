// A flood, bounded in count and time: one address sends requests as fast as it can from many
// source ports (sendmmsg) while a chronyd client polls politely from another address. The
// chronyd client keeps every sample, the daemon's memory stays within the MRU list's bound plus
// a small allowance, every kiss sent is counted (and received by the flooder), and the counters
// add up: what was sent equals what the daemon counted plus what the kernel dropped at its
// sockets. With one thread and with --server-threads 2 (one MRU list for both).

import assert from "node:assert/strict";
import {
  needPeers,
  NO_SYS_TIME,
  Proc,
  type RunningHorae,
  sh,
  startHorae,
  withNetns,
} from "../support/peers.ts";
import {
  addLoopbackAddresses,
  assertCountersAddUp,
  readCounters,
  startChronydClient,
} from "./_access_peers.ts";

const peers = await needPeers("a flood from one address while chronyd polls", {
  programs: ["chronyd", "chronyc"],
  root: "a network namespace",
});

const FLOODER = new URL("./_flood.ts", import.meta.url).pathname;
/** Bounds of the flood. */
const FLOOD_SEC = 8;
const FLOOD_MAX = 3_000_000;
const FLOOD_SOCKETS = 32;
/** RSS the daemon may gain during the flood beyond the MRU list's memory (JIT, GC slack). */
const RSS_ALLOWANCE_KB = 8 * 1024;

const CONF = `server 127.127.1.0
fudge 127.127.1.0 stratum 9
discard average 2 minimum 2
restrict default limited kod
mru maxmem 1024
`;

function rssKb(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}

/** Datagrams the kernel dropped at the daemon's UDP sockets on port 123 (/proc/net/udp). */
async function kernelDrops(netns: string): Promise<number> {
  let total = 0;
  for (const table of ["udp", "udp6"]) {
    const text = await sh(["ip", "netns", "exec", netns, "cat", `/proc/net/${table}`]);
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 12 && f[1]!.endsWith(":007B")) total += Number(f[f.length - 1]);
    }
  }
  return total;
}

async function flood(horae: RunningHorae, ns: string, threads: number): Promise<void> {
  const chronyd = peers.path("chronyd");
  const chronyc = peers.path("chronyc");
  const pid = horae.proc.child.pid;
  // The daemon itself, not a wrapper (setpriv, ip netns exec): it names itself horae or ntpd.
  assert.match(
    Deno.readTextFileSync(`/proc/${pid}/comm`).trim(),
    /^(horae|ntpd)$/,
    "the daemon's pid",
  );
  const status = `${horae.dir}/status.json`;
  const good = await startChronydClient(chronyd, chronyc, {
    netns: ns,
    server: "127.0.0.4 port 123 iburst minpoll 2 maxpoll 2",
  });
  try {
    // A few polite samples first; a one-second flood from another address warms the daemon's
    // hot path up (compiled code, heap) so that what the measured flood adds is its own.
    await waitFor(async () => Number((await good.ntpdata())["Total RX"]) >= 3, 20_000);
    const warm = await runFlooder(ns, "127.0.0.8", 1);
    const before = rssKb(pid);
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, rssKb(pid)), 100);
    let f: FloodResult;
    try {
      f = await runFlooder(ns, "127.0.0.9", FLOOD_SEC);
    } finally {
      clearInterval(sampler);
    }
    // A second for the daemon to finish what is queued, then the polite client's view.
    await new Promise((r) => setTimeout(r, 1000));
    const g = await good.ntpdata();
    await good.stop();
    const tx = Number(g["Total TX"]);
    const rx = Number(g["Total RX"]);
    // The status file is rewritten every 2 s: wait for one written after everything stopped.
    await new Promise((r) => setTimeout(r, 2500));
    const c = await readCounters(status);
    const drops = await kernelDrops(ns);
    const s = c.sysstats;
    const rate = f.sent / FLOOD_SEC;
    // deno-lint-ignore no-console
    console.log(
      `flood (${threads} thread${threads > 1 ? "s" : ""}): sent ${f.sent} (${
        Math.round(rate / 1000)
      }k/s) from ${FLOOD_SOCKETS} ports; daemon received ${s.received}, kernel drops ${drops}; ` +
        `flooder got ${f.replies} replies and ${f.kisses} RATE kisses; chronyd ${rx} of ${tx}; ` +
        `RSS ${before} -> peak ${peak} kB (MRU list ${c.mru.bytes} bytes)`,
    );
    // The polite client kept every sample: each request answered, each answer valid, no kiss.
    assert.ok(tx >= 4, `chronyd polled: ${JSON.stringify(g)}`);
    assert.ok(rx >= tx - 1, `chronyd lost samples: ${rx} of ${tx}`);
    assert.equal(Number(g["Total valid RX"]), rx);
    assert.doesNotMatch(good.proc.output, /KoD/);
    // Memory: bounded by the MRU list (allocated at start) plus a small allowance.
    assert.ok(
      peak - before <= c.mru.bytes! / 1024 + RSS_ALLOWANCE_KB,
      `RSS grew ${peak - before} kB during the flood`,
    );
    // Kisses: every one granted was sent and counted, and the flooder received each of them.
    assert.ok(f.kisses >= 1, "the flooder was kissed");
    assert.equal(s.kissesSent, f.kisses + warm.kisses);
    assert.equal(f.kissesDeny + warm.kissesDeny, 0);
    assertCountersAddUp(c);
    // Everything sent was counted by the daemon or dropped by the kernel (the polite client's
    // last request may still have been in flight when chronyd stopped).
    const accounted = s.received + drops;
    const sentAll = f.sent + warm.sent + tx;
    assert.ok(
      accounted >= sentAll && accounted <= sentAll + 1,
      `sent ${f.sent} + ${warm.sent} + chronyd ${tx}, counted ${s.received} + dropped ${drops}`,
    );
    // The flood was rate limited, not served: one reply per 2^average s at most, kisses aside.
    assert.ok(f.replies <= FLOOD_SEC / 4 + 2, `flooder served ${f.replies} times`);
    assert.equal(s.drops.rate_limited, s.received - s.processed, JSON.stringify(s.drops));
    const served = f.replies + warm.replies + rx;
    assert.ok(
      s.processed >= served && s.processed <= served + 1,
      `processed ${s.processed}: the polite replies and the flooder's (${served})`,
    );
  } finally {
    await good.stop();
  }
}

interface FloodResult {
  sent: number;
  replies: number;
  kisses: number;
  kissesDeny: number;
}

/** Runs the flooder from `source` (to the same address, port 123) for `seconds`. */
async function runFlooder(ns: string, source: string, seconds: number): Promise<FloodResult> {
  const flooder = new Proc([
    "ip",
    "netns",
    "exec",
    ns,
    ...NO_SYS_TIME,
    Deno.execPath(),
    "run",
    "--allow-all",
    FLOODER,
    source,
    source,
    "123",
    String(FLOOD_SOCKETS),
    String(seconds),
    String(FLOOD_MAX),
  ]);
  const done = await flooder.wait((seconds + 20) * 1000);
  assert.equal(done.code, 0, flooder.output);
  return JSON.parse(flooder.output.trim().split("\n").at(-1)!) as FloodResult;
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

for (const threads of [1, 2]) {
  Deno.test(
    `interop: one address floods from ${FLOOD_SOCKETS} ports while chronyd polls (${threads} server thread${
      threads > 1 ? "s" : ""
    })`,
    {
      ignore: peers.ignore,
    },
    async () => {
      await withNetns("hfld", async (ns) => {
        await addLoopbackAddresses(ns, ["127.0.0.4", "127.0.0.8", "127.0.0.9"]);
        const horae = await startHorae({
          conf: CONF,
          port: 123,
          netns: ns,
          listen: [],
          args: ["--status-file", "status.json", "--server-threads", String(threads)],
        });
        try {
          await flood(horae, ns, threads);
        } finally {
          const st = await horae.stop();
          assert.equal(st.code, 0, horae.proc.output.slice(-3000));
        }
      });
    },
  );
}
