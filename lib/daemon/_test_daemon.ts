// For this folder's tests: a Daemon following three perfect stratum-2 servers (127.0.0.2–4) on a
// MemoryNetwork, with timers on the network's simulated time line, so the daemon's real code
// runs minutes of polling in milliseconds.

import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { formatCookieKeys, planCookieKeys } from "../proto/nts/cookie_keys.ts";
import { NtsServerKeys } from "../proto/nts/cookies.ts";
import { addSec, type NtpTime } from "../proto/ntp_time.ts";
import { SeededRng } from "../proto/rng.ts";
import { Server } from "../proto/server.ts";
import { Daemon, type DaemonSettings } from "./daemon.ts";
import type { Timers } from "./timers.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A clock that reads the memory network's time line and never steers. */
export function fakeClock(network: MemoryNetwork): Clock {
  return {
    name: "fake",
    canSteer: false,
    precisionLog2: -20,
    now: () => network.now,
    step: () => {},
    adjust: () => {},
    kernelState: () => null,
  };
}

/**
 * Writes an NTS cookie key file at `path` (0600) as another instance behind the same name would
 * (seven daily keys from now) and returns that instance's keys and the id of the current one.
 */
export async function writeCookieKeyFile(
  path: string,
): Promise<{ keys: NtsServerKeys; currentId: number }> {
  let n = 0;
  const plan = planCookieKeys(
    null,
    Date.now() / 1000,
    86400,
    7,
    () => new Uint8Array(32).fill(++n),
  );
  await Deno.writeTextFile(path, formatCookieKeys(plan.keys), { mode: 0o600 });
  const keys = new NtsServerKeys(new PureCrypto(), new SeededRng(1));
  keys.setKeys(plan.keys.keys, plan.currentId);
  return { keys, currentId: plan.currentId };
}

/** The servers' addresses. */
export const TEST_SERVERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** Timers on the memory network's time line. */
export class NetworkTimers implements Timers {
  #queue: { at: NtpTime; fn: () => void; id: number }[] = [];
  #next = 1;
  constructor(readonly network: MemoryNetwork) {}
  setTimeout(fn: () => void, delayMs: number): number {
    const id = this.#next++;
    this.#queue.push({ at: addSec(this.network.now, Math.max(0, delayMs) / 1000), fn, id });
    return id;
  }
  clearTimeout(id: number): void {
    this.#queue = this.#queue.filter((t) => t.id !== id);
  }
  /** Runs timers and deliveries in time order for `sec` simulated seconds. */
  async run(sec: number): Promise<void> {
    const end = addSec(this.network.now, sec);
    for (let guard = 0; guard < 1_000_000; guard++) {
      for (let i = 0; i < 5; i++) await Promise.resolve();
      this.#queue.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
      const t = this.#queue[0];
      const d = this.network.nextDeliveryTime();
      if (d !== null && d <= end && (t === undefined || d <= t.at)) {
        this.network.deliver(d);
        continue;
      }
      if (t === undefined || t.at > end) break;
      this.#queue.shift();
      this.network.deliver(t.at);
      t.fn();
    }
    this.network.deliver(end);
  }
}

/**
 * Starts a daemon (observe mode) with `over` merged into its settings, runs `sec` simulated
 * seconds and returns it with its time line (stop the daemon when done).
 */
export async function syncedDaemon(
  sec: number,
  over: Partial<DaemonSettings> = {},
  log: Logger = quiet,
): Promise<{ daemon: Daemon; network: MemoryNetwork; timers: NetworkTimers }> {
  const network = new MemoryNetwork({ delay: () => 0.001 });
  for (const a of TEST_SERVERS) {
    const t = network.open(`${a}:123`);
    const server = new Server({
      leap: 0,
      stratum: 2,
      precisionLog2: -20,
      rootDelaySec: 0.001,
      rootDispersionSec: 0.001,
      refid: 0x47505300,
      referenceTime: network.now,
    });
    t.serve((d, slot) => {
      slot.length = server.respond(d.data, d.rxTime, slot.buffer);
      slot.stampTransmit = slot.length > 0;
    });
  }
  const timers = new NetworkTimers(network);
  const clock = fakeClock(network);
  const daemon = new Daemon({
    listen: [{ family: 4, address: "127.0.0.1", port: 123 }],
    refclocks: [],
    driftFile: null,
    noSteerReason: "observe mode",
    refclockPollSec: 64,
    sources: TEST_SERVERS.map((address) => ({
      kind: "server" as const,
      address,
      family: "any" as const,
      port: 123,
      options: { minpoll: 4, maxpoll: 4, iburst: true },
    })),
    ...over,
  }, {
    clock,
    timers,
    log,
    openTransport: (a, readClock) =>
      Promise.resolve(
        network.open(
          a,
          readClock === undefined ? { clock: () => clock.now() } : {
            clock: readClock,
            kernelTimestamps: false,
          },
        ),
      ),
  });
  await daemon.start();
  await daemon.sourcesReady;
  await timers.run(sec);
  return { daemon, network, timers };
}
