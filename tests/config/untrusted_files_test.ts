// `horae check` as a real process on files that are not configurations: kernel files, FIFOs,
// devices, password databases, oversized files. Each must give one clear error, exit 78, end
// quickly and stay small in memory (the peak RSS is read from /proc while it runs).

import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** A bounded `check` needs ~50 MB; the unbounded read of /proc/self/pagemap went past 3 GB. */
const MAX_PEAK_RSS_KB = 250 * 1024;
/** Each run takes well under a second; the unbounded one took 8.5 s to reach 3 GB. */
const TIMEOUT_MS = 30_000;

interface Run {
  code: number;
  output: string;
  peakRssKb: number;
  /** Why the run was stopped early, or null when it exited by itself. */
  stopped: string | null;
}

function vmHwmKb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // already gone
  }
}

/**
 * Runs `deno run -A main.ts check <file>` (with standard input from `stdinFrom` when given, through
 * a shell that execs deno, so the pid is deno's), polling the child's peak RSS (VmHWM, a high-water
 * mark, so a poll after the peak still sees it) every 10 ms; stops it (by its pid) when it
 * exceeds the memory bound or the timeout.
 */
async function check(file: string, stdinFrom?: string): Promise<Run> {
  const argv = [Deno.execPath(), "run", "-A", MAIN, "check", file];
  const child = new Deno.Command(stdinFrom === undefined ? argv[0]! : "sh", {
    args: stdinFrom === undefined
      ? argv.slice(1)
      : ["-c", 'f=$1; shift; exec "$@" < "$f"', "sh", stdinFrom, ...argv],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let done = false;
  void output.finally(() => done = true);
  let peakRssKb = 0;
  let stopped: string | null = null;
  const started = Date.now();
  while (!done) {
    peakRssKb = Math.max(peakRssKb, vmHwmKb(child.pid) ?? 0);
    if (peakRssKb > MAX_PEAK_RSS_KB) stopped = `peak RSS ${peakRssKb} kB`;
    else if (Date.now() - started > TIMEOUT_MS) stopped = `no exit within ${TIMEOUT_MS} ms`;
    if (stopped !== null) {
      child.kill("SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const out = await output;
  const dec = new TextDecoder();
  return {
    code: out.code,
    output: dec.decode(out.stdout) + dec.decode(out.stderr),
    peakRssKb,
    stopped,
  };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae_untrusted_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertOneError(run: Run, where: string, message: RegExp): void {
  assert.equal(run.stopped, null, `${where}: stopped: ${run.stopped}\n${run.output}`);
  assert.ok(run.peakRssKb > 0, "the child's RSS was never read");
  assert.ok(run.peakRssKb <= MAX_PEAK_RSS_KB, `peak RSS ${run.peakRssKb} kB`);
  assert.equal(run.code, 78, run.output);
  const lines = run.output.trimEnd().split("\n");
  assert.equal(lines.length, 2, run.output); // the error and the summary
  assert.match(lines[0]!, new RegExp(`^${where}: error: `));
  assert.match(lines[0]!, message);
  assert.match(lines[1]!, /: 1 error, 0 warnings$/);
}

Deno.test("horae check: includefile of /proc/self/pagemap, a FIFO or /dev/zero is one bounded error", async () => {
  await inTempDir(async (dir) => {
    const made = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(made.success, "mkfifo failed");
    const cases: [string, RegExp][] = [
      ["/proc/self/pagemap", /"\/proc\/self\/pagemap": is a kernel pseudo-file \(proc file/],
      [`${dir}/fifo`, /fifo": is a FIFO \(named pipe\), not a regular file$/],
      ["/dev/zero", /"\/dev\/zero": is a character device, not a regular file$/],
    ];
    for (const [target, message] of cases) {
      const main = `${dir}/main.conf`;
      await Deno.writeTextFile(main, `server a.example iburst\nincludefile ${target}\n`);
      assertOneError(await check(main), `${main}:2:13`, message);
    }
  });
});

Deno.test("horae check: /proc/self/pagemap as the main file is one bounded error", async () => {
  const run = await check("/proc/self/pagemap");
  assertOneError(run, "/proc/self/pagemap", /cannot read configuration: is a kernel pseudo-file/);
});

Deno.test("horae check: a shadow-like file is not a configuration and is never quoted", async () => {
  await inTempDir(async (dir) => {
    const secret = "$6$S4lt$Q7hZsecretHashValue";
    await Deno.writeTextFile(
      `${dir}/shadow`,
      `root:${secret}:19000:0:99999:7:::\n` +
        ["daemon", "bin", "sys", "sync", "games"].map((u) => `${u}:*:19000:0:99999:7:::\n`)
          .join(""),
    );
    await Deno.writeTextFile(`${dir}/main.conf`, "server a.example\nincludefile shadow\n");
    for (const file of [`${dir}/main.conf`, `${dir}/shadow`]) {
      const run = await check(file);
      assertOneError(
        run,
        `${dir}/shadow`,
        /does not look like an ntp\.conf configuration file \(colon-separated records/,
      );
      for (const leak of [secret, "S4lt", "daemon", "games", "19000"]) {
        assert.ok(!run.output.includes(leak), `output quotes "${leak}":\n${run.output}`);
      }
    }
  });
});

Deno.test("horae check: a regular file over 1 MiB is refused", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/big.conf`, `${"# padding\n".repeat(110_000)}server a\n`);
    assertOneError(
      await check(`${dir}/big.conf`),
      `${dir}/big.conf`,
      /larger than the 1048576-byte limit for configuration files$/,
    );
  });
});

Deno.test("horae check: standard input is read only up to the limit (< /dev/zero)", async () => {
  const run = await check("-", "/dev/zero");
  assertOneError(run, "<stdin>", /input is larger than the 1048576-byte limit/);
});
