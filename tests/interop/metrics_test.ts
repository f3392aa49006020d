// The metrics endpoint against a real Prometheus parser: Horae follows three chronyd -x servers
// in a network namespace with --metrics-listen, and Debian's promtool (`check metrics`, the
// exposition parser and linter of Prometheus 2.42) accepts what /metrics serves. The JSON status
// agrees, and nothing answers on an address that was not configured. Horae runs observe-only and
// every process without CAP_SYS_TIME.

import assert from "node:assert/strict";
import { needPeers, runGuarded } from "../support/peers.ts";
import { withNetns } from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

const peers = await needPeers("horae metrics checked by promtool", {
  programs: ["chronyd", "promtool"],
  root: NETNS,
});

/** Fetches `url` from inside `ns` (a Deno child there); returns status and body. */
async function fetchIn(ns: string, url: string): Promise<{ status: number; body: string }> {
  const code = `try { const r = await fetch(${JSON.stringify(url)}); ` +
    `console.log(r.status); console.log(await r.text()); } ` +
    `catch (e) { console.log(0); console.log(String(e), String(e.cause ?? "")); }`;
  const r = await runGuarded([Deno.execPath(), "eval", "--no-config", code], {
    netns: ns,
    timeoutMs: 20_000,
  });
  const nl = r.output.indexOf("\n");
  return { status: Number(r.output.slice(0, nl)), body: r.output.slice(nl + 1) };
}

/** Runs `promtool check metrics` on `text`; returns its exit code and output. */
async function promtool(path: string, text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(path, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test(
  "interop: promtool accepts /metrics of a Horae following chronyd; /status agrees; other addresses get nothing",
  { ignore: peers.ignore },
  async () => {
    const chronyd = peers.path("chronyd");
    await withNetns("hmet", async (ns) => {
      const stopServers = await startServers(chronyd, ns, GOOD);
      const horae = await startObservingHorae(ns, horaeConf(GOOD), [
        "--metrics-listen",
        "127.0.0.1:9975",
      ]);
      try {
        await horae.proc.waitFor(/metrics on http:\/\/127\.0\.0\.1:9975\/metrics/, 10_000);
        await waitStatus(
          `${horae.dir}/status.json`,
          (s: Json) => s.synchronized && s.associations.every((a: Json) => a.reach !== "000"),
          60_000,
          horae.proc,
        );
        const m = await fetchIn(ns, "http://127.0.0.1:9975/metrics");
        assert.equal(m.status, 200, m.body);
        const check = await promtool(peers.path("promtool"), m.body);
        assert.equal(check.code, 0, `promtool:\n${check.output}\n---\n${m.body}`);
        assert.equal(check.output.trim(), "", check.output);
        // The content: synchronised, every chronyd a source, one of them the system peer.
        assert.match(m.body, /^horae_system_synchronized 1$/m);
        assert.match(m.body, /^horae_system_stratum 9$/m);
        for (const a of GOOD) {
          assert.match(
            m.body,
            new RegExp(`^horae_source_reach\\{source="${a}",[^}]*\\} [1-9]`, "m"),
          );
        }
        assert.equal([...m.body.matchAll(/state="sys_peer"/g)].length, 1);
        assert.match(m.body, /^horae_event_loop_lag_seconds_count [1-9]/m);
        const s = await fetchIn(ns, "http://127.0.0.1:9975/status");
        assert.equal(s.status, 200);
        const doc = JSON.parse(s.body);
        assert.equal(doc.synchronized, true);
        assert.equal(doc.associations.length, 3);
        // Bound to 127.0.0.1 only: the namespace's other loopback addresses get no answer.
        const other = await fetchIn(ns, "http://127.0.0.2:9975/metrics");
        assert.equal(other.status, 0, other.body);
        assert.match(other.body, /refused/i);
      } finally {
        const st = await horae.proc.stop();
        await horae.stop();
        await stopServers();
        assert.equal(st.code, 0, horae.proc.output.slice(-2000));
      }
    });
  },
);
