// The delaying UDP relay of `deno task bench:accuracy` (issue 18, item 3). These kernels have no
// netem qdisc, so this relay, run in the server's network namespace, stands between NTP clients
// and their server and delays each direction by its own model (udp_relay_shaping.ts). Each delay
// is timed from the kernel's receive timestamp (SO_TIMESTAMPNS), so the relay's own wake-up
// latency does not add to it; the last 0.4 ms before a send are busy-waited, and the loop waits in a blocking poll() on
// its own thread (it is a process of its own).
// Replies are matched to the request they answer by the NTP origin timestamp (RFC 5905: a
// server copies the request's transmit timestamp into the reply's origin field), so one upstream
// socket serves every client and every client port.
// Owned by the bench:accuracy engineer of issue 18 (item 3).

import {
  bindSocket,
  closeSocket,
  decodeSockaddr,
  encodeSockaddrIn,
  MmsgBatch,
  MSG_DONTWAIT,
  openUdpSocket,
  PollSet,
  receiveBatch,
  sendTo,
  setSocketOption,
  SO_TIMESTAMPNS,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { realtime } from "../../ffi/libc.ts";
import { SeededRng } from "../../lib/proto/rng.ts";
import { DelayQueue, type Direction, Shaper, type Shaping } from "./udp_relay_shaping.ts";

/** An IPv4 address and port. */
export interface Endpoint {
  address: string;
  port: number;
}

/** Options of a {@link UdpRelay}. */
export interface RelayOptions {
  /** Where clients send (the relay answers from here too). */
  listen: Endpoint;
  /** The real server. */
  server: Endpoint;
  /** Local address of the socket towards the server (default 0.0.0.0, any port). */
  upstreamBind?: string;
  /** The delay model. */
  shaping: Shaping;
  /** Seed of the model's generators. */
  seed: number;
  /**
   * Longest blocking wait of the idle loop (ms, default 50). The loop waits in poll() on its own
   * thread, so a datagram wakes it within the kernel's scheduling latency; a wait on a helper
   * thread would add the event loop's latency (a millisecond or more on a busy machine), which
   * is longer than the delays being made.
   */
  idleBlockMs?: number;
  /** The event loop (timers, signals, stop()) gets a turn at least this often (ms, default 500). */
  yieldEveryMs?: number;
}

/** Counters per client address. */
export interface ClientCounts {
  /** Datagrams received from this address: the packets the client sent. */
  requests: number;
  /** Requests dropped by the model. */
  requestsDropped: number;
  /** Replies from the server to this client. */
  replies: number;
  /** Replies dropped by the model. */
  repliesDropped: number;
  /** Replies delivered. */
  repliesSent: number;
}

/** What the relay has done. */
export interface RelayStats {
  /** Unix time the relay's clock started (s); the shaping's change times count from it. */
  startUnixSec: number;
  /** Seconds run. */
  elapsedSec: number;
  clients: Record<string, ClientCounts>;
  /** Packets held longer to reorder them, drawn in congested periods, cut to maxDelaySec. */
  reordered: number;
  congested: number;
  capped: number;
  /** Datagrams shorter than an NTP header (dropped). */
  malformed: number;
  /** Replies that answer no request the relay forwarded (dropped). */
  unmatched: number;
  /** Datagrams without a kernel receive timestamp (timed from when they were read). */
  noTimestamp: number;
  /** Sends that failed. */
  sendErrors: number;
  /** Sends, and how late they left after their due time (µs): mean, largest, over 100 µs. */
  sends: number;
  lateMeanUs: number;
  lateMaxUs: number;
  lateOver100Us: number;
  /** Most packets held at once. */
  heldMax: number;
  /** How late each send left (µs) by direction, in order, the first 20,000 of each. */
  lateUs: { up: number[]; down: number[] };
}

interface Held {
  fd: number;
  to: Uint8Array;
  data: Uint8Array;
  dueNs: number;
  client: string;
  dir: Direction;
}

interface Pending {
  to: Uint8Array;
  client: string;
  atNs: number;
}

/** How long a forwarded request waits for its reply before it is forgotten (s). */
const PENDING_TTL_SEC = 30;
/** Forgotten requests are swept when this many wait. */
const PENDING_SWEEP_AT = 4096;
/**
 * Within this of a send, the loop spins instead of sleeping (ns): poll() counts whole
 * milliseconds and may wake a little late.
 */
const SPIN_NS = 0.4e6;
/** The loop yields to the event loop only when the next send is at least this far (ns). */
const YIELD_MIN_WAIT_NS = 20e6;

function parseIpv4(s: string): number[] {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    throw new RangeError(`not an IPv4 address: ${s}`);
  }
  return p;
}

function sockaddr(e: Endpoint): Uint8Array {
  const out = new Uint8Array(16);
  encodeSockaddrIn(out, parseIpv4(e.address), e.port);
  return out;
}

function key8(b: Uint8Array, at: number): string {
  let s = "";
  for (let k = at; k < at + 8; k++) s += b[k]!.toString(16).padStart(2, "0");
  return s;
}

/**
 * The relay. `run()` forwards until `stop()`; `stats()` may be read at any time.
 */
export class UdpRelay {
  readonly #opts: RelayOptions;
  readonly #shaper: Shaper;
  readonly #queue = new DelayQueue<Held>();
  readonly #pending = new Map<string, Pending>();
  readonly #clients = new Map<string, ClientCounts>();
  #stopped = false;
  #t0Sec = 0;
  #t0Nsec = 0;
  #started = false;
  #counts = {
    reordered: 0,
    congested: 0,
    capped: 0,
    malformed: 0,
    unmatched: 0,
    noTimestamp: 0,
    sendErrors: 0,
    sends: 0,
    lateSumNs: 0,
    lateMaxNs: 0,
    lateOver100Us: 0,
    heldMax: 0,
  };
  #ts = new Float64Array(2);
  #lateUs: { up: number[]; down: number[] } = { up: [], down: [] };
  #lastNs = 0;

  constructor(opts: RelayOptions) {
    this.#opts = opts;
    this.#shaper = new Shaper(opts.shaping, {
      up: new SeededRng(opts.seed * 2 + 1),
      down: new SeededRng(opts.seed * 2 + 2),
    });
    [this.#t0Sec, this.#t0Nsec] = realtime();
  }

  /** Nanoseconds since the relay's start on CLOCK_REALTIME (the kernel timestamps' clock). */
  #nowNs(): number {
    const [s, ns] = realtime();
    return (s - this.#t0Sec) * 1e9 + (ns - this.#t0Nsec);
  }

  /** Asks `run()` to return (held packets are not sent). */
  stop(): void {
    this.#stopped = true;
  }

  /** Forwards until `stop()`. Binds the sockets first; throws when it cannot. */
  async run(onReady?: () => void): Promise<void> {
    if (this.#started) throw new Error("UdpRelay.run() called twice");
    this.#started = true;
    const lfd = openUdpSocket(4);
    let ufd = -1;
    try {
      setSocketOption(lfd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
      bindSocket(lfd, sockaddr(this.#opts.listen));
      ufd = openUdpSocket(4);
      setSocketOption(ufd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
      bindSocket(ufd, sockaddr({ address: this.#opts.upstreamBind ?? "0.0.0.0", port: 0 }));
      const server = sockaddr(this.#opts.server);
      const batch = new MmsgBatch({ count: 16, bufferBytes: 2048, controlBytes: 64 });
      const poll = new PollSet([lfd, ufd]);
      onReady?.();
      const idleBlockMs = this.#opts.idleBlockMs ?? 50;
      const yieldEveryNs = (this.#opts.yieldEveryMs ?? 500) * 1e6;
      let lastYieldNs = this.#nowNs();
      while (!this.#stopped) {
        this.#drain(lfd, batch, (data, from, client, rxNs) => {
          this.#client(client).requests++;
          if (data.length < 48) return void this.#counts.malformed++;
          this.#remember(key8(data, 40), { to: from, client, atNs: rxNs });
          this.#schedule("up", data, ufd, server, client, rxNs);
        });
        this.#drain(ufd, batch, (data, _from, _c, rxNs) => {
          if (data.length < 48) return void this.#counts.malformed++;
          const k = key8(data, 24);
          const p = this.#pending.get(k);
          if (p === undefined) return void this.#counts.unmatched++;
          this.#pending.delete(k);
          this.#client(p.client).replies++;
          this.#schedule("down", data, lfd, p.to, p.client, rxNs);
        });
        this.#sendDue();
        const due = this.#queue.peekDueNs();
        const now = this.#nowNs();
        const waitNs = due === null ? Infinity : due - now;
        if (waitNs > YIELD_MIN_WAIT_NS && now - lastYieldNs >= yieldEveryNs) {
          // Nothing due soon: let timers and signal handlers run.
          lastYieldNs = now;
          await new Promise((r) => setTimeout(r, 0));
        } else if (waitNs > SPIN_NS) {
          // Wakes early when a datagram comes; sleeps to within SPIN_NS of the next send.
          poll.waitBlocking(Math.min(idleBlockMs, Math.floor((waitNs - SPIN_NS) / 1e6)));
        }
        // Otherwise spin: the next pass reads any new datagram and sends what is due.
      }
    } finally {
      closeSocket(lfd);
      if (ufd >= 0) closeSocket(ufd);
    }
  }

  #client(c: string): ClientCounts {
    let x = this.#clients.get(c);
    if (x === undefined) {
      x = { requests: 0, requestsDropped: 0, replies: 0, repliesDropped: 0, repliesSent: 0 };
      this.#clients.set(c, x);
    }
    return x;
  }

  #remember(k: string, p: Pending): void {
    if (this.#pending.size >= PENDING_SWEEP_AT) {
      const old = p.atNs - PENDING_TTL_SEC * 1e9;
      for (const [key, v] of this.#pending) if (v.atNs < old) this.#pending.delete(key);
      // Still full (a flood): forget the oldest half rather than grow without bound.
      if (this.#pending.size >= PENDING_SWEEP_AT) {
        let n = this.#pending.size / 2;
        for (const key of this.#pending.keys()) {
          if (n-- <= 0) break;
          this.#pending.delete(key);
        }
      }
    }
    this.#pending.set(k, p);
  }

  #drain(
    fd: number,
    batch: MmsgBatch,
    take: (data: Uint8Array, from: Uint8Array, client: string, rxNs: number) => void,
  ): void {
    // Bounded: at most 64 batches per pass, so sends stay on time under a flood.
    for (let round = 0; round < 64; round++) {
      batch.resetReceive();
      const n = receiveBatch(fd, batch, batch.count, MSG_DONTWAIT);
      if (n <= 0) return;
      for (let i = 0; i < n; i++) {
        const data = batch.rxBuffer(i).slice(0, batch.rxLength(i));
        const nameLength = batch.rxNameLength(i);
        const from = batch.rxName(i).slice(0, nameLength);
        const addr = decodeSockaddr(from, nameLength);
        const client = addr === null ? "?" : [...addr.addr].join(".");
        let rxNs: number;
        if (batch.rxTimestamp(i, this.#ts)) {
          rxNs = (this.#ts[0]! - this.#t0Sec) * 1e9 + (this.#ts[1]! - this.#t0Nsec);
        } else {
          this.#counts.noTimestamp++;
          rxNs = this.#nowNs();
        }
        take(data, from, client, rxNs);
      }
      if (n < batch.count) return;
    }
  }

  #schedule(
    dir: Direction,
    data: Uint8Array,
    fd: number,
    to: Uint8Array,
    client: string,
    rxNs: number,
  ): void {
    const d = this.#shaper.decide(dir, rxNs / 1e9);
    const c = this.#client(client);
    if (d.drop) {
      if (dir === "up") c.requestsDropped++;
      else c.repliesDropped++;
      return;
    }
    if (d.reordered) this.#counts.reordered++;
    if (d.congested) this.#counts.congested++;
    if (d.capped) this.#counts.capped++;
    const dueNs = rxNs + d.delaySec * 1e9;
    this.#queue.push(dueNs, { fd, to, data, dueNs, client, dir });
    this.#counts.heldMax = Math.max(this.#counts.heldMax, this.#queue.size);
  }

  #sendDue(): void {
    const now = this.#nowNs();
    this.#lastNs = now;
    for (let h = this.#queue.popDue(now); h !== null; h = this.#queue.popDue(now)) {
      const r = sendTo(h.fd, h.data, h.to);
      const late = this.#nowNs() - h.dueNs;
      const k = this.#counts;
      if (r < 0) k.sendErrors++;
      else if (h.dir === "down") this.#client(h.client).repliesSent++;
      k.sends++;
      k.lateSumNs += late;
      k.lateMaxNs = Math.max(k.lateMaxNs, late);
      if (late > 100e3) k.lateOver100Us++;
      const list = this.#lateUs[h.dir];
      if (list.length < 20_000) list.push(Math.round(late / 100) / 10);
    }
  }

  /** The counters so far. */
  stats(): RelayStats {
    const k = this.#counts;
    return {
      startUnixSec: this.#t0Sec + this.#t0Nsec / 1e9,
      elapsedSec: this.#lastNs / 1e9,
      clients: Object.fromEntries([...this.#clients].map(([a, c]) => [a, { ...c }])),
      reordered: k.reordered,
      congested: k.congested,
      capped: k.capped,
      malformed: k.malformed,
      unmatched: k.unmatched,
      noTimestamp: k.noTimestamp,
      sendErrors: k.sendErrors,
      sends: k.sends,
      lateMeanUs: k.sends === 0 ? 0 : k.lateSumNs / k.sends / 1e3,
      lateMaxUs: k.lateMaxNs / 1e3,
      lateOver100Us: k.lateOver100Us,
      heldMax: k.heldMax,
      lateUs: { up: [...this.#lateUs.up], down: [...this.#lateUs.down] },
    };
  }
}

function endpoint(s: string, what: string): Endpoint {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new RangeError(`${what}: expected ADDRESS:PORT, got ${s}`);
  parseIpv4(m[1]!);
  return { address: m[1]!, port: Number(m[2]) };
}

/**
 * Command line: `udp_relay.ts --listen A:P --server A:P --shaping FILE.json [--seed N]
 * [--upstream-bind A] [--stats FILE] [--max-sec S]`. Runs until SIGTERM/SIGINT or `--max-sec`
 * (default 7200), writing the stats as JSON to `--stats` every 2 s and at exit.
 */
async function main(args: string[]): Promise<number> {
  const opt = new Map<string, string>();
  for (let k = 0; k < args.length; k += 2) {
    const name = args[k]!;
    const value = args[k + 1];
    if (!name.startsWith("--") || value === undefined) {
      throw new RangeError(`usage: udp_relay.ts --listen A:P --server A:P --shaping FILE ...`);
    }
    opt.set(name.slice(2), value);
  }
  const shapingFile = opt.get("shaping");
  if (!opt.has("listen") || !opt.has("server") || shapingFile === undefined) {
    throw new RangeError("--listen, --server and --shaping are required");
  }
  const relay = new UdpRelay({
    listen: endpoint(opt.get("listen")!, "--listen"),
    server: endpoint(opt.get("server")!, "--server"),
    upstreamBind: opt.get("upstream-bind") ?? "0.0.0.0",
    shaping: JSON.parse(await Deno.readTextFile(shapingFile)) as Shaping,
    seed: Number(opt.get("seed") ?? "1"),
  });
  const statsPath = opt.get("stats");
  const write = () => {
    if (statsPath === undefined) return;
    Deno.writeTextFileSync(`${statsPath}.tmp`, JSON.stringify(relay.stats()));
    Deno.renameSync(`${statsPath}.tmp`, statsPath);
  };
  const maxSec = Number(opt.get("max-sec") ?? "7200");
  const stop = () => relay.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const timer = setTimeout(stop, maxSec * 1000);
  const tick = setInterval(write, 2000);
  try {
    // deno-lint-ignore no-console
    await relay.run(() => console.log("relay ready"));
  } finally {
    clearTimeout(timer);
    clearInterval(tick);
    write();
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    // deno-lint-ignore no-console
    console.error(`udp_relay: ${e instanceof Error ? e.message : e}`);
    Deno.exit(e instanceof RangeError ? 2 : 1);
  }
}
