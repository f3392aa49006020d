import assert from "node:assert/strict";
import {
  cFixed,
  formatClockstats,
  formatCryptostats,
  formatLoopstats,
  formatPeerstats,
  formatProtostats,
  formatRawstats,
  formatSysstats,
  oneLine,
  peerStatusWord,
  rawTimestamp,
  refidText,
  statsTime,
  systemStatusWord,
} from "./stats_line.ts";
import type { NtpTime } from "../proto/ntp_time.ts";

/** A local time given as ntpd's files show it: MJD, seconds past midnight, milliseconds. */
function at(mjd: number, sec: number, ms: number): NtpTime {
  const whole = BigInt((mjd - 15020) * 86400 + sec);
  return (whole << 32n) + BigInt(Math.round((ms / 1000) * 2 ** 32));
}

/** An NTP timestamp from its text ("3565350574.400229473"), exact to the nanosecond. */
function ts(text: string): NtpTime {
  const [s, f] = text.split(".");
  const ns = BigInt(f!.padEnd(9, "0"));
  return (BigInt(s!) << 32n) + (ns * (1n << 32n) + 500_000_000n) / 1_000_000_000n;
}

// The expected lines are the examples of ntpd 4.2.8's monitoring documentation (monopt.html).

Deno.test("formatLoopstats() writes ntpd's loopstats line", () => {
  assert.equal(
    formatLoopstats({
      kind: "loopstats",
      at: at(50935, 75440, 31),
      offsetSec: 0.000006019,
      freqPpm: 13.778,
      jitterSec: 0.000351733,
      wanderPpm: 0.01338,
      pollLog2: 6,
    }),
    "50935 75440.031 0.000006019 13.778 0.000351733 0.013380 6",
  );
});

Deno.test("formatPeerstats() writes ntpd's peerstats line with the status word in hex", () => {
  const line = formatPeerstats({
    kind: "peerstats",
    at: at(48773, 10847, 650),
    assocId: 1,
    address: { family: 4, address: "127.127.4.1", port: 123 },
    statusByte: 0x97,
    offsetSec: -0.001605376,
    delaySec: 0,
    dispersionSec: 0.001424877,
    jitterSec: 0.000958674,
  }, peerStatusWord(0x97, 1, 4));
  assert.equal(
    line,
    "48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674",
  );
});

Deno.test("formatRawstats() writes ntpd 4.2.8's 17-field rawstats line", () => {
  assert.equal(
    formatRawstats({
      kind: "rawstats",
      at: at(56285, 54575, 160),
      assocId: 1,
      source: { family: 4, address: "128.4.1.1", port: 123 },
      destination: "192.168.1.5",
      t1: ts("3565350574.400229473"),
      t2: ts("3565350574.442385200"),
      t3: ts("3565350574.442436000"),
      t4: ts("3565350575.154505763"),
      leap: 0,
      version: 4,
      mode: 4,
      stratum: 1,
      pollLog2: 8,
      precisionLog2: -21,
      rootDelaySec: 0,
      rootDispersionSec: 0.00032,
      refid: 0x50505300, // "PPS"
    }),
    "56285 54575.160 128.4.1.1 192.168.1.5 3565350574.400229473 3565350574.442385200 " +
      "3565350574.442436000 3565350575.154505763 0 4 4 1 8 -21 0.000000 0.000320 .PPS.",
  );
});

Deno.test("formatRawstats() shows an unknown destination as the wildcard and a refid as an address", () => {
  const line = formatRawstats({
    kind: "rawstats",
    at: at(60000, 0, 0),
    assocId: 1,
    source: { family: 6, address: "2001:db8::1", port: 123 },
    destination: null,
    t1: ts("3908131200.5"),
    t2: ts("3908131200.5"),
    t3: ts("3908131200.5"),
    t4: ts("3908131200.5"),
    leap: 3,
    version: 3,
    mode: 4,
    stratum: 2,
    pollLog2: 6,
    precisionLog2: -20,
    rootDelaySec: 0.0123456,
    rootDispersionSec: 1,
    refid: 0xc0000201,
  });
  assert.equal(
    line,
    "60000 0.000 2001:db8::1 :: 3908131200.500000000 3908131200.500000000 3908131200.500000000 " +
      "3908131200.500000000 3 3 4 2 6 -20 0.012346 1.000000 192.0.2.1",
  );
});

Deno.test("formatClockstats() writes ntpd's clockstats line", () => {
  assert.equal(
    formatClockstats(at(49213, 525, 624), "127.127.4.1", "93 226 00:08:29.606 D"),
    "49213 525.624 127.127.4.1 93 226 00:08:29.606 D",
  );
});

Deno.test("formatCryptostats() writes ntpd's cryptostats line", () => {
  assert.equal(
    formatCryptostats(at(49213, 525, 624), "128.4.1.1", "cert bad signature"),
    "49213 525.624 128.4.1.1 cert bad signature",
  );
});

Deno.test("formatProtostats() writes ntpd's protostats line", () => {
  assert.equal(
    formatProtostats(at(49213, 525, 624), "128.4.1.1", 0x963a, 0x8a, "sys_peer"),
    "49213 525.624 128.4.1.1 963a 8a sys_peer",
  );
  assert.equal(
    formatProtostats(at(49213, 525, 624), "0.0.0.0", systemStatusWord(0, 6, 1, 5), 5, "clock_sync"),
    "49213 525.624 0.0.0.0 0615 05 clock_sync",
  );
});

Deno.test("formatSysstats() writes ntpd 4.2.8's 13-field sysstats line", () => {
  assert.equal(
    formatSysstats(at(50928, 2132, 543), {
      sinceResetSec: 3600,
      received: 81965,
      processed: 0,
      currentVersion: 9546,
      oldVersion: 56,
      accessDenied: 512,
      badFormat: 540,
      badAuth: 10,
      declined: 4,
      rateExceeded: 147,
      kissesSent: 1,
    }),
    "50928 2132.543 3600 81965 0 9546 56 512 540 10 4 147 1",
  );
});

Deno.test("statsTime() rounds the fraction on its own and carries into the seconds", () => {
  assert.equal(statsTime(at(60000, 59, 999.6)), "60000 60.000");
  assert.equal(statsTime(at(60000, 86399, 999.6)), "60000 86400.000");
  assert.equal(statsTime(at(60000, 0, 0.4)), "60000 0.000");
  // 2036-02-07 06:28:16 UTC (06:28:16 = 23296 s), the first second of NTP era 1, is MJD 64730.
  assert.equal(statsTime(1n << 64n), "64730 23296.000");
});

Deno.test("rawTimestamp() writes the wire timestamp of a time in any era", () => {
  assert.equal(rawTimestamp((1n << 64n) + (5n << 32n)), "5.000000000");
  assert.equal(rawTimestamp((7n << 32n) + (1n << 32n) - 1n), "8.000000000");
});

Deno.test("cFixed() matches C's %f for negative zero, tiny negatives and non-numbers", () => {
  assert.equal(cFixed(-0, 3), "-0.000");
  assert.equal(cFixed(-1e-12, 9), "-0.000000000");
  assert.equal(cFixed(NaN, 6), "nan");
  assert.equal(cFixed(-Infinity, 6), "-inf");
  assert.equal(cFixed(1.5e21, 2), "1500000000000000000000.00");
});

Deno.test("oneLine() keeps a refclock's text on one line", () => {
  assert.equal(oneLine("a\nb\rc\u0000d\u007f"), "a?b?c?d?");
});

Deno.test("refidText() shows stratum 0/1 refids as text between dots", () => {
  assert.equal(refidText(0x47505300, 1), ".GPS.");
  assert.equal(refidText(0x52415445, 0), ".RATE.");
  assert.equal(refidText(0x0a000001, 3), "10.0.0.1");
  assert.equal(refidText(0x01025300, 1), ".??S.");
});

Deno.test("peerStatusWord() stops the event counter at 15", () => {
  assert.equal(peerStatusWord(0x96, 40, 0xa), 0x96fa);
});
