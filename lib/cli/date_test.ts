// Tests for `horae date` (ntpdate) in a pretend world (_date_fixture.ts): core Servers on a memory
// network with their own clock offsets, and a clock that records steps and slews.
// SAFETY: no test here reaches the system clock or a real socket.

import assert from "node:assert/strict";
import { ADJ_OFFSET_SINGLESHOT, emptyTimex, type Timex } from "../../ffi/timex.ts";
import { LinuxClock } from "../clock/linux_clock.ts";
import { toUnixNs } from "../proto/ntp_time.ts";
import { decodePacket } from "../proto/packet.ts";
import { dateWorld, type DateWorldOptions } from "./_date_fixture.ts";
import { actionFor, logLine, parseDateOptions, runDate } from "./date.ts";

const PREFIX = " 5 Oct 13:38:46 ntpdate\\[4242\\]: ";

function three(offsets: [number, number, number], extra: DateWorldOptions["servers"] = []) {
  return [
    { address: "192.0.2.1", offsetSec: offsets[0] },
    { address: "192.0.2.2", offsetSec: offsets[1] },
    { address: "192.0.2.3", offsetSec: offsets[2] },
    ...extra,
  ];
}

async function run(args: string[], o: DateWorldOptions) {
  const w = dateWorld(o);
  const code = await runDate(args, "ntpdate", w.env);
  return { ...w, code };
}

Deno.test("runDate() -q prints ntpdate's server lines and the adjust line, changing nothing", async () => {
  const w = await run(["-q", "192.0.2.1", "192.0.2.2", "192.0.2.3"], {
    servers: three([0.0012, 0.0011, 0.0013]),
    canSetClock: true,
  });
  assert.equal(w.code, 0, w.err());
  const lines = w.out().trimEnd().split("\n");
  assert.equal(lines.length, 4, w.out());
  for (const [i, off] of [[1, "0.001200"], [2, "0.001100"], [3, "0.001300"]] as const) {
    assert.match(
      lines[i - 1]!,
      new RegExp(`^server 192\\.0\\.2\\.${i}, stratum 2, offset ${off}, delay 0\\.00200$`),
    );
  }
  // The chosen server's own offset (all three are stratum 2 at the same distance).
  const m = /^ 5 Oct 13:38:46 ntpdate\[4242\]: adjust time server 192\.0\.2\.(\d) offset (\S+) sec$/
    .exec(lines[3]!);
  assert.ok(m, lines[3]);
  assert.equal(m[2], ["0.001200", "0.001100", "0.001300"][Number(m[1]) - 1]);
  assert.deepEqual(w.opened, [0], "-q sends from an unprivileged port");
  assert.deepEqual(w.clocks.map((c) => c.steer), [false]);
  assert.deepEqual(w.clocks[0]!.clock.steps, []);
  assert.deepEqual(w.clocks[0]!.clock.adjusts, []);
  // Four samples each by default, version 4 client requests.
  for (const reqs of w.requests.values()) {
    assert.equal(reqs.length, 4);
    const p = decodePacket(reqs[0]!);
    assert.ok(p.ok && p.packet.mode === 3 && p.packet.version === 4);
  }
});

Deno.test("runDate() steps beyond 0.5 s and slews within, from port 123, with CAP_SYS_TIME", async () => {
  const step = await run(["192.0.2.1", "192.0.2.2", "192.0.2.3"], {
    servers: three([2.5, 2.5, 2.5]),
    canSetClock: true,
  });
  assert.equal(step.code, 0, step.out());
  assert.deepEqual(step.opened, [123]);
  assert.deepEqual(step.clocks.map((c) => c.steer), [true]);
  const c = step.clocks[0]!.clock;
  assert.equal(c.steps.length, 1);
  assert.ok(Math.abs(c.steps[0]! - 2.5) < 1e-6, `${c.steps[0]}`);
  assert.deepEqual(c.adjusts, []);
  assert.match(
    step.out(),
    new RegExp(`^${PREFIX}step time server 192\\.0\\.2\\.\\d offset 2\\.500000 sec\\n$`),
  );

  const slew = await run(["192.0.2.1", "192.0.2.2", "192.0.2.3"], {
    servers: three([-0.1, -0.1, -0.1]),
    canSetClock: true,
  });
  const s = slew.clocks[0]!.clock;
  assert.deepEqual(s.steps, []);
  assert.equal(s.adjusts.length, 1);
  assert.ok(Math.abs(s.adjusts[0]!.offsetSec! + 0.1) < 1e-6);
  assert.match(slew.out(), /adjust time server 192\.0\.2\.\d offset -0\.100000 sec\n$/);

  // -B slews 2.5 s; -b steps 0.1 s.
  const forcedSlew = await run(["-B", "192.0.2.1"], {
    servers: three([2.5, 0, 0]),
    canSetClock: true,
  });
  assert.equal(forcedSlew.clocks[0]!.clock.adjusts.length, 1);
  assert.deepEqual(forcedSlew.clocks[0]!.clock.steps, []);
  const forcedStep = await run(["-b", "192.0.2.1"], {
    servers: three([0.1, 0, 0]),
    canSetClock: true,
  });
  assert.equal(forcedStep.clocks[0]!.clock.steps.length, 1);
  assert.deepEqual(forcedStep.clocks[0]!.clock.adjusts, []);
});

Deno.test("runDate() without CAP_SYS_TIME says what it would do, changes nothing, exits 0", async () => {
  const step = await run(["192.0.2.1", "192.0.2.2", "192.0.2.3"], {
    servers: three([1.25, 1.25, 1.25]),
  });
  assert.equal(step.code, 0);
  assert.deepEqual(step.clocks.map((c) => c.steer), [false]);
  assert.deepEqual(step.clocks[0]!.clock.steps, []);
  assert.match(
    step.out(),
    new RegExp(
      `^${PREFIX}would step time server 192\\.0\\.2\\.\\d offset 1\\.250000 sec ` +
        "\\(no CAP_SYS_TIME: the clock was not changed\\)\\n$",
    ),
  );
  const slew = await run(["192.0.2.1"], { servers: three([0.02, 0, 0]) });
  assert.equal(slew.code, 0);
  assert.match(
    slew.out(),
    /would slew time server 192\.0\.2\.1 offset 0\.020000 sec \(no CAP_SYS_TIME/,
  );
  assert.deepEqual(slew.clocks[0]!.clock.adjusts, []);
});

Deno.test("runDate() refuses politely when port 123 is held; -u, -q and -d do not need it", async () => {
  const busy = await run(["192.0.2.1"], {
    servers: three([0, 0, 0]),
    port123: "in_use",
    canSetClock: true,
  });
  assert.equal(busy.code, 1);
  assert.match(busy.out(), new RegExp(`^${PREFIX}the NTP socket is in use, exiting\\n$`));
  assert.equal(busy.requests.get("192.0.2.1")!.length, 0, "nothing was sent");
  assert.deepEqual(busy.clocks, [], "no clock was even made");

  // Not allowed to bind 123, and the socket table shows it held: the same refusal.
  const held = await run(["192.0.2.1"], {
    servers: three([0, 0, 0]),
    port123: "no_privilege",
    port123Busy: true,
  });
  assert.equal(held.code, 1);
  assert.match(held.out(), /the NTP socket is in use, exiting/);

  // Not allowed, but free: an unprivileged port, said so.
  const free = await run(["192.0.2.1"], { servers: three([0.2, 0, 0]), port123: "no_privilege" });
  assert.equal(free.code, 0, free.out());
  assert.deepEqual(free.opened, [123, 0]);
  assert.match(
    free.out(),
    /no privilege to bind port 123: sending from an unprivileged port \(as -u\)/,
  );

  for (const flag of ["-u", "-q", "-d"]) {
    const w = await run([flag, "192.0.2.1"], { servers: three([0.2, 0, 0]), port123: "in_use" });
    assert.equal(w.code, 0, `${flag}: ${w.out()}`);
    assert.deepEqual(w.opened, [0], flag);
  }
});

Deno.test("runDate() with no answer: stratum 0 in -q, no server suitable, exit 1", async () => {
  const w = await run(["-q", "-t", "0.4", "192.0.2.1"], {
    servers: [{ address: "192.0.2.1", silent: true }],
  });
  assert.equal(w.code, 1);
  assert.match(w.out(), /^server 192\.0\.2\.1, stratum 0, offset 0\.000000, delay 0\.00000\n/);
  assert.match(w.out(), /no server suitable for synchronization found\n$/);
  assert.equal(w.requests.get("192.0.2.1")!.length, 4, "each request waited for, then the next");
});

Deno.test("runDate() leaves out falsetickers, unsynchronised servers and kisses of death", async () => {
  const w = await run(
    ["--json", "-q", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"],
    {
      servers: three([0.001, 0.0012, 0.0011], [
        { address: "192.0.2.4", offsetSec: 5 }, // a falseticker
        { address: "192.0.2.5", offsetSec: 0.001, stratum: 16, leap: 3 },
        { address: "192.0.2.6", kiss: "RATE" },
      ]),
    },
  );
  assert.equal(w.code, 0, w.err());
  const j = JSON.parse(w.out());
  const by = (a: string) => j.servers.find((s: { address: string }) => s.address === a);
  assert.equal(by("192.0.2.4").dropped, "falseticker");
  assert.equal(by("192.0.2.5").dropped, "unsynchronized");
  assert.equal(by("192.0.2.6").dropped, "no_data");
  assert.equal(by("192.0.2.6").kiss, "RATE");
  assert.equal(by("192.0.2.6").sent, 1, "a kiss stops the polling");
  assert.ok(["192.0.2.1", "192.0.2.2", "192.0.2.3"].includes(j.chosen));
  assert.ok(Math.abs(j.offsetSec - 0.0011) <= 0.0001 + 1e-9, j.offsetSec);
  assert.equal(j.action, "slew");
  assert.equal(j.applied, false);
});

Deno.test("runDate() loses requests to a lossy path and still chooses; -p 1 qualifies", async () => {
  const lossy = await run(["-q", "-t", "0.2", "192.0.2.1"], {
    servers: [{ address: "192.0.2.1", offsetSec: 0.003, drop: (n) => n % 2 === 0 }],
  });
  assert.equal(lossy.code, 0, lossy.out());
  assert.match(lossy.out(), /adjust time server 192\.0\.2\.1 offset 0\.003000 sec/);
  const one = await run(["-q", "-p", "1", "192.0.2.1"], { servers: three([0.004, 0, 0]) });
  assert.equal(one.code, 0, one.out());
  assert.equal(one.requests.get("192.0.2.1")!.length, 1);
});

Deno.test("runDate() -a/-k: signed requests, only replies signed with the key count", async () => {
  const key = {
    id: 5,
    algorithm: "SHA1" as const,
    key: new TextEncoder().encode("s3cret-key"),
    allowed: null,
  };
  const good = await run(["-q", "-a", "5", "-k", "/keys", "192.0.2.1"], {
    servers: [{ address: "192.0.2.1", offsetSec: 0.25, key }],
    keys: [key],
  });
  assert.equal(good.code, 0, good.out());
  assert.match(good.out(), /offset 0\.250000 sec/);
  assert.equal(good.requests.get("192.0.2.1")![0]!.length, 48 + 4 + 20);

  // -e moves the transmit timestamp of signed requests (the origin the reply must echo).
  const delayed = await run(["-q", "-a", "5", "-e", "0.5", "-o", "3", "192.0.2.1"], {
    servers: [{ address: "192.0.2.1", offsetSec: 0.25, key }],
    keys: [key],
  });
  assert.equal(delayed.code, 0, delayed.out());
  assert.match(delayed.out(), /offset 0\.250000 sec/, "T1 is when the request left, not -e");
  const first = decodePacket(delayed.requests.get("192.0.2.1")![0]!);
  assert.ok(first.ok);
  assert.equal(first.packet.version, 3);
  const xmtSec = Number(first.packet.transmitTimestamp >> 32n) - 3_913_056_000;
  const xmtFrac = Number(first.packet.transmitTimestamp & 0xffff_ffffn) / 2 ** 32;
  assert.ok(Math.abs(xmtSec + xmtFrac - 0.5) < 1e-5, `${xmtSec + xmtFrac}`);

  const unsigned = await run(["-q", "-t", "0.2", "-a", "5", "192.0.2.1"], {
    servers: [{ address: "192.0.2.1", offsetSec: 0.25, key, unsigned: true }],
    keys: [key],
  });
  assert.equal(unsigned.code, 1);
  assert.match(unsigned.out(), /no server suitable/);

  const unknown = await run(["-q", "-a", "9", "192.0.2.1"], {
    servers: three([0, 0, 0]),
    keys: [key],
  });
  assert.equal(unknown.code, 1);
  assert.match(unknown.out(), /authentication key 9 unknown in \/etc\/ntp\.keys/);

  const noFile = await run(["-q", "-a", "5", "-k", "/nope", "192.0.2.1"], {
    servers: three([0, 0, 0]),
  });
  assert.equal(noFile.code, 1);
  assert.match(noFile.out(), /cannot read the keys file \/nope/);
});

Deno.test("runDate() -s logs to syslog; -v logs the version; -d prints the details", async () => {
  const s = await run(["-s", "-v", "-q", "192.0.2.1"], { servers: three([0.5, 0, 0]) });
  assert.equal(s.code, 0);
  assert.deepEqual(s.syslog.length, 2);
  assert.match(s.syslog[0]!, /^horae \d+\.\d+\.\d+ \(ntpdate\)$/);
  assert.match(s.syslog[1]!, /^adjust time server 192\.0\.2\.1 offset 0\.500000 sec$/);
  assert.match(s.out(), /^server 192\.0\.2\.1, stratum 2,/); // -q lines stay on stdout

  const d = await run(["-d", "192.0.2.1"], { servers: three([0.75, 0, 0]), canSetClock: true });
  assert.equal(d.code, 0);
  assert.deepEqual(d.clocks.map((c) => c.steer), [false], "-d changes nothing");
  assert.match(
    d.out(),
    /^transmit\(192\.0\.2\.1\)\nreceive\(192\.0\.2\.1\): offset 0\.750000, delay 0\.00200\n/,
  );
  assert.match(d.out(), /server 192\.0\.2\.1, port 123\nstratum 2, precision -20, leap 00\n/);
  assert.match(d.out(), /filter delay: +0\.00200 +0\.00200 +0\.00200 +0\.00200\n/);
  assert.match(d.out(), /step time server 192\.0\.2\.1 offset 0\.750000 sec\n$/);
});

Deno.test("runDate() resolves names and reports unknown hosts", async () => {
  const w = await run(["-q", "ntp.example", "nowhere.example"], {
    servers: three([0.01, 0, 0]),
    dns: { "ntp.example": ["192.0.2.1"] },
  });
  assert.equal(w.code, 0, w.out());
  assert.match(w.out(), /can't find host nowhere\.example\n/);
  assert.match(w.out(), /adjust time server 192\.0\.2\.1 offset 0\.010000 sec/);
  const none = await run(["nowhere.example"], { servers: [] });
  assert.equal(none.code, 1);
  assert.match(none.out(), /no servers can be used, exiting\n$/);
});

Deno.test("runDate() through the Linux clock adapter: one adjtime()-style slew, or one step", async () => {
  // The adapter over recording system calls: nothing reaches the kernel.
  for (const [offset, expect] of [[0.1, "slew"], [3, "step"]] as const) {
    const w = dateWorld({ servers: three([offset, offset, offset]), canSetClock: true });
    const calls: Timex[] = [];
    const settime: bigint[] = [];
    // Each read 50 ns after the last (the adapter measures its precision from them).
    let tickNs = 0n;
    w.env.clock = () =>
      new LinuxClock({
        syscalls: {
          realtimeNs: () => toUnixNs(w.network.now) + (tickNs += 50n),
          // The step as the adapter computed it: the target minus the read it was based on.
          setRealtime: (sec, nsec) =>
            void settime.push(sec * 1_000_000_000n + nsec - toUnixNs(w.network.now) - tickNs),
          ntpAdjtime: (t) => {
            calls.push(t);
            return { state: 0, timex: emptyTimex() };
          },
        },
      });
    assert.equal(await runDate(["192.0.2.1", "192.0.2.2", "192.0.2.3"], "ntpdate", w.env), 0);
    if (expect === "slew") {
      assert.deepEqual(calls.map((t) => t.modes), [ADJ_OFFSET_SINGLESHOT], "no tick, no frequency");
      assert.ok(Math.abs(calls[0]!.offset - 100_000) <= 1, `${calls[0]!.offset} µs`);
      assert.deepEqual(settime, []);
    } else {
      assert.deepEqual(calls, []);
      assert.equal(settime.length, 1);
      const stepNs = settime[0]!;
      assert.ok(Math.abs(Number(stepNs) / 1e9 - 3) < 1e-5, `${stepNs} ns`);
    }
  }
});

Deno.test("parseDateOptions() checks every value; usage errors exit 2", async () => {
  for (
    const [args, msg] of [
      [["-p", "9", "h"], /-p "9" is not a number of samples from 1 to 8/],
      [["-o", "5", "h"], /-o "5" is not an NTP version/],
      [["-t", "0", "h"], /-t "0" is not a timeout/],
      [["-e", "2", "h"], /-e "2" is not a delay/],
      [["-a", "0", "h"], /-a "0" is not a key id/],
      [["-b", "-B", "h"], /-b \(step\) and -B \(slew\) contradict/],
      [[], /no server given/],
      [["--bogus", "h"], /unknown option --bogus/],
    ] as const
  ) {
    const w = dateWorld({ servers: [] });
    assert.equal(await runDate([...args], "ntpdate", w.env), 2, args.join(" "));
    assert.match(w.err(), msg);
    assert.match(w.err(), /\(see ntpdate --help\)\n$/);
  }
  const o = parseDateOptions(["-t", "0.5", "-p3", "-qu", "h"]);
  assert.ok(typeof o === "object");
  assert.equal(o.timeoutSec, 0.6); // 0.5 s rounds to 0.6 (0.2 s steps)
  assert.equal(o.samples, 3);
  assert.ok(o.query && o.unprivileged);
});

Deno.test("actionFor() and logLine() follow ntpdate", () => {
  assert.equal(actionFor(0.5, null), "slew");
  assert.equal(actionFor(-0.5000001, null), "step");
  assert.equal(actionFor(3, "slew"), "slew");
  assert.equal(actionFor(0.001, "step"), "step");
  assert.equal(
    logLine(new Date(2026, 0, 15, 9, 5, 7), 12, "x"),
    "15 Jan 09:05:07 ntpdate[12]: x\n",
  );
});
