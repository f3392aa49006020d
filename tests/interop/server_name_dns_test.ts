// `server` name re-resolution (ntpd 4.2.x behaviour) against a real DNS server: dnsmasq in a
// network namespace, chronyd -x servers on 127.0.0.2 and .3 port 123 (_dns_scenario.ts).

import assert from "node:assert/strict";
import { waitForJson } from "../support/peers.ts";
import {
  addresses,
  CHECK_SEC,
  type Json,
  peers,
  POLL,
  scenario,
  UNREACH_POLLS,
} from "./_dns_scenario.ts";

Deno.test("interop: a server name is re-resolved and moved when its server dies and DNS changes", {
  ignore: peers.ignore,
}, async () => {
  const [oldAddr, newAddr] = ["127.0.0.2", "127.0.0.3"];
  await scenario("hmove", {
    records: { "name.test": [oldAddr] },
    servers: [oldAddr, newAddr],
    conf: `server name.test ${POLL}\n`,
  }, async ({ dns, servers, horae, status }) => {
    const s0 = await waitForJson<Json>(
      status,
      (s) => s.synchronized && s.refid === oldAddr,
      40_000,
      horae,
    );
    assert.deepEqual(addresses(s0), [oldAddr]);
    assert.equal(s0.associations[0].name, "name.test");
    assert.equal(s0.associations[0].kind, "server");
    // A server name that answers is looked up once, not at every check.
    assert.equal(dns.queries("name.test"), 1, dns.proc.output.slice(-2000));
    await servers.get(oldAddr)!.stop();
    servers.delete(oldAddr);
    await dns.setRecords({ "name.test": [newAddr] });
    const s = await waitForJson<Json>(
      status,
      (x) => x.synchronized && x.refid === newAddr && addresses(x).length === 1,
      (UNREACH_POLLS + 1) * 16_000 + 4 * CHECK_SEC * 1000 + 20_000,
      horae,
    );
    assert.deepEqual(addresses(s), [newAddr]);
    assert.equal(s.associations[0].name, "name.test");
    assert.notEqual(s.associations[0].reach, "000");
    assert.equal(s.systemPeer.address, newAddr);
    assert.ok(dns.queries("name.test") >= 2, "looked up again");
    assert.match(horae.output, /demobilize assoc \d+: name\.test now resolves to 127\.0\.0\.3/);
    assert.match(horae.output, /127\.0\.0\.3 mobilize assoc \d+: server \(name\.test\)/);
  });
});
