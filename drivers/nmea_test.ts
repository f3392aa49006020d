import assert from "node:assert/strict";
import { nmeaChecksum, NmeaDriver, nmeaMode, parseNmea } from "./nmea.ts";
import type { RefclockSample } from "./driver.ts";
import { manualContext } from "./_test_context.ts";
import { addSec, fromUnix } from "../lib/proto/ntp_time.ts";
import type { SerialPort } from "../ffi/termios.ts";
import { fakePpsKernel } from "../ffi/fake_pps.ts";
import { openPpsDevice } from "../ffi/pps.ts";

/** 2025-10-09 08:53:20 UTC. */
const T = 1_759_999_999 + 1;

function frame(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, "0")}`;
}

Deno.test("nmeaChecksum() is the XOR of the body (a sentence from a real receiver)", () => {
  // From a u-blox receiver's log.
  assert.equal(
    nmeaChecksum("GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A"),
    0x57,
  );
});

Deno.test("nmeaMode() reads the sentence mask and the baud rate bits", () => {
  assert.deepEqual(nmeaMode(null), { mask: 0xf, baud: 4800, unsupported: 0 });
  assert.deepEqual(nmeaMode(1), { mask: 1, baud: 4800, unsupported: 0 });
  assert.deepEqual(nmeaMode(0x12), { mask: 2, baud: 9600, unsupported: 0 });
  assert.deepEqual(nmeaMode(0x58), { mask: 8, baud: 115200, unsupported: 0 });
  assert.deepEqual(nmeaMode(0x181), { mask: 1, baud: 4800, unsupported: 0x180 });
  assert.throws(() => nmeaMode(0x60), /baud rate code 6/);
});

Deno.test("parseNmea() reads RMC, GGA, GLL and ZDA times from GP, GN and GL talkers", () => {
  const rmc = parseNmea(frame("GPRMC,085320.25,A,4807.038,N,01131.000,E,0.0,0.0,091025,,,A"), T);
  assert.deepEqual(rmc, { kind: "time", sentence: "GPRMC", sec: T, nsec: 250_000_000, leap: 0 });
  const gga = parseNmea(
    frame("GNGGA,085320,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"),
    T + 3,
  );
  assert.deepEqual(gga, { kind: "time", sentence: "GNGGA", sec: T, nsec: 0, leap: 0 });
  const gll = parseNmea(frame("GLGLL,4807.038,N,01131.000,E,085320.5,A,A"), T);
  assert.deepEqual(gll, { kind: "time", sentence: "GLGLL", sec: T, nsec: 500_000_000, leap: 0 });
  const zda = parseNmea(frame("GPZDA,085320.00,09,10,2025,00,00"), T);
  assert.deepEqual(zda, { kind: "time", sentence: "GPZDA", sec: T, nsec: 0, leap: 0 });
});

Deno.test("parseNmea() puts a sentence without a date on the day nearest the system time", () => {
  // 23:59:59 received a second after midnight belongs to the day before.
  const midnight = Math.floor(T / 86400) * 86400 + 86400;
  const p = parseNmea(
    frame("GPGGA,235959,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"),
    midnight + 1,
  );
  assert.equal(p.kind, "time");
  assert.equal(p.kind === "time" ? p.sec : 0, midnight - 1);
  // A two-digit year takes the nearest century.
  const old = parseNmea(frame("GPRMC,000000,A,1,N,1,E,0,0,010199,,,A"), T);
  assert.equal(old.kind === "time" ? new Date(old.sec * 1000).getUTCFullYear() : 0, 1999);
});

Deno.test("parseNmea() refuses bad checksums and frames, and says when there is no fix", () => {
  const good = frame("GPRMC,085320,A,4807.038,N,01131.000,E,0.0,0.0,091025,,,A");
  assert.equal(parseNmea(good.slice(0, -2) + "00", T).kind, "bad_format");
  assert.equal(parseNmea(good.slice(0, 20), T).kind, "bad_format");
  assert.equal(parseNmea("GPRMC,085320,A", T).kind, "bad_format");
  assert.equal(parseNmea(frame("GPRMC,0853xx,A,1,N,1,E,0,0,091025,,,A"), T).kind, "bad_format");
  assert.equal(parseNmea(frame("GPRMC,085320,V,,,,,,,091025,,,N"), T).kind, "bad_data");
  assert.equal(parseNmea(frame("GPGGA,085320,,,,,0,00,,,M,,M,,"), T).kind, "bad_data");
  assert.equal(parseNmea(frame("GPRMC,085320,A,1,N,1,E,0,0,310225,,,A"), T).kind, "bad_data");
  assert.equal(parseNmea(frame("GPZDA,,,,,,"), T).kind, "bad_data");
});

Deno.test("parseNmea() ignores other sentences, other talkers and those the mode leaves out", () => {
  assert.equal(parseNmea(frame("GPGSV,3,1,11,03,03,111,00"), T).kind, "ignored");
  assert.equal(parseNmea(frame("BDRMC,085320,A,1,N,1,E,0,0,091025,,,A"), T).kind, "ignored");
  const gga = frame("GPGGA,085320,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,");
  assert.equal(parseNmea(gga, T, 0x1).kind, "ignored");
  assert.equal(parseNmea(gga, T, 0x2).kind, "time");
});

/** A port that never has input (the driver's read loop just waits). */
const idlePort = (): SerialPort => ({
  wait: () => new Promise((r) => setTimeout(() => r(false), 5)),
  read: () => new Uint8Array(0),
  close: () => {},
});

Deno.test("NmeaDriver: sentences become samples at the time2 offset; garbage and corrupt lines are counted and dropped", async () => {
  const enc = new TextEncoder();
  const start = fromUnix(T);
  const m = manualContext(start, 8);
  const d = new NmeaDriver(
    { type: 20, unit: 0, mode: 1, fudge: { time2Sec: 0.1 }, path: "/dev/test" },
    idlePort,
  );
  const got: RefclockSample[] = [];
  d.start(m.ctx, (s) => got.push(s));
  for (let k = 0; k < 8; k++) {
    // Each sentence of second T+k ends 0.1 s after it on the system clock; every other second
    // is preceded by noise, a sentence with a wrong checksum and a half sentence.
    const sec = T + k;
    const hms = new Date(sec * 1000).toISOString().slice(11, 19).replaceAll(":", "");
    const rmc = frame(`GPRMC,${hms},A,4807.038,N,01131.000,E,0.0,0.0,091025,,,A`);
    const gga = frame(`GPGGA,${hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`);
    let text = `${rmc}\r\n${gga}\r\n`;
    if (k % 2 === 1) text = `\x00\xffnoise${rmc.slice(0, -2)}00\r\n$GPRMC,${hms},A,48${text}`;
    const at = addSec(fromUnix(sec), 0.1);
    // Delivered in two reads, split inside a sentence.
    const bytes = enc.encode(text);
    d.receive(bytes.subarray(0, 30), at);
    d.receive(bytes.subarray(30), at);
  }
  m.advance(4.5);
  const c = d.counters();
  assert.equal(c.samples, 8);
  assert.equal(c.badformat, 4);
  assert.equal(c.ignored, 8); // GGA is left out by mode 1
  assert.ok((c.garbage ?? 0) >= 4 * 7 + 4, JSON.stringify(c)); // noise bytes and the half lines
  assert.ok(got.length >= 1);
  for (const s of got) assert.ok(Math.abs(s.offsetSec) < 1e-6, `offset ${s.offsetSec}`);
  assert.match(d.timecode, /^\$GPRMC,/);
  // A clockstats line for each sentence used, and one for opening the port.
  assert.equal(m.stats.filter((l) => l.startsWith("$GPRMC,")).length, 8);
  assert.deepEqual(m.stats.filter((l) => !l.startsWith("$")), ["open /dev/test 4800"]);
  d.stop();
  await d.stopped;
});

Deno.test("NmeaDriver: with flag1 the PPS pulses give the samples, numbered by the sentences", async () => {
  const start = fromUnix(T);
  const m = manualContext(start, 8);
  const kernel = fakePpsKernel();
  const d = new NmeaDriver(
    { type: 20, unit: 1, mode: 0, fudge: { flags: [true, false, false, false], time1Sec: 0 } },
    idlePort,
    (p) => openPpsDevice(p, kernel.sys),
  );
  assert.equal(d.ppsPath, "/dev/gpspps1");
  const got: RefclockSample[] = [];
  d.start(m.ctx, (s) => got.push(s));
  const hms = new Date(T * 1000).toISOString().slice(11, 19).replaceAll(":", "");
  // The sentence for second T ends at T + 0.35 on a system clock 2 ms slow: the pulse of the
  // next second comes at T + 0.998.
  d.receive(
    new TextEncoder().encode(frame(`GPZDA,${hms},09,10,2025,00,00`) + "\r\n"),
    addSec(fromUnix(T), 0.348),
  );
  kernel.pulse(T, 998_000_000);
  for (let i = 0; i < 50 && d.counters().ppsSamples === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(d.counters().ppsSamples, 1);
  m.advance(4.5);
  assert.equal(got.length, 1);
  assert.ok(Math.abs(got[0]!.offsetSec - 0.002) < 1e-6, `${got[0]!.offsetSec}`);
  d.stop();
  await d.stopped;
  await kernel.idle();
});

Deno.test("NmeaDriver: a port that cannot be opened, and mode bits it lacks, are warnings, never a crash", async () => {
  const m = manualContext(fromUnix(T));
  let opens = 0;
  const d = new NmeaDriver({ type: 20, unit: 0, mode: 0x100, fudge: {} }, (path) => {
    opens++;
    throw new Error(`open ${path}: ENOENT`);
  });
  assert.equal(d.path, "/dev/gps0");
  d.start(m.ctx, () => {});
  await new Promise((r) => setTimeout(r, 20));
  d.stop();
  await d.stopped;
  assert.equal(opens, 1);
  assert.match(
    m.lines.join("\n"),
    /NMEA\(0\): \/dev\/gps0: open \/dev\/gps0: ENOENT; trying again/,
  );
  assert.match(m.lines.join("\n"), /NMEA\(0\): mode bits 0x100 are not implemented/);
  assert.equal(d.counters().openFailures, 1);
});
