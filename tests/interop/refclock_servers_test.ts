// Interop: two reference clocks and two network servers. In a network namespace, two chronyd -x
// servers serve the host's time on 127.0.0.2 and .3, each behind a relay on 127.0.0.4 and .5
// that delays both directions by 10 ms (servers on loopback are nearer than any real one: their
// correctness intervals of ±0.5 ms would leave a serial clock's midpoint, a few milliseconds
// off, outside the intersection, and no majority); two NMEA clocks come over socat pty pairs:
// NMEA(0) with prefer gives the right time, NMEA(1) agrees at first and then drifts away (its
// sentences arrive later and later). Horae (observe-only, without CAP_SYS_TIME) must take the
// prefer clock as its system peer and mark the drifting one a falseticker ("x"), never following
// it.

import assert from "node:assert/strict";
import { needPeers, Proc, readJson, startDenoScript, withNetns } from "../support/peers.ts";
import {
  type Json,
  NETNS,
  POLL,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

const peers = await needPeers("refclocks among network servers", {
  programs: ["chronyd", "socat"],
  root: NETNS,
});

const SERVERS = ["127.0.0.2", "127.0.0.3"];
/** The relays Horae polls, one per server. */
const RELAYS = ["127.0.0.4", "127.0.0.5"];

/** A relay on args[0]:123 to chronyd at args[1]:123, delaying each direction by 10 ms. */
const RELAY = `
const [listen, upstream] = Deno.args;
const front = Deno.listenDatagram({ transport: "udp", hostname: listen, port: 123 });
// From 127.0.0.1: the only client address the chronyd servers allow.
const back = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const to = { transport: "udp", hostname: upstream, port: 123 };
const later = (fn) => setTimeout(fn, 10);
let client = null;
console.log("relay ready");
(async () => {
  for (;;) {
    const [reply] = await back.receive();
    const c = client;
    if (c !== null) later(() => front.send(reply, c).catch(() => {}));
  }
})();
for (;;) {
  const [req, from] = await front.receive();
  client = from;
  later(() => back.send(req, to).catch(() => {}));
}
`;
/** NMEA(1) keeps time for this long (s), then falls behind by DRIFT_SEC_PER_SEC. */
const HONEST_SEC = 15;
const DRIFT_SEC_PER_SEC = 0.05;

function checksum(body: string): string {
  let c = 0;
  for (const ch of body) c ^= ch.charCodeAt(0);
  return c.toString(16).toUpperCase().padStart(2, "0");
}

function rmc(sec: number): string {
  const d = new Date(sec * 1000);
  const p2 = (x: number) => String(x).padStart(2, "0");
  const body = `GPRMC,${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.00,` +
    `A,4807.038,N,01131.000,E,0.0,0.0,` +
    `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)},,,A`;
  return `$${body}*${checksum(body)}\r\n`;
}

/** A socat pty pair: the clock's end, and a writer on the other end. */
async function ptyPair(): Promise<{ proc: Proc; clockSide: string; feed: Deno.FsFile }> {
  const proc = new Proc([peers.path("socat"), "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"]);
  const m = await proc.waitFor(/PTY is (\S+)[\s\S]*PTY is (\S+)/, 10_000);
  return { proc, clockSide: m[1]!, feed: await Deno.open(m[2]!, { write: true }) };
}

/**
 * Writes the sentence of each second `delaySec(t)` after it starts (t: seconds since the feed
 * began), until `running()` is false or 200 s have passed.
 */
async function feed(to: Deno.FsFile, delaySec: (t: number) => number, running: () => boolean) {
  const enc = new TextEncoder();
  const start = Date.now();
  for (let n = 0; running() && n < 200; n++) {
    const next = Math.floor(Date.now() / 1000) + 1;
    const t = (next * 1000 - start) / 1000;
    await new Promise((r) => setTimeout(r, next * 1000 + delaySec(t) * 1000 - Date.now()));
    try {
      await to.write(enc.encode(rmc(next)));
    } catch {
      return;
    }
  }
}

Deno.test({
  name:
    "interop: a prefer refclock is the system peer among two servers; one drifting away is a falseticker",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withNetns("hrefc", async (ns) => {
    const stopServers = await startServers(peers.path("chronyd"), ns, SERVERS);
    const relays = await Promise.all(
      RELAYS.map((r, i) => startDenoScript(RELAY, { netns: ns, args: [r, SERVERS[i]!] })),
    );
    await Promise.all(relays.map((r) => r.proc.waitFor(/relay ready/, 10_000)));
    const good = await ptyPair();
    const drifting = await ptyPair();
    let running = true;
    const feeds = [
      feed(good.feed, () => 0.1, () => running),
      feed(
        drifting.feed,
        (t) => 0.1 + Math.max(0, t - HONEST_SEC) * DRIFT_SEC_PER_SEC,
        () => running,
      ),
    ];
    try {
      const conf = [
        ...RELAYS.map((s) => `server ${s} ${POLL}`),
        `server 127.127.20.0 mode 1 minpoll 3 prefer path ${good.clockSide}`,
        "fudge 127.127.20.0 time2 0.1",
        `server 127.127.20.1 mode 1 minpoll 3 path ${drifting.clockSide}`,
        "fudge 127.127.20.1 time2 0.1",
        "",
      ].join("\n");
      const horae = await startObservingHorae(ns, conf);
      try {
        const status = `${horae.dir}/status.json`;
        await waitStatus(
          status,
          (s) => s.synchronized && s.systemPeer?.address === "127.127.20.0",
          60_000,
          horae.proc,
        );
        // The drifting clock falls behind by 50 ms a second from 15 s after the feed starts.
        const s = await waitStatus(
          status,
          (s) =>
            s.synchronized && s.systemPeer?.address === "127.127.20.0" &&
            s.associations.find((a: Json) => a.address === "127.127.20.1")?.tally === "x",
          90_000,
          horae.proc,
        );
        assert.equal(s.systemPeer?.address, "127.127.20.0");
        for (const addr of RELAYS) {
          const a = s.associations.find((x: Json) => x.address === addr);
          assert.notEqual(a?.reach, "000", `${addr} answered`);
          assert.notEqual(a?.tally, "x", `${addr} is not a falseticker`);
        }
        const last = (await readJson(status)) as Json;
        assert.ok(Math.abs(last.offsetSec ?? 1) < 0.02, `offset ${last.offsetSec} s`);
        assert.doesNotMatch(horae.proc.output, /synchronized to NMEA\(1\)/);
      } finally {
        await horae.stop();
      }
    } finally {
      running = false;
      await Promise.all(feeds);
      for (const p of [good, drifting]) {
        p.feed.close();
        await p.proc.stop(2000);
      }
      await Promise.all(relays.map((r) => r.stop()));
      await stopServers();
    }
  });
});
