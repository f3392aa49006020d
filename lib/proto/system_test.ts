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
  /** Associations use iburst (default false). */
  iburst?: boolean;
  /** One-way delay each way (s, default 1 ms). */
  oneWaySec?: number;
  /** Server `i` drops the request it gets at true time `t` (s) when this says so. */
  silent?: (i: number, t: number, sys: NtpSystem) => boolean;
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
  addrs.forEach((a) =>
    sys.addServer(a, { minpoll: 4, maxpoll: 4, iburst: opts.iburst ?? false }, now())
  );
  const all: Action[] = [];
  /** Every action with the true time (s from the start) it was taken at. */
  const timeline: { t: number; a: Action }[] = [];
  let timerAt = Infinity;
  let exited = false;
  const queue: { to: PeerAddress; data: Uint8Array }[] = [];
  const apply = (acts: Action[]) => {
    for (const a of acts) {
      all.push(a);
      timeline.push({ t: trueSec, a });
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
      if (opts.silent?.(i, trueSec, sys)) continue;
      const out = new Uint8Array(q.data.length);
      const n = servers[i]!.respond(
        q.data,
        addSec(start, trueSec + (opts.oneWaySec ?? 0.001) + offsets[i]!),
        out,
      );
      const t = trueSec;
      advance(t + 2 * (opts.oneWaySec ?? 0.001));
      apply(sys.onPacket({ data: out.slice(0, n), peer: addrs[i]!, rxTime: now() }, now()));
    }
  }
  return { sys, actions: all, timeline, clockOffset: () => clockOffset, now };
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
  // Three associations mobilised; removing one keeps the count (ntpdc's memstats).
  assert.equal(snap.mobilized, 3);
  sys.removeAssociation(3);
  assert.equal(sys.snapshot(now()).mobilized, 3);
  assert.equal(sys.snapshot(now()).associations.length, 2);
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

/** The true time of the first action that `pred` picks, or null. */
function firstAt(timeline: { t: number; a: Action }[], pred: (a: Action) => boolean) {
  return timeline.find((x) => pred(x.a))?.t ?? null;
}

const isSync = (a: Action) => a.type === "setStatus" && a.synchronized;
const isReply = (a: Action) => a.type === "event" && a.message.endsWith(" reachable");

for (const iburst of [true, false]) {
  Deno.test(`NtpSystem synchronises within 10 s of the first replies with one of three servers dead (iburst ${iburst})`, () => {
    const { sys, timeline, now } = drive([0.01, 0.01, 0.01], 200, {}, {
      iburst,
      silent: (i) => i === 2,
    });
    const firstReply = firstAt(timeline, isReply)!;
    const synced = firstAt(timeline, isSync);
    assert.ok(synced !== null, "synchronised");
    assert.ok(
      synced - firstReply <= 10,
      `synchronised ${synced - firstReply} s after first replies`,
    );
    const messages = timeline.filter((x) => x.a.type === "event").map((x) =>
      x.a.type === "event" ? x.a.message : ""
    );
    assert.ok(
      messages.some((m) =>
        /^waiting for 192\.0\.2\.3 \(no reply yet\) before the first clock update/.test(m)
      ),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) =>
        /^192\.0\.2\.3 no reply \d+ s after the first request: not waiting for it$/.test(m)
      ),
    );
    assert.equal(sys.snapshot(now()).stratum, 2);
  });
}

Deno.test("NtpSystem waits for every server that is still answering before the first update", () => {
  // Server 3 answers only from 4 s on (after its first request or two were lost): the first update
  // waits for it, so that a single early falseticker could be outvoted.
  const { timeline } = drive([0, 0, 0.5], 200, {}, {
    iburst: true,
    silent: (i, t) => i === 2 && t < 4,
  });
  const synced = firstAt(timeline, isSync)!;
  const third =
    timeline.find((x) => x.a.type === "event" && x.a.message === "192.0.2.3 reachable")!.t;
  assert.ok(third <= synced, `synchronised at ${synced} s before server 3 answered at ${third} s`);
  assert.ok(!timeline.some((x) => x.a.type === "stepClock"), "never stepped to the liar");
});

Deno.test("NtpSystem synchronises on the first sample when every server answers", () => {
  const { timeline } = drive([0.01, 0.01, 0.01], 60, {}, { iburst: true });
  const firstReply = firstAt(timeline, isReply)!;
  const synced = firstAt(timeline, isSync)!;
  assert.ok(synced - firstReply <= 2, `${synced - firstReply} s`);
});

Deno.test("NtpSystem fails over to a survivor when its system peer stops answering", () => {
  const killAt = 300;
  let dead = -1;
  const { sys, timeline, now } = drive([0.001, 0.001, 0.001], 800, {}, {
    silent: (i, t, sys) => {
      if (t >= killAt && dead < 0) dead = sys.snapshot(T0).systemPeer! - 1;
      return i === dead;
    },
  });
  assert.ok(dead >= 0);
  const deadAddr = `192.0.2.${dead + 1}`;
  const after = timeline.filter((x) =>
    x.t >= killAt && x.a.type === "event" && x.a.message.startsWith("synchronized to")
  );
  assert.ok(after.length >= 1, "a new system peer");
  const failover = after[0]!;
  assert.ok(failover.a.type === "event" && !failover.a.message.includes(deadAddr));
  // Three polls of 16 s at most: the first unanswered one, then two more counted unanswered.
  assert.ok(failover.t - killAt <= 50, `failover ${failover.t - killAt} s after the kill`);
  const snap = sys.snapshot(now());
  assert.notEqual(snap.systemPeer, dead + 1);
  assert.equal(snap.stratum, 2, "still synchronised");
  assert.ok(
    !timeline.some((x) => x.t >= killAt && isSync(x.a) === false && x.a.type === "setStatus"),
  );
  const deadSnap = snap.associations.find((a) => a.id === dead + 1)!;
  assert.equal(deadSnap.reach, 0, "the dead server is unreachable by now");
});

Deno.test("NtpSystem drops an unreachable system peer when no other server answers", () => {
  const { sys, timeline, now } = drive([0.001], 400, {}, { silent: (_i, t) => t >= 100 });
  const nopeer = timeline.find((x) =>
    x.t >= 100 && x.a.type === "event" && /unreachable|no servers reachable/.test(x.a.message) &&
    x.a.scope === "system"
  );
  assert.ok(nopeer !== undefined, "no_sys_peer logged");
  const snap = sys.snapshot(now());
  assert.equal(snap.systemPeer, null);
  assert.equal(snap.stratum, 16);
  // Held over while still reachable (as ntpd), never shown as system peer once unreachable.
  const lastSync = timeline.filter((x) => isSync(x.a)).at(-1)!;
  assert.ok(lastSync.t < 100);
});

Deno.test("NtpSystem fills the system poll under the horae discipline", () => {
  const { sys, now } = drive([0.001, 0.001], 100);
  const snap = sys.snapshot(now());
  assert.equal(snap.discipline, "horae");
  assert.equal(snap.pollLog2, 4);
  const idle = new NtpSystem({ precisionLog2: -20, rng: new SeededRng(1) });
  assert.equal(idle.snapshot(T0).pollLog2, null, "no associations");
});

Deno.test("NtpSystem keeps truechimers together whose stamps differ by more than a µs round trip", () => {
  // Three servers on one clock whose transmit stamps are off by up to 60 µs (taken in user
  // space), across a 10 µs round trip, and a liar: the three must intersect to outvote it, though
  // their estimates differ by far more than the delay shows.
  const { sys, actions, now } = drive([0, 60e-6, -60e-6, 1], 300, {}, {
    oneWaySec: 5e-6,
    iburst: true,
  });
  const snap = sys.snapshot(now());
  assert.equal(snap.counters.noMajority, 0);
  assert.deepEqual(snap.falsetickers, [4]);
  const statuses = actions.filter((a) => a.type === "setStatus");
  const firstSync = statuses.findIndex((a) => a.type === "setStatus" && a.synchronized);
  assert.ok(firstSync >= 0);
  assert.ok(
    statuses.slice(firstSync).every((a) => a.type === "setStatus" && a.synchronized),
    "never lost synchronisation",
  );
  assert.equal(snap.stratum, 2);
});
