import assert from "node:assert/strict";
import {
  applyRuntimeConfig,
  FILE_PATHS,
  MAX_RUNTIME_CONFIG_BYTES,
  runtimeConfigReply,
} from "./runtime_config.ts";
import { parseNtpConf } from "./ntp_conf_parser.ts";
import { describeSource, diffConfig } from "./config_diff.ts";

const RUNNING = parseNtpConf(
  "server 192.0.2.1 iburst\npool pool.example.org\nrestrict default kod\nrestrict 127.0.0.1\n",
).config;

function ok(text: string, lookup?: (id: number) => { kind: string; address: string } | null) {
  const r = applyRuntimeConfig(RUNNING, text, lookup);
  assert.ok(r.ok, `${text}: ${runtimeConfigReply(r)}`);
  assert.equal(runtimeConfigReply(r), "Config Succeeded");
  return { config: r.config, diff: diffConfig(RUNNING, r.config) };
}

Deno.test("applyRuntimeConfig() adds a source on top of the running ones", () => {
  const { diff, config } = ok("server 192.0.2.9 iburst minpoll 4");
  assert.deepEqual(diff.sourcesAdded.map(describeSource), ["server 192.0.2.9"]);
  assert.deepEqual(diff.sourcesRemoved, []);
  assert.equal(config.sources.length, 3);
  // The running configuration is never changed.
  assert.equal(RUNNING.sources.length, 2);
});

Deno.test("applyRuntimeConfig() ignores a source that already runs (ntpd: duplicate)", () => {
  const { diff } = ok("server 192.0.2.1");
  assert.deepEqual([diff.sourcesAdded, diff.sourcesRemoved], [[], []]);
});

Deno.test("applyRuntimeConfig(): unpeer removes by address or association id", () => {
  assert.deepEqual(ok("unpeer 192.0.2.1").diff.sourcesRemoved.map(describeSource), [
    "server 192.0.2.1",
  ]);
  const byId = ok(
    "unconfig 7",
    (id) => id === 7 ? { kind: "pool", address: "pool.example.org" } : null,
  );
  assert.deepEqual(byId.diff.sourcesRemoved.map(describeSource), ["pool pool.example.org"]);
  const r = applyRuntimeConfig(RUNNING, "unpeer 192.0.2.77");
  assert.equal(r.ok, false);
  assert.equal(runtimeConfigReply(r), "column 8 syntax error: no source 192.0.2.77 is configured");
  assert.equal(applyRuntimeConfig(RUNNING, "unpeer 9").ok, false);
});

Deno.test("applyRuntimeConfig(): restrict adds a rule, or flags to the rule of that address", () => {
  const added = ok("restrict 127.0.0.5 nomodify").config.restrict;
  assert.deepEqual(added.at(-1), {
    match: "address",
    address: "127.0.0.5",
    mask: "255.255.255.255",
    family: "ipv4",
    flags: ["nomodify"],
  });
  const merged = ok("restrict default noquery").config.restrict;
  assert.equal(merged.length, RUNNING.restrict.length);
  assert.deepEqual(merged.filter((r) => r.match === "default").map((r) => r.flags), [
    ["kod", "noquery"],
    ["kod", "noquery"],
  ]);
});

Deno.test("applyRuntimeConfig(): tos and other settings change what they name only", () => {
  const { diff } = ok("tos minsane 2");
  assert.deepEqual(diff.live.map((c) => [c.path, c.before, c.after]), [["tos.minsane", 1, 2]]);
  assert.deepEqual(diff.restart, []);
});

Deno.test("applyRuntimeConfig() refuses bad text with ntpd's 'column N syntax error'", () => {
  for (
    const [text, reply] of [
      ["server", 'column 1 syntax error: "server" needs an address'],
      ["bogus 1", "column 1 syntax error: "],
      ["tos minsane two", "column 13 syntax error: "],
      ["reset", "column 1 syntax error: "],
      ["includefile /etc/passwd", "column 13 syntax error: "],
      ["   ", "column 1 syntax error: no configuration command"],
      ["server 192.0.2.5\nserver", 'column 1 syntax error: line 2: "server" needs an address'],
    ]
  ) {
    const r = applyRuntimeConfig(RUNNING, text!);
    assert.equal(r.ok, false, text);
    assert.ok(runtimeConfigReply(r).startsWith(reply!), `${text}: ${runtimeConfigReply(r)}`);
  }
});

Deno.test("applyRuntimeConfig() refuses text above its bound, 1 MB included, at once", () => {
  const big = `server 192.0.2.1 ${"x".repeat(1 << 20)}`;
  const t0 = performance.now();
  const r = applyRuntimeConfig(RUNNING, big);
  assert.equal(r.ok, false);
  assert.match(runtimeConfigReply(r), /^column 0 syntax error: request too long \(1048593 bytes/);
  assert.ok(performance.now() - t0 < 1000);
  const edge = `tos minsane 2 #${"x".repeat(MAX_RUNTIME_CONFIG_BYTES - 15)}`;
  assert.equal(new TextEncoder().encode(edge).length, MAX_RUNTIME_CONFIG_BYTES);
  assert.ok(applyRuntimeConfig(RUNNING, edge).ok);
  assert.equal(applyRuntimeConfig(RUNNING, `${edge}x`).ok, false);
});

Deno.test("applyRuntimeConfig() never throws on arbitrary bytes", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const words = ["server", "unpeer", "restrict", "tos", '"', "#", "\n", "-4", "0", "mask", "\0"];
  for (let i = 0; i < 500; i++) {
    let t = "";
    const n = Math.floor(rand() * 12);
    for (let k = 0; k < n; k++) {
      t += rand() < 0.7
        ? `${words[Math.floor(rand() * words.length)]} `
        : String.fromCharCode(Math.floor(rand() * 256));
    }
    const r = applyRuntimeConfig(RUNNING, t);
    assert.equal(typeof runtimeConfigReply(r), "string", `seed ${i}: ${JSON.stringify(t)}`);
  }
});

Deno.test("applyRuntimeConfig() refuses every line that names a file", () => {
  const paths = FILE_PATHS.map((f) => f.path);
  for (const p of ["files.logFile", "files.driftFile", "files.pidFile", "auth.keysFile"]) {
    assert.ok(paths.includes(p), p);
  }
  for (
    const [text, keyword] of [
      ["logfile /etc/shadow", "logfile"],
      ["driftfile /etc/passwd", "driftfile"],
      ["pidfile /etc/passwd", "pidfile"],
      ["leapfile /etc/passwd", "leapfile"],
      ["saveconfigdir /etc", "saveconfigdir"],
      ["keys /etc/shadow", "keys"],
      ["statsdir /etc/", "statsdir"],
      ["filegen loopstats file other", "filegen"],
      ["server 127.127.20.0 path /dev/mem", "server"],
      ["server 127.127.20.1 ppspath /etc/shadow", "server"],
      ["tos minsane 2\nlogfile /tmp/x", "logfile"],
    ]
  ) {
    const r = applyRuntimeConfig(RUNNING, text!);
    assert.equal(r.ok, false, text);
    assert.match(
      runtimeConfigReply(r),
      new RegExp(
        `^column 1 syntax error: (line 2: )?${keyword}: files cannot be named at run time`,
      ),
      text,
    );
  }
  // Other lines still work, including a clock that names no device.
  assert.ok(applyRuntimeConfig(RUNNING, "statistics loopstats").ok);
  assert.ok(applyRuntimeConfig(RUNNING, "server 127.127.1.0").ok);
});
