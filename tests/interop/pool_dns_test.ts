// `pool` expansion, pool member replacement and `server` name re-resolution (ntpd 4.2.x behaviour)
// against a real DNS server: dnsmasq answers inside a network namespace, chronyd -x servers on
// 127.0.0.2–.6 port 123. Every process runs without CAP_SYS_TIME; Horae runs observe-only.

import assert from "node:assert/strict";
import {
  type Proc,
  requireNetnsPeers,
  type RunningDnsmasq,
  startChronydServer,
  startDnsmasq,
  startHorae,
  waitForJson,
  withNetns,
} from "../support/peers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const POLL = "iburst minpoll 4 maxpoll 4";
/** Seconds between Horae's source checks in these tests (ntpd: 60). */
const CHECK_SEC = 2;
/**
 * Unanswered polls before a source is unreachable (ntpd: 8, i.e. 128 s at minpoll 4): two keep a
 * replacement within about 40 s of a server's death.
 */
const UNREACH_POLLS = 2;

function needs(test: string): Record<string, string> | null {
  return requireNetnsPeers(
    test,
    ["chronyd", "dnsmasq"],
    "needs root for a network namespace and port 53",
  );
}

/** chronyd -x servers by address inside `ns`, each stoppable on its own. */
async function startServers(
  chronyd: string,
  ns: string,
  addresses: string[],
): Promise<Map<string, { stop(): Promise<void> }>> {
  const servers = new Map<string, { stop(): Promise<void> }>();
  try {
    for (const a of addresses) {
      servers.set(a, await startChronydServer(chronyd, { port: 123, bindAddress: a, netns: ns }));
    }
  } catch (e) {
    await stopAll(servers);
    throw e;
  }
  return servers;
}

async function stopAll(servers: Map<string, { stop(): Promise<void> }>): Promise<void> {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  servers.clear();
}

function startObservingHorae(ns: string, conf: string) {
  return startHorae({
    conf,
    port: 123,
    netns: ns,
    args: [
      "--observe",
      "--status-file",
      "status.json",
      "--source-check",
      String(CHECK_SEC),
      "--unreach-polls",
      String(UNREACH_POLLS),
    ],
  });
}

function addresses(s: Json): string[] {
  return s.associations.map((a: Json) => a.address).sort();
}

function reached(s: Json, address: string): boolean {
  return s.associations.some((a: Json) => a.address === address && a.reach !== "000");
}

/** Runs `fn` with dnsmasq, the chronyd servers and Horae in one namespace; cleans all up. */
async function scenario(
  prefix: string,
  p: Record<string, string>,
  setup: { records: Record<string, string[]>; servers: string[]; conf: string },
  fn: (
    ctx: {
      dns: RunningDnsmasq;
      servers: Map<string, { stop(): Promise<void> }>;
      horae: Proc;
      status: string;
    },
  ) => Promise<void>,
): Promise<void> {
  await withNetns(prefix, async (ns) => {
    const dns = await startDnsmasq(p.dnsmasq!, { netns: ns, records: setup.records });
    let servers = new Map<string, { stop(): Promise<void> }>();
    try {
      servers = await startServers(p.chronyd!, ns, setup.servers);
      const horae = await startObservingHorae(ns, setup.conf);
      try {
        await fn({ dns, servers, horae: horae.proc, status: `${horae.dir}/status.json` });
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\n--- dnsmasq:\n${dns.proc.output.slice(-2000)}`,
          { cause: e },
        );
      } finally {
        await horae.stop();
      }
    } finally {
      await stopAll(servers);
      await dns.stop();
    }
  });
}

const FOUR = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];

Deno.test("interop: pool pool.test expands to the 4 addresses dnsmasq answers and synchronises", async () => {
  const p = needs("horae pool through dnsmasq");
  if (p === null) return;
  await scenario("hpool", p, {
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

Deno.test("interop: a pool member that stops answering is replaced by a new address from DNS", async () => {
  const p = needs("horae pool member replacement through dnsmasq");
  if (p === null) return;
  const fifth = "127.0.0.6";
  await scenario("hrepl", p, {
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

Deno.test("interop: a server name is re-resolved and moved when its server dies and DNS changes", async () => {
  const p = needs("horae server re-resolution through dnsmasq");
  if (p === null) return;
  const [oldAddr, newAddr] = ["127.0.0.2", "127.0.0.3"];
  await scenario("hmove", p, {
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
