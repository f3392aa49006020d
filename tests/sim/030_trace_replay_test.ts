// Simulator scenario "trace" (issue 18): the path replays a delay trace ("UP DOWN" seconds a
// line). The trace here is written by the test: a one-sided queue with occasional losses.

import assert from "node:assert/strict";
import { runScenario } from "../../lib/sim/runner.ts";
import { findScenario } from "../../lib/sim/scenarios.ts";
import { parseDelayTrace } from "../../lib/sim/network.ts";
import { runSim } from "../../lib/cli/sim.ts";

function traceText(): string {
  const lines = ["# up down (s): 2 ms base, a queue on the way up, a loss every 50th"];
  let x = 12345;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  for (let i = 0; i < 500; i++) {
    const up = 2e-3 + 300e-6 * -Math.log(1 - rnd());
    const down = 2e-3 + 20e-6 * rnd();
    lines.push(i % 50 === 49 ? `${up.toFixed(6)} -` : `${up.toFixed(6)} ${down.toFixed(6)}`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("sim trace: a replayed one-sided trace keeps the clock within 100 µs (median RMS)", () => {
  const trace = parseDelayTrace(traceText());
  const sc = findScenario("trace")!;
  const rms = [1, 2, 3].map((seed) => runScenario(sc, { seed, trace }).metrics.rms_offset_s);
  rms.sort((a, b) => a - b);
  assert.ok(rms[1]! < 100e-6, `median RMS ${rms[1]! * 1e6} µs`);
});

Deno.test("sim trace: runScenario() refuses the trace scenario without a trace", () => {
  assert.throws(() => runScenario(findScenario("trace")!, { seed: 1 }), /delay trace/);
});

Deno.test("horae sim --trace reads the file and reports a bad line with its number", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = `${dir}/good.txt`;
    await Deno.writeTextFile(good, traceText());
    const out: string[] = [];
    const code = await runSim(
      ["--scenario", "trace", "--trace", good, "--duration", "3000", "--json"],
      (l) => out.push(l),
      () => {},
    );
    assert.equal(code, 0);
    assert.equal(JSON.parse(out[0]!).scenario, "trace");
    const bad = `${dir}/bad.txt`;
    await Deno.writeTextFile(bad, "0.001 0.001\n0.001 x\n");
    const err: string[] = [];
    assert.equal(
      await runSim(["--scenario", "trace", "--trace", bad], () => {}, (l) => err.push(l)),
      78,
    );
    assert.match(err.join("\n"), /bad\.txt:2: "x" is not a delay/);
    assert.equal(await runSim(["--scenario", "trace"], () => {}, (l) => err.push(l)), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
