// `pool NAME nts` through a real DNS server: dnsmasq in a network namespace gives
// nts.pool.test two addresses, each a chronyd 4.3 NTS server (-x) whose certificate names
// nts.pool.test; Horae (observe mode, no CAP_SYS_TIME) mobilises both members, runs NTS-KE with
// the pool's name (SNI and the certificate's DNS name), and polls each with its own cookies.

import assert from "node:assert/strict";
import {
  needPeers,
  startChronydServer,
  startDnsmasq,
  startHorae,
  tempDir,
  waitForJson,
  withNetns,
} from "../support/peers.ts";
import { makeTestPki } from "../support/nts_pki.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const peers = await needPeers("horae pool nts through dnsmasq", {
  programs: ["chronyd", "dnsmasq", "openssl"],
  root: "a network namespace and port 53",
});

const NAME = "nts.pool.test";
const MEMBERS = ["127.0.0.2", "127.0.0.3"];

Deno.test(
  "interop: pool NAME nts: both members by DNS, NTS-KE with the pool's name, cookies each",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-pool-");
    try {
      const pki = await makeTestPki(dir, [NAME]);
      await withNetns("ntsp", async (ns) => {
        const dns = await startDnsmasq(peers.path("dnsmasq"), {
          netns: ns,
          records: { [NAME]: MEMBERS },
        });
        const servers: { stop(): Promise<void> }[] = [];
        try {
          for (const a of MEMBERS) {
            servers.push(
              await startChronydServer(peers.path("chronyd"), {
                port: 123,
                bindAddress: a,
                netns: ns,
                stratum: 3,
                extra: [
                  "ntsport 4460",
                  `ntsserverkey ${pki.key}`,
                  `ntsservercert ${pki.cert}`,
                  "ntsprocesses 0",
                ],
              }),
            );
          }
          const horae = await startHorae({
            conf: `pool ${NAME} nts iburst minpoll 4 maxpoll 4\nnts ca ${pki.ca}\n`,
            port: 123,
            netns: ns,
            args: ["--observe", "--status-file", "status.json"],
          });
          try {
            const s: Json = await waitForJson(
              `${horae.dir}/status.json`,
              (x: Json) =>
                x.synchronized && x.associations?.length === 2 &&
                x.associations.every((a: Json) => a.nts?.cookies > 0 && a.received >= 2),
              60_000,
              horae.proc,
            );
            assert.deepEqual(s.associations.map((a: Json) => a.address).sort(), MEMBERS);
            for (const a of s.associations) {
              assert.equal(a.name, NAME);
              assert.equal(a.type, "p");
              assert.ok(a.nts.keCount >= 1 && a.nts.keFailures === 0, JSON.stringify(a.nts));
            }
            assert.equal(s.nts.client.successes, 2);
            for (const a of MEMBERS) {
              assert.match(
                horae.proc.output,
                new RegExp(
                  `NTS-KE ${NAME}:4460: 8 cookies.*NTP ${a.replaceAll(".", "\\.")} port 123`,
                ),
              );
            }
          } finally {
            await horae.stop();
          }
        } finally {
          await Promise.all(servers.map((x) => x.stop()));
          await dns.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
