import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_transport.ts";
import { formatSocketAddress } from "../net/socket_address.ts";
import { PureCrypto } from "../proto/auth/pure_crypto.ts";
import { KeyStore } from "../proto/auth/key_store.ts";
import { MacVerifier } from "../proto/auth/mac.ts";
import { keyedControlAuth } from "../proto/control/control_auth.ts";
import { ControlServer } from "../proto/control/control_server.ts";
import { FakeControlView } from "../proto/control/fake_control_view.ts";
import { IpWords } from "../proto/ip.ts";
import { SeededRng } from "../proto/rng.ts";
import { transportLink } from "./query_client.ts";
import { type QueryEnv, runQuery } from "./query.ts";
import type { MruEntry } from "../proto/access/mru.ts";

/** The fake daemon's clock: 30.5 s after the first association's last packet. */
const NOW_NTP_SEC = 0xe9000010 + 0.5 + 30;

interface Rig {
  env: QueryEnv;
  out: () => string;
  err: () => string;
  view: FakeControlView;
  server: ControlServer;
}

function rig(o: { lines?: string[]; controlKey?: number; bind?: boolean } = {}): Rig {
  const net = new MemoryNetwork({ startTime: BigInt(Math.floor(NOW_NTP_SEC)) << 32n });
  const view = new FakeControlView();
  const store = new KeyStore(new PureCrypto(), [{
    id: 7,
    algorithm: "SHA1",
    key: new TextEncoder().encode("controlpw"),
    allowed: null,
  }], [7]);
  const server = new ControlServer({
    view,
    rng: new SeededRng(3),
    crypto: new PureCrypto(),
    auth: keyedControlAuth(new MacVerifier(store)),
    controlKey: o.controlKey ?? 7,
    setvar: [{ name: "site", value: '"lab"', isDefault: false }],
  });
  if (o.bind !== false) {
    const st = net.open("127.0.0.1:123");
    const src = new IpWords();
    void st.serve((d) => {
      src.parse(d.peer.address);
      const a = server.handle(
        { data: d.data.slice(), src, srcPort: d.peer.port, restrictFlags: 0 },
        net.now,
      );
      for (const r of a.replies) st.send(r, d.peer, false);
    });
  }
  let stdout = "";
  let stderr = "";
  const lines = [...(o.lines ?? [])];
  const env: QueryEnv = {
    io: {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readStdin: () => Promise.resolve(new Uint8Array(0)),
      writeFile: () => Promise.resolve(),
    },
    connect: (server) => {
      const t = net.open("127.0.0.1:0");
      assert.equal(formatSocketAddress(server), "127.0.0.1:123");
      return transportLink(t, server, () => void net.flush());
    },
    resolve: () => Promise.resolve([]),
    nowNtpSec: () => NOW_NTP_SEC,
    readLine: () => Promise.resolve(lines.shift() ?? null),
  };
  return { env, out: () => stdout, err: () => stderr, view, server };
}

Deno.test("horae query -p prints NTPsec's billboard with tally codes", async () => {
  const r = rig();
  assert.equal(await runQuery(["-n", "-p"], r.env), 0, r.err());
  assert.equal(
    r.out(),
    "     remote           refid      st t when poll reach   delay   offset   jitter\n" +
      "===============================================================================\n" +
      "*192.0.2.1       192.0.2.1        2 u   30   64  377   0.4560   0.1230   0.0120\n" +
      "+192.0.2.2       192.0.2.1        2 u   30   64  377   0.4560   0.1230   0.0120\n",
  );
});

Deno.test("horae query -c rv prints the status line and ntpq's cooked variables", async () => {
  const r = rig();
  assert.equal(await runQuery(["-c", "rv"], r.env), 0, r.err());
  const text = r.out();
  assert.match(text, /^associd=0 status=0600 leap_none, sync_ntp, no events, unspecified,\n/);
  assert.match(text, /version="horae 0\.0\.0-test"/);
  assert.match(text, /leap=00,\s+stratum=3/);
  assert.match(text, /reftime=e9000000\.00000000 {2}\w{3}, \w{3} [ \d]\d \d{4}/);
  assert.match(text, /offset=0\.123000/);
  for (const line of text.split("\n")) assert.ok(line.length <= 78, line);
});

Deno.test("horae query -c 'rv 0 names', -c as, -c 'rv &2', --json", async () => {
  const r = rig();
  assert.equal(
    await runQuery(["-c", "rv 0 stratum,offset", "-c", "as", "-c", "rv &2 reach,srcadr"], r.env),
    0,
    r.err(),
  );
  const text = r.out();
  assert.match(text, /stratum=3, offset=0\.123000\n/);
  assert.ok(
    text.includes(
      "\nind assid status  conf reach auth condition  last_event cnt\n" + "=".repeat(59) + "\n" +
        "  1     1  9600   yes   yes  none  sys.peer              0\n" +
        "  2     2  9400   yes   yes  none candidate              0\n",
    ),
    text,
  );
  assert.match(
    text,
    /associd=2 status=9400 conf, reach, sel_candidate, no events, unspecified,\nreach=377, srcadr=192\.0\.2\.2\n/,
  );
  const j = rig();
  assert.equal(await runQuery(["--json", "-c", "peers"], j.env), 0, j.err());
  const rows = JSON.parse(j.out());
  assert.equal(rows.length, 2);
  assert.equal(rows[0].srcadr, "192.0.2.1");
  assert.equal(rows[0].reach, "0xff");
});

Deno.test("horae query -c mrulist walks the list through the nonce handshake", async () => {
  const r = rig();
  const base = 0xe9000000 - 2_208_988_800;
  r.view.mruList = Array.from({ length: 40 }, (_, k): MruEntry => ({
    address: `198.51.100.${k + 1}`,
    family: 4,
    port: 40000 + k,
    count: 5,
    firstSec: base - 100,
    lastSec: base + 40 - k,
    mode: 3,
    version: 4,
    restrictFlags: 0,
  }));
  assert.equal(await runQuery(["-c", "mrulist"], r.env), 0, r.err());
  const lines = r.out().trimEnd().split("\n");
  assert.equal(lines[0], "lstint avgint rstr r m v  count rport remote address");
  assert.equal(lines.length, 2 + 40);
  // Newest first.
  assert.match(lines[2]!, / 40000 198\.51\.100\.1$/);
  assert.match(lines[41]!, / 40039 198\.51\.100\.40$/);
  assert.match(lines[2]!, /^ +\d+ +35 +0 \. 3 4 +5 /);
});

Deno.test("horae query writevar needs a key: refused without, done with -k and -a", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-query-" });
  try {
    const keys = `${dir}/ntp.keys`;
    await Deno.writeTextFile(keys, "7 SHA1 controlpw\n", { mode: 0o600 });
    const r = rig();
    await runQuery(["-c", 'writevar 0 site="lab2"'], r.env);
    assert.match(r.err(), /No key id and password/);
    const ok = rig();
    assert.equal(
      await runQuery(
        ["-k", keys, "-a", "7", "-c", 'writevar 0 site="lab2"', "-c", "rv 0 site"],
        ok.env,
      ),
      0,
      ok.err(),
    );
    assert.match(ok.out(), /done! \(status=0600\)/);
    assert.match(ok.out(), /site="lab2"/);
    // The wrong key gets ntpd's permission error.
    const bad = rig();
    await runQuery(["-c", "keyid 7", "-c", "passwd wrongpw", "-c", 'writevar 0 site="x"'], bad.env);
    assert.match(bad.err(), /permission denied/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("horae query -i reads commands with history and !n", async () => {
  const r = rig({ lines: ["rv 0 stratum", "history", "!1", "quit", "rv"] });
  assert.equal(await runQuery(["-i"], r.env), 0, r.err());
  const text = r.out();
  assert.equal(text.match(/stratum=3/g)?.length, 2);
  assert.ok(text.includes("   1  rv 0 stratum\n"), text);
  assert.doesNotMatch(text, /version=/); // nothing after quit
});

Deno.test("horae query reports a server that does not answer and unknown commands", async () => {
  const r = rig({ bind: false });
  await runQuery(["-c", "rv", "-c", "frobnicate"], r.env);
  assert.match(r.err(), /\*\*\*Request timed out/);
  assert.match(r.err(), /\*\*\*Command `frobnicate' unknown/);
  const u = rig();
  assert.equal(await runQuery(["--nope"], u.env), 2);
  assert.match(u.err(), /unknown option --nope/);
});

Deno.test("horae query -c kerninfo -c iostats -c sysinfo print ntpq's labelled reports", async () => {
  const r = rig();
  assert.equal(
    await runQuery(["-c", "kerninfo", "-c", "iostats", "-c", "sysinfo"], r.env),
    0,
    r.err(),
  );
  const text = r.out();
  assert.match(text, /^pll frequency: +-12\.500$/m);
  assert.match(text, /^kernel status: +pll nano$/m);
  assert.match(text, /^frequency tolerance: +500$/m);
  assert.match(text, /^received packets: +42$/m);
  assert.match(text, /^packet send failures: +1$/m);
  assert.match(text, /^system peer: +192\.0\.2\.1:123$/m);
  assert.match(text, /^stratum: +3$/m);
  // Without a kernel clock to read, the server says so (unknown variable).
  const n = rig();
  n.view.kernelState = null;
  await runQuery(["-c", "kerninfo"], n.env);
  assert.match(n.err(), /unknown variable/);
});

Deno.test("horae query -w puts a long remote name on a line of its own", async () => {
  const r = rig();
  r.view.peerList[0]!.srcHost = "a-very-long-server-name.example.org";
  assert.equal(await runQuery(["-w", "-p"], r.env), 0, r.err());
  const lines = r.out().split("\n");
  assert.equal(lines[2], "*a-very-long-server-name.example.org");
  assert.match(lines[3]!, /^ {17}192\.0\.2\.1 +2 u /);
  const narrow = rig();
  narrow.view.peerList[0]!.srcHost = "a-very-long-server-name.example.org";
  await runQuery(["-p"], narrow.env);
  assert.match(narrow.out().split("\n")[2]!, /^\*a-very-long-ser 192\.0\.2\.1 /);
});

Deno.test("horae query -c kerninfo adds the kernel PPS lines when the kernel has a PPS interval", async () => {
  const r = rig();
  assert.equal(await runQuery(["-c", "kerninfo"], r.env), 0, r.err());
  assert.doesNotMatch(r.out(), /pps frequency/, "no PPS interval, no PPS lines");
  const p = rig();
  p.view.kernelState = {
    ...p.view.kernelState!,
    status: 0x2107,
    pps: {
      freqPpm: -15.25,
      jitterSec: 1.2e-6,
      intervalLog2: 6,
      stabilityPpm: 0.004,
      jitterExceeded: 1,
      calibrations: 40,
      errors: 0,
      stabilityExceeded: 2,
    },
  };
  assert.equal(await runQuery(["-c", "kerninfo"], p.env), 0, p.err());
  const text = p.out();
  assert.match(text, /^kernel status: +pll ppsfreq ppstime ppssignal nano$/m);
  assert.match(text, /^pps frequency: +-15\.250$/m);
  assert.match(text, /^calibration interval: +64$/m);
  assert.match(text, /^calibration cycles: +40$/m);
  assert.match(text, /^stability exceeded: +2$/m);
});
