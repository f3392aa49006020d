// `horae sim --statsdir`: the simulator writes ntpd's statistics files through the same writer
// as the daemon, stamped with the simulated local clock, rotating at its midnight.

import assert from "node:assert/strict";
import { runSim } from "./sim.ts";

const MJD_OF = (isoDay: string) => Date.parse(`${isoDay}T00:00:00Z`) / 86_400_000 + 40_587;

Deno.test("horae sim --statsdir writes loopstats, peerstats, rawstats and protostats, rotating at midnight", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-simstats-" });
  try {
    const out: string[] = [];
    const err: string[] = [];
    // The run starts at 2023-11-14 22:13:20 (true time) and lasts past midnight.
    const code = await runSim(
      ["--scenario", "falseticker3", "--duration", "7200", "--statsdir", dir],
      (l) => out.push(l),
      (l) => err.push(l),
    );
    assert.equal(code, 0, err.join("\n"));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    for (const stat of ["loopstats", "peerstats", "rawstats"]) {
      assert.ok(names.includes(`${stat}.20231114`), names.join(" "));
      assert.ok(names.includes(`${stat}.20231115`), names.join(" "));
      assert.ok(names.includes(stat), `${stat}: the link to the current member`);
    }
    // Events happen while the clock settles, before midnight.
    assert.ok(names.includes("protostats.20231114"), names.join(" "));
    const fields: Record<string, number> = { loopstats: 7, peerstats: 8, rawstats: 17 };
    for (const [day, iso] of [["20231114", "2023-11-14"], ["20231115", "2023-11-15"]] as const) {
      for (const [stat, n] of Object.entries(fields)) {
        const lines = Deno.readTextFileSync(`${dir}/${stat}.${day}`).trimEnd().split("\n");
        assert.ok(lines.length > 0, `${stat}.${day}`);
        for (const line of lines) {
          const f = line.split(" ");
          assert.equal(f.length, n, line);
          assert.equal(Number(f[0]), MJD_OF(iso), line); // the member of the line's own day
          assert.ok(Number(f[1]) >= 0 && Number(f[1]) <= 86_400, line);
        }
      }
    }
    const peers = Deno.readTextFileSync(`${dir}/peerstats.20231115`);
    assert.match(peers, /^\d+ [\d.]+ 192\.0\.2\.[123] [0-9a-f]{4} -?\d+\.\d{9} /m);
    const proto = Deno.readTextFileSync(`${dir}/protostats.20231114`);
    assert.match(proto, / 192\.0\.2\.\d [0-9a-f]{4} 84 reachable$/m);
    assert.match(proto, / 0\.0\.0\.0 [0-9a-f]{4} 05 clock_sync$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("horae sim --statistics picks the files and refuses unknown names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-simstats-" });
  try {
    const err: string[] = [];
    assert.equal(
      await runSim(
        [
          "--scenario",
          "default",
          "--duration",
          "600",
          "--statsdir",
          dir,
          "--statistics",
          "loopstats",
        ],
        () => {},
        (l) => err.push(l),
      ),
      0,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "loopstats",
      "loopstats.20231114",
    ]);
    assert.equal(
      await runSim(
        ["--scenario", "default", "--statsdir", dir, "--statistics", "loopstat"],
        () => {},
        (l) => err.push(l),
      ),
      2,
    );
    assert.match(err.at(-1)!, /unknown statistics "loopstat"/);
    assert.equal(
      await runSim(
        ["--scenario", "default", "--statistics", "loopstats"],
        () => {},
        (l) => err.push(l),
      ),
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
