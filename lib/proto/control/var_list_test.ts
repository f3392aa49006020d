import assert from "node:assert/strict";
import {
  fixed,
  hexTimestamp,
  MAX_VAR_LINE,
  parseHexTimestamp,
  parseVarList,
  refidText,
  VarListWriter,
} from "./var_list.ts";

Deno.test("VarListWriter joins items with ', ' and breaks lines before 72 characters", () => {
  const w = new VarListWriter();
  for (let i = 0; i < 20; i++) w.add(`name${i}`, `value${i}`);
  const text = w.text();
  assert.ok(text.endsWith("\r\n"));
  const lines = text.split("\r\n").filter((l) => l !== "");
  assert.ok(lines.length > 1);
  for (const l of lines) assert.ok(l.length < MAX_VAR_LINE, l);
  assert.deepEqual(
    parseVarList(text).map((i) => i.name),
    Array.from({ length: 20 }, (_, i) => `name${i}`),
  );
});

Deno.test("parseVarList() keeps commas inside quotes and bare names", () => {
  assert.deepEqual(parseVarList('version="a, b", stratum=2,\r\nleap'), [
    { name: "version", value: '"a, b"' },
    { name: "stratum", value: "2" },
    { name: "leap", value: null },
  ]);
});

Deno.test("hexTimestamp() writes ntpd's 0xSSSSSSSS.FFFFFFFF and parseHexTimestamp() reads it", () => {
  const t = (0xe4b0c3a2n << 32n) | 0x1a2b3c4dn;
  assert.equal(hexTimestamp(t), "0xe4b0c3a2.1a2b3c4d");
  assert.equal(hexTimestamp(0n), "0x00000000.00000000");
  assert.equal(parseHexTimestamp("0xe4b0c3a2.1a2b3c4d"), t);
  assert.equal(parseHexTimestamp("nonsense"), null);
});

Deno.test("fixed() never writes negative zero", () => {
  assert.equal(fixed(-0.0000001, 3), "0.000");
  assert.equal(fixed(-1.5, 3), "-1.500");
  assert.equal(fixed(NaN, 2), "0.00");
});

Deno.test("refidText() shows IPv4 refids as addresses and stratum 0/1 refids as text", () => {
  assert.equal(refidText(0x7f000001, 2), "127.0.0.1");
  assert.equal(refidText(0x4c4f434c, 1), "LOCL");
  assert.equal(refidText(0x494e4954, 16), "INIT");
  assert.equal(refidText(0x47505300, 1), "GPS");
});
