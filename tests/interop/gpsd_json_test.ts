// Interop: gpsd 3.22, a real third-party time source, is fed NMEA (with corrupt and half
// sentences among the good ones) over TCP, 20 ms after each second, and serves its JSON reports
// on a port of its own (-S); Horae's gpsd JSON driver (type 46, path 127.0.0.1:port) watches it,
// takes the TOFF reports (time2 0.02 s) and selects GPSD_JSON(0) as a stratum 1 server, which its
// mode 6 answers show. Both run in a private IPC namespace (`unshare --ipc`: gpsd also creates
// the NTP SHM segments, which must not touch the host's), without CAP_SYS_TIME, Horae with
// --observe. COMPAT: gpsfake paces its log by fixed delays (about 1.5 ms/s slower than real
// time here, beyond the 500 ppm a clock may be off), so the sentences come from this test;
// gpsd_gpsfake_test.ts runs gpsfake for the pipeline alone.

import assert from "node:assert/strict";
import { needPeers } from "../support/peers.ts";
import { queryGpsPeerAndHorae } from "./_gps.ts";

// Decided at load: a missing peer makes the test ignored (and recorded), never passed.
const peers = await needPeers("gpsd JSON interop", {
  programs: ["gpsd", "unshare"],
  root: "a private IPC namespace",
});
const gpsd = peers.ignore ? "" : peers.path("gpsd");
const unshare = peers.ignore ? "" : peers.path("unshare");

Deno.test({
  name:
    "interop: gpsd's JSON reports through the GPSD_JSON driver: Horae selects it with its fudge",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const text = await queryGpsPeerAndHorae({
    prefix: "gpsd-json-",
    unshare,
    feed: true,
    peerCommand: ({ port, feedPort }) => `${gpsd} -N -n -S ${port + 1} tcp://127.0.0.1:${feedPort}`,
    conf: (port) =>
      `server 127.127.46.0 minpoll 3 prefer path 127.0.0.1:${port + 1}\n` +
      "fudge 127.127.46.0 time2 0.021 refid GPSD\n",
    synced: /synchronized to GPSD_JSON\(0\), stratum 0/,
    syncTimeoutMs: 40_000,
    // The clock filter full (the median filter's start-up burst), then ask Horae over mode 6.
    settleMs: 16_000,
    commands: ["rv", "pe", "cv 1"],
  });
  assert.match(text, /stratum=1,/, text);
  assert.match(text, /refid=GPSD,/, text);
  assert.match(text, /^\*GPSD_JSON\(0\)\s+\.GPSD\.\s+0 l /m, text);
  assert.match(text, /type=46,/, text);
  assert.match(text, /fudgetime2=21\.000/, text);
  assert.match(text, /timecode="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z"/, text);
  assert.match(text, /device="GPSD_JSON\(0\)"/, text);
  const rootdispMs = Number(text.match(/rootdisp=([\d.]+)/)?.[1]);
  assert.ok(rootdispMs < 50, `rootdisp ${rootdispMs} ms\n${text}`);
  // gpsd stamps sentences sent 20 ms after the second on arrival; time2 takes that off.
  const offsetMs = Number(text.match(/^\*GPSD_JSON\(0\)\s.*\s(-?\d+\.\d+)\s+\d+\.\d+\s*$/m)?.[1]);
  assert.ok(Math.abs(offsetMs) < 30, `offset ${offsetMs} ms\n${text}`);
});
