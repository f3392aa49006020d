// Writes docs/horae.conf.5.md from the option spec (`deno task docs:config`); the test
// tests/config/config_reference_test.ts fails when the checked-in page is not current.

import { CONFIG_REFERENCE_PATH, renderConfigReference } from "../lib/config/config_reference.ts";

const path = new URL(`../${CONFIG_REFERENCE_PATH}`, import.meta.url);
await Deno.writeTextFile(path, renderConfigReference());
// deno-lint-ignore no-console
console.log(`wrote ${CONFIG_REFERENCE_PATH}`);
