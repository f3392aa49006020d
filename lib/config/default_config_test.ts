// Tests of the embedded default configuration.

import assert from "node:assert/strict";
import { DEFAULT_CONFIG_NAME, DEFAULT_NTP_CONF } from "./default_config.ts";
import { loadConfig } from "./load_config.ts";
import { parseTomlConfig } from "./toml_config.ts";
import { writeToml } from "./toml_writer.ts";

Deno.test("the embedded default is a pool client with Debian-style restrictions", async () => {
  const r = await loadConfig(null);
  // Everything in it is applied (its restrict lines too): nothing to report.
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.path, null);
  assert.deepEqual(r.config.sources.map((s) => [s.kind, s.address, s.iburst]), [
    ["pool", "pool.ntp.org", true],
  ]);
  assert.equal(r.config.refclocks.length, 0, "no LOCAL clock: it would serve stratum 10");
  const defaults = r.config.restrict.filter((x) => x.match === "default");
  assert.deepEqual(defaults.map((x) => x.family), ["ipv4", "ipv6"]);
  for (const rule of defaults) {
    for (const f of ["kod", "limited", "nomodify", "nopeer", "noquery"] as const) {
      assert.ok(rule.flags.includes(f), f);
    }
  }
  assert.ok(r.config.restrict.some((x) => x.address === "127.0.0.1" && x.flags.length === 0));
});

Deno.test("the embedded default converts to TOML and back", async () => {
  const r = await loadConfig(null);
  assert.deepEqual(parseTomlConfig(writeToml(r.config)).config, r.config);
  assert.equal(DEFAULT_CONFIG_NAME, "<default>");
  assert.match(DEFAULT_NTP_CONF, /^pool pool\.ntp\.org iburst$/m);
});
