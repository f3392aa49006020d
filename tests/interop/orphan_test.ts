// Orphan mode (issue 16) on real sockets: three Horae hosts, each in its own network namespace
// joined to a hub namespace's bridge by a veth pair, are `peer`s of each other (with a key) and
// clients of a chronyd -x upstream in the hub. When the upstream stops they wait `orphanwait`,
// elect one orphan parent (the lowest address, serving at the orphan stratum with refid
// 127.0.0.1), the other two follow it at the stratum below; when the upstream returns all three
// follow it again. Horae runs --observe and chronyd -x, all without CAP_SYS_TIME.

import assert from "node:assert/strict";
import {
  needPeers,
  readJson,
  type RunningHorae,
  sh,
  startChronydServer,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import { type Json, NETNS } from "./_chronyd_servers.ts";
import { randomKeys, writeNtpKeys } from "./_auth_keys.ts";

const peers = await needPeers("orphan mode between three Horae hosts", {
  programs: ["chronyd"],
  root: NETNS,
});

const UPSTREAM = "192.0.2.10";
const HOSTS = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
const POLL = "minpoll 4 maxpoll 4";
const ORPHAN = 8;

/** A hub namespace with a bridge, and one namespace per host on a veth pair to it. */
async function withHub<T>(fn: (hub: string, hosts: string[]) => Promise<T>): Promise<T> {
  return await withNetns("orH", async (hub) => {
    await sh(["ip", "-n", hub, "link", "add", "br0", "type", "bridge"]);
    await sh(["ip", "-n", hub, "addr", "add", `${UPSTREAM}/24`, "dev", "br0"]);
    await sh(["ip", "-n", hub, "link", "set", "br0", "up"]);
    const nest = async (i: number, names: string[]): Promise<T> => {
      if (i === HOSTS.length) return await fn(hub, names);
      return await withNetns(`or${i}`, async (ns) => {
        const outer = `orv${i}a`;
        await sh([
          "ip",
          "link",
          "add",
          outer,
          "netns",
          hub,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          ns,
        ]);
        await sh(["ip", "-n", hub, "link", "set", outer, "master", "br0"]);
        await sh(["ip", "-n", hub, "link", "set", outer, "up"]);
        await sh(["ip", "-n", ns, "addr", "add", `${HOSTS[i]}/24`, "dev", "eth0"]);
        await sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
        return await nest(i + 1, [...names, ns]);
      });
    };
    return await nest(0, []);
  });
}

async function statusOf(h: RunningHorae): Promise<Json> {
  return await readJson(`${h.dir}/status.json`);
}

/** Waits until `pred` holds for every host's status; throws with the last documents. */
async function waitAll(
  hosts: RunningHorae[],
  pred: (s: Json, i: number) => boolean,
  ms: number,
  what: string,
): Promise<Json[]> {
  const end = Date.now() + ms;
  let last: Json[] = [];
  while (Date.now() < end) {
    last = await Promise.all(hosts.map(statusOf));
    if (last.every((s, i) => s !== null && pred(s, i))) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const brief = last.map((s, i) =>
    `${
      HOSTS[i]
    }: stratum ${s?.stratum} refid ${s?.refid} orphan ${s?.orphan} peer ${s?.systemPeer?.address} ` +
    JSON.stringify(
      s?.associations?.map((
        a: Json,
      ) => [a.address, a.reach, a.stratum, a.tally, a.rejected, a.sent, a.received, a.pollSec]),
    )
  );
  const logs = hosts.map((h, i) => `--- ${HOSTS[i]}\n${h.proc.output.slice(-1500)}`);
  const ps = await new Deno.Command("ps", {
    args: ["-o", "pid,ppid,pcpu,etime,cmd", "--ppid", hosts.map((h) => h.proc.child.pid).join(",")],
  }).output();
  logs.push(`now ${new Date().toISOString()}; status times ${last.map((s) => s?.time).join(" ")}`);
  logs.push(new TextDecoder().decode(ps.stdout));
  throw new Error(`timed out waiting for ${what}:\n${brief.join("\n")}\n${logs.join("\n")}`);
}

const upstreamConf = [`allow 192.0.2.0/24`];

Deno.test(
  "interop: three Horae hosts that lose their upstream elect one orphan parent and return to the upstream",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withHub(async (hub, nss) => {
      const dir = await tempDir("orphan-");
      const keys = randomKeys();
      await writeNtpKeys(`${dir}/ntp.keys`, keys);
      let upstream = await startChronydServer(chronyd, {
        port: 123,
        stratum: 2,
        bindAddress: UPSTREAM,
        netns: hub,
        extra: upstreamConf,
      });
      const hosts: RunningHorae[] = [];
      try {
        for (let i = 0; i < HOSTS.length; i++) {
          const others = HOSTS.filter((_, j) => j !== i);
          hosts.push(
            await startHorae({
              conf: [
                `server ${UPSTREAM} iburst ${POLL}`,
                ...others.map((o) => `peer ${o} key 2 ${POLL}`),
                `keys ${dir}/ntp.keys`,
                "trustedkey 2",
                `tos orphan ${ORPHAN} orphanwait 5`,
              ].join("\n") + "\n",
              port: 123,
              netns: nss[i]!,
              listen: ["0.0.0.0"],
              args: ["--status-file", "status.json"],
            }),
          );
        }
        await waitAll(
          hosts,
          (s) => s.stratum === 3 && s.systemPeer?.address === UPSTREAM && s.orphan === null,
          90_000,
          "all three on the upstream",
        );

        await upstream.stop();
        const orphaned = await waitAll(
          hosts,
          (s, i) =>
            i === 0
              ? s.orphan === "parent" && s.stratum === ORPHAN
              : s.orphan === "child" && s.stratum === ORPHAN + 1 &&
                s.systemPeer?.address === HOSTS[0],
          // The upstream is held over until its reach register empties (8 polls of 16 s),
          // then orphanwait (5 s), then the election.
          240_000,
          "one orphan parent",
        );
        assert.equal(orphaned[0].refid, "127.0.0.1");
        assert.equal(orphaned[0].synchronized, true, "the parent serves its time");
        assert.equal(orphaned[0].systemPeer, null);
        for (const s of orphaned.slice(1)) {
          assert.equal(s.refid, HOSTS[0]);
          const parent = s.associations.find((a: Json) => a.address === HOSTS[0]);
          assert.equal(parent.tally, "*");
          assert.equal(parent.type, "s");
          // One kernel clock under every namespace: the common time is the same time.
          assert.ok(Math.abs(parent.filterOffsetSec) < 0.01, JSON.stringify(parent));
        }

        upstream = await startChronydServer(chronyd, {
          port: 123,
          stratum: 2,
          bindAddress: UPSTREAM,
          netns: hub,
          extra: upstreamConf,
        });
        await waitAll(
          hosts,
          (s) => s.stratum === 3 && s.systemPeer?.address === UPSTREAM && s.orphan === null,
          120_000,
          "all three back on the upstream",
        );
      } finally {
        for (const h of hosts) await h.stop();
        await upstream.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });
  },
);
