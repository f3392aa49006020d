// Shared by the GPS interop tests (gpsd JSON, gpsd SHM, gpsfake, NMEA over socat): NMEA sentences
// for a given second, a TCP feeder that writes them on the second, the script that runs gpsd (or
// gpsfake) and Horae together in a private IPC namespace, and a whole run of the pair up to
// Horae's mode 6 answers.

import assert from "node:assert/strict";
import { horaeCommand, NO_SYS_TIME, Proc, queryHorae, tempDir } from "../support/peers.ts";

/** The NMEA 0183 checksum of a sentence body (between "$" and "*"): XOR of its bytes, 2 hex digits. */
export function nmeaChecksum(body: string): string {
  let c = 0;
  for (const ch of body) c ^= ch.charCodeAt(0);
  return c.toString(16).toUpperCase().padStart(2, "0");
}

/** Two digits, zero-padded. */
function p2(x: number): string {
  return String(x).padStart(2, "0");
}

/** NMEA's hhmmss.00 and ddmmyy fields for Unix second `sec` (UTC). */
export function nmeaTimeFields(sec: number): { hms: string; dmy: string } {
  const d = new Date(sec * 1000);
  return {
    hms: `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.00`,
    dmy: `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)}`,
  };
}

/** The bodies of an RMC and a GGA sentence (a fixed position with a fix) for Unix second `sec`. */
export function rmcGga(sec: number): { rmc: string; gga: string; hms: string } {
  const { hms, dmy } = nmeaTimeFields(sec);
  return {
    rmc: `GPRMC,${hms},A,4807.038,N,01131.000,E,000.0,000.0,${dmy},,,A`,
    gga: `GPGGA,${hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`,
    hms,
  };
}

/** Sentences for the current second (sent 20 ms after it starts); every fifth round corrupt. */
function sentencesNow(round: number): string {
  const { rmc, gga, hms } = rmcGga(Math.floor(Date.now() / 1000));
  let out = `$${rmc}*${nmeaChecksum(rmc)}\r\n$${gga}*${nmeaChecksum(gga)}\r\n`;
  if (round % 5 === 4) out = `$GPRMC,${hms},A,48*00\r\n$GPGGA,12\r\n` + out; // bad sum, half line
  return out;
}

/** A TCP listener on loopback that feeds `sentencesNow()` to its first client 20 ms after each second. */
interface NmeaTcpFeed {
  /** The port gpsd connects to (tcp://127.0.0.1:port). */
  port: number;
  /** Stops feeding (at most 120 rounds in any case) and closes the listener. */
  close(): Promise<void>;
}

/** Starts a {@link NmeaTcpFeed}. */
function startNmeaTcpFeed(): NmeaTcpFeed {
  const feed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let feeding = true;
  const fed = (async () => {
    const conn = await feed.accept();
    const enc = new TextEncoder();
    for (let round = 0; feeding && round < 120; round++) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      try {
        await conn.write(enc.encode(sentencesNow(round)));
      } catch {
        break;
      }
    }
    try {
      conn.close();
    } catch { /* closed by gpsd */ }
  })();
  return {
    port: (feed.addr as Deno.NetAddr).port,
    async close() {
      feeding = false;
      feed.close();
      await fed.catch(() => {});
    },
  };
}

/**
 * A bash script that starts `peerCommand` (gpsd or gpsfake) and Horae (`horae`, horaeCommand()'s
 * words, with `run -n --observe -c conf`, serving on 127.0.0.1:`port`) side by side, and on
 * SIGTERM stops both by pid.
 */
function gpsPeerAndHoraeScript(
  peerCommand: string,
  horae: string[],
  conf: string,
  port: number,
): string {
  return [
    "set -u",
    `${peerCommand} & G=$!`,
    `${horae.join(" ")} run -n --observe -c ${conf} --port ${port} --listen 127.0.0.1 & H=$!`,
    'trap \'kill -TERM "$H" "$G" 2>/dev/null; wait "$H" "$G"; exit 0\' TERM INT',
    'wait "$H"',
    'kill -TERM "$G" 2>/dev/null; wait "$G"',
  ].join("\n");
}

/** How {@link queryGpsPeerAndHorae} runs a GPS peer beside Horae. */
export interface GpsPeerRun {
  /** Temporary folder name prefix. */
  prefix: string;
  /** The unshare program. */
  unshare: string;
  /** Feed the peer sentences on the second over TCP ({@link startNmeaTcpFeed}). */
  feed: boolean;
  /**
   * The peer's command line (gpsd or gpsfake), serving gpsd's JSON on `port + 1`; it may write
   * its input into `dir` first; `feedPort` is the feed's port (0 without one).
   */
  peerCommand(c: { port: number; dir: string; feedPort: number }): Promise<string> | string;
  /** Horae's ntp.conf for the port it serves on. */
  conf(port: number): string;
  /** Horae's log line saying it has selected the clock, and how long it may take (ms). */
  synced: RegExp;
  syncTimeoutMs: number;
  /** How long to wait after that before asking (ms): the clock filter filling up. */
  settleMs: number;
  /** The query commands (`-c`). */
  commands: string[];
}

/**
 * Runs a GPS peer and Horae (`run -n --observe`) together in a private IPC namespace without
 * CAP_SYS_TIME (gpsd also creates the NTP SHM segments, which must not touch the host's), waits
 * until Horae selects the clock, then returns its answers to `commands`; stops both and asserts
 * that the pair exited cleanly.
 */
export async function queryGpsPeerAndHorae(run: GpsPeerRun): Promise<string> {
  const dir = await tempDir(run.prefix);
  const feed = run.feed ? startNmeaTcpFeed() : null;
  let proc: Proc | null = null;
  try {
    const port = 20000 + Math.floor(Math.random() * 20000);
    await Deno.writeTextFile(`${dir}/ntp.conf`, run.conf(port));
    const peer = await run.peerCommand({ port, dir, feedPort: feed?.port ?? 0 });
    // The peer and Horae in one private IPC namespace; the script stops both by pid on SIGTERM.
    await Deno.writeTextFile(
      `${dir}/run.sh`,
      gpsPeerAndHoraeScript(peer, await horaeCommand(), `${dir}/ntp.conf`, port),
    );
    proc = new Proc([...NO_SYS_TIME, run.unshare, "--ipc", "--", "bash", `${dir}/run.sh`]);
    await proc.waitFor(run.synced, run.syncTimeoutMs);
    if (run.settleMs > 0) await new Promise((r) => setTimeout(r, run.settleMs));
    return await queryHorae(port, run.commands);
  } finally {
    const st = proc === null ? null : await proc.stop(5000);
    await feed?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (st !== null) assert.equal(st.code, 0, proc!.output.slice(-3000));
  }
}
