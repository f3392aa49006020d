// Helpers for the access-control interop tests: loopback addresses in a test namespace (so that
// clients talk from 127.0.0.x), a chronyd client daemon read back with chronyc, ntpdig in debug
// mode (which tells a kiss from silence), and the daemon's counters from its status file.

import assert from "node:assert/strict";
import { chronydCommand, Proc, readJson, runGuarded, sh, tempDir } from "../support/peers.ts";

/**
 * Adds `addresses` to the namespace's loopback device. A client talking to one of them uses it
 * as its source address (the kernel picks the local address itself), so each gets its own
 * restrict entry and rate state in the daemon.
 */
export async function addLoopbackAddresses(netns: string, addresses: string[]): Promise<void> {
  for (const a of addresses) {
    await sh(["ip", "-n", netns, "addr", "add", `${a}/${a.includes(":") ? 128 : 32}`, "dev", "lo"]);
  }
}

/** What ntpdig made of one query. */
export interface DigResult {
  /** ntpdig printed a time sample from the server. */
  served: boolean;
  /** ntpdig saw a kiss-o'-death (its debug output names it). */
  kissed: boolean;
  output: string;
}

/** One ntpdig query (port 123) in `netns`, with -d so a kiss is told apart from silence. */
export async function ntpdig(path: string, host: string, netns: string): Promise<DigResult> {
  const r = await runGuarded([path, "-d", "-t", "2", host], { netns, timeoutMs: 20_000 });
  return {
    served: new RegExp(` ${host.replace(/\./g, "\\.")} s\\d+ `).test(r.output),
    kissed: /probable KOD/.test(r.output),
    output: r.output,
  };
}

/** A chronyd client daemon (never steering the clock) and chronyc talking to it. */
export interface ChronydClient {
  proc: Proc;
  /** `chronyc ntpdata` for the one server, as "Field name" → value text. */
  ntpdata(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * Starts `chronyd -x -d` polling `server` (host, port and options such as "minpoll 2") with its
 * command socket in a private folder, so chronyc can read what it received (kiss codes too).
 */
export async function startChronydClient(
  chronyd: string,
  chronyc: string,
  opts: { netns: string; server: string; extra?: string[] },
): Promise<ChronydClient> {
  const dir = await tempDir("chronyc-");
  // chronyd refuses a command socket in a folder others may write to.
  await Deno.chmod(dir, 0o700);
  const sock = `${dir}/c.sock`;
  const conf = [
    `server ${opts.server}`,
    "cmdport 0",
    `bindcmdaddress ${sock}`,
    `pidfile ${dir}/chronyd.pid`,
    ...(opts.extra ?? []),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/chrony.conf`, `${conf}\n`);
  const proc = new Proc(chronydCommand(chronyd, `${dir}/chrony.conf`, { netns: opts.netns }));
  await proc.waitFor(/Disabled control of system clock/, 10_000);
  return {
    proc,
    async ntpdata() {
      const r = await runGuarded([chronyc, "-h", sock, "ntpdata"], {
        netns: opts.netns,
        timeoutMs: 10_000,
      });
      assert.equal(r.code, 0, r.output);
      const out: Record<string, string> = {};
      for (const line of r.output.split("\n")) {
        const m = line.match(/^([A-Za-z][A-Za-z ]*?)\s*: (.*)$/);
        if (m) out[m[1]!] = m[2]!.trim();
      }
      return out;
    },
    async stop() {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The daemon's sysstats from its status file. */
export interface SysstatsDoc {
  received: number;
  processed: number;
  accessDenied: number;
  rateExceeded: number;
  kissesSent: number;
  drops: Record<string, number>;
}

/** The status file's sysstats and MRU counters (throws when the file is missing). */
export async function readCounters(
  statusFile: string,
): Promise<{ sysstats: SysstatsDoc; mru: Record<string, number> }> {
  const doc = await readJson(statusFile);
  assert.ok(doc !== null, `no status file ${statusFile}`);
  return doc as unknown as { sysstats: SysstatsDoc; mru: Record<string, number> };
}

/** Asserts received = processed + every drop reason, and kisses sent = kisses the MRU granted. */
export function assertCountersAddUp(c: { sysstats: SysstatsDoc; mru: Record<string, number> }) {
  const s = c.sysstats;
  const drops = Object.values(s.drops).reduce((a, b) => a + b, 0);
  assert.equal(
    s.received,
    s.processed + drops,
    `received = processed + drops: ${JSON.stringify(s)}`,
  );
  assert.equal(s.kissesSent, c.mru.kisses, "every kiss granted was sent and counted");
}

/**
 * chronyd as a one-shot client (`-Q`: print the offset, never set the clock) of `host`:`port`
 * with extra server options and extra configuration lines (`bindacqaddress`, `acquisitionport`).
 * Returns chronyd's offset in seconds, or null when it got no usable reply.
 */
export async function chronydQuery(
  chronyd: string,
  opts: { netns: string; host: string; port: number; options?: string; config?: string[] },
): Promise<{ offsetSec: number | null; output: string }> {
  const dir = await tempDir("chronyq-");
  try {
    const r = await runGuarded([
      chronyd,
      "-Q",
      "-u",
      "root",
      "-f",
      "/dev/null",
      `server ${opts.host} port ${opts.port} iburst maxsamples 4 ${opts.options ?? ""}`.trim(),
      "cmdport 0",
      "bindcmdaddress /",
      `pidfile ${dir}/q.pid`,
      ...(opts.config ?? []),
    ], { timeoutMs: 30_000, netns: opts.netns });
    const m = r.output.match(/System clock wrong by (-?[\d.]+) seconds/);
    return { offsetSec: m ? Number(m[1]) : null, output: r.output };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
