import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_transport.ts";
import { FakeControlView, fakePeer } from "../proto/control/fake_control_view.ts";
import { Mode7Server } from "../proto/control/mode7_server.ts";
import { SysFlag } from "../proto/control/mode7.ts";
import { PeerSelect } from "../proto/control/control_view.ts";
import { IpWords } from "../proto/ip.ts";
import { type DcEnv, runDc } from "./dc.ts";
import { transportLink } from "./query_client.ts";
import { cG, kernelText, peerFlagsText, prettyDate, refidText } from "./dc_format.ts";

const NOW_NTP_SEC = 0xe9000010 + 30;

function rig(o: { lines?: string[]; mode7?: boolean } = {}) {
  const net = new MemoryNetwork({ startTime: BigInt(NOW_NTP_SEC) << 32n });
  const view = new FakeControlView();
  view.peerList = [
    fakePeer(1, { selection: PeerSelect.SYSPEER }),
    fakePeer(2, { offsetSec: -0.0012345, selection: PeerSelect.OUTLIER }),
  ];
  const server = new Mode7Server({
    view,
    extras: {
      systemFlags: () => SysFlag.MONITOR | SysFlag.NTP | SysFlag.KERNEL,
      memory: () => ({ findPeerCalls: 12, allocations: 2, demobilizations: 0 }),
      pollAdjust: () => 30,
    },
  });
  const st = net.open("127.0.0.1:123");
  const src = new IpWords();
  void st.serve((d) => {
    if (o.mode7 === false) return;
    src.parse(d.peer.address);
    const a = server.handle({ data: d.data.slice(), src, srcPort: d.peer.port }, net.now);
    for (const r of a.replies) st.send(r, d.peer, false);
  });
  let stdout = "";
  let stderr = "";
  const lines = [...(o.lines ?? [])];
  const env: DcEnv = {
    io: {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readStdin: () => Promise.resolve(new Uint8Array(0)),
      writeFile: () => Promise.resolve(),
    },
    connect: (server) => transportLink(net.open("127.0.0.1:0"), server, () => void net.flush()),
    resolve: () => Promise.resolve([]),
    reverse: (a) => Promise.resolve(a === "192.0.2.1" ? "ntp1.example" : null),
    nowNtpSec: () => NOW_NTP_SEC,
    readLine: () => Promise.resolve(lines.shift() ?? null),
  };
  return { env, out: () => stdout, err: () => stderr, view };
}

Deno.test("horae dc -n -p prints ntpdc's peers table", async () => {
  const r = rig();
  assert.equal(await runDc(["-n", "-p"], r.env), 0, r.err());
  assert.equal(
    r.out(),
    "     remote           local      st poll reach  delay   offset    disp\n" +
      "=======================================================================\n" +
      "*192.0.2.1       192.0.2.200      2   64  377 0.00046  0.000123 0.00079\n" +
      "=192.0.2.2       192.0.2.200      2   64  377 0.00046 -0.001234 0.00079\n",
  );
});

Deno.test("horae dc: dmpeers tallies, listpeers, names without -n", async () => {
  const r = rig();
  assert.equal(await runDc(["-c", "dmpeers", "-c", "listpeers"], r.env), 0, r.err());
  const lines = r.out().split("\n");
  assert.equal(lines[2], "*ntp1.example    192.0.2.200      2   64  377 0.00046  0.000123 0.00079");
  // An outlier passed intersection: a candidate, not on the short list.
  assert.ok(lines[3]!.startsWith(".192.0.2.2 "), lines[3]);
  assert.equal(lines[4], "client    ntp1.example");
  assert.equal(lines[5], "client    192.0.2.2");
});

Deno.test("horae dc: sysstats, iostats, loopinfo, memstats in ntpdc's layout", async () => {
  const r = rig();
  const code = await runDc(
    [
      "-c",
      "sysstats",
      "-c",
      "loopinfo",
      "-c",
      "loopinfo oneline",
      "-c",
      "memstats",
      "-c",
      "iostats",
    ],
    r.env,
  );
  assert.equal(code, 0, r.err());
  const text = r.out();
  assert.ok(
    text.startsWith(
      "time since restart:     100\n" +
        "time since reset:       100\n" +
        "packets received:       10\n" +
        "packets processed:      8\n" +
        "current version:        9\n" +
        "previous version:       1\n" +
        "declined:               0\n" +
        "access denied:          1\n" +
        "bad length or format:   1\n" +
        "bad authentication:     0\n" +
        "rate exceeded:          0\n" +
        "offset:               0.000123 s\n" +
        "frequency:            -12.500 ppm\n" +
        "poll adjust:          30\n" +
        "watchdog timer:       46 s\n" +
        "offset 0.000123, frequency -12.500, time_const 30, watchdog 46\n" +
        "time since reset:     100\n" +
        "total peer memory:    2\n" +
        "free peer memory:     0\n" +
        "calls to findpeer:    12\n" +
        "new peer allocations: 2\n" +
        "peer demobilizations: 0\n" +
        "hash table counts:      ",
    ),
    text,
  );
  assert.ok(text.includes("\n                        0   0   0   0   0   0   0   0\n"), text);
  assert.ok(text.includes("received packets:     42\npackets sent:         40\n"), text);
  assert.ok(text.endsWith("received by int:      0\n"), text);
});

Deno.test("horae dc: sysinfo and showpeer", async () => {
  const r = rig();
  assert.equal(await runDc(["-n", "-c", "sysinfo", "-c", "showpeer 192.0.2.2"], r.env), 0, r.err());
  const now = NOW_NTP_SEC - 2_208_988_800;
  const ref = prettyDate(0xe9000000_00000000n, now);
  assert.ok(
    r.out().startsWith(
      "system peer:          192.0.2.1\n" +
        "system peer mode:     client\n" +
        "leap indicator:       00\n" +
        "stratum:              3\n" +
        "precision:            -24\n" +
        "root distance:        0.01250 s\n" +
        "root dispersion:      0.05000 s\n" +
        "reference ID:         [192.0.2.1]\n" +
        `reference time:       ${ref}\n` +
        "system flags:         monitor ntp kernel \n" +
        "jitter:               0.000015 s\n" +
        "stability:            0.002 ppm\n" +
        "broadcastdelay:       0.000000 s\n" +
        "authdelay:            0.000000 s\n" +
        "remote 192.0.2.2, local 192.0.2.200\n" +
        "hmode client, pmode server, stratum 2, precision -24\n" +
        "leap 00, refid [192.0.2.1], rootdistance 0.01230, rootdispersion 0.04559\n" +
        "ppoll 6, hpoll 6, keyid 0, version 4, association 2\n" +
        "reach 377, unreach 0, flash 0x0000, boffset 0.00000, ttl/mode 0\n" +
        "timer 0s, flags config, candidate\n" +
        `reference time:      ${ref}\n`,
    ),
    r.out(),
  );
  assert.ok(
    r.out().endsWith(
      // s_fp quantisation (1/65536 s), as ntpd sends them.
      "filter delay:  0.00040  0.00041  0.00043  0.00043 \n" +
        "               0.00044  0.00044  0.00046  0.00047 \n" +
        "filter offset: 0.000100 0.000101 0.000102 0.000103\n" +
        "               0.000104 0.000105 0.000106 0.000107\n" +
        "filter order:  0        1        2        3       \n" +
        "               4        5        6        7       \n" +
        "offset -0.001234, delay 0.00046, error bound 0.00079, filter error 0.00002\n",
    ),
    r.out(),
  );
});

Deno.test("horae dc: a daemon without mode 7 times out; refused requests print ntpdc's text", async () => {
  const off = rig({ mode7: false });
  await runDc(["-c", "timeout 1", "-c", "peers"], off.env);
  assert.equal(off.err(), "***Request timed out\n");
  const r = rig();
  r.view.kernelState = null;
  await runDc(["-c", "kerninfo"], r.env);
  assert.equal(r.err(), "***Server reports data not found\n");
});

Deno.test("horae dc --json prints the items", async () => {
  const r = rig();
  assert.equal(await runDc(["--json", "-c", "peers"], r.env), 0, r.err());
  const rows = JSON.parse(r.out());
  assert.equal(rows.length, 2);
  assert.equal(rows[0].srcAddress, "192.0.2.1");
  assert.equal(rows[1].stratum, 2);
});

Deno.test("horae dc: the interactive prompt reads commands until quit", async () => {
  const r = rig({ lines: ["help", "bogus", "quit", "peers"] });
  assert.equal(await runDc([], r.env), 0);
  assert.ok(r.out().startsWith("Commands available:\n"));
  assert.equal(r.err(), "***Command `bogus' unknown\n");
  assert.ok(!r.out().includes("remote"));
});

Deno.test("dc_format: %g, refids, flags, prettydate and kerninfo", () => {
  assert.equal(cG(0.000123), "0.000123");
  assert.equal(cG(1.5e-9), "1.5e-09");
  assert.equal(cG(16), "16");
  assert.equal(cG(0.5), "0.5");
  assert.equal(cG(1234567), "1.23457e+06");
  assert.equal(refidText(0x47505300, 1), "GPS");
  assert.equal(refidText(0xc0000201, 2), "192.0.2.1");
  assert.equal(peerFlagsText(0), " none");
  assert.equal(peerFlagsText(0x3), " system_peer, config");
  assert.equal(
    prettyDate(0xe9000000_80000000n, 1_700_000_000, true),
    "e9000000.80000000  Thu, Nov 16 2023  2:42:08.500",
  );
  // An NTP timestamp of 0 is in the next era: February 2036.
  assert.ok(prettyDate(0n, 1_700_000_000, true).endsWith("Thu, Feb  7 2036  6:28:16.000"));
  assert.equal(
    kernelText({
      offset: -1500,
      freq: -12 * 65536 - 32768,
      maxError: 16000,
      estError: 2,
      status: 0x2041,
      shift: 0,
      constant: 7,
      precision: 1,
      tolerance: 500 * 65536,
      ppsFreq: 0,
      jitter: 0,
      stabil: 0,
      jitCnt: 0,
      calCnt: 0,
      errCnt: 0,
      stbCnt: 0,
    }),
    "pll offset:           -1.5e-06 s\n" +
      "pll frequency:        -12.500 ppm\n" +
      "maximum error:        0.016 s\n" +
      "estimated error:      2e-06 s\n" +
      "status:               2041  pll unsync nano\n" +
      "pll time constant:    7\n" +
      "precision:            1e-09 s\n" +
      "frequency tolerance:  500 ppm\n",
  );
});
