import assert from "node:assert/strict";
import fc from "fast-check";
import {
  controlMacOffset,
  CTL_HEADER_LEN,
  CTL_MAX_DATA_LEN,
  CtlErr,
  CtlOp,
  decodeControl,
  encodeControl,
  errorAnswer,
  fragmentAnswer,
  Reassembler,
} from "./mode6.ts";

const REQ = { version: 4, opcode: CtlOp.READVAR, sequence: 7, associd: 0 };

/** The 12 bytes NTPsec's ntpq sends for `rv` (READVAR, sequence 1, no data). */
const NTPQ_RV = Uint8Array.of(0x26, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0);

Deno.test("decodeControl() reads ntpq's READVAR request", () => {
  const r = decodeControl(NTPQ_RV);
  assert.ok(r.ok);
  const m = r.message;
  assert.equal(m.version, 4);
  assert.equal(m.opcode, CtlOp.READVAR);
  assert.equal(m.response, false);
  assert.equal(m.sequence, 1);
  assert.equal(m.count, 0);
  assert.equal(m.macOffset, -1);
});

Deno.test("decodeControl() refuses short, wrong-mode, bad-version and overlong-count datagrams", () => {
  assert.deepEqual(decodeControl(new Uint8Array(11)), { ok: false, reason: "too_short" });
  const wrongMode = NTPQ_RV.slice();
  wrongMode[0] = 0x23;
  assert.deepEqual(decodeControl(wrongMode), { ok: false, reason: "bad_mode" });
  const v0 = NTPQ_RV.slice();
  v0[0] = 0x06;
  assert.deepEqual(decodeControl(v0), { ok: false, reason: "bad_version" });
  const long = NTPQ_RV.slice();
  long[11] = 4; // claims 4 data bytes, has none
  assert.deepEqual(decodeControl(long), { ok: false, reason: "bad_count" });
});

Deno.test("encodeControl() pads to 4 bytes and decodeControl() gives the fields back", () => {
  const data = new TextEncoder().encode("stratum");
  const b = encodeControl({
    ...REQ,
    response: false,
    error: false,
    more: false,
    status: 0,
    offset: 0,
  }, data);
  assert.equal(b.length, 20); // 12 + 7 → 20
  const r = decodeControl(b);
  assert.ok(r.ok);
  assert.equal(new TextDecoder().decode(r.message.data), "stratum");
  assert.equal(r.message.macOffset, -1); // padding is not a MAC
});

Deno.test("decodeControl() finds the MAC after the data padded to 8 bytes", () => {
  const data = new TextEncoder().encode("leap=1"); // 12 + 6 = 18 → MAC at 24
  assert.equal(controlMacOffset(6), 24);
  const b = encodeControl(
    {
      ...REQ,
      opcode: CtlOp.WRITEVAR,
      response: false,
      error: false,
      more: false,
      status: 0,
      offset: 0,
    },
    data,
    4 + 16,
  );
  assert.equal(b.length, 44);
  b.set([0, 0, 0, 42], 24);
  const r = decodeControl(b);
  assert.ok(r.ok);
  assert.equal(r.message.macOffset, 24);
  assert.equal(r.message.keyId, 42);
  // A MAC too short to be one (4 + 8 bytes) is taken as trailing bytes.
  const short = decodeControl(b.subarray(0, 36));
  assert.ok(short.ok);
  assert.equal(short.message.macOffset, -1);
});

Deno.test("fragmentAnswer() cuts long data into 468-byte fragments with offsets and the M bit", () => {
  const data = new Uint8Array(1000).map((_, i) => 65 + (i % 26));
  const frags = fragmentAnswer(REQ, 0x0615, data);
  assert.equal(frags.length, 3);
  let at = 0;
  for (const [k, f] of frags.entries()) {
    const r = decodeControl(f);
    assert.ok(r.ok);
    const m = r.message;
    assert.equal(m.response, true);
    assert.equal(m.more, k < 2);
    assert.equal(m.offset, at);
    assert.equal(m.status, 0x0615);
    assert.equal(m.sequence, 7);
    assert.ok(m.count <= CTL_MAX_DATA_LEN);
    assert.equal(f.length % 4, 0);
    assert.deepEqual(m.data, data.subarray(at, at + m.count));
    at += m.count;
  }
  assert.equal(at, 1000);
  // An empty answer is one datagram.
  assert.equal(fragmentAnswer(REQ, 0, new Uint8Array(0)).length, 1);
});

Deno.test("errorAnswer() is 12 bytes with the E bit and the code in the status", () => {
  const e = errorAnswer(REQ, CtlErr.PERMISSION);
  assert.equal(e.length, CTL_HEADER_LEN);
  const r = decodeControl(e);
  assert.ok(r.ok);
  assert.equal(r.message.error, true);
  assert.equal(r.message.status >> 8, CtlErr.PERMISSION);
});

Deno.test("Reassembler puts fragments in any order together and ignores other sequences", () => {
  const data = new Uint8Array(1200).map((_, i) => i & 0xff);
  const frags = fragmentAnswer(REQ, 0x1234, data);
  const r = new Reassembler(7, CtlOp.READVAR);
  const other = fragmentAnswer({ ...REQ, sequence: 8 }, 0, data)[0]!;
  assert.equal(r.add(other), "ignored");
  assert.equal(r.add(frags[2]!), "incomplete");
  assert.equal(r.add(frags[0]!), "incomplete");
  assert.equal(r.add(frags[0]!), "incomplete"); // a duplicate changes nothing
  assert.equal(r.add(frags[1]!), "complete");
  assert.deepEqual(r.data, data);
  assert.equal(r.status, 0x1234);
});

Deno.test("Reassembler reports errors and overlapping fragments", () => {
  const r = new Reassembler(7, CtlOp.READVAR);
  assert.equal(r.add(errorAnswer(REQ, CtlErr.UNKNOWNVAR)), "error");
  assert.equal(r.errorCode, CtlErr.UNKNOWNVAR);
  const data = new Uint8Array(600);
  const [a] = fragmentAnswer(REQ, 0, data);
  const bad = encodeControl(
    { ...REQ, response: true, error: false, more: false, status: 0, offset: 400 },
    new Uint8Array(200),
  );
  const r2 = new Reassembler(7, CtlOp.READVAR);
  assert.equal(r2.add(a!), "incomplete");
  assert.equal(r2.add(bad), "bad");
});

Deno.test("decodeControl() never throws, and fragments always reassemble (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      decodeControl(b);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.integer({ min: 4, max: 468 }),
      fc.integer({ min: 0, max: 1000 }),
      (data, size, seed) => {
        const frags = fragmentAnswer(REQ, 5, data, size);
        // A deterministic shuffle.
        const order = frags.map((_, i) => i).sort((a, b) =>
          ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13)
        );
        const r = new Reassembler(7, CtlOp.READVAR);
        let last = "";
        for (const i of order) last = r.add(frags[i]!);
        assert.equal(last, "complete");
        assert.deepEqual(r.data, data);
      },
    ),
    { numRuns: 300 },
  );
});
