// Horae as an NTS server (RFC 8915) on loopback: its NTS-KE server (TLS 1.3 through OpenSSL,
// certificate from a test CA made by the openssl CLI) and NTS-protected NTP, against chronyd 4.3
// as an NTS client (-x: never steers the clock; everything runs without CAP_SYS_TIME):
// `chronyc -N authdata` shows NTS with cookies and chronyd uses the samples. Against the running
// daemon, a raw client: a request written one byte per TLS record and TCP write gets its 8
// cookies, a wrong AEAD is refused, both counted; a server with an expired certificate is refused
// by chronyd and the failed handshakes counted. At the NTP level, a replayed cookie and a
// tampered request are dropped and a forged cookie gets an NTS NAK, each counted.

import assert from "node:assert/strict";
import {
  chronydCommand,
  freeTcpPort,
  needPeers,
  Proc,
  readJson,
  runGuarded,
  type RunningHorae,
  startHorae,
  tempDir,
  waitForJson,
} from "../support/peers.ts";
import { makeTestPki, ntsServerConf, type TestPki } from "../support/nts_pki.ts";
import { rawKeExchange } from "./_nts_ke_raw.ts";
import { realtime } from "../../ffi/libc.ts";
import { NtsKeClient } from "../../lib/daemon/nts_ke_client.ts";
import { OpenSslCrypto } from "../../lib/daemon/crypto_openssl.ts";
import type { AeadContext } from "../../lib/proto/crypto.ts";
import { UNIX_EPOCH_OFFSET_SEC } from "../../lib/proto/ntp_time.ts";
import {
  EF_COOKIE,
  EF_UNIQUE_ID,
  readNtsFields,
  writeAuthenticator,
  writeField,
} from "../../lib/proto/nts/extension_fields.ts";

const peers = await needPeers("chronyd as an NTS client of horae", {
  programs: ["chronyd", "chronyc", "openssl"],
});

// deno-lint-ignore no-explicit-any
type Json = any;

/** chronyd -x polling Horae with NTS every 2 s, its command socket in a private folder. */
async function startNtsChronydClient(pki: TestPki, ntpPort: number, kePort: number) {
  const dir = await tempDir("chronyc-nts-");
  await Deno.chmod(dir, 0o700);
  const sock = `${dir}/c.sock`;
  const conf = [
    `server 127.0.0.1 port ${ntpPort} nts ntsport ${kePort} iburst minpoll 1 maxpoll 1`,
    `ntstrustedcerts ${pki.ca}`,
    `ntsdumpdir ${dir}`,
    "port 0",
    "cmdport 0",
    `bindcmdaddress ${sock}`,
    `pidfile ${dir}/chronyd.pid`,
  ].join("\n");
  await Deno.writeTextFile(`${dir}/chrony.conf`, `${conf}\n`);
  const proc = new Proc(chronydCommand(peers.path("chronyd"), `${dir}/chrony.conf`));
  await proc.waitFor(/Disabled control of system clock/, 10_000);
  const chronyc = async (...cmd: string[]) => {
    const r = await runGuarded([peers.path("chronyc"), "-h", sock, ...cmd], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.output);
    return r.output;
  };
  return {
    proc,
    chronyc,
    async stop() {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Polls `fn` (bounded) until it returns non-null; throws with the last value otherwise. */
async function poll<T>(fn: () => Promise<T | null>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== null) return v;
    last = v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not reached in ${ms} ms (last ${String(last)})`);
}

/** Horae serving NTS (NTS-KE on `kePort`) with a test PKI, its status in status.json. */
interface NtsHorae {
  horae: RunningHorae;
  pki: TestPki;
  kePort: number;
}

/**
 * Runs `fn` with Horae serving NTS from a fresh test PKI (its `expired` certificate if asked),
 * once its NTS-KE server is up; stops it afterwards (asserting a clean exit when `cleanExit`).
 */
async function withNtsHorae(
  prefix: string,
  opts: { expired?: boolean; cleanExit?: boolean },
  fn: (h: NtsHorae) => Promise<void>,
): Promise<void> {
  const dir = await tempDir(prefix);
  try {
    const pki = await makeTestPki(dir);
    const kePort = freeTcpPort();
    const horae = await startHorae({
      conf: ntsServerConf(pki, kePort, {
        cookieFile: `${dir}/nts-cookies`,
        expired: opts.expired ?? false,
      }),
      args: ["--status-file", "status.json"],
    });
    try {
      await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
      await fn({ horae, pki, kePort });
    } finally {
      const st = await horae.stop();
      if (opts.cleanExit) assert.equal(st.code, 0, horae.proc.output.slice(-2000));
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test(
  "interop: chronyd 4.3 is an NTS client of Horae (authdata NTS with cookies, samples used)",
  { ignore: peers.ignore },
  async () => {
    await withNtsHorae("nts-srv-", { cleanExit: true }, async ({ horae, pki, kePort }) => {
      const chrony = await startNtsChronydClient(pki, horae.port, kePort);
      try {
        // chronyd selects Horae and has used several NTS-authenticated samples.
        const data = await poll(
          async () => {
            const out = await chrony.chronyc("-n", "ntpdata");
            const valid = Number(out.match(/Total valid RX\s*:\s*(\d+)/)?.[1] ?? 0);
            return /Authenticated\s*:\s*Yes/.test(out) && valid >= 4 ? out : null;
          },
          60_000,
          "chronyd ntpdata",
        );
        assert.match(data, /Mode\s*:\s*Server/);
        const sources = await poll(
          async () => {
            const out = await chrony.chronyc("-n", "sources");
            return /\^\*\s+127\.0\.0\.1/.test(out) ? out : null;
          },
          30_000,
          "chronyd selects Horae",
        );
        // LOCAL fudged to stratum 9: Horae serves stratum 10.
        assert.match(sources, /\^\*\s+127\.0\.0\.1\s+10\s/, sources);
        const auth = await chrony.chronyc("-N", "authdata");
        const row = auth.split("\n").find((l) => /^127\.0\.0\.1\s/.test(l));
        assert.ok(row, auth);
        // Name/IP address  Mode KeyID Type KLen Last Atmp  NAK Cook CLen
        const f = row.trim().split(/\s+/);
        assert.equal(f[1], "NTS", auth);
        assert.equal(f[3], "15", "AEAD_AES_SIV_CMAC_256");
        assert.equal(f[4], "256", "key length");
        assert.equal(f[7], "0", "no NAKs");
        assert.ok(Number(f[8]) >= 6, `cookies held: ${f[8]}`);
        assert.ok(Number(f[9]) >= 100, `cookie length: ${f[9]}`);
        const s: Json = await readJson(`${horae.dir}/status.json`);
        assert.ok(s.nts.server.served >= 1, JSON.stringify(s.nts));
        assert.equal(s.nts.server.tlsFailures, 0);
        assert.match(horae.proc.output, new RegExp(`NTS-KE server on TCP port ${kePort}`));
      } finally {
        await chrony.stop();
      }
    });
  },
);

Deno.test(
  "interop: Horae's NTS-KE reads a request written byte by byte and refuses a wrong AEAD, counted",
  { ignore: peers.ignore },
  async () => {
    await withNtsHorae("nts-raw-", {}, async ({ horae, pki, kePort }) => {
      const base = { host: "127.0.0.1", port: kePort, ca: pki.ca };
      const bytewise = await rawKeExchange({ ...base, aeadIds: [15], step: 1, pauseMs: 2 });
      assert.ok(bytewise.ok && bytewise.response.ok, JSON.stringify(bytewise));
      if (bytewise.ok && bytewise.response.ok) {
        assert.equal(bytewise.response.cookies.length, 8);
        assert.equal(bytewise.response.ntpPort, horae.port, "the NTP port is announced");
      }
      const wrong = await rawKeExchange({ ...base, aeadIds: [30, 2], step: 100 });
      assert.ok(wrong.ok && !wrong.response.ok && wrong.response.failure === "bad_aead");
      const s: Json = await waitForJson(
        `${horae.dir}/status.json`,
        (x: Json) => x.nts?.server?.noAead === 1 && x.nts.server.served === 1,
        10_000,
        horae.proc,
      );
      assert.equal(s.nts.server.malformed, 0);
    });
  },
);

Deno.test(
  "interop: chronyd refuses Horae's expired NTS certificate; Horae counts the failed handshakes",
  { ignore: peers.ignore },
  async () => {
    await withNtsHorae("nts-old-", { expired: true }, async ({ horae, pki, kePort }) => {
      const chrony = await startNtsChronydClient(pki, horae.port, kePort);
      try {
        const s: Json = await waitForJson(
          `${horae.dir}/status.json`,
          (x: Json) => (x.nts?.server?.tlsFailures ?? 0) >= 1,
          30_000,
          horae.proc,
        );
        assert.equal(s.nts.server.served, 0);
        const auth = await chrony.chronyc("-N", "authdata");
        const row = auth.split("\n").find((l) => /^127\.0\.0\.1\s/.test(l)) ?? "";
        assert.equal(row.trim().split(/\s+/)[8], "0", `no cookies: ${auth}`);
        const data = await chrony.chronyc("-n", "ntpdata");
        assert.doesNotMatch(data, /Total valid RX\s*:\s*[1-9]/);
      } finally {
        await chrony.stop();
      }
    });
  },
);

/** An NTS request for `cookie` under `c2s` (unique id `uid`), as bytes. */
function ntsRequest(c2s: AeadContext, cookie: Uint8Array, uid: Uint8Array): Uint8Array {
  const buf = new Uint8Array(512);
  buf[0] = 0x23; // version 4, mode 3
  const [sec, nsec] = realtime();
  const v = new DataView(buf.buffer);
  v.setUint32(40, (sec + UNIX_EPOCH_OFFSET_SEC) >>> 0);
  v.setUint32(44, Math.floor(nsec * 4.294967296) >>> 0);
  let at = writeField(buf, 48, EF_UNIQUE_ID, uid);
  at = writeField(buf, at, EF_COOKIE, cookie);
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  at = writeAuthenticator(buf, at, nonce, c2s.seal(nonce, new Uint8Array(0), buf.subarray(0, at)));
  return buf.slice(0, at);
}

Deno.test(
  "interop: Horae drops a replayed cookie and a tampered NTS request, NAKs a forged cookie, counted",
  { ignore: peers.ignore },
  async () => {
    await withNtsHorae("nts-tamper-", {}, async ({ horae, pki, kePort }) => {
      const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const to = { transport: "udp" as const, hostname: "127.0.0.1", port: horae.port };
      /** The next datagram within `ms`, or null. */
      const next = async (ms: number): Promise<Uint8Array | null> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
        const got = await Promise.race([sock.receive().then(([d]) => d), timeout]);
        clearTimeout(timer);
        return got;
      };
      try {
        const ke = new NtsKeClient({ caFile: pki.ca, timeoutSec: 5 });
        const r = await ke.exchange({ host: "127.0.0.1", port: kePort });
        ke.close();
        assert.ok(r.ok, r.ok ? "" : r.reason);
        if (!r.ok) return;
        const aead = new OpenSslCrypto();
        const c2s = aead.aeadContext("AEAD_AES_SIV_CMAC_256", r.result.c2sKey)!;
        const s2c = aead.aeadContext("AEAD_AES_SIV_CMAC_256", r.result.s2cKey)!;
        const uid = () => crypto.getRandomValues(new Uint8Array(32));

        // A good request is answered, and the answer verifies under S2C.
        const good = ntsRequest(c2s, r.result.cookies[0]!, uid());
        await sock.send(good, to);
        const reply = await next(5000);
        assert.ok(reply !== null, "no reply to a good NTS request");
        const f = readNtsFields(reply, false);
        assert.ok(f.ok);
        if (f.ok) {
          const plain = s2c.open(
            f.fields.nonce,
            f.fields.ciphertext,
            reply.subarray(0, f.fields.authStart),
          );
          assert.ok(plain !== null, "the reply's authenticator does not verify");
        }
        // The same datagram again: a replayed cookie, dropped.
        await sock.send(good, to);
        assert.equal(await next(1500), null, "a replayed cookie was answered");
        // One bit flipped in the authenticator: dropped.
        const tampered = ntsRequest(c2s, r.result.cookies[1]!, uid());
        tampered[tampered.length - 5]! ^= 0x01;
        await sock.send(tampered, to);
        assert.equal(await next(1500), null, "a tampered request was answered");
        // A cookie no key of this server made: an NTS NAK (stratum 0, kiss code NTSN).
        const forged = ntsRequest(c2s, crypto.getRandomValues(new Uint8Array(104)), uid());
        await sock.send(forged, to);
        const nak = await next(5000);
        assert.ok(nak !== null, "no NAK");
        assert.equal(nak[1], 0, "stratum 0");
        assert.equal(new TextDecoder().decode(nak.subarray(12, 16)), "NTSN");
        const s: Json = await waitForJson(
          `${horae.dir}/status.json`,
          (x: Json) =>
            x.sysstats?.drops?.nts_cookie_reuse >= 1 && x.sysstats.drops.nts_bad_auth >= 1 &&
            x.sysstats.drops.nts_bad_cookie >= 1,
          10_000,
          horae.proc,
        );
        assert.equal(s.sysstats.drops.nts_cookie_reuse, 1);
        assert.equal(s.sysstats.drops.nts_bad_auth, 1);
        assert.equal(s.sysstats.drops.nts_bad_cookie, 1);
      } finally {
        sock.close();
      }
    });
  },
);
