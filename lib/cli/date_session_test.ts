// Tests for ntpdate's exchange (date_session.ts), driven by hand: requests, origin checks,
// timeouts, spacing and the measured transmit time.

import assert from "node:assert/strict";
import { addSec, diffSec, type NtpTime, toTimestamp } from "../proto/ntp_time.ts";
import { decodePacket, encodePacket } from "../proto/packet.ts";
import { SeededRng } from "../proto/rng.ts";
import { DateSession, SAMPLE_SPACING_SEC } from "./date_session.ts";

const T0: NtpTime = 3_913_056_000n << 32n;
const SERVER = { name: "a", address: { family: 4 as const, address: "192.0.2.1", port: 123 } };

function session(samples = 2, timeoutSec = 1): DateSession {
  return new DateSession([SERVER], {
    samples,
    timeoutSec,
    version: 4,
    precisionLog2: -20,
    rng: new SeededRng(3),
  });
}

/** A server's reply to `request`: its clock `offsetSec` ahead, answering `delaySec` later. */
function reply(
  request: Uint8Array,
  sentAt: NtpTime,
  offsetSec: number,
  oneWaySec: number,
  origin?: bigint,
) {
  const q = decodePacket(request);
  assert.ok(q.ok);
  const rx = addSec(sentAt, oneWaySec + offsetSec);
  return encodePacket({
    ...q.packet,
    leap: 0,
    mode: 4,
    stratum: 2,
    refid: 0x0a000001,
    referenceTimestamp: toTimestamp(sentAt),
    originTimestamp: origin ?? q.packet.transmitTimestamp,
    receiveTimestamp: toTimestamp(rx),
    transmitTimestamp: toTimestamp(addSec(rx, 1e-5)),
  });
}

Deno.test("DateSession measures offset and delay, spacing its requests", () => {
  const s = session(2);
  const [first] = s.poll(T0);
  assert.ok(first);
  assert.equal(s.poll(T0).length, 0, "one request at a time");
  const t4 = addSec(T0, 0.00201);
  s.receive(reply(first.data, T0, 0.25, 0.001), SERVER.address, t4);
  // The next one waits for the spacing.
  assert.equal(s.poll(addSec(T0, 0.1)).length, 0);
  assert.ok(Math.abs(diffSec(s.deadline!, T0) - SAMPLE_SPACING_SEC) < 1e-9);
  const second = s.poll(addSec(T0, SAMPLE_SPACING_SEC));
  assert.equal(second.length, 1);
  const [r] = s.results(t4);
  assert.ok(Math.abs(r!.filter!.offsetSec - 0.25) < 1e-6, `${r!.filter!.offsetSec}`);
  assert.ok(Math.abs(r!.filter!.delaySec - 0.002) < 1e-6);
  assert.equal(r!.vars!.stratum, 2);
});

Deno.test("DateSession ignores a reply with the wrong origin and one from a stranger", () => {
  const s = session(1);
  const [req] = s.poll(T0);
  s.receive(reply(req!.data, T0, 0, 0.001, 12345n), SERVER.address, addSec(T0, 0.002));
  s.receive(
    reply(req!.data, T0, 0, 0.001),
    { ...SERVER.address, address: "192.0.2.9" },
    addSec(T0, 0.002),
  );
  assert.equal(s.done, false);
  s.receive(reply(req!.data, T0, 0.5, 0.001), SERVER.address, addSec(T0, 0.00201));
  s.poll(addSec(T0, 0.003));
  assert.equal(s.done, true);
  const [r] = s.results(addSec(T0, 0.003));
  assert.deepEqual(r!.rejected, { bogus_origin: 1 });
  assert.ok(s.events.some((e) => e.kind === "reject" && e.reason === "unknown_sender"));
  assert.ok(Math.abs(r!.filter!.offsetSec - 0.5) < 1e-6);
});

Deno.test("DateSession times out a request, sends the next, and refuses the late reply", () => {
  const s = session(2, 1);
  const [first] = s.poll(T0);
  assert.equal(s.poll(addSec(T0, 0.999)).length, 0);
  assert.equal(s.deadline, addSec(T0, 1));
  const [second] = s.poll(addSec(T0, 1));
  assert.ok(second, "the next request as soon as the first timed out");
  s.receive(reply(first!.data, T0, 0, 1.1), SERVER.address, addSec(T0, 1.2));
  const [r] = s.results(addSec(T0, 1.2));
  assert.deepEqual(r!.rejected, { timeout: 1, bogus_origin: 1 });
  assert.deepEqual(r!.samples, [null]);
});

Deno.test("DateSession takes T1 from the transport's report of when the request left", () => {
  const s = session(1);
  const [req] = s.poll(T0);
  // The request really left 3 ms after the session built it (a kernel timestamp).
  const left = addSec(T0, 0.003);
  s.transmitted(0, req!.xmt, left, true);
  s.transmitted(0, req!.xmt, addSec(T0, 0.009), false); // a clock read never replaces the kernel's
  s.receive(reply(req!.data, left, 0, 0.001), SERVER.address, addSec(left, 0.00201));
  const [r] = s.results(addSec(left, 0.00201));
  assert.ok(Math.abs(r!.filter!.offsetSec) < 1e-6, `${r!.filter!.offsetSec}`);
  assert.ok(Math.abs(r!.filter!.delaySec - 0.002) < 1e-6);
});

Deno.test("DateSession writes a version -o client request with a fresh transmit timestamp", () => {
  const s = new DateSession([SERVER], {
    samples: 1,
    timeoutSec: 1,
    version: 2,
    precisionLog2: -20,
    rng: new SeededRng(1),
  });
  const [req] = s.poll(T0);
  const p = decodePacket(req!.data);
  assert.ok(p.ok);
  assert.equal(p.packet.version, 2);
  assert.equal(p.packet.mode, 3);
  assert.equal(p.packet.transmitTimestamp, req!.xmt);
  // The send time, its bits below the precision randomised.
  assert.ok(Math.abs(diffSec(req!.xmt, toTimestamp(T0))) < 2e-6);
});
