// Interop: gpsd 3.22, a real third-party time source, is fed NMEA (with corrupt and half
// sentences among the good ones) over TCP and writes the NTP SHM segment; Horae's SHM driver
// reads it, and Horae selects SHM(0) with the configured fudge (time1, refid) as a stratum 1
// server, which its mode 6 answers show. Both run in their own IPC namespace (`unshare --ipc`),
// so the host's SysV segments are never touched, without CAP_SYS_TIME and with --observe.
// COMPAT: gpsd does not write SHM for a pty source (its test-harness guard), so the NMEA comes
// over gpsd's tcp:// source instead of a socat pty pair.

import assert from "node:assert/strict";
import { needPeers } from "../support/peers.ts";
import { queryGpsPeerAndHorae } from "./_gps.ts";

// Decided at load: a missing peer makes the test ignored (and recorded), never passed.
const peers = await needPeers("gpsd SHM interop", {
  programs: ["gpsd", "unshare"],
  root: "a private IPC namespace",
});
const gpsd = peers.ignore ? "" : peers.path("gpsd");
const unshare = peers.ignore ? "" : peers.path("unshare");

Deno.test({
  name: "interop: gpsd writes the SHM segment and Horae selects SHM(0) with its fudge",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const text = await queryGpsPeerAndHorae({
    prefix: "shm-gpsd-",
    unshare,
    feed: true,
    peerCommand: ({ port, feedPort }) => `${gpsd} -N -n -S ${port + 1} tcp://127.0.0.1:${feedPort}`,
    conf: () => "server 127.127.28.0 minpoll 4 prefer\nfudge 127.127.28.0 time1 0.022 refid GPS\n",
    synced: /synchronized to SHM\(0\), stratum 0/,
    syncTimeoutMs: 40_000,
    // The clock filter full (the median filter's start-up burst), then ask Horae over mode 6.
    settleMs: 16_000,
    commands: ["rv", "pe", "cv 1"],
  });
  assert.match(text, /sync_uhf_radio/, text);
  assert.match(text, /stratum=1,/, text);
  assert.match(text, /refid=GPS,/, text);
  assert.match(text, /^\*SHM\(0\)\s+\.GPS\.\s+0 l /m, text);
  assert.match(text, /type=28,/, text);
  assert.match(text, /fudgetime1=22\.000/, text);
  assert.match(text, /device="SHM\(0\)"/, text);
  // gpsd writes precision -1 into the segment for a unit fed by sentences; the root
  // dispersion served is the clock's spread all the same, not half a second.
  const rootdispMs = Number(text.match(/rootdisp=([\d.]+)/)?.[1]);
  assert.ok(rootdispMs < 50, `rootdisp ${rootdispMs} ms\n${text}`);
  // The offset after time1: gpsd stamps sentences sent 20 ms after the second on arrival.
  const offsetMs = Number(text.match(/^\*SHM\(0\)\s.*\s(-?\d+\.\d+)\s+\d+\.\d+\s*$/m)?.[1]);
  assert.ok(Math.abs(offsetMs) < 50, `offset ${offsetMs} ms\n${text}`);
});
