import assert from "node:assert/strict";
import fc from "fast-check";
import { fromUnix, readTimestamp, shortToSec } from "./ntp_time.ts";
import { REFID_INIT, Server, type SystemState, unsynchronisedState } from "./server.ts";

const RX = fromUnix(1_800_000_000, 123_456_789);
const REF = fromUnix(1_799_999_990, 0);

function syncedState(): SystemState {
  return {
    leap: 0,
    stratum: 11,
    precisionLog2: -23,
    rootDelaySec: 0.0125,
    rootDispersionSec: 0.01,
    refid: 0x7f7f0100,
    referenceTime: REF,
  };
}

function request(
  opts: { version?: number; mode?: number; length?: number; tx?: bigint } = {},
): Uint8Array {
  const b = new Uint8Array(opts.length ?? 48);
  b[0] = ((opts.version ?? 4) << 3) | (opts.mode ?? 3);
  b[1] = 2;
  b[2] = 6;
  if (b.length >= 48) new DataView(b.buffer).setBigUint64(40, opts.tx ?? 0x1122334455667788n);
  return b;
}

Deno.test("Server.respond() answers a v4 client request with a correct mode 4 reply", () => {
  const server = new Server(syncedState());
  const out = new Uint8Array(48);
  const n = server.respond(request(), RX, out);
  assert.equal(n, 48);
  const v = new DataView(out.buffer);
  assert.equal(out[0]! >> 6, 0); // leap
  assert.equal((out[0]! >> 3) & 7, 4); // version echoed
  assert.equal(out[0]! & 7, 4); // mode 4
  assert.equal(out[1], 11);
  assert.equal(out[2], 6); // poll echoed
  assert.equal(v.getInt8(3), -23);
  assert.equal(shortToSec(v.getUint32(4)), Math.round(0.0125 * 65536) / 65536);
  // Root dispersion grows at PHI for the 10 s since the reference time.
  assert.ok(Math.abs(shortToSec(v.getUint32(8)) - (0.01 + 15e-6 * 10.123456789)) < 2 / 65536);
  assert.equal(v.getUint32(12), 0x7f7f0100);
  assert.equal(readTimestamp(v, 16), REF);
  assert.equal(readTimestamp(v, 24), 0x1122334455667788n); // origin = request transmit
  assert.equal(readTimestamp(v, 32), RX);
  assert.equal(server.stats().replied, 1);
});

Deno.test("Server.respondAt() writes respond()'s reply from Unix seconds and nanoseconds", () => {
  const server = new Server(syncedState());
  const slow = new Uint8Array(48);
  const fast = new Uint8Array(48);
  assert.equal(server.respond(request(), RX, slow), 48);
  assert.equal(
    server.respondAt(request(), 1_800_000_000, 123_456_789, fast, new DataView(fast.buffer)),
    48,
  );
  // Identical up to the receive and transmit timestamps, which may differ by one 2^-32 s unit.
  assert.deepEqual(fast.subarray(0, 32), slow.subarray(0, 32));
  const v = new DataView(fast.buffer);
  for (const at of [32, 40]) {
    const d = readTimestamp(v, at) - RX;
    assert.ok(d >= -1n && d <= 1n, `timestamp at ${at} off by ${d}`);
  }
  assert.equal(server.stats().replied, 2);
  const bad = request({ mode: 4 });
  assert.equal(server.respondAt(bad, 1, 0, fast, new DataView(fast.buffer)), 0);
  assert.equal(server.stats().dropped.not_request, 1);
});

Deno.test("Server.respond() answers versions 2 and 3 in kind and refuses version 1", () => {
  const server = new Server(syncedState());
  for (const version of [2, 3]) {
    const out = new Uint8Array(48);
    assert.equal(server.respond(request({ version }), RX, out), 48);
    assert.equal((out[0]! >> 3) & 7, version);
  }
  assert.equal(server.respond(request({ version: 1 }), RX, new Uint8Array(48)), 0);
  assert.equal(server.stats().dropped.old_version, 1);
});

Deno.test("Server.respond() says leap 3 and stratum 0 with refid INIT when unsynchronised", () => {
  const server = new Server(unsynchronisedState(-20));
  const out = new Uint8Array(48);
  assert.equal(server.respond(request(), RX, out), 48);
  assert.equal(out[0]! >> 6, 3);
  assert.equal(out[1], 0);
  assert.equal(new DataView(out.buffer).getUint32(12), REFID_INIT);
});

Deno.test("Server.respond() drops and counts non-requests, bad versions and short packets", () => {
  const server = new Server(syncedState());
  const cases: [Uint8Array, string][] = [
    [request({ mode: 4 }), "not_request"],
    [request({ mode: 5 }), "not_request"],
    [request({ mode: 1 }), "not_request"],
    [request({ mode: 6 }), "control"],
    [request({ mode: 7 }), "private"],
    [request({ version: 0 }), "bad_version"],
    [request({ version: 5 }), "bad_version"],
    [request({ length: 47 }), "too_short"],
    [request({ length: 0 }), "too_short"],
    [request({ length: 49 }), "bad_length"],
    [request({ tx: 0n }), "zero_transmit"],
  ];
  const kod = request({ mode: 4 });
  kod[1] = 0;
  cases.push([kod, "kod"]);
  for (const [bytes, reason] of cases) {
    const before = server.stats().dropped as Record<string, number>;
    assert.equal(server.respond(bytes, RX, new Uint8Array(Math.max(48, bytes.length))), 0, reason);
    const after = server.stats().dropped as Record<string, number>;
    assert.equal(after[reason], before[reason]! + 1, reason);
  }
  assert.equal(server.stats().replied, 0);
});

Deno.test("Server.respond() checks extension fields and answers a MAC with a crypto-NAK", () => {
  const server = new Server(syncedState());
  // A v4 request with one 16-byte extension field: answered without it.
  const ext = request({ length: 64 });
  new DataView(ext.buffer).setUint16(50, 16);
  assert.equal(server.respond(ext, RX, new Uint8Array(64)), 48);
  // A bad extension length (8) is dropped.
  const bad = request({ length: 64 });
  new DataView(bad.buffer).setUint16(50, 8);
  assert.equal(server.respond(bad, RX, new Uint8Array(64)), 0);
  // Key id + MD5 digest: crypto-NAK (4 zero bytes after the header).
  const mac = request({ length: 68 });
  new DataView(mac.buffer).setUint32(48, 7);
  const out = new Uint8Array(68).fill(0xff);
  assert.equal(server.respond(mac, RX, out), 52);
  assert.equal(new DataView(out.buffer).getUint32(48), 0);
  assert.equal(server.stats().cryptoNak, 1);
});

Deno.test("Server.respond() never throws and never replies with more bytes than it received", () => {
  const server = new Server(syncedState());
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
      const out = new Uint8Array(Math.max(48, bytes.length));
      const n = server.respond(bytes, RX, out);
      assert.ok(n === 0 || (n >= 48 && n <= bytes.length));
      if (n > 0) assert.equal(bytes[0]! & 7, 3);
    }),
    { numRuns: 5000, verbose: 1 },
  );
});
