// Tests of telling an ntp.conf from other files, and of which first words may be quoted back.

import assert from "node:assert/strict";
import { lexNtpConf } from "./ntp_conf_lexer.ts";
import { NOT_CONFIG_UNKNOWN_LINES, shownKeyword, sniffNtpConf } from "./sniff_ntp_conf.ts";

const KNOWN = new Set(["server", "driftfile", "restrict"]);
const isKeyword = (w: string) => KNOWN.has(w);

function sniff(text: string) {
  return sniffNtpConf(lexNtpConf(text, "t").lines, isKeyword);
}

Deno.test("sniffNtpConf() accepts a file as soon as a known keyword starts a line", () => {
  assert.deepEqual(sniff("# comment\n\nserver a\n"), { ntpConf: true });
  const typos = "frob 1\n".repeat(NOT_CONFIG_UNKNOWN_LINES - 1);
  assert.deepEqual(sniff(`${typos}server a\n`), { ntpConf: true });
  // A known keyword after the threshold comes too late.
  assert.equal(sniff(`${typos}frob\nserver a\n`).ntpConf, false);
  // Short files with only unknown lines stay ntp.conf (their lines get the usual warnings).
  assert.deepEqual(sniff("frob 1\nfrob 2\n"), { ntpConf: true });
  assert.deepEqual(sniff(""), { ntpConf: true });
});

Deno.test("sniffNtpConf() says what a rejected file looks like when it is obvious", () => {
  const shadow = "root:$6$salt$hash:19000:0:99999:7:::\n" +
    "daemon:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\nsys:*:19000:0:99999:7:::\n";
  assert.deepEqual(sniff(shadow), {
    ntpConf: false,
    looksLike: "colon-separated records, like /etc/passwd or /etc/shadow",
  });
  const passwd = "root:x:0:0:root:/root:/bin/bash\n" +
    "ann:x:1000:1000:Ann Example,,,:/home/ann:/bin/bash\n".repeat(3);
  assert.equal(sniff(passwd).ntpConf, false);
  assert.match(JSON.stringify(sniff(passwd)), /passwd/);
  const ini = "[Time]\nNTP=a.example\nFallbackNTP=b.example\nRootDistanceMaxSec=5\n";
  assert.deepEqual(sniff(ini), {
    ntpConf: false,
    looksLike: "key = value settings, like TOML or an INI file",
  });
  assert.deepEqual(sniff("alpha\nbeta\ngamma\ndelta\n"), { ntpConf: false, looksLike: null });
});

Deno.test("shownKeyword() quotes plain words only", () => {
  const tok = (text: string, quoted = false) => ({ text, col: 1, quoted });
  assert.equal(shownKeyword(tok("frob")), "frob");
  assert.equal(shownKeyword(tok("leap_smear-2.0")), "leap_smear-2.0");
  assert.equal(shownKeyword(tok("frob", true)), "frob");
  assert.equal(shownKeyword(tok("root:$6$salt$hash:19000:0:99999:7:::")), null);
  assert.equal(shownKeyword(tok("two words", true)), null);
  assert.equal(shownKeyword(tok("x".repeat(33))), null);
  assert.equal(shownKeyword(tok("-flag")), null);
});
