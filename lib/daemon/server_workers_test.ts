// Server threads: the shared state, the worker's packet logic against the main thread's, and
// real Deno Workers on SO_REUSEPORT sockets (loopback, ephemeral ports).

import assert from "node:assert/strict";
import { Signal } from "../../ffi/signals.ts";
import { openLibc } from "../../ffi/libc.ts";
import type { Clock } from "../clock/clock.ts";
import { NullClock } from "../clock/null_clock.ts";
import { getSocketName } from "../../ffi/socket.ts";
import { openUdpTransport } from "../net/open_transport.ts";
import { sockaddrToSocketAddress } from "../net/socket_address.ts";
import type { ReceivedDatagram, ReplySlot, SocketAddress } from "../net/transport.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import { fromTimestamp, fromUnix, type NtpTime, toUnix } from "../proto/ntp_time.ts";
import { MruList } from "../proto/access/mru.ts";
import { RES_IGNORE, type RestrictEntry, RestrictList } from "../proto/access/restrict.ts";
import { emptyReplyBuffer, PacketIn, PacketPath } from "../proto/packet_path.ts";
import { Server, type SystemState } from "../proto/server.ts";
import { SysStats } from "../proto/sys_stats.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import { readDatagram } from "./packet_input.ts";
import { PacketRouter } from "./packet_router.ts";
import { SharedServedState } from "./served_state.ts";
import { type FromServerWorker, ServerThread, type ServerWorkerInit } from "./server_worker.ts";
import { ServerWorkers, type ServerWorkersOptions } from "./server_workers.ts";
import { VirtualClock } from "../clock/virtual_clock.ts";

/** main.ts: server threads start from the main module, which branches to the worker code. */
const MAIN_MODULE = new URL("../../main.ts", import.meta.url);

const STATE_A: SystemState = {
  leap: 0,
  stratum: 3,
  precisionLog2: -22,
  rootDelaySec: 0.0123,
  rootDispersionSec: 0.0045,
  refid: 0xc0000201,
  referenceTime: fromUnix(1_800_000_000, 250_000_000),
};

const STATE_B: SystemState = {
  leap: 1,
  stratum: 5,
  precisionLog2: -20,
  rootDelaySec: 0.05,
  rootDispersionSec: 0.02,
  refid: 0x7f7f0100,
  referenceTime: fromUnix(1_800_000_100, 1),
};

function quietLog(lines: string[] = []) {
  const put = (m: string) => void lines.push(m);
  return { debug: put, info: put, warn: put, error: put };
}

function request(transmitLow = 1): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = 0x23;
  b[2] = 6;
  new DataView(b.buffer).setUint32(40, 0xe8000000);
  new DataView(b.buffer).setUint32(44, transmitLow);
  return b;
}

function datagram(data: Uint8Array, sec: number, nsec: number, kernel = true): ReceivedDatagram {
  return {
    data,
    peer: { family: 4, address: "127.0.0.9", port: 4567 },
    rxTime: fromUnix(sec, nsec),
    rxKernel: kernel,
    rxUnixSec: sec,
    rxUnixNsec: nsec,
  };
}

function slot(): ReplySlot & { buffer: Uint8Array } {
  return emptyReplyBuffer(64);
}

function threadInit(shared: SharedServedState, over: Partial<ServerWorkerInit> = {}) {
  return {
    kind: "init" as const,
    thread: 1,
    addresses: [
      { family: 4 as const, address: "127.0.0.1", port: 123 },
      { family: 4 as const, address: "127.0.0.1", port: 1123 },
    ],
    shared: shared.buffer,
    credit: new SharedArrayBuffer(4),
    restrict: [],
    mru: null,
    sysStats: SysStats.create(2, 0, true).buffer as SharedArrayBuffer,
    monitor: true,
    useVirtual: false,
    precisionLog2: -20,
    statsIntervalMs: 1000,
    maxInFlight: 4,
    testHooks: false,
    ...over,
  };
}

/** The main thread's answer to `d`: its own packet path over `server`, as the router runs it. */
function mainAnswer(
  server: Server,
  d: ReceivedDatagram,
  out: ReplySlot,
  virtual: VirtualClock | null,
): void {
  const path = new PacketPath({
    server,
    restrict: new RestrictList(),
    mru: null,
    counters: SysStats.create(1, 0).counters(0),
  });
  const p = new PacketIn();
  readDatagram(p, d, virtual);
  assert.equal(path.handle(p, out).kind, "reply");
}

Deno.test("SharedServedState round-trips the state, era-extended times and the virtual model", () => {
  const s = new SharedServedState();
  assert.equal(s.read(), null, "nothing published yet");
  const later: SystemState = { ...STATE_A, referenceTime: (1n << 64n) + 12345n };
  const model = { anchor: -(1n << 70n) + 7n, phaseSec: 1.5e-3, rate: -2e-6, slewLeftSec: 3e-4 };
  s.publish(later, model);
  const other = new SharedServedState(s.buffer);
  const r = other.read();
  assert.ok(r !== null);
  assert.deepEqual(r.state, later);
  assert.deepEqual(r.virtual, model);
  assert.equal(r.version % 2, 0);
  s.publish(STATE_B, { ...model, anchor: null });
  const r2 = other.read()!;
  assert.ok(r2.version > r.version);
  assert.deepEqual(r2.state, STATE_B);
  assert.equal(r2.virtual?.anchor, null);
  s.publish(STATE_B, null);
  assert.equal(other.read()!.virtual, null);
});

Deno.test("ServerThread replies are byte-identical to the main thread's, right after each publish", () => {
  const shared = new SharedServedState();
  shared.publish(STATE_A, null);
  const thread = new ServerThread(threadInit(shared), () => assert.fail("nothing to forward"));
  const main = new Server(STATE_A);
  const cases: [SystemState, number, number][] = [
    [STATE_A, 1_800_000_050, 123_456_789],
    [STATE_B, 1_800_000_200, 999_999_999],
    [{ ...STATE_A, leap: 3, stratum: 16 }, 1_800_000_300, 5],
  ];
  for (const [state, sec, nsec] of cases) {
    shared.publish(state, null);
    main.setState(state);
    const q = request(sec);
    const a = slot();
    const b = slot();
    thread.handle(0, datagram(q, sec, nsec), a);
    mainAnswer(main, datagram(q, sec, nsec), b, null);
    assert.equal(a.length, 48);
    assert.deepEqual(a.buffer.subarray(0, a.length), b.buffer.subarray(0, b.length));
    assert.equal(a.stampTransmit, true);
  }
  assert.equal(thread.counters().replied, 3);
});

Deno.test("ServerThread follows observe mode's virtual clock exactly as the main thread", () => {
  let t = fromUnix(1_800_000_000);
  const inner: Clock = {
    name: "fake",
    canSteer: false,
    precisionLog2: -20,
    now: () => t,
    step: () => {},
    adjust: () => {},
    kernelState: () => null,
  };
  const virtual = new VirtualClock(inner, 0);
  virtual.step(0.25);
  virtual.adjust({ freqPpm: 12, offsetSec: 0.001 });
  t = fromUnix(1_800_000_010);
  const shared = new SharedServedState();
  shared.publish(STATE_A, virtual.model());
  const thread = new ServerThread(
    threadInit(shared, { useVirtual: true }),
    () => assert.fail("nothing to forward"),
  );
  const main = new Server(STATE_A);
  const q = request();
  const a = slot();
  const b = slot();
  thread.handle(0, datagram(q, 1_800_000_020, 500), a);
  mainAnswer(main, datagram(q, 1_800_000_020, 500), b, virtual);
  assert.deepEqual(a.buffer.subarray(0, 48), b.buffer.subarray(0, 48));
  // The receive timestamp really was converted (0.25 s step + slew + frequency).
  const rx = fromTimestamp(new DataView(a.buffer.buffer).getBigUint64(32), t);
  const shift = Number(toUnix(rx).sec) - 1_800_000_020;
  assert.equal(shift, 0);
  assert.ok(toUnix(rx).nsec > 250_000_000, `receive time not converted: ${toUnix(rx).nsec} ns`);
});

Deno.test("ServerThread hands on what the path gives the main thread, with its verdict, bounded", () => {
  const shared = new SharedServedState();
  shared.publish(STATE_A, null);
  const posted: FromServerWorker[] = [];
  const init = threadInit(shared, { maxInFlight: 2 });
  const stats = SysStats.attach(init.sysStats);
  const thread = new ServerThread(init, (m) => void posted.push(m));
  const reply = request();
  reply[0] = 0x24; // mode 4: a server's reply to the daemon's own poll
  const control = new Uint8Array(12);
  control[0] = 0x16; // mode 6
  const s1 = slot();
  thread.handle(1, datagram(reply, 1_800_000_001, 42), s1);
  thread.handle(0, datagram(control, 1_800_000_002, 43, false), slot());
  assert.equal(s1.length, 0, "no reply from the worker itself");
  assert.equal(posted.length, 2);
  const p = posted[0]!;
  assert.ok(p.kind === "packet");
  assert.equal(p.socket, 1);
  assert.deepEqual(p.data, reply);
  assert.deepEqual(p.peer, { family: 4, address: "127.0.0.9", port: 4567 });
  assert.equal(p.rxUnixSec, 1_800_000_001);
  assert.equal(p.rxUnixNsec, 42);
  assert.equal(p.rxKernel, true);
  assert.deepEqual([p.verdict, p.forward, p.restrictFlags], ["core", null, 0]);
  const c0 = posted[1]!;
  assert.ok(c0.kind === "packet");
  assert.deepEqual([c0.verdict, c0.forward], ["forward", "control"]);
  // Two in flight, none processed: the third is dropped and counted, until the main catches up.
  thread.handle(0, datagram(reply, 1, 1), slot());
  assert.equal(posted.length, 2);
  Atomics.add(new Int32Array(init.credit), 0, 2);
  thread.handle(0, datagram(reply, 1, 1), slot());
  assert.equal(posted.length, 3);
  // A malformed request and mode 7 are the worker's to drop and count, as the main thread would.
  thread.handle(0, datagram(request().subarray(0, 20), 1, 1), slot());
  const priv = request();
  priv[0] = 0x27;
  thread.handle(0, datagram(priv, 1, 1), slot());
  assert.equal(posted.length, 3);
  const c = thread.counters();
  assert.deepEqual([c.forwarded, c.forwardDropped, c.replied], [3, 1, 0]);
  const snap = stats.snapshot(0);
  assert.equal(snap.received, 6, "every datagram counted once, in the worker's block");
  assert.deepEqual([snap.drops.too_short, snap.drops.private_mode, snap.drops.overload], [1, 1, 1]);
  assert.deepEqual(stats.threadTotals(1), { received: 6, processed: 0, dropped: 3, kissesSent: 0 });
});

Deno.test("ServerThread: restrict updates from the main thread, and limits shared with it", () => {
  const shared = new SharedServedState();
  shared.publish(STATE_A, null);
  const mru = MruList.create({ maxDepth: 64, shared: true });
  const restrict = new RestrictList();
  assert.equal(restrict.addRule("0.0.0.0", 0, ["limited", "kod"]), null);
  const init = threadInit(shared, {
    restrict: restrict.entries(),
    mru: mru.buffer as SharedArrayBuffer,
  });
  const stats = SysStats.attach(init.sysStats);
  const thread = new ServerThread(init, () => assert.fail("nothing to forward"));
  const main = new PacketPath({
    server: new Server(STATE_A),
    restrict,
    mru,
    counters: stats.counters(0),
  });
  // One client alternating between the threads (as SO_REUSEPORT spreads its ports): the second
  // request, 0.3 s later, breaks the minimum spacing whichever thread sees it.
  const a = slot();
  thread.handle(0, datagram(request(), 1_800_000_000, 0), a);
  assert.equal(a.length, 48);
  const p = new PacketIn();
  readDatagram(p, datagram(request(), 1_800_000_000, 300_000_000), null);
  const v = main.handle(p, slot());
  assert.deepEqual([v.kind, v.kiss], ["reply", "RATE"]);
  const b = slot();
  thread.handle(0, datagram(request(), 1_800_000_000, 600_000_000), b);
  assert.equal(b.length, 0, "kisses are spaced per client across threads too");
  assert.equal(stats.snapshot(0).rateExceeded, 2);
  assert.equal(stats.snapshot(0).kissesSent, 1);
  // The main thread's list now ignores the client: the worker follows once told.
  const ignore: RestrictEntry[] = [...restrict.entries()];
  ignore.push({ ...ignore[0]!, flags: RES_IGNORE });
  const next = RestrictList.fromEntries(ignore);
  thread.setRestrict(next.entries());
  const c = slot();
  thread.handle(0, datagram(request(), 1_800_000_100, 0), c);
  assert.equal(c.length, 0);
  assert.equal(stats.snapshot(0).drops.ignored, 1);
});

/** Sends `q` from `n` fresh sockets (distinct source ports) and collects each reply. */
async function queryFromPorts(port: number, n: number, q: Uint8Array): Promise<Uint8Array[]> {
  const socks = Array.from(
    { length: n },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  try {
    return await Promise.all(socks.map(async (s) => {
      await s.send(q, { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        s.receive().then(([d]) => d),
        // Generous: a loaded 2-core CI machine can hold a thread off the CPU for seconds.
        new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
      ]);
      clearTimeout(timer);
      assert.ok(got !== null, "no reply within 10 s");
      return got;
    }));
  } finally {
    for (const s of socks) s.close();
  }
}

/** Sends `q` from `n` fresh sockets without waiting for anything. */
async function sendFromPorts(port: number, n: number, q: Uint8Array): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    await s.send(q, { transport: "udp", hostname: "127.0.0.1", port });
    s.close();
  }
}

async function until(
  pred: () => boolean,
  ms: number,
  what: string | (() => string),
): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms: ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The reply the main thread's Server gives `q` at the receive time the reply carries. */
function expectedReply(state: SystemState, q: Uint8Array, reply: Uint8Array): Uint8Array {
  const rx: NtpTime = fromTimestamp(
    new DataView(reply.buffer, reply.byteOffset).getBigUint64(32),
    state.referenceTime,
  );
  const out = new Uint8Array(48);
  new Server(state).respond(q, rx, out);
  return out;
}

function assertSameReply(got: Uint8Array, want: Uint8Array): void {
  // Everything but the root dispersion's last unit (the age is computed from a different
  // form of the same receive time) and the transmit timestamp (stamped at send time).
  assert.deepEqual(got.subarray(0, 8), want.subarray(0, 8));
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
  assert.ok(Math.abs(dv(got).getUint32(8) - dv(want).getUint32(8)) <= 1, "root dispersion");
  assert.deepEqual(got.subarray(12, 40), want.subarray(12, 40));
}

/** A main thread socket answering from STATE_A, and one worker on the same address. */
function mainAndWorker(lines: string[], over: Partial<ServerWorkersOptions> = {}) {
  const shared = new SharedServedState();
  shared.publish(STATE_A, null);
  const main = new UdpTransport({ address: "127.0.0.1", reusePort: true });
  const server = new Server(STATE_A);
  const sysStats = SysStats.create(2, 0, true);
  const mru = MruList.create({ maxDepth: 1024, shared: true });
  const router = new PacketRouter({
    server,
    restrict: new RestrictList(),
    mru,
    counters: sysStats.counters(0),
    virtual: null,
  });
  const serving = router.serve(router.addSocket(main, "listen"));
  const workers = new ServerWorkers({
    count: 1,
    addresses: [main.localAddress],
    moduleUrl: MAIN_MODULE,
    shared,
    useVirtual: false,
    precisionLog2: -20,
    log: quietLog(lines),
    restrict: [],
    mru: mru.buffer as SharedArrayBuffer,
    sysStats,
    monitor: true,
    onForwarded: (m) => router.acceptForwarded(m),
    statsIntervalMs: 50,
    // Under `deno test` the first worker waits for main.ts to be type-checked (seconds, cold).
    readyTimeoutMs: 60_000,
    ...over,
  });
  return { shared, main, server, serving, workers, router, sysStats };
}

Deno.test("ServerWorkers: a worker thread answers from the state published just before", async () => {
  const { shared, main, server, serving, workers } = mainAndWorker([]);
  try {
    await workers.start();
    assert.equal(socketsBoundTo(main.localAddress).size, 2, "main socket + the worker's");
    for (const state of [STATE_A, STATE_B, { ...STATE_A, stratum: 7, refid: 0x0a000001 }]) {
      // Publish and query at once: no waiting for the worker to take it over.
      server.setState(state);
      shared.publish(state, null);
      const q = request(state.stratum);
      for (const r of await queryFromPorts(main.localAddress.port, 24, q)) {
        assertSameReply(r, expectedReply(state, q, r));
      }
    }
    // The worker reports its counters every 50 ms: wait for the report that covers every reply.
    const total = () => server.stats().replied + workers.threads()[0]!.replied;
    await until(() => total() >= 72, 3000, "worker counters covering all 72 replies");
    assert.ok(server.stats().replied > 0, "the main thread answered some");
    assert.ok(workers.threads()[0]!.replied > 0, "the worker answered some");
    assert.equal(total(), 72);
  } finally {
    await workers.stop();
    main.close();
    await serving;
  }
  assert.equal(socketsBoundTo(main.localAddress).size, 0, "every socket closed");
});

Deno.test("ServerWorkers: a restrict change reaches the worker; neither thread answers then", async () => {
  const { main, serving, workers, router, sysStats } = mainAndWorker([]);
  try {
    await workers.start();
    assert.equal((await queryFromPorts(main.localAddress.port, 16, request())).length, 16);
    const list = new RestrictList();
    assert.equal(list.addRule("127.0.0.0", 8, ["ignore"]), null);
    router.setRestrict(list);
    workers.setRestrict(list.entries());
    // The message may land after a first datagram or two: wait until the worker counts ignores.
    for (let round = 0; sysStats.snapshot(0).drops.ignored < 16; round++) {
      if (round === 50) assert.fail(`ignored: ${JSON.stringify(sysStats.snapshot(0).drops)}`);
      await sendFromPorts(main.localAddress.port, 16, request());
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(sysStats.threadTotals(1).dropped > 0, "the worker ignored some itself");
    const before = sysStats.snapshot(0).processed;
    await sendFromPorts(main.localAddress.port, 32, request());
    await until(() => sysStats.snapshot(0).drops.ignored >= 48, 3000, "32 more ignored");
    assert.equal(sysStats.snapshot(0).processed, before, "nothing answered");
  } finally {
    await workers.stop();
    main.close();
    await serving;
  }
});

Deno.test("ServerWorkers restart a dead worker without leaking its socket, then give up", async () => {
  const libc = openLibc({ signal: { parameters: ["i32", "pointer"], result: "pointer" } });
  const lines: string[] = [];
  const retired: number[] = [];
  const { main, serving, workers } = mainAndWorker(lines, {
    restartDelayMs: 50,
    maxFailures: 3,
    testHooks: true,
    // The daemon releases a dead worker's hold on the shared MRU list here.
    onRetired: (thread) => void retired.push(thread),
  });
  const previous = libc.symbols.signal(Signal.SIGUSR1, Deno.UnsafePointer.create(1n));
  const served = () => lines.filter((l) => l === "server thread 1 serving").length;
  try {
    await workers.start();
    // 1: an uncaught error: the main thread terminates it and closes the socket it left open.
    workers.crash(1, "uncaught");
    await until(() => served() === 2, 5000, `restart after uncaught error:\n${lines.join("\n")}`);
    assert.equal(socketsBoundTo(main.localAddress).size, 2, "old socket closed, new one open");
    // 2: a failure in the packet path: the worker closes its sockets and reports.
    // The hook arms the next datagram the worker receives: send until one reaches it (bounded).
    workers.crash(1, "handler");
    for (let round = 0; served() < 3; round++) {
      if (round === 100) assert.fail(`no restart after handler failure:\n${lines.join("\n")}`);
      await sendFromPorts(main.localAddress.port, 8, request());
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(socketsBoundTo(main.localAddress).size, 2);
    assert.equal(workers.threads()[0]!.restarts, 2);
    // 3: third quick failure: given up; the main thread serves alone, every request answered.
    workers.crash(1, "uncaught");
    await until(() => lines.some((l) => /not restarting/.test(l)), 5000, lines.join("\n"));
    assert.equal(workers.threads()[0]!.running, false);
    assert.deepEqual(retired, [1, 1, 1], "each ended incarnation handed to onRetired");
    assert.equal(socketsBoundTo(main.localAddress).size, 1);
    assert.equal((await queryFromPorts(main.localAddress.port, 16, request())).length, 16);
    // The inspector guard's disposition is process-wide: worker starts did not undo it.
    const sigIgn = /SigIgn:\s*([0-9a-f]+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]!;
    assert.notEqual(BigInt(`0x${sigIgn}`) & (1n << BigInt(Signal.SIGUSR1 - 1)), 0n);
  } finally {
    libc.symbols.signal(Signal.SIGUSR1, previous);
    await workers.stop();
    main.close();
    await serving;
    libc.close();
  }
  assert.match(lines.join("\n"), /server thread 1 failed: .*restarting in 50 ms/);
});

function daemonSettings(over: Partial<DaemonSettings> = {}): DaemonSettings {
  return {
    listen: [{ family: 4, address: "127.0.0.1", port: 0 }],
    refclocks: [{ type: 1, unit: 0, fudge: { stratum: 9 } }],
    driftFile: null,
    noSteerReason: null,
    refclockPollSec: 64,
    serverThreads: 2,
    ...over,
  };
}

function realDeps(lines: string[]) {
  return {
    clock: new NullClock(),
    log: quietLog(lines),
    openTransport: (a: SocketAddress, _c?: unknown, o?: { reusePort: boolean }) =>
      Promise.resolve(
        openUdpTransport({ address: a, ...(o?.reusePort ? { reusePort: true } : {}) }).transport,
      ),
    workerModule: MAIN_MODULE,
    workerOptions: { statsIntervalMs: 50 },
  };
}

Deno.test("Daemon --server-threads 2: both threads answer, counters add up, forwards take the main path", async () => {
  const lines: string[] = [];
  const daemon = new Daemon(daemonSettings(), realDeps(lines));
  await daemon.start();
  let port = 0;
  try {
    port = daemon.status().listening[0]!.port;
    const state = daemon.status().state;
    assert.equal(state.stratum, 10);
    const q = request();
    for (const r of await queryFromPorts(port, 32, q)) {
      assertSameReply(r, expectedReply(daemon.status().state, q, r));
    }
    // Control queries and mode 7 from many ports: some land in the worker, which drops mode 7
    // itself and hands control over; each is counted exactly once, in one thread's block.
    const control = new Uint8Array(12);
    control[0] = 0x16;
    const priv = new Uint8Array(48);
    priv[0] = 0x27;
    await sendFromPorts(port, 24, control);
    await sendFromPorts(port, 24, priv);
    await until(
      () => {
        const s = daemon.status();
        const drops = s.sysstats.drops;
        return s.sysstats.received === 80 && s.server.replied === 32 &&
          drops.private_mode === 24 && s.sysstats.processed === 56 &&
          s.serverThreads[1]!.received > 0 &&
          s.serverThreads[1]!.forwarded === s.serverThreads[0]!.forwarded;
      },
      3000,
      () => {
        const s = daemon.status();
        return `counters: ${JSON.stringify(s.serverThreads)} ${JSON.stringify(s.server)} ${
          JSON.stringify(s.sysstats)
        }`;
      },
    );
    const s = daemon.status();
    // Mode 6 goes to the control protocol on the main thread; mode 7 is never served.
    assert.equal(s.sysstats.drops.no_handler, 0);
    assert.equal(s.sysstats.drops.private_mode, 24);
    assert.ok(s.serverThreads[0]!.received > 0 && s.serverThreads[1]!.received > 0);
    assert.ok(s.serverThreads[1]!.forwarded > 0, "some control queries went through the worker");
    const w = s.serverThreads[1]!;
    assert.equal(w.received, w.replied + w.dropped + w.forwarded, "the worker's own balance");
    const all = s.serverThreads.reduce((n, t) => n + t.received, 0);
    assert.equal(all, 80, "per-thread blocks add up to the sysstats total");
  } finally {
    await daemon.stop();
  }
  assert.equal(socketsBoundTo({ family: 4, address: "127.0.0.1", port }).size, 0);
  assert.ok(
    lines.includes(
      "packets received 80, replied 32, dropped 24 (private_mode 24), processed 56, " +
        "kisses sent 0",
    ),
    lines.join("\n"),
  );
  assert.ok(lines.some((l) => /^server thread 1: received [1-9]\d*, replied/.test(l)));
});

Deno.test("Daemon with one server thread opens no worker and no SO_REUSEPORT socket", async () => {
  const lines: string[] = [];
  const seen: boolean[] = [];
  const deps = realDeps(lines);
  const daemon = new Daemon(daemonSettings({ serverThreads: 1 }), {
    ...deps,
    openTransport: (a, c, o) => {
      seen.push(o?.reusePort ?? false);
      return deps.openTransport(a, c, o);
    },
  });
  await daemon.start();
  try {
    assert.deepEqual(seen, [false]);
    assert.equal(daemon.status().serverThreads.length, 1);
    assert.equal(
      (await queryFromPorts(daemon.status().listening[0]!.port, 4, request())).length,
      4,
    );
  } finally {
    await daemon.stop();
  }
  assert.ok(!lines.some((l) => /server thread/.test(l)));
});

/** File descriptors of this process's sockets bound to `a` (read from /proc/self/fd). */
function socketsBoundTo(a: SocketAddress): Set<number> {
  const out = new Set<number>();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc/self/fd")];
  } catch {
    return out;
  }
  for (const e of entries) {
    const fd = Number(e.name);
    try {
      if (!Deno.readLinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) continue;
      const name = getSocketName(fd);
      const sa = sockaddrToSocketAddress(name, name.length, false);
      if (sa?.family === a.family && sa.address === a.address && sa.port === a.port) out.add(fd);
    } catch {
      // Closed meanwhile, or not an inet socket.
    }
  }
  return out;
}
