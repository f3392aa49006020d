import assert from "node:assert/strict";
import { emptyConfig } from "../config/config_model.ts";
import { settingsFromConfig } from "./settings.ts";

Deno.test("settingsFromConfig() warns that enable pps needs the ntpd discipline in kernel mode", () => {
  const c = emptyConfig();
  c.system.pps = true;
  assert.match(settingsFromConfig(c).warnings!.join("\n"), /enable pps: .*tinker discipline ntpd/);
  c.tinker.discipline = "ntpd";
  assert.deepEqual(settingsFromConfig(c).warnings, []);
  c.system.kernel = false;
  assert.match(settingsFromConfig(c).warnings!.join("\n"), /enable kernel/);
  c.system.pps = false;
  assert.deepEqual(settingsFromConfig(c).warnings, []);
});
