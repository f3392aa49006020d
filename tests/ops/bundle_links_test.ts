// The single-file bundle as an installed host runs it: `deno task bundle`, links named ntpd,
// ntpq, ntpdc, ntpdate and ntptrace to it, each executed directly (its shebang), from /. ntpd
// runs in the background (no -n) on port 123 of a test network namespace, without CAP_SYS_TIME
// and in observe mode; the tools query it there.

import assert from "node:assert/strict";
import { isRoot, NO_SYS_TIME, ROOT, tempDir, withNetns } from "../support/peers.ts";

async function run(
  cmd: string[],
  netns: string | null,
  timeoutMs = 60_000,
): Promise<{ code: number; out: string }> {
  const full = [...(netns ? ["ip", "netns", "exec", netns] : []), ...NO_SYS_TIME, ...cmd];
  const r = await new Deno.Command(full[0]!, {
    args: full.slice(1),
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

Deno.test({
  name: "deno task bundle: ntpd, ntpq, ntpdc, ntpdate and ntptrace links to it work against a " +
    "daemon started through the ntpd link",
  ignore: !isRoot(),
  sanitizeResources: false,
  fn: async () => {
    const dir = await tempDir("bundle-links-");
    let daemon: number | null = null;
    try {
      const js = `${dir}/horae.js`;
      const b = await new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "bundle", "-o", js],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
      for (const n of ["ntpd", "ntpq", "ntpdc", "ntpdate", "ntptrace"]) {
        await Deno.symlink(js, `${dir}/${n}`);
      }
      await Deno.writeTextFile(
        `${dir}/ntp.conf`,
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 7\nenable mode7\n",
      );
      await withNetns("bndl", async (ns) => {
        const pidFile = `${dir}/ntpd.pid`;
        const d = await run([
          `${dir}/ntpd`,
          "--observe",
          "-c",
          `${dir}/ntp.conf`,
          "-p",
          pidFile,
          "--listen",
          "127.0.0.1",
        ], ns);
        assert.equal(d.code, 0, d.out);
        daemon = Number((await Deno.readTextFile(pidFile)).trim());
        assert.ok(alive(daemon));
        assert.equal(Deno.readTextFileSync(`/proc/${daemon}/comm`).trim(), "ntpd");
        // The LOCAL clock is selected at once; give the daemon its first poll.
        const end = Date.now() + 30_000;
        let peers = "";
        while (Date.now() < end) {
          const q = await run([`${dir}/ntpq`, "-n", "-p", "127.0.0.1"], ns);
          peers = q.out;
          if (q.code === 0 && /^\*LOCAL\(0\)/m.test(peers)) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        assert.match(peers, /^\*LOCAL\(0\)\s+\.LOCL\.\s+7 l /m, peers);
        const rv = await run([`${dir}/ntpq`, "-c", "rv 0 stratum", "127.0.0.1"], ns);
        assert.match(rv.out, /stratum=8/, rv.out);
        const dc = await run([`${dir}/ntpdc`, "-n", "-c", "sysinfo", "127.0.0.1"], ns);
        assert.equal(dc.code, 0, dc.out);
        assert.match(dc.out, /^stratum:\s+8$/m, dc.out);
        const date = await run([`${dir}/ntpdate`, "-q", "127.0.0.1"], ns);
        assert.equal(date.code, 0, date.out);
        assert.match(date.out, /^server 127\.0\.0\.1, stratum 8, offset [-+]?\d+\.\d+, delay /m);
        const trace = await run([`${dir}/ntptrace`, "-n", "127.0.0.1"], ns);
        assert.match(trace.out, /^127\.0\.0\.1: stratum 8, offset /m, trace.out);
        Deno.kill(daemon, "SIGTERM");
        const stop = Date.now() + 15_000;
        while (alive(daemon) && Date.now() < stop) await new Promise((r) => setTimeout(r, 50));
        assert.equal(alive(daemon), false);
        daemon = null;
        await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound);
      });
    } finally {
      if (daemon !== null && alive(daemon)) Deno.kill(daemon, "SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
