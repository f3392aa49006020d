import assert from "node:assert/strict";
import { writeNtpConf } from "./ntp_conf_writer.ts";
import { parseNtpConf } from "./ntp_conf_parser.ts";
import { loadConfig } from "./load_config.ts";
import { emptyConfig } from "./config_model.ts";

const FIXTURES = new URL("../../tests/fixtures/conf/valid/", import.meta.url).pathname;

Deno.test("writeNtpConf() text reads back to the same model, for every fixture configuration", async () => {
  let n = 0;
  for (const e of [...Deno.readDirSync(FIXTURES)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isFile || !e.name.endsWith(".conf")) continue;
    const loaded = await loadConfig(`${FIXTURES}${e.name}`);
    const text = writeNtpConf(loaded.config);
    const back = parseNtpConf(text, { file: "saved.conf" });
    assert.deepEqual(
      back.diagnostics.filter((d) => d.severity === "error"),
      [],
      `${e.name}:\n${text}`,
    );
    assert.deepEqual(back.config, loaded.config, `${e.name}:\n${text}`);
    // Writing it again gives the same text.
    assert.equal(writeNtpConf(back.config), text, e.name);
    n++;
  }
  assert.ok(n >= 25, `${n} fixtures`);
});

Deno.test("writeNtpConf() leaves defaults out and writes the banner as comments", () => {
  assert.equal(writeNtpConf(emptyConfig(), { banner: ["saved"] }), "# saved\n");
  const c = parseNtpConf(
    'server 192.0.2.1 iburst minpoll 4\nrestrict -6 default noquery\nsetvar loc = "lab 3" default\n',
  ).config;
  const text = writeNtpConf(c);
  assert.match(text, /^server 192\.0\.2\.1 (iburst minpoll 4|minpoll 4 iburst)$/m);
  assert.match(text, /^restrict -6 default noquery$/m);
  assert.match(text, /^setvar loc = "lab 3" default$/m);
  assert.doesNotMatch(text, /maxpoll|version/);
});
