// The gpsd JSON driver (NTPsec's type 46, "GPSD_JSON", 127.127.46.u): a TCP client of gpsd
// (127.0.0.1:2947, or `path` host:port[/device]) that asks ?WATCH={"enable":true,"json":true,"pps":true}
// and reads gpsd's JSON reports: TPV (the fix, which says whether the time is good), TOFF
// (a sentence's time against the system clock when gpsd received it) and PPS (a pulse's time,
// numbered by gpsd). TOFF gives the samples, fudge time2 their delay; with fudge flag1 the PPS
// reports give them instead, fudge time1 their delay. Lines are bounded, the connection is
// made again with a growing back-off when gpsd goes away.

import { diffSec, fromUnix, type NtpTime } from "../lib/proto/ntp_time.ts";
import type {
  RefclockConfig,
  RefclockContext,
  RefclockDriver,
  RefclockDriverEntry,
  RefclockFudge,
  RefclockSample,
} from "./driver.ts";
import { checkUnit, resolveFudge, SENTENCE_ERROR_SEC } from "./driver.ts";
import { medianFiltered } from "./median_filter.ts";

/** NTPsec's GPSD_JSON driver type number. */
export const GPSD_JSON_DRIVER_TYPE = 46;
/** gpsd's port. */
export const GPSD_PORT = 2947;
/** Longest JSON line kept (bytes); gpsd's longest reports (SKY) are a few kB. */
export const GPSD_MAX_LINE = 16384;
/** The first and the longest wait before connecting again (s). */
export const GPSD_BACKOFF_MIN_SEC = 1;
export const GPSD_BACKOFF_MAX_SEC = 64;
/** A TOFF or PPS report this far from the last good fix (s) is not used: the fix is stale. */
export const GPSD_FIX_MAX_AGE_SEC = 5;
/** The watch request. */
export const GPSD_WATCH = '?WATCH={"enable":true,"json":true,"pps":true}\n';

/** A time pair gpsd reports: the reference time and the system clock's time at that moment. */
export interface GpsdTimePair {
  realSec: number;
  realNsec: number;
  clockSec: number;
  clockNsec: number;
  /** Precision gpsd claims (log2 s), when it says. */
  precision: number | null;
}

/** One report, as far as this driver uses it. */
export type GpsdMessage =
  | { kind: "tpv"; mode: number; time: string | null; leap: number | null; device: string | null }
  | { kind: "toff"; pair: GpsdTimePair; device: string | null }
  | { kind: "pps"; pair: GpsdTimePair; device: string | null }
  | { kind: "version"; release: string }
  | { kind: "other"; cls: string }
  | { kind: "bad"; reason: string };

function int(v: unknown): number | null {
  return typeof v === "number" && Number.isSafeInteger(v) ? v : null;
}

function pairOf(o: Record<string, unknown>): GpsdTimePair | null {
  const realSec = int(o.real_sec);
  const realNsec = int(o.real_nsec);
  const clockSec = int(o.clock_sec);
  const clockNsec = int(o.clock_nsec);
  if (realSec === null || realNsec === null || clockSec === null || clockNsec === null) {
    return null;
  }
  if (realSec <= 0 || clockSec <= 0) return null;
  if (realNsec < 0 || realNsec >= 1e9 || clockNsec < 0 || clockNsec >= 1e9) return null;
  return { realSec, realNsec, clockSec, clockNsec, precision: int(o.precision) };
}

/** Reads one JSON line from gpsd; never throws. */
export function parseGpsdMessage(line: string): GpsdMessage {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return { kind: "bad", reason: "not JSON" };
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    return { kind: "bad", reason: "not an object" };
  }
  const r = o as Record<string, unknown>;
  const cls = r.class;
  if (typeof cls !== "string") return { kind: "bad", reason: "no class" };
  const device = typeof r.device === "string" ? r.device : null;
  switch (cls) {
    case "TPV": {
      const mode = int(r.mode);
      if (mode === null) return { kind: "bad", reason: "TPV without mode" };
      return {
        kind: "tpv",
        mode,
        time: typeof r.time === "string" ? r.time : null,
        leap: int(r.leapseconds),
        device,
      };
    }
    case "TOFF":
    case "PPS": {
      const pair = pairOf(r);
      if (pair === null) return { kind: "bad", reason: `${cls} without valid times` };
      return { kind: cls === "TOFF" ? "toff" : "pps", pair, device };
    }
    case "VERSION":
      return { kind: "version", release: typeof r.release === "string" ? r.release : "" };
    default:
      return { kind: "other", cls };
  }
}

/** A byte stream to gpsd (a Deno.Conn; tests may pass their own). */
export interface GpsdStream {
  read(buf: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/** How the driver connects (default Deno.connect over TCP). */
export type GpsdConnect = (hostname: string, port: number) => Promise<GpsdStream>;

/**
 * Reads `path`: gpsd's address ("host:port", "host", "[v6]:port"; default 127.0.0.1:2947),
 * optionally followed by the device to watch ("127.0.0.1:2947/dev/ttyUSB0", or "/dev/ttyUSB0"
 * alone on the default address); throws when it is neither.
 */
export function gpsdAddress(
  path: string | null | undefined,
): { hostname: string; port: number; device: string | null } {
  const text = path ?? "";
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const device = slash < 0 ? null : text.slice(slash);
  if (device !== null && !/^\/[\x21-\x7e]+$/.test(device)) {
    throw new Error(`path "${text}": "${device}" is not a device path`);
  }
  if (addr === "") return { hostname: "127.0.0.1", port: GPSD_PORT, device };
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(addr);
  const port = m?.[3] === undefined ? GPSD_PORT : Number(m[3]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new Error(`path "${text}" is not a gpsd address host:port`);
  }
  return { hostname: m[1] ?? m[2]!, port, device };
}

/** The watch request, for every device or only `device`. */
export function gpsdWatch(device: string | null): string {
  return device === null
    ? GPSD_WATCH
    : `?WATCH={"enable":true,"json":true,"pps":true,"device":${JSON.stringify(device)}}\n`;
}

/** Counters of the gpsd JSON driver. */
export interface GpsdCounters {
  connects: number;
  disconnects: number;
  lines: number;
  /** Lines that are not gpsd JSON, and overlong lines. */
  badformat: number;
  /** Times reported without a good fix, or that make no sense. */
  baddata: number;
  tpv: number;
  toff: number;
  pps: number;
  samples: number;
  /** Reports of another device than the one watched. */
  otherDevice: number;
}

/** The gpsd JSON driver. */
export class GpsdJsonDriver implements RefclockDriver {
  readonly type = GPSD_JSON_DRIVER_TYPE;
  readonly unit: number;
  readonly name: string;
  readonly fudge: RefclockFudge;
  /** The clock's precision: a pulse's (-20) with flag1, else a sentence's (-10). */
  readonly precisionLog2: number;
  readonly lastResort = false;
  timecode = "";
  /** Set with flag1: the clock's seconds come with its own PPS. */
  readonly ppsCapable: boolean;
  readonly hostname: string;
  readonly port: number;
  /** The device watched, or null for any. */
  readonly device: string | null;
  readonly #connect: GpsdConnect;
  #stream: GpsdStream | null = null;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #add: ((s: RefclockSample) => void) | null = null;
  #stopFilter: (() => void) | null = null;
  #wake: (() => void) | null = null;
  #ctxStats: ((text: string) => void) | null = null;
  /** System time of the last TPV with a 2D/3D fix. */
  #fixAt: NtpTime | null = null;
  #leap = 0;
  readonly #counts: GpsdCounters = {
    connects: 0,
    disconnects: 0,
    lines: 0,
    badformat: 0,
    baddata: 0,
    tpv: 0,
    toff: 0,
    pps: 0,
    samples: 0,
    otherDevice: 0,
  };

  /** GPSD_JSON(unit), talking to gpsd at `config.path` (default 127.0.0.1:2947). */
  constructor(
    config: RefclockConfig,
    connect: GpsdConnect = (hostname, port) => Deno.connect({ hostname, port }),
  ) {
    checkUnit(config.unit);
    const addr = gpsdAddress(config.path);
    this.unit = config.unit;
    this.name = `GPSD_JSON(${config.unit})`;
    this.fudge = resolveFudge(config.fudge, { refid: "GPSD" });
    this.hostname = addr.hostname;
    this.port = addr.port;
    this.device = addr.device;
    this.#connect = connect;
    this.ppsCapable = this.fudge.flags[0];
    this.precisionLog2 = this.ppsCapable ? -20 : -10;
  }

  start(ctx: RefclockContext, onSample: (s: RefclockSample) => void): void {
    const f = medianFiltered(ctx, onSample);
    this.#add = f.add;
    this.#stopFilter = f.stop;
    this.#ctxStats = (text) => ctx.clockstats?.(text);
    this.#running = true;
    this.#loop = this.#run(ctx);
  }

  async #run(ctx: RefclockContext): Promise<void> {
    let backoff = 0;
    let warned = false;
    while (this.#running) {
      if (backoff > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff * 1000);
          this.#wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.#wake = null;
        if (!this.#running) break;
      }
      let stream: GpsdStream;
      try {
        stream = await this.#connect(this.hostname, this.port);
      } catch (e) {
        if (!warned) {
          ctx.log(
            "warn",
            `${this.name}: cannot reach gpsd at ${this.hostname}:${this.port}: ` +
              `${(e as Error).message}; trying again`,
          );
          warned = true;
        }
        backoff = Math.min(GPSD_BACKOFF_MAX_SEC, Math.max(GPSD_BACKOFF_MIN_SEC, backoff * 2));
        continue;
      }
      if (!this.#running) {
        stream.close();
        break;
      }
      this.#stream = stream;
      this.#counts.connects++;
      warned = false;
      ctx.log("info", `${this.name}: connected to gpsd at ${this.hostname}:${this.port}`);
      ctx.clockstats?.(`connected ${this.hostname}:${this.port}`);
      const healthy = await this.#session(ctx, stream);
      this.#stream = null;
      try {
        stream.close();
      } catch { /* already closed */ }
      if (!this.#running) break;
      this.#counts.disconnects++;
      ctx.log("warn", `${this.name}: gpsd closed the connection; connecting again`);
      ctx.clockstats?.("disconnected");
      // A session that gave reports starts the back-off again; one that did not grows it.
      backoff = healthy
        ? GPSD_BACKOFF_MIN_SEC
        : Math.min(GPSD_BACKOFF_MAX_SEC, Math.max(GPSD_BACKOFF_MIN_SEC, backoff * 2));
    }
  }

  /** One connection: the watch request, then lines until it ends. True when any line came. */
  async #session(ctx: RefclockContext, stream: GpsdStream): Promise<boolean> {
    let any = false;
    try {
      await stream.write(new TextEncoder().encode(gpsdWatch(this.device)));
      const buf = new Uint8Array(8192);
      const dec = new TextDecoder();
      let pending = "";
      let skipping = false;
      while (this.#running) {
        const n = await stream.read(buf);
        if (n === null) break;
        const at = ctx.now();
        pending += dec.decode(buf.subarray(0, n), { stream: true });
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl).replace(/\r$/, "");
          pending = pending.slice(nl + 1);
          if (skipping) {
            skipping = false; // the end of an overlong line
            continue;
          }
          any = true;
          this.receive(line, at);
        }
        if (pending.length > GPSD_MAX_LINE) {
          this.#counts.badformat++;
          pending = "";
          skipping = true;
        }
      }
    } catch (e) {
      if (this.#running) ctx.log("warn", `${this.name}: ${(e as Error).message}`);
    }
    return any;
  }

  /** One line from gpsd, received at system time `at`. */
  receive(line: string, at: NtpTime): void {
    const c = this.#counts;
    c.lines++;
    if (line === "") return;
    const m = parseGpsdMessage(line);
    if (
      this.device !== null && (m.kind === "tpv" || m.kind === "toff" || m.kind === "pps") &&
      m.device !== this.device
    ) {
      c.otherDevice++;
      return;
    }
    switch (m.kind) {
      case "bad":
        c.badformat++;
        return;
      case "tpv":
        c.tpv++;
        if (m.mode >= 2 && m.time !== null) {
          this.#fixAt = at;
          this.timecode = m.time;
          // gpsd's leapseconds is GPS−UTC, not a warning; no leap is announced from it.
          this.#leap = 0;
        } else this.#fixAt = null;
        return;
      case "toff":
      case "pps": {
        if (m.kind === "toff") c.toff++;
        else c.pps++;
        const usePps = this.fudge.flags[0];
        if ((m.kind === "pps") !== usePps) return;
        const fixAt = this.#fixAt;
        if (fixAt === null || Math.abs(diffSec(at, fixAt)) > GPSD_FIX_MAX_AGE_SEC) {
          c.baddata++;
          return;
        }
        const p = m.pair;
        const clock = fromUnix(p.clockSec, p.clockNsec);
        const offsetSec = (p.realSec - p.clockSec) + (p.realNsec - p.clockNsec) / 1e9 +
          (usePps ? this.fudge.time1Sec : this.fudge.time2Sec);
        // The clock side must be this machine's recent time (gpsd on another host, or a replay).
        if (Math.abs(diffSec(at, clock)) > GPSD_FIX_MAX_AGE_SEC) {
          c.baddata++;
          return;
        }
        c.samples++;
        const text =
          `${m.kind.toUpperCase()} ${p.realSec}.${String(p.realNsec).padStart(9, "0")} ` +
          `${p.clockSec}.${String(p.clockNsec).padStart(9, "0")}`;
        this.#ctxStats?.(text);
        this.#add?.({
          time: clock,
          offsetSec,
          dispersionSec: usePps ? 2 ** -20 : 2 ** -10,
          leap: this.#leap,
          ...(usePps ? {} : { rootDispersionSec: SENTENCE_ERROR_SEC }),
        });
        return;
      }
      default:
        return;
    }
  }

  stop(): void {
    this.#running = false;
    this.#stopFilter?.();
    this.#stopFilter = null;
    this.#wake?.();
    try {
      this.#stream?.close();
    } catch { /* already closed */ }
  }

  /** Resolves when the connection loop has ended (after stop()). */
  get stopped(): Promise<void> {
    return this.#loop;
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.#counts };
  }
}

/** Registry entry of the gpsd JSON driver. */
export const GPSD_JSON_DRIVER: RefclockDriverEntry = {
  type: GPSD_JSON_DRIVER_TYPE,
  name: "GPSD_JSON",
  create: (c) => new GpsdJsonDriver(c),
};
