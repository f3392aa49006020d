// Live reconfiguration of a running Horae (observe-only, without CAP_SYS_TIME) in its own
// network namespace: SIGHUP with a source added, a source removed and a broken file, each seen in
// the log while the daemon keeps answering; SIGHUP moves the log to a new `logfile` and reopens
// it after rotation; a burst of SIGHUPs is bounded. NTPsec's ntpq `:config` (a real third-party
// client) adds and removes sources and changes restrict with the controlkey, and is refused
// without it, with another key, and from a `nomodify` address; `horae query saveconfig` writes
// (ntp.conf text, or TOML for a .toml name) only under plain names inside saveconfigdir and
// never through a planted link; 1 MB of
// CONFIGURE payload in maximum-size datagrams is dropped while the daemon keeps answering; the
// status file's last document says the daemon stopped.

import assert from "node:assert/strict";
import { horaeCommand, needPeers, runGuarded, tempDir, withNetns } from "../support/peers.ts";
import { type Json, NETNS, startObservingHorae, waitStatus } from "./_chronyd_servers.ts";
import { controlFrom } from "./_control_request.ts";

const peers = await needPeers("live reconfiguration (SIGHUP, ntpq :config)", {
  programs: ["ntpq"],
  root: NETNS,
});

/** The control key (keys file line `10 MD5 ctl-secret`) and a trusted key that is not it. */
const KEY = { id: 10, type: "MD5", secret: "ctl-secret" };
const OTHER = { id: 11, type: "MD5", secret: "other-secret" };
const CONFIGURE = 8;

/** Where saveconfig writes: the keys' folder (the test's own). */
function saveDir(keys: string): string {
  return keys.slice(0, keys.lastIndexOf("/"));
}

function conf(keys: string, servers: string[], extra: string[] = []): string {
  return [
    "server 127.127.1.0",
    "fudge 127.127.1.0 stratum 10",
    ...servers.map((s) => `server ${s} minpoll 4 maxpoll 4`),
    `keys ${keys}`,
    `trustedkey ${KEY.id} ${OTHER.id}`,
    `controlkey ${KEY.id}`,
    // saveconfig writes only into saveconfigdir (refused without it, as ntpd does).
    `saveconfigdir ${saveDir(keys)}`,
    "restrict default noquery",
    "restrict 127.0.0.1",
    "restrict 127.0.0.5 nomodify",
    ...extra,
    "",
  ].join("\n");
}

async function ntpq(ns: string, key: typeof KEY | null, ...commands: string[]) {
  return await runGuarded([
    peers.path("ntpq"),
    ...(key === null ? [] : ["-k", keysPath, "-a", String(key.id)]),
    ...commands.flatMap((c) => ["-c", c]),
    "127.0.0.1",
  ], { netns: ns, timeoutMs: 30_000 });
}

async function horaeQuery(ns: string, ...commands: string[]): Promise<string> {
  const r = await runGuarded([
    ...await horaeCommand(),
    "query",
    "-k",
    keysPath,
    "-a",
    String(KEY.id),
    ...commands.flatMap((c) => ["-c", c]),
    "127.0.0.1",
  ], { netns: ns, timeoutMs: 30_000 });
  return r.output;
}

/** One CONFIGURE from `source` with the helper client (signed with the controlkey or not). */
function configureFrom(ns: string, source: string, text: string, signed: boolean) {
  return controlFrom(ns, source, CONFIGURE, text, signed ? KEY : null);
}

let keysPath = "";

Deno.test(
  "interop: SIGHUP reloads, ntpq :config reconfigures and saveconfig stays in its folder",
  { ignore: peers.ignore },
  async () => {
    const keysDir = await tempDir("reloadkeys-");
    keysPath = `${keysDir}/ntp.keys`;
    await Deno.writeTextFile(
      keysPath,
      `${KEY.id} ${KEY.type} ${KEY.secret}\n${OTHER.id} ${OTHER.type} ${OTHER.secret}\n`,
      { mode: 0o600 },
    );
    await withNetns("hrld", async (ns) => {
      const horae = await startObservingHorae(ns, conf(keysPath, ["127.0.0.2"]));
      const confPath = `${horae.dir}/ntp.conf`;
      const statusPath = `${horae.dir}/status.json`;
      const logPath = `${horae.dir}/ntp.log`;
      const pid = horae.proc.child.pid;
      const hup = () => Deno.kill(pid, "SIGHUP");
      /** The daemon's log so far: its output, then its log file once it moved there. */
      const log = async () =>
        horae.proc.output + await Deno.readTextFile(logPath).catch(() => "") +
        await Deno.readTextFile(`${logPath}.1`).catch(() => "");
      const waitLog = async (pattern: RegExp, what: string) => {
        for (let i = 0; i < 200; i++) {
          if (pattern.test(await log())) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail(`${what}: ${pattern} not logged:\n${(await log()).slice(-3000)}`);
      };
      const sources = async () => {
        const st: Json = await waitStatus(statusPath, () => true, 10_000, horae.proc);
        return (st.sources as { address: string }[]).map((s) => s.address).sort();
      };
      const waitSources = async (want: string[]) => {
        let got: string[] = [];
        for (let i = 0; i < 100; i++) {
          got = await sources();
          if (JSON.stringify(got) === JSON.stringify(want)) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.fail(`sources ${got} instead of ${want}`);
      };
      try {
        await waitSources(["127.0.0.2"]);

        // SIGHUP with a source added and another removed.
        await Deno.writeTextFile(confPath, conf(keysPath, ["127.0.0.3"]));
        hup();
        await waitLog(/reload: removed server 127\.0\.0\.2/, "removed source");
        await waitLog(/reload: added server 127\.0\.0\.3/, "added source");
        await waitLog(/127\.0\.0\.3 mobilize assoc \d+: server/, "mobilized");
        await waitSources(["127.0.0.3"]);

        // SIGHUP with a broken file: refused with file:line, the daemon runs on as it was.
        await Deno.writeTextFile(
          confPath,
          conf(keysPath, ["127.0.0.4"], ["server", "tos minsane two"]),
        );
        hup();
        await waitLog(
          new RegExp(`reload: ${confPath}:\\d+:1: error: "server" needs an address`),
          "broken file",
        );
        await waitLog(/refused, still running the previous one/, "refusal");
        await waitSources(["127.0.0.3"]);
        const rv = await ntpq(ns, null, "rv 0 stratum");
        assert.equal(rv.code, 0, rv.output);
        assert.match(rv.output, /stratum=/);

        // SIGHUP moves the log to a new logfile; after rotation (rename) a SIGHUP reopens it.
        await Deno.writeTextFile(confPath, conf(keysPath, ["127.0.0.3"], [`logfile ${logPath}`]));
        hup();
        await waitLog(/reload: logfile \(none\) -> /, "logfile change");
        await Deno.rename(logPath, `${logPath}.1`);
        hup();
        for (let i = 0; i < 100 && !(await Deno.readTextFile(logPath).catch(() => "")); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(await Deno.readTextFile(logPath), /configuration unchanged/);

        // A burst of 200 SIGHUPs: they fold into a few reloads (one runs, one waits), and the
        // daemon runs on.
        const before = ((await log()).match(/SIGHUP: reopening/g) ?? []).length;
        for (let i = 0; i < 200; i++) hup();
        await new Promise((r) => setTimeout(r, 1500));
        const after = ((await log()).match(/SIGHUP: reopening/g) ?? []).length;
        assert.ok(after - before >= 1 && after - before <= 50, `${after - before} reloads`);
        assert.equal((await ntpq(ns, null, "rv 0 stratum")).code, 0);

        // ntpq :config with the controlkey: add a source, remove one, change restrict.
        const add = await ntpq(ns, KEY, ":config server 127.0.0.6 minpoll 4 maxpoll 4");
        assert.match(add.output, /Config Succeeded/, add.output);
        await waitLog(/runtime configuration: added server 127\.0\.0\.6/, ":config server");
        await waitSources(["127.0.0.3", "127.0.0.6"]);
        const del = await ntpq(ns, KEY, ":config unpeer 127.0.0.3");
        assert.match(del.output, /Config Succeeded/, del.output);
        await waitLog(/runtime configuration: removed server 127\.0\.0\.3/, ":config unpeer");
        await waitSources(["127.0.0.6"]);
        // A syntax error comes back with ntpd's column, which ntpq underlines.
        const bad = await ntpq(ns, KEY, ":config tos minsane two");
        assert.match(bad.output, /column 13 syntax error/, bad.output);
        assert.match(bad.output, /_{12}\^/, bad.output);

        // Without the controlkey: unsigned, or signed with another trusted key.
        const unsigned = await configureFrom(ns, "127.0.0.1", "server 127.0.0.8", false);
        assert.deepEqual([unsigned.outcome, unsigned.error], ["error", 1]);
        const other = await ntpq(ns, OTHER, ":config server 127.0.0.8");
        assert.doesNotMatch(other.output, /Config Succeeded/, other.output);
        assert.match(other.output, /permission/i, other.output);
        // nomodify refuses even the controlkey.
        const nomodify = await configureFrom(ns, "127.0.0.5", "server 127.0.0.8", true);
        assert.deepEqual([nomodify.outcome, nomodify.error], ["error", 1]);
        const signed = await configureFrom(ns, "127.0.0.1", "restrict 127.0.0.5 noquery", true);
        assert.equal(signed.outcome, "complete", JSON.stringify(signed));
        assert.equal(signed.text.replace(/\0+$/, "").trim(), "Config Succeeded");
        // The new restrict rule applies at once: 127.0.0.5 may not even query now.
        const silenced = await configureFrom(ns, "127.0.0.5", "server 127.0.0.8", true);
        assert.equal(silenced.outcome, "timeout", JSON.stringify(silenced));
        assert.deepEqual(await sources(), ["127.0.0.6"]);

        // saveconfig: a plain name in saveconfigdir only, never through a link.
        const saved = await horaeQuery(ns, "saveconfig saved.toml");
        assert.match(saved, /Configuration saved to 'saved\.toml'/, saved);
        const savedText = await Deno.readTextFile(`${keysDir}/saved.toml`);
        assert.match(savedText, /127\.0\.0\.6/);
        assert.doesNotMatch(savedText, /127\.0\.0\.3/);
        assert.match(savedText, /noquery/);
        // A name not ending in .toml gets ntp.conf text, as ntpd writes, which reads back.
        const savedConf = await horaeQuery(ns, "saveconfig saved.conf");
        assert.match(savedConf, /Configuration saved to 'saved\.conf'/, savedConf);
        const confText = await Deno.readTextFile(`${keysDir}/saved.conf`);
        assert.match(confText, /^server 127\.0\.0\.6 minpoll 4 maxpoll 4$/m, confText);
        assert.match(confText, /^restrict 127\.0\.0\.5 mask 255\.255\.255\.255 nomodify noquery$/m);
        assert.doesNotMatch(confText, /127\.0\.0\.3/);
        const check = await runGuarded([
          ...await horaeCommand(),
          "check",
          `${keysDir}/saved.conf`,
        ], { timeoutMs: 30_000 });
        assert.equal(check.code, 0, check.output);
        for (const name of ["../x", "/etc/x", "..", "a/b"]) {
          const out = await horaeQuery(ns, `saveconfig ${name}`);
          assert.doesNotMatch(out, /Configuration saved/, `${name}: ${out}`);
        }
        await Deno.stat(`${keysDir}/../x`).then(
          () => assert.fail("../x written"),
          () => {},
        );
        const target = `${keysDir}/target`;
        await Deno.writeTextFile(target, "untouched\n");
        await Deno.symlink(target, `${keysDir}/link.toml`);
        const linked = await horaeQuery(ns, "saveconfig link.toml");
        assert.match(linked, /Configuration not saved: .*symbolic link \(refused\)/, linked);
        assert.ok((await Deno.lstat(`${keysDir}/link.toml`)).isSymlink);
        assert.equal(await Deno.readTextFile(target), "untouched\n");

        // 1 MB of CONFIGURE payload in 16 maximum-size datagrams reaches the daemon and is
        // dropped; NTPsec's ntpq will not even send a 100 KB :config ("Data too large"). The
        // daemon keeps answering. (The seam's own bound is tested with 1 MB of text in
        // lib/config/runtime_config_test.ts.)
        const flood = await runGuarded([
          Deno.execPath(),
          "eval",
          "--unstable-net",
          `const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
           const d = new Uint8Array(65507).fill(0x61);
           d.set([0x16, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
           for (let i = 0; i < 16; i++) await s.send(d, { transport: "udp", hostname: "127.0.0.1", port: 123 });
           s.close();`,
        ], { netns: ns, timeoutMs: 30_000 });
        assert.equal(flood.code, 0, flood.output);
        const huge = await ntpq(ns, KEY, `:config server ${"x".repeat(100_000)}`);
        assert.match(huge.output, /Data too large|timed out/, huge.output.slice(0, 500));
        assert.doesNotMatch(huge.output, /Config Succeeded/, huge.output.slice(0, 500));
        const alive = await ntpq(ns, null, "rv 0 stratum");
        assert.equal(alive.code, 0, alive.output);
        assert.match(alive.output, /stratum=/);
      } finally {
        const st = await horae.proc.stop();
        const output = await log();
        const last: Json = JSON.parse(await Deno.readTextFile(statusPath).catch(() => "{}"));
        await horae.stop();
        await Deno.remove(keysDir, { recursive: true }).catch(() => {});
        assert.equal(st.code, 0, output.slice(-3000));
        // The status file's last word: stopped, not synchronised.
        assert.deepEqual([last.running, last.synchronized], [false, false]);
        assert.equal(typeof last.stopped, "string");
      }
    });
  },
);
