// Interop: gpsfake (gpsd-clients), the gpsd project's own test feeder, replays a log of NMEA
// sentences (with a corrupt one among them) into a real gpsd it starts on a port of its own
// (-P), over TCP (-t); Horae's gpsd JSON driver watches that gpsd and must get samples from its
// TOFF reports and select GPSD_JSON(0). gpsfake paces the log by fixed delays, not by the
// clock, so the offset is whatever its start and pace make it: only the pipeline is checked
// here (gpsd_json_test.ts checks the offset with sentences sent on the second). gpsfake, gpsd
// and Horae share a private IPC namespace (gpsd creates the NTP SHM segments), without
// CAP_SYS_TIME, Horae with --observe.

import assert from "node:assert/strict";
import { needPeers } from "../support/peers.ts";
import { nmeaChecksum, queryGpsPeerAndHorae, rmcGga } from "./_gps.ts";

const peers = await needPeers("gpsd fed by gpsfake, through the GPSD_JSON driver", {
  programs: ["gpsd", "gpsfake", "unshare"],
  root: "a private IPC namespace",
});

/** A log of `n` seconds of RMC and GGA sentences from Unix second `from`, one corrupt. */
function log(from: number, n: number): string {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const { rmc, gga } = rmcGga(from + k);
    out.push(`$${rmc}*${nmeaChecksum(rmc)}`, `$${gga}*${k === 7 ? "00" : nmeaChecksum(gga)}`);
  }
  return out.join("\r\n") + "\r\n";
}

Deno.test({
  name: "interop: gpsd fed by gpsfake gives the GPSD_JSON driver samples, and Horae selects it",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const text = await queryGpsPeerAndHorae({
    prefix: "gpsfake-",
    unshare: peers.path("unshare"),
    feed: false,
    peerCommand: async ({ port, dir }) => {
      await Deno.writeTextFile(`${dir}/gps.log`, log(Math.floor(Date.now() / 1000) + 1, 120));
      // -1: the log once; -c 0.5: two sentences a second; -n: start gpsd without a client.
      return `${peers.path("gpsfake")} -1 -t -n -q -c 0.5 -P ${port + 1} ${dir}/gps.log`;
    },
    conf: (port) =>
      `server 127.127.46.0 minpoll 3 path 127.0.0.1:${port + 1}\nfudge 127.127.46.0 refid GPSD\n`,
    synced: /synchronized to GPSD_JSON\(0\), stratum 0/,
    syncTimeoutMs: 60_000,
    settleMs: 0,
    commands: ["pe", "cv 1"],
  });
  assert.match(text, /^\*GPSD_JSON\(0\)\s+\.GPSD\.\s+0 l /m, text);
  assert.match(text, /type=46,/, text);
  assert.match(text, /timecode="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z"/, text);
});
