// Horae as a client, against real servers: three chronyd -x servers (each on its own 127.0.0.x
// port 123 inside a network namespace), chronyd as a client of Horae, -q against chronyd, and a
// scripted responder sending replies that must change nothing (the liar: client_liar_test.ts).
// Every process runs without CAP_SYS_TIME; Horae runs observe-only (--observe).

import assert from "node:assert/strict";
import {
  chronydCommand,
  needPeers,
  Proc,
  readJson,
  startDenoScript,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import {
  GOOD,
  horaeConf,
  type Json,
  NETNS,
  POLL,
  startObservingHorae,
  startServers,
  waitStatus,
} from "./_chronyd_servers.ts";

const chronydPeers = await needPeers("horae against chronyd servers", {
  programs: ["chronyd"],
  root: NETNS,
});
const responderNeeds = await needPeers("horae counts bogus replies", { root: NETNS });

Deno.test(
  "interop: Horae synchronises to three chronyd servers (observe mode, |offset| < 200 µs)",
  {
    ignore: chronydPeers.ignore,
  },
  async () => {
    const chronyd = chronydPeers.path("chronyd");
    await withNetns("hcli", async (ns) => {
      const stopServers = await startServers(chronyd, ns, GOOD);
      const horae = await startObservingHorae(ns, horaeConf(GOOD, "driftfile drift\n"));
      try {
        const status = `${horae.dir}/status.json`;
        // Synchronised, then a few more updates so the first slews are done.
        const first = await waitStatus(status, (s) => s.synchronized, 40_000, horae.proc);
        const updates0 = first.counters.clockUpdates as number;
        // Then the discipline settles: both the measured offset and the correction it would apply
        // to the system clock (the clocks are one and the same here) come within 200 µs.
        const s = await waitStatus(
          status,
          (x) =>
            x.synchronized && x.counters.clockUpdates >= updates0 + 6 && x.loopState === "SYNC" &&
            Math.abs(x.offsetSec) < 200e-6 && Math.abs(x.systemClockOffsetSec) < 200e-6,
          90_000,
          horae.proc,
        );
        assert.equal(s.stratum, 9, "chronyd's local stratum 8 + 1");
        assert.ok(GOOD.includes(s.refid), `refid ${s.refid}`);
        assert.equal(s.systemPeer.address, s.refid);
        assert.ok(Math.abs(s.offsetSec) < 200e-6, `offset ${s.offsetSec} s`);
        assert.ok(Math.abs(s.systemClockOffsetSec) < 200e-6, `clock ${s.systemClockOffsetSec} s`);
        assert.equal(s.observe.reason, "observe mode");
        // The frequency is known (SYNC): the drift value is the observe-mode estimate.
        assert.equal(typeof s.driftPpm, "number");
        assert.equal(s.associations.length, 3);
        for (const a of s.associations) {
          assert.notEqual(a.reach, "000", `${a.address} unreachable`);
          assert.ok(a.tally === "*" || a.tally === "+", `${a.address} tally "${a.tally}"`);
          assert.ok(Math.abs(a.offsetSec) < 1e-3, `${a.address} offset ${a.offsetSec}`);
        }
        assert.match(horae.proc.output, /synchronized to 127\.0\.0\.[234], stratum 8/);
        for (const a of GOOD) assert.match(horae.proc.output, new RegExp(`${a} mobilize assoc`));
      } finally {
        const st = await horae.proc.stop();
        assert.equal(st.code, 0, horae.proc.output.slice(-2000));
        // The drift file is written at shutdown with the observe-mode estimate.
        const drift = await Deno.readTextFile(`${horae.dir}/drift`).catch(() => "");
        await horae.stop();
        await stopServers();
        assert.match(drift, /^-?\d+\.\d{3}\n$/, `drift file "${drift}"`);
      }
    });
  },
);

Deno.test("interop: chronyd synchronises to Horae and sees stratum + 1 and Horae's refid", {
  ignore: chronydPeers.ignore,
}, async () => {
  const chronyd = chronydPeers.path("chronyd");
  await withNetns("hdown", async (ns) => {
    const stopServers = await startServers(chronyd, ns, GOOD);
    const horae = await startObservingHorae(ns, horaeConf(GOOD));
    const dir = await tempDir("chronyc-");
    let client: Proc | null = null;
    try {
      const status = `${horae.dir}/status.json`;
      await waitStatus(status, (s) => s.synchronized, 40_000, horae.proc);
      await Deno.writeTextFile(
        `${dir}/client.conf`,
        [
          `server 127.0.0.1 ${POLL}`,
          "port 0",
          "cmdport 0",
          "bindcmdaddress /",
          `pidfile ${dir}/client.pid`,
          `logdir ${dir}`,
          "log measurements",
          "",
        ].join("\n"),
      );
      client = new Proc(chronydCommand(chronyd, `${dir}/client.conf`, { netns: ns }));
      await client.waitFor(/Selected source 127\.0\.0\.1/, 40_000);
      const s = await readJson(status) as Json;
      const log = await Deno.readTextFile(`${dir}/measurements.log`);
      const rows = log.split("\n").filter((l) => /^\d{4}-\d\d-\d\d .* 127\.0\.0\.1 /.test(l))
        .map((l) => l.trim().split(/\s+/));
      assert.ok(rows.length >= 2, log);
      const last = rows[rows.length - 1]!;
      // Columns: date time IP L St 123 567 ABCD LP RP Score Offset Pdel Pdisp Rdel Rdisp Refid
      assert.equal(last[3], "N", `leap column ${last[3]}`);
      assert.equal(Number(last[4]), 9, `stratum column in ${last.join(" ")}`);
      const refid = last[16]!;
      const expected = GOOD.map((a) =>
        a.split(".").map((x) => Number(x).toString(16).padStart(2, "0")).join("").toUpperCase()
      );
      assert.ok(expected.includes(refid), `refid ${refid} (status refid ${s.refid})`);
      assert.equal(last[7], "1111", `chronyd's tests failed: ${last.join(" ")}`);
      assert.ok(Math.abs(Number(last[11])) < 1e-3, `offset ${last[11]} s`);
    } finally {
      if (client !== null) await client.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await horae.stop();
      await stopServers();
    }
  });
});

Deno.test("interop: -q against chronyd reports the offset it would set and exits 0", {
  ignore: chronydPeers.ignore,
}, async () => {
  const chronyd = chronydPeers.path("chronyd");
  await withNetns("hq", async (ns) => {
    const stopServers = await startServers(chronyd, ns, ["127.0.0.2"]);
    try {
      const horae = await startHorae({
        conf: horaeConf(["127.0.0.2"]),
        port: 123,
        netns: ns,
        args: ["--observe", "-q"],
      });
      const st = await horae.proc.wait(60_000);
      const out = horae.proc.output;
      await horae.stop();
      assert.equal(st.code, 0, out.slice(-3000));
      const m = out.match(/^ntpd: time (slew|set) ([+-]\d+\.\d{6})s$/m);
      assert.ok(m !== null, out.slice(-3000));
      assert.equal(m[1], "slew");
      assert.ok(Math.abs(Number(m[2])) < 1e-3, `offset ${m[2]} s`);
      assert.match(out, /observe mode: clock not changed/);
    } finally {
      await stopServers();
    }
  });
});

/** A responder that answers every request with one kind of bad reply, in turn. */
const BAD_RESPONDER = `
const sock = Deno.listenDatagram({ transport: "udp", hostname: Deno.args[0], port: 123 });
const kinds = ["wrong_origin", "zero_transmit", "stratum0", "distance", "kod_wrong_origin"];
let n = 0;
function stampNow(v, at) {
  const ms = Date.now();
  v.setUint32(at, Math.floor(ms / 1000) + 2208988800);
  v.setUint32(at + 4, Math.floor(((ms % 1000) / 1000) * 4294967296));
}
console.log("responder ready");
for await (const [req, from] of sock) {
  if (req.length < 48 || (req[0] & 7) !== 3) continue;
  const kind = kinds[n++ % kinds.length];
  const r = new Uint8Array(48);
  const v = new DataView(r.buffer);
  r[0] = (0 << 6) | (4 << 3) | 4;
  r[1] = 2;
  r[2] = req[2];
  r[3] = 0xec;
  v.setUint32(4, 0x00000100);
  v.setUint32(8, 0x00000100);
  v.setUint32(12, 0x7f000001);
  stampNow(v, 16);
  r.set(req.subarray(40, 48), 24);
  stampNow(v, 32);
  stampNow(v, 40);
  if (kind === "wrong_origin" || kind === "kod_wrong_origin") r[31] ^= 0x5a;
  if (kind === "zero_transmit") r.fill(0, 40, 48);
  if (kind === "stratum0") { r[1] = 0; v.setUint32(12, 0); }
  if (kind === "distance") v.setUint32(8, 16 << 16);
  if (kind === "kod_wrong_origin") { r[1] = 0; r[0] = (3 << 6) | (4 << 3) | 4; v.setUint32(12, 0x44454e59); }
  await sock.send(r, from);
  console.log("sent " + kind);
}
`;

Deno.test(
  "interop: bogus replies (origin, zero transmit, stratum 0, distance, forged KoD) change nothing and are counted",
  {
    ignore: responderNeeds.ignore,
  },
  async () => {
    await withNetns("hbad", async (ns) => {
      const bad = "127.0.0.6";
      const responder = await startDenoScript(BAD_RESPONDER, { netns: ns, args: [bad] });
      try {
        await responder.proc.waitFor(/responder ready/, 20_000);
        const horae = await startObservingHorae(ns, horaeConf([bad]));
        let s: Json;
        try {
          const status = `${horae.dir}/status.json`;
          // Wait until every kind of bad reply has been sent at least once, and a bit more.
          await waitStatus(
            status,
            (x) => x.associations[0]?.sent >= 7,
            40_000,
            horae.proc,
          );
          await new Promise((r) => setTimeout(r, 1000));
        } finally {
          await horae.proc.stop();
          s = await readJson(`${horae.dir}/status.json`);
          await horae.stop();
        }
        const sent: Record<string, number> = {};
        for (const m of responder.proc.output.matchAll(/^sent (\w+)$/gm)) {
          sent[m[1]!] = (sent[m[1]!] ?? 0) + 1;
        }
        for (
          const k of ["wrong_origin", "zero_transmit", "stratum0", "distance", "kod_wrong_origin"]
        ) {
          assert.ok((sent[k] ?? 0) >= 1, `responder never sent ${k}: ${JSON.stringify(sent)}`);
        }
        assert.equal(s.synchronized, false);
        assert.equal(s.stratum, 16);
        assert.equal(s.counters.clockUpdates, 0);
        assert.equal(s.observe.correctionSec, 0, "no correction was made");
        const a = s.associations[0];
        assert.equal(a.address, bad);
        assert.equal(a.reach, "000");
        assert.equal(a.received, 0);
        assert.equal(a.dead, false, "a forged DENY must not demobilise");
        assert.equal(a.kod, 0, "a KoD with a wrong origin is not a KoD");
        const rej = a.rejected;
        const within = (got: number | undefined, want: number) =>
          (got ?? 0) <= want && (got ?? 0) >= want - 1;
        assert.ok(
          within(rej.bogus_origin, sent.wrong_origin! + sent.kod_wrong_origin!),
          `bogus_origin ${rej.bogus_origin} vs ${JSON.stringify(sent)}`,
        );
        assert.ok(within(rej.zero_transmit, sent.zero_transmit!), JSON.stringify(rej));
        assert.ok(within(rej.stratum0, sent.stratum0!), JSON.stringify(rej));
        assert.ok(within(rej.distance, sent.distance!), JSON.stringify(rej));
        assert.doesNotMatch(horae.proc.output, /synchronized to|\d reachable$/m);
      } finally {
        await responder.stop();
      }
    });
  },
);
