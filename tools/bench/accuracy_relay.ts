// deno-lint-ignore-file no-console -- a benchmark helper: its report goes to stdout.
// The shaping relay of `deno task bench:accuracy`: runs in the server's network namespace, takes
// client datagrams on FRONT (the address the clients use as their server), and forwards each to
// the real server and its reply back, each direction delayed by its own law from the kernel
// receive timestamp (these kernels have no netem). Laws: base delay + jitter (exponential,
// Pareto or log-normal) + one-sided queueing, loss, reordering (an occasional extra hold), and a
// second set of laws from a given time on (a route change). Counts the datagrams each client
// port sent and writes them to the stats file every second.
//
// usage: accuracy_relay.ts FRONT_ADDR FRONT_PORT SERVER_PORT SPEC_JSON STATS_FILE SEED

import { UdpTransport } from "../../lib/net/udp_transport.ts";
import type { SocketAddress } from "../../lib/net/transport.ts";
import { defaultRealtimeReader } from "../../lib/net/datagram_transport.ts";
import { exponential, normal, SeededRng } from "../../lib/proto/rng.ts";
import { MinHeap } from "../../lib/proto/min_heap.ts";

/** The law of one direction's delay. */
export interface DirectionLaw {
  /** Fixed delay (s). */
  baseSec: number;
  /** Scale of the jitter term (s); its law has mean 1. */
  jitterSec: number;
  /** Jitter law (default exponential). */
  law?: "exp" | "pareto" | "lognormal";
  /** Probability of loss. */
  loss?: number;
  /** Probability that a datagram is held `reorderSec` longer (overtaken by later ones). */
  reorder?: number;
  reorderSec?: number;
}

/** Both directions, and what changes at `changeAtSec` (seconds after the relay starts). */
export interface RelaySpec {
  up: DirectionLaw;
  down: DirectionLaw;
  changeAtSec?: number;
  after?: { up: DirectionLaw; down: DirectionLaw };
}

/** Draws one delay (s), or null for a lost datagram. */
export function drawDelay(l: DirectionLaw, rng: SeededRng): number | null {
  if (l.loss !== undefined && rng.nextFloat() < l.loss) return null;
  let e: number;
  if (l.law === "pareto") {
    const a = 1.5;
    const xm = (a - 1) / a;
    let u = rng.nextFloat();
    while (u <= 0) u = rng.nextFloat();
    e = Math.min(xm / u ** (1 / a), 1000);
  } else if (l.law === "lognormal") {
    e = Math.exp(-0.5 * 1.5 * 1.5 + 1.5 * normal(rng));
  } else {
    e = exponential(rng);
  }
  let d = l.baseSec + l.jitterSec * e;
  if (l.reorder !== undefined && rng.nextFloat() < l.reorder) d += l.reorderSec ?? 0.05;
  return d;
}

interface Pending {
  dueNs: bigint;
  seq: number;
  data: Uint8Array;
  via: UdpTransport;
  to: SocketAddress;
}

if (import.meta.main) {
  const [frontAddr, frontPort, serverPort, specJson, statsFile, seedText] = Deno.args;
  const spec = JSON.parse(specJson!) as RelaySpec;
  const rng = new SeededRng(Number(seedText ?? "1"));
  const clock = defaultRealtimeReader();
  const nowNs = (): bigint => {
    const [s, ns] = clock();
    return BigInt(s) * 1_000_000_000n + BigInt(ns);
  };
  const startNs = nowNs();
  const server: SocketAddress = { family: 4, address: "127.0.0.1", port: Number(serverPort) };
  const front = new UdpTransport({ address: frontAddr!, port: Number(frontPort) });
  if (!front.kernelTimestamps) console.log("warning: no kernel receive timestamps");
  const heap = new MinHeap<Pending>((a, b) =>
    a.dueNs < b.dueNs || (a.dueNs === b.dueNs && a.seq < b.seq)
  );
  let seq = 0;
  const sentBy = new Map<number, number>();
  const lostBy = { up: 0, down: 0 };
  const backs = new Map<string, UdpTransport>();
  let timer: ReturnType<typeof setTimeout> | null = null;

  const law = (dir: "up" | "down", rxNs: bigint): DirectionLaw => {
    const t = Number(rxNs - startNs) / 1e9;
    if (spec.after !== undefined && spec.changeAtSec !== undefined && t >= spec.changeAtSec) {
      return spec.after[dir];
    }
    return spec[dir];
  };

  const pump = (): void => {
    timer = null;
    for (let guard = 0; guard < 10_000; guard++) {
      const p = heap.peek();
      if (p === undefined) return;
      const left = Number(p.dueNs - nowNs()) / 1e6;
      if (left > 1) {
        // Wake a little early, then wait out the rest on the clock.
        timer = setTimeout(pump, Math.max(0, left - 1));
        return;
      }
      while (nowNs() < p.dueNs) { /* spin at most ~1 ms */ }
      heap.pop();
      p.via.send(p.data, p.to);
    }
  };
  const schedule = (p: Pending): void => {
    heap.push(p);
    if (timer !== null) clearTimeout(timer);
    pump();
  };

  const rxNsOf = (d: { rxUnixSec: number; rxUnixNsec: number }): bigint =>
    BigInt(d.rxUnixSec) * 1_000_000_000n + BigInt(d.rxUnixNsec);

  front.serve((dg, reply) => {
    reply.length = 0;
    const client = { ...dg.peer };
    sentBy.set(client.port, (sentBy.get(client.port) ?? 0) + 1);
    const key = `${client.address}:${client.port}`;
    let back = backs.get(key);
    if (back === undefined) {
      const b = new UdpTransport({ address: "127.0.0.1", port: 0 });
      back = b;
      backs.set(key, b);
      b.serve((r, rs) => {
        rs.length = 0;
        const rx = rxNsOf(r);
        const d = drawDelay(law("down", rx), rng);
        if (d === null) {
          lostBy.down++;
          return;
        }
        schedule({
          dueNs: rx + BigInt(Math.round(d * 1e9)),
          seq: seq++,
          data: r.data.slice(),
          via: front,
          to: client,
        });
      });
    }
    const rx = rxNsOf(dg);
    const d = drawDelay(law("up", rx), rng);
    if (d === null) {
      lostBy.up++;
      return;
    }
    schedule({
      dueNs: rx + BigInt(Math.round(d * 1e9)),
      seq: seq++,
      data: dg.data.slice(),
      via: back,
      to: server,
    });
  });

  setInterval(() => {
    const doc = { sentByPort: Object.fromEntries(sentBy), lost: lostBy };
    Deno.writeTextFileSync(`${statsFile}.tmp`, JSON.stringify(doc));
    Deno.renameSync(`${statsFile}.tmp`, statsFile!);
  }, 1000);
  console.log("relay ready");
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
