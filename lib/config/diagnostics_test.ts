// Tests of diagnostic formatting, strict promotion and ordering.

import assert from "node:assert/strict";
import {
  applyStrict,
  ConfigSyntaxError,
  type Diagnostic,
  formatDiagnostic,
  hasErrors,
  sortDiagnostics,
} from "./diagnostics.ts";

const d = (over: Partial<Diagnostic>): Diagnostic => ({
  severity: "warning",
  file: "ntp.conf",
  line: 3,
  col: 5,
  message: "m",
  code: "c",
  ...over,
});

Deno.test("formatDiagnostic() prints file:line:col: severity: message", () => {
  assert.equal(formatDiagnostic(d({})), "ntp.conf:3:5: warning: m");
  assert.equal(formatDiagnostic(d({ col: 0 })), "ntp.conf:3:1: warning: m");
  assert.equal(formatDiagnostic(d({ line: 0, severity: "error" })), "ntp.conf: error: m");
});

Deno.test("applyStrict() promotes only unknown keywords and options", () => {
  const out = applyStrict([
    d({ code: "unknown-keyword" }),
    d({ code: "unknown-option" }),
    d({ code: "order" }),
  ]);
  assert.deepEqual(out.map((x) => x.severity), ["error", "error", "warning"]);
  assert.ok(hasErrors(out));
  assert.ok(!hasErrors([d({})]));
});

Deno.test("sortDiagnostics() orders by file, line, column", () => {
  const sorted = sortDiagnostics([
    d({ file: "b", line: 1 }),
    d({ line: 9 }),
    d({ line: 2, col: 7 }),
    d({ line: 2, col: 1 }),
  ]);
  assert.deepEqual(sorted.map((x) => `${x.file}:${x.line}:${x.col}`), [
    "b:1:5",
    "ntp.conf:2:1",
    "ntp.conf:2:7",
    "ntp.conf:9:5",
  ]);
});

Deno.test("ConfigSyntaxError is a SyntaxError carrying the location", () => {
  const e = new ConfigSyntaxError(d({ severity: "error" }), []);
  assert.ok(e instanceof SyntaxError);
  assert.deepEqual([e.file, e.line, e.col], ["ntp.conf", 3, 5]);
  assert.equal(e.message, "ntp.conf:3:5: error: m");
});
