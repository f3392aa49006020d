// Horae as an NTS client (RFC 8915) of chronyd 4.3's NTS server, inside a network namespace:
// chronyd -x serves NTP on 127.0.0.2 port 123 and NTS-KE on port 4460 with a certificate from a
// test CA made by the openssl CLI; Horae (observe mode, no CAP_SYS_TIME) runs NTS-KE, polls with
// cookies, synchronises, and shows NTS in the status file and in `horae query`; when chronyd
// restarts with new keys, its NAK sends Horae back to NTS-KE. A server whose certificate has
// expired is refused, and the failure counted.

import assert from "node:assert/strict";
import {
  horaeCommand,
  needPeers,
  Proc,
  startChronydServer,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import { makeTestPki, type TestPki } from "../support/nts_pki.ts";
import { type Json, NETNS, startObservingHorae, waitStatus } from "./_chronyd_servers.ts";

const peers = await needPeers("horae as an NTS client of chronyd", {
  programs: ["chronyd", "openssl"],
  root: NETNS,
});

/** chronyd -x as an NTS server on `address` (NTP 123, NTS-KE 4460) in `ns`. */
function startNtsChronyd(ns: string, address: string, pki: TestPki, dir: string, expired = false) {
  return startChronydServer(peers.path("chronyd"), {
    port: 123,
    bindAddress: address,
    netns: ns,
    stratum: 3,
    extra: [
      "ntsport 4460",
      `ntsserverkey ${expired ? pki.expiredKey : pki.key}`,
      `ntsservercert ${expired ? pki.expiredCert : pki.cert}`,
      `ntsdumpdir ${dir}`,
      "ntsprocesses 0",
    ],
  });
}

/** `horae query -c <cmd> 127.0.0.1` in `ns`: its output. */
async function query(ns: string, cmd: string): Promise<string> {
  const p = new Proc([
    "ip",
    "netns",
    "exec",
    ns,
    ...await horaeCommand(),
    "query",
    "-c",
    cmd,
    "127.0.0.1",
  ]);
  await p.wait(20_000);
  return p.output;
}

Deno.test(
  "interop: Horae synchronises to chronyd over NTS (cookies, NTS in the status file and query)",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-cli-");
    try {
      const pki = await makeTestPki(dir);
      await withNetns("ntsc", async (ns) => {
        let chrony = await startNtsChronyd(ns, "127.0.0.2", pki, dir);
        const horae = await startObservingHorae(
          ns,
          `server 127.0.0.2 nts iburst minpoll 4 maxpoll 4\nnts ca ${pki.ca}\n`,
        );
        try {
          const status = `${horae.dir}/status.json`;
          const s: Json = await waitStatus(
            status,
            (x) =>
              x.synchronized && x.associations?.[0]?.nts?.cookies > 0 &&
              x.associations[0].received >= 4,
            60_000,
            horae.proc,
          );
          const a = s.associations[0];
          assert.equal(a.address, "127.0.0.2");
          assert.equal(a.tally, "*");
          assert.equal(s.stratum, 4, "chronyd's stratum 3 + 1");
          assert.equal(a.nts.aeadId, 15);
          assert.ok(a.nts.keCount >= 1, JSON.stringify(a.nts));
          assert.equal(a.nts.keFailures, 0);
          assert.equal(a.nts.authFailures, 0);
          // Each reply gave a fresh cookie back: the supply stays full.
          assert.ok(a.nts.cookies >= 7, `cookies ${a.nts.cookies}`);
          assert.equal(typeof a.nts.lastKe, "string");
          assert.ok(Math.abs(a.offsetSec) < 5e-3, `offset ${a.offsetSec}`);
          assert.equal(s.nts.client.successes >= 1, true, JSON.stringify(s.nts));
          assert.match(horae.proc.output, /NTS-KE 127\.0\.0\.2:4460: 8 cookies, AEAD 15/);
          // chronyd saw NTS requests from us: its NTS-KE server served one, its log says nothing
          // of failures.
          const rv = await query(ns, `rv ${a.id}`);
          assert.match(rv, /nts=1/, rv);
          assert.match(rv, /ntscookies=\d+/, rv);
          assert.match(rv, /ntske=\d+/, rv);
          const pe = await query(ns, "peers");
          assert.match(pe, /\*127\.0\.0\.2\s/, pe);

          // chronyd restarts with new cookie keys: our cookies no longer open, it answers with
          // an NTS NAK, and Horae runs NTS-KE again and goes on with fresh cookies.
          await chrony.stop();
          await Deno.remove(`${dir}/ntskeys`).catch(() => {});
          chrony = await startNtsChronyd(ns, "127.0.0.2", pki, dir);
          const received = a.received as number;
          const again: Json = await waitStatus(
            status,
            (x) => {
              const n = x.associations?.[0];
              return n?.nts?.naks >= 1 && n.nts.keCount >= 2 && n.received > received + 1 &&
                n.nts.cookies > 0;
            },
            90_000,
            horae.proc,
          );
          assert.equal(again.associations[0].nts.authFailures, 0);
          assert.match(horae.proc.output, /NTS-KE 127\.0\.0\.2:4460: 8 cookies/);
        } finally {
          const st = await horae.proc.stop();
          await horae.stop();
          await chrony.stop();
          assert.equal(st.code, 0, horae.proc.output.slice(-2000));
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "interop: Horae refuses chronyd's expired NTS certificate and sends no NTP to it, counted",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-exp-");
    try {
      const pki = await makeTestPki(dir);
      await withNetns("ntse", async (ns) => {
        const chrony = await startNtsChronyd(ns, "127.0.0.2", pki, dir, true);
        const horae = await startObservingHorae(
          ns,
          `server 127.0.0.2 nts iburst minpoll 4 maxpoll 4\nnts ca ${pki.ca}\n`,
        );
        try {
          const status = `${horae.dir}/status.json`;
          const s: Json = await waitStatus(
            status,
            (x) => (x.nts?.client?.failures?.certificate ?? 0) >= 1,
            30_000,
            horae.proc,
          );
          const a = s.associations[0];
          assert.equal(a.nts.cookies, 0);
          assert.ok(a.nts.keFailures >= 1);
          assert.equal(a.received, 0, "no reply can be used without keys");
          assert.equal(s.synchronized, false);
          assert.match(horae.proc.output, /certificate has expired/);
        } finally {
          await horae.proc.stop();
          await horae.stop();
          await chrony.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
