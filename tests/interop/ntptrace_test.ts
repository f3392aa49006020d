// Interop: Horae as `ntptrace` (through the multi-call link) follows a chain of three Horae
// daemons in a network namespace, each its own host on its own address and port 123: a stratum
// 1 server on the LOCAL clock (127.0.0.2), a stratum 2 client of it (127.0.0.3) and a stratum 3
// client of that (127.0.0.4). Their restrict lines allow mode 6 reads (nomodify only). It prints
// the chain as NTPsec's ntptrace does for the same daemons; a daemon with noquery ends the
// trace with a clear line. Every daemon runs --observe without CAP_SYS_TIME.

import assert from "node:assert/strict";
import {
  needPeers,
  type RunningHorae,
  startHorae,
  waitForJson,
  withNetns,
} from "../support/peers.ts";
import { runClassic, runPeer } from "./_classic.ts";

const peers = await needPeers("horae ntptrace through three Horae daemons", {
  programs: ["ntptrace", "ntpq"],
  root: "a network namespace (port 123)",
});

const ALLOW = "restrict default nomodify\n";
/** Poll fast: each level waits for the one above to be synchronised. */
const POLL = "iburst minpoll 4 maxpoll 4";

function daemon(ns: string, address: string, conf: string): Promise<RunningHorae> {
  return startHorae({
    conf,
    port: 123,
    listen: [address],
    netns: ns,
    args: ["--observe", "--status-file", "status.json"],
  });
}

/** The hosts and strata of ntptrace's lines (offsets and distances move between two runs). */
function chain(out: string): string[] {
  return out.trimEnd().split("\n").map((l) =>
    l.replace(/offset -?\d+\.\d+, synch distance \d+\.\d+/, "offset _, synch distance _")
  );
}

Deno.test(
  "interop: horae as ntptrace follows stratum 3 → 2 → 1 (LOCAL), as NTPsec's ntptrace does",
  { ignore: peers.ignore },
  async () => {
    await withNetns("htr", async (ns) => {
      const started: RunningHorae[] = [];
      try {
        started.push(
          await daemon(
            ns,
            "127.0.0.2",
            `server 127.127.1.0\nfudge 127.127.1.0 stratum 0\n${ALLOW}`,
          ),
        );
        started.push(await daemon(ns, "127.0.0.3", `server 127.0.0.2 ${POLL}\n${ALLOW}`));
        started.push(await daemon(ns, "127.0.0.4", `server 127.0.0.3 ${POLL}\n${ALLOW}`));
        // A fourth that refuses queries.
        started.push(
          await daemon(ns, "127.0.0.5", `server 127.0.0.2 ${POLL}\nrestrict default noquery\n`),
        );
        const bottom = started[2]!;
        await waitForJson<{ stratum: number }>(
          `${bottom.dir}/status.json`,
          (s) => s.stratum === 3,
          90_000,
          bottom.proc,
        );

        const ours = await runClassic("ntptrace", ["-n", "127.0.0.4"], { netns: ns });
        assert.equal(ours.code, 0, ours.stdout + ours.stderr);
        const lines = ours.stdout.trimEnd().split("\n");
        assert.equal(lines.length, 3, ours.stdout);
        assert.match(
          lines[0]!,
          /^127\.0\.0\.4: stratum 3, offset -?\d+\.\d{6}, synch distance \d+\.\d{6}$/,
        );
        assert.match(
          lines[1]!,
          /^127\.0\.0\.3: stratum 2, offset -?\d+\.\d{6}, synch distance \d+\.\d{6}$/,
        );
        assert.match(
          lines[2]!,
          /^127\.0\.0\.2: stratum 1, offset -?\d+\.\d{6}, synch distance \d+\.\d{6}, refid 'LOCL'$/,
        );
        assert.equal(ours.stderr, "");

        // NTPsec's ntptrace (which runs NTPsec's ntpq) prints the same chain.
        const ntpqDir = peers.path("ntpq").replace(/\/[^/]+$/, "");
        const theirs = await runPeer([peers.path("ntptrace"), "-n", "127.0.0.4"], {
          netns: ns,
          env: { PATH: `${ntpqDir}:/usr/bin:/bin` },
        });
        assert.equal(theirs.code, 0, theirs.stdout);
        assert.deepEqual(
          chain(ours.stdout),
          chain(theirs.stdout),
          `ours:\n${ours.stdout}\ntheirs:\n${theirs.stdout}`,
        );

        // --json, and -m bounds the hops.
        const j = await runClassic("ntptrace", ["-n", "--json", "127.0.0.4"], { netns: ns });
        const doc = JSON.parse(j.stdout);
        assert.deepEqual(doc.hops.map((h: { stratum: number }) => h.stratum), [3, 2, 1]);
        assert.equal(doc.end, "primary");
        const one = await runClassic("ntptrace", ["-n", "-m", "1", "127.0.0.4"], { netns: ns });
        assert.equal(one.stdout.trimEnd().split("\n").length, 1);

        // noquery: nothing comes back, and the trace says so.
        const refused = await runClassic("ntptrace", ["-n", "-t", "0.5", "127.0.0.5"], {
          netns: ns,
        });
        assert.equal(refused.code, 1);
        assert.equal(refused.stdout, "");
        assert.equal(refused.stderr, "127.0.0.5: timed out, nothing received\n");
      } finally {
        await Promise.all(started.map((s) => s.stop()));
      }
    });
  },
);
