// Tests of the ntp.conf lexer: tokens and columns, comments, quoted values, line ends, binary input.

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkTextFile, lexNtpConf } from "./ntp_conf_lexer.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 0x7fffffff);
// deno-lint-ignore no-console
console.log(`ntp_conf_lexer_test.ts: fast-check seed ${SEED} (replay with FC_SEED=${SEED})`);

Deno.test("lexNtpConf() splits tokens with their columns", () => {
  const r = lexNtpConf("server  a.example\tiburst\n", "f");
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.lines[0]?.tokens, [
    { text: "server", col: 1, quoted: false },
    { text: "a.example", col: 9, quoted: false },
    { text: "iburst", col: 19, quoted: false },
  ]);
});

Deno.test("lexNtpConf() separates comments, even glued to a token", () => {
  const r = lexNtpConf("# whole line\nserver x#glued\n  \n", "f");
  assert.equal(r.lines.length, 3);
  assert.deepEqual(r.lines[0]?.tokens, []);
  assert.equal(r.lines[0]?.comment, " whole line");
  assert.deepEqual(r.lines[1]?.tokens.map((t) => t.text), ["server", "x"]);
  assert.equal(r.lines[1]?.comment, "glued");
  assert.equal(r.lines[2]?.comment, null);
});

Deno.test("lexNtpConf() reads quoted values with spaces and #", () => {
  const r = lexNtpConf('setvar a = "b # c d"\n', "f");
  assert.deepEqual(r.lines[0]?.tokens.at(-1), { text: "b # c d", col: 12, quoted: true });
  assert.equal(r.lines[0]?.comment, null);
});

Deno.test("lexNtpConf() reports an unterminated quoted string with its position", () => {
  const r = lexNtpConf('server a\nsetvar a = "open\n', "x.conf");
  assert.equal(r.diagnostics.length, 1);
  assert.deepEqual(
    [r.diagnostics[0]?.line, r.diagnostics[0]?.col, r.diagnostics[0]?.message],
    [2, 12, "unterminated quoted string"],
  );
});

Deno.test("lexNtpConf() handles CRLF line ends and a byte order mark", () => {
  const r = lexNtpConf("\uFEFFserver a\r\nserver b\r\n", "f");
  assert.deepEqual(r.lines.map((l) => l.tokens.map((t) => t.text)), [
    ["server", "a"],
    ["server", "b"],
  ]);
  assert.equal(r.lines[0]?.raw, "server a");
});

Deno.test("checkTextFile() rejects NUL, control characters and invalid UTF-8", () => {
  assert.equal(checkTextFile("server a\n\tb\r\n", "f"), null);
  const nul = checkTextFile("server a\nserver\u0000b\n", "f");
  assert.deepEqual([nul?.line, nul?.col, nul?.code], [2, 7, "binary"]);
  const bad = checkTextFile(new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])), "f");
  assert.match(bad?.message ?? "", /invalid UTF-8/);
  assert.equal(lexNtpConf("a\u0001", "f").binary, true);
});

Deno.test("lexNtpConf() never throws and keeps every line (property)", () => {
  const seed = SEED;
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
      const r = lexNtpConf(text, "p");
      if (!r.binary) {
        const expected = text.replace(/^\uFEFF/, "").split("\n");
        if (expected.at(-1) === "") expected.pop();
        assert.equal(r.lines.length, expected.length);
      }
    }),
    { seed, numRuns: 300 },
  );
});
