import assert from "node:assert/strict";
import { syncedDaemon } from "./_test_daemon.ts";
import { escapeLabel, formatValue, LAG_BUCKETS_SEC, prometheusText } from "./metrics.ts";
import { allowedHosts, MetricsServer } from "./metrics_server.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SERVERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** The sample lines of an exposition as name → [labels, value] pairs. */
function samples(text: string): Map<string, { labels: string; value: string }[]> {
  const out = new Map<string, { labels: string; value: string }[]>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? "", value: m[3]! });
    out.set(m[1]!, list);
  }
  return out;
}

Deno.test("prometheusText() shows the system, every source and the counters of a synchronised daemon", async () => {
  const { daemon } = await syncedDaemon(120);
  try {
    const st = daemon.status();
    const text = prometheusText(st, {
      version: "9.9.9",
      lag: { buckets: LAG_BUCKETS_SEC.map((_, i) => i), count: 12, sumSec: 0.5 },
    });
    const s = samples(text);
    const one = (name: string) => Number(s.get(name)?.[0]?.value);
    assert.equal(one("horae_system_synchronized"), 1);
    assert.equal(one("horae_system_stratum"), 3);
    assert.equal(one("horae_system_leap_indicator"), 0);
    assert.equal(one("horae_system_root_delay_seconds"), st.state.rootDelaySec);
    assert.equal(one("horae_system_frequency_ppm"), st.system!.freqPpm);
    assert.equal(one("horae_system_jitter_seconds"), st.system!.sysJitterSec);
    assert.ok(Math.abs(one("horae_system_offset_seconds")) < 1e-3);
    // One series per source, labelled with its address; exactly one system peer.
    for (
      const name of [
        "horae_source_reach",
        "horae_source_offset_seconds",
        "horae_source_delay_seconds",
      ]
    ) {
      assert.deepEqual(
        s.get(name)!.map((x) => /source="([^"]+)"/.exec(x.labels)![1]).sort(),
        SERVERS,
        name,
      );
    }
    assert.ok(s.get("horae_source_reach")!.every((x) => Number(x.value) > 0));
    const states = s.get("horae_source_state_info")!.map((x) => /state="(\w+)"/.exec(x.labels)![1]);
    assert.equal(states.filter((x) => x === "sys_peer").length, 1, states.join());
    assert.ok(Number(s.get("horae_source_delay_seconds")![0]!.value) > 0.0015);
    assert.ok(one("horae_packets_received_total") > 0);
    assert.equal(s.get("horae_packets_dropped_total")!.length > 10, true);
    // The lag histogram: cumulative buckets, +Inf equal to the count.
    const buckets = s.get("horae_event_loop_lag_seconds_bucket")!;
    assert.equal(buckets.at(-1)!.labels, '{le="+Inf"}');
    assert.equal(buckets.at(-1)!.value, "12");
    assert.equal(one("horae_event_loop_lag_seconds_count"), 12);
    // HELP and TYPE once per family, before its samples; counters end in _total.
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
    assert.equal(new Set(types.map((t) => t[1])).size, types.length);
    for (const [, name, type] of types) {
      if (type === "counter") assert.match(name!, /_total$/);
      assert.ok(text.includes(`# HELP ${name} `), name);
    }
    assert.match(text, /^horae_build_info\{version="9\.9\.9"\} 1$/m);
  } finally {
    await daemon.stop();
  }
});

Deno.test("escapeLabel() and formatValue() follow the text format", () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(1.5e-7), "1.5e-7");
});

Deno.test("allowedHosts() accepts the bound address and localhost for loopback", () => {
  assert.deepEqual(allowedHosts({ hostname: "127.0.0.1", port: 9975 }), [
    "127.0.0.1:9975",
    "localhost:9975",
  ]);
  assert.deepEqual(allowedHosts({ hostname: "::1", port: 9975 }), ["[::1]:9975", "localhost:9975"]);
  assert.deepEqual(allowedHosts({ hostname: "192.0.2.1", port: 80 }), [
    "192.0.2.1:80",
    "192.0.2.1",
  ]);
});

/** A GET / over a plain TCP connection with this Host header (none: HTTP/1.0 without one). */
async function rawGet(port: number, host: string | null): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const req = host === null
      ? "GET / HTTP/1.0\r\n\r\n"
      : `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(req));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 100; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("MetricsServer answers /metrics and /status on its address only, and refuses other Hosts", async () => {
  const server = new MetricsServer({
    addresses: [{ hostname: "127.0.0.1", port: 0 }],
    metrics: (lag) => `# HELP x y\n# TYPE x gauge\nx ${lag.count}\n`,
    status: () => ({ hello: "world" }),
    log: quiet,
  });
  server.start();
  try {
    const { hostname, port } = server.addresses[0]!;
    assert.equal(hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${port}`;
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    assert.match(await m.text(), /^x \d+$/m);
    const j = await fetch(`${base}/status`);
    assert.deepEqual(await j.json(), { hello: "world" });
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    const missing = await fetch(`${base}/nothing`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    // A page that rebinds evil.example to 127.0.0.1 sends its own name as Host.
    assert.match(await rawGet(port, `evil.example:${port}`), /^HTTP\/1\.1 421 /);
    assert.equal(server.refused, 1);
    assert.match(await rawGet(port, `localhost:${port}`), /^HTTP\/1\.1 200 /);
    assert.match(await rawGet(port, null), /^HTTP\/1\.0 200 |^HTTP\/1\.1 200 /);
    // The lag probe runs: a few of its 250 ms timers have fired after a second.
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok(server.lag.count >= 3, `${server.lag.count}`);
    assert.equal(server.lag.buckets.at(-1)! <= server.lag.count, true);
  } finally {
    await server.stop();
  }
});

Deno.test("MetricsServer.start() throws and leaves nothing open when an address is taken", async () => {
  const first = new MetricsServer({
    addresses: [{ hostname: "127.0.0.1", port: 0 }],
    metrics: () => "",
    status: () => ({}),
    log: quiet,
  });
  first.start();
  try {
    const port = first.addresses[0]!.port;
    const second = new MetricsServer({
      addresses: [{ hostname: "127.0.0.1", port: 0 }, { hostname: "127.0.0.1", port }],
      metrics: () => "",
      status: () => ({}),
      log: quiet,
    });
    assert.throws(() => second.start(), Deno.errors.AddrInUse);
    assert.deepEqual(second.addresses, []);
  } finally {
    await first.stop();
  }
});
