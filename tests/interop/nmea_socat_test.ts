// Interop: NMEA over a socat pty pair. One cycle of a receiver's sentences (data/nmea_recorded.txt:
// RMC, VTG, GGA, GSA, GSV, GLL, ZDA) is replayed each second with its time fields moved to the
// current second, written 100 ms after the second starts, with corrupt sentences (a wrong
// checksum, a half sentence, line noise) among them every third second. Horae's NMEA driver
// reads the other end through termios (path option), applies time2 = 0.1 s, and must select the
// clock with an offset near zero, count the corrupt sentences as badformat in ntpq's cv, and write
// clockstats lines. Horae runs without CAP_SYS_TIME and with --observe.

import assert from "node:assert/strict";
import {
  needPeers,
  Proc,
  queryHorae,
  type RunningHorae,
  startHorae,
  tempDir,
} from "../support/peers.ts";
import { nmeaChecksum, nmeaTimeFields } from "./_gps.ts";

const peers = await needPeers("NMEA over a socat pty pair", { programs: ["socat", "setpriv"] });
const socat = peers.ignore ? "" : peers.path("socat");

const RECORDED = (await Deno.readTextFile(new URL("./data/nmea_recorded.txt", import.meta.url)))
  .split("\n").filter((l) => l.startsWith("$"));

/** The recorded cycle with its times and dates moved to Unix second `sec`. */
function cycle(sec: number): string[] {
  const d = new Date(sec * 1000);
  const p2 = (x: number) => String(x).padStart(2, "0");
  const { hms, dmy } = nmeaTimeFields(sec);
  return RECORDED.map((line) => {
    const f = line.slice(1, line.indexOf("*")).split(",");
    switch (f[0]) {
      case "GPRMC":
        f[1] = hms;
        f[9] = dmy;
        break;
      case "GPGGA":
        f[1] = hms;
        break;
      case "GPGLL":
        f[5] = hms;
        break;
      case "GPZDA":
        f[1] = hms;
        f[2] = p2(d.getUTCDate());
        f[3] = p2(d.getUTCMonth() + 1);
        f[4] = String(d.getUTCFullYear());
        break;
    }
    const body = f.join(",");
    return `$${body}*${nmeaChecksum(body)}`;
  });
}

Deno.test({
  name: "interop: NMEA from a socat pty pair, with corrupt sentences, gives samples at time2",
  ignore: peers.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await tempDir("nmea-socat-");
  const pty = new Proc([socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"]);
  let feeding = true;
  let fed: Promise<void> = Promise.resolve();
  let horae: RunningHorae | null = null;
  let corrupt = 0;
  try {
    await pty.waitFor(/PTY is (\S+)[\s\S]*PTY is (\S+)/, 10_000);
    const [, clockSide, feedSide] = pty.output.match(/PTY is (\S+)[\s\S]*PTY is (\S+)/)!;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = [
      `server 127.127.20.0 mode 17 minpoll 3 prefer path ${clockSide}`,
      "fudge 127.127.20.0 time2 0.1 refid GPS",
      `statsdir ${dir}/`,
      "statistics clockstats",
      "filegen clockstats file clockstats type none enable",
      "",
    ].join("\n");
    const feed = await Deno.open(feedSide!, { write: true });
    const enc = new TextEncoder();
    fed = (async () => {
      for (let round = 0; feeding && round < 150; round++) {
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 100));
        const sec = Math.floor(Date.now() / 1000);
        const lines = cycle(sec);
        if (round % 3 === 2) {
          // A wrong checksum, a sentence cut short by the next one, and line noise.
          const bad = lines[0]!.slice(0, -2) + (lines[0]!.endsWith("00") ? "01" : "00");
          lines.unshift(bad, lines[2]!.slice(0, 25) + "\r\n\x00\xfe~~noise~~");
          corrupt += 2;
        }
        try {
          await feed.write(enc.encode(lines.join("\r\n") + "\r\n"));
        } catch {
          break;
        }
      }
      feed.close();
    })();
    horae = await startHorae({ conf, port });
    await horae.proc.waitFor(/synchronized to NMEA\(0\), stratum 0/, 60_000);
    // Once the clock filter is full (a start-up burst of median filter outputs), the root
    // dispersion served is the clock's (a sentence's 10 ms), not the empty stages' seconds.
    let text = "";
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      text = await queryHorae(port, ["rv", "pe", "cv 1"]);
      const rootdisp = Number(text.match(/rootdisp=([\d.]+)/)?.[1]);
      if (rootdisp < 50) break;
    }
    assert.ok(Number(text.match(/rootdisp=([\d.]+)/)?.[1]) < 50, text);
    assert.match(text, /stratum=1,/, text);
    assert.match(text, /refid=GPS,/, text);
    assert.match(text, /^\*NMEA\(0\)\s+\.GPS\.\s+0 l /m, text);
    assert.match(text, /type=20,/, text);
    assert.match(text, /fudgetime2=100\.000/, text);
    assert.match(text, /timecode="\$GPRMC,\d{6}\.00,A,4717\.11437,N/, text);
    // Every corrupt sentence counted (the half sentence is cut at a "$" or ends at CR/LF).
    const badformat = Number(text.match(/badformat=(\d+)/)?.[1]);
    assert.ok(
      badformat >= 2 && badformat <= corrupt,
      `badformat ${badformat} of ${corrupt}\n${text}`,
    );
    // Written 100 ms after each second, time2 0.1 s: the offset is near zero.
    const offsetMs = Number(text.match(/^\*NMEA\(0\)\s.*\s(-?\d+\.\d+)\s+\d+\.\d+\s*$/m)?.[1]);
    assert.ok(Math.abs(offsetMs) < 50, `offset ${offsetMs} ms\n${text}`);
    const stats = await Deno.readTextFile(`${dir}/clockstats`);
    assert.match(stats, /^\d+ \d+\.\d+ 127\.127\.20\.0 \$GPRMC,/m, stats);
  } finally {
    feeding = false;
    const st = horae === null ? null : await horae.proc.stop(5000);
    await horae?.stop(); // already stopped: removes its folder
    await fed.catch(() => {});
    await pty.stop(2000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (st !== null) assert.equal(st.code, 0, horae!.proc.output.slice(-3000));
  }
});
