// Mode 6 against real clients: NTPsec's ntpq (which only talks to port 123, so everything runs
// in a network namespace) and Nagios' check_ntp_peer query a Horae that is a client of three
// chronyd -x servers and runs a LOCAL refclock; `horae query` prints the same billboard as
// NTPsec's ntpq; noquery, nomodify and the controlkey decide who may read and write. Every
// process runs without CAP_SYS_TIME; Horae runs observe-only.

import assert from "node:assert/strict";
import { horaeCommand, needPeers, runGuarded, tempDir, withNetns } from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";
import { controlFrom, type ControlOutcome } from "./_control_request.ts";

const CHECK_NTP_PEER = "/usr/lib/nagios/plugins/check_ntp_peer";
const peers = await needPeers("mode 6 against NTPsec's ntpq and check_ntp_peer", {
  programs: ["chronyd", "ntpq"],
  files: [CHECK_NTP_PEER],
  root: NETNS,
});

/** The control key of the test (keys file line `10 MD5 ctl-secret`). */
const KEY = { id: 10, type: "MD5", secret: "ctl-secret" };

async function ntpq(ns: string, ...commands: string[]): Promise<string> {
  const args = commands.flatMap((c) => ["-c", c]);
  const r = await runGuarded([peers.path("ntpq"), ...args, "127.0.0.1"], {
    netns: ns,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.output);
  return r.output;
}

async function horaeQuery(ns: string, ...args: string[]): Promise<string> {
  const r = await runGuarded(
    [...await horaeCommand(), "query", ...args],
    { netns: ns, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, r.output);
  return r.output;
}

/** One request from `source` with the helper client; its JSON outcome. */
function fromSource(
  ns: string,
  source: string,
  opcode: number,
  text: string,
  signed: boolean,
): Promise<ControlOutcome> {
  return controlFrom(ns, source, opcode, text, signed ? KEY : null);
}

/** The `name=value` pairs of ntpq variable output. */
function vars(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/([a-z_.0-9]+)=("[^"]*"|[^,\n]*)/g)) out.set(m[1]!, m[2]!.trim());
  return out;
}

/** A billboard without its `when` column (which ticks between two runs). */
function masked(billboard: string): string {
  return billboard.split("\n").map((l) =>
    // The `when` column (characters 37-41, right-aligned) changes between two runs.
    /^[ *+x.#o-]\S/.test(l) && l.length > 42 ? `${l.slice(0, 37)}_____${l.slice(42)}` : l
  ).join("\n");
}

Deno.test(
  "interop: NTPsec's ntpq, check_ntp_peer and horae query read Horae's mode 6",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    const keysDir = await tempDir("ctlkeys-");
    await Deno.writeTextFile(`${keysDir}/ntp.keys`, `${KEY.id} ${KEY.type} ${KEY.secret}\n`, {
      mode: 0o600,
    });
    await withNetns("hctl", async (ns) => {
      const stopServers = await startServers(chronyd, ns, GOOD);
      const conf = horaeConf(
        GOOD,
        [
          "server 127.127.1.0",
          "fudge 127.127.1.0 stratum 12",
          'setvar location = "lab 3" default',
          "setvar owner = ops",
          `keys ${keysDir}/ntp.keys`,
          `trustedkey ${KEY.id}`,
          `controlkey ${KEY.id}`,
          "restrict default noquery",
          "restrict 127.0.0.1",
          "restrict 127.0.0.5 nomodify",
          "",
        ].join("\n"),
      );
      const horae = await startObservingHorae(ns, conf);
      try {
        const statusPath = `${horae.dir}/status.json`;
        const status: Json = await waitStatus(
          statusPath,
          (s) => s.synchronized && s.source === "network",
          40_000,
          horae.proc,
        );

        // rv: the system variables, consistent with the status file.
        const rv = await ntpq(ns, "rv");
        assert.match(rv, /^associd=0 status=06\w\w leap_none, sync_ntp, /m);
        const sys = vars(rv);
        assert.equal(sys.get("version"), '"horae 0.1.0"');
        assert.equal(sys.get("stratum"), String(status.stratum));
        assert.ok(GOOD.includes(sys.get("refid")!), rv);
        assert.equal(sys.get("location"), '"lab 3"');
        assert.equal(sys.has("owner"), false, "not a default variable");
        for (const n of ["offset", "frequency", "sys_jitter", "clk_jitter", "clk_wander"]) {
          assert.ok(Number.isFinite(Number(sys.get(n))), `${n} in\n${rv}`);
        }

        // as and rv &1: four associations (three servers and LOCAL), configured and reachable.
        const as = await ntpq(ns, "as");
        const rows = as.split("\n").filter((l) => /^\s+\d+\s+\d+\s+[0-9a-f]{4}\s/.test(l));
        assert.equal(rows.length, 4, as);
        for (const r of rows) assert.match(r, /\s+yes\s+yes\s+none\s/);
        assert.match(as, /sys\.peer/);
        const rv1Text = await ntpq(ns, "rv &1");
        const rv1 = vars(rv1Text);
        assert.equal(rv1.get("srcadr"), "127.0.0.2");
        assert.equal(rv1.get("hmode"), "3");
        assert.equal(rv1.get("stratum"), "8");
        // The clock filter's register, and unreach/flash, as ntpd shows them (NTPsec writes
        // "filtdelay =" and tab-separated cells).
        for (const n of ["filtdelay", "filtoffset", "filtdisp"]) {
          const m = new RegExp(`${n} *=([^,\n]*)`).exec(rv1Text);
          const cells = (m?.[1] ?? "").trim().split(/\s+/);
          assert.equal(cells.length, 8, `${n} in\n${rv1Text}`);
          assert.ok(cells.every((c) => Number.isFinite(Number(c))), `${n} in\n${rv1Text}`);
          if (n === "filtdelay") assert.ok(Number(cells[0]) > 0, rv1Text);
        }
        assert.equal(rv1.get("unreach"), "0");
        assert.ok(rv1.has("flash"));

        // The billboard: the system peer the status file names has the '*'.
        const now: Json = await waitStatus(statusPath, (s) => s.synchronized, 5_000, horae.proc);
        const pe = await ntpq(ns, "pe");
        assert.match(
          pe,
          /^ {5}remote {11}refid {6}st t when poll reach {3}delay {3}offset {3}jitter$/m,
        );
        assert.match(pe, /^[ +*x.#o-]LOCAL\(0\) +\.LOCL\. +12 l /m);
        const starred = pe.split("\n").filter((l) => l.startsWith("*"));
        assert.equal(starred.length, 1, pe);
        assert.ok(
          starred[0]!.startsWith(`*${now.systemPeer.address} `),
          `${pe}\nsystem peer ${now.systemPeer.address}`,
        );

        // horae query prints the same billboard as NTPsec's ntpq for the same state (the two
        // runs may straddle a poll: then try again).
        let same = false;
        let last = "";
        for (let i = 0; i < 4 && !same; i++) {
          const theirs = masked(await ntpq(ns, "peers"));
          const ours = masked(await horaeQuery(ns, "-n", "-c", "peers", "127.0.0.1"));
          same = theirs === ours;
          last = `ntpq:\n${theirs}\nhorae query:\n${ours}`;
        }
        assert.ok(same, last);

        // mrulist after the nonce handshake: the servers' replies are in the list.
        const mru = await ntpq(ns, "mrulist");
        for (const a of GOOD) assert.match(mru, new RegExp(` ${a.replaceAll(".", "\\.")}$`, "m"));

        // sysstats agree with the status file (read before and after).
        const before: Json = JSON.parse(await Deno.readTextFile(statusPath));
        const ss = await ntpq(ns, "sysstats");
        // Every counter NTPsec asks for has a value, the NTPv1 ones included (the column of
        // "_r" counters, an NTPsec extension that ntpd never had, stays ???).
        assert.doesNotMatch(ss, /:\s+\?\?\?/, ss);
        assert.match(ss, /^NTPv1 total: +\d+ /m, ss);
        const asked = Date.now();
        const after: Json = await waitStatus(
          statusPath,
          (s) => Date.parse(s.time) > asked,
          10_000,
          horae.proc,
        );
        const received = Number(/packets received:\s+(\d+)/.exec(ss)?.[1]);
        assert.ok(
          received >= before.sysstats.received && received <= after.sysstats.received,
          `${received} not within ${before.sysstats.received}..${after.sysstats.received}\n${ss}`,
        );

        // kerninfo (the kernel clock, read only) and iostats.
        const kern = await ntpq(ns, "kerninfo");
        assert.match(kern, /pll frequency:\s+-?[\d.]+/);
        assert.match(kern, /kernel status:\s+\S/);
        const io = await ntpq(ns, "iostats");
        assert.match(io, /received packets:\s+[1-9]\d*/);

        // cv: the LOCAL refclock's clock variables.
        const local = rows.find((r) => /^\s+4\s/.test(r))!;
        const localId = local.trim().split(/\s+/)[1]!;
        const cv = vars(await ntpq(ns, `cv ${localId}`));
        assert.equal(cv.get("device"), '"LOCAL(0)"');
        assert.equal(cv.get("refid"), "LOCL");
        assert.equal(cv.get("stratum"), "12");

        // check_ntp_peer: OK, with sane offset, jitter and stratum thresholds.
        const nagios = await runGuarded(
          [
            CHECK_NTP_PEER,
            ..."-H 127.0.0.1 -w 0.5 -c 1 -W 11 -C 14 -j 100 -k 200".split(" "),
          ],
          { netns: ns, timeoutMs: 30_000 },
        );
        assert.equal(nagios.code, 0, nagios.output);
        assert.match(nagios.output, /^NTP OK: Offset [-\d.e]+ secs/);
        // The system peer's stratum (the chronyd servers' local stratum 8) and its jitter.
        assert.match(nagios.output, / stratum=8;11;14;/);
        assert.match(nagios.output, / jitter=[\d.]+;100\.0+;200\.0+;/);

        // Writes: 127.0.0.5 is nomodify, so even the controlkey is refused there; 127.0.0.1
        // may modify with the controlkey only; 127.0.0.9 may not even query.
        const WRITEVAR = 3;
        const READVAR = 2;
        const refusedThere = await fromSource(ns, "127.0.0.5", WRITEVAR, "owner=me", true);
        assert.deepEqual([refusedThere.outcome, refusedThere.error], ["error", 1]);
        const unsigned = await fromSource(ns, "127.0.0.1", WRITEVAR, "owner=me", false);
        assert.deepEqual([unsigned.outcome, unsigned.error], ["error", 1]);
        const signed = await fromSource(ns, "127.0.0.1", WRITEVAR, "owner=me", true);
        assert.equal(signed.outcome, "complete", JSON.stringify(signed));
        // (NTPsec quotes every string it shows.)
        assert.equal(vars(await ntpq(ns, "rv 0 owner")).get("owner"), '"me"');
        const outsider = await fromSource(ns, "127.0.0.9", READVAR, "", false);
        assert.equal(outsider.outcome, "timeout");
        // NTPsec's ntpq signs :config with the controlkey (-k, -a) and Horae verifies its MAC
        // and applies the line (reload_test.ts covers run-time configuration in full). (NTPsec's
        // writevar sends nothing.)
        const w = await runGuarded([
          peers.path("ntpq"),
          "-k",
          `${keysDir}/ntp.keys`,
          "-a",
          String(KEY.id),
          "-c",
          ":config tos minsane 1",
          "127.0.0.1",
        ], { netns: ns, timeoutMs: 30_000 });
        assert.match(w.output, /Config Succeeded/, w.output);
        assert.doesNotMatch(w.output, /PERMISSION|BADOP/, w.output);
        const st: Json = JSON.parse(await Deno.readTextFile(statusPath));
        assert.ok(st.sysstats.drops.noquery >= 1, JSON.stringify(st.sysstats.drops));
      } finally {
        const st = await horae.proc.stop();
        const output = horae.proc.output;
        await horae.stop();
        await stopServers();
        await Deno.remove(keysDir, { recursive: true }).catch(() => {});
        assert.equal(st.code, 0, output.slice(-2000));
      }
    });
  },
);
