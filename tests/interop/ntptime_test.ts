// Interop: our read-only decoding of the kernel's struct timex agrees with NTPsec's `ntptime`.
// ntptime runs with no options (it only reads) and without CAP_SYS_TIME.

import assert from "node:assert/strict";
import { realtimeNs } from "../../ffi/libc.ts";
import {
  type AdjtimeResult,
  formatStatus,
  modeNames,
  readKernelTime,
  scaledPpmToPpm,
  statusNames,
  timeStateName,
  timexPrecisionSec,
  timexTimeUnixNs,
} from "../../ffi/timex.ts";
import { diffSec, fromTimestamp, fromUnixNs, toTimestamp } from "../../lib/proto/ntp_time.ts";
import { needPeers } from "../support/peers.ts";

/** What ntptime printed, field by field (null when a line was missing). */
interface NtptimeReport {
  gettimeCode: number | null;
  ntpTime: bigint | null;
  taiOffset: number | null;
  adjtimeCode: number | null;
  adjtimeWord: string | null;
  modes: string | null;
  offsetUs: number | null;
  frequency: string | null;
  intervalSec: number | null;
  maxErrorUs: number | null;
  estErrorUs: number | null;
  status: number | null;
  statusWords: string | null;
  timeConstant: number | null;
  precision: string | null;
  tolerancePpm: number | null;
}

function parseNtptime(text: string): NtptimeReport {
  const m = (re: RegExp) => text.match(re);
  const num = (re: RegExp) => {
    const r = m(re);
    return r === null ? null : Number(r[1]);
  };
  // The ntp_adjtime() section repeats "maximum error": take the one after its header.
  const adjStart = text.indexOf("ntp_adjtime()");
  const adj = adjStart < 0 ? "" : text.slice(adjStart);
  const raw = m(/time ([0-9a-f]+)\.([0-9a-f]+) /);
  const errors = adj.match(/maximum error (\d+) us, estimated error (\d+) us/);
  const status = m(/status (0x[0-9a-f]+) \(([^)]*)\)/);
  const offsetLine = m(/offset (-?[\d.]+) us, frequency (-?[\d.]+) ppm, interval (\d+) s/);
  const constLine = m(/time constant (\d+), precision ([\d.]+) us, tolerance (\d+) ppm/);
  return {
    gettimeCode: num(/ntp_gettime\(\) returns code (\d+)/),
    ntpTime: raw === null ? null : (BigInt(`0x${raw[1]}`) << 32n) | BigInt(`0x${raw[2]}`),
    taiOffset: num(/TAI offset (-?\d+)/),
    adjtimeCode: num(/ntp_adjtime\(\) returns code (\d+)/),
    adjtimeWord: m(/ntp_adjtime\(\) returns code \d+ \((\w+)\)/)?.[1] ?? null,
    modes: m(/modes (0x[0-9a-f]+ \([^)]*\))/)?.[1] ?? null,
    offsetUs: offsetLine === null ? null : Number(offsetLine[1]),
    frequency: offsetLine?.[2] ?? null,
    intervalSec: offsetLine === null ? null : Number(offsetLine[3]),
    maxErrorUs: errors === null ? null : Number(errors[1]),
    estErrorUs: errors === null ? null : Number(errors[2]),
    status: status === null ? null : Number(status[1]),
    statusWords: status?.[2] ?? null,
    timeConstant: constLine === null ? null : Number(constLine[1]),
    precision: constLine?.[2] ?? null,
    tolerancePpm: constLine === null ? null : Number(constLine[3]),
  };
}

async function runNtptime(path: string): Promise<string> {
  // As root, drop CAP_SYS_TIME so even a misbehaving ntptime could not change the clock;
  // a non-root process has no such capability to begin with.
  const guarded = Deno.uid() === 0;
  const cmd = guarded
    ? new Deno.Command("setpriv", {
      args: ["--bounding-set=-sys_time", "--inh-caps=-sys_time", "--", path],
      env: { LC_ALL: "C" },
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(path, { env: { LC_ALL: "C" }, stdout: "piped", stderr: "piped" });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `ntptime failed: ${new TextDecoder().decode(out.stderr)}${stdout}`);
  return stdout;
}

/** Asserts that ntptime's `field` equals Horae's, showing both. */
function assertSame<T>(field: string, theirs: T, ours: T, ctx: string): void {
  assert.ok(theirs === ours, `${field}: ntptime ${theirs}, Horae ${ours}. ${ctx}`);
}

/**
 * Asserts that ntptime's `field` equals what one of our reads (before or after ntptime ran)
 * gives, showing both sides when not.
 */
function assertEither<T>(field: string, theirs: T, before: T, after: T, ctx: string): void {
  assert.ok(
    theirs === before || theirs === after,
    `${field}: ntptime ${theirs}, Horae ${before} (before) / ${after} (after). ${ctx}`,
  );
}

const peers = await needPeers("readKernelTime() against ntptime", { programs: ["ntptime"] });

Deno.test({
  name: "readKernelTime() agrees with NTPsec ntptime (status, frequency, constant, errors, ...)",
  ignore: peers.ignore,
  fn: async () => {
    const ntptime = peers.path("ntptime");
    const startNs = realtimeNs();
    const before: AdjtimeResult = readKernelTime();
    const text = await runNtptime(ntptime);
    const after: AdjtimeResult = readKernelTime();
    const endNs = realtimeNs();
    const elapsedSec = Number(endNs - startNs) / 1e9;
    const r = parseNtptime(text);
    const ctx = `ntptime said:\n${text}`;
    for (const [k, v] of Object.entries(r)) assert.notEqual(v, null, `${k} missing. ${ctx}`);

    // Return code of ntp_adjtime and its word.
    assertEither("adjtimeCode", r.adjtimeCode, before.state, after.state, ctx);
    assertSame("adjtime word", r.adjtimeWord, timeStateName(r.adjtimeCode!), ctx);
    assertSame("ntp_gettime code", r.gettimeCode, r.adjtimeCode, ctx);
    // ntptime read with modes 0, as we do.
    assertSame("modes", r.modes, `0x0 (${modeNames(0).join(",")})`, ctx);

    // Status bits and their names.
    assertEither("status", r.status, before.timex.status, after.timex.status, ctx);
    assertSame("status words", r.statusWords, statusNames(r.status!).join(","), ctx);
    assertSame(
      "status line",
      text.match(/status 0x[^\n]*\)/)?.[0],
      `status ${formatStatus(r.status!)}`,
      ctx,
    );

    // Frequency (scaled ppm → ppm) and time constant.
    const freqText = (a: AdjtimeResult) => scaledPpmToPpm(a.timex.freq).toFixed(3);
    assertEither("frequency", r.frequency, freqText(before), freqText(after), ctx);
    assertEither("timeConstant", r.timeConstant, before.timex.constant, after.timex.constant, ctx);

    // Precision in µs (Linux reports µs whatever STA_NANO says) and tolerance in ppm.
    const precisionText = (a: AdjtimeResult) => (timexPrecisionSec(a.timex) * 1e6).toFixed(3);
    assertEither("precision", r.precision, precisionText(before), precisionText(after), ctx);
    assertSame("tolerance", r.tolerancePpm, Math.round(scaledPpmToPpm(after.timex.tolerance)), ctx);
    assertSame("interval", r.intervalSec, 2 ** after.timex.shift, ctx);

    // maxerror grows by the tolerance (500 µs) every second until it reaches 16 s.
    const growthUs = scaledPpmToPpm(after.timex.tolerance) * (Math.ceil(elapsedSec) + 1);
    assert.ok(
      Math.abs(r.maxErrorUs! - after.timex.maxerror) <= growthUs,
      `maxerror: ntptime ${r.maxErrorUs} µs, Horae ${after.timex.maxerror} µs (±${growthUs}). ${ctx}`,
    );
    assertEither("estErrorUs", r.estErrorUs, before.timex.esterror, after.timex.esterror, ctx);
    assertEither("taiOffset", r.taiOffset, before.timex.tai, after.timex.tai, ctx);

    // The kernel's time: ntptime's raw NTP timestamp vs the time in our decoded struct.
    const ours = fromUnixNs(timexTimeUnixNs(after.timex));
    const theirs = fromTimestamp(r.ntpTime!, ours);
    const gapSec = diffSec(ours, theirs);
    assert.ok(
      gapSec >= -0.001 && gapSec <= elapsedSec + 0.001,
      `time: ntptime ${r.ntpTime}, Horae ${toTimestamp(ours)} (gap ${gapSec} s). ${ctx}`,
    );
  },
});
