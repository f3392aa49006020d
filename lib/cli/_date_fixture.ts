// A pretend world for the tests of `horae date`: core `Server`s on a memory network, each with
// its own clock offset, a client environment over the same network, and a clock that records
// what it was asked instead of touching the system clock.

import type { Clock, ClockAdjustment, KernelClockState } from "../clock/clock.ts";
import { OsError } from "../../ffi/libc.ts";
import { KeyStore, type SymmetricKey } from "../proto/auth/key_store.ts";
import { MacVerifier, signPacket } from "../proto/auth/mac.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { addSec, type NtpTime } from "../proto/ntp_time.ts";
import { decodePacket, encodePacket } from "../proto/packet.ts";
import { SeededRng } from "../proto/rng.ts";
import { Server, type SystemState } from "../proto/server.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { CliIo } from "./check.ts";
import type { DateEnv } from "./date.ts";

/** A pretend NTP server. */
export interface FakeServerSpec {
  address: string;
  /** Its clock minus the true time (s): the offset a client should measure. */
  offsetSec?: number;
  stratum?: number;
  leap?: number;
  rootDelaySec?: number;
  rootDispersionSec?: number;
  /** Answer with a kiss-o'-death of this code instead. */
  kiss?: string;
  /** Drop the n-th request (0-based) when this says so. */
  drop?: (n: number) => boolean;
  /** Never answer. */
  silent?: boolean;
  /** Sign replies with this key; requests must be signed with it (else no answer). */
  key?: SymmetricKey;
  /** Answer signed requests without a MAC (a server that does not know the key). */
  unsigned?: boolean;
}

/** A clock that records steps and slews (never the real one). */
export class RecordingClock implements Clock {
  readonly name = "recording";
  readonly precisionLog2 = -20;
  readonly steps: number[] = [];
  readonly adjusts: ClockAdjustment[] = [];
  constructor(readonly canSteer: boolean, readonly now: () => NtpTime) {}
  step(offsetSec: number): void {
    this.steps.push(offsetSec);
  }
  adjust(adj: ClockAdjustment): void {
    this.adjusts.push(adj);
  }
  kernelState(): KernelClockState | null {
    return null;
  }
}

/** What a test can look at after a run. */
export interface DateWorld {
  env: DateEnv;
  network: MemoryNetwork;
  out: () => string;
  err: () => string;
  syslog: string[];
  /** The clocks handed out, with the `steer` they were asked with. */
  clocks: { steer: boolean; clock: RecordingClock }[];
  /** Ports the client asked to open, in order. */
  opened: number[];
  /** Requests each server received. */
  requests: Map<string, Uint8Array[]>;
}

/** Options of the world. */
export interface DateWorldOptions {
  servers: FakeServerSpec[];
  /** One-way network delay (s), default 1 ms. */
  delaySec?: number;
  canSetClock?: boolean;
  /** Opening port 123 fails: "in_use" (EADDRINUSE) or "no_privilege" (EACCES). */
  port123?: "free" | "in_use" | "no_privilege";
  /** /proc/net/udp shows port 123 held. */
  port123Busy?: boolean;
  keys?: SymmetricKey[];
  syslogWorks?: boolean;
  /** Names and their addresses. */
  dns?: Record<string, string[]>;
}

const START: NtpTime = 3_913_056_000n << 32n;

/** Builds the world and its environment. */
export function dateWorld(o: DateWorldOptions): DateWorld {
  const delay = o.delaySec ?? 0.001;
  const network = new MemoryNetwork({ startTime: START, delay: () => delay });
  const requests = new Map<string, Uint8Array[]>();
  for (const spec of o.servers) {
    const clock = () => addSec(network.now, spec.offsetSec ?? 0);
    const t = network.open(`${spec.address}:123`, { clock });
    const state: SystemState = {
      leap: spec.leap ?? 0,
      stratum: spec.stratum ?? 2,
      precisionLog2: -20,
      rootDelaySec: spec.rootDelaySec ?? 0.002,
      rootDispersionSec: spec.rootDispersionSec ?? 0.001,
      refid: 0x7f7f0101,
      referenceTime: START,
    };
    const server = new Server(state);
    const store = spec.key ? new KeyStore(new PureCrypto(), [spec.key], [spec.key.id]) : null;
    const verifier = store ? new MacVerifier(store) : null;
    const seen: Uint8Array[] = [];
    requests.set(spec.address, seen);
    void t.serve((d, reply) => {
      const n = seen.length;
      seen.push(d.data.slice());
      if (spec.silent || spec.drop?.(n)) return;
      let request = d.data;
      if (verifier !== null) {
        if (d.data.length <= 48 || verifier.verify(d.data, d.data.length, 48, null) !== "ok") {
          return;
        }
        request = d.data.subarray(0, 48);
      }
      if (spec.kiss !== undefined) {
        const q = decodePacket(request);
        if (!q.ok) return;
        const kod = encodePacket({
          ...q.packet,
          leap: 3,
          mode: 4,
          stratum: 0,
          refid: new DataView(new TextEncoder().encode(spec.kiss.padEnd(4, "\0")).buffer).getUint32(
            0,
          ),
          originTimestamp: q.packet.transmitTimestamp,
        });
        reply.buffer.set(kod);
        reply.length = 48;
        return;
      }
      const length = server.respond(request, d.rxTime, reply.buffer);
      reply.length = length;
      reply.stampTransmit = true;
      if (store !== null && spec.key && !spec.unsigned && length > 0) {
        const key = store.get(spec.key.id)!;
        reply.finalize = {
          finalize: (buf: Uint8Array) => void signPacket(buf, 48, key, key.v4DigestLength),
        };
        reply.length = 48 + 4 + key.v4DigestLength;
      }
    });
  }
  let out = "";
  let err = "";
  const syslog: string[] = [];
  const clocks: { steer: boolean; clock: RecordingClock }[] = [];
  const opened: number[] = [];
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    readStdin: () => Promise.resolve(new Uint8Array()),
    writeFile: () => Promise.resolve(),
  };
  const env: DateEnv = {
    io,
    openSocket(family, port) {
      opened.push(port);
      if (port === 123 && o.port123 === "in_use") throw new OsError("bind", 98);
      if (port === 123 && o.port123 === "no_privilege") throw new OsError("bind", 13);
      return network.open(family === 6 ? `[::]:${port}` : `0.0.0.0:${port}`);
    },
    port123Busy: () => o.port123Busy ?? false,
    resolve: (name) => Promise.resolve(o.dns?.[name] ?? []),
    canSetClock: () => o.canSetClock ?? false,
    clock(steer) {
      const clock = new RecordingClock(steer, () => network.now);
      clocks.push({ steer, clock });
      return clock;
    },
    now: () => network.now,
    waitUntil(t) {
      const next = network.nextDeliveryTime();
      network.deliver(next !== null && next < t ? next : t);
      return Promise.resolve();
    },
    syslog(message) {
      if (o.syslogWorks === false) return false;
      syslog.push(message);
      return true;
    },
    loadKeys: (path) =>
      o.keys !== undefined
        ? Promise.resolve(o.keys)
        : Promise.reject(new Error(`${path}: no such file`)),
    pid: 4242,
    date: () => new Date(2026, 9, 5, 13, 38, 46),
    rng: new SeededRng(7),
  };
  return { env, network, out: () => out, err: () => err, syslog, clocks, opened, requests };
}
