// The daemon: binds the sockets, runs the server core on them, keeps the system state from its
// time sources, and owns the files (drift file, log file) — the I/O around lib/proto.

import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import type { SocketAddress, Transport } from "../net/transport.ts";
import { formatSocketAddress } from "../net/socket_address.ts";
import {
  Server,
  type ServerStats,
  type SystemState,
  unsynchronisedState,
} from "../proto/server.ts";
import { LocalDriver } from "../../drivers/local.ts";
import { refclockAddress, type RefclockDriver, type RefclockFudge } from "../../drivers/driver.ts";
import { readDriftFile, writeDriftFile } from "./drift_file.ts";

/** A reference clock the daemon should run. */
export interface RefclockSetting {
  type: number;
  unit: number;
  fudge: Partial<RefclockFudge>;
}

/** Everything the daemon needs, resolved from the configuration and the command line. */
export interface DaemonSettings {
  /** Addresses to answer on. */
  listen: SocketAddress[];
  refclocks: RefclockSetting[];
  driftFile: string | null;
  /** Why the clock is never steered ("no CAP_SYS_TIME", "observe mode"), or null. */
  noSteerReason: string | null;
  /** Seconds between reference clock polls (ntpd polls LOCAL every 64 s). */
  refclockPollSec: number;
}

/** What the daemon is built from; tests pass fakes. */
export interface DaemonDeps {
  clock: Clock;
  openTransport(address: SocketAddress): Promise<Transport>;
  log: Logger;
}

/** A point-in-time view for tests and the control protocol. */
export interface DaemonStatus {
  state: SystemState;
  server: ServerStats;
  listening: SocketAddress[];
  kernelTimestamps: boolean[];
  driftPpm: number | null;
}

/** The running daemon. */
export class Daemon {
  #settings: DaemonSettings;
  #deps: DaemonDeps;
  #server: Server;
  #transports: Transport[] = [];
  #serving: Promise<void>[] = [];
  #refclocks: RefclockDriver[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #driftPpm: number | null = null;
  #stopped = false;

  constructor(settings: DaemonSettings, deps: DaemonDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#server = new Server(unsynchronisedState(deps.clock.precisionLog2));
  }

  /** Opens sockets and time sources; resolves once the daemon is answering. */
  async start(): Promise<void> {
    const { log, clock } = this.#deps;
    if (this.#settings.noSteerReason !== null) {
      log.info(`${this.#settings.noSteerReason}: the system clock will not be steered`);
    }
    log.info(
      `clock ${clock.name}, precision = ${
        (2 ** clock.precisionLog2 * 1e6).toFixed(3)
      } usec (${clock.precisionLog2})`,
    );
    await this.#readDrift();
    for (const rc of this.#settings.refclocks) {
      if (rc.type !== 1) {
        log.warn(
          `refclock 127.127.${rc.type}.${rc.unit}: driver type ${rc.type} is not supported yet`,
        );
        continue;
      }
      const driver = new LocalDriver(rc.unit, rc.fudge);
      this.#refclocks.push(driver);
      log.info(`refclock ${driver.name} at stratum ${driver.fudge.stratum}`);
    }
    for (const addr of this.#settings.listen) {
      let t: Transport;
      try {
        t = await this.#deps.openTransport(addr);
      } catch (e) {
        log.error(`cannot listen on ${formatSocketAddress(addr)}: ${(e as Error).message}`);
        continue;
      }
      this.#transports.push(t);
      log.info(
        `Listening on ${formatSocketAddress(t.localAddress)}${
          t.kernelTimestamps ? " (kernel timestamps)" : ""
        }`,
      );
      this.#serving.push(t.serve((d, slot) => {
        const n = this.#server.respond(d.data, d.rxTime, slot.buffer);
        slot.length = n;
        slot.stampTransmit = n > 0;
      }));
    }
    if (this.#transports.length === 0) throw new Error("no address to listen on");
    this.#pollRefclocks();
    if (this.#refclocks.length > 0) {
      this.#timer = setInterval(() => this.#pollRefclocks(), this.#settings.refclockPollSec * 1000);
    }
  }

  /** Stops serving, writes the drift file, closes everything. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const t of this.#transports) t.close();
    await Promise.allSettled(this.#serving);
    for (const rc of this.#refclocks) rc.close();
    const st = this.#server.stats();
    const dropped = Object.entries(st.dropped).filter(([, n]) => n > 0);
    const total = dropped.reduce((a, [, n]) => a + n, 0);
    this.#deps.log.info(
      `packets received ${st.received}, replied ${st.replied}, dropped ${total}${
        dropped.length > 0 ? ` (${dropped.map(([k, n]) => `${k} ${n}`).join(", ")})` : ""
      }`,
    );
    if (this.#settings.driftFile !== null && this.#driftPpm !== null) {
      try {
        await writeDriftFile(this.#settings.driftFile, this.#driftPpm);
      } catch (e) {
        this.#deps.log.error(
          `cannot write drift file ${this.#settings.driftFile}: ${(e as Error).message}`,
        );
      }
    }
  }

  /** Current state and counters. */
  status(): DaemonStatus {
    return {
      state: this.#server.state,
      server: this.#server.stats(),
      listening: this.#transports.map((t) => t.localAddress),
      kernelTimestamps: this.#transports.map((t) => t.kernelTimestamps),
      driftPpm: this.#driftPpm,
    };
  }

  async #readDrift(): Promise<void> {
    const path = this.#settings.driftFile;
    if (path === null) return;
    const r = await readDriftFile(path);
    if (r.ok) {
      this.#driftPpm = r.freqPpm;
      this.#deps.log.info(`frequency initialized ${r.freqPpm.toFixed(3)} PPM from ${path}`);
    } else if (r.reason !== "missing") {
      this.#deps.log.warn(`drift file ${r.detail}: ignored`);
    }
  }

  /** Takes a sample from each refclock and updates the system variables from the best one. */
  #pollRefclocks(): void {
    const now = this.#deps.clock.now();
    let best: { driver: RefclockDriver; dispersionSec: number; leap: number } | null = null;
    for (const driver of this.#refclocks) {
      const s = driver.poll(now);
      if (s === null) continue;
      if (best === null || driver.fudge.stratum < best.driver.fudge.stratum) {
        best = { driver, dispersionSec: s.dispersionSec, leap: s.leap };
      }
    }
    if (best === null) return;
    const wasSynced = this.#server.state.stratum < 16;
    const stratum = Math.min(16, best.driver.fudge.stratum + 1);
    // RFC 5905: a stratum-1 server names its reference clock; above that, the refid is the
    // address of the system peer, here the refclock's 127.127.t.u address.
    const refid = stratum === 1
      ? asciiRefid(best.driver.fudge.refid)
      : refclockAddress(best.driver.type, best.driver.unit);
    this.#server.setState({
      leap: best.leap,
      stratum,
      precisionLog2: this.#deps.clock.precisionLog2,
      rootDelaySec: 0,
      rootDispersionSec: best.dispersionSec + 2 ** this.#deps.clock.precisionLog2,
      refid,
      referenceTime: now,
    });
    if (!wasSynced) {
      this.#deps.log.info(
        `synchronized to ${best.driver.name}, stratum ${best.driver.fudge.stratum}`,
      );
    }
  }
}

/** Packs up to four ASCII characters into a big-endian refid. */
export function asciiRefid(text: string): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v << 8) | (text.charCodeAt(i) & 0x7f);
  return v >>> 0;
}
