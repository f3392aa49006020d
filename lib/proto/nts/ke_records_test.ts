import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeRecords,
  encodeRecord,
  encodeRecords,
  endOfMessage,
  type KeRecord,
  KeRecordReader,
  KeRecordType,
  readU16Body,
  u16Body,
} from "./ke_records.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`ke_records_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

const COOKIE = new Uint8Array(100).map((_, i) => i * 7);

function sampleMessage(): KeRecord[] {
  return [
    { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([0]) },
    { critical: true, type: KeRecordType.AEAD_ALGORITHM, body: u16Body([15]) },
    { critical: true, type: KeRecordType.SERVER, body: new TextEncoder().encode("::1") },
    { critical: false, type: KeRecordType.NEW_COOKIE, body: COOKIE },
    { critical: false, type: KeRecordType.NEW_COOKIE, body: COOKIE.slice(3) },
    endOfMessage(),
  ];
}

Deno.test("encodeRecord() writes the critical bit, type and length big-endian", () => {
  const r = encodeRecord({ critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([0]) });
  assert.deepEqual([...r], [0x80, 0x01, 0x00, 0x02, 0x00, 0x00]);
  const c = encodeRecord({ critical: false, type: 0x1234, body: new Uint8Array([9]) });
  assert.deepEqual([...c], [0x12, 0x34, 0x00, 0x01, 9]);
  assert.throws(() => encodeRecord({ critical: false, type: 0x8000, body: new Uint8Array() }));
});

Deno.test("decodeRecords() reads a whole message back and stops at End of Message", () => {
  const msg = sampleMessage();
  const bytes = encodeRecords(msg);
  const r = decodeRecords(bytes);
  assert.equal(r.status, "done");
  if (r.status !== "done") return;
  assert.deepEqual(r.records, msg.slice(0, -1));
  assert.equal(r.trailingBytes, 0);
  const extra = decodeRecords(new Uint8Array([...bytes, 1, 2, 3]));
  assert.equal(extra.status === "done" && extra.trailingBytes, 3);
});

Deno.test("KeRecordReader reads a message split at every byte boundary", () => {
  const msg = sampleMessage();
  const bytes = encodeRecords(msg);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const reader = new KeRecordReader();
    const first = reader.push(bytes.subarray(0, cut));
    if (cut < bytes.length) assert.equal(first.status, "more", `cut at ${cut}`);
    const second = reader.push(bytes.subarray(cut));
    assert.equal(second.status, "done", `cut at ${cut}`);
    if (second.status === "done") assert.deepEqual(second.records, msg.slice(0, -1));
  }
});

Deno.test("KeRecordReader reads a message fed one byte at a time", () => {
  const msg = sampleMessage();
  const bytes = encodeRecords(msg);
  const reader = new KeRecordReader();
  for (let i = 0; i < bytes.length - 1; i++) {
    assert.equal(reader.push(bytes.subarray(i, i + 1)).status, "more", `byte ${i}`);
  }
  assert.equal(reader.midRecord, true);
  const r = reader.push(bytes.subarray(bytes.length - 1));
  assert.equal(r.status, "done");
  if (r.status === "done") assert.deepEqual(r.records, msg.slice(0, -1));
  assert.equal(reader.bytesRead, bytes.length);
});

Deno.test("KeRecordReader: a message cut short stays 'more' and says it is mid-record", () => {
  const bytes = encodeRecords(sampleMessage());
  const reader = new KeRecordReader();
  assert.equal(reader.push(bytes.subarray(0, 10)).status, "more");
  assert.equal(reader.midRecord, true);
  const clean = new KeRecordReader();
  assert.equal(clean.push(encodeRecord(sampleMessage()[0]!)).status, "more");
  assert.equal(clean.midRecord, false);
});

Deno.test("KeRecordReader refuses bodies, messages and record counts beyond its limits", () => {
  const big = encodeRecords([
    { critical: false, type: KeRecordType.NEW_COOKIE, body: new Uint8Array(2000) },
    endOfMessage(),
  ]);
  const r = decodeRecords(big);
  assert.equal(r.status, "error");
  // Refused from the header alone: the body is never buffered.
  assert.equal(new KeRecordReader().push(big.subarray(0, 4)).status, "error");
  const many = encodeRecords([
    ...Array.from({ length: 10 }, () => ({
      critical: false,
      type: KeRecordType.NEW_COOKIE,
      body: new Uint8Array(100),
    })),
    endOfMessage(),
  ]);
  const limits = { maxBodyBytes: 1024, maxMessageBytes: 500, maxRecords: 64 };
  assert.equal(decodeRecords(many, limits).status, "error");
  const counted = { maxBodyBytes: 1024, maxMessageBytes: 16384, maxRecords: 5 };
  assert.equal(decodeRecords(many, counted).status, "error");
  const reader = new KeRecordReader(counted);
  assert.equal(reader.push(many).status, "error");
  assert.equal(reader.push(encodeRecords([endOfMessage()])).status, "error", "stays failed");
});

Deno.test("KeRecordReader refuses an End of Message with a body", () => {
  const bad = encodeRecord({ critical: true, type: 0, body: new Uint8Array([1, 2]) });
  assert.equal(decodeRecords(bad).status, "error");
});

Deno.test("u16Body()/readU16Body() round-trip and odd lengths are refused", () => {
  assert.deepEqual(readU16Body(u16Body([0, 15, 30, 65535])), [0, 15, 30, 65535]);
  assert.equal(readU16Body(new Uint8Array(3)), null);
});

Deno.test("KeRecordReader never throws on arbitrary chunks (property)", () => {
  const seed = SEED;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      const reader = new KeRecordReader({ maxBodyBytes: 64, maxMessageBytes: 512, maxRecords: 8 });
      let total = 0;
      for (const c of chunks) {
        const r = reader.push(c);
        total += c.length;
        assert.ok(["more", "done", "error"].includes(r.status));
        if (r.status === "done") assert.ok(r.records.length <= 8);
      }
      assert.ok(reader.bytesRead <= Math.min(total, 512));
    }),
    { seed, numRuns: 300 },
  );
});

Deno.test("encodeRecords() then a split read gives the same records (property)", () => {
  const seed = SEED;
  const record = fc.record({
    critical: fc.boolean(),
    type: fc.integer({ min: 1, max: 0x7fff }),
    body: fc.uint8Array({ maxLength: 200 }),
  });
  fc.assert(
    fc.property(fc.array(record, { maxLength: 10 }), fc.nat(), (records, cutSeed) => {
      records = records.map((r) => ({ ...r }));
      const bytes = encodeRecords([...records, endOfMessage()]);
      const cut = cutSeed % (bytes.length + 1);
      const reader = new KeRecordReader();
      reader.push(bytes.subarray(0, cut));
      const r = reader.push(bytes.subarray(cut));
      assert.equal(r.status, "done");
      if (r.status === "done") assert.deepEqual(r.records, records);
    }),
    { seed, numRuns: 200 },
  );
});
