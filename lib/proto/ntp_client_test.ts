import assert from "node:assert/strict";
import { createNtpClient } from "./ntp_client.ts";
import type { Action } from "./events.ts";
import { diffSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";

Deno.test("createNtpClient() starts unsynchronised with the given precision and polls its server", () => {
  const client = createNtpClient({ precisionLog2: -18, rng: new SeededRng(7) });
  const start = fromUnix(1_800_000_000);
  const state = client.snapshot(start);
  assert.equal(state.stratum, 16);
  assert.equal(state.leap, 3);
  assert.equal(state.precisionLog2, -18);
  const peer = { family: 6, address: "2001:db8::1", port: 123 } as const;
  assert.ok(client.addServer(peer, { minpoll: 4, maxpoll: 4 }, start) > 0);
  // Follow the timers it asks for until the first request: within one poll interval (16 s).
  let actions: Action[] = client.start(start);
  let now: NtpTime = start;
  for (let i = 0; i < 50; i++) {
    const send = actions.find((a) => a.type === "send");
    if (send !== undefined) {
      assert.deepEqual(send.to, peer);
      assert.equal(send.data.length, 48);
      assert.equal(send.data[0]! & 7, 3, "mode 3 (client)");
      assert.ok(diffSec(now, start) <= 16, `first request after ${diffSec(now, start)} s`);
      return;
    }
    const timer = actions.find((a) => a.type === "setTimer");
    assert.ok(timer !== undefined, `no request and no timer: ${actions.map((a) => a.type)}`);
    now = timer.at;
    actions = client.onTimer(now);
  }
  assert.fail("no request after 50 timers");
});
