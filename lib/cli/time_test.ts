// Tests for `horae time` (ntptime) against a pretend kernel (_fake_kernel.ts).
// SAFETY: every test passes a FakeKernel; nothing here calls the real ntp_adjtime.

import assert from "node:assert/strict";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_OFFSET,
  ADJ_STATUS,
  ADJ_TAI,
  STA_NANO,
  STA_PLL,
  STA_UNSYNC,
} from "../../ffi/timex.ts";
import { FakeKernel } from "./_fake_kernel.ts";
import type { CliIo } from "./check.ts";
import { costLine, prettyDate, runTime, type TimeEnv } from "./time.ts";

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      readStdin: () => Promise.resolve(new Uint8Array()),
      writeFile: () => Promise.resolve(),
    },
    out: () => out,
    err: () => err,
  };
}

function env(
  kernel: FakeKernel,
  canSet: boolean,
): { env: TimeEnv; out: () => string; err: () => string } {
  const c = capture();
  return {
    env: { io: c.io, kernel, canSetClock: () => canSet, utc: true },
    out: c.out,
    err: c.err,
  };
}

Deno.test("runTime() prints ntptime's two sections for an unsynchronised kernel", async () => {
  const k = new FakeKernel();
  const e = env(k, false);
  assert.equal(await runTime([], "ntptime", e.env), 0, e.err());
  // 1796000000 = 2026-11-30T00:53:20Z; NTP seconds 0xEB8D4A20... computed from the Unix time.
  const ntpSec = (1_796_000_000 + 2_208_988_800).toString(16);
  const lines = e.out().split("\n");
  assert.equal(lines[0], "ntp_gettime() returns code 5 (ERROR)");
  assert.match(
    lines[1]!,
    new RegExp(
      `^  time ${ntpSec}\\.[0-9a-f]{8}  Mon, Nov 30 2026 00:53:20\\.123, \\(\\.123\\d{3}\\),$`,
    ),
  );
  assert.equal(lines[2], "  maximum error 16000000 us, estimated error 16000000 us, TAI offset 0");
  assert.deepEqual(lines.slice(3), [
    "ntp_adjtime() returns code 5 (ERROR)",
    "  modes 0x0 (),",
    "  offset 0.000 us, frequency 0.000 ppm, interval 1 s,",
    "  maximum error 16000000 us, estimated error 16000000 us,",
    "  status 0x40 (UNSYNC),",
    "  time constant 2, precision 1.000 us, tolerance 500 ppm,",
    "",
  ]);
  assert.deepEqual(k.writes, []);
});

Deno.test("runTime() decodes status bits and nanosecond units; PPS lines with an interval", async () => {
  const k = new FakeKernel({
    state: {
      status: STA_PLL | STA_NANO,
      offset: 1130,
      freq: Math.round(-8.399 * 65536),
      time: { sec: 1_796_000_000, frac: 364_676_652 },
      shift: 2,
      ppsfreq: 65536,
      calcnt: 3,
    },
  });
  const e = env(k, false);
  assert.equal(await runTime([], "ntptime", e.env), 0);
  const o = e.out();
  assert.match(o, /ntp_adjtime\(\) returns code 0 \(OK\)/);
  assert.match(o, /\(\.3646\d{5}\),\n/); // nine digits with STA_NANO
  assert.match(o, / {2}offset 1\.130 us, frequency -8\.399 ppm, interval 4 s,\n/);
  assert.match(o, / {2}status 0x2001 \(PLL,NANO\),\n/);
  assert.match(o, / {2}pps frequency 1\.000 ppm, stability 0\.000 ppm, jitter 0\.000 us,\n/);
  assert.match(o, / {2}intervals 3, jitter exceeded 0, stability exceeded 0, errors 0\.\n/);
});

Deno.test("runTime() refuses a write without CAP_SYS_TIME before any system call", async () => {
  for (const args of [["-f", "12.5"], ["-s", "0x2001"], ["-m", "100", "-e", "50"], ["-T", "37"]]) {
    const k = new FakeKernel();
    const before = structuredClone(k.state);
    const e = env(k, false);
    assert.equal(await runTime(args, "ntptime", e.env), 77, args.join(" "));
    assert.match(e.err(), /^ntptime: setting the .+ needs CAP_SYS_TIME .*nothing was changed\n$/);
    assert.equal(e.out(), "");
    assert.deepEqual(k.calls, [], "no call at all reached the kernel");
    assert.deepEqual(k.state, before);
  }
});

Deno.test("runTime() reports a kernel EPERM clearly (exit 77) and changes nothing", async () => {
  const k = new FakeKernel({ permitted: false });
  const before = structuredClone(k.state);
  const e = env(k, true); // believes it may, the kernel says no
  assert.equal(await runTime(["-f", "3"], "ntptime", e.env), 77);
  assert.match(e.err(), /ntp_adjtime refused to set the frequency: EPERM; needs CAP_SYS_TIME/);
  assert.deepEqual(k.writes, [ADJ_FREQUENCY]);
  assert.deepEqual(k.state, before);
});

Deno.test("runTime() writes the asked variables in one call and prints its modes", async () => {
  const k = new FakeKernel({ permitted: true });
  const e = env(k, true);
  assert.equal(await runTime(["-f", "-12.25", "-e", "40", "-s", "0x2041"], "ntptime", e.env), 0);
  assert.deepEqual(k.writes, [ADJ_FREQUENCY | ADJ_ESTERROR | ADJ_STATUS]);
  assert.equal(k.state.freq, Math.round(-12.25 * 65536));
  assert.equal(k.state.esterror, 40);
  // STA_NANO is read-only: only PLL and UNSYNC are written.
  assert.equal(k.state.status, STA_PLL | STA_UNSYNC);
  assert.match(e.out(), / {2}modes 0x1a \(FREQUENCY,ESTERROR,STATUS\),\n/);
  assert.match(e.out(), /frequency -12\.250 ppm/);
});

Deno.test("runTime() -o follows the kernel's units; -T sets the TAI offset", async () => {
  const k = new FakeKernel({ permitted: true, state: { status: STA_PLL | STA_NANO } });
  const e = env(k, true);
  assert.equal(await runTime(["-o", "250"], "ntptime", e.env), 0);
  assert.deepEqual(k.writes, [ADJ_OFFSET]);
  assert.equal(k.state.offset, 250_000); // ns
  assert.equal(await runTime(["-T", "37"], "ntptime", e.env), 0);
  assert.equal(k.state.tai, 37);
  assert.ok(k.writes.includes(ADJ_TAI));
});

Deno.test("runTime() rejects bad values as usage errors (exit 2), writing nothing", async () => {
  const cases: [string[], RegExp][] = [
    [["-f", "600"], /-f "600" is not -500 \.\. 500 ppm/],
    [["-f", "fast"], /-f "fast" is not/],
    [["-s", "PLL"], /-s "PLL" is not a status word/],
    [["-t", "11"], /-t "11" is not 0 \.\. 10/],
    [["-T", "37", "-t", "4"], /cannot be set together/],
    [["-x"], /unknown option -x/],
  ];
  for (const [args, msg] of cases) {
    const k = new FakeKernel({ permitted: true });
    const e = env(k, true);
    assert.equal(await runTime(args, "ntptime", e.env), 2, args.join(" "));
    assert.match(e.err(), msg);
    assert.match(e.err(), /\(see ntptime --help\)\n$/);
    assert.deepEqual(k.calls, []);
  }
});

Deno.test("runTime() --json, -c and -r", async () => {
  const k = new FakeKernel({ state: { status: STA_PLL | STA_NANO, freq: 3 * 65536, tai: 37 } });
  const e = env(k, false);
  assert.equal(await runTime(["--json"], "ntptime", e.env), 0);
  const j = JSON.parse(e.out());
  assert.equal(j.adjtime.freqPpm, 3);
  assert.deepEqual(j.adjtime.statusNames, ["PLL", "NANO"]);
  assert.equal(j.gettime.taiOffsetSec, 37);
  assert.equal(j.gettime.fractionUnit, "ns");

  const c = env(new FakeKernel(), false);
  assert.equal(await runTime(["-c", "-r"], "ntptime", c.env), 0);
  // 20 reads 7 µs apart: the first's microseconds, then 19 steps of 7.
  assert.match(c.out(), /^\[ us \d{6}: (7 ){18}7 \]\n/);
  assert.match(
    c.out(),
    /estimated error 16000000 us {2}ntptime=[0-9a-f]+\.[0-9a-f]+ unixtime=[0-9a-f]+\.\d{6} \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n, TAI offset 0\n/,
  );
});

Deno.test("costLine() and prettyDate()", () => {
  const t = (sec: number, frac: number) => ({ ...new FakeKernel().state, time: { sec, frac } });
  assert.equal(costLine([t(10, 999_998), t(11, 3), t(11, 5)]), "[ us 999998: 5 2 ]\n");
  assert.equal(prettyDate(0, 0.5, true), "Thu, Jan  1 1970 00:00:00.500");
});
