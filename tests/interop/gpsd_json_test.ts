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
import { needPeers, NO_SYS_TIME, Proc, ROOT, tempDir } from "../support/peers.ts";

// Decided at load: a missing peer makes the test ignored (and recorded), never passed.
const peers = await needPeers("gpsd JSON interop", {
  programs: ["gpsd", "unshare"],
  root: "a private IPC namespace",
});
const gpsd = peers.ignore ? "" : peers.path("gpsd");
const unshare = peers.ignore ? "" : peers.path("unshare");

function checksum(body: string): string {
  let c = 0;
  for (const ch of body) c ^= ch.charCodeAt(0);
  return c.toString(16).toUpperCase().padStart(2, "0");
}

/** Sentences for the current second, sent 20 ms after it starts; every fifth round corrupt. */
function sentences(round: number): string {
  const d = new Date(Math.floor(Date.now() / 1000) * 1000);
  const p2 = (x: number) => String(x).padStart(2, "0");
  const hms = `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.00`;
  const dmy = `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)}`;
  const rmc = `GPRMC,${hms},A,4807.038,N,01131.000,E,000.0,000.0,${dmy},,,A`;
  const gga = `GPGGA,${hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`;
  let out = `$${rmc}*${checksum(rmc)}\r\n$${gga}*${checksum(gga)}\r\n`;
  if (round % 5 === 4) out = `$GPRMC,${hms},A,48*00\r\n$GPGGA,12\r\n` + out; // bad sum, half line
  return out;
}

Deno.test({
  name:
    "interop: gpsd's JSON reports through the GPSD_JSON driver: Horae selects it with its fudge",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await tempDir("gpsd-json-");
  const feed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const feedPort = (feed.addr as Deno.NetAddr).port;
  let feeding = true;
  const fed = (async () => {
    const conn = await feed.accept();
    const enc = new TextEncoder();
    for (let round = 0; feeding && round < 120; round++) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      try {
        await conn.write(enc.encode(sentences(round)));
      } catch {
        break;
      }
    }
    try {
      conn.close();
    } catch { /* closed by gpsd */ }
  })();
  const port = 20000 + Math.floor(Math.random() * 20000);
  await Deno.writeTextFile(
    `${dir}/ntp.conf`,
    `server 127.127.46.0 minpoll 3 prefer path 127.0.0.1:${port + 1}\n` +
      "fudge 127.127.46.0 time2 0.021 refid GPSD\n",
  );
  // gpsd and Horae in one private IPC namespace; the script stops both by pid on SIGTERM.
  await Deno.writeTextFile(
    `${dir}/run.sh`,
    [
      "set -u",
      `${gpsd} -N -n -S ${port + 1} tcp://127.0.0.1:${feedPort} & G=$!`,
      `${Deno.execPath()} run --allow-all --unstable-net ${ROOT}main.ts run -n --observe -c ${dir}/ntp.conf ` +
      `--port ${port} --listen 127.0.0.1 & H=$!`,
      'trap \'kill -TERM "$H" "$G" 2>/dev/null; wait "$H" "$G"; exit 0\' TERM INT',
      'wait "$H"',
      'kill -TERM "$G" 2>/dev/null; wait "$G"',
    ].join("\n"),
  );
  const proc = new Proc([...NO_SYS_TIME, unshare, "--ipc", "--", "bash", `${dir}/run.sh`]);
  try {
    await proc.waitFor(/synchronized to GPSD_JSON\(0\), stratum 0/, 40_000);
    // The clock filter full (the median filter's start-up burst), then ask Horae over mode 6.
    await new Promise((r) => setTimeout(r, 16_000));
    const q = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--unstable-net",
        `${ROOT}main.ts`,
        "query",
        "--port",
        String(port),
        "-n",
        "-c",
        "rv",
        "-c",
        "pe",
        "-c",
        "cv 1",
        "127.0.0.1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(q.stdout) + new TextDecoder().decode(q.stderr);
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
  } finally {
    feeding = false;
    const st = await proc.stop(5000);
    feed.close();
    await fed.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert.equal(st.code, 0, proc.output.slice(-3000));
  }
});
