// Command lines and configuration files for the benchmarked servers: chronyd 4.3 (-x, local
// stratum 8, no rate limiting) and the Horae daemon (LOCAL clock, optionally with server threads
// and its event-loop lag probe).

import { accessEntries, chronyLines, restrictLines } from "./access_list.ts";
import type { ServerSpec } from "./server_process.ts";

/** chronyd's path on Debian. */
export const CHRONYD_PATH = "/usr/sbin/chronyd";

/** The repository root (two levels above this file). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** chronyd's version line, or null when it is not installed. */
export function chronydVersion(): string | null {
  try {
    const r = new Deno.Command(CHRONYD_PATH, { args: ["-v"], stdout: "piped", stderr: "null" })
      .outputSync();
    const m = /version (\S+)/.exec(new TextDecoder().decode(r.stdout));
    return m === null ? null : m[1]!;
  } catch {
    return null;
  }
}

/**
 * chronyd answering on 127.0.0.1:`port` from its local reference at stratum 8, never touching
 * the clock (-x), in the foreground (-d). No `ratelimit` line: chronyd then answers everything.
 * `accessList`: 1,000 more allow/deny lines that do not match the generator, and a 1 MiB client
 * log (on by default; the limit set to match Horae's MRU list).
 */
export function chronydSpec(
  port: number,
  dir: string,
  options: { accessList?: boolean; keyfile?: string } = {},
): ServerSpec {
  const conf = `${dir}/chronyd_${port}.conf`;
  Deno.writeTextFileSync(
    conf,
    [
      `port ${port}`,
      "bindaddress 127.0.0.1",
      ...(options.accessList ? chronyLines(accessEntries()) : []),
      "allow 127.0.0.1",
      ...(options.accessList ? ["clientloglimit 1048576"] : []),
      "local stratum 8",
      ...(options.keyfile ? [`keyfile ${options.keyfile}`] : []),
      "cmdport 0",
      `pidfile ${dir}/chronyd_${port}.pid`,
      "",
    ].join("\n"),
  );
  return {
    label: "chronyd",
    command: [CHRONYD_PATH, "-x", "-d", "-u", "root", "-f", conf],
    port,
  };
}

/**
 * The Horae daemon (`main.ts run -n`) on 127.0.0.1:`port` with the LOCAL clock at stratum 9;
 * `serverThreads` above 1 adds `--server-threads N` (SO_REUSEPORT worker threads), `loopLagMs`
 * the event-loop lag probe (`--loop-lag-ms N`), `statusFile` the JSON status file, `accessList`
 * 1,000 restrict lines that do not match the generator (monitoring is on, as by default),
 * `keys` a keys file whose every key is trusted (`keys`, `trustedkey`).
 */
export function horaeDaemonSpec(
  port: number,
  dir: string,
  options: {
    serverThreads?: number;
    loopLagMs?: number;
    statusFile?: string;
    accessList?: boolean;
    keys?: { file: string; ids: number[] };
  } = {},
): ServerSpec {
  const conf = `${dir}/horae_${port}.conf`;
  Deno.writeTextFileSync(
    conf,
    [
      "server 127.127.1.0",
      "fudge 127.127.1.0 stratum 9",
      ...(options.accessList ? ["enable monitor", ...restrictLines(accessEntries())] : []),
      ...(options.keys
        ? [`keys ${options.keys.file}`, `trustedkey ${options.keys.ids.join(" ")}`]
        : []),
      "",
    ].join("\n"),
  );
  return {
    label: "horae",
    command: [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-net",
      `${REPO_ROOT}/main.ts`,
      "run",
      "-n",
      "--observe",
      "-c",
      conf,
      "--port",
      `${port}`,
      "--listen",
      "127.0.0.1",
      ...((options.serverThreads ?? 1) > 1 ? ["--server-threads", `${options.serverThreads}`] : []),
      ...(options.loopLagMs === undefined ? [] : ["--loop-lag-ms", `${options.loopLagMs}`]),
      ...(options.statusFile === undefined ? [] : ["--status-file", options.statusFile]),
    ],
    port,
    cwd: REPO_ROOT,
  };
}
