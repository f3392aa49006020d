import assert from "node:assert/strict";
import { extractHoraeFlags } from "./run_command.ts";

Deno.test("extractHoraeFlags() splits --port, --listen and --status-file from ntpd's options", () => {
  const r = extractHoraeFlags([
    "-n",
    "--port",
    "1123",
    "--listen=127.0.0.1",
    "--status-file",
    "/run/horae.json",
    "-q",
    "--observe",
  ]);
  assert.deepEqual(r, {
    ok: true,
    port: 1123,
    listen: ["127.0.0.1"],
    statusFile: "/run/horae.json",
    rest: ["-n", "-q", "--observe"],
  });
});

Deno.test("extractHoraeFlags() rejects a missing value and a bad port", () => {
  assert.deepEqual(extractHoraeFlags(["--status-file"]), {
    ok: false,
    message: "--status-file needs a value",
  });
  assert.equal(extractHoraeFlags(["--port", "0"]).ok, false);
});
