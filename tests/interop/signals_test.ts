// SIGUSR1 and SIGUSR2 at any moment of a Horae process's life never open a listener: Deno 2.9
// opens its V8 inspector (code execution for any local user) on SIGUSR1 unless the signal can
// never reach its handler. Bursts of both go to the process and to each of its threads from 0 ms
// to 5 s after start, over many runs of the daemon, the daemon with server threads, and `sim`;
// the process's TCP listening sockets are read from /proc all along.

import assert from "node:assert/strict";
import {
  freeUdpPort,
  horaeCommand,
  NO_SYS_TIME,
  Proc,
  tcpListeners,
  tempDir,
} from "../support/peers.ts";

const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";
const libc = Deno.dlopen("libc.so.6", {
  tgkill: { parameters: ["i32", "i32", "i32"], result: "i32" },
});

function threadsOf(pid: number): number[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => Number(e.name));
  } catch {
    return [];
  }
}

/** The text of `path` once it exists and is not empty (bounded wait). */
async function waitForFile(path: string, timeoutMs: number, proc: Proc): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text !== "") return text;
    await sleep(50);
  }
  throw new Error(`${path} not written in ${timeoutMs} ms:\n${proc.output}`);
}

const SIGUSR1 = 10;
const SIGUSR2 = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one run saw. */
interface RunResult {
  listeners: number[];
  signalsSent: number;
  firstSignalMs: number;
  status: Deno.CommandStatus;
  output: string;
}

/**
 * Starts `cmd`, then for `durationMs` sends bursts of SIGUSR1/SIGUSR2 (to the process and to
 * every thread), starting `firstMs` after the spawn, checking the listeners after each burst.
 */
async function burstRun(
  cmd: string[],
  firstMs: number,
  durationMs = 5000,
  cwd?: string,
): Promise<RunResult> {
  const proc = new Proc(cmd, cwd ? { cwd } : {});
  const pid = proc.child.pid;
  const start = performance.now();
  const listeners = new Set<number>();
  let sent = 0;
  let exited = false;
  proc.child.status.then(() => exited = true);
  await sleep(firstMs);
  while (performance.now() - start < durationMs && !exited) {
    for (const signo of [SIGUSR1, SIGUSR1, SIGUSR2, SIGUSR1]) {
      try {
        Deno.kill(pid, signo === SIGUSR1 ? "SIGUSR1" : "SIGUSR2");
        sent++;
      } catch { /* exited */ }
      for (const tid of threadsOf(pid)) if (libc.symbols.tgkill(pid, tid, signo) === 0) sent++;
    }
    for (const p of tcpListeners(pid)) listeners.add(p);
    await sleep(20 + Math.random() * 120);
  }
  await sleep(300);
  for (const p of tcpListeners(pid)) listeners.add(p);
  const status = exited ? await proc.wait(5000) : await proc.stop(5000);
  return {
    listeners: [...listeners],
    signalsSent: sent,
    firstSignalMs: firstMs,
    status,
    output: proc.output,
  };
}

/** How this run starts Horae: main.ts, or the bundle as installed (HORAE_TEST_BUNDLE=1). */
const HORAE = await horaeCommand();

function daemonCmd(dir: string, extra: string[] = []): string[] {
  return [
    ...NO_SYS_TIME,
    ...HORAE,
    "run",
    "-n",
    "--observe",
    "-c",
    `${dir}/ntp.conf`,
    "--port",
    String(freeUdpPort()),
    "--listen",
    "127.0.0.1",
    ...extra,
  ];
}

/**
 * The run's verdict: no listener ever; and a process that did not survive was ended by the
 * signal's default action before Horae's first instruction (nothing printed yet), never later.
 */
function assertSafe(r: RunResult, what: string, survivorPattern: RegExp | null): void {
  assert.deepEqual(r.listeners, [], `${what}: TCP listener(s) ${r.listeners}\n${r.output}`);
  assert.doesNotMatch(r.output, /Debugger listening|inspector/i, what);
  assert.ok(r.signalsSent > 0, `${what}: no signal was sent`);
  if (r.status.signal === "SIGUSR1" || r.status.signal === "SIGUSR2") {
    assert.equal(r.output, "", `${what}: killed by ${r.status.signal} after it started`);
  } else if (survivorPattern !== null) {
    assert.match(r.output, survivorPattern, `${what}: ${JSON.stringify(r.status)}`);
  }
}

Deno.test("interop: bursts of SIGUSR1/SIGUSR2 from 0 to 5 s after start never open a listener in the daemon", async () => {
  const dir = await tempDir("sigburst-");
  try {
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    const starts = [0, 30, 80, 200, 400, 480, 520, 600, 900, 1500];
    for (let i = 0; i < starts.length; i += 5) {
      const runs = await Promise.all(
        starts.slice(i, i + 5).map((ms) => burstRun(daemonCmd(dir), ms)),
      );
      for (const r of runs) {
        assertSafe(r, `daemon, first burst at ${r.firstSignalMs} ms`, /exiting on signal 15/);
        if (r.status.signal === null) assert.match(r.output, /debug (raised|lowered) to \d/);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interop: bursts of SIGUSR1/SIGUSR2 at the daemon's server threads never open a listener", async () => {
  const dir = await tempDir("sigburst-");
  try {
    await Deno.writeTextFile(`${dir}/ntp.conf`, LOCAL_CONF);
    const runs = await Promise.all(
      [100, 450, 700].map((ms) => burstRun(daemonCmd(dir, ["--server-threads", "2"]), ms)),
    );
    for (const r of runs) {
      assertSafe(r, `server threads, first burst at ${r.firstSignalMs} ms`, /server thread 1/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interop: bursts of SIGUSR1/SIGUSR2 never open a listener in `horae sim`", async () => {
  const cmd = [
    ...NO_SYS_TIME,
    ...await horaeCommand(),
    "sim",
    "--scenario",
    "default",
    "--duration",
    "20000000",
  ];
  const runs = await Promise.all([0, 300, 600].map((ms) => burstRun(cmd, ms, 4000)));
  for (const r of runs) assertSafe(r, `sim, first burst at ${r.firstSignalMs} ms`, null);
});

Deno.test("interop: SIGHUP reloads and the daemon runs on; SIGTERM ends it cleanly: log line, drift saved, pid file removed, exit 0", async () => {
  const dir = await tempDir("sighup-");
  try {
    await Deno.writeTextFile(
      `${dir}/ntp.conf`,
      `${LOCAL_CONF}driftfile ${dir}/ntp.drift\npidfile ${dir}/ntpd.pid\n`,
    );
    await Deno.writeTextFile(`${dir}/ntp.drift`, "12.500\n");
    const before = (await Deno.stat(`${dir}/ntp.drift`)).mtime!.getTime();
    const proc = new Proc(daemonCmd(dir));
    try {
      await proc.waitFor(/Listening on/, 20_000);
      // The pid file is written once the daemon has started, just after that line.
      const pid = Number((await waitForFile(`${dir}/ntpd.pid`, 10_000, proc)).trim());
      assert.equal(pid, proc.child.pid);
      // SIGUSR1 and SIGUSR2 change the debug level, as in ntpd.
      proc.kill("SIGUSR1");
      await proc.waitFor(/debug raised to 1/, 5000);
      proc.kill("SIGUSR2");
      await proc.waitFor(/debug lowered to 0/, 5000);
      // SIGHUP reopens the files and reads the configuration again (reload_test.ts covers
      // changes); the daemon runs on.
      proc.kill("SIGHUP");
      await proc.waitFor(/reload: configuration unchanged/, 10_000);
      proc.kill("SIGTERM");
      const st = await proc.wait(10_000);
      assert.equal(st.code, 0, proc.output);
      assert.equal(st.signal, null);
    } finally {
      await proc.stop();
    }
    assert.doesNotMatch(proc.output, /exiting on signal 1 /);
    assert.match(proc.output, /exiting on signal 15 \(SIGTERM\)/);
    assert.match(proc.output, /packets received \d+/);
    await assert.rejects(Deno.stat(`${dir}/ntpd.pid`), Deno.errors.NotFound);
    // The drift file was written again on the way out (same frequency: nothing was measured).
    assert.equal(await Deno.readTextFile(`${dir}/ntp.drift`), "12.500\n");
    assert.ok((await Deno.stat(`${dir}/ntp.drift`)).mtime!.getTime() > before, "drift not saved");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
