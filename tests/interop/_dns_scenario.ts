// Shared by the DNS interop tests (pool_dns_test.ts, server_name_dns_test.ts, one module each so
// that they run in parallel): dnsmasq answering inside a network namespace, chronyd -x servers on
// 127.0.0.2–.6 port 123 and an observing Horae. Every process runs without CAP_SYS_TIME.

import {
  needPeers,
  type Proc,
  type RunningDnsmasq,
  startChronydServer,
  startDnsmasq,
  startHorae,
  withNetns,
} from "../support/peers.ts";

/** A status file document. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** Poll options of every source line. */
export const POLL = "iburst minpoll 4 maxpoll 4";
/** Seconds between Horae's source checks in these tests (ntpd: 60). */
export const CHECK_SEC = 2;
/**
 * Unanswered polls before a source is unreachable (ntpd: 8, i.e. 128 s at minpoll 4): two keep a
 * replacement within about 40 s of a server's death.
 */
export const UNREACH_POLLS = 2;

/** chronyd, dnsmasq and root, decided when a test module loads. */
export const peers = await needPeers("horae pool and server names through dnsmasq", {
  programs: ["chronyd", "dnsmasq"],
  root: "a network namespace and port 53",
});

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

/** The addresses of the status's associations, sorted. */
export function addresses(s: Json): string[] {
  return s.associations.map((a: Json) => a.address).sort();
}

/** True when `address` has an association that has answered. */
export function reached(s: Json, address: string): boolean {
  return s.associations.some((a: Json) => a.address === address && a.reach !== "000");
}

/** Runs `fn` with dnsmasq, the chronyd servers and Horae in one namespace; cleans all up. */
export async function scenario(
  prefix: string,
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
    const dns = await startDnsmasq(peers.path("dnsmasq"), { netns: ns, records: setup.records });
    let servers = new Map<string, { stop(): Promise<void> }>();
    try {
      servers = await startServers(peers.path("chronyd"), ns, setup.servers);
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

/** The four servers of the pool tests. */
export const FOUR = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
