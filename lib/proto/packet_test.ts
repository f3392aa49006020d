// Tests of the NTP packet codec: every rejection reason, property tests and golden vectors captured
// from real chronyd 4.3 / NTPsec traffic (tools/capture_golden.sh).

import assert from "node:assert/strict";
import fc from "fast-check";
import { KISS_CODES, Mode } from "./constants.ts";
import {
  checkEncodable,
  DECODE_ERRORS,
  decodePacket,
  encodeClientRequest,
  encodedLength,
  encodePacket,
  encodePacketInto,
  type ExtensionField,
  isCryptoNak,
  kissCode,
  type Mac,
  type NtpPacket,
  PacketPeek,
  refidFromAscii,
  refidFromIpv4,
  refidToAscii,
  refidToIpv4,
  refidToString,
  rootDelaySec,
  rootDispersionSec,
} from "./packet.ts";
import { ERA, fromTimestamp, toUnixNs } from "./ntp_time.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`packet_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);
const FC = { seed: SEED, numRuns: 1000 };

function basePacket(overrides: Partial<NtpPacket> = {}): NtpPacket {
  return {
    leap: 0,
    version: 4,
    mode: Mode.Client,
    stratum: 0,
    pollLog2: 6,
    precisionLog2: -20,
    rootDelayShort: 0,
    rootDispersionShort: 0,
    refid: 0,
    referenceTimestamp: 0n,
    originTimestamp: 0n,
    receiveTimestamp: 0n,
    transmitTimestamp: 0xeeac_a9f5_a6f0_7000n,
    extensions: [],
    mac: null,
    ...overrides,
  };
}

/** A 48-byte header with the given first byte, followed by `trailer`. */
function raw(firstByte: number, trailer: number[] = []): Uint8Array {
  const b = new Uint8Array(48 + trailer.length);
  b[0] = firstByte;
  b.set(trailer, 48);
  return b;
}

const vn = (version: number, mode: number, leap = 0) => (leap << 6) | (version << 3) | mode;

function reason(bytes: Uint8Array): string {
  const r = decodePacket(bytes);
  return r.ok ? "ok" : r.reason;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

// ---------------------------------------------------------------- rejections, one per reason

Deno.test("decodePacket() rejects packets shorter than 48 bytes", () => {
  assert.equal(reason(new Uint8Array(0)), "too_short");
  assert.equal(reason(new Uint8Array([vn(4, 3)])), "too_short");
  assert.equal(reason(raw(vn(4, 3)).subarray(0, 47)), "too_short");
  assert.equal(reason(raw(vn(4, 3)).subarray(0, 44)), "too_short");
});

Deno.test("decodePacket() rejects lengths that are not a multiple of 4", () => {
  assert.equal(reason(raw(vn(4, 3), [0, 0])), "bad_length");
  assert.equal(reason(raw(vn(4, 3), [0, 0, 0, 0, 0])), "bad_length");
  assert.equal(reason(raw(vn(3, 4), new Array(21).fill(0))), "bad_length");
});

Deno.test("decodePacket() rejects version 0 and versions above 4", () => {
  for (const version of [0, 5, 6, 7]) {
    assert.equal(reason(raw(vn(version, 3))), "bad_version", `version ${version}`);
    assert.equal(reason(raw(vn(version, 4))), "bad_version", `version ${version}`);
  }
});

Deno.test("decodePacket() accepts versions 1 to 4 and modes 0 to 5", () => {
  for (let version = 1; version <= 4; version++) {
    for (let mode = 0; mode <= 5; mode++) {
      const r = decodePacket(raw(vn(version, mode, 3)));
      assert.ok(r.ok, `v${version} mode ${mode}`);
      assert.equal(r.packet.version, version);
      assert.equal(r.packet.mode, mode);
      assert.equal(r.packet.leap, 3);
    }
  }
});

Deno.test("decodePacket() routes mode 6 and mode 7 messages whatever their length", () => {
  // An ntpq READSTAT request is 12 bytes; an ntpdc request header is 8.
  assert.equal(reason(new Uint8Array([0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])), "mode6");
  assert.equal(reason(new Uint8Array([0x17, 0, 3, 42, 0, 0, 0, 0])), "mode7");
  assert.equal(reason(raw(vn(2, 6))), "mode6");
  assert.equal(reason(raw(vn(0, 7))), "mode7");
});

Deno.test("decodePacket() rejects malformed extension fields", () => {
  // Field length 12: below the RFC 7822 minimum of 16.
  assert.equal(
    reason(raw(vn(4, 3), [0x01, 0x04, 0, 12, ...new Array(12).fill(0)])),
    "bad_extension",
  );
  // Field length 18: not a multiple of 4.
  assert.equal(
    reason(raw(vn(4, 3), [0x01, 0x04, 0, 18, ...new Array(28).fill(0)])),
    "bad_extension",
  );
  // Field length 64: runs past the end of a 32-byte remainder.
  assert.equal(
    reason(raw(vn(4, 3), [0x01, 0x04, 0, 64, ...new Array(28).fill(0)])),
    "bad_extension",
  );
  // Field length 0 (would loop forever if accepted).
  assert.equal(reason(raw(vn(4, 3), new Array(32).fill(0))), "bad_extension");
});

Deno.test("decodePacket() rejects trailers that are neither extension fields nor a MAC", () => {
  // Versions 1–3 have no extension fields: only a 4, 20, 24 or 36-byte MAC may follow.
  assert.equal(reason(raw(vn(3, 3), new Array(8).fill(0))), "bad_mac_length");
  assert.equal(reason(raw(vn(3, 3), new Array(28).fill(0))), "bad_mac_length");
  assert.equal(reason(raw(vn(1, 3), new Array(40).fill(0))), "bad_mac_length");
  // Version 4: 8 or 12 bytes are too short for an extension field and not a MAC.
  assert.equal(reason(raw(vn(4, 3), new Array(8).fill(0))), "bad_mac_length");
  assert.equal(reason(raw(vn(4, 3), new Array(12).fill(0))), "bad_mac_length");
  // A valid 16-byte field followed by 12 stray bytes (16 + 8 would read as a 24-byte MAC).
  assert.equal(
    reason(raw(vn(4, 3), [0x01, 0x04, 0, 16, ...new Array(12 + 12).fill(0)])),
    "bad_mac_length",
  );
});

Deno.test("decodePacket() reads chronyd's NTPv3 SHA-256 MAC: 84 bytes, a full 32-byte digest", () => {
  const trailer = [0, 0, 0, 5, ...Array.from({ length: 32 }, (_, k) => k + 1)];
  for (const version of [1, 2, 3]) {
    const bytes = raw(vn(version, 3), trailer);
    assert.equal(bytes.length, 84);
    const r = decodePacket(bytes);
    assert.ok(r.ok, `version ${version}`);
    assert.equal(r.packet.mac?.keyId, 5);
    assert.equal(r.packet.mac?.digest.length, 32);
    assert.deepEqual(encodePacket(r.packet), bytes, "re-encodes to the same bytes");
    const peek = new PacketPeek();
    assert.equal(peek.read(bytes), "ok");
    assert.equal(peek.macOffset, 48);
    assert.equal(peek.hasExtensions, false);
  }
  // In version 4 the same 36 bytes are an extension field (RFC 7822), never a MAC.
  const v4 = raw(vn(4, 3), [0x01, 0x04, 0, 36, ...new Array(32).fill(0)]);
  const r4 = decodePacket(v4);
  assert.ok(r4.ok);
  assert.equal(r4.packet.mac, null);
  assert.equal(r4.packet.extensions.length, 1);
  assert.equal(
    checkEncodable({
      ...r4.packet,
      extensions: [],
      mac: { keyId: 1, digest: new Uint8Array(32) },
    }) !== null,
    true,
  );
});

Deno.test("DECODE_ERRORS matches the reasons decodePacket() really gives", () => {
  const samples = [
    new Uint8Array(0),
    raw(vn(4, 3), [0, 0]),
    raw(vn(0, 3)),
    raw(vn(4, 3), new Array(32).fill(0)),
    raw(vn(3, 3), new Array(8).fill(0)),
    new Uint8Array([vn(2, 6)]),
    new Uint8Array([vn(2, 7)]),
  ];
  const seen = new Set(samples.map(reason));
  assert.deepEqual([...seen].sort(), [...DECODE_ERRORS].sort());
});

// ---------------------------------------------------------------- accepted shapes

Deno.test("decodePacket() reads a crypto-NAK, an MD5 and a SHA-1 MAC", () => {
  const nak = decodePacket(raw(vn(4, 4), [0, 0, 0, 0]));
  assert.ok(nak.ok);
  assert.deepEqual(nak.packet.mac, { keyId: 0, digest: new Uint8Array(0) });
  assert.ok(isCryptoNak(nak.packet));

  const md5 = decodePacket(raw(vn(3, 3), [0, 0, 0, 7, ...new Array(16).fill(0xaa)]));
  assert.ok(md5.ok);
  assert.equal(md5.packet.mac?.keyId, 7);
  assert.equal(md5.packet.mac?.digest.length, 16);
  assert.ok(!isCryptoNak(md5.packet));

  const sha1 = decodePacket(raw(vn(4, 3), [0xff, 0xff, 0xff, 0xfe, ...new Array(20).fill(1)]));
  assert.ok(sha1.ok);
  assert.equal(sha1.packet.mac?.keyId, 0xfffffffe);
  assert.equal(sha1.packet.mac?.digest.length, 20);
  assert.deepEqual(sha1.packet.extensions, []);
});

Deno.test("decodePacket() reads extension fields followed by a MAC or by nothing", () => {
  const ef1 = [0x02, 0x04, 0, 16, ...Array.from({ length: 12 }, (_, i) => i)];
  const ef2 = [0x04, 0x04, 0, 28, ...new Array(24).fill(9)];
  const withMac = decodePacket(
    raw(vn(4, 3), [...ef1, ...ef2, 0, 0, 0, 5, ...new Array(16).fill(3)]),
  );
  assert.ok(withMac.ok);
  assert.deepEqual(withMac.packet.extensions, [
    { type: 0x0204, body: Uint8Array.from(ef1.slice(4)) },
    { type: 0x0404, body: new Uint8Array(24).fill(9) },
  ]);
  assert.equal(withMac.packet.mac?.keyId, 5);

  const bare = decodePacket(raw(vn(4, 3), ef2));
  assert.ok(bare.ok);
  assert.equal(bare.packet.extensions.length, 1);
  assert.equal(bare.packet.mac, null);
});

Deno.test("decodePacket() copies byte arrays so the input buffer can be reused", () => {
  const bytes = raw(vn(4, 3), [0, 0, 0, 1, ...new Array(16).fill(0x11)]);
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  bytes.fill(0);
  assert.deepEqual(r.packet.mac?.digest, new Uint8Array(16).fill(0x11));
});

Deno.test("decodePacket() reads signed poll and precision and raw short-format fields", () => {
  const bytes = encodePacket(basePacket({
    pollLog2: -3,
    precisionLog2: -128,
    rootDelayShort: 0x0001_8000,
    rootDispersionShort: 0xffff_ffff,
  }));
  assert.equal(bytes[2], 0xfd);
  assert.equal(bytes[3], 0x80);
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  assert.equal(r.packet.pollLog2, -3);
  assert.equal(r.packet.precisionLog2, -128);
  assert.equal(rootDelaySec(r.packet), 1.5);
  assert.equal(rootDispersionSec(r.packet), 0xffffffff / 65536);
});

// ---------------------------------------------------------------- encoding

Deno.test("encodePacketInto() writes at an offset and returns the length", () => {
  const p = basePacket({ mac: { keyId: 9, digest: new Uint8Array(20).fill(0x5a) } });
  const buf = new Uint8Array(100).fill(0xee);
  const n = encodePacketInto(p, buf, 10);
  assert.equal(n, 72);
  assert.equal(encodedLength(p), 72);
  assert.equal(buf[9], 0xee);
  assert.equal(buf[10 + 72], 0xee);
  assert.deepEqual(buf.subarray(10, 82), encodePacket(p));
  assert.throws(() => encodePacketInto(p, buf, 40), RangeError);
});

Deno.test("checkEncodable() rejects out-of-range fields and ambiguous trailers", () => {
  const ef = (length: number): ExtensionField => ({ type: 1, body: new Uint8Array(length - 4) });
  const nak: Mac = { keyId: 0, digest: new Uint8Array(0) };
  assert.equal(checkEncodable(basePacket()), null);
  assert.match(checkEncodable(basePacket({ stratum: 256 })) ?? "", /stratum/);
  assert.match(checkEncodable(basePacket({ pollLog2: 128 })) ?? "", /pollLog2/);
  assert.match(checkEncodable(basePacket({ refid: -1 })) ?? "", /refid/);
  assert.match(checkEncodable(basePacket({ transmitTimestamp: 1n << 64n })) ?? "", /timestamps/);
  assert.match(
    checkEncodable(basePacket({ mac: { keyId: 1, digest: new Uint8Array(32) } })) ?? "",
    /digest/,
  );
  assert.match(checkEncodable(basePacket({ extensions: [ef(14)] })) ?? "", /16/);
  assert.match(checkEncodable(basePacket({ extensions: [ef(30)] })) ?? "", /multiple of 4/);
  assert.match(checkEncodable(basePacket({ version: 3, extensions: [ef(28)] })) ?? "", /version 4/);
  // These would read back as a MAC: RFC 7822's reason for its minimum lengths.
  for (const bad of [[ef(20)], [ef(24)], [ef(16), ef(20)]]) {
    assert.match(checkEncodable(basePacket({ extensions: bad })) ?? "", /MAC/);
  }
  for (const bad of [[ef(16)], [ef(20)]]) {
    assert.match(checkEncodable(basePacket({ extensions: bad, mac: nak })) ?? "", /MAC/);
  }
  assert.equal(checkEncodable(basePacket({ extensions: [ef(16), ef(28)] })), null);
  assert.equal(checkEncodable(basePacket({ extensions: [ef(24)], mac: nak })), null);
  assert.throws(() => encodePacket(basePacket({ extensions: [ef(20)] })), RangeError);
});

Deno.test("an extension field that checkEncodable() refuses really decodes as a MAC", () => {
  // Proves the ambiguity checkEncodable() guards against, with the real decoder.
  const bytes = raw(vn(4, 3), [0, 1, 0, 20, ...new Array(16).fill(0)]);
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  assert.deepEqual(r.packet.extensions, []);
  assert.equal(r.packet.mac?.keyId, 0x00010014);
});

// ---------------------------------------------------------------- refid and kiss codes

Deno.test("refidToString() renders ASCII for stratum 0 and 1 and dotted IPv4 above", () => {
  assert.equal(refidToString(0x47505300, 1), "GPS");
  assert.equal(refidToString(0x52415445, 0), "RATE");
  assert.equal(refidToString(0x7f000001, 2), "127.0.0.1");
  assert.equal(refidToString(0xc0a80102, 15), "192.168.1.2");
  assert.equal(refidToAscii(0x00000000), "");
  assert.equal(refidToAscii(0x41014200), "A.B");
  assert.equal(refidToIpv4(0xffffffff), "255.255.255.255");
});

Deno.test("refidFromAscii() and refidFromIpv4() invert the renderers and refuse bad input", () => {
  assert.equal(refidFromAscii("GPS"), 0x47505300);
  assert.equal(refidFromAscii("LOCL"), 0x4c4f434c);
  assert.equal(refidFromAscii("TOOLONG"), null);
  assert.equal(refidFromAscii("é"), null);
  assert.equal(refidFromIpv4("10.0.0.255"), 0x0a0000ff);
  assert.equal(refidFromIpv4("256.0.0.1"), null);
  assert.equal(refidFromIpv4("1.2.3"), null);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (refid) => {
      assert.equal(refidFromIpv4(refidToIpv4(refid)), refid);
    }),
    FC,
  );
});

Deno.test("kissCode() returns the code of stratum 0 replies only", () => {
  const rate = basePacket({ mode: Mode.Server, stratum: 0, refid: refidFromAscii("RATE")! });
  assert.equal(kissCode(rate), "RATE");
  assert.equal(kissCode({ ...rate, refid: refidFromAscii("DENY")! }), "DENY");
  assert.equal(kissCode({ ...rate, refid: refidFromAscii("RSTR")! }), "RSTR");
  assert.equal(kissCode({ ...rate, mode: Mode.SymmetricPassive }), "RATE");
  assert.equal(kissCode({ ...rate, stratum: 1 }), null);
  assert.equal(kissCode({ ...rate, mode: Mode.Client }), null);
  assert.equal(kissCode({ ...rate, refid: 0 }), null);
  assert.equal(kissCode({ ...rate, refid: 0x01020304 }), null);
  assert.ok("RATE" in KISS_CODES && "DENY" in KISS_CODES && "RSTR" in KISS_CODES);
});

// ---------------------------------------------------------------- PacketPeek

Deno.test("PacketPeek reads the server's fields without decoding", () => {
  const p = basePacket({
    version: 3,
    pollLog2: -2,
    transmitTimestamp: 0x0123_4567_89ab_cdefn,
    mac: { keyId: 0xdeadbeef, digest: new Uint8Array(16) },
  });
  const buf = new Uint8Array(200);
  const n = encodePacketInto(p, buf);
  const peek = new PacketPeek();
  assert.equal(peek.read(buf, n), "ok");
  assert.equal(peek.length, 68);
  assert.equal(peek.version, 3);
  assert.equal(peek.mode, Mode.Client);
  assert.equal(peek.pollLog2, -2);
  assert.equal(peek.macOffset, 48);
  assert.equal(peek.keyId, 0xdeadbeef);
  assert.equal(peek.hasExtensions, false);
  assert.equal(peek.transmitSeconds, 0x01234567);
  assert.equal(peek.transmitFraction, 0x89abcdef);
  assert.equal(peek.transmitTimestamp(), 0x0123_4567_89ab_cdefn);
  const reply = new Uint8Array(48);
  peek.copyTransmit(reply, 24);
  assert.deepEqual(reply.subarray(24, 32), buf.subarray(40, 48));
  assert.equal(peek.read(buf, 47), "too_short");
  assert.equal(peek.read(buf, 50), "bad_length");
});

Deno.test("PacketPeek agrees with decodePacket() on arbitrary datagrams", () => {
  const peek = new PacketPeek();
  fc.assert(
    fc.property(datagramArb(), (bytes) => {
      const status = peek.read(bytes);
      const r = decodePacket(bytes);
      if (status !== "ok") {
        assert.deepEqual(r, { ok: false, reason: status });
        return;
      }
      if (!peek.hasExtensions) {
        assert.ok(r.ok);
        assert.equal(r.packet.extensions.length, 0);
        assert.equal(peek.macOffset >= 0, r.packet.mac !== null);
        assert.equal(peek.keyId, r.packet.mac?.keyId ?? -1);
        assert.equal(peek.transmitTimestamp(), r.packet.transmitTimestamp);
        assert.equal(peek.mode, r.packet.mode);
        assert.equal(peek.version, r.packet.version);
      } else if (r.ok) {
        assert.ok(r.packet.extensions.length > 0);
      } else {
        assert.ok(r.reason === "bad_extension" || r.reason === "bad_mac_length", r.reason);
      }
    }),
    FC,
  );
});

// ---------------------------------------------------------------- properties

/** Arbitrary bytes plus datagrams shaped like NTP (valid first byte, extension-like trailers). */
function datagramArb(): fc.Arbitrary<Uint8Array> {
  const anyBytes = fc.uint8Array({ minLength: 0, maxLength: 1200 });
  const shaped = fc.tuple(
    fc.oneof(fc.constantFrom(0x23, 0x24, 0xe3, 0x1b), fc.integer({ min: 0, max: 255 })),
    fc.uint8Array({ minLength: 47, maxLength: 47 }),
    fc.array(
      fc.oneof(
        {
          // an extension-field-like chunk whose length field is mostly right
          weight: 4,
          arbitrary: fc.tuple(
            fc.integer({ min: 0, max: 0xffff }),
            fc.integer({ min: 0, max: 24 }),
            fc.constantFrom(0, 0, 0, 0, 0, 4, -4, 2),
          ).map(([type, quads, skew]) => {
            const b = new Uint8Array(4 + quads * 4);
            b[0] = type >> 8;
            b[1] = type & 0xff;
            b[3] = (4 + quads * 4 + skew) & 0xff;
            return b;
          }),
        },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 24 }) },
      ),
      { maxLength: 5 },
    ),
  ).map(([b0, header, chunks]) => {
    const total = 48 + chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(total);
    out[0] = b0;
    out.set(header, 1);
    let at = 48;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  });
  return fc.oneof(anyBytes, shaped);
}

Deno.test("decodePacket() never throws, and re-encodes every packet it accepts to the same bytes", () => {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(datagramArb(), (bytes) => {
      const r = decodePacket(bytes);
      if (r.ok) assert.equal(hex(encodePacket(r.packet)), hex(bytes));
      else assert.ok(DECODE_ERRORS.includes(r.reason));
      const key = r.ok ? (r.packet.extensions.length > 0 ? "extensions" : "ok") : r.reason;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }),
    FC,
  );
  // The generator must reach the deep paths, not only "too_short".
  for (const key of ["ok", "extensions", "bad_extension", "bad_mac_length", "bad_version"]) {
    assert.ok((seen.get(key) ?? 0) >= 5, `${key}: ${JSON.stringify([...seen])}`);
  }
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const extensionArb: fc.Arbitrary<ExtensionField> = fc.record({
  type: fc.integer({ min: 0, max: 0xffff }),
  body: fc.integer({ min: 3, max: 40 }).chain((quads) =>
    fc.uint8Array({ minLength: quads * 4, maxLength: quads * 4 })
  ),
});
const macArb: fc.Arbitrary<Mac | null> = fc.option(
  fc.record({
    keyId: u32,
    digest: fc.constantFrom(0, 16, 20).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  }),
  { nil: null },
);

/** Valid packets of modes 0–5, versions 1–4, with and without extension fields and MACs. */
const packetArb: fc.Arbitrary<NtpPacket> = fc.record({
  leap: fc.constantFrom(0, 1, 2, 3),
  version: fc.integer({ min: 1, max: 4 }),
  mode: fc.constantFrom(0, 1, 2, 3, 4, 5),
  stratum: fc.integer({ min: 0, max: 255 }),
  pollLog2: fc.integer({ min: -128, max: 127 }),
  precisionLog2: fc.integer({ min: -128, max: 127 }),
  rootDelayShort: u32,
  rootDispersionShort: u32,
  refid: u32,
  referenceTimestamp: u64,
  originTimestamp: u64,
  receiveTimestamp: u64,
  transmitTimestamp: u64,
  extensions: fc.array(extensionArb, { maxLength: 4 }),
  mac: macArb,
}).map((p): NtpPacket => ({
  // fc.record builds null-prototype objects: rebuild plain ones like decodePacket() returns.
  ...p,
  extensions: p.version === 4 ? p.extensions.map((e) => ({ ...e })) : [],
  mac: p.mac === null ? null : { ...p.mac },
}))
  .filter((p) => checkEncodable(p) === null);

Deno.test("decodePacket(encodePacket(p)) deep-equals p for arbitrary valid packets", () => {
  let withExtensions = 0;
  let withMac = 0;
  fc.assert(
    fc.property(packetArb, (p) => {
      if (p.extensions.length > 0) withExtensions++;
      if (p.mac !== null) withMac++;
      const bytes = encodePacket(p);
      assert.equal(bytes.length, encodedLength(p));
      const r = decodePacket(bytes);
      assert.ok(r.ok, r.ok ? "" : r.reason);
      assert.deepStrictEqual(r.packet, p);
    }),
    FC,
  );
  // The generator must really cover both shapes for the property to mean anything.
  assert.ok(withExtensions > 50 && withMac > 50, `${withExtensions} / ${withMac}`);
});

// ---------------------------------------------------------------- golden vectors

interface Golden {
  source: string;
  description: string;
  hex: string;
  tshark: { fields: Record<string, string>; text: Record<string, string> };
}

const GOLDEN_DIR = new URL("../../tests/fixtures/golden/", import.meta.url);

function loadGoldens(): Map<string, Golden> {
  const goldens = new Map<string, Golden>();
  for (const entry of Deno.readDirSync(GOLDEN_DIR)) {
    if (!entry.name.endsWith(".json")) continue;
    goldens.set(
      entry.name.replace(/\.json$/, ""),
      JSON.parse(Deno.readTextFileSync(new URL(entry.name, GOLDEN_DIR))),
    );
  }
  return goldens;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Parses tshark's "Nov 21, 2026 23:38:29.652106285 UTC" into Unix nanoseconds (null for NULL). */
function tsharkTimeToUnixNs(s: string): bigint | null {
  if (s === "NULL") return null;
  const m = /^(\w{3}) +(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{9}) UTC$/.exec(s);
  assert.ok(m, `unexpected tshark time "${s}"`);
  const [, mon, day, year, hh, mm, ss, ns] = m;
  const ms = Date.UTC(
    Number(year),
    MONTHS.indexOf(mon!),
    Number(day),
    Number(hh),
    Number(mm),
    Number(ss),
  );
  return BigInt(ms) * 1_000_000n + BigInt(ns!);
}

function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

Deno.test("golden vectors decode to the fields tshark reported and re-encode identically", () => {
  const goldens = loadGoldens();
  for (
    const name of [
      "ntpdig_request",
      "chronyd_reply_to_ntpdig",
      "chronyd_client_request",
      "chronyd_server_reply",
      "chronyd_md5_request",
      "chronyd_md5_reply",
      "chronyd_sha1_request",
      "chronyd_sha1_reply",
    ]
  ) assert.ok(goldens.has(name), `missing golden ${name}`);

  const peek = new PacketPeek();
  for (const [name, g] of goldens) {
    const f = g.tshark.fields;
    const bytes = fromHex(g.hex);
    const r = decodePacket(bytes);
    assert.ok(r.ok, `${name}: ${r.ok ? "" : r.reason}`);
    const p = r.packet;
    const at = (field: string) => `${name}: ${field}`;
    assert.equal(String(p.leap), f["ntp.flags.li"], at("li"));
    assert.equal(String(p.version), f["ntp.flags.vn"], at("vn"));
    assert.equal(String(p.mode), f["ntp.flags.mode"], at("mode"));
    assert.equal(String(p.stratum), f["ntp.stratum"], at("stratum"));
    // tshark shows poll and precision as unsigned bytes.
    assert.equal(String(p.pollLog2 & 0xff), f["ntp.ppoll"], at("ppoll"));
    assert.equal(String(p.precisionLog2 & 0xff), f["ntp.precision"], at("precision"));
    assert.equal(String(p.rootDelayShort), f["ntp.rootdelay"], at("rootdelay"));
    assert.equal(String(p.rootDispersionShort), f["ntp.rootdispersion"], at("rootdispersion"));
    assert.equal(
      `${rootDelaySec(p).toFixed(6)} seconds`,
      g.tshark.text["Root Delay"],
      at("Root Delay"),
    );
    assert.equal(
      `${rootDispersionSec(p).toFixed(6)} seconds`,
      g.tshark.text["Root Dispersion"],
      at("Root Dispersion"),
    );
    const refidBytes = new Uint8Array([p.refid >>> 24, p.refid >>> 16, p.refid >>> 8, p.refid]);
    assert.equal(colonHex(refidBytes), f["ntp.refid"], at("refid"));
    const refidText = g.tshark.text["Reference ID"] ?? "";
    if (/^\d+\.\d+\.\d+\.\d+$/.test(refidText)) {
      assert.equal(refidToString(p.refid, p.stratum), refidText, at("Reference ID"));
    }
    // tshark places timestamps with MSB set in era 0 and the others in era 1 (RFC 4330 §3): the
    // era that puts them nearest to 2036-02-07, i.e. to the start of era 1.
    for (
      const [field, ts] of [
        ["ntp.reftime", p.referenceTimestamp],
        ["ntp.org", p.originTimestamp],
        ["ntp.rec", p.receiveTimestamp],
        ["ntp.xmt", p.transmitTimestamp],
      ] as const
    ) {
      const expected = tsharkTimeToUnixNs(f[field]!);
      if (expected === null) {
        assert.equal(ts, 0n, at(field));
      } else {
        const ns = toUnixNs(fromTimestamp(ts, ERA));
        const err = ns - expected;
        assert.ok(err >= -1n && err <= 1n, `${at(field)}: ${ns} vs ${expected}`);
      }
    }
    if (f["ntp.keyid"] === undefined) {
      assert.equal(p.mac, null, at("mac"));
    } else {
      assert.equal(p.mac?.keyId, parseInt(f["ntp.keyid"].replaceAll(":", ""), 16), at("keyid"));
      assert.equal(colonHex(p.mac!.digest), f["ntp.mac"], at("mac"));
    }
    assert.equal(f["ntp.ext.type"], undefined, at("no extension fields were captured"));
    assert.equal(hex(encodePacket(p)), g.hex, at("re-encoding"));

    assert.equal(peek.read(bytes), "ok", at("peek"));
    assert.equal(peek.transmitTimestamp(), p.transmitTimestamp, at("peek transmit"));
  }
});

Deno.test("golden vectors show what each real implementation sends", () => {
  const goldens = loadGoldens();
  const packet = (name: string): NtpPacket => {
    const g = goldens.get(name);
    assert.ok(g, `missing golden ${name}`);
    const r = decodePacket(fromHex(g.hex));
    assert.ok(r.ok);
    return r.packet;
  };
  // ntpdig: an SNTP request with LI 3 (unsynchronised) and only a transmit timestamp.
  const dig = packet("ntpdig_request");
  assert.equal(dig.leap, 3);
  assert.equal(dig.mode, Mode.Client);
  assert.equal(dig.originTimestamp, 0n);
  assert.notEqual(dig.transmitTimestamp, 0n);
  // chronyd's client: zero origin and receive, a random transmit timestamp echoed by the server.
  const req = packet("chronyd_client_request");
  const rep = packet("chronyd_server_reply");
  assert.equal(req.originTimestamp, 0n);
  assert.equal(req.receiveTimestamp, 0n);
  assert.equal(req.referenceTimestamp, 0n);
  assert.equal(rep.originTimestamp, req.transmitTimestamp);
  assert.equal(rep.stratum, 8);
  assert.equal(refidToString(rep.refid, rep.stratum), "127.127.1.1");
  assert.equal(kissCode(rep), null);
  // MACs: key 1 is MD5 (16-byte digest), key 2 SHA-1 (20 bytes).
  for (const name of ["chronyd_md5_request", "chronyd_md5_reply"]) {
    assert.deepEqual([packet(name).mac?.keyId, packet(name).mac?.digest.length], [1, 16]);
  }
  for (const name of ["chronyd_sha1_request", "chronyd_sha1_reply"]) {
    assert.deepEqual([packet(name).mac?.keyId, packet(name).mac?.digest.length], [2, 20]);
  }
  if (goldens.has("ntpsec_init_kiss")) {
    const kiss = packet("ntpsec_init_kiss");
    assert.equal(kissCode(kiss), "INIT");
    assert.equal(kiss.leap, 3);
  }
  if (goldens.has("chronyd_stratum9_reply")) {
    const s9 = packet("chronyd_stratum9_reply");
    assert.equal(refidToString(s9.refid, s9.stratum), "127.0.0.1");
    assert.ok(s9.rootDelayShort > 0);
  }
});

Deno.test("encodeClientRequest() gives a mode 3 request that reveals only its transmit timestamp", () => {
  const bytes = encodeClientRequest({
    version: 3,
    pollLog2: 6,
    precisionLog2: -20,
    transmitTimestamp: 0xe9000001_12345678n,
  });
  assert.equal(bytes.length, 48);
  const d = decodePacket(bytes);
  assert.ok(d.ok);
  if (!d.ok) return;
  assert.deepEqual(d.packet, {
    leap: 3,
    version: 3,
    mode: Mode.Client,
    stratum: 0,
    pollLog2: 6,
    precisionLog2: -20,
    rootDelayShort: 0,
    rootDispersionShort: 0,
    refid: 0,
    referenceTimestamp: 0n,
    originTimestamp: 0n,
    receiveTimestamp: 0n,
    transmitTimestamp: 0xe9000001_12345678n,
    extensions: [],
    mac: null,
  });
});
