// One server worker thread (`--server-threads`): its own SO_REUSEPORT sockets on the daemon's
// listen addresses, its own Server and packet path over the restrict list, MRU list and sysstats
// counters the main thread shares; it answers what the path says to answer and hands every other
// verdict ("core", "forward") to the main thread, which acts on it without judging it again.

import { capGet, capSet, geteuid } from "../../ffi/privileges.ts";
import { NullClock } from "../clock/null_clock.ts";
import { VirtualClock } from "../clock/virtual_clock.ts";
import type { ReceivedDatagram, ReplySlot, SocketAddress } from "../net/transport.ts";
import { type RealtimeReader, realtimeReaderOf, UdpTransport } from "../net/udp_transport.ts";
import { MruList } from "../proto/access/mru.ts";
import { type RestrictEntry, RestrictList } from "../proto/access/restrict.ts";
import { IpWords } from "../proto/ip.ts";
import { PacketIn, PacketPath } from "../proto/packet_path.ts";
import { Server, unsynchronisedState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import { type AuthSettings, DaemonAuth, NO_AUTH, threadDaemonCrypto } from "./daemon_auth.ts";
import type { NtsMasterKey } from "../proto/nts/cookies.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { NtsServer } from "../proto/nts/nts_server.ts";
import { CryptoRng } from "./crypto_rng.ts";
import { type ForwardedDatagram, readDatagram } from "./packet_input.ts";
import { SharedServedState } from "./served_state.ts";

export type { ForwardedDatagram } from "./packet_input.ts";

/** Worker `name` prefix: main.ts runs the worker code when it starts inside such a worker. */
export const SERVER_WORKER_NAME = "horae-server-thread";

/** True inside a Deno Worker started by the daemon as a server thread. */
export function isServerWorkerContext(): boolean {
  const g = globalThis as { WorkerGlobalScope?: unknown; name?: unknown };
  return g.WorkerGlobalScope !== undefined && typeof g.name === "string" &&
    g.name.startsWith(SERVER_WORKER_NAME);
}

/** What the main thread tells a new worker. */
export interface ServerWorkerInit {
  kind: "init";
  /** Thread number (1..N-1; the main thread is 0). */
  thread: number;
  /** The main thread's bound listen addresses (real ports), in the daemon's order. */
  addresses: SocketAddress[];
  /** The {@link SharedServedState} buffer. */
  shared: SharedArrayBuffer;
  /** One Int32: forwarded datagrams the main thread has processed (flow control). */
  credit: SharedArrayBuffer;
  /** The restrict list's entries (plain data). */
  restrict: RestrictEntry[];
  /** The shared MRU list, or null for none. */
  mru: SharedArrayBuffer | null;
  /** The shared sysstats counters (this thread writes block `thread`). */
  sysStats: SharedArrayBuffer;
  /** `enable monitor`. */
  monitor: boolean;
  /** `enable mode7`: mode 7 requests are handed to the main thread (absent: dropped here). */
  mode7?: boolean;
  /** The keys (plain data: each thread prepares its own) and `enable auth` (default: none). */
  auth?: AuthSettings;
  /** Replies are on observe mode's virtual clock (the published correction applies). */
  useVirtual: boolean;
  /** Precision (log2 s) for the state used before the first publication. */
  precisionLog2: number;
  /** Milliseconds between counter reports. */
  statsIntervalMs: number;
  /** Forwarded datagrams not yet processed by the main thread beyond which more are dropped. */
  maxInFlight: number;
  /** Accept the "crash" message (tests of the restart logic only). */
  testHooks: boolean;
  /** NTS cookie master keys: this thread answers NTS requests itself (absent: no NTS yet). */
  nts?: NtsKeysMessage;
}

/** The NTS cookie master keys, as the main thread relays them (plain data). */
export interface NtsKeysMessage {
  keys: NtsMasterKey[];
  currentId: number;
}

/** Messages to a worker. */
export type ToServerWorker =
  | ServerWorkerInit
  | { kind: "stop" }
  /** The restrict list changed (sources mobilised, own addresses). */
  | { kind: "restrict"; entries: RestrictEntry[] }
  /** `enable monitor` / `disable monitor`. */
  | { kind: "monitor"; on: boolean }
  /** NTS master keys loaded or rotated (the thread answers NTS requests with them). */
  | ({ kind: "ntsKeys" } & NtsKeysMessage)
  /** Tests: throw an uncaught error ("uncaught") or fail in the packet path ("handler"). */
  | { kind: "crash"; how: "uncaught" | "handler" };

/**
 * A worker's own counters (cumulative since it started); what it received and dropped is in the
 * shared sysstats block.
 */
export interface ServerThreadCounters {
  /** Server replies it sent (crypto-NAKs included, kisses not: sysstats count those). */
  replied: number;
  /** Replies that were a crypto-NAK. */
  cryptoNak: number;
  /** Datagrams handed to the main thread. */
  forwarded: number;
  /** Datagrams dropped because the main thread had too many of its forwards queued. */
  forwardDropped: number;
}

/** Messages from a worker. */
export type FromServerWorker =
  | { kind: "ready"; kernelTimestamps: boolean[]; fds: number[] }
  | ForwardedDatagram
  | { kind: "stats"; counters: ServerThreadCounters }
  | { kind: "failed"; message: string }
  | { kind: "stopped"; counters: ServerThreadCounters };

/** Posts a message to the main thread (transferring `transfer`). */
export type PostToMain = (message: FromServerWorker, transfer?: Transferable[]) => void;

/**
 * The packet logic of a server worker, free of threads: runs the packet path with its own
 * Server (state re-read from the shared buffer whenever its version moves), answers "reply"
 * verdicts, and posts the others to the main thread.
 */
export class ServerThread {
  readonly thread: number;
  readonly #server: Server;
  readonly #path: PacketPath;
  readonly #shared: SharedServedState;
  readonly #credit: Int32Array;
  readonly #post: PostToMain;
  readonly #maxInFlight: number;
  readonly #virtual: VirtualClock | null;
  readonly #in = new PacketIn();
  readonly #dst: IpWords[];
  readonly #dstPort: number[];
  #version = -1;
  #forwarded = 0;
  #forwardDropped = 0;
  #ntsKeys: NtsServerKeys | null = null;
  /** Set by the "handler" crash hook: the next datagram throws. */
  failNext = false;

  /** Builds the worker's logic from its init message. */
  constructor(init: ServerWorkerInit, post: PostToMain) {
    this.thread = init.thread;
    this.#server = new Server(unsynchronisedState(init.precisionLog2));
    this.#path = new PacketPath({
      server: this.#server,
      restrict: RestrictList.fromEntries(init.restrict),
      mru: init.mru === null ? null : MruList.attach(init.mru, init.thread),
      counters: SysStats.attach(init.sysStats).counters(init.thread),
      monitor: init.monitor,
      mode7: init.mode7 ?? false,
      // Its own key list and verifier: signed requests are answered here, as on the main thread.
      authenticator: new DaemonAuth(init.auth ?? NO_AUTH).authenticator,
      authRequired: (init.auth ?? NO_AUTH).required,
      serverThread: true,
    });
    this.#shared = new SharedServedState(init.shared);
    this.#credit = new Int32Array(init.credit, 0, 1);
    this.#post = post;
    this.#maxInFlight = init.maxInFlight;
    this.#virtual = init.useVirtual ? new VirtualClock(new NullClock(), 0) : null;
    this.#dst = init.addresses.map((a) => {
      const w = new IpWords();
      w.parse(a.address.replace(/%.*$/, ""));
      return w;
    });
    this.#dstPort = init.addresses.map((a) => a.port);
    if (init.nts !== undefined) this.setNtsKeys(init.nts);
    this.sync();
  }

  /**
   * Takes the NTS master keys (first time: this thread starts answering NTS requests itself,
   * with its own AEAD contexts and nonce source).
   */
  setNtsKeys(m: NtsKeysMessage): void {
    if (this.#ntsKeys === null) {
      const crypto = threadDaemonCrypto().crypto;
      this.#ntsKeys = new NtsServerKeys(crypto, new CryptoRng());
      this.#ntsKeys.setKeys(m.keys, m.currentId);
      this.#path.setNts(new NtsServer(this.#ntsKeys, crypto, new CryptoRng()));
    } else {
      this.#ntsKeys.setKeys(m.keys, m.currentId);
    }
  }

  /** The transports' clock (observe mode's virtual time), or undefined for the system clock. */
  get readClock(): RealtimeReader | undefined {
    const v = this.#virtual;
    return v === null ? undefined : realtimeReaderOf(() => v.now());
  }

  /** Takes over a newer published state, if any (cheap when nothing changed). */
  sync(): void {
    const version = this.#shared.version();
    if (version === this.#version || (version & 1) !== 0) return;
    const r = this.#shared.read();
    if (r === null) return;
    this.#version = r.version;
    this.#server.setState(r.state);
    if (this.#virtual !== null) {
      this.#virtual.setModel(r.virtual ?? { anchor: null, phaseSec: 0, rate: 0, slewLeftSec: 0 });
    }
  }

  /** Replaces the restrict list (sent by the main thread when it changes). */
  setRestrict(entries: RestrictEntry[]): void {
    this.#path.setRestrict(RestrictList.fromEntries(entries));
  }

  /** `enable monitor` / `disable monitor`. */
  setMonitor(on: boolean): void {
    this.#path.setMonitor(on);
  }

  /** Handles one datagram from listen address `socket`. */
  handle(socket: number, d: ReceivedDatagram, slot: ReplySlot): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("server thread: induced failure (test hook)");
    }
    this.sync();
    const p = this.#in;
    readDatagram(p, d, this.#virtual);
    p.dst.copy(this.#dst[socket]!);
    p.dstPort = this.#dstPort[socket]!;
    const v = this.#path.handle(p, slot);
    if (v.kind === "reply" || v.kind === "drop") return;
    if (this.#forwarded - Atomics.load(this.#credit, 0) >= this.#maxInFlight) {
      this.#forwardDropped++;
      this.#path.forwardDropped();
      return;
    }
    this.#forwarded++;
    const data = d.data.slice();
    const peer = d.peer;
    this.#post({
      kind: "packet",
      socket,
      data,
      peer: { family: peer.family, address: peer.address, port: peer.port },
      rxUnixSec: d.rxUnixSec,
      rxUnixNsec: d.rxUnixNsec,
      rxKernel: d.rxKernel,
      verdict: v.kind,
      forward: v.forward,
      restrictFlags: v.restrictFlags,
      keyId: v.keyId,
    }, [data.buffer]);
  }

  /** Cumulative counters. */
  counters(): ServerThreadCounters {
    const st = this.#server.stats();
    return {
      replied: st.replied,
      cryptoNak: st.cryptoNak,
      forwarded: this.#forwarded,
      forwardDropped: this.#forwardDropped,
    };
  }
}

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  close(): void;
}

function counterKey(c: ServerThreadCounters): string {
  return `${c.replied} ${c.forwarded} ${c.forwardDropped}`;
}

/**
 * Drops every capability of this (worker) thread once its sockets are bound, when the process no
 * longer runs as root: a thread inherits its creator's sets, and only the main JavaScript thread
 * may keep CAP_SYS_TIME after `-u`. Under euid 0 the thread keeps them: a later `-u` makes glibc
 * repeat setgroups/setresgid/setresuid on every thread, and a thread lacking CAP_SETUID or
 * CAP_SETGID would fail there, which glibc answers with abort(). That switch empties the sets of
 * every thread but the main one anyway.
 */
function dropThreadCapabilities(): void {
  if (geteuid() === 0) return;
  const c = capGet();
  if (c.permitted !== 0n || c.effective !== 0n || c.inheritable !== 0n) {
    capSet({ effective: 0n, permitted: 0n, inheritable: 0n });
  }
}

/**
 * The worker's main program: waits for its init message, opens one SO_REUSEPORT socket per
 * listen address, reports "ready" (with the sockets' descriptors, so the main thread can close
 * them if this thread dies abruptly), serves until "stop", then reports its final counters.
 * A socket failure ends the worker with "failed" after closing every socket.
 */
export async function runServerWorker(): Promise<void> {
  const scope = globalThis as unknown as WorkerScope;
  const init = await new Promise<ServerWorkerInit>((resolve) => {
    scope.onmessage = (e) => {
      const m = e.data as ToServerWorker;
      if (m?.kind === "init") resolve(m);
    };
  });
  const post: PostToMain = (m, transfer) => scope.postMessage(m, transfer ?? []);
  const transports: UdpTransport[] = [];
  const fds: number[] = [];
  let thread: ServerThread;
  try {
    thread = new ServerThread(init, post);
    const clock = thread.readClock;
    for (const a of init.addresses) {
      const t = new UdpTransport({ address: a, reusePort: true, ...(clock ? { clock } : {}) });
      transports.push(t);
      fds.push(t.fd);
    }
    dropThreadCapabilities();
  } catch (e) {
    for (const t of transports) t.close();
    post({ kind: "failed", message: (e as Error).message });
    scope.close();
    return;
  }
  post({ kind: "ready", kernelTimestamps: transports.map((t) => t.kernelTimestamps), fds });
  let stopping = false;
  let failure: string | null = null;
  const closeAll = () => {
    for (const t of transports) t.close();
  };
  scope.onmessage = (e) => {
    const m = e.data as ToServerWorker;
    if (m?.kind === "stop") {
      stopping = true;
      closeAll();
    } else if (m?.kind === "restrict") {
      thread.setRestrict(m.entries);
    } else if (m?.kind === "monitor") {
      thread.setMonitor(m.on);
    } else if (m?.kind === "ntsKeys") {
      thread.setNtsKeys(m);
    } else if (m?.kind === "crash" && init.testHooks) {
      if (m.how === "handler") thread.failNext = true;
      else throw new Error("server thread: induced uncaught error (test hook)");
    }
  };
  let reported = "";
  const timer = setInterval(() => {
    const c = thread.counters();
    const key = counterKey(c);
    if (key === reported) return;
    reported = key;
    post({ kind: "stats", counters: c });
  }, init.statsIntervalMs);
  await Promise.all(
    transports.map((t, i) =>
      t.serve((d, slot) => thread.handle(i, d, slot)).catch((e) => {
        failure ??= `${init.addresses[i]?.address} port ${init.addresses[i]?.port}: ${
          (e as Error).message
        }`;
        closeAll();
      })
    ),
  );
  clearInterval(timer);
  if (!stopping) post({ kind: "failed", message: failure ?? "sockets closed" });
  post({ kind: "stopped", counters: thread.counters() });
  scope.close();
}
