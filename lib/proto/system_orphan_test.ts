// Orphan mode through the core (RFC 5905's orphan mode, ntpd's `tos orphan` / `orphanwait`):
// three peers that lose their common upstream wait `orphanwait`, elect one orphan parent (the
// lowest address), keep one time under it, and return to the upstream when it comes back.

import assert from "node:assert/strict";
import { KeyStore } from "./auth/key_store.ts";
import { PureCrypto } from "./auth/pure_crypto.ts";
import type { PeerAddress } from "./events.ts";
import { SeededRng } from "./rng.ts";
import { LOOPBACK_REFID, NtpSystem } from "./system.ts";
import { NET_T0, type NetNode, PeerNet } from "../../tests/support/peer_net.ts";

const keys = () =>
  new KeyStore(
    new PureCrypto(),
    [{ id: 7, algorithm: "SHA1", key: new TextEncoder().encode("mesh"), allowed: null }],
    [7],
  );
const addr = (a: string): PeerAddress => ({ family: 4, address: a, port: 123 });
const UP = addr("10.0.9.9");
const ORPHAN = 8;

function mesh() {
  const net = new PeerNet();
  const upstream = net.addUpstream(UP, {
    leap: 0,
    stratum: 2,
    precisionLog2: -20,
    rootDelaySec: 0.001,
    rootDispersionSec: 0.001,
    refid: 0x0a000909,
    referenceTime: NET_T0,
  });
  // Out of address order, so that nothing depends on the order the nodes were made in.
  const spec = [
    { a: "10.0.0.3", off: 0.004, freq: 12e-6 },
    { a: "10.0.0.1", off: -0.006, freq: -9e-6 },
    { a: "10.0.0.2", off: 0.002, freq: 4e-6 },
  ];
  const nodes: NetNode[] = spec.map((x, i) =>
    net.add({
      address: addr(x.a),
      clockOffsetSec: x.off,
      clockFreq: x.freq,
      system: new NtpSystem({
        precisionLog2: -20,
        rng: new SeededRng(10 + i),
        keys: keys(),
        tos: { orphan: ORPHAN, orphanwait: 120 },
        // Loopback and link-local addresses take no part in the election.
        localAddresses: [
          addr("127.0.0.1"),
          { family: 6, address: "::1", port: 123 },
          { family: 6, address: "fe80::1", port: 123 },
          addr(x.a),
        ],
      }),
    })
  );
  for (const n of nodes) {
    const now = net.local(n);
    n.system.addServer(UP, { minpoll: 4, maxpoll: 4, iburst: true }, now);
    for (const m of nodes) {
      if (m !== n) {
        n.system.addServer(m.address, { kind: "peer", key: 7, minpoll: 4, maxpoll: 4 }, now);
      }
    }
    n.timer = now;
  }
  const byAddr = (a: string) => nodes.find((n) => n.address.address === a)!;
  return { net, upstream, nodes, byAddr };
}

Deno.test("NtpSystem orphan mode: three peers without upstream elect one parent and keep one time", () => {
  const { net, upstream, nodes, byAddr } = mesh();
  net.run(600);
  for (const n of nodes) {
    const s = n.system.snapshot(net.local(n));
    assert.equal(s.stratum, 3, `${n.address.address} follows the upstream`);
    assert.equal(s.orphan, null);
  }

  upstream.up = false;
  // Before orphanwait has run out nobody serves at the orphan stratum.
  net.run(150);
  for (const n of nodes) {
    const s = n.system.snapshot(net.local(n));
    assert.equal(s.stratum, 16, `${n.address.address} waits (stratum ${s.stratum})`);
    assert.equal(s.orphan, "waiting");
  }
  net.run(2 * 3600);
  const parent = byAddr("10.0.0.1");
  const ps = parent.system.snapshot(net.local(parent));
  assert.equal(ps.orphan, "parent");
  assert.equal(ps.stratum, ORPHAN);
  assert.equal(ps.refid, LOOPBACK_REFID);
  assert.equal(ps.leap, 0, "the parent serves as synchronised");
  assert.equal(ps.systemPeer, null);
  for (const a of ["10.0.0.2", "10.0.0.3"]) {
    const n = byAddr(a);
    const s = n.system.snapshot(net.local(n));
    assert.equal(s.orphan, "child", a);
    assert.equal(s.stratum, ORPHAN + 1, a);
    assert.equal(s.refid, 0x0a000001, `${a} follows 10.0.0.1`);
    const sp = s.associations.find((x) => x.id === s.systemPeer)!;
    assert.equal(sp.address.address, "10.0.0.1");
    // Common time: within a millisecond of the parent's clock after two hours.
    const d = n.clock.trueOffsetSec - parent.clock.trueOffsetSec;
    assert.ok(Math.abs(d) < 1e-3, `${a} is ${d} s from the parent`);
  }

  // The upstream comes back: everybody follows it again, orphan mode ends.
  upstream.up = true;
  net.run(900);
  for (const n of nodes) {
    const s = n.system.snapshot(net.local(n));
    assert.equal(s.stratum, 3, `${n.address.address} back on the upstream`);
    assert.equal(s.orphan, null);
    const sp = s.associations.find((x) => x.id === s.systemPeer)!;
    assert.equal(sp.address.address, UP.address);
    assert.ok(Math.abs(n.clock.trueOffsetSec) < 1e-3);
  }
});

Deno.test("NtpSystem orphan mode: off at stratum 16, and a lone host becomes its own parent", () => {
  const net = new PeerNet();
  const off = net.add({
    address: addr("10.0.1.1"),
    clockOffsetSec: 0,
    system: new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1), tos: { orphanwait: 0 } }),
  });
  const lone = net.add({
    address: addr("10.0.1.2"),
    clockOffsetSec: 0,
    system: new NtpSystem({
      precisionLog2: -20,
      rng: new SeededRng(2),
      tos: { orphan: 5, orphanwait: 30 },
      localAddresses: [addr("10.0.1.2")],
    }),
  });
  for (const n of [off, lone]) n.system.addServer(UP, { minpoll: 4 }, net.local(n));
  for (const n of [off, lone]) n.timer = net.local(n);
  net.run(20);
  assert.equal(lone.system.snapshot(net.local(lone)).stratum, 16);
  net.run(60);
  const s = lone.system.snapshot(net.local(lone));
  assert.equal(s.orphan, "parent");
  assert.equal(s.stratum, 5);
  assert.ok(lone.log.some((l) => l.action.type === "setStatus" && l.action.synchronized));
  const o = off.system.snapshot(net.local(off));
  assert.equal(o.stratum, 16);
  assert.equal(o.orphan, null);
  // Orphan mode turned off at run time: the parent stops serving at its next timer.
  lone.system.setTos({ orphan: 16 });
  net.run(20);
  const after = lone.system.snapshot(net.local(lone));
  assert.equal(after.stratum, 16);
  assert.equal(after.orphan, null);
  const last = lone.log.filter((l) => l.action.type === "setStatus").at(-1)!.action;
  assert.ok(last.type === "setStatus" && !last.synchronized && last.stratum === 16);
});
