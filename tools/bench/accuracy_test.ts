import assert from "node:assert/strict";
import {
  horaeEstimate,
  markdownTable,
  parseTotalTx,
  parseTracking,
  parseTrackingFreq,
  percentiles,
  type ScenarioResult,
  SCENARIOS,
} from "./accuracy.ts";
import { validateShaping } from "./udp_relay_shaping.ts";

const TRACKING = `Reference ID    : C0000201 (192.0.2.1)
Stratum         : 9
Ref time (UTC)  : Thu Dec 03 16:10:01 2026
System time     : 0.000012345 seconds slow of NTP time
Last offset     : -0.000001000 seconds
RMS offset      : 0.000003000 seconds
Frequency       : 0.010 ppm fast
Residual freq   : +0.001 ppm
Skew            : 0.100 ppm
Root delay      : 0.000100000 seconds
Root dispersion : 0.000020000 seconds
Update interval : 16.1 seconds
Leap status     : Normal
`;

Deno.test("parseTracking() reads chronyd's System time with Horae's sign (slow is positive)", () => {
  assert.equal(parseTracking(TRACKING), 0.000012345);
  assert.equal(parseTracking(TRACKING.replace("slow", "fast")), -0.000012345);
  assert.equal(
    parseTracking(
      TRACKING.replace("Leap status     : Normal", "Leap status     : Not synchronised"),
    ),
    null,
  );
  assert.equal(parseTracking("506 Cannot talk to daemon\n"), null);
});

Deno.test("parseTotalTx() reads chronyc ntpdata's request count", () => {
  assert.equal(parseTotalTx("Total TX        : 23\nTotal RX        : 22\n"), 23);
  assert.equal(parseTotalTx(""), null);
});

Deno.test("horaeEstimate() takes the system clock offset only while synchronised", () => {
  assert.equal(
    horaeEstimate({ synchronized: true, systemClockOffsetSec: 2e-6, offsetSec: 9 }),
    2e-6,
  );
  assert.equal(horaeEstimate({ synchronized: true, offsetSec: -3e-6 }), -3e-6);
  assert.equal(horaeEstimate({ synchronized: false, systemClockOffsetSec: 2e-6 }), null);
  assert.equal(horaeEstimate({ synchronized: true, systemClockOffsetSec: null }), null);
  assert.equal(horaeEstimate(null), null);
});

Deno.test("every scenario's relay model is valid; at least five are shaped, one changes mid-run", () => {
  const shaped = SCENARIOS.filter((s) => s.shaping(300) !== null);
  assert.ok(shaped.length >= 5);
  for (const s of shaped) assert.deepEqual(validateShaping(s.shaping(300)!), [], s.name);
  assert.ok(shaped.some((s) => (s.shaping(300)!.changes ?? []).length > 0));
  assert.equal(SCENARIOS.filter((s) => s.shaping(300) === null).length, 1, "one unshaped");
});

Deno.test("markdownTable() puts Horae's figures over chronyd's as ratios", () => {
  const d = (rms: number, packets: number | null, own: number) => ({
    count: 10,
    missing: 0,
    meanSec: 0,
    rmsSec: rms,
    maxSec: 2 * rms,
    timeToThresholdSec: 12,
    packets,
    ownCount: own,
    readings: [],
  });
  const r: ScenarioResult = {
    name: "x",
    description: "",
    durationSec: 60,
    settleSec: 10,
    horae: d(8e-6, 20, 21),
    chronyd: d(10e-6, 25, 25),
    relay: null,
    inherentBiasSec: null,
    loadBefore: "",
    loadAfter: "",
  };
  const row = markdownTable([r]).split("\n")[2]!;
  assert.equal(
    row,
    "| x | 8.0 / 10.0 | 0.80x | 16.0 / 20.0 | 0.0 / 0.0 | 12 s / 12 s | 20 / 25 | 0.80x |",
  );
  const direct = markdownTable([{ ...r, horae: d(8e-6, null, 21), chronyd: d(1e-5, null, 25) }]);
  assert.match(direct, /21 \/ 25 \(own counts\) \| 0\.84x/);
});

Deno.test("percentiles() gives p50/p90/p99/max", () => {
  const xs = Array.from({ length: 100 }, (_, k) => 100 - k);
  assert.equal(percentiles(xs), "51/91/100/100");
  assert.equal(percentiles([]), "—");
});

Deno.test("parseTrackingFreq() reads chronyd's frequency (fast is positive)", () => {
  assert.equal(parseTrackingFreq(TRACKING), 0.01);
  assert.equal(parseTrackingFreq(TRACKING.replace("0.010 ppm fast", "2.500 ppm slow")), -2.5);
  assert.equal(parseTrackingFreq(""), null);
});
