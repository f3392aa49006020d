// The checked-in configuration reference is the one the option spec renders today.

import assert from "node:assert/strict";
import { CONFIG_REFERENCE_PATH, renderConfigReference } from "../../lib/config/config_reference.ts";
import { CONFIG_SPEC } from "../../lib/proto/options/config_spec.ts";

Deno.test("docs/horae.conf.5.md is current (regenerate with `deno task docs:config`)", () => {
  const checkedIn = Deno.readTextFileSync(
    new URL(`../../${CONFIG_REFERENCE_PATH}`, import.meta.url),
  );
  assert.equal(
    checkedIn,
    renderConfigReference(),
    "run `deno task docs:config` and commit the page",
  );
});

Deno.test("the reference names every keyword, TOML key and not-applied setting", () => {
  const page = renderConfigReference();
  for (const s of CONFIG_SPEC.sections) {
    for (const c of s.commands) assert.ok(page.includes(`\`${c.keyword}\``), c.keyword);
    for (const o of s.parts.flatMap((p) => p.options)) {
      if (s.toml !== null) assert.ok(page.includes(`\`${o.toml}\``), `${s.id}.${o.toml}`);
      if (o.applied !== true) assert.ok(page.includes(o.applied), `${s.id}.${o.field}`);
    }
  }
  for (const u of CONFIG_SPEC.unsupported) assert.ok(page.includes(`\`${u.keyword}\``));
  assert.match(page, /`hop`/);
  assert.match(page, /\| `minpoll` \| integer \| log2 s \| 4–17; outside: clamped/);
});
