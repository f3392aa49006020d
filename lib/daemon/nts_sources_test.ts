// NtsSourceKeeper against a real KE server on loopback, with a recording NTS state and manual
// timers: keys installed at attach, NTS-KE again when asked, pauses after failures, relocation.

import assert from "node:assert/strict";
import type { Logger } from "../log/logger.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import type { NtsKeResult } from "../proto/nts/ke_result.ts";
import type { PeerAddress } from "../proto/events.ts";
import { lazyTestPki, type TestPki } from "../../tests/support/nts_pki.ts";
import { NodeCrypto } from "./crypto_node.ts";
import { CryptoRng } from "./crypto_rng.ts";
import { NtsKeClient } from "./nts_ke_client.ts";
import { DEFAULT_NTS_KE_SERVER_OPTIONS, NtsKeServer } from "./nts_ke_server.ts";
import { NTS_KE_MIN_BACKOFF_SEC, type NtsClientLink, NtsSourceKeeper } from "./nts_sources.ts";
import type { Timers } from "./timers.ts";

const lines: string[] = [];
const log: Logger = {
  debug: (m) => lines.push(`debug ${m}`),
  info: (m) => lines.push(`info ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m) => lines.push(`error ${m}`),
};

class FakeLink implements NtsClientLink {
  installed: NtsKeResult[] = [];
  failures = 0;
  listener: (() => void) | null = null;
  get needsKe(): boolean {
    return this.installed.length === 0;
  }
  install(ke: NtsKeResult): boolean {
    this.installed.push(ke);
    return true;
  }
  noteKeFailure(): void {
    this.failures++;
  }
  onNeedKe(l: (() => void) | null): void {
    this.listener = l;
  }
}

class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; delayMs: number }>();
  #next = 1;
  setTimeout(fn: () => void, delayMs: number): number {
    this.pending.set(this.#next, { fn, delayMs });
    return this.#next++;
  }
  clearTimeout(h: number): void {
    this.pending.delete(h);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const d of due) d.fn();
  }
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pki = lazyTestPki("horae-nts-src-");

async function withKe(
  ntpPort: number | null,
  fn: (kePort: number, p: TestPki, server: NtsKeServer) => Promise<void>,
): Promise<void> {
  const p = await pki();
  const keys = new NtsServerKeys(new NodeCrypto(), new CryptoRng());
  keys.setKeys([{ id: 1, key: new Uint8Array(32).fill(3) }], 1);
  const server = new NtsKeServer(
    {
      ...DEFAULT_NTS_KE_SERVER_OPTIONS,
      addresses: ["127.0.0.1"],
      port: 0,
      certFile: p.cert,
      keyFile: p.key,
      ntpPort,
    },
    keys,
    log,
  );
  assert.equal(server.start(), null);
  try {
    await fn(server.ports[0]!, p, server);
  } finally {
    await server.stop();
  }
}

const PEER: PeerAddress = { family: 4, address: "127.0.0.1", port: 123 };

Deno.test("NtsSourceKeeper installs keys at attach and runs NTS-KE again when asked", async () => {
  await withKe(null, async (kePort, p, server) => {
    const link = new FakeLink();
    const timers = new ManualTimers();
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
    const keeper = new NtsSourceKeeper({
      client,
      resolver: () => Promise.resolve({ ok: false, reason: "no DNS in this test" }),
      timers,
      log,
      ntsClient: (id) => (id === 5 ? link : null),
      relocate: () => null,
      nowUnixSec: () => 1000,
    });
    keeper.attach(5, { host: "127.0.0.1", peer: PEER, kePort, family: "any" });
    await until(() => link.installed.length === 1);
    assert.equal(link.installed[0]!.cookies.length, 8);
    assert.equal(link.installed[0]!.ntpPort, 123);
    assert.ok(link.listener !== null);
    link.listener!();
    await until(() => link.installed.length === 2);
    assert.equal(server.counters.served, 2);
    keeper.detach(5);
    assert.equal(link.listener, null);
    keeper.stop();
    client.close();
  });
});

Deno.test("NtsSourceKeeper pauses after a failure, doubling, and counts it", async () => {
  await withKe(null, async (kePort, p) => {
    const link = new FakeLink();
    const timers = new ManualTimers();
    // The wrong CA: every exchange fails its certificate check.
    const client = new NtsKeClient({ caFile: p.otherCa, timeoutSec: 5 });
    const keeper = new NtsSourceKeeper({
      client,
      resolver: () => Promise.resolve({ ok: false, reason: "none" }),
      timers,
      log,
      ntsClient: () => link,
      relocate: () => null,
      nowUnixSec: () => 0,
    });
    keeper.attach(1, { host: "localhost", peer: PEER, kePort, family: "any" });
    await until(() => link.failures === 1 && timers.pending.size === 1);
    assert.equal([...timers.pending.values()][0]!.delayMs, NTS_KE_MIN_BACKOFF_SEC * 1000);
    // Asking again while a retry is scheduled does not start another exchange.
    link.listener!();
    assert.equal(client.counters.attempts, 1);
    timers.fireAll();
    await until(() => link.failures === 2 && timers.pending.size === 1);
    assert.equal([...timers.pending.values()][0]!.delayMs, 2 * NTS_KE_MIN_BACKOFF_SEC * 1000);
    assert.equal(client.counters.failures.certificate, 2);
    assert.equal(link.installed.length, 0);
    keeper.stop();
    assert.equal(timers.pending.size, 0);
    client.close();
  });
});

Deno.test("NtsSourceKeeper moves the association to the NTP port the KE server names", async () => {
  await withKe(11123, async (kePort, p) => {
    const links = new Map([[1, new FakeLink()], [2, new FakeLink()]]);
    const moves: [number, PeerAddress][] = [];
    const client = new NtsKeClient({ caFile: p.ca, timeoutSec: 5 });
    const keeper = new NtsSourceKeeper({
      client,
      resolver: () => Promise.resolve({ ok: false, reason: "none" }),
      timers: new ManualTimers(),
      log,
      ntsClient: (id) => links.get(id) ?? null,
      relocate: (id, peer) => {
        moves.push([id, peer]);
        return 2;
      },
      nowUnixSec: () => 0,
    });
    keeper.attach(1, { host: "127.0.0.1", peer: PEER, kePort, family: "any" });
    await until(() => links.get(2)!.installed.length === 1);
    assert.deepEqual(moves, [[1, { family: 4, address: "127.0.0.1", port: 11123 }]]);
    assert.equal(links.get(1)!.installed.length, 0);
    assert.deepEqual(keeper.ids, [2]);
    keeper.stop();
    client.close();
  });
});
