// Horae as an NTS server (RFC 8915) on loopback: its NTS-KE server (TLS 1.3 through OpenSSL,
// certificate from a test CA made by the openssl CLI) and NTS-protected NTP, against chronyd 4.3
// as an NTS client (-x: never steers the clock; everything runs without CAP_SYS_TIME):
// `chronyc -N authdata` shows NTS with cookies and chronyd uses the samples. Against the running
// daemon, a raw client: a request written one byte per TLS record and TCP write gets its 8
// cookies, a wrong AEAD is refused, both counted; a server with an expired certificate is refused
// by chronyd and the failed handshakes counted.

import assert from "node:assert/strict";
import {
  needPeers,
  NO_SYS_TIME,
  Proc,
  readJson,
  runGuarded,
  startHorae,
  tempDir,
  waitForJson,
} from "../support/peers.ts";
import { makeTestPki, type TestPki } from "../support/nts_pki.ts";
import { rawKeExchange } from "./_nts_ke_raw.ts";

const peers = await needPeers("chronyd as an NTS client of horae", {
  programs: ["chronyd", "chronyc", "openssl", "faketime"],
});

// deno-lint-ignore no-explicit-any
type Json = any;

const LOCAL = "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n";

/** A free TCP port on 127.0.0.1. */
function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function ntsConf(pki: TestPki, dir: string, kePort: number, expired = false): string {
  return LOCAL + [
    "nts enable",
    `nts cert ${expired ? pki.expiredCert : pki.cert}`,
    `nts key ${expired ? pki.expiredKey : pki.key}`,
    `nts cookie ${dir}/nts-cookies`,
    `nts port ${kePort}`,
  ].join("\n") + "\n";
}

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
  const proc = new Proc([
    ...NO_SYS_TIME,
    peers.path("chronyd"),
    "-x",
    "-d",
    "-u",
    "root",
    "-f",
    `${dir}/chrony.conf`,
  ]);
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

Deno.test(
  "interop: chronyd 4.3 is an NTS client of Horae (authdata NTS with cookies, samples used)",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-srv-");
    try {
      const pki = await makeTestPki(dir);
      const kePort = freeTcpPort();
      const horae = await startHorae({
        conf: ntsConf(pki, dir, kePort),
        args: ["--status-file", "status.json"],
      });
      await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
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
        const st = await horae.stop();
        assert.equal(st.code, 0, horae.proc.output.slice(-2000));
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "interop: Horae's NTS-KE reads a request written byte by byte and refuses a wrong AEAD, counted",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-raw-");
    try {
      const pki = await makeTestPki(dir);
      const kePort = freeTcpPort();
      const horae = await startHorae({
        conf: ntsConf(pki, dir, kePort),
        args: ["--status-file", "status.json"],
      });
      await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
      try {
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
      } finally {
        await horae.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "interop: chronyd refuses Horae's expired NTS certificate; Horae counts the failed handshakes",
  { ignore: peers.ignore },
  async () => {
    const dir = await tempDir("nts-old-");
    try {
      const pki = await makeTestPki(dir);
      const kePort = freeTcpPort();
      const horae = await startHorae({
        conf: ntsConf(pki, dir, kePort, true),
        args: ["--status-file", "status.json"],
      });
      await horae.proc.waitFor(/NTS-KE server on TCP port/, 10_000);
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
        await horae.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
