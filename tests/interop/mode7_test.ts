// Mode 7 against a real client: collectd's ntpd plugin (Debian's collectd-core, unpacked, run in
// the foreground with a csv output) reads a Horae that is a client of three chronyd -x servers
// in a network namespace, with `enable mode7`; without it, and from a `noquery` source, collectd
// gets nothing. `horae dc` reads the same daemon. Every process runs without CAP_SYS_TIME;
// Horae runs observe-only.

import assert from "node:assert/strict";
import {
  horaeCommand,
  needPeers,
  NO_SYS_TIME,
  PEERS_DIR,
  Proc,
  runGuarded,
  sharedTempDir,
  withNetns,
} from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

const peers = await needPeers("mode 7 against collectd's ntpd plugin", {
  programs: ["chronyd", "collectd"],
  root: NETNS,
});

const PLUGINS = `${PEERS_DIR}/collectd/usr/lib/collectd`;
const TYPES_DB = `${PEERS_DIR}/collectd/usr/share/collectd/types.db`;

/** Starts collectd in the foreground in `ns`, reading Horae every second into `dir`/csv. */
async function startCollectd(ns: string, dir: string): Promise<Proc> {
  const conf = `${dir}/collectd.conf`;
  await Deno.writeTextFile(
    conf,
    [
      'Hostname "horae-test"',
      "FQDNLookup false",
      `BaseDir "${dir}"`,
      `PIDFile "${dir}/collectd.pid"`,
      `PluginDir "${PLUGINS}"`,
      `TypesDB "${TYPES_DB}"`,
      "Interval 1",
      "LoadPlugin ntpd",
      "LoadPlugin csv",
      "<Plugin ntpd>",
      '  Host "127.0.0.1"',
      '  Port "123"',
      "  ReverseLookups false",
      "</Plugin>",
      "<Plugin csv>",
      `  DataDir "${dir}/csv"`,
      "  StoreRates false",
      "</Plugin>",
      "",
    ].join("\n"),
  );
  return new Proc([
    "ip",
    "netns",
    "exec",
    ns,
    ...NO_SYS_TIME,
    peers.path("collectd"),
    "-f",
    "-C",
    conf,
  ]);
}

/** The last value collectd wrote for `type-instance` (its csv file of today), or null. */
async function lastValue(dir: string, name: string): Promise<number | null> {
  const folder = `${dir}/csv/horae-test/ntpd`;
  let text: string | null = null;
  try {
    for await (const e of Deno.readDir(folder)) {
      if (e.name.startsWith(`${name}-`) && /-\d{4}-\d\d-\d\d$/.test(e.name)) {
        text = await Deno.readTextFile(`${folder}/${e.name}`);
      }
    }
  } catch {
    return null;
  }
  if (text === null) return null;
  const lines = text.trim().split("\n").filter((l) => /^\d/.test(l));
  const last = lines[lines.length - 1];
  if (last === undefined) return null;
  const v = Number(last.split(",")[1]);
  return Number.isFinite(v) ? v : null;
}

async function waitValue(
  dir: string,
  name: string,
  timeoutMs: number,
  collectd: Proc,
): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await lastValue(dir, name);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`collectd wrote no ${name}; it said:\n${collectd.output.slice(-3000)}`);
}

async function horaeDc(ns: string, ...args: string[]): Promise<string> {
  const r = await runGuarded(
    [...await horaeCommand(), "dc", ...args],
    { netns: ns, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, r.output);
  return r.output;
}

Deno.test(
  "interop: collectd's ntpd plugin reads Horae over mode 7 with enable mode7, never without",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withNetns("hm7", async (ns) => {
      const stopServers = await startServers(chronyd, ns, GOOD);
      try {
        // 1. enable mode7: collectd reads the loop, the kernel and every server.
        const conf = horaeConf(
          GOOD,
          "enable mode7\nrestrict default noquery\nrestrict 127.0.0.1\n",
        );
        const horae = await startObservingHorae(ns, conf);
        // collectd's csv plugin refuses any folder whose path has a dot-name (the checkout's
        // .tmp), so its data go below /tmp.
        const dir = await sharedTempDir("collectd-");
        let collectd: Proc | null = null;
        try {
          const status: Json = await waitStatus(
            `${horae.dir}/status.json`,
            (s) => s.synchronized && s.source === "network",
            40_000,
            horae.proc,
          );
          collectd = await startCollectd(ns, dir);
          const offsets: Record<string, number> = {};
          for (const server of GOOD) {
            offsets[server] = await waitValue(dir, `time_offset-${server}`, 20_000, collectd);
            const delay = await waitValue(dir, `delay-${server}`, 5_000, collectd);
            const disp = await waitValue(dir, `time_dispersion-${server}`, 5_000, collectd);
            assert.ok(delay > 0 && delay < 0.05, `delay ${server} ${delay}`);
            // The filter dispersion (ntpd's): up to 16 s while the register still fills.
            assert.ok(disp >= 0 && disp < 16, `dispersion ${server} ${disp}`);
          }
          // Loopback servers of the same clock: offsets of a few hundred microseconds at most,
          // as Horae's own status file says.
          for (const [server, off] of Object.entries(offsets)) {
            assert.ok(Math.abs(off) < 0.005, `${server} offset ${off}`);
          }
          const freq = await waitValue(dir, "frequency_offset-loop", 5_000, collectd);
          const loop = await waitValue(dir, "time_offset-loop", 5_000, collectd);
          assert.ok(Number.isFinite(freq) && Math.abs(freq) < 600, `kernel frequency ${freq}`);
          assert.ok(Math.abs(loop) < 1, `kernel offset ${loop}`);
          assert.ok(!/Received error code|unexpected data/.test(collectd.output), collectd.output);
          assert.ok(status.synchronized);

          // `horae dc` reads the same daemon in ntpdc's layout.
          const table = await horaeDc(ns, "-n", "-c", "peers", "-c", "sysinfo", "-c", "kerninfo");
          for (const server of GOOD) {
            assert.match(
              table,
              new RegExp(`^[*= ]${server.replace(/\./g, "\\.")} +127\\.0\\.0\\.1 `, "m"),
            );
          }
          assert.match(table, /^\*127\.0\.0\.[234] /m);
          assert.match(table, /^system peer: +127\.0\.0\.[234]\n/m);
          assert.match(table, /^pll frequency: +-?\d+\.\d{3} ppm$/m);
        } finally {
          await collectd?.stop();
          await horae.stop();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        }

        // 2. Without enable mode7 (the default) and 3. from a noquery source: nothing.
        for (const extra of ["", "enable mode7\nrestrict 127.0.0.1 noquery\n"]) {
          const off = await startObservingHorae(ns, horaeConf(GOOD, extra));
          const dir2 = await sharedTempDir("collectd-");
          const c = await startCollectd(ns, dir2);
          try {
            // collectd's ntpd plugin waits 1 s per query and logs the failure.
            await c.waitFor(/ntpd plugin: ntpd_do_query returned unexpected data/, 15_000);
            await new Promise((r) => setTimeout(r, 2000));
            assert.equal(await lastValue(dir2, "frequency_offset-loop"), null);
            assert.equal(await lastValue(dir2, `time_offset-${GOOD[0]}`), null);
            const st: Json = JSON.parse(await Deno.readTextFile(`${off.dir}/status.json`));
            const reason = extra === "" ? "private_mode" : "noquery";
            assert.ok(st.sysstats.drops[reason] > 0, JSON.stringify(st.sysstats.drops));
          } finally {
            await c.stop();
            await off.stop();
            await Deno.remove(dir2, { recursive: true }).catch(() => {});
          }
        }
      } finally {
        await stopServers();
      }
    });
  },
);
