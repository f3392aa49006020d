// Tests of `horae convert`: TOML output, comments, dropped-line warnings and exit codes.

import assert from "node:assert/strict";
import { runConvert } from "./convert.ts";
import { parseTomlConfig } from "../config/toml_config.ts";
import { parseNtpConf } from "../config/ntp_conf_parser.ts";
import { fakeIo } from "../../tests/config/fake_io.ts";

const SAMPLE = `# My server
driftfile /var/lib/ntp/ntp.drift

# upstream
server a.example iburst
restrict default kod nomodify
`;

Deno.test("runConvert() writes TOML on stdout, with the comments, exit 0", async () => {
  const io = fakeIo(SAMPLE);
  assert.equal(await runConvert([], io.io), 0);
  // Everything here is applied (restrict included): no warning, no "does not apply" comment.
  assert.equal(io.stderr(), "");
  const out = io.stdout();
  assert.match(out, /\n\[\[restrict\]\]\naddress = "default"\n/);
  assert.doesNotMatch(out, /does not apply/);
  assert.match(out, /^# Horae configuration, converted from standard input/);
  assert.match(out, /# My server\n/);
  assert.match(out, /# upstream\n\[\[source\]\]\nkind = "server"\naddress = "a\.example"\n/);
  assert.deepEqual(parseTomlConfig(out).config, parseNtpConf(SAMPLE).config);
});

Deno.test("runConvert() warns per untranslatable line and exits 1, output still complete", async () => {
  const io = fakeIo(SAMPLE + "makestep 1 3\nserver 127.127.1.0 iburst\n");
  assert.equal(await runConvert([], io.io), 1);
  assert.match(io.stderr(), /<stdin>:7:1: warning: unknown keyword "makestep"; line ignored\n/);
  assert.match(io.stderr(), /<stdin>:8:20: warning: "iburst" is ignored for a reference clock\n/);
  assert.match(io.stderr(), /2 lines were not \(fully\) translated/);
  assert.match(io.stdout(), /# not translated: makestep 1 3\n/);
  assert.match(io.stdout(), /\[\[refclock\]\]\ntype = 1\n/);
});

Deno.test("runConvert() refuses input with errors: exit 78, nothing written", async () => {
  const io = fakeIo("server a.example minpoll x\n");
  assert.equal(await runConvert(["-o", "out.toml"], io.io), 78);
  assert.equal(io.stdout(), "");
  assert.equal(io.files.size, 0);
  assert.match(io.stderr(), /<stdin>:1:26: error: minpoll needs an integer, got "x"/);
});

Deno.test("runConvert() writes the value ntpd would use for one out of range", async () => {
  const io = fakeIo("server a.example minpoll 1\n");
  assert.equal(await runConvert([], io.io), 0);
  assert.match(io.stderr(), /<stdin>:1:26: warning: minpoll 1 is out of range 4–17; using 4\n/);
  assert.match(io.stdout(), /\nminpoll = 4\n/);
});

Deno.test("runConvert() -o writes the file instead of stdout", async () => {
  const io = fakeIo(SAMPLE);
  assert.equal(await runConvert(["-o", "/tmp/x.toml"], io.io), 0);
  assert.equal(io.stdout(), "");
  assert.match(io.files.get("/tmp/x.toml") ?? "", /address = "a\.example"/);
});

Deno.test("runConvert() usage errors exit 2", async () => {
  const a = fakeIo();
  assert.equal(await runConvert(["a.conf", "b.conf"], a.io), 2);
  assert.match(a.stderr(), /one input file at most/);
  const b = fakeIo();
  assert.equal(await runConvert(["-o"], b.io), 2);
});

Deno.test("runConvert() never quotes a line that does not start with a plain keyword", async () => {
  const io = fakeIo(SAMPLE + "root:$6$SECRET:19000:0:99999:7:::\n");
  assert.equal(await runConvert([], io.io), 1);
  assert.match(
    io.stderr(),
    /<stdin>:7:1: warning: unknown keyword \(not a plain word, not shown\)/,
  );
  assert.match(io.stdout(), /# not translated: <stdin>:7 \(not shown: no keyword\)\n/);
  assert.doesNotMatch(io.stdout() + io.stderr(), /SECRET|19000/);
});

Deno.test("runConvert() refuses a file that is not an ntp.conf, quoting none of it", async () => {
  const io = fakeIo("root:$6$SECRET:19000:0:99999:7:::\n".repeat(5));
  assert.equal(await runConvert(["-o", "out.toml"], io.io), 78);
  assert.match(io.stderr(), /^<stdin>: error: does not look like an ntp\.conf configuration file/);
  assert.doesNotMatch(io.stderr(), /SECRET|19000/);
  assert.equal(io.files.size, 0);
});
