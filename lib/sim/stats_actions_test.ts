// The core's statistics actions, as the simulator (and the daemon) receive them: one rawstats
// record per valid reply, one peerstats record per sample, one loopstats record per clock update,
// consistent with each other and with the core's own counters.

import assert from "node:assert/strict";
import type { LoopStatsRecord, PeerStatsRecord, RawStatsRecord } from "../proto/events.ts";
import { diffSec } from "../proto/ntp_time.ts";
import { runScenario } from "./runner.ts";
import { findScenario } from "./scenarios.ts";

function collect(name: string, durationSec: number, discipline: "horae" | "ntpd" = "horae") {
  const raw: RawStatsRecord[] = [];
  const peer: PeerStatsRecord[] = [];
  const loop: LoopStatsRecord[] = [];
  const r = runScenario(findScenario(name)!, {
    seed: 3,
    durationSec,
    discipline,
    onActions: (actions) => {
      for (const a of actions) {
        if (a.type !== "stats") continue;
        const rec = a.record;
        if (rec.kind === "rawstats") raw.push(rec);
        else if (rec.kind === "peerstats") peer.push(rec);
        else loop.push(rec);
      }
    },
  });
  return { r, raw, peer, loop };
}

Deno.test("NtpSystem emits rawstats per valid reply, peerstats per sample, loopstats per clock update", () => {
  const { r, raw, peer, loop } = collect("falseticker3", 2000);
  const replies = r.packets; // every request in this scenario is answered (no loss)
  assert.ok(raw.length > 30, `${raw.length} rawstats`);
  assert.ok(raw.length <= replies);
  assert.equal(peer.length, raw.length, "one filter output per valid reply");
  assert.equal(loop.length, r.clockUpdates);
  for (const x of raw) {
    // The four times describe the exchange: T1 < T4, the server's T2 <= T3, T4 is the record time.
    assert.ok(x.t1 < x.t4 && x.t2 <= x.t3 && x.t4 === x.at);
    assert.equal(x.mode, 4);
    assert.equal(x.stratum, 1);
    assert.ok(diffSec(x.t4, x.t1) - diffSec(x.t3, x.t2) > 0);
  }
  // Server 1 is the falseticker (1 s ahead of the others; the clock starts 0.1 s off): its
  // peerstats offsets show it, it is never the system peer, and the others are (selection code 6
  // in the status byte).
  const bad = peer.filter((p) => p.address.address === "192.0.2.1");
  const good = peer.filter((p) => p.address.address !== "192.0.2.1");
  assert.ok(bad.length > 10 && bad.every((p) => p.offsetSec > 0.85 && p.offsetSec < 1.05));
  assert.ok(good.every((p) => Math.abs(p.offsetSec) < 0.15));
  assert.ok(bad.every((p) => (p.statusByte & 7) !== 6));
  assert.ok(peer.some((p) => p.address.address !== "192.0.2.1" && (p.statusByte & 7) === 6));
  assert.ok(peer.every((p) => (p.statusByte & 0x90) === 0x90), "configured and reachable");
  // The discipline converges: late loopstats offsets are small, the poll is in range.
  const late = loop.slice(-10);
  assert.ok(late.every((l) => Math.abs(l.offsetSec) < 1e-3), `${late.map((l) => l.offsetSec)}`);
  assert.ok(loop.every((l) => l.pollLog2 >= 4 && l.pollLog2 <= 17 && l.jitterSec >= 0));
});

Deno.test("the ntpd discipline's loopstats carry its own jitter, wander and time constant", () => {
  const { r, loop } = collect("default", 8000, "ntpd");
  assert.equal(loop.length, r.clockUpdates);
  assert.ok(loop.length >= 5, `${loop.length}`);
  assert.ok(loop.every((l) => Number.isFinite(l.wanderPpm) && l.wanderPpm >= 0));
  assert.ok(loop.some((l) => l.jitterSec > 0));
});
