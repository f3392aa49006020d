import assert from "node:assert/strict";
import {
  aeadKeyLength,
  buildKeRefusal,
  buildKeRequest,
  buildKeResponse,
  exporterContext,
  interpretKeResponse,
  judgeKeRequest,
} from "./ke_negotiation.ts";
import {
  decodeRecords,
  encodeRecords,
  endOfMessage,
  KeErrorCode,
  type KeRecord,
  KeRecordType,
  u16Body,
} from "./ke_records.ts";

const POLICY = { aeadIds: [15, 30] };

/** Records as the other side reads them (through the wire format). */
function wire(records: KeRecord[]): KeRecord[] {
  const r = decodeRecords(encodeRecords(records));
  assert.equal(r.status, "done");
  return r.status === "done" ? r.records : [];
}

Deno.test("buildKeRequest() is the request RFC 8915 describes (NTPv4, AEADs, End of Message)", () => {
  assert.deepEqual(
    [...encodeRecords(buildKeRequest({ aeadIds: [15] }))],
    [0x80, 1, 0, 2, 0, 0, 0, 4, 0, 2, 0, 15, 0x80, 0, 0, 0],
  );
});

Deno.test("judgeKeRequest() accepts NTPv4 and takes the client's first supported AEAD", () => {
  const req = wire(buildKeRequest({ aeadIds: [99, 30, 15] }));
  assert.deepEqual(judgeKeRequest(req, POLICY), { kind: "accept", aeadId: 30 });
  assert.deepEqual(judgeKeRequest(req, { aeadIds: [15] }), { kind: "accept", aeadId: 15 });
});

Deno.test("judgeKeRequest() answers a wrong AEAD with 'no_aead' and no NTPv4 with 'no_protocol'", () => {
  const wrongAead = wire(buildKeRequest({ aeadIds: [1, 2] }));
  assert.deepEqual(judgeKeRequest(wrongAead, POLICY), { kind: "no_aead", offered: [1, 2] });
  const otherProto = wire([
    { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([0x8001]) },
    endOfMessage(),
  ]);
  assert.deepEqual(judgeKeRequest(otherProto, POLICY), { kind: "no_protocol" });
});

Deno.test("judgeKeRequest() answers broken requests with Error codes", () => {
  const np = { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([0]) };
  const aead = { critical: false, type: KeRecordType.AEAD_ALGORITHM, body: u16Body([15]) };
  const cases: [string, KeRecord[], number][] = [
    ["no next protocol", [aead], KeErrorCode.BAD_REQUEST],
    ["two next protocols", [np, np, aead], KeErrorCode.BAD_REQUEST],
    ["two AEAD records", [np, aead, aead], KeErrorCode.BAD_REQUEST],
    ["no AEAD", [np], KeErrorCode.BAD_REQUEST],
    ["non-critical next protocol", [{ ...np, critical: false }, aead], KeErrorCode.BAD_REQUEST],
    ["odd AEAD body", [np, { ...aead, body: new Uint8Array(3) }], KeErrorCode.BAD_REQUEST],
    [
      "error record from a client",
      [np, aead, { critical: true, type: KeRecordType.ERROR, body: u16Body([0]) }],
      KeErrorCode.BAD_REQUEST,
    ],
    [
      "unknown critical record",
      [{ critical: true, type: 0x4321, body: new Uint8Array(1) }, np, aead],
      KeErrorCode.UNRECOGNIZED_CRITICAL_RECORD,
    ],
  ];
  for (const [name, records, code] of cases) {
    const v = judgeKeRequest(records, POLICY);
    assert.equal(v.kind, "error", name);
    if (v.kind === "error") assert.equal(v.code, code, name);
  }
  // Unknown non-critical records and client cookies are ignored.
  const tolerated = [
    { critical: false, type: 0x4321, body: new Uint8Array(1) },
    { critical: false, type: KeRecordType.NEW_COOKIE, body: new Uint8Array(10) },
    np,
    aead,
  ];
  assert.deepEqual(judgeKeRequest(tolerated, POLICY), { kind: "accept", aeadId: 15 });
});

Deno.test("buildKeResponse() then interpretKeResponse() gives the cookies, server and port", () => {
  const cookies = Array.from({ length: 8 }, (_, i) => new Uint8Array(64).fill(i + 1));
  const resp = wire(buildKeResponse({ aeadId: 15, cookies, server: "ntp.example", port: 1234 }));
  const r = interpretKeResponse(resp, [15]);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.aeadId, 15);
  assert.deepEqual(r.cookies, cookies);
  assert.equal(r.ntpServer, "ntp.example");
  assert.equal(r.ntpPort, 1234);
  const bare = interpretKeResponse(
    wire(buildKeResponse({ aeadId: 15, cookies, server: null, port: null })),
    [15],
  );
  assert.ok(bare.ok && bare.ntpServer === null && bare.ntpPort === null);
});

Deno.test("interpretKeResponse() rejects an AEAD that was not offered, and refusals", () => {
  const cookies = [new Uint8Array(40)];
  const wrong = interpretKeResponse(
    wire(buildKeResponse({ aeadId: 30, cookies, server: null, port: null })),
    [15],
  );
  assert.deepEqual(wrong.ok ? null : wrong.failure, "bad_aead");
  const noAead = interpretKeResponse(wire(buildKeRefusal({ kind: "no_aead", offered: [15] })), [
    15,
  ]);
  assert.deepEqual(noAead.ok ? null : noAead.failure, "bad_aead");
  const noProto = interpretKeResponse(wire(buildKeRefusal({ kind: "no_protocol" })), [15]);
  assert.deepEqual(noProto.ok ? null : noProto.failure, "no_protocol");
  const err = interpretKeResponse(
    wire(buildKeRefusal({ kind: "error", code: 1, reason: "x" })),
    [15],
  );
  assert.ok(!err.ok && err.failure === "server_error" && /bad request/.test(err.reason));
  const noCookies = interpretKeResponse(
    wire(buildKeResponse({ aeadId: 15, cookies: [], server: null, port: null })),
    [15],
  );
  assert.deepEqual(noCookies.ok ? null : noCookies.failure, "no_cookies");
});

Deno.test("interpretKeResponse() rejects malformed records", () => {
  const np = { critical: true, type: KeRecordType.NEXT_PROTOCOL, body: u16Body([0]) };
  const aead = { critical: true, type: KeRecordType.AEAD_ALGORITHM, body: u16Body([15]) };
  const cookie = { critical: false, type: KeRecordType.NEW_COOKIE, body: new Uint8Array(8) };
  const cases: [string, KeRecord[]][] = [
    ["two next protocol", [np, np, aead, cookie]],
    ["bad server name", [np, aead, cookie, {
      critical: true,
      type: KeRecordType.SERVER,
      body: new Uint8Array([0x41, 0x0a]),
    }]],
    ["port of 3 bytes", [np, aead, cookie, {
      critical: true,
      type: KeRecordType.PORT,
      body: new Uint8Array(3),
    }]],
    ["unknown critical", [np, aead, cookie, {
      critical: true,
      type: 77,
      body: new Uint8Array(0),
    }]],
  ];
  for (const [name, records] of cases) {
    const r = interpretKeResponse(records, [15]);
    assert.equal(r.ok ? null : r.failure, "malformed", name);
  }
});

Deno.test("exporterContext() is protocol id, AEAD id and direction (RFC 8915 §5.1)", () => {
  assert.deepEqual([...exporterContext(15, "c2s")], [0, 0, 0, 15, 0]);
  assert.deepEqual([...exporterContext(30, "s2c")], [0, 0, 0, 30, 1]);
  assert.equal(aeadKeyLength(15), 32);
  assert.equal(aeadKeyLength(30), 16);
  assert.equal(aeadKeyLength(1), null);
});
