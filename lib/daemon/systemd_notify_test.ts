import assert from "node:assert/strict";
import { notifyTarget, syncStatusLine, SystemdNotifier } from "./systemd_notify.ts";
import { syncedDaemon } from "./_test_daemon.ts";
import type { DaemonStatus } from "./daemon_status.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ROOT = new URL("../../", import.meta.url).pathname;
const NO_SYS_TIME = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--"];

function env(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

/** A fake systemd: a unix datagram socket that records every message it receives. */
class NotifyListener {
  readonly dir = Deno.makeTempDirSync({ prefix: "horae-notify-" });
  readonly path = `${this.dir}/notify`;
  readonly messages: { at: number; text: string }[] = [];
  readonly #conn = Deno.listenDatagram({ transport: "unixpacket", path: this.path });
  readonly #loop: Promise<void>;

  constructor() {
    const dec = new TextDecoder();
    this.#loop = (async () => {
      try {
        for (let i = 0; i < 100_000; i++) {
          const [data] = await this.#conn.receive();
          this.messages.push({ at: performance.now(), text: dec.decode(data) });
        }
      } catch { /* closed */ }
    })();
  }

  count(pattern: RegExp): number {
    return this.messages.filter((m) => pattern.test(m.text)).length;
  }

  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const m = this.messages.find((m) => pattern.test(m.text));
      if (m) return m.text;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${pattern} in ${JSON.stringify(this.messages.map((m) => m.text))}`);
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#loop;
    Deno.removeSync(this.dir, { recursive: true });
  }
}

Deno.test("notifyTarget() is null without NOTIFY_SOCKET", () => {
  assert.equal(notifyTarget(env({}), 42), null);
  assert.equal(notifyTarget(env({ NOTIFY_SOCKET: "" }), 42), null);
});

Deno.test("notifyTarget() turns the watchdog on only for this pid and a positive interval", () => {
  const s = { NOTIFY_SOCKET: "/run/systemd/notify" };
  assert.deepEqual(notifyTarget(env(s), 42), { socket: s.NOTIFY_SOCKET, watchdogUsec: null });
  assert.equal(notifyTarget(env({ ...s, WATCHDOG_USEC: "30000000" }), 42)?.watchdogUsec, 3e7);
  const mine = { ...s, WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" };
  assert.equal(notifyTarget(env(mine), 42)?.watchdogUsec, 3e7);
  assert.equal(notifyTarget(env({ ...mine, WATCHDOG_PID: "43" }), 42)?.watchdogUsec, null);
  for (const bad of ["0", "-5", "12s", "", "1e6"]) {
    assert.equal(notifyTarget(env({ ...s, WATCHDOG_USEC: bad }), 42)?.watchdogUsec, null, bad);
  }
  assert.equal(notifyTarget(env({ NOTIFY_SOCKET: "@abs" }), 1)?.socket, "@abs");
});

Deno.test("syncStatusLine() names the system peer, stratum and offset once synchronised", async () => {
  const { daemon } = await syncedDaemon(600);
  try {
    const status = daemon.status();
    const line = syncStatusLine(status);
    const peer = status.system!.associations.find((a) => a.id === status.system!.systemPeer)!;
    assert.match(
      line,
      new RegExp(
        `^synchronised to ${
          peer.address.address.replaceAll(".", "\\.")
        }, stratum ${status.state.stratum}, offset [+-]\\d+(\\.\\d+)? (us|ms|s)`,
      ),
    );
    assert.match(line, /observe mode: clock not steered\)$/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("syncStatusLine() says unsynchronised and counts sources before the first update", async () => {
  const { daemon } = await syncedDaemon(0);
  try {
    assert.match(syncStatusLine(daemon.status()), /^unsynchronised, 3 sources/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("syncStatusLine() names a reference clock by its refid", () => {
  const status = {
    state: {
      leap: 0,
      stratum: 1,
      precisionLog2: -20,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: 0x47505300, // "GPS"
      referenceTime: 0n,
    },
    system: null,
    observe: null,
    source: "refclock",
  } as unknown as DaemonStatus;
  assert.equal(syncStatusLine(status), "synchronised to reference clock GPS, stratum 1");
});

Deno.test("SystemdNotifier sends READY, STATUS, WATCHDOG and STOPPING datagrams", async () => {
  const listener = new NotifyListener();
  const n = SystemdNotifier.connect({ socket: listener.path, watchdogUsec: 100_000 }, quiet);
  assert.ok(n !== null);
  try {
    const { daemon } = await syncedDaemon(0);
    try {
      n.start({ status: () => daemon.status(), log: quiet });
      assert.match(await listener.waitFor(/READY=1/), /^READY=1\nSTATUS=unsynchronised, 3 sources/);
      await listener.waitFor(/^WATCHDOG=1$/);
      await new Promise((r) => setTimeout(r, 400));
      // 50 ms apart: about eight in 400 ms, however busy the machine is at least two.
      assert.ok(listener.count(/^WATCHDOG=1$/) >= 2);
      n.stopping();
      assert.equal(await listener.waitFor(/STOPPING/), "STOPPING=1\nSTATUS=stopping");
      const pings = listener.count(/^WATCHDOG=1$/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(listener.count(/^WATCHDOG=1$/), pings, "no pings after STOPPING=1");
    } finally {
      await daemon.stop();
    }
  } finally {
    n.close();
    await listener.close();
  }
});

Deno.test("SystemdNotifier.connect() logs and returns null when there is no socket", () => {
  const warnings: string[] = [];
  const log = { ...quiet, warn: (m: string) => void warnings.push(m) };
  assert.equal(
    SystemdNotifier.connect({ socket: "/nonexistent/notify", watchdogUsec: null }, log),
    null,
  );
  assert.match(warnings[0] ?? "", /\/nonexistent\/notify/);
});

Deno.test("SystemdNotifier reaches an abstract socket (@name)", async () => {
  const name = `horae-notify-test-${Deno.pid}-${Date.now()}`;
  const socat = new Deno.Command("socat", {
    args: ["-u", `ABSTRACT-RECV:${name}`, "STDOUT"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const n = SystemdNotifier.connect({ socket: `@${name}`, watchdogUsec: null }, quiet);
    assert.ok(n !== null);
    assert.ok(n.send("READY=1\n"));
    n.close();
    const reader = socat.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    assert.equal(new TextDecoder().decode(value), "READY=1\n");
  } finally {
    try {
      socat.kill("SIGTERM");
    } catch { /* exited */ }
    await socat.stdout.cancel().catch(() => {});
    await socat.status;
  }
});

/** Starts `main.ts run` (observe mode, no CAP_SYS_TIME) with the notify variables set. */
function startDaemon(dir: string, notify: string, extra: string[] = []): Deno.ChildProcess {
  const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  Deno.writeTextFileSync(`${dir}/ntp.conf`, `driftfile ${dir}/drift\n`);
  return new Deno.Command(NO_SYS_TIME[0]!, {
    args: [
      ...NO_SYS_TIME.slice(1),
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-net",
      `${ROOT}main.ts`,
      "run",
      "-n",
      "--observe",
      "-c",
      `${dir}/ntp.conf`,
      "--port",
      String(port),
      "--listen",
      "127.0.0.1",
      ...extra,
    ],
    env: { NOTIFY_SOCKET: notify, WATCHDOG_USEC: "200000" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function endDaemon(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const out = await new Response(child.stderr).text();
  const st = await child.status;
  clearTimeout(timer);
  return { code: st.code, stderr: out };
}

/** Sleeps `ms` and returns the watchdog pings received meanwhile. */
async function pingsDuring(listener: NotifyListener, ms: number): Promise<number> {
  const before = listener.count(/^WATCHDOG=1$/);
  await new Promise((r) => setTimeout(r, ms));
  return listener.count(/^WATCHDOG=1$/) - before;
}

Deno.test({
  name: "ntpd under a notify socket: READY, STATUS, WATCHDOG; a frozen process stops the pings",
  sanitizeResources: false,
  fn: async () => {
    const listener = new NotifyListener();
    const child = startDaemon(listener.dir, listener.path);
    let stopped = false;
    try {
      // The daemon restarted its own image at start (signal safety): the environment, and so
      // NOTIFY_SOCKET, survived, and the pid that talks is the one systemd started.
      assert.match(await listener.waitFor(/READY=1/), /^READY=1\nSTATUS=unsynchronised, 0 sources/);
      await listener.waitFor(/^WATCHDOG=1$/);
      assert.ok(await pingsDuring(listener, 600) >= 2, "pings every 100 ms");
      child.kill("SIGSTOP");
      stopped = true;
      await new Promise((r) => setTimeout(r, 100)); // a datagram already in flight
      assert.equal(await pingsDuring(listener, 700), 0, "no pings while the loop is frozen");
      child.kill("SIGCONT");
      stopped = false;
      assert.ok(await pingsDuring(listener, 800) >= 1, "pings resume");
    } finally {
      if (stopped) child.kill("SIGCONT");
      const end = await endDaemon(child);
      assert.equal(end.code, 0, end.stderr);
      assert.match(await listener.waitFor(/STOPPING=1/), /^STOPPING=1\nSTATUS=stopping$/);
      await listener.close();
    }
  },
});

Deno.test({
  name: "ntpd -u: the notify socket keeps working after the restart and the switch of user",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  fn: async () => {
    const listener = new NotifyListener();
    Deno.chmodSync(listener.dir, 0o755);
    const child = startDaemon(listener.dir, listener.path, ["-u", "nobody"]);
    try {
      await listener.waitFor(/READY=1/);
      await listener.waitFor(/^WATCHDOG=1$/);
      assert.ok(await pingsDuring(listener, 500) >= 1);
    } finally {
      const end = await endDaemon(child);
      assert.equal(end.code, 0, end.stderr);
      await listener.waitFor(/STOPPING=1/);
      await listener.close();
    }
  },
});
