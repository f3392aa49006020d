// Every file in config/ is valid, each example exists in both syntaxes, and each committed .toml
// is exactly what `horae convert` makes of its .conf twin (so the reviewed output stays current).

import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/load_config.ts";
import { formatDiagnostic } from "../../lib/config/diagnostics.ts";
import { NOT_APPLIED_CODE } from "../../lib/config/not_applied.ts";
import { runCheck } from "../../lib/cli/check.ts";
import { runConvert } from "../../lib/cli/convert.ts";
import { fakeIo } from "./fake_io.ts";

const DIR = new URL("../../config/", import.meta.url).pathname;
const FILES = [...Deno.readDirSync(DIR)].filter((e) => e.isFile).map((e) => e.name).sort();
const EXAMPLES = FILES.filter((f) => f.endsWith(".conf")).map((f) => f.slice(0, -5));

Deno.test("config/ holds the five examples in both syntaxes", () => {
  for (
    const name of [
      "pool_client",
      "lan_server",
      "gps_pps_stratum1",
      "authenticated",
      "broadcast_manycast",
    ]
  ) {
    assert.ok(FILES.includes(`${name}.conf`), `${name}.conf`);
    assert.ok(FILES.includes(`${name}.toml`), `${name}.toml`);
  }
});

for (const file of FILES) {
  Deno.test(`config/${file}: check reports only what Horae does not apply yet`, async () => {
    const r = await loadConfig(DIR + file);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.code !== NOT_APPLIED_CODE).map(formatDiagnostic),
      [],
    );
    const c = fakeIo();
    assert.equal(await runCheck(["--strict", DIR + file], c.io), 0, c.stdout());
  });
}

for (const name of EXAMPLES) {
  Deno.test(`config/${name}.toml is the committed convert output of ${name}.conf`, async () => {
    const v = fakeIo();
    assert.equal(await runConvert([DIR + `${name}.conf`], v.io), 0, v.stderr());
    assert.equal(v.stdout(), Deno.readTextFileSync(DIR + `${name}.toml`));
    const conf = await loadConfig(DIR + `${name}.conf`);
    const toml = await loadConfig(DIR + `${name}.toml`);
    assert.equal(toml.syntax, "toml");
    assert.deepEqual(toml.config, conf.config);
  });
}
