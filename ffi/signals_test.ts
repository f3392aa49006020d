import assert from "node:assert/strict";
import { encodeSigset, ignoreSignal, Signal } from "./signals.ts";

Deno.test("ignoreSignal() makes SIGUSR2 harmless and reports an earlier handler", () => {
  // SIGUSR2's default action would terminate the test process.
  ignoreSignal(Signal.SIGUSR2);
  Deno.kill(Deno.pid, "SIGUSR2");
  assert.equal(ignoreSignal(Signal.SIGUSR2), false); // already ignored, nothing else installed
});

Deno.test("encodeSigset() sets bit signo-1 of a 128-byte sigset_t", () => {
  const set = encodeSigset([Signal.SIGUSR1, Signal.SIGUSR2, Signal.SIGHUP]);
  assert.equal(set.length, 128);
  // SIGHUP bit 0, SIGUSR1 bit 9, SIGUSR2 bit 11
  assert.deepEqual([...set.subarray(0, 3)], [0b0000_0001, 0b0000_1010, 0]);
  assert.ok(set.subarray(2).every((b) => b === 0));
});

// The restart and the signalfd reader run in a child: the restart replaces the process image.
const CHILD = `
import { ensureGuardedSignalsBlocked, threadStatus } from ${
  JSON.stringify(new URL("./process_image.ts", import.meta.url).href)
};
import { SignalReader, Signal } from ${
  JSON.stringify(new URL("./signals.ts", import.meta.url).href)
};
ensureGuardedSignalsBlocked();
const seen = [];
const reader = new SignalReader([Signal.SIGUSR1, Signal.SIGUSR2], (s) => seen.push(s));
await new Promise((r) => setTimeout(r, 700)); // past Deno's 500 ms inspector arming
Deno.kill(Deno.pid, "SIGUSR1");
Deno.kill(Deno.pid, "SIGUSR2");
const deadline = Date.now() + 3000;
while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
await reader.close();
const masks = [...Deno.readDirSync("/proc/self/task")].map((e) =>
  /SigBlk:\\s*(\\w+)/.exec(Deno.readTextFileSync("/proc/self/task/" + e.name + "/status"))[1]
);
console.log(JSON.stringify({ seen: seen.sort(), masks, nnp: /NoNewPrivs:\\s*(\\d)/.exec(threadStatus())[1] }));
`;

Deno.test("ensureGuardedSignalsBlocked() restarts with SIGUSR1/2 blocked in every thread; SignalReader gets them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-sig-" });
  try {
    await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/child.ts`],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success && text !== "", new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text);
    assert.deepEqual(r.seen, [Signal.SIGUSR1, Signal.SIGUSR2]);
    assert.ok(r.masks.length >= 3, `only ${r.masks.length} threads`);
    for (const m of r.masks) assert.equal(BigInt(`0x${m}`) & 0xa00n, 0xa00n, `SigBlk ${m}`);
    assert.equal(r.nnp, "1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
