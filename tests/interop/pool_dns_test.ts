// `pool` expansion and pool member replacement (ntpd 4.2.x behaviour) against a real DNS server:
// dnsmasq in a network namespace, chronyd -x servers on 127.0.0.2–.6 port 123 (_dns_scenario.ts).

import assert from "node:assert/strict";
import { waitForJson } from "../support/peers.ts";
import {
  addresses,
  CHECK_SEC,
  FOUR,
  type Json,
  peers,
  POLL,
  reached,
  scenario,
  UNREACH_POLLS,
} from "./_dns_scenario.ts";

Deno.test("interop: pool pool.test expands to the 4 addresses dnsmasq answers and synchronises", {
  ignore: peers.ignore,
}, async () => {
  await scenario("hpool", {
    records: { "pool.test": FOUR },
    servers: FOUR,
    conf: `pool pool.test ${POLL}\n`,
  }, async ({ dns, horae, status }) => {
    const s0 = await waitForJson<Json>(
      status,
      (s) =>
        s.synchronized && s.associations.length === 4 &&
        FOUR.every((a) => reached(s, a)),
      40_000,
      horae,
    );
    assert.deepEqual(addresses(s0), FOUR);
    // Below maxclock (10) the pool asks DNS again at every check: the answer's addresses are
    // all in use, so nothing more is mobilised.
    const asked = dns.queries("pool.test");
    const s = await waitForJson<Json>(
      status,
      () => dns.queries("pool.test") >= asked + 2,
      6 * CHECK_SEC * 1000,
      horae,
    );
    assert.deepEqual(addresses(s), FOUR, "no duplicate or extra associations");
    for (const a of s.associations) {
      assert.equal(a.kind, "pool");
      assert.equal(a.name, "pool.test");
      assert.equal(a.port, 123);
    }
    assert.deepEqual(s.sources.map((x: Json) => [x.kind, x.address, x.ids.length]), [
      ["pool", "pool.test", 4],
    ]);
    assert.equal(s.stratum, 9, "chronyd's local stratum 8 + 1");
    assert.ok(FOUR.includes(s.refid), `refid ${s.refid}`);
    for (const a of FOUR) {
      assert.match(
        horae.output,
        new RegExp(`${a} mobilize assoc \\d+: pool member \\(pool\\.test\\)`),
      );
    }
  });
});

Deno.test("interop: a pool member that stops answering is replaced by a new address from DNS", {
  ignore: peers.ignore,
}, async () => {
  const fifth = "127.0.0.6";
  await scenario("hrepl", {
    records: { "pool.test": FOUR },
    servers: [...FOUR, fifth],
    conf: `tos maxclock 4\npool pool.test ${POLL}\n`,
  }, async ({ dns, servers, horae, status }) => {
    const s0 = await waitForJson<Json>(
      status,
      (s) => s.synchronized && FOUR.every((a) => reached(s, a)),
      40_000,
      horae,
    );
    assert.deepEqual(addresses(s0), FOUR);
    // DNS now offers a fifth address too, but the pool is full: it waits for a vacancy.
    await dns.setRecords({ "pool.test": [...FOUR, fifth] });
    const victim = s0.systemPeer.address as string;
    const killedAt = Date.now();
    await servers.get(victim)!.stop();
    servers.delete(victim);
    let most = 0;
    const s = await waitForJson<Json>(
      status,
      (x) => {
        most = Math.max(most, x.associations.length);
        return reached(x, fifth) && !addresses(x).includes(victim) && x.synchronized;
      },
      (UNREACH_POLLS + 1) * 16_000 + 4 * CHECK_SEC * 1000 + 10_000,
      horae,
    );
    const tookSec = (Date.now() - killedAt) / 1000;
    assert.ok(most <= 4, `tos maxclock 4 exceeded: ${most} associations`);
    const expected = [...FOUR.filter((a) => a !== victim), fifth].sort();
    assert.deepEqual(addresses(s), expected);
    assert.notEqual(s.systemPeer.address, victim);
    assert.ok(expected.includes(s.refid), `refid ${s.refid}`);
    // Replaced because it went silent, and only then was the new address taken.
    const out = horae.output;
    const gone = out.search(
      new RegExp(`${victim.replaceAll(".", "\\.")} demobilize assoc \\d+: unreachable`),
    );
    const added = out.search(/127\.0\.0\.6 mobilize assoc \d+: pool member \(pool\.test\)/);
    assert.ok(gone >= 0 && added > gone, out.slice(-3000));
    // Unreachable means UNREACH_POLLS polls of 16 s without an answer: not much sooner.
    assert.ok(tookSec > (UNREACH_POLLS - 1) * 14, `replaced after only ${tookSec} s`);
  });
});
