import assert from "node:assert/strict";
import fc from "fast-check";
import type { MruEntry } from "../access/mru.ts";
import {
  RES_KOD,
  RES_LIMITED,
  RES_LOWPRIOTRAP,
  RES_NOMODIFY,
  RES_NOMRULIST,
  RES_NOTRAP,
} from "../access/restrict.ts";
import { KeyStore } from "../auth/key_store.ts";
import { MacVerifier, signPacket } from "../auth/mac.ts";
import { PureCrypto } from "../auth/pure_crypto.ts";
import { IpWords } from "../ip.ts";
import { addSec, fromUnix, type NtpTime } from "../ntp_time.ts";
import { SeededRng } from "../rng.ts";
import { keyedControlAuth } from "./control_auth.ts";
import {
  type ControlAnswer,
  ControlServer,
  type ControlServerOptions,
  DEFAULT_CONTROL_LIMITS,
  isPlainFileName,
  TRAP_PORT,
} from "./control_server.ts";
import { FakeControlView, fakePeer } from "./fake_control_view.ts";
import {
  controlMacOffset,
  CtlErr,
  CtlOp,
  decodeControl,
  encodeControl,
  Reassembler,
} from "./mode6.ts";
import { asciiBytes, bytesText, parseVarList } from "./var_list.ts";
import { PeerEvent, SystemEvent } from "../events.ts";

const crypto = new PureCrypto();
const NOW: NtpTime = fromUnix(1_700_000_000);
const CONTROL_KEY = 7;
const KEY = new TextEncoder().encode("control-secret");

function keys(): MacVerifier {
  const store = new KeyStore(
    crypto,
    [
      { id: CONTROL_KEY, algorithm: "MD5", key: KEY, allowed: null },
      { id: 8, algorithm: "SHA1", key: KEY, allowed: null },
    ],
    [CONTROL_KEY, 8],
  );
  return new MacVerifier(store);
}

function server(view = new FakeControlView(), o: Partial<ControlServerOptions> = {}) {
  const verifier = keys();
  const s = new ControlServer({
    view,
    rng: new SeededRng(1),
    crypto,
    auth: keyedControlAuth(verifier),
    controlKey: CONTROL_KEY,
    ...o,
  });
  return { s, view, verifier };
}

let seq = 0;

interface Asked {
  answer: ControlAnswer;
  text: string;
  status: number;
  error: number;
  request: Uint8Array;
}

function build(
  opcode: number,
  associd: number,
  text: string,
  keyId: number | null,
  verifier?: MacVerifier,
) {
  seq = (seq + 1) & 0xffff;
  const data = asciiBytes(text);
  const h = {
    version: 4,
    response: false,
    error: false,
    more: false,
    opcode,
    sequence: seq,
    status: 0,
    associd,
    offset: 0,
  };
  if (keyId === null) return encodeControl(h, data);
  const key = verifier!.store.get(keyId)!;
  const buf = encodeControl(h, data, 4 + key.v4DigestLength);
  signPacket(buf, controlMacOffset(data.length), key, key.v4DigestLength);
  return buf;
}

function ask(
  s: ControlServer,
  opcode: number,
  o: {
    associd?: number;
    text?: string;
    from?: string;
    port?: number;
    flags?: number;
    now?: NtpTime;
    keyId?: number | null;
    verifier?: MacVerifier;
  } = {},
): Asked {
  const request = build(opcode, o.associd ?? 0, o.text ?? "", o.keyId ?? null, o.verifier);
  const src = new IpWords();
  src.parse(o.from ?? "127.0.0.1");
  const answer = s.handle(
    { data: request, src, srcPort: o.port ?? 40000, restrictFlags: o.flags ?? 0 },
    o.now ?? NOW,
  );
  const r = new Reassembler(seq, opcode);
  let step = "";
  for (const d of answer.replies) step = r.add(d);
  return {
    answer,
    text: r.data === null ? "" : bytesText(r.data),
    status: r.status,
    error: step === "error" ? r.errorCode : -1,
    request,
  };
}

function names(text: string): string[] {
  return parseVarList(text).map((i) => i.name);
}

Deno.test("READVAR without names returns ntpd's system variables in ntpd's order", () => {
  const { s } = server();
  const a = ask(s, CtlOp.READVAR);
  assert.equal(a.answer.outcome, "answered");
  assert.deepEqual(names(a.text), [
    "version",
    "processor",
    "system",
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "refid",
    "reftime",
    "clock",
    "peer",
    "tc",
    "mintc",
    "offset",
    "frequency",
    "sys_jitter",
    "clk_jitter",
    "clk_wander",
  ]);
  const v = Object.fromEntries(parseVarList(a.text).map((i) => [i.name, i.value]));
  assert.equal(v.version, '"horae 0.0.0-test"');
  assert.equal(v.stratum, "3");
  assert.equal(v.rootdelay, "12.500"); // ms
  assert.equal(v.offset, "0.123000"); // ms
  assert.equal(v.frequency, "-12.500"); // ppm
  assert.equal(v.refid, "192.0.2.1");
  assert.equal(v.reftime, "0xe9000000.00000000");
  // Status word: leap 0, sync_ntp (6), no events yet.
  assert.equal(a.status, 0x0600);
});

Deno.test("READVAR with names returns those, sysstats included; unknown names are an error", () => {
  const { s } = server();
  const a = ask(s, CtlOp.READVAR, { text: "stratum,offset,ss_received" });
  assert.deepEqual(parseVarList(a.text), [
    { name: "stratum", value: "3" },
    { name: "offset", value: "0.123000" },
    { name: "ss_received", value: "10" },
  ]);
  assert.equal(ask(s, CtlOp.READVAR, { text: "stratum,nosuchvar" }).error, CtlErr.UNKNOWNVAR);
});

Deno.test("READSTAT lists associations with peer status words and the system status", () => {
  const { s, view } = server();
  s.noteEvent("system", 0, SystemEvent.SYNC, NOW);
  s.noteEvent("peer", 1, PeerEvent.NEWPEER, NOW);
  const a = ask(s, CtlOp.READSTAT);
  assert.equal(a.status, 0x0615); // sync_ntp, 1 event, clock_sync
  const raw = new TextEncoder().encode(a.text); // binary: read it from the replies instead
  assert.ok(raw.length >= 0);
  const m = decodeControl(a.answer.replies[0]!);
  assert.ok(m.ok);
  const d = m.message.data;
  assert.equal(d.length, 4 * view.peerList.length);
  assert.equal((d[0]! << 8) | d[1]!, 1);
  // configured, reachable, sys.peer; 1 event, sys_peer (10).
  assert.equal((d[2]! << 8) | d[3]!, 0x961a);
  assert.equal((d[6]! << 8) | d[7]!, 0x9400);
});

Deno.test("READVAR of an association gives ntpd's peer variables; unknown ids are an error", () => {
  const { s } = server();
  const a = ask(s, CtlOp.READVAR, { associd: 1 });
  const v = Object.fromEntries(parseVarList(a.text).map((i) => [i.name, i.value]));
  for (
    const n of [
      "srcadr",
      "srcport",
      "dstadr",
      "dstport",
      "leap",
      "stratum",
      "precision",
      "rootdelay",
      "rootdisp",
      "refid",
      "reftime",
      "rec",
      "reach",
      "unreach",
      "hmode",
      "pmode",
      "hpoll",
      "ppoll",
      "headway",
      "flash",
      "keyid",
      "offset",
      "delay",
      "dispersion",
      "jitter",
      "xleave",
      "filtdelay",
      "filtoffset",
      "filtdisp",
    ]
  ) assert.ok(n in v, n);
  assert.equal(v.reach, "0xff");
  assert.equal(v.offset, "0.123000");
  assert.equal(v.filtdelay!.split(" ").length, 8);
  assert.equal(a.status >> 8, 0x96);
  assert.equal(ask(s, CtlOp.READVAR, { associd: 99 }).error, CtlErr.BADASSOC);
  assert.equal(ask(s, CtlOp.READVAR, { associd: 1, text: "bogus" }).error, CtlErr.UNKNOWNVAR);
});

Deno.test("READCLOCK answers for a reference clock and refuses an association without one", () => {
  const view = new FakeControlView();
  view.peerList.push(fakePeer(3, {
    srcAddress: "127.127.1.0",
    clock: {
      type: 1,
      name: "LOCAL(0)",
      timecode: "",
      polls: 12,
      noReply: 0,
      badFormat: 0,
      badData: 0,
      fudgeTime1Sec: 0,
      fudgeTime2Sec: 0,
      stratum: 10,
      refid: 0x4c4f434c,
      flags: 0,
      status: 0,
      lastEvent: 0,
    },
  }));
  const { s } = server(view);
  const a = ask(s, CtlOp.READCLOCK);
  const v = Object.fromEntries(parseVarList(a.text).map((i) => [i.name, i.value]));
  assert.equal(v.refid, "LOCL");
  assert.equal(v.device, '"LOCAL(0)"');
  assert.equal(v.poll, "12");
  assert.equal(ask(s, CtlOp.READCLOCK, { associd: 2 }).error, CtlErr.BADASSOC);
});

Deno.test("WRITEVAR needs the controlkey and not nomodify; setvar variables can then change", () => {
  const { s, verifier } = server(undefined, {
    setvar: [{ name: "location", value: '"rack 4"', isDefault: true }],
  });
  assert.match(ask(s, CtlOp.READVAR).text, /location="rack 4"/);
  // Unauthenticated, another trusted key, nomodify: all refused with ntpd's code.
  assert.equal(ask(s, CtlOp.WRITEVAR, { text: 'location="x"' }).error, CtlErr.PERMISSION);
  assert.equal(
    ask(s, CtlOp.WRITEVAR, { text: 'location="x"', keyId: 8, verifier }).error,
    CtlErr.PERMISSION,
  );
  assert.equal(
    ask(s, CtlOp.WRITEVAR, {
      text: 'location="x"',
      keyId: CONTROL_KEY,
      verifier,
      flags: RES_NOMODIFY,
    }).error,
    CtlErr.PERMISSION,
  );
  // Built-in variables are read-only; unknown ones do not exist.
  assert.equal(
    ask(s, CtlOp.WRITEVAR, { text: "stratum=1", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.PERMISSION,
  );
  assert.equal(
    ask(s, CtlOp.WRITEVAR, { text: "nope=1", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.UNKNOWNVAR,
  );
  const ok = ask(s, CtlOp.WRITEVAR, { text: 'location="rack 5"', keyId: CONTROL_KEY, verifier });
  assert.equal(ok.answer.outcome, "answered");
  // The answer to an authenticated request is signed: its MAC verifies with the same key.
  const reply = ok.answer.replies[0]!;
  const m = decodeControl(reply);
  assert.ok(m.ok && m.message.macOffset > 0);
  assert.equal(verifier.verify(reply, reply.length, m.message.macOffset, null), "ok");
  assert.match(ask(s, CtlOp.READVAR, { text: "location" }).text, /location="rack 5"/);
});

Deno.test("Without a controlkey nothing can be changed, even with a trusted key", () => {
  const { s, verifier } = server(undefined, {
    controlKey: null,
    setvar: [{ name: "a", value: "1", isDefault: false }],
  });
  assert.equal(
    ask(s, CtlOp.WRITEVAR, { text: "a=2", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.PERMISSION,
  );
  assert.equal(
    ask(s, CtlOp.CONFIGURE, { text: "tos minsane 2", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.PERMISSION,
  );
});

Deno.test("CONFIGURE and SAVECONFIG go to the daemon's handlers only with the controlkey", () => {
  const seen: string[] = [];
  const { s, verifier } = server(undefined, {
    config: {
      configure: (t) => {
        seen.push(t);
        return "Config Succeeded";
      },
      saveConfig: (f) => {
        seen.push(`save ${f}`);
        return `Configuration saved to ${f}`;
      },
    },
  });
  assert.equal(ask(s, CtlOp.CONFIGURE, { text: "tos minsane 2" }).error, CtlErr.PERMISSION);
  const a = ask(s, CtlOp.CONFIGURE, { text: "tos minsane 2", keyId: CONTROL_KEY, verifier });
  assert.equal(a.text, "Config Succeeded");
  assert.equal(
    ask(s, CtlOp.SAVECONFIG, { text: "../../etc/passwd", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.BADVALUE,
  );
  assert.equal(
    ask(s, CtlOp.SAVECONFIG, { text: "/tmp/x", keyId: CONTROL_KEY, verifier }).error,
    CtlErr.BADVALUE,
  );
  const saved = ask(s, CtlOp.SAVECONFIG, { text: "saved.conf", keyId: CONTROL_KEY, verifier });
  assert.equal(saved.text, "Configuration saved to saved.conf");
  assert.deepEqual(seen, ["tos minsane 2", "save saved.conf"]);
});

Deno.test("SAVECONFIG with a handler that writes a file answers once the write is done", async () => {
  let fail = false;
  const { s, verifier } = server(undefined, {
    config: {
      saveConfig: (f) =>
        fail
          ? Promise.reject(new Error("disk full"))
          : Promise.resolve(`Configuration saved to '${f}'`),
    },
  });
  const text = async (a: Asked) => {
    assert.deepEqual(a.answer.replies, []);
    const later = await a.answer.later!;
    const r = new Reassembler(seq, CtlOp.SAVECONFIG);
    for (const d of later.replies) r.add(d);
    return bytesText(r.data!);
  };
  const ok = ask(s, CtlOp.SAVECONFIG, { text: "saved.toml", keyId: CONTROL_KEY, verifier });
  assert.equal(await text(ok), "Configuration saved to 'saved.toml'");
  fail = true;
  const bad = ask(s, CtlOp.SAVECONFIG, { text: "saved.toml", keyId: CONTROL_KEY, verifier });
  assert.equal(await text(bad), "Configuration not saved: disk full");
  // Without the key nothing is started at all.
  const refused = ask(s, CtlOp.SAVECONFIG, { text: "saved.toml" });
  assert.equal(refused.error, CtlErr.PERMISSION);
  assert.equal(refused.answer.later, undefined);
});

Deno.test("CONFIGURE with an asynchronous handler answers once the change is applied", async () => {
  const seen: string[] = [];
  let fail = false;
  const { s, verifier } = server(undefined, {
    config: {
      configure: (t, from) => {
        seen.push(`${from} ${t}`);
        return fail ? Promise.reject(new Error("busy")) : Promise.resolve("Config Succeeded");
      },
    },
  });
  const text = async (a: Asked) => {
    assert.deepEqual(a.answer.replies, []);
    const later = await a.answer.later!;
    const r = new Reassembler(seq, CtlOp.CONFIGURE);
    for (const d of later.replies) r.add(d);
    return bytesText(r.data!);
  };
  const ok = ask(s, CtlOp.CONFIGURE, { text: "server 192.0.2.1", keyId: CONTROL_KEY, verifier });
  assert.equal(await text(ok), "Config Succeeded");
  const v6 = ask(s, CtlOp.CONFIGURE, {
    text: "unpeer 192.0.2.1",
    keyId: CONTROL_KEY,
    verifier,
    from: "::1",
    port: 4000,
  });
  assert.equal(await text(v6), "Config Succeeded");
  fail = true;
  const bad = ask(s, CtlOp.CONFIGURE, { text: "tos minsane 2", keyId: CONTROL_KEY, verifier });
  assert.equal(await text(bad), "Config failed: busy");
  // The handler sees the text and who sent it.
  assert.deepEqual(seen, [
    "127.0.0.1:40000 server 192.0.2.1",
    "[::1]:4000 unpeer 192.0.2.1",
    "127.0.0.1:40000 tos minsane 2",
  ]);
  // nomodify, or no key: refused before the handler runs.
  const nomodify = ask(s, CtlOp.CONFIGURE, {
    text: "server 192.0.2.2",
    keyId: CONTROL_KEY,
    verifier,
    flags: RES_NOMODIFY,
  });
  assert.equal(nomodify.error, CtlErr.PERMISSION);
  assert.equal(ask(s, CtlOp.CONFIGURE, { text: "server 192.0.2.2" }).error, CtlErr.PERMISSION);
  assert.equal(seen.length, 3);
});

Deno.test("isPlainFileName() takes a bare file name only", () => {
  for (const ok of ["ntp.conf", "saved-1.conf", "a_b"]) assert.ok(isPlainFileName(ok), ok);
  for (const bad of ["", "../x", "a/b", ".hidden", "x..y", "/abs", "a\\b", "a b"]) {
    assert.ok(!isPlainFileName(bad), bad);
  }
});

function mruEntry(address: string, lastSec: number, count: number, flags = 0): MruEntry {
  return {
    address,
    family: address.includes(":") ? 6 : 4,
    port: 123,
    count,
    firstSec: lastSec - 100,
    lastSec,
    mode: 3,
    version: 4,
    restrictFlags: flags,
  };
}

/** Walks the MRU list as NTPsec's ntpq does: nonce, then READ_MRU with prior entries. */
function walkMru(s: ControlServer, limit: number, from = "127.0.0.1") {
  const n = ask(s, CtlOp.REQ_NONCE, { from });
  let nonce = parseVarList(n.text)[0]!.value!;
  const got: Record<string, string>[] = [];
  let prior = "";
  for (let round = 0; round < 50; round++) {
    const a = ask(s, CtlOp.READ_MRU, { text: `nonce=${nonce}, limit=${limit}${prior}`, from });
    assert.equal(a.error, -1, `round ${round}`);
    const items = parseVarList(a.text);
    const byIndex = new Map<string, Record<string, string>>();
    let done = false;
    for (const it of items) {
      if (it.name === "nonce") nonce = it.value!;
      else if (it.name === "now") done = true;
      const m = /^(\w+)\.(\d+)$/.exec(it.name);
      if (m !== null && m[1] !== "last" || (m !== null && m[1] === "last" && m[2] !== "newest")) {
        const e = byIndex.get(m![2]!) ?? {};
        e[m![1]!] = it.value!;
        byIndex.set(m![2]!, e);
      }
    }
    got.push(...byIndex.values());
    if (done) return got;
    const newest = got[got.length - 1]!;
    prior = `, addr.0=${newest.addr}, last.0=${newest.last}`;
  }
  throw new Error("MRU walk did not end");
}

Deno.test("READ_MRU walks the whole list in pieces after the nonce handshake", () => {
  const view = new FakeControlView();
  const base = 1_699_999_000;
  // Most recent first, as MruList.entries() gives them.
  view.mruList = Array.from(
    { length: 25 },
    (_, k) =>
      mruEntry(`198.51.100.${k + 1}`, base + 100 - k, k + 1, k === 3 ? RES_KOD | RES_LIMITED : 0),
  );
  const { s } = server(view);
  const got = walkMru(s, 4);
  assert.equal(got.length, 25);
  // Oldest first, each entry once.
  assert.deepEqual(got.map((e) => e.addr), view.mruList.map((e) => `${e.address}:123`).reverse());
  const kod = got.find((e) => e.addr === "198.51.100.4:123")!;
  assert.equal(kod.rs, "0x420"); // NTPsec's kod | limited bits
  assert.equal(kod.mv, "35"); // version 4, mode 3
  assert.equal(kod.ct, "4");
});

Deno.test("READ_MRU answers nothing without a nonce made for the sender, or a stale one", () => {
  const view = new FakeControlView();
  view.mruList = [mruEntry("198.51.100.1", 1_699_999_990, 3)];
  const { s } = server(view);
  assert.deepEqual(ask(s, CtlOp.READ_MRU, { text: "frags=4" }).answer.replies, []);
  const n = ask(s, CtlOp.REQ_NONCE, { from: "127.0.0.1" });
  const nonce = parseVarList(n.text)[0]!.value!;
  // The nonce is bound to the address it was sent to: a spoofer elsewhere gets nothing.
  const spoofed = ask(s, CtlOp.READ_MRU, { text: `nonce=${nonce}`, from: "203.0.113.9" });
  assert.equal(spoofed.answer.outcome, "bad_nonce");
  assert.deepEqual(spoofed.answer.replies, []);
  const stale = ask(s, CtlOp.READ_MRU, { text: `nonce=${nonce}`, now: addSec(NOW, 60) });
  assert.deepEqual(stale.answer.replies, []);
  const fresh = ask(s, CtlOp.READ_MRU, { text: `nonce=${nonce}`, now: addSec(NOW, 10) });
  assert.match(fresh.text, /addr\.0=198\.51\.100\.1:123/);
  // nomrulist refuses both steps.
  assert.equal(ask(s, CtlOp.REQ_NONCE, { flags: RES_NOMRULIST }).error, CtlErr.PERMISSION);
});

Deno.test("READ_MRU with prior entries that all changed asks the client to start over", () => {
  const view = new FakeControlView();
  view.mruList = [mruEntry("198.51.100.1", 1_699_999_990, 3)];
  const { s } = server(view);
  const nonce = parseVarList(ask(s, CtlOp.REQ_NONCE).text)[0]!.value!;
  const a = ask(s, CtlOp.READ_MRU, {
    text: `nonce=${nonce}, addr.0=198.51.100.1:123, last.0=0x00000001.00000000`,
  });
  assert.equal(a.error, CtlErr.UNKNOWNVAR);
});

Deno.test("SETTRAP needs the controlkey; events then send ASYNCMSG traps to the setter and `trap` hosts", () => {
  const { s, verifier } = server(undefined, { traps: [{ address: "192.0.2.77" }] });
  assert.equal(ask(s, CtlOp.SETTRAP).error, CtlErr.PERMISSION);
  assert.equal(
    ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, flags: RES_NOTRAP }).error,
    CtlErr.PERMISSION,
  );
  const set = ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, port: 5555 });
  assert.equal(set.answer.outcome, "answered");
  const traps = s.noteEvent("peer", 1, PeerEvent.REACH, NOW);
  assert.deepEqual(traps.map((t) => `${t.address}:${t.port}`), [
    `192.0.2.77:${TRAP_PORT}`,
    "127.0.0.1:5555",
  ]);
  const m = decodeControl(traps[1]!.data[0]!);
  assert.ok(m.ok);
  assert.equal(m.message.opcode, CtlOp.ASYNCMSG);
  assert.equal(m.message.response, true);
  assert.equal(m.message.associd, 1);
  assert.equal(m.message.status & 0xf, PeerEvent.REACH);
  assert.match(bytesText(m.message.data), /srcadr=192\.0\.2\.1/);
  // A client's trap lapses after an hour without being set again; the configured one stays.
  const later = s.noteEvent("system", 0, SystemEvent.SYNC, addSec(NOW, 3601));
  assert.deepEqual(later.map((t) => t.address), ["192.0.2.77"]);
});

Deno.test("SETTRAP keeps at most three traps; a normal trap may displace a low-priority one", () => {
  const { s, verifier } = server();
  for (const port of [1, 2]) ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, port });
  ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, port: 3, flags: RES_LOWPRIOTRAP });
  assert.equal(
    ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, port: 4, flags: RES_LOWPRIOTRAP }).error,
    CtlErr.PERMISSION,
  );
  assert.equal(
    ask(s, CtlOp.SETTRAP, { keyId: CONTROL_KEY, verifier, port: 5 }).answer.outcome,
    "answered",
  );
  assert.deepEqual(s.traps().map((t) => t.port), [1, 2, 5]);
  assert.equal(
    ask(s, CtlOp.UNSETTRAP, { keyId: CONTROL_KEY, verifier, port: 2 }).answer.outcome,
    "answered",
  );
  assert.deepEqual(s.traps().map((t) => t.port), [1, 5]);
});

Deno.test("Amplification: every unauthenticated request type's reply-to-request ratio is bounded", () => {
  const view = new FakeControlView();
  // Many associations and a long MRU list: the largest answers there can be.
  view.peerList = Array.from(
    { length: 40 },
    (_, k) => fakePeer(k + 1, { srcHost: "x".repeat(60) }),
  );
  view.mruList = Array.from(
    { length: 500 },
    (_, k) => mruEntry(`10.0.${k >> 8}.${k & 255}`, 1_699_999_000 + k, 1),
  );
  const { s } = server(view, {
    setvar: [{ name: "big", value: `"${"y".repeat(200)}"`, isDefault: true }],
  });
  const cap = DEFAULT_CONTROL_LIMITS.maxUnauthAnswerBytes;
  const cases: [string, number, { associd?: number; text?: string }][] = [
    ["READSTAT", CtlOp.READSTAT, {}],
    ["READVAR system", CtlOp.READVAR, {}],
    ["READVAR peer", CtlOp.READVAR, { associd: 1 }],
    ["READVAR repeated names", CtlOp.READVAR, { text: Array(50).fill("version").join(",") }],
    ["READVAR every name", CtlOp.READVAR, {
      text: "version,processor,system,ss_uptime,ss_received,big,rootdist",
    }],
    ["READCLOCK", CtlOp.READCLOCK, {}],
    ["WRITEVAR", CtlOp.WRITEVAR, { text: "big=1" }],
    ["WRITECLOCK", CtlOp.WRITECLOCK, {}],
    ["SETTRAP", CtlOp.SETTRAP, {}],
    ["UNSETTRAP", CtlOp.UNSETTRAP, {}],
    ["CONFIGURE", CtlOp.CONFIGURE, { text: "server 192.0.2.1" }],
    ["SAVECONFIG", CtlOp.SAVECONFIG, { text: "x.conf" }],
    ["REQ_NONCE", CtlOp.REQ_NONCE, {}],
    ["READ_MRU without nonce", CtlOp.READ_MRU, { text: "frags=32" }],
    ["READ_ORDLIST_A", CtlOp.READ_ORDLIST_A, {}],
    ["unknown opcode", 20, {}],
  ];
  for (const [name, op, o] of cases) {
    const a = ask(s, op, { ...o, from: `198.18.0.${cases.findIndex((c) => c[0] === name) + 1}` });
    const bytes = a.answer.replies.reduce((n, d) => n + d.length, 0);
    const ratio = bytes / a.request.length;
    if (a.answer.outcome === "error" || a.answer.replies.length === 0) {
      // Errors (and silence) are never larger than the request.
      assert.ok(bytes <= a.request.length, `${name}: ${bytes} > ${a.request.length}`);
    } else {
      assert.ok(bytes <= cap, `${name}: ${bytes} bytes > ${cap}`);
      assert.ok(ratio <= cap / 12, `${name}: ratio ${ratio.toFixed(1)}`);
    }
  }
  // The one unauthenticated answer not bounded by the cap needs the nonce: see the MRU tests.
});

Deno.test("Control answers are rate limited per source by bytes, and refill with time", () => {
  const { s } = server();
  let answered = 0;
  for (let i = 0; i < 200; i++) {
    if (ask(s, CtlOp.READVAR, { from: "198.18.1.1" }).answer.outcome === "answered") answered++;
  }
  const one = ask(s, CtlOp.READVAR, { from: "198.18.1.2" }).answer.replies[0]!.length;
  // The burst, and not much more.
  assert.ok(
    answered >= Math.floor(DEFAULT_CONTROL_LIMITS.sourceBurstBytes / one) - 1,
    `${answered}`,
  );
  assert.ok(
    answered <= Math.ceil(DEFAULT_CONTROL_LIMITS.sourceBurstBytes / one) + 1,
    `${answered}`,
  );
  assert.equal(ask(s, CtlOp.READVAR, { from: "198.18.1.1" }).answer.outcome, "rate_limited");
  // Another source is not affected, and the first is served again later.
  assert.equal(ask(s, CtlOp.READVAR, { from: "198.18.1.3" }).answer.outcome, "answered");
  assert.equal(
    ask(s, CtlOp.READVAR, { from: "198.18.1.1", now: addSec(NOW, 5) }).answer.outcome,
    "answered",
  );
  assert.ok(s.counters().rateLimited > 0);
});

Deno.test("ControlServer.handle() never throws on arbitrary datagrams (property)", () => {
  const { s } = server();
  const src = new IpWords();
  src.parse("127.0.0.1");
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 12, maxLength: 600 }),
      fc.integer({ min: 0, max: 31 }),
      (b, op) => {
        b[0] = 0x26;
        b[1] = op;
        s.handle({ data: b, src, srcPort: 1234, restrictFlags: 0 }, NOW);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("A walk of a long MRU list is not starved by the byte budget, yet stays bounded", () => {
  const view = new FakeControlView();
  view.mruList = Array.from(
    { length: 2000 },
    (_, k) => mruEntry(`10.1.${k >> 8}.${k & 255}`, 1_699_999_000 + k / 10, 2),
  );
  const { s } = server(view);
  // About 150 kB of entries: far beyond the 16 KiB burst of plain answers.
  const got = walkMru(s, 256);
  assert.equal(got.length, 2000);
  // The same source asking for the whole list again at once is stopped by the budget.
  let limited = false;
  for (let i = 0; i < 20 && !limited; i++) {
    const n = ask(s, CtlOp.REQ_NONCE);
    if (n.answer.outcome === "rate_limited") limited = true;
    else {
      const nonce = parseVarList(n.text)[0]!.value!;
      const a = ask(s, CtlOp.READ_MRU, { text: `nonce=${nonce}, limit=256` });
      limited = a.answer.outcome === "rate_limited";
    }
  }
  assert.ok(limited);
});
