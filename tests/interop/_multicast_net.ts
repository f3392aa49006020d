// Shared by the broadcast, multicast and manycast interop tests: hosts in network namespaces the
// test creates, joined by veth pairs, with the multicast routes (224.0.0.0/4, ff00::/8) inside
// them; a chain of namespaces with forwarding on for TTL distances. Nothing leaves the machine.

import { type RunningHorae, sh, startHorae, waitForJson, withNetns } from "../support/peers.ts";
import type { Proc } from "../support/peers.ts";
import { encodePacket } from "../../lib/proto/packet.ts";

/** A status file document. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/**
 * Horae as a host of these tests: in namespace `ns` on port 123 of every address (no --listen,
 * as a multicast or broadcast host must), writing its status document to `status`.
 */
export function startHost(ns: string, conf: string, status: string): Promise<RunningHorae> {
  return startHorae({ conf, port: 123, netns: ns, listen: [], args: ["--status-file", status] });
}

/** Runs `fn` with `n` namespaces, all deleted afterwards (nested, so each one is cleaned up). */
export async function withHosts<T>(
  prefix: string,
  n: number,
  fn: (names: string[]) => Promise<T>,
  acc: string[] = [],
): Promise<T> {
  if (acc.length === n) return await fn(acc);
  return await withNetns(
    `${prefix}${acc.length}`,
    (name) => withHosts(prefix, n, fn, [...acc, name]),
  );
}

/**
 * A veth pair between namespaces `a` and `b` (interfaces `ifA` in a, `ifB` in b), up, with the
 * given IPv4 (x.x.x.x/len) and optional IPv6 (without DAD, so usable at once) addresses.
 */
export async function link(
  a: string,
  ifA: string,
  b: string,
  ifB: string,
  v4: [string, string],
  v6?: [string, string],
): Promise<void> {
  await sh(["ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b]);
  await sh(["ip", "-n", a, "addr", "add", v4[0], "dev", ifA]);
  await sh(["ip", "-n", b, "addr", "add", v4[1], "dev", ifB]);
  if (v6 !== undefined) {
    await sh(["ip", "-n", a, "addr", "add", v6[0], "dev", ifA, "nodad"]);
    await sh(["ip", "-n", b, "addr", "add", v6[1], "dev", ifB, "nodad"]);
  }
  await sh(["ip", "-n", a, "link", "set", ifA, "up"]);
  await sh(["ip", "-n", b, "link", "set", ifB, "up"]);
}

/** The IPv4 multicast route of a namespace: groups leave through `dev`. */
export async function multicastRoute(ns: string, dev: string): Promise<void> {
  await sh(["ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
}

/** Polls a status file until `pred` holds; returns that document or throws with the last. */
export function waitStatus(
  path: string,
  pred: (s: Json) => boolean,
  timeoutMs: number,
  proc: Proc,
): Promise<Json> {
  return waitForJson<Json>(path, pred, timeoutMs, proc);
}

/**
 * Sends `data` over UDP from namespace `ns` to `to`:`port`, `count` times from each source
 * address of `from` (any port), all from one process.
 */
export async function sendUdp(
  ns: string,
  from: string | string[],
  to: string,
  port: number,
  data: Uint8Array,
  count = 1,
): Promise<void> {
  const hex = Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
  const sources = typeof from === "string" ? [from] : from;
  const code = `
    const bytes = new Uint8Array(${JSON.stringify(hex)}.match(/../g).map((h) => parseInt(h, 16)));
    for (const from of ${JSON.stringify(sources)}) {
      const c = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
      for (let i = 0; i < ${count}; i++) {
        await c.send(bytes, { transport: "udp", hostname: ${JSON.stringify(to)}, port: ${port} });
      }
      c.close();
    }
  `;
  await sh([
    "ip",
    "netns",
    "exec",
    ns,
    Deno.execPath(),
    "eval",
    "--unstable-net",
    code,
  ]);
}

/** A mode 5 packet without a MAC from a stratum 1 server, as a stranger (or a test) sends it. */
export function unsignedMode5(): Uint8Array {
  return encodePacket({
    leap: 0,
    version: 4,
    mode: 5,
    stratum: 1,
    pollLog2: 4,
    precisionLog2: -20,
    rootDelayShort: 0,
    rootDispersionShort: 0,
    refid: 0x47505300,
    referenceTimestamp: 0xe8000000_00000000n,
    originTimestamp: 0n,
    receiveTimestamp: 0n,
    transmitTimestamp: 0xe8000001_00000000n,
    extensions: [],
    mac: null,
  });
}
