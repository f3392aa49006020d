import assert from "node:assert/strict";
import { runSim } from "./sim.ts";

const REQUIRED = [
  "scenario",
  "seed",
  "rms_offset_s",
  "p99_offset_s",
  "max_offset_s",
  "max_offset_whole_run_s",
  "mean_offset_s",
  "rms_freq_error",
  "t1ms_s",
  "tx_per_1000s",
];

Deno.test("runSim() --json prints one object with the fields issue 3 asks for", async () => {
  const lines: string[] = [];
  const code = await runSim(
    ["--scenario", "lan", "--seed", "3", "--json", "--duration", "2000"],
    (l) => lines.push(l),
  );
  assert.equal(code, 0);
  assert.equal(lines.length, 1);
  const j = JSON.parse(lines[0]!);
  for (const k of REQUIRED) assert.ok(k in j, k);
  assert.equal(j.scenario, "lan");
  assert.equal(j.seed, 3);
  assert.equal(typeof j.rms_offset_s, "number");
  assert.ok(j.t1ms_s === null || typeof j.t1ms_s === "number");
});

Deno.test("runSim() writes the per-second log and the SVG plot", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out: string[] = [];
    const code = await runSim([
      "--scenario",
      "default",
      "--duration",
      "600",
      "--log",
      `${dir}/x.log`,
      "--svg",
      `${dir}/x.svg`,
    ], (l) => out.push(l));
    assert.equal(code, 0);
    assert.equal(out.length, 2, "header and one row");
    const log = (await Deno.readTextFile(`${dir}/x.log`)).split("\n");
    assert.ok(log[0]!.startsWith("# t_s offset_s"));
    assert.equal(log.filter((l) => /^\d+ /.test(l)).length, 601);
    assert.ok(log.some((l) => l.includes("synchronized to 192.0.2.1")));
    assert.ok((await Deno.readTextFile(`${dir}/x.svg`)).includes("<path"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSim() summarises several seeds and rejects bad usage with exit code 2", async () => {
  const out: string[] = [];
  assert.equal(
    await runSim(["--scenario", "lan", "--seeds", "1-3", "--duration", "1500"], (l) => out.push(l)),
    0,
  );
  assert.equal(out.length, 2);
  assert.ok(out[1]!.startsWith("lan"));
  const quiet = () => {};
  const errors: string[] = [];
  const err = (l: string) => errors.push(l);
  assert.equal(await runSim([], quiet, err), 2);
  assert.equal(await runSim(["--scenario", "nosuch"], quiet, err), 2);
  assert.equal(await runSim(["--scenario", "lan", "--seeds", "3-1"], quiet, err), 2);
  assert.equal(await runSim(["--bogus"], quiet, err), 2);
  assert.equal(errors.length, 4);
  assert.ok(errors[1]!.includes('unknown scenario "nosuch"'));
  const list: string[] = [];
  assert.equal(await runSim(["--list"], (l) => list.push(l)), 0);
  assert.ok(list.length >= 17);
});

Deno.test("runSim() --discipline ntpd runs ntpd's PLL/FLL instead of the default", async () => {
  const run = async (extra: string[]) => {
    const lines: string[] = [];
    const code = await runSim(
      ["--scenario", "default", "--seed", "2", "--json", "--duration", "3000", ...extra],
      (l) => lines.push(l),
    );
    assert.equal(code, 0);
    return JSON.parse(lines[0]!);
  };
  const horae = await run([]);
  const ntpd = await run(["--discipline", "ntpd"]);
  // ntpd's loop slews a 0.1 s initial offset away slowly: still far off after 3000 s, where
  // the default discipline is within a millisecond.
  assert.ok(horae.rms_offset_s < 1e-3, String(horae.rms_offset_s));
  assert.ok(
    ntpd.rms_offset_s > 10 * horae.rms_offset_s,
    `${ntpd.rms_offset_s} vs ${horae.rms_offset_s}`,
  );
  assert.equal(await runSim(["--scenario", "default", "--discipline", "x"], () => {}, () => {}), 2);
});

Deno.test("runSim() --wander runs each scenario at each wander, named scenario@w=W", async () => {
  const lines: string[] = [];
  const code = await runSim(
    [
      "--scenario",
      "lan",
      "--seeds",
      "1-2",
      "--wander",
      "1e-10,1e-7",
      "--duration",
      "2000",
      "--json",
    ],
    (l) => lines.push(l),
  );
  assert.equal(code, 0);
  const rows = lines.map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.scenario), ["lan@w=1e-10", "lan@w=1e-7"]);
  // A clock wandering a thousand times faster is tracked with more packets and more error.
  assert.ok(rows[1].median_tx_per_1000s >= rows[0].median_tx_per_1000s);
  const err: string[] = [];
  assert.equal(
    await runSim(["--scenario", "lan", "--wander", "abc"], () => {}, (l) => err.push(l)),
    2,
  );
  assert.match(err.join("\n"), /--wander wants a list of wanders/);
});

Deno.test("runSim() --list shows the scenarios outside the clknetsim model; 'all' skips the trace one without --trace", async () => {
  const lines: string[] = [];
  assert.equal(await runSim(["--list"], (l) => lines.push(l)), 0);
  const names = lines.map((l) => l.split(/\s+/)[0]);
  for (const n of ["onesided", "pareto", "congestion", "routechange", "serverstep", "trace"]) {
    assert.ok(names.includes(n), n);
  }
  const out: string[] = [];
  assert.equal(
    await runSim(["--scenario", "all", "--duration", "300", "--json"], (l) => out.push(l)),
    0,
  );
  const ran = out.map((l) => JSON.parse(l).scenario);
  assert.ok(ran.includes("lossburst") && !ran.includes("trace"));
});
