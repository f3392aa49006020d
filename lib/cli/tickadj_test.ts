// Tests for `horae tickadj` against a pretend kernel (_fake_kernel.ts).
// SAFETY: every test passes a FakeKernel; nothing here calls the real ntp_adjtime.

import assert from "node:assert/strict";
import { ADJ_TICK } from "../../ffi/timex.ts";
import { FakeKernel } from "./_fake_kernel.ts";
import type { CliIo } from "./check.ts";
import { runTickadj, type TickadjEnv, tickadjText, tickAdjUs } from "./tickadj.ts";

function env(
  kernel: FakeKernel,
  canSet: boolean,
): { env: TickadjEnv; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    readStdin: () => Promise.resolve(new Uint8Array()),
    writeFile: () => Promise.resolve(),
  };
  return { env: { io, kernel, canSetClock: () => canSet }, out: () => out, err: () => err };
}

Deno.test("runTickadj() prints the kernel's tick and the slew per tick", async () => {
  const k = new FakeKernel({ state: { tick: 10_003 } });
  const e = env(k, false);
  assert.equal(await runTickadj([], "tickadj", e.env), 0, e.err());
  assert.equal(e.out(), "tick = 10003\ntick_adj = 5\n");
  assert.deepEqual(k.writes, []);
  const q = env(k, false);
  assert.equal(await runTickadj(["-q"], "tickadj", q.env), 0);
  assert.equal(q.out(), "");
  const j = env(k, false);
  assert.equal(await runTickadj(["--json"], "tickadj", j.env), 0);
  assert.deepEqual(JSON.parse(j.out()), {
    tickUs: 10003,
    tickAdjUs: 5,
    slewRatePpm: 500,
    userHz: 100,
    changed: false,
  });
});

Deno.test("runTickadj() sets the tick (lone number or -t) only with CAP_SYS_TIME", async () => {
  for (const args of [["10010"], ["-t", "10010"]]) {
    const refused = new FakeKernel({ permitted: true });
    const r = env(refused, false);
    assert.equal(await runTickadj(args, "tickadj", r.env), 77);
    assert.match(r.err(), /^tickadj: setting the tick needs CAP_SYS_TIME .*nothing was changed\n$/);
    assert.deepEqual(refused.calls, []);
    assert.equal(refused.state.tick, 10_000);

    const k = new FakeKernel({ permitted: true });
    const e = env(k, true);
    assert.equal(await runTickadj(args, "tickadj", e.env), 0, e.err());
    assert.deepEqual(k.writes, [ADJ_TICK]);
    assert.equal(k.state.tick, 10_010);
    assert.equal(e.out(), "tick = 10010\ntick_adj = 5\n");
  }
  const eperm = new FakeKernel({ permitted: false });
  const p = env(eperm, true);
  assert.equal(await runTickadj(["10010"], "tickadj", p.env), 77);
  assert.match(p.err(), /adjtimex refused to set the tick: EPERM/);
  assert.equal(eperm.state.tick, 10_000);
});

Deno.test("runTickadj() refuses what Linux cannot do and values out of range", async () => {
  const cases: [string[], number, RegExp][] = [
    [["-a", "5"], 1, /slews at a fixed 500 us\/s on Linux/],
    [["-A"], 1, /cannot be set/],
    [["-s"], 1, /dosynctodr is a SunOS kernel variable/],
    [["20000"], 2, /tick "20000" is not 9000 \.\. 11000 us/],
    [["-t", "abc"], 2, /tick "abc" is not/],
    [["1", "2"], 2, /at most one tick value/],
    [["-t", "10000", "10000"], 2, /either with -t or alone/],
  ];
  for (const [args, code, msg] of cases) {
    const k = new FakeKernel({ permitted: true });
    const e = env(k, true);
    assert.equal(await runTickadj(args, "tickadj", e.env), code, args.join(" "));
    assert.match(e.err(), msg);
    assert.deepEqual(k.calls, []);
  }
});

Deno.test("tickAdjUs() is 500 ppm of the tick", () => {
  assert.equal(tickAdjUs(10_000), 5);
  assert.equal(tickAdjUs(9_000), 5);
  assert.equal(tickAdjUs(11_000), 6);
  assert.equal(tickadjText(10_000), "tick = 10000\ntick_adj = 5\n");
});
