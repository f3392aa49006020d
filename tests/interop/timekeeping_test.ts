// Timekeeping on a real kernel, side by side with chronyd (issue 18): the offset Horae measures
// across an unshaped veth pair between two network namespaces, start-up with one of three servers
// dead, and failover when the system peer's server dies. Server and clients share the kernel
// clock, so the true offset is exactly 0 and each daemon's estimate is its error. Horae runs
// --observe and chronyd -x, both without CAP_SYS_TIME: nothing here can change the clock.

import assert from "node:assert/strict";
import {
  chronydCommand,
  needPeers,
  Proc,
  readJson,
  sh,
  startChronydServer,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import { type Json, NETNS } from "./_chronyd_servers.ts";

const peers = await needPeers("timekeeping against chronyd", {
  programs: ["chronyd"],
  root: NETNS,
});

/** The veth pair: server side and client side (TEST-NET-1, only inside the namespaces). */
const SERVER = "192.0.2.1";
const CLIENT = "192.0.2.2";
/** Both clients poll alike; 16 s is Horae's shortest poll. */
const POLL = "iburst minpoll 4 maxpoll 4";

/**
 * Bound on Horae's RMS error asserted here. On an idle machine it measures a few µs (see
 * BENCHMARKS.md); other work on a loaded 2-core machine delays the server's transmit stamp
 * (taken in user space) by tens of µs now and then. The bias this test guards against was +95 µs.
 */
const HORAE_RMS_BOUND_SEC = 30e-6;
/**
 * Bound on Horae's frequency estimate in the first minute and a half, true value 0 (ppm). With
 * the request's transmit time taken in user space it went to −4.8 ppm: the send latency, large
 * on the first requests and shrinking as the code warms up, reads as a clock running fast. What
 * is left is the estimator's own start-up noise (a few µs over a few seconds of iburst).
 */
const HORAE_FREQ_BOUND_PPM = 3;

/** A chronyd -x client; its estimate of the system clock error is read from tracking.log. */
async function startChronydClient(chronyd: string, ns: string, conf: string) {
  const dir = await tempDir("chronyc-");
  await Deno.writeTextFile(
    `${dir}/client.conf`,
    [
      conf,
      "port 0",
      "cmdport 0",
      "bindcmdaddress /",
      `pidfile ${dir}/client.pid`,
      `logdir ${dir}`,
      "log tracking",
      "",
    ].join("\n"),
  );
  const proc = new Proc(chronydCommand(chronyd, `${dir}/client.conf`, { netns: ns }));
  return {
    proc,
    /**
     * chronyd's estimates of true time minus the system clock, right after each update since
     * `sinceMs` (tracking.log: the remaining correction before the update minus its offset,
     * which is what `chronyc tracking` shows as "System time", with the same sign convention
     * as Horae's offsetSec).
     */
    async estimates(sinceMs: number): Promise<number[]> {
      const log = await Deno.readTextFile(`${dir}/tracking.log`).catch(() => "");
      const out: number[] = [];
      for (const line of log.split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f.length < 14 || !/^\d{4}-\d\d-\d\d$/.test(f[0]!) || f[2] === "0.0.0.0") continue;
        if (Date.parse(`${f[0]}T${f[1]}Z`) < sinceMs - 1000) continue;
        out.push(Number(f[10]) - Number(f[6]));
      }
      return out;
    },
    stop: async () => {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function rms(xs: number[]): number {
  return Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);
}

function us(x: number): string {
  return `${(x * 1e6).toFixed(1)} µs`;
}

/** Runs `fn` with two namespaces joined by a veth pair: `server` holds SERVER, `client` CLIENT. */
function withVethPair<T>(fn: (server: string, client: string) => Promise<T>): Promise<T> {
  return withNetns("tks", (server) =>
    withNetns("tkc", async (client) => {
      await sh([
        "ip",
        "link",
        "add",
        "tkv0",
        "netns",
        server,
        "type",
        "veth",
        "peer",
        "name",
        "tkv1",
        "netns",
        client,
      ]);
      await sh(["ip", "-n", server, "addr", "add", `${SERVER}/24`, "dev", "tkv0"]);
      await sh(["ip", "-n", client, "addr", "add", `${CLIENT}/24`, "dev", "tkv1"]);
      await sh(["ip", "-n", server, "link", "set", "tkv0", "up"]);
      await sh(["ip", "-n", client, "link", "set", "tkv1", "up"]);
      // Deleting a namespace deletes its end of the pair, and with it the other end.
      return await fn(server, client);
    }));
}

Deno.test(
  "interop: on an unshaped veth pair Horae's offset estimate is near 0, as chronyd's",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withVethPair(async (sns, cns) => {
      const server = await startChronydServer(chronyd, {
        port: 123,
        bindAddress: SERVER,
        netns: sns,
        extra: [`allow ${CLIENT}`],
      });
      const conf = `server ${SERVER} ${POLL}`;
      // A 0.000 drift file: the kernel is not disciplined, so the true frequency error is 0.
      const driftDir = await tempDir("drift-");
      await Deno.writeTextFile(`${driftDir}/drift`, "0.000\n");
      const horae = await startHorae({
        conf: `${conf}\ndriftfile ${driftDir}/drift\n`,
        port: 123,
        netns: cns,
        listen: ["0.0.0.0"],
        args: ["--observe", "--status-file", "status.json"],
      });
      const client = await startChronydClient(chronyd, cns, conf);
      try {
        const status = `${horae.dir}/status.json`;
        // Settle: both synchronised and a few updates in (the first samples carry start-up
        // noise for either daemon).
        const t0 = Date.now();
        const settleEnd = t0 + 24_000;
        while (Date.now() < settleEnd) await new Promise((r) => setTimeout(r, 500));
        const from = Date.now();
        const horaeX: number[] = [];
        const freqs: number[] = [];
        while (Date.now() - from < 40_000) {
          const s = await readJson(status) as Json;
          if (s?.synchronized && typeof s.offsetSec === "number") {
            horaeX.push(s.offsetSec);
            freqs.push(s.frequencyPpm);
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
        const chronydX = await client.estimates(from);
        const s = await readJson(status) as Json;
        const a = s.associations[0];
        const line = `veth, unshaped: Horae RMS ${us(rms(horaeX))} max ${
          us(Math.max(...horaeX.map(Math.abs)))
        } (${horaeX.length} readings, delay ${us(a.delaySec)}, frequency ${
          Math.min(...freqs).toFixed(3)
        } to ${Math.max(...freqs).toFixed(3)} ppm); chronyd RMS ${us(rms(chronydX))} max ${
          us(Math.max(...chronydX.map(Math.abs)))
        } (${chronydX.length} updates)`;
        // deno-lint-ignore no-console
        console.log(line);
        assert.ok(horaeX.length >= 16, `Horae synchronised for only ${horaeX.length} readings`);
        assert.ok(chronydX.length >= 2, `chronyd updated ${chronydX.length} times`);
        assert.ok(rms(horaeX) < HORAE_RMS_BOUND_SEC, line);
        // The request's transmit time is the kernel's: the round trip on a veth pair is tens of
        // µs, not the 200–330 µs it was with the core's own transmit timestamp.
        assert.ok(a.delaySec < 150e-6, `delay ${us(a.delaySec)}`);
        assert.ok(freqs.every((f) => Math.abs(f) < HORAE_FREQ_BOUND_PPM), line);
      } finally {
        await client.stop();
        await horae.stop();
        await server.stop();
        await Deno.remove(driftDir, { recursive: true }).catch(() => {});
      }
    });
  },
);

/** Servers of the start-up and failover test: two chronyd, and one address nobody answers on. */
const LIVE = ["127.0.0.2", "127.0.0.3"];
const DEAD = "127.0.0.4";

/** Records when `pattern` first shows in `proc`'s output (ms since `t0`), polling every 50 ms. */
function watch(proc: Proc, pattern: RegExp, t0: number): { at: () => number | null; stop(): void } {
  let at: number | null = null;
  const id = setInterval(() => {
    if (at === null && pattern.test(proc.output)) at = Date.now() - t0;
  }, 50);
  return { at: () => at, stop: () => clearInterval(id) };
}

Deno.test(
  "interop: one of three servers dead: synchronised within 10 s of the first replies; failover when the system peer dies, against chronyd",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withNetns("tkfo", async (ns) => {
      const servers = [];
      for (const a of LIVE) {
        servers.push(await startChronydServer(chronyd, { port: 123, bindAddress: a, netns: ns }));
      }
      // `prefer` on the first makes both clients pick the same system peer, the one killed.
      const conf = [...LIVE, DEAD].map((a, i) => `server ${a} ${POLL}${i === 0 ? " prefer" : ""}`)
        .join("\n");
      const t0 = Date.now();
      const horae = await startHorae({
        conf: `${conf}\n`,
        port: 123,
        netns: ns,
        args: ["--observe", "--status-file", "status.json"],
      });
      const client = await startChronydClient(chronyd, ns, conf);
      const status = `${horae.dir}/status.json`;
      const seen: Json[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const s = await readJson(status);
          if (s !== null) seen.push({ ...s, at: Date.now() - t0 });
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const watches: { stop(): void }[] = [];
      try {
        // Start-up: from the first reply to synchronised, with 127.0.0.4 silent throughout.
        const chronydSync = watch(client.proc, /Selected source 127\.0\.0\.2/, t0);
        watches.push(chronydSync);
        await horae.proc.waitFor(/synchronized to 127\.0\.0\.2/, 40_000);
        await new Promise((r) => setTimeout(r, 500));
        const firstReply = seen.find((s) => s.associations?.some((a: Json) => a.reach !== "000"))
          ?.at;
        const synced = seen.find((s) => s.synchronized)?.at;
        assert.ok(firstReply !== undefined && synced !== undefined, "status file samples");
        const startup = (synced - firstReply) / 1000;
        assert.ok(startup <= 10, `synchronised ${startup} s after the first replies`);
        const out = horae.proc.output;
        assert.match(
          out,
          /waiting for 127\.0\.0\.4 \(no reply yet\) before the first clock update/,
        );
        assert.match(
          out,
          /127\.0\.0\.4 no reply \d+ s after the first request: not waiting for it/,
        );
        await client.proc.waitFor(/Selected source 127\.0\.0\.2/, 40_000);

        // Failover: the system peer of both clients dies.
        await new Promise((r) => setTimeout(r, 10_000));
        const killed = Date.now();
        await servers[0]!.stop();
        const horaeNew = watch(horae.proc, /synchronized to 127\.0\.0\.3/, killed);
        const chronydNew = watch(client.proc, /Selected source 127\.0\.0\.3/, killed);
        watches.push(horaeNew, chronydNew);
        await horae.proc.waitFor(/synchronized to 127\.0\.0\.3/, 70_000);
        // Give chronyd a poll more to show whether it is faster.
        await new Promise((r) => setTimeout(r, 16_000));
        const horaeSec = horaeNew.at()! / 1000;
        const chronydAt = chronydNew.at();
        const report = `start-up with ${DEAD} dead: Horae synchronised ${startup.toFixed(1)} s ` +
          `after the first replies (chronyd selected a source ${
            ((chronydSync.at() ?? NaN) / 1000).toFixed(1)
          } s after start); failover: Horae ${horaeSec.toFixed(1)} s, chronyd ${
            chronydAt === null
              ? `none within ${((Date.now() - killed) / 1000).toFixed(0)} s`
              : `${(chronydAt / 1000).toFixed(1)} s`
          }`;
        // deno-lint-ignore no-console
        console.log(report);
        // Two unanswered polls of 16 s, counted at the next request: at most three polls.
        assert.ok(horaeSec <= 56, report);
        // No slower than chronyd: it may not have failed over a poll before Horae did.
        if (chronydAt !== null) assert.ok(horaeSec <= chronydAt / 1000 + 16, report);
        // A dead system peer is never shown as "*": not with reach 000, and not once replaced.
        for (const s of seen) {
          for (const a of s.associations ?? []) {
            if (a.tally !== "*") continue;
            assert.notEqual(a.reach, "000", `${a.address} shown as * with reach 000`);
            if (s.at > killed - t0 + horaeNew.at()! + 1000) {
              assert.notEqual(a.address, "127.0.0.2", "the dead peer is * after failover");
            }
          }
        }
        const last = seen.at(-1)!;
        assert.equal(last.synchronized, true);
        assert.equal(last.systemPeer.address, "127.0.0.3");
      } finally {
        sampling = false;
        await sampler;
        for (const w of watches) w.stop();
        await client.stop();
        await horae.stop();
        for (const s of servers) await s.stop();
      }
    });
  },
);
