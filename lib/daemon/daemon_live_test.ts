// The Daemon's live-change hooks (reload.ts calls them on SIGHUP and ntpq :config) on the real
// daemon code over a MemoryNetwork: sources removed and added, the restrict list replaced,
// statistics files reopened.

import assert from "node:assert/strict";
import { fromUnix } from "../proto/ntp_time.ts";
import { syncedDaemon, TEST_SERVERS } from "./_test_daemon.ts";
import type { MemoryNetwork } from "../net/memory_transport.ts";
import type { NetworkTimers } from "./_test_daemon.ts";

/** Sends one client request from 127.0.0.9 to the daemon; the number of replies. */
async function ask(network: MemoryNetwork, timers: NetworkTimers): Promise<number> {
  const client = network.open("127.0.0.9:40000");
  let replies = 0;
  const serving = client.serve(() => void replies++);
  const req = new Uint8Array(48);
  req[0] = 0x23;
  new DataView(req.buffer).setBigUint64(40, fromUnix(1_800_000_000));
  client.send(req, { family: 4, address: "127.0.0.1", port: 123 });
  await timers.run(1);
  client.close();
  await serving;
  return replies;
}

Deno.test("Daemon.removeSource() and addSource() demobilise and mobilise while running", async () => {
  const lines: string[] = [];
  const log = {
    debug() {},
    info: (m: string) => void lines.push(m),
    warn: (m: string) => void lines.push(m),
    error: (m: string) => void lines.push(m),
  };
  const { daemon, timers } = await syncedDaemon(60, {}, log);
  try {
    const addresses = () => daemon.status().sources.map((s) => s.address).sort();
    const associations = () =>
      (daemon.status().system?.associations ?? []).map((a) => a.address.address).sort();
    assert.deepEqual(associations(), TEST_SERVERS);
    const id = daemon.status().sources.find((s) => s.address === "127.0.0.4")!.ids[0]!;
    assert.deepEqual(daemon.sourceOfAssociation(id), { kind: "server", address: "127.0.0.4" });

    assert.equal(daemon.removeSource("server", "127.0.0.4", "removed (test)"), 1);
    assert.equal(daemon.removeSource("server", "127.0.0.4", "removed (test)"), 0);
    assert.deepEqual(addresses(), ["127.0.0.2", "127.0.0.3"]);
    assert.deepEqual(associations(), ["127.0.0.2", "127.0.0.3"]);
    assert.ok(lines.includes(`127.0.0.4 demobilize assoc ${id}: removed (test)`), lines.join("\n"));
    assert.equal(daemon.sourceOfAssociation(id), null);

    assert.equal(
      daemon.addSource({
        kind: "server",
        address: "127.0.0.4",
        family: "any",
        port: 123,
        options: { minpoll: 4, maxpoll: 4, iburst: true },
      }),
      true,
    );
    await timers.run(40);
    assert.deepEqual(addresses(), TEST_SERVERS);
    const back = daemon.status().system!.associations.find((a) =>
      a.address.address === "127.0.0.4"
    )!;
    assert.notEqual(back.id, id);
    assert.ok(back.received > 0, "the new association is answered");
    assert.equal(daemon.status().state.stratum, 3);
  } finally {
    await daemon.stop();
  }
});

Deno.test("Daemon.setRestrict() replaces the list the packet path applies", async () => {
  const { daemon, network, timers } = await syncedDaemon(20);
  try {
    assert.equal(await ask(network, timers), 1);
    await daemon.setRestrict([
      {
        match: "address",
        address: "127.0.0.9",
        mask: "255.255.255.255",
        family: "ipv4",
        flags: ["ignore"],
      },
    ]);
    assert.equal(await ask(network, timers), 0);
    assert.ok(
      daemon.status().sysstats.drops.ignored >= 1,
      JSON.stringify(daemon.status().sysstats.drops),
    );
    await daemon.setRestrict([]);
    assert.equal(await ask(network, timers), 1);
    // The servers are still answered and followed.
    await timers.run(20);
    assert.equal(daemon.status().state.stratum, 3);
  } finally {
    await daemon.stop();
  }
});

Deno.test("Daemon.reopenStats() closes the statistics files and opens them again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-live-stats-" });
  try {
    const stats = {
      statsDir: dir,
      enabled: ["peerstats" as const],
      filegens: [{
        name: "peerstats" as const,
        file: "peerstats",
        type: "none" as const,
        link: false,
      }],
    };
    const { daemon, timers } = await syncedDaemon(40, { stats });
    try {
      const first = await Deno.readTextFile(`${dir}/peerstats`);
      assert.ok(first.length > 0);
      // Rotation: the file is moved away; after reopening, lines go to a new file.
      await Deno.rename(`${dir}/peerstats`, `${dir}/peerstats.1`);
      daemon.reopenStats(stats);
      await timers.run(40);
      const second = await Deno.readTextFile(`${dir}/peerstats`);
      assert.ok(second.length > 0, "new lines in a new file");
      assert.equal(await Deno.readTextFile(`${dir}/peerstats.1`), first);
      // With no statistics, nothing more is written.
      daemon.reopenStats(null);
      const size = (await Deno.stat(`${dir}/peerstats`)).size;
      await timers.run(40);
      assert.equal((await Deno.stat(`${dir}/peerstats`)).size, size);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
