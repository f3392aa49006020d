import assert from "node:assert/strict";
import { emptyConfig } from "../config/config_model.ts";
import { syncedDaemon, TEST_SERVERS } from "./_test_daemon.ts";
import { statsSettingsFromConfig } from "./stats_host.ts";

Deno.test("statsSettingsFromConfig() writes nothing without statistics or with disable stats", () => {
  const c = emptyConfig();
  assert.equal(statsSettingsFromConfig(c), null);
  c.stats.enabled = ["loopstats", "peerstats"];
  c.stats.statsDir = "/var/log/ntpstats/";
  c.stats.filegens = [{ name: "peerstats", file: "peers", type: "week", link: false }];
  assert.deepEqual(statsSettingsFromConfig(c), {
    statsDir: "/var/log/ntpstats/",
    enabled: ["loopstats", "peerstats"],
    filegens: [{ name: "peerstats", file: "peers", type: "week", link: false }],
  });
  c.system.stats = false;
  assert.equal(statsSettingsFromConfig(c), null);
});

Deno.test("Daemon writes loopstats, peerstats, rawstats, protostats and hourly sysstats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-daemon-stats-" });
  try {
    const { daemon } = await syncedDaemon(3700, {
      stats: {
        statsDir: dir,
        enabled: ["loopstats", "peerstats", "rawstats", "protostats", "sysstats"],
        filegens: [],
      },
    });
    const st = daemon.status();
    await daemon.stop();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    const read = (stat: string) => {
      const member = names.find((n) => n.startsWith(`${stat}.`));
      assert.ok(member !== undefined, `${stat}: ${names.join(" ")}`);
      assert.match(member, /^\w+\.\d{8}$/); // daily sets by default
      assert.ok(names.includes(stat), `${stat}: the bare link`);
      return Deno.readTextFileSync(`${dir}/${member}`).trimEnd().split("\n");
    };
    const loop = read("loopstats");
    assert.equal(loop.length, st.system!.counters.clockUpdates);
    for (const l of loop) {
      assert.match(l, /^\d{5} \d+\.\d{3} -?\d+\.\d{9} -?\d+\.\d{3} \d+\.\d{9} \d+\.\d{6} \d+$/);
    }
    const peers = read("peerstats");
    for (const a of TEST_SERVERS) assert.ok(peers.some((l) => l.split(" ")[2] === a), a);
    // The system peer's lines carry selection code 6 (status 96xx once it is chosen).
    assert.ok(peers.some((l) => /^\S+ \S+ \S+ 96[0-9a-f]{2} /.test(l)), peers.slice(-3).join("\n"));
    const raw = read("rawstats");
    assert.equal(raw.length, peers.length, "one rawstats line per sample");
    assert.ok(raw.every((l) => l.split(" ").length === 17 && l.split(" ")[3] === "0.0.0.0"));
    const proto = read("protostats").join("\n");
    for (const a of TEST_SERVERS) {
      assert.match(
        proto,
        new RegExp(` ${a.replaceAll(".", "\\.")} [0-9a-f]{4} 84 reachable$`, "m"),
      );
    }
    assert.match(proto, / 0\.0\.0\.0 [0-9a-f]{4} 05 clock_sync$/m);
    const sys = read("sysstats");
    assert.equal(sys.length, 1);
    const f = sys[0]!.split(" ").map(Number);
    assert.equal(f.length, 13);
    assert.ok(f[2]! >= 3599 && f[2]! <= 3601, `time since reset ${f[2]}`);
    assert.ok(f[3]! > 100, `received ${f[3]}`); // the servers' replies
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
