// Horae as a server, checked by real clients: chronyd 4.3 as a measuring client (IPv4 and IPv6)
// and NTPsec's ntpdig (port 123, so inside a network namespace), with the exchange captured and
// decoded by tshark; plus malformed input that must get no reply and be counted.

import assert from "node:assert/strict";
import {
  chronydMeasure,
  LOOPBACK_OFFSET_SEC,
  needPeers,
  Proc,
  runGuarded,
  startHorae,
  tcpListeners,
  tempDir,
  withNetns,
} from "../support/peers.ts";

const LOCAL_CONF = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";

const chronydPeer = await needPeers("chronyd measures horae", { programs: ["chronyd"] });
const capturePeers = await needPeers("ntpdig queries horae, tshark decodes", {
  programs: ["ntpdig", "tshark", "chronyd"],
  root: "a network namespace",
});

Deno.test("interop: chronyd accepts Horae as a server over IPv4 and IPv6 (|offset| < 5 ms)", {
  ignore: chronydPeer.ignore,
}, async () => {
  const chronyd = chronydPeer.path("chronyd");
  const horae = await startHorae({ conf: LOCAL_CONF, listen: ["127.0.0.1", "::1"] });
  try {
    for (const host of ["127.0.0.1", "::1"]) {
      const r = await chronydMeasure(chronyd, host, horae.port);
      assert.notEqual(r.offsetSec, null, `chronyd got no usable reply from ${host}:\n${r.output}`);
      assert.ok(
        Math.abs(r.offsetSec!) < LOOPBACK_OFFSET_SEC,
        `offset ${r.offsetSec} s via ${host}`,
      );
    }
  } finally {
    await horae.stop();
  }
});

Deno.test("interop: Horae without a time source answers unsynchronised and chronyd refuses it", {
  ignore: chronydPeer.ignore,
}, async () => {
  const chronyd = chronydPeer.path("chronyd");
  const horae = await startHorae({ conf: "# no sources\n" });
  try {
    const r = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
    assert.equal(r.offsetSec, null, r.output);
    assert.match(r.output, /No suitable source|System clock wrong/);
  } finally {
    await horae.stop();
  }
});

Deno.test("interop: ntpdig accepts Horae on port 123 and tshark decodes the exchange cleanly", {
  ignore: capturePeers.ignore,
}, async () => {
  const ntpdig = capturePeers.path("ntpdig");
  const tshark = capturePeers.path("tshark");
  const chronyd = capturePeers.path("chronyd");
  await withNetns("hsrv", async (ns) => {
    const dir = await tempDir("cap-");
    const pcap = `${dir}/ntp.pcap`;
    try {
      const capture = new Proc([
        "ip",
        "netns",
        "exec",
        ns,
        tshark,
        "-i",
        "lo",
        "-f",
        "udp port 123",
        "-w",
        pcap,
      ]);
      const horae = await startHorae({ conf: LOCAL_CONF, port: 123, netns: ns });
      try {
        await capture.waitFor(/Capturing on/, 10_000);
        // Four samples; ntpdig reports the one with the smallest synchronisation distance.
        const dig = await runGuarded([ntpdig, "-t", "2", "-p", "4", "127.0.0.1"], {
          netns: ns,
          timeoutMs: 20_000,
        });
        assert.equal(dig.code, 0, dig.output);
        // "2026-11-21 23:40:15.123456 (+0000) +0.000012 +/- 0.000050 127.0.0.1 s10 no-leap"
        const m = dig.output.match(/ ([+-]\d+\.\d+) \+\/- ([\d.]+) 127\.0\.0\.1 s(\d+) /);
        assert.ok(m, `unexpected ntpdig output:\n${dig.output}`);
        // Both ends read one clock: with correct timestamps the offset lies within half the round
        // trip (ntpdig's "+/-": delay/2 plus precision), however loaded the machine is.
        const [offsetSec, boundSec] = [Number(m[1]), Number(m[2])];
        assert.ok(boundSec < 0.5, `ntpdig's error bound ${boundSec} s`);
        assert.ok(
          Math.abs(offsetSec) <= boundSec + 1e-6,
          `ntpdig offset ${offsetSec} s outside its bound ±${boundSec} s`,
        );
        assert.equal(Number(m[3]), 10);

        const q = await chronydMeasure(chronyd, "127.0.0.1", 123, "", { netns: ns });
        assert.notEqual(q.offsetSec, null, q.output);
        assert.ok(Math.abs(q.offsetSec!) < LOOPBACK_OFFSET_SEC, q.output);
      } finally {
        await horae.stop();
        await new Promise((r) => setTimeout(r, 300));
        await capture.stop();
      }
      const decoded = await runGuarded([tshark, "-r", pcap, "-V"], { timeoutMs: 30_000 });
      const frames = decoded.output.match(/^Network Time Protocol/gm) ?? [];
      assert.ok(
        frames.length >= 6,
        `expected ntpdig and chronyd exchanges, got ${frames.length} NTP frames`,
      );
      assert.match(decoded.output, /Mode: server \(4\)/);
      assert.doesNotMatch(decoded.output, /Malformed|\[Expert Info \((Error|Warning)/);
      const expert = await runGuarded([tshark, "-r", pcap, "-q", "-z", "expert,warn"], {
        timeoutMs: 30_000,
      });
      assert.doesNotMatch(expert.output, /^\s*(Errors|Warns) \(\d+\)/m, expert.output);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
});

/** Sends one datagram and waits briefly for any reply. */
async function sendExpectNoReply(port: number, bytes: Uint8Array): Promise<boolean> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await sock.send(bytes, { transport: "udp", hostname: "127.0.0.1", port });
    const got = await Promise.race([
      sock.receive().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 150)),
    ]);
    return got;
  } finally {
    sock.close();
  }
}

Deno.test("interop: malformed input gets no reply, no crash, and is counted", async () => {
  const horae = await startHorae({ conf: LOCAL_CONF });
  try {
    const packets: Uint8Array[] = [];
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 20; i++) {
      packets.push(
        Uint8Array.from({ length: 1 + (rand() * 3) % 700 }, rand).map((b, j) =>
          j === 0 ? (b & 0xf8) | 7 : b
        ),
      );
    }
    const header = (first: number, stratum = 2) => {
      const b = new Uint8Array(48);
      b[0] = first;
      b[1] = stratum;
      b[47] = 1;
      return b;
    };
    packets.push(header(0x23).subarray(0, 30)); // truncated header
    const badExt = new Uint8Array(64);
    badExt.set(header(0x23));
    new DataView(badExt.buffer).setUint16(50, 6); // extension length below 16
    packets.push(badExt);
    packets.push(header(0x24)); // mode 4
    packets.push(header(0x25)); // mode 5
    packets.push(header(0x27)); // mode 7
    packets.push(header(0x24, 0)); // KoD
    packets.push(header(0x0b)); // version 1
    for (const p of packets) {
      assert.equal(
        await sendExpectNoReply(horae.port, p),
        false,
        `reply to ${p.length}-byte packet`,
      );
    }
    // Still alive and answering.
    const ok = header(0x23);
    assert.equal(await sendExpectNoReply(horae.port, ok), true);
  } finally {
    const st = await horae.stop();
    assert.equal(st.code, 0, horae.proc.output);
  }
  const counters = horae.proc.output.match(/received (\d+), replied (\d+), dropped (\d+)/);
  assert.ok(counters, horae.proc.output);
  assert.equal(Number(counters[1]), 28);
  assert.equal(Number(counters[2]), 1);
  // The two mode 4 datagrams (one a KoD) reach the core, which LOCAL now runs in, and are
  // counted there as from no association; everything else is dropped on the packet path.
  assert.equal(Number(counters[3]), 25);
});

Deno.test("interop: the multi-call name ntpd runs the daemon with the classic options", {
  ignore: chronydPeer.ignore,
}, async () => {
  const chronyd = chronydPeer.path("chronyd");
  const horae = await startHorae({ conf: LOCAL_CONF, asProgram: "ntpd" });
  try {
    const r = await chronydMeasure(chronyd, "127.0.0.1", horae.port);
    assert.notEqual(r.offsetSec, null, r.output);
  } finally {
    await horae.stop();
  }
  assert.match(horae.proc.output, /no CAP_SYS_TIME|observe/);
});

Deno.test("interop: SIGUSR1 neither kills the daemon nor opens the V8 inspector", async () => {
  const horae = await startHorae({ conf: LOCAL_CONF });
  try {
    await new Promise((r) => setTimeout(r, 1500)); // past Deno's 500 ms arming delay
    assert.deepEqual(tcpListeners(horae.proc.child.pid), [], "a TCP listener before SIGUSR1");
    horae.proc.kill("SIGUSR1");
    await new Promise((r) => setTimeout(r, 500));
    // The inspector would listen on TCP (9229 by default) in the daemon's own process.
    assert.deepEqual(tcpListeners(horae.proc.child.pid), [], horae.proc.output);
    const probe = new Uint8Array(48);
    probe[0] = 0x23;
    probe[47] = 1;
    assert.equal(await sendExpectNoReply(horae.port, probe), true, "daemon stopped answering");
  } finally {
    await horae.stop();
  }
  assert.doesNotMatch(horae.proc.output, /Debugger listening/);
});
