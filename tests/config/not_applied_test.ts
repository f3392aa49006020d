// "Nothing configured passes silently": a file that relies on what the daemon does not apply yet
// (driver calibration) gets a warning for each, with its line and what will not happen, from
// `check` (never "0 errors, 0 warnings") and from the loader the daemon starts with; what it
// applies (restrict, keys, statistics, saveconfigdir) stays quiet.

import assert from "node:assert/strict";
import { runCheck } from "../../lib/cli/check.ts";
import { loadConfigText } from "../../lib/config/load_config.ts";
import { formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { NOT_APPLIED_CODE } from "../../lib/config/not_applied.ts";
import { fakeIo } from "./fake_io.ts";

const RELIES = `driftfile /var/lib/ntp/ntp.drift
server ntp1.example.net iburst key 4
keys /etc/ntp.keys
trustedkey 4
restrict default kod limited nomodify noquery
restrict 127.0.0.1
saveconfigdir /var/lib/ntp/saved/
enable calibrate
statsdir /var/log/ntpstats/
statistics loopstats peerstats
filegen loopstats file loopstats type day enable
`;

Deno.test("check warns, line by line, about what is not applied, not about keys, restrict, statistics or saveconfigdir", async () => {
  const io = fakeIo(RELIES);
  assert.equal(await runCheck(["-"], io.io), 0, "warnings, not errors: ntpd would start");
  const out = io.stdout();
  assert.doesNotMatch(out, /0 errors, 0 warnings/);
  const lines = out.trim().split("\n");
  assert.deepEqual(lines.slice(0, -1), [
    '<stdin>:8:8: warning: "enable calibrate" is parsed but not applied: no driver calibrates',
  ]);
  // Lines 2–4 (key, keys, trustedkey), 5–6 (restrict), 7 (saveconfigdir) and 9–11 (statistics)
  // are applied.
  assert.equal(lines.at(-1), "<stdin>: 0 errors, 1 warning");
});

Deno.test("the TOML form of the same file gets the same warnings at its keys", async () => {
  const toml = `[[source]]
address = "ntp1.example.net"
key = 4

[[restrict]]
address = "default"
flags = ["kod"]

[auth]
keys = "/etc/ntp.keys"

[daemon]
saveconfigdir = "/var/lib/ntp/saved/"

[stats]
statistics = ["loopstats"]

[system]
calibrate = true
`;
  const r = await loadConfigText(toml, { file: "r.toml", toml: true });
  assert.ok(r.ok);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'r.toml:19:1: warning: "system.calibrate" is parsed but not applied: no driver calibrates',
  ]);
});

Deno.test("what the daemon applies, or what asks for nothing, stays quiet", async () => {
  const r = await loadConfigText(
    "tinker panic 0\nserver a.example iburst minpoll 5\ntos orphan 10\ndisable monitor stats\n",
    { file: "q.conf" },
  );
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  const e = await loadConfigText("enable calibrate\ntos cohort 0\ntos cohort 1\n", {
    file: "e.conf",
  });
  // Turning on what Horae lacks is reported even when ntpd's default says the same; a number
  // at its default asks for nothing more than Horae does.
  assert.deepEqual(e.diagnostics.map((d) => [d.line, d.code, d.message.split(" is ")[0]]), [
    [1, NOT_APPLIED_CODE, '"enable calibrate"'],
    [3, NOT_APPLIED_CODE, '"tos cohort"'],
  ]);
});
