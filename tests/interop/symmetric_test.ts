// Symmetric mode (issue 16) between two network namespaces joined by a veth pair: two Horae
// daemons as `peer` of each other with a key, one with a better source (LOCAL at stratum 3),
// reach each other and synchronise one way, following the stratum; mode 1 packets from a third
// address without a key or with a bad MAC mobilise nothing and are counted; NTPsec's ntpq shows
// the associations as symmetric. Then chronyd 4.3 as the `peer` of Horae: a symmetric
// association both ways. Every daemon runs without CAP_SYS_TIME (Horae --observe, chronyd -x).

import assert from "node:assert/strict";
import {
  chronydCommand,
  needPeers,
  Proc,
  readJson,
  runGuarded,
  type RunningHorae,
  sh,
  startHorae,
  tempDir,
  withNetns,
} from "../support/peers.ts";
import { type Json, NETNS } from "./_chronyd_servers.ts";
import { randomKeys, storeOf, type TestKey, writeChronyKeys, writeNtpKeys } from "./_auth_keys.ts";
import { signPacket } from "../../lib/proto/auth/mac.ts";

const peers = await needPeers("symmetric mode between Horae, chronyd and ntpq", {
  programs: ["chronyd", "ntpq"],
  root: NETNS,
});

/** The veth pair's two ends, and a third address on B's side (TEST-NET-1, only in the netns). */
const ADDR_A = "192.0.2.1";
const ADDR_B = "192.0.2.2";
const ADDR_THIRD = "192.0.2.3";
const POLL = "minpoll 4 maxpoll 4";

/** Two namespaces joined by a veth pair: `a` holds ADDR_A, `b` ADDR_B and ADDR_THIRD. */
function withPair<T>(fn: (a: string, b: string) => Promise<T>): Promise<T> {
  return withNetns("syA", (a) =>
    withNetns("syB", async (b) => {
      await sh([
        "ip",
        "link",
        "add",
        "syv0",
        "netns",
        a,
        "type",
        "veth",
        "peer",
        "name",
        "syv1",
        "netns",
        b,
      ]);
      await sh(["ip", "-n", a, "addr", "add", `${ADDR_A}/24`, "dev", "syv0"]);
      await sh(["ip", "-n", b, "addr", "add", `${ADDR_B}/24`, "dev", "syv1"]);
      await sh(["ip", "-n", b, "addr", "add", `${ADDR_THIRD}/24`, "dev", "syv1"]);
      await sh(["ip", "-n", a, "link", "set", "syv0", "up"]);
      await sh(["ip", "-n", b, "link", "set", "syv1", "up"]);
      // Deleting a namespace deletes its end of the pair, and with it the other end.
      return await fn(a, b);
    }));
}

/** Polls a status file until `pred` holds; throws with the last document after `ms`. */
async function waitFor(h: RunningHorae, pred: (s: Json) => boolean, ms: number): Promise<Json> {
  const end = Date.now() + ms;
  let last: Json = null;
  while (Date.now() < end) {
    last = await readJson(`${h.dir}/status.json`);
    if (last !== null && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `timed out; last status:\n${JSON.stringify(last, null, 1)?.slice(0, 4000)}\n` +
      `output:\n${h.proc.output.slice(-2000)}`,
  );
}

const assocOf = (s: Json, address: string): Json =>
  (s?.associations ?? []).find((a: Json) => a.address === address);

/** A mode 1 packet (unsynchronised, as a peer that starts), signed with `key` (and spoiled). */
function mode1(key: TestKey | null, spoil = false): Uint8Array {
  const buf = new Uint8Array(48 + 4 + 20);
  buf[0] = (4 << 3) | 1;
  buf[0] |= 3 << 6;
  buf[2] = 4;
  buf[3] = 0xec;
  crypto.getRandomValues(buf.subarray(40, 48));
  if (key === null) return buf.subarray(0, 48);
  const n = signPacket(buf, 48, storeOf([key]).get(key.id)!, 20);
  if (spoil) buf[n - 1]! ^= 0x01;
  return buf.subarray(0, n);
}

/** Sends each datagram from ADDR_THIRD (in namespace `ns`) to `to`:123. */
async function sendFromThird(ns: string, to: string, datagrams: Uint8Array[]): Promise<void> {
  const hex = datagrams.map((d) => Array.from(d, (b) => b.toString(16).padStart(2, "0")).join(""));
  const script = `
    const s = Deno.listenDatagram({ transport: "udp", hostname: "${ADDR_THIRD}", port: 0 });
    for (const h of ${JSON.stringify(hex)}) {
      const b = new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
      await s.send(b, { transport: "udp", hostname: "${to}", port: 123 });
    }
    s.close();`;
  const r = await runGuarded(
    [Deno.execPath(), "eval", "--unstable-net", script],
    { netns: ns, timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.output);
}

async function ntpqPeers(ns: string): Promise<string> {
  const r = await runGuarded([peers.path("ntpq"), "-n", "-p", "127.0.0.1"], {
    netns: ns,
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 0, r.output);
  return r.output;
}

/** The `t` column of ntpq -p's line for `address` (NTPsec's layout: remote refid st t ...). */
function typeColumn(table: string, address: string): string | null {
  for (const line of table.split("\n")) {
    const f = line.trim().replace(/^[*+#x.\-o ]/, "").trim().split(/\s+/);
    if (f[0] === address) return f[3] ?? null;
  }
  return null;
}

/** Horae in namespace `ns` on port 123 of every address, writing status.json. */
function startHost(conf: string, ns: string): Promise<RunningHorae> {
  return startHorae({
    conf,
    port: 123,
    netns: ns,
    listen: ["0.0.0.0"],
    args: ["--status-file", "status.json"],
  });
}

/**
 * Two Horae hosts sharing random keys, the `algorithm` one trusted: A (in `nsA`) with LOCAL at
 * stratum 3 and B as its `peer` with that key, B (in `nsB`) with `confB(auth, key)` where `auth`
 * names the keys file and trusts the key. Both are stopped and the files removed afterwards.
 */
async function withHoraePair(
  nsA: string,
  nsB: string,
  prefix: string,
  algorithm: string,
  confB: (auth: string, key: TestKey) => string,
  fn: (a: RunningHorae, b: RunningHorae, key: TestKey) => Promise<void>,
): Promise<void> {
  const dir = await tempDir(prefix);
  const keys = randomKeys();
  const key = keys.find((k) => k.algorithm === algorithm)!;
  await writeNtpKeys(`${dir}/ntp.keys`, keys);
  const auth = `keys ${dir}/ntp.keys\ntrustedkey ${key.id}\n`;
  const a = await startHost(
    `server 127.127.1.0 ${POLL}\nfudge 127.127.1.0 stratum 3\n` +
      `peer ${ADDR_B} key ${key.id} ${POLL}\n${auth}`,
    nsA,
  );
  let b: RunningHorae | null = null;
  try {
    b = await startHost(confB(auth, key), nsB);
    await fn(a, b, key);
  } finally {
    await b?.stop();
    await a.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test(
  "interop: two Horae peers with a key reach each other and synchronise one way; a third address mobilises nothing",
  { ignore: peers.ignore },
  async () => {
    await withPair((nsA, nsB) =>
      withHoraePair(
        nsA,
        nsB,
        "sym-",
        "SHA1",
        (auth, sha1) => `peer ${ADDR_A} key ${sha1.id} ${POLL}\n${auth}`,
        async (a, b, sha1) => {
          const sb = await waitFor(
            b,
            (s) => s.systemPeer?.address === ADDR_A && s.stratum === 5,
            90_000,
          );
          const sa = await waitFor(
            a,
            (s) => s.stratum === 4 && assocOf(s, ADDR_B)?.reach !== "000",
            60_000,
          );
          // A follows its LOCAL clock: B, synchronised to A, names A as its refid (a loop for A).
          assert.equal(sa.refid, "127.127.1.0", JSON.stringify(sa.associations));
          const aSideB = assocOf(sa, ADDR_B);
          const bSideA = assocOf(sb, ADDR_A);
          assert.equal(aSideB.kind, "peer");
          assert.equal(aSideB.type, "s");
          assert.equal(aSideB.hmode, 1);
          assert.equal(aSideB.pmode, 1);
          assert.notEqual(aSideB.tally, "*");
          assert.equal(bSideA.type, "s");
          assert.equal(bSideA.tally, "*");
          assert.notEqual(bSideA.reach, "000");
          assert.equal(sb.refid, ADDR_A);

          // ntpq (NTPsec) reads the association types from mode 6.
          const tableA = await ntpqPeers(nsA);
          assert.equal(typeColumn(tableA, ADDR_B), "s", tableA);
          assert.equal(typeColumn(tableA, "LOCAL(0)"), "l", tableA);
          const tableB = await ntpqPeers(nsB);
          assert.equal(typeColumn(tableB, ADDR_A), "s", tableB);
          assert.match(tableB, new RegExp(`\\*${ADDR_A.replaceAll(".", "\\.")}`), tableB);

          // A hears B at stratum 5 naming A: a timing loop A never selects.
          const loop = await waitFor(
            a,
            (s) => assocOf(s, ADDR_B)?.stratum === 5 && assocOf(s, ADDR_B)?.refid === ADDR_A,
            60_000,
          );
          assert.equal(loop.stratum, 4);
          assert.equal(assocOf(loop, ADDR_B).tally, " ");
          assert.equal(loop.systemPeer.address, "127.127.1.0");

          // Mode 1 from a third address: without a MAC, and with a MAC that does not verify.
          const before = await readJson(`${a.dir}/status.json`) as Json;
          await sendFromThird(nsB, ADDR_A, [mode1(null), mode1(null), mode1(sha1, true)]);
          const after = await waitFor(
            a,
            (s) =>
              s.sysstats.drops.auth_required >= before.sysstats.drops.auth_required + 2 &&
              s.sysstats.received >= before.sysstats.received + 3,
            20_000,
          );
          assert.equal(after.associations.length, 2, JSON.stringify(after.associations));
          assert.equal(assocOf(after, ADDR_THIRD), undefined);
          const drops = (x: Json) =>
            Object.values(x.sysstats.drops as Record<string, number>).reduce((n, v) => n + v, 0);
          // Two without a MAC (auth_required), and the spoiled MAC under its own reason.
          assert.ok(drops(after) - drops(before) >= 3, "every mode 1 packet is counted as a drop");
          assert.equal(after.counters.ephemeralMobilized, 0);
        },
      )
    );
  },
);

Deno.test(
  "interop: two keyless Horae peers under the default enable auth reach each other; a third address still mobilises nothing",
  { ignore: peers.ignore },
  async () => {
    await withPair(async (nsA, nsB) => {
      // ntpd's behaviour: `enable auth` asks for a MAC only where a packet would mobilise an
      // association; a configured peer's packets belong to its association.
      const a = await startHost(
        `server 127.127.1.0 ${POLL}\nfudge 127.127.1.0 stratum 3\npeer ${ADDR_B} ${POLL}\n`,
        nsA,
      );
      let b: RunningHorae | null = null;
      try {
        b = await startHost(`peer ${ADDR_A} ${POLL}\n`, nsB);
        const sb = await waitFor(
          b,
          (s) => s.systemPeer?.address === ADDR_A && s.stratum === 5,
          90_000,
        );
        const sa = await waitFor(a, (s) => assocOf(s, ADDR_B)?.reach !== "000", 60_000);
        assert.equal(assocOf(sa, ADDR_B).pmode, 1, "A hears B's mode 1 packets");
        assert.equal(assocOf(sb, ADDR_A).pmode, 1, "B hears A's mode 1 packets");
        const before = sa.sysstats.drops.auth_required ?? 0;
        assert.equal(before, 0, JSON.stringify(sa.sysstats.drops));
        await sendFromThird(nsB, ADDR_A, [mode1(null)]);
        const after = await waitFor(
          a,
          (s) => (s.sysstats.drops.auth_required ?? 0) >= 1,
          20_000,
        );
        assert.equal(assocOf(after, ADDR_THIRD), undefined);
        assert.equal(after.counters.ephemeralMobilized, 0);
      } finally {
        await b?.stop();
        await a.stop();
      }
    });
  },
);

Deno.test(
  "interop: chronyd 4.3 as `peer` of Horae and Horae of chronyd: a symmetric association both ways",
  { ignore: peers.ignore },
  async () => {
    await withPair(async (nsA, nsB) => {
      const dir = await tempDir("symc-");
      const keys = randomKeys();
      const sha1 = keys.find((k) => k.algorithm === "SHA1")!;
      await writeNtpKeys(`${dir}/ntp.keys`, keys);
      await writeChronyKeys(`${dir}/chrony.keys`, keys);
      await Deno.mkdir(`${dir}/log`);
      await Deno.writeTextFile(
        `${dir}/chrony.conf`,
        [
          `peer ${ADDR_B} key ${sha1.id} ${POLL}`,
          `keyfile ${dir}/chrony.keys`,
          // chronyd serves as stratum 3 with no source of its own: the better of the two.
          "local stratum 3",
          `allow ${ADDR_B}`,
          `bindaddress ${ADDR_A}`,
          "port 123",
          "cmdport 0",
          "bindcmdaddress /",
          `pidfile ${dir}/chronyd.pid`,
          `logdir ${dir}/log`,
          "log measurements",
        ].join("\n") + "\n",
      );
      const chronyd = new Proc(
        chronydCommand(peers.path("chronyd"), `${dir}/chrony.conf`, { netns: nsA }),
      );
      let h: RunningHorae | null = null;
      try {
        await chronyd.waitFor(/Disabled control of system clock/, 10_000);
        h = await startHost(
          `peer ${ADDR_A} key ${sha1.id} ${POLL}\nkeys ${dir}/ntp.keys\ntrustedkey ${sha1.id}\n`,
          nsB,
        );
        const s = await waitFor(
          h,
          (s) => s.systemPeer?.address === ADDR_A && s.stratum === 4,
          120_000,
        );
        const x = assocOf(s, ADDR_A);
        assert.equal(x.type, "s");
        assert.equal(x.pmode, 1, "chronyd sends symmetric active packets");
        assert.equal(x.rejected.unauthenticated ?? 0, 0);
        const table = await ntpqPeers(nsB);
        assert.equal(typeColumn(table, ADDR_A), "s", table);
        // chronyd's side (measurements.log: date time address leap stratum, tests 1-3, 5-7,
        // A-D, ..., then the mode with the interleaving letter and the timestamp sources): it
        // measured Horae from symmetric active packets that passed its packet tests; test D
        // (Horae is synchronised to chronyd: a loop) keeps it from following Horae.
        const fields = (l: string) => l.trim().split(/\s+/);
        const symmetric = (l: string) => {
          const f = fields(l);
          return f[5] === "111" && f[6] === "111" && /^1[A-Z]$/.test(f.at(-3) ?? "");
        };
        const end = Date.now() + 60_000;
        let lines: string[] = [];
        while (Date.now() < end) {
          const log = await Deno.readTextFile(`${dir}/log/measurements.log`).catch(() => "");
          lines = log.split("\n").filter((l) => fields(l)[2] === ADDR_B);
          if (lines.some(symmetric)) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
        assert.ok(lines.some(symmetric), `chronyd's measurements of Horae:\n${lines.join("\n")}`);
        const last = fields(lines.findLast(symmetric)!);
        assert.equal(last[4], "4", "chronyd sees Horae at stratum 4");
        assert.equal(last[7]!.at(-1), "0", "chronyd's loop test D keeps it from following Horae");
      } finally {
        await h?.stop();
        await chronyd.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });
  },
);

Deno.test(
  "interop: a Horae host with only a trusted key mobilises a passive association for an authenticated peer",
  { ignore: peers.ignore },
  async () => {
    await withPair((nsA, nsB) =>
      withHoraePair(
        nsA,
        nsB,
        "symp-",
        "MD5",
        // B has no source at all: only the key.
        (auth) => auth,
        async (a, b) => {
          const sb = await waitFor(
            b,
            (s) => s.systemPeer?.address === ADDR_A && s.stratum === 5,
            90_000,
          );
          const passive = assocOf(sb, ADDR_A);
          assert.equal(passive.kind, "passive");
          assert.equal(passive.type, "S");
          assert.equal(passive.hmode, 2);
          assert.equal(passive.pmode, 1);
          assert.equal(passive.ephemeral, true);
          assert.equal(sb.counters.ephemeralMobilized, 1);
          const sa = await waitFor(a, (s) => assocOf(s, ADDR_B)?.pmode === 2, 30_000);
          assert.notEqual(assocOf(sa, ADDR_B).reach, "000");
          // NTPsec's ntpq prints a symmetric passive association as "S".
          const table = await ntpqPeers(nsB);
          assert.equal(typeColumn(table, ADDR_A), "S", table);
        },
      )
    );
  },
);
