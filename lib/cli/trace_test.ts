// Tests for `horae trace` (ntptrace) over pretend mode 6 hosts: each answers READVAR with canned
// variables through the real mode 6 codec, or stays silent.

import assert from "node:assert/strict";
import { CtlOp, decodeControl, fragmentAnswer } from "../proto/control/mode6.ts";
import { asciiBytes, bytesText } from "../proto/control/var_list.ts";
import type { SocketAddress } from "../net/transport.ts";
import type { CliIo } from "./check.ts";
import type { ControlLink } from "./query_client.ts";
import { runTrace, type TraceEnv, traceLine } from "./trace.ts";

/** A pretend daemon: its system variables and each association's variables. */
interface FakeHost {
  sys: string;
  /** Milliseconds each answer takes. */
  latencyMs?: number;
  assocs?: Record<number, string>;
}

function fakeEnv(
  hosts: Record<string, FakeHost>,
  names: Record<string, string> = {},
): { env: TraceEnv; out: () => string; err: () => string; asked: string[] } {
  let out = "";
  let err = "";
  let clock = 0;
  const asked: string[] = [];
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    readStdin: () => Promise.resolve(new Uint8Array()),
    writeFile: () => Promise.resolve(),
  };
  const env: TraceEnv = {
    io,
    connect(server: SocketAddress): ControlLink {
      const queue: Uint8Array[] = [];
      const latency = hosts[server.address]?.latencyMs ?? 0;
      return {
        send(data) {
          const d = decodeControl(data);
          assert.ok(d.ok);
          const m = d.message;
          asked.push(`${server.address}:${server.port} ${m.associd} ${bytesText(m.data)}`);
          assert.equal(m.opcode, CtlOp.READVAR);
          const h = hosts[server.address];
          if (h === undefined) return; // silent
          const text = m.associd === 0 ? h.sys : h.assocs?.[m.associd];
          if (text === undefined) return;
          queue.push(...fragmentAnswer(m, 0x0618, asciiBytes(text)));
        },
        receive(timeoutMs) {
          const d = queue.shift() ?? null;
          clock += d === null ? timeoutMs : latency;
          return Promise.resolve(d);
        },
        close() {},
      };
    },
    resolve: (name) => Promise.resolve(name === "ntp.example" ? ["192.0.2.10"] : []),
    reverse: (a) => Promise.resolve(names[a] ?? null),
    nowMs: () => clock,
  };
  return { env, out: () => out, err: () => err, asked };
}

function sys(stratum: number, refid: string, peer: number, offsetMs = 0.5): string {
  return `version="horae 0.1.0", stratum=${stratum}, refid=${refid}, peer=${peer}, ` +
    `offset=${offsetMs}, rootdelay=2.000, rootdisp=1.250, leap=00`;
}

/** A chain 192.0.2.3 → .2 → .1 (stratum 1, LOCAL). */
const CHAIN: Record<string, FakeHost> = {
  "192.0.2.3": {
    sys: sys(3, "192.0.2.2", 7, -0.012),
    assocs: { 7: "srcadr=192.0.2.2, srcport=123" },
  },
  "192.0.2.2": { sys: sys(2, "192.0.2.1", 9, 1.5), assocs: { 9: "srcadr=192.0.2.1, srcport=123" } },
  "192.0.2.1": {
    sys: sys(1, "LOCL", 1, 0),
    assocs: { 1: "srcadr=127.127.1.0, srcport=123" },
  },
};

Deno.test("runTrace() follows the system peers to the primary source, printing ntptrace's lines", async () => {
  const f = fakeEnv(CHAIN);
  assert.equal(await runTrace(["-n", "192.0.2.3"], "ntptrace", f.env), 0, f.err());
  assert.equal(
    f.out(),
    "192.0.2.3: stratum 3, offset -0.000012, synch distance 0.002250\n" +
      "192.0.2.2: stratum 2, offset 0.001500, synch distance 0.002250\n" +
      "192.0.2.1: stratum 1, offset 0.000000, synch distance 0.002250, refid 'LOCL'\n",
  );
  assert.equal(f.err(), "");
  // rv at each host, srcadr of the system peer at the first two, all on port 123.
  assert.deepEqual(f.asked, [
    "192.0.2.3:123 0 ",
    "192.0.2.3:123 7 srcadr",
    "192.0.2.2:123 0 ",
    "192.0.2.2:123 9 srcadr",
    "192.0.2.1:123 0 ",
  ]);
});

Deno.test("runTrace() names hosts unless -n; --json gives the chain and why it ended", async () => {
  const f = fakeEnv(CHAIN, { "192.0.2.2": "two.example" });
  assert.equal(await runTrace(["-r", "192.0.2.3"], "ntptrace", f.env), 0);
  const lines = f.out().split("\n");
  assert.match(lines[0]!, /^192\.0\.2\.3: stratum 3,/); // the first host as given
  assert.match(lines[1]!, /^two\.example: stratum 2,/);
  assert.match(lines[2]!, /^192\.0\.2\.1: stratum 1,/); // no name: the address

  const j = fakeEnv(CHAIN);
  assert.equal(await runTrace(["--json", "192.0.2.3"], "ntptrace", j.env), 0);
  const doc = JSON.parse(j.out());
  assert.equal(doc.end, "primary");
  assert.deepEqual(doc.hops.map((h: { stratum: number }) => h.stratum), [3, 2, 1]);
  assert.equal(doc.hops[2].refid, "LOCL");
});

Deno.test("runTrace() stops at a silent host, a loop, -m, stratum 16 and a refclock", async () => {
  // .2's peer is .9, which never answers.
  const silent = fakeEnv({
    ...CHAIN,
    "192.0.2.2": { sys: sys(2, "192.0.2.9", 4), assocs: { 4: "srcadr=192.0.2.9" } },
  });
  assert.equal(await runTrace(["-n", "-t", "0.5", "192.0.2.3"], "ntptrace", silent.env), 0);
  assert.equal(silent.out().split("\n").length, 3);
  assert.equal(silent.err(), "192.0.2.9: timed out, nothing received\n");

  // The very first host silent: exit 1.
  const none = fakeEnv({});
  assert.equal(await runTrace(["-n", "192.0.2.77"], "ntptrace", none.env), 1);
  assert.equal(none.out(), "");
  assert.match(none.err(), /^192\.0\.2\.77: timed out, nothing received\n$/);

  // .2 and .3 name each other.
  const loop = fakeEnv({
    "192.0.2.3": { sys: sys(3, "192.0.2.2", 1), assocs: { 1: "srcadr=192.0.2.2" } },
    "192.0.2.2": { sys: sys(2, "192.0.2.3", 1), assocs: { 1: "srcadr=192.0.2.3" } },
  });
  assert.equal(await runTrace(["-n", "192.0.2.3"], "ntptrace", loop.env), 0);
  assert.equal(loop.out().split("\n").length, 3);
  assert.match(loop.err(), /192\.0\.2\.3: already in the chain \(a loop\)/);

  const max = fakeEnv(CHAIN);
  assert.equal(await runTrace(["-n", "-m", "2", "192.0.2.3"], "ntptrace", max.env), 0);
  assert.equal(max.out().split("\n").length, 3); // two lines

  const unsync = fakeEnv({ "192.0.2.5": { sys: sys(16, "INIT", 0) } });
  assert.equal(await runTrace(["-n", "192.0.2.5"], "ntptrace", unsync.env), 0);
  assert.equal(unsync.out(), "192.0.2.5: stratum 16, offset 0.000500, synch distance 0.002250\n");

  const refclock = fakeEnv({ "192.0.2.6": { sys: sys(2, "127.127.20.0", 3) } });
  assert.equal(await runTrace(["-n", "192.0.2.6"], "ntptrace", refclock.env), 0);
  assert.equal(refclock.out().split("\n").length, 2);
});

Deno.test("runTrace() gives up after --time-limit", async () => {
  // The first host takes 0.6 s per answer: after its two answers the 1 s limit has passed.
  const f = fakeEnv({
    ...CHAIN,
    "192.0.2.3": { ...CHAIN["192.0.2.3"]!, latencyMs: 600 },
  });
  assert.equal(await runTrace(["-n", "--time-limit", "1", "192.0.2.3"], "ntptrace", f.env), 0);
  assert.equal(f.out().split("\n").length, 2);
  assert.equal(f.err(), "192.0.2.2: not asked, the trace took longer than 1 s\n");
  // A host that never answers is waited for no longer than the limit allows (not 2 × -t).
  const g = fakeEnv({
    "192.0.2.3": { sys: sys(3, "192.0.2.2", 7), assocs: { 7: "srcadr=192.0.2.8" } },
  });
  const t0 = g.env.nowMs();
  assert.equal(
    await runTrace(["-n", "-t", "5", "--time-limit", "3", "192.0.2.3"], "ntptrace", g.env),
    0,
  );
  assert.match(g.err(), /^192\.0\.2\.8: timed out, nothing received\n$/);
  assert.ok(g.env.nowMs() - t0 <= 6000, `waited ${g.env.nowMs() - t0} ms`);
});

Deno.test("runTrace() resolves names and rejects bad options", async () => {
  const f = fakeEnv({ "192.0.2.10": { sys: sys(1, "GPS", 0) } });
  assert.equal(await runTrace(["ntp.example"], "ntptrace", f.env), 0);
  assert.equal(
    f.out(),
    "ntp.example: stratum 1, offset 0.000500, synch distance 0.002250, refid 'GPS'\n",
  );
  for (const args of [["-m", "0"], ["-t", "x"], ["a", "b"], ["--bogus"]]) {
    const e = fakeEnv({});
    assert.equal(await runTrace(args, "ntptrace", e.env), 2, args.join(" "));
    assert.match(e.err(), /\(see ntptrace --help\)\n$/);
  }
});

Deno.test("traceLine() formats as ntptrace", () => {
  assert.equal(
    traceLine({
      host: "h",
      address: "h",
      stratum: 1,
      offsetSec: 1e-7,
      syncDistanceSec: 0.5,
      refid: "PPS",
    }),
    "h: stratum 1, offset 0.000000, synch distance 0.500000, refid 'PPS'\n",
  );
});
