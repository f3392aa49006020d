import assert from "node:assert/strict";
import type { Clock } from "../clock/clock.ts";
import { fromUnix } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import type { Resolver } from "./resolver.ts";
import { SourceManager, type SourceSetting } from "./source_manager.ts";
import { Timekeeper } from "./timekeeper.ts";
import type { Timers } from "./timers.ts";

const clock: Clock = {
  name: "fake",
  canSteer: false,
  precisionLog2: -20,
  now: () => fromUnix(1_800_000_000),
  step: () => {},
  adjust: () => {},
  kernelState: () => null,
};

/** Timers that never fire by themselves; the test runs maintenance by hand. */
const idle: Timers = { setTimeout: () => 1, clearTimeout: () => {} };

function setup(resolver: Resolver, canSend = (_f: 4 | 6) => true) {
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
  const tk = new Timekeeper({ system: { rng: new SeededRng(1) } }, {
    clock,
    timers: idle,
    log,
    send: () => true,
  });
  const make = (sources: SourceSetting[], family: "any" | "ipv4" | "ipv6" = "any") =>
    new SourceManager(sources, {
      timekeeper: tk,
      resolver,
      timers: idle,
      log,
      canSend,
      nowMs: () => 0,
    }, { family, maxclock: 4 });
  return { tk, warnings, make };
}

function src(address: string, kind: "server" | "pool" = "server", family = "any"): SourceSetting {
  return {
    kind,
    address,
    family: family as SourceSetting["family"],
    port: 123,
    options: { minpoll: 6, maxpoll: 10 },
  };
}

Deno.test("SourceManager says once that a name does not resolve, and retries at each check", async () => {
  let calls = 0;
  let answer = false;
  const { warnings, make } = setup(() => {
    calls++;
    return Promise.resolve(
      answer
        ? { ok: true, addresses: [{ family: 4 as const, address: "192.0.2.7" }] }
        : { ok: false, reason: "NXDOMAIN" },
    );
  });
  const m = make([src("ntp.invalid")]);
  await m.start();
  await m.maintain();
  assert.equal(calls, 2);
  assert.deepEqual(warnings, ["server ntp.invalid: cannot resolve: NXDOMAIN"]);
  answer = true;
  await m.maintain();
  assert.equal(m.members()[0]!.ids.length, 1);
  await m.maintain();
  assert.equal(calls, 3, "a resolved server is not looked up again while it answers");
  m.stop();
});

Deno.test("SourceManager skips a line whose -4/-6 conflicts with the command line", async () => {
  const { warnings, make } = setup(() => Promise.reject(new Error("not called")));
  const m = make([src("2001:db8::1", "server", "ipv6")], "ipv4");
  await m.start();
  assert.deepEqual(m.members(), []);
  assert.match(warnings[0]!, /conflicts with the command line/);
  m.stop();
});

Deno.test("SourceManager mobilises only addresses of a family it has a socket for", async () => {
  const resolver: Resolver = () =>
    Promise.resolve({
      ok: true,
      addresses: [
        { family: 6, address: "2001:db8::1" },
        { family: 4, address: "192.0.2.1" },
        { family: 4, address: "192.0.2.2" },
      ],
    });
  const { tk, make } = setup(resolver, (f) => f === 4);
  const m = make([src("pool.example", "pool"), src("192.0.2.2")]);
  await m.start();
  const ids = m.members().flatMap((x) => x.ids);
  const addrs = ids.map((id) => tk.association(id)!.address.address).sort();
  // The literal server takes 192.0.2.2 first (no duplicates); the pool gets what is left.
  assert.deepEqual(addrs, ["192.0.2.1", "192.0.2.2"]);
  assert.equal(tk.association(ids[0]!)!.kind, "pool");
  assert.equal(tk.association(ids[0]!)!.name, "pool.example");
  m.stop();
});

Deno.test("SourceManager never polls an nts source without NTS-KE (warned once)", async () => {
  const { tk, warnings, make } = setup(() => Promise.reject(new Error("not called")));
  const m = make([{ ...src("192.0.2.9"), nts: { kePort: 4460 } }]);
  await m.start();
  await m.maintain();
  assert.deepEqual(m.members()[0]!.ids, []);
  assert.equal(tk.snapshot().associations.length, 0);
  assert.deepEqual(warnings, [
    "server 192.0.2.9: NTS is not running in this daemon (restart to add NTS); not polled",
  ]);
  m.stop();
});
