import assert from "node:assert/strict";
import { NtpSystem, refidOf } from "./system.ts";
import { addSec, fromUnix, type NtpTime } from "./ntp_time.ts";
import { SeededRng } from "./rng.ts";
import { Server } from "./server.ts";
import type { Action, PeerAddress } from "./events.ts";
import type { DisciplineAdjustClockAction, LoopFilterOptions } from "./loop_filter.ts";
import { parseLeapSecondsList } from "./leap_seconds.ts";
import { createHash } from "node:crypto";

const T0 = fromUnix(1_700_000_000);

/** Extra settings of {@link drive}. */
interface DriveOptions {
  /** Start time (default T0). */
  t0?: NtpTime;
  /** Leap indicator each server sends (default 0). */
  leaps?: number[];
  leapTable?: Parameters<typeof parseLeapSecondsList>[0];
}

/**
 * A small driver: servers whose clocks are `offsets` ahead of the client's, 1 ms each way, and a
 * client clock that only moves when the core steps or slews it (frequency errors are not modelled
 * here; the simulator covers those).
 */
function drive(
  offsets: number[],
  durationSec: number,
  loop: LoopFilterOptions = {},
  opts: DriveOptions = {},
) {
  const start = opts.t0 ?? T0;
  const leapTable = opts.leapTable === undefined ? null : parseLeapSecondsList(opts.leapTable, {
    sha1: (d) => new Uint8Array(createHash("sha1").update(d).digest()),
  });
  if (leapTable !== null && !leapTable.ok) throw new Error(leapTable.reason);
  const sys = new NtpSystem({
    precisionLog2: -20,
    rng: new SeededRng(3),
    loop,
    ...(leapTable !== null ? { leapTable: leapTable.table } : {}),
  });
  let clockOffset = 0; // client clock − true time
  let slewPpm = 0;
  let trueSec = 0;
  const now = (): NtpTime => addSec(start, trueSec + clockOffset);
  const addrs: PeerAddress[] = offsets.map((_, i) => ({
    family: 4,
    address: `192.0.2.${i + 1}`,
    port: 123,
  }));
  const servers = offsets.map((_, i) =>
    new Server({
      leap: opts.leaps?.[i] ?? 0,
      stratum: 1,
      precisionLog2: -20,
      rootDelaySec: 0,
      rootDispersionSec: 0,
      refid: 0x47505300,
      referenceTime: start,
    })
  );
  addrs.forEach((a) => sys.addServer(a, { minpoll: 4, maxpoll: 4 }, now()));
  const all: Action[] = [];
  let timerAt = Infinity;
  let exited = false;
  const queue: { to: PeerAddress; data: Uint8Array }[] = [];
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      all.push(a);
      if (a.type === "setTimer") timerAt = trueSec + Number(a.at - now()) / 2 ** 32;
      if (a.type === "stepClock") clockOffset += a.offsetSec;
      if (a.type === "adjustClock") slewPpm = a.freqPpm;
      if (a.type === "send") queue.push({ to: a.to, data: a.data });
      if (a.type === "reset" && a.exit) exited = true;
    }
  };
  const advance = (to: number) => {
    clockOffset += (to - trueSec) * slewPpm * 1e-6;
    trueSec = to;
  };
  apply(sys.start(now()));
  while (!exited && timerAt <= durationSec) {
    advance(Math.max(trueSec, timerAt));
    apply(sys.onTimer(now()));
    while (queue.length > 0) {
      const q = queue.shift()!;
      const i = addrs.findIndex((a) => a.address === q.to.address);
      const out = new Uint8Array(q.data.length);
      const n = servers[i]!.respond(q.data, addSec(start, trueSec + 0.001 + offsets[i]!), out);
      const t = trueSec;
      advance(t + 0.002);
      apply(sys.onPacket({ data: out.slice(0, n), peer: addrs[i]!, rxTime: now() }, now()));
    }
  }
  return { sys, actions: all, clockOffset: () => clockOffset, now };
}

Deno.test("NtpSystem synchronises to agreeing servers: stratum + 1, refid, ntpd's log line", () => {
  const { sys, actions, now } = drive([0.05, 0.05, 0.05], 300);
  const status = actions.filter((a) => a.type === "setStatus").at(-1);
  assert.ok(status?.type === "setStatus");
  assert.equal(status.synchronized, true);
  assert.equal(status.stratum, 2);
  const snap = sys.snapshot(now());
  assert.equal(
    status.refid,
    refidOf(snap.associations.find((a) => a.id === snap.systemPeer)!.address),
  );
  assert.ok(
    actions.some((a) =>
      a.type === "event" && /^synchronized to 192\.0\.2\.\d, stratum 1$/.test(a.message)
    ),
  );
  assert.deepEqual(snap.falsetickers, []);
  assert.equal(snap.survivors.length, 3);
});

Deno.test("NtpSystem slews a 50 ms offset away and never steps for it", () => {
  const { actions, clockOffset } = drive([0.05, 0.05, 0.05], 300);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(Math.abs(clockOffset() - 0.05) < 1e-4, `clock offset ${clockOffset()}`);
});

Deno.test("NtpSystem marks a lying server as a falseticker and never follows it", () => {
  const { sys, actions, clockOffset, now } = drive([0, 0, 1], 600);
  const snap = sys.snapshot(now());
  assert.deepEqual(snap.falsetickers, [3]);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(Math.abs(clockOffset()) < 1e-4);
  assert.notEqual(snap.systemPeer, 3);
});

Deno.test("NtpSystem does not synchronise when no majority agrees", () => {
  const { sys, actions, clockOffset, now } = drive([0, 1, 2], 600);
  const snap = sys.snapshot(now());
  assert.equal(snap.systemPeer, null);
  assert.ok(snap.counters.noMajority > 0);
  assert.equal(snap.counters.clockUpdates, 0);
  assert.equal(clockOffset(), 0);
  assert.ok(!actions.some((a) => a.type === "setStatus" && a.synchronized));
});

Deno.test("NtpSystem -q sets the clock once and asks to exit with status 0", () => {
  const { actions, clockOffset } = drive([0.5, 0.5, 0.5], 600, { setOnce: true });
  const reset = actions.find((a) => a.type === "reset");
  assert.ok(reset?.type === "reset" && reset.exit && reset.exitCode === 0);
  assert.ok(Math.abs(clockOffset() - 0.5) < 1e-3, `${clockOffset()}`);
});

Deno.test("NtpSystem counts datagrams from unknown addresses and ignores them", () => {
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1) });
  const acts = sys.onPacket({
    data: new Uint8Array(48),
    peer: { family: 4, address: "198.51.100.7", port: 123 },
    rxTime: T0,
  }, T0);
  assert.deepEqual(acts, []);
  assert.equal(sys.snapshot(T0).counters.noAssociation, 1);
});

Deno.test("refidOf() gives the IPv4 address as a 32-bit value", () => {
  assert.equal(refidOf({ family: 4, address: "192.0.2.1", port: 123 }), 0xc0000201);
  const v6 = refidOf({ family: 6, address: "2001:db8::1", port: 123 });
  assert.ok(Number.isInteger(v6) && v6 >= 0 && v6 < 2 ** 32);
});

Deno.test("NtpSystem with the ntpd discipline selects on the RFC filter and slews toward the servers", () => {
  const { sys, actions, clockOffset, now } = drive([0.05, 0.05, 0.05], 4000, {
    discipline: "ntpd",
    kernel: false,
  });
  const snap = sys.snapshot(now());
  assert.equal(snap.discipline, "ntpd");
  assert.equal(snap.state, "SYNC");
  assert.ok(snap.pollLog2 !== null && snap.pollLog2 >= 4);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(actions.some((a) => a.type === "event" && a.message === "freq_mode"));
  assert.ok(Math.abs(clockOffset() - 0.05) < 5e-3, `clock offset ${clockOffset()}`);
  assert.equal(snap.survivors.length, 3);
});

Deno.test("NtpSystem with the ntpd discipline never follows a falseticker", () => {
  // Selection stays Horae's: a server 1 s off is cast out before ntpd's loop sees anything.
  const { sys, actions, clockOffset, now } = drive([0, 0, 1], 1200, {
    discipline: "ntpd",
    kernel: false,
  });
  assert.deepEqual(sys.snapshot(now()).falsetickers, [3]);
  assert.ok(!actions.some((a) => a.type === "stepClock"));
  assert.ok(Math.abs(clockOffset()) < 1e-3, `clock offset ${clockOffset()}`);
});

Deno.test("NtpSystem arms a leap second the servers' majority announces, on the last day", () => {
  const t0 = fromUnix(Date.parse("2030-06-29T22:00:00Z") / 1000);
  const { sys, actions, now } = drive([0, 0, 0], 4 * 3600, {}, { t0, leaps: [1, 1, 0] });
  const armed = actions.findIndex((a) =>
    a.type === "event" &&
    a.message === "leap_armed: insert a leap second at 2030-06-30 23:59:60 UTC (servers)"
  );
  assert.ok(armed >= 0, "leap_armed event");
  const write = actions.find((a) =>
    a.type === "adjustClock" && (a as DisciplineAdjustClockAction).leap === 1
  );
  assert.ok(write !== undefined, "kernel STA_INS request");
  const status = actions.filter((a) => a.type === "setStatus").at(-1);
  assert.ok(status?.type === "setStatus" && status.synchronized && status.leap === 1);
  // Before midnight the indicator stayed 0 although the leap was already known.
  const early = actions.slice(0, armed).filter((a) => a.type === "setStatus");
  assert.ok(early.every((a) => a.type === "setStatus" && a.leap !== 1));
  assert.deepEqual(sys.snapshot(now()).leapStatus, {
    pending: 1,
    atNtpSec: Date.parse("2030-07-01T00:00:00Z") / 1000 + 2_208_988_800,
    armed: 1,
    source: "servers",
  });
});

Deno.test("NtpSystem ignores a leap indicator from a minority of survivors", () => {
  const t0 = fromUnix(Date.parse("2030-06-30T02:00:00Z") / 1000);
  const { sys, actions, now } = drive([0, 0, 0], 1800, {}, { t0, leaps: [1, 0, 0] });
  assert.equal(sys.snapshot(now()).leapStatus.pending, 0);
  assert.ok(!actions.some((a) => a.type === "event" && a.message.startsWith("leap_armed")));
});

Deno.test("NtpSystem arms the leap of its leapfile and reports the leap once it has passed", () => {
  const file = [
    "#$ 3676924800",
    "#@ 3707596800",
    "3644697600 36",
    "3692217600 37",
  ].join("\n");
  const hash = createHash("sha1").update("3676924800" + "3707596800" + "364469760036369221760037")
    .digest("hex").match(/.{8}/g)!.join(" ");
  const t0 = fromUnix(Date.parse("2016-12-31T23:00:00Z") / 1000);
  const { actions } = drive([0, 0, 0], 7200, {}, { t0, leapTable: `${file}\n#h ${hash}\n` });
  const msgs = actions.filter((a) => a.type === "event" && a.scope === "system").map((a) =>
    a.type === "event" ? a.message : ""
  );
  assert.ok(
    msgs.includes("leap_armed: insert a leap second at 2016-12-31 23:59:60 UTC (leapfile)"),
  );
  assert.ok(msgs.includes("leap_event: leap second inserted, TAI-UTC is now 37 s"));
  const writes = actions.filter((a) => a.type === "adjustClock").map((a) =>
    (a as DisciplineAdjustClockAction).leap
  ).filter((l) => l !== undefined);
  assert.deepEqual(writes, [1, 0], "armed, then cleared after the leap");
});

Deno.test("NtpSystem arms the leapfile's leap on its timer at the start of the last day", () => {
  const file = "#$ 3676924800\n#@ 3707596800\n3644697600 36\n3692217600 37\n";
  const digest = createHash("sha1").update(
    "3676924800" + "3707596800" + "364469760036" + "369221760037",
  )
    .digest("hex").match(/.{8}/g)!.join(" ");
  const parsed = parseLeapSecondsList(`${file}#h ${digest}\n`, {
    sha1: (d) => new Uint8Array(createHash("sha1").update(d).digest()),
  });
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
  const sys = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1), leapTable: parsed.table });
  const t0 = fromUnix(Date.parse("2016-12-30T23:59:00Z") / 1000);
  const lastDay = fromUnix(Date.parse("2016-12-31T00:00:00Z") / 1000);
  const started = sys.start(t0);
  assert.ok(started.some((a) => a.type === "setTimer" && a.at === lastDay), "timer at 00:00");
  const fired = sys.onTimer(lastDay);
  assert.ok(fired.some((a) => a.type === "event" && a.message.startsWith("leap_armed: insert")));
  assert.ok(
    fired.some((a) => a.type === "adjustClock" && (a as DisciplineAdjustClockAction).leap === 1),
  );
  const after = sys.onTimer(fromUnix(Date.parse("2017-01-01T00:00:00Z") / 1000));
  assert.ok(after.some((a) => a.type === "event" && a.message.startsWith("leap_event")));
});
