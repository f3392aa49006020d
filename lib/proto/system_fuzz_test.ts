// Untrusted replies never crash the core and never move the clock: arbitrary bytes, and valid
// replies with one field corrupted, sent to the timekeeping core as if from its server.

import assert from "node:assert/strict";
import fc from "fast-check";
import { NtpSystem } from "./system.ts";
import { addSec, fromUnix } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import type { PeerAddress } from "./events.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? Date.now() % 1_000_000);
// deno-lint-ignore no-console
console.log(`system_fuzz_test: FC_SEED=${SEED}`);

const T0 = fromUnix(1_700_000_000);
const PEER: PeerAddress = { family: 4, address: "192.0.2.1", port: 123 };

/** A system with one server, driven through its timers until it sends its first request. */
function freshSystem() {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(7) });
  sys.addServer(PEER, { iburst: true }, T0);
  let actions = sys.start(T0);
  let now = T0;
  for (let i = 0; i < 10; i++) {
    const sent = actions.find((a) => a.type === "send");
    if (sent !== undefined && sent.type === "send") return { sys, sent, now };
    const timer = actions.find((a) => a.type === "setTimer");
    if (timer === undefined || timer.type !== "setTimer") break;
    now = timer.at;
    actions = sys.onTimer(now);
  }
  throw new Error("the system never sent a request");
}

Deno.test("NtpSystem.onPacket() never throws on arbitrary datagrams and never touches the clock", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      (datagrams, fromStranger) => {
        const { sys, now } = freshSystem();
        const peer = fromStranger ? { ...PEER, address: "198.51.100.9" } : PEER;
        let t = now;
        for (const d of datagrams) {
          if (d.length > 0) d[0] = (d[0]! & 0xf8) | 4; // mostly server-mode replies
          t = addSec(t, 0.01);
          const actions = sys.onPacket({ data: d, peer, rxTime: t }, t);
          for (const a of actions) {
            assert.ok(a.type !== "stepClock" && a.type !== "adjustClock", `clock action ${a.type}`);
          }
        }
        assert.equal(sys.snapshot(t).counters.clockUpdates, 0);
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

Deno.test("NtpSystem ignores replies whose origin does not match what it sent", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), (origin) => {
      const { sys, sent, now } = freshSystem();
      const tx = new DataView(sent.data.buffer, sent.data.byteOffset).getBigUint64(40);
      fc.pre(origin !== tx);
      const reply = new Uint8Array(48);
      const v = new DataView(reply.buffer);
      reply[0] = 0x24; // v4, mode 4
      reply[1] = 1;
      v.setBigUint64(24, origin);
      v.setBigUint64(32, tx + 1000n);
      v.setBigUint64(40, tx + 2000n);
      const t = addSec(now, 0.002);
      const actions = sys.onPacket({ data: reply, peer: PEER, rxTime: t }, t);
      assert.ok(actions.every((a) => a.type !== "stepClock" && a.type !== "adjustClock"));
      const a = sys.snapshot(t).associations[0]!;
      assert.ok((a.rejected["bogus_origin"] ?? 0) + (a.rejected["not_expected"] ?? 0) >= 1);
    }),
    { seed: SEED, numRuns: 200 },
  );
});
