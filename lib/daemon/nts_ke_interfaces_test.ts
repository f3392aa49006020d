// Security: the NTS-KE server follows the `interface` rules, as the NTP sockets do (a host that
// serves NTP on one address only must not answer TLS on every other one), and the restrict list:
// a client that may not ask for time (ignore, noserve) gets no TLS handshake either.

import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_transport.ts";
import { makeTestPki, type TestPki } from "../../tests/support/nts_pki.ts";
import { freeTcpPort } from "../../tests/support/peers.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { keListenAddresses } from "./daemon_nts.ts";
import type { HostAddress } from "./listen_plan.ts";
import { NtsKeClient } from "./nts_ke_client.ts";
import { fakeClock } from "./_test_daemon.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function accepts(hostname: string, port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname, port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` with a started Daemon (LOCAL at stratum 9, NTS enabled with a test PKI's certificate
 * on a free TCP port) whose settings `settings` completes and whose host has `hostAddresses`;
 * stops it and removes the PKI afterwards.
 */
async function withNtsKeDaemon(
  prefix: string,
  settings: Partial<DaemonSettings>,
  hostAddresses: HostAddress[],
  fn: (daemon: Daemon, kePort: number, pki: TestPki) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  const network = new MemoryNetwork();
  try {
    const pki = await makeTestPki(dir);
    // A free TCP port for NTS-KE (the server binds it again at once).
    const kePort = freeTcpPort();
    const daemon = new Daemon({
      listen: [],
      refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
      driftFile: null,
      noSteerReason: null,
      refclockPollSec: 64,
      ...settings,
      nts: {
        enabled: true,
        certFile: pki.cert,
        keyFile: pki.key,
        cookieFile: null,
        caFile: null,
        port: kePort,
        minTls: "TLS1.3",
        maxTls: "TLS1.3",
      },
    }, {
      clock: fakeClock(network),
      openTransport: (a) => Promise.resolve(network.open(a)),
      hostAddresses: () => hostAddresses,
      log: quiet,
    });
    await daemon.start();
    try {
      await fn(daemon, kePort, pki);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Daemon: `interface ignore eth1` keeps NTS-KE off the host's other addresses", async () => {
  await withNtsKeDaemon("horae-nts-ke-if-", {
    interfaces: {
      port: 123,
      family: "any",
      rules: [{ action: "ignore", match: "wildcard" }, { action: "ignore", match: "eth1" }],
      interfaceOptions: [],
      noVirtual: false,
    },
  }, [
    { name: "lo", family: 4, address: "127.0.0.1", scopeId: null },
    { name: "eth0", family: 4, address: "127.0.0.2", scopeId: null },
    { name: "eth1", family: 4, address: "127.0.0.3", scopeId: null },
  ], async (daemon, kePort) => {
    assert.equal(daemon.status().nts?.server?.port, kePort);
    assert.equal(await accepts("127.0.0.2", kePort), true, "served where NTP is");
    assert.equal(await accepts("127.0.0.3", kePort), false, "not on an address NTP ignores");
  });
});

Deno.test("Daemon: `restrict 127.0.0.1 ignore` refuses that client's NTS-KE connections", async () => {
  await withNtsKeDaemon("horae-nts-ke-restrict-", {
    access: {
      restrict: [
        { match: "address", address: "127.0.0.1", mask: null, family: "any", flags: ["ignore"] },
      ],
    },
  }, [
    { name: "lo", family: 4, address: "127.0.0.1", scopeId: null },
    { name: "lo", family: 6, address: "::1", scopeId: null },
  ], async (daemon, kePort, pki) => {
    const client = new NtsKeClient({ caFile: pki.ca, timeoutSec: 3 });
    try {
      const refused = await client.exchange({
        host: "localhost",
        address: "127.0.0.1",
        port: kePort,
      });
      assert.equal(refused.ok, false, "127.0.0.1 is ignored");
      const served = await client.exchange({ host: "localhost", address: "::1", port: kePort });
      assert.ok(served.ok, served.ok ? "" : served.reason);
    } finally {
      client.close();
    }
    const k = daemon.status().nts?.server;
    assert.equal(k?.refused, 1);
    assert.equal(k?.served, 1);
  });
});

Deno.test("keListenAddresses(): the NTP listen addresses, a wildcard standing for its family", () => {
  assert.deepEqual(keListenAddresses(["0.0.0.0", "::"]), []);
  assert.deepEqual(keListenAddresses(["127.0.0.1", "192.0.2.1", "::1"]), [
    "127.0.0.1",
    "192.0.2.1",
    "::1",
  ]);
  assert.deepEqual(keListenAddresses(["0.0.0.0", "2001:db8::1"]), ["0.0.0.0", "2001:db8::1"]);
  // "::" takes IPv4 too (dual stack): a specific IPv4 address beside it could not be bound.
  assert.deepEqual(keListenAddresses(["::", "192.0.2.1"]), ["::"]);
  assert.deepEqual(keListenAddresses(["127.0.0.1", "127.0.0.1"]), ["127.0.0.1"]);
});
