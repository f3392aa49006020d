// Horae with --server-threads 2 against real chronyd: clients from many source ports are answered
// by both threads (from the single-file bundle, as the multi-call `ntpd`), and the daemon's own
// client associations keep working when the kernel hands their replies to the worker's socket.

import assert from "node:assert/strict";
import {
  chronydMeasure,
  LOOPBACK_OFFSET_SEC,
  needPeers,
  startChronydServer,
  startHorae,
  tcpListeners,
  waitForJson,
  withNetns,
} from "../support/peers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";

/** Whether every thread of `pid` has SIGUSR1 blocked (the SigBlk mask of its status). */
function sigusr1BlockedEverywhere(pid: number): boolean {
  const tids = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => e.name);
  return tids.length > 1 && tids.every((tid) => {
    const status = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/status`);
    const m = /SigBlk:\s*([0-9a-f]+)/.exec(status);
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 9n)) !== 0n;
  });
}

function bothThreadsReplied(s: Json): boolean {
  return s?.serverThreads?.length === 2 && s.serverThreads.every((t: Json) => t.replied > 0);
}

const chronydPeer = await needPeers("server threads answer chronyd", { programs: ["chronyd"] });
const netnsPeers = await needPeers("server threads forward replies", {
  programs: ["chronyd"],
  root: "a network namespace",
});

Deno.test(
  "interop: the bundled ntpd with --server-threads 2 answers chronyd clients on both threads",
  {
    ignore: chronydPeer.ignore,
  },
  async () => {
    const chronyd = chronydPeer.path("chronyd");
    const horae = await startHorae({
      conf: LOCAL_CONF,
      asProgram: "ntpd",
      args: ["--server-threads", "2", "--status-file", "status.json"],
    });
    try {
      await horae.proc.waitFor(/server thread 1 serving/, 20_000);
      // chronyd takes a new source port for each request: the kernel spreads them over both.
      const results = await Promise.all(
        Array.from({ length: 4 }, () => chronydMeasure(chronyd, "127.0.0.1", horae.port)),
      );
      for (const r of results) {
        assert.notEqual(r.offsetSec, null, `no usable reply:\n${r.output}`);
        assert.ok(Math.abs(r.offsetSec!) < LOOPBACK_OFFSET_SEC, `offset ${r.offsetSec} s`);
      }
      const s = await waitForJson<Json>(
        `${horae.dir}/status.json`,
        bothThreadsReplied,
        10_000,
        horae.proc,
      );
      assert.equal(
        s.server.replied,
        s.serverThreads[0].replied + s.serverThreads[1].replied,
        "the total is the sum of the threads",
      );
      assert.equal(s.stratum, 10);

      // SIGUSR1 is blocked in every thread, the server threads included.
      assert.equal(sigusr1BlockedEverywhere(horae.proc.child.pid), true);
      assert.deepEqual(tcpListeners(horae.proc.child.pid), [], "a TCP listener before SIGUSR1");
      horae.proc.kill("SIGUSR1");
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(tcpListeners(horae.proc.child.pid), [], horae.proc.output);
      const again = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
      assert.notEqual(again.offsetSec, null, `stopped answering after SIGUSR1:\n${again.output}`);
    } finally {
      const st = await horae.stop();
      assert.equal(st.code, 0, horae.proc.output.slice(-3000));
    }
    assert.match(horae.proc.output, /server thread 1: received [1-9]\d*, replied [1-9]/);
    assert.doesNotMatch(horae.proc.output, /Debugger listening|server thread 1 failed/);
  },
);

/**
 * chronyd servers of the second test: 127.0.0.2 … 127.0.0.13, port 123. The kernel picks the
 * socket of each by a hash, so with 12 the chance that none lands in the worker is 2^-12.
 */
const UPSTREAM = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 2}`);

Deno.test("interop: client associations synchronise when their replies land in a worker's socket", {
  ignore: netnsPeers.ignore,
}, async () => {
  const chronyd = netnsPeers.path("chronyd");
  await withNetns("hthr", async (ns) => {
    const servers: { stop(): Promise<void> }[] = [];
    try {
      for (const a of UPSTREAM) {
        servers.push(
          await startChronydServer(chronyd, { port: 123, bindAddress: a, netns: ns }),
        );
      }
      const conf = UPSTREAM.map((a) => `server ${a} iburst minpoll 4 maxpoll 4`).join("\n");
      const horae = await startHorae({
        conf: `${conf}\n`,
        port: 123,
        netns: ns,
        args: ["--server-threads", "2", "--status-file", "status.json"],
      });
      try {
        // Each upstream's replies come from one fixed 4-tuple, which the kernel hashes to one
        // of the two sockets: with twelve of them, some go to the worker (all but 2^-12). Every
        // association being fed while the worker forwards replies shows the forwarded ones work.
        const s = await waitForJson<Json>(
          `${horae.dir}/status.json`,
          (x) =>
            x.synchronized && x.stratum === 9 && x.associations.length === UPSTREAM.length &&
            x.associations.every((a: Json) => a.received >= 4 && a.reach !== "000") &&
            x.serverThreads?.[1]?.forwarded >= 4,
          60_000,
          horae.proc,
        );
        const worker = s.serverThreads[1];
        assert.equal(worker.forwardDropped, 0);
        assert.ok(s.serverThreads[0].forwarded >= 4, "the main thread processed forwards");
        assert.ok(s.serverThreads[0].forwarded <= worker.forwarded + 16);
        const fed = s.associations.reduce((n: number, a: Json) => n + a.received, 0);
        assert.ok(fed >= UPSTREAM.length * 4);
        assert.ok(UPSTREAM.includes(s.refid), `refid ${s.refid}`);

        // Clients in the namespace get replies on observe mode's clock from both threads.
        const results = await Promise.all(
          Array.from(
            { length: 4 },
            () => chronydMeasure(chronyd, "127.0.0.1", 123, "", { netns: ns }),
          ),
        );
        for (const r of results) {
          assert.notEqual(r.offsetSec, null, `no usable reply:\n${r.output}`);
          assert.ok(Math.abs(r.offsetSec!) < LOOPBACK_OFFSET_SEC, `offset ${r.offsetSec} s`);
        }
        await waitForJson<Json>(`${horae.dir}/status.json`, bothThreadsReplied, 10_000, horae.proc);
      } finally {
        const st = await horae.stop();
        assert.equal(st.code, 0, horae.proc.output.slice(-3000));
      }
      assert.match(
        horae.proc.output,
        /server thread 1: received \d+, replied \d+, dropped 0, forwarded [1-9]/,
      );
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});
