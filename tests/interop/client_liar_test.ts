// Horae as a client of three chronyd -x servers and a fourth, under faketime, that is an hour
// ahead: the liar is measured, marked a falseticker and never followed. Every process runs
// without CAP_SYS_TIME; Horae runs observe-only (--observe).

import assert from "node:assert/strict";
import { needPeers, readJson, runGuarded, tempDir, withNetns } from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

/** Debian's libfaketime (package faketime). */
const FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

const liarPeers = await needPeers("horae rejects a faketime liar", {
  programs: ["chronyd", "faketime"],
  files: [FAKETIME_LIB],
  root: NETNS,
});

Deno.test("interop: a chronyd server lying by +1 h is a falseticker and never followed", {
  ignore: liarPeers.ignore,
}, async () => {
  const chronyd = liarPeers.path("chronyd");
  await withNetns("hliar", async (ns) => {
    const liar = "127.0.0.5";
    const stopGood = await startServers(chronyd, ns, GOOD);
    // libfaketime preloaded through env (which execs): the faketime wrapper forks, and a
    // SIGTERM to it would leave chronyd running.
    const stopLiar = await startServers(chronyd, ns, [liar], [
      "env",
      `LD_PRELOAD=${FAKETIME_LIB}`,
      "FAKETIME=+1h",
    ]);
    const dir = await tempDir("liarq-");
    try {
      // First make sure the liar really serves +1 h (chronyd -Q measures, never sets).
      const q = await runGuarded([
        chronyd,
        "-Q",
        "-u",
        "root",
        "-f",
        "/dev/null",
        `server ${liar} iburst maxsamples 4`,
        "port 0",
        "cmdport 0",
        "bindcmdaddress /",
        `pidfile ${dir}/q.pid`,
      ], { netns: ns, timeoutMs: 30_000 });
      const m = q.output.match(/System clock wrong by (-?[\d.]+) seconds/);
      assert.ok(m !== null, q.output);
      assert.ok(Math.abs(Number(m[1]) - 3600) < 1, `liar offset ${m[1]} s`);

      const horae = await startObservingHorae(ns, horaeConf([...GOOD, liar]));
      try {
        const status = `${horae.dir}/status.json`;
        const seen = new Set<string>();
        const s0 = await waitStatus(status, (s) => s.synchronized, 40_000, horae.proc);
        const end = Date.now() + 20_000;
        let s = s0;
        while (Date.now() < end) {
          s = (await readJson(status)) ?? s;
          if (s.systemPeer !== null) seen.add(s.systemPeer.address);
          assert.ok(Math.abs(s.offsetSec ?? 0) < 1e-3, `offset ${s.offsetSec} s`);
          await new Promise((r) => setTimeout(r, 500));
        }
        assert.ok(!seen.has(liar), `the liar was system peer: ${[...seen]}`);
        const la = s.associations.find((a: Json) => a.address === liar);
        assert.ok(la !== undefined);
        assert.notEqual(la.reach, "000", "the liar answered");
        assert.ok(Math.abs(la.offsetSec - 3600) < 1, `liar measured at ${la.offsetSec} s`);
        assert.equal(la.tally, "x", `liar tally "${la.tally}"`);
        assert.ok(GOOD.includes(s.refid), `refid ${s.refid}`);
        assert.doesNotMatch(horae.proc.output, /synchronized to 127\.0\.0\.5/);
        assert.doesNotMatch(horae.proc.output, /panic|time reset/);
      } finally {
        await horae.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await stopLiar();
      await stopGood();
    }
  });
});
