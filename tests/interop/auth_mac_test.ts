// Symmetric-key MACs against chronyd 4.3 on loopback, for MD5, SHA1, SHA256 and AES128CMAC, with
// keys made by `horae keygen` and read back by the keys file loader:
// - chronyd as a client (`server ... key N`) talks to a scripted responder that verifies its
//   requests with Horae's MacVerifier and signs the replies with signPacket: chronyd accepting
//   the replies (it prints the offset it measured) proves Horae's MACs; a wrong key on either
//   side leaves chronyd with nothing usable.
// - chronyd as a server (`keyfile`) answers requests signed by signPacket, and its signed
//   replies verify; a reply signed with another key than Horae's is refused.
// The daemon's packet path is not involved yet: this checks the MAC layer and the keys files.

import assert from "node:assert/strict";
import { NodeCrypto } from "../../lib/daemon/crypto_node.ts";
import { loadKeysFile } from "../../lib/config/keys_file.ts";
import { runKeygen } from "../../lib/cli/keygen.ts";
import { KeyStore, type SymmetricKey } from "../../lib/proto/auth/key_store.ts";
import { macKeyId, MacVerifier, signPacket, writeCryptoNak } from "../../lib/proto/auth/mac.ts";
import type { MacAlgorithm } from "../../lib/proto/crypto.ts";
import { fromUnix, toTimestamp } from "../../lib/proto/ntp_time.ts";
import {
  freeUdpPort,
  needPeers,
  runGuarded,
  startChronydServer,
  tempDir,
} from "../support/peers.ts";

const peer = await needPeers("chronyd authenticates with symmetric keys", {
  programs: ["chronyd"],
});

/** chrony's names of the types. */
const CHRONY_TYPE: Record<MacAlgorithm, string> = {
  MD5: "MD5",
  SHA1: "SHA1",
  SHA256: "SHA256",
  AES128CMAC: "AES128",
};
const ALGORITHMS: MacAlgorithm[] = ["MD5", "SHA1", "SHA256", "AES128CMAC"];

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Keys from `horae keygen --type MD5,SHA1,SHA256,AES128CMAC --count 2`, loaded back. */
async function makeKeys(dir: string): Promise<SymmetricKey[]> {
  const out: string[] = [];
  const code = await runKeygen(["--type", ALGORITHMS.join(","), "--count", "2", "-s", "test"], {
    io: {
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      readStdin: () => Promise.resolve(new Uint8Array(0)),
      writeFile: () => Promise.reject(new Error("unused")),
    },
    cwd: dir,
    now: new Date(),
    hostname: "test",
    random: (b) => crypto.getRandomValues(b),
  });
  assert.equal(code, 0, out.join(""));
  const loaded = await loadKeysFile(`${dir}/ntp.keys`);
  assert.deepEqual(loaded.warnings, []);
  return loaded.keys;
}

/** The same keys with every byte changed: right ids, wrong secrets. */
function wrongKeys(keys: SymmetricKey[]): SymmetricKey[] {
  return keys.map((k) => ({ ...k, key: k.key.map((b) => b ^ 0x5a) }));
}

/** Writes `keys` as a chrony keyfile (hex, so every key reads the same in both programs). */
async function chronyKeyfile(path: string, keys: SymmetricKey[]): Promise<void> {
  const lines = keys.map((k) => `${k.id} ${CHRONY_TYPE[k.algorithm]} HEX:${toHex(k.key)}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n", { mode: 0o600 });
}

function firstKeyOf(keys: SymmetricKey[], alg: MacAlgorithm): SymmetricKey {
  return keys.find((k) => k.algorithm === alg)!;
}

/** Writes a server reply to `request` (48-byte header) into `buf`, time from the system clock. */
function writeReply(buf: Uint8Array, request: Uint8Array): void {
  const view = new DataView(buf.buffer, buf.byteOffset, 48);
  const now = Date.now();
  const ntp = (ms: number) => toTimestamp(fromUnix(Math.floor(ms / 1000), (ms % 1000) * 1e6));
  buf[0] = (request[0]! & 0x38) | 4; // leap 0, the request's version, mode 4
  buf[1] = 2;
  buf[2] = request[2]!;
  buf[3] = 0xec; // precision 2^-20
  view.setUint32(4, 0x10, false);
  view.setUint32(8, 0x100, false);
  view.setUint32(12, 0x7f000001, false);
  view.setBigUint64(16, ntp(now - 1000), false);
  buf.set(request.subarray(40, 48), 24);
  view.setBigUint64(32, ntp(now), false);
  view.setBigUint64(40, ntp(now), false);
}

/**
 * A responder: verifies each request's MAC with `verifyWith`, answers a good one signed with
 * `signWith` (same digest length as the request) and a bad one with a crypto-NAK. Counts verdicts.
 */
function startResponder(port: number, verifyWith: KeyStore, signWith: KeyStore) {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
  const verifier = new MacVerifier(verifyWith);
  const verdicts: string[] = [];
  const done = (async () => {
    const buf = new Uint8Array(128);
    try {
      for (;;) {
        const [req, from] = await sock.receive();
        if (req.length < 52) continue;
        const verdict = verifier.verify(req, req.length, 48, null);
        verdicts.push(verdict);
        writeReply(buf, req);
        const length = verdict === "ok"
          ? signPacket(buf, 48, signWith.get(macKeyId(req, 48))!, req.length - 52)
          : writeCryptoNak(buf, 48);
        await sock.send(buf.subarray(0, length), from);
      }
    } catch { /* closed */ }
  })();
  return {
    verdicts,
    async stop() {
      sock.close();
      await done;
    },
  };
}

/** chronyd -Q against 127.0.0.1:port with key `keyId`: the offset it measured, or null. */
async function chronydQuery(
  chronyd: string,
  dir: string,
  keyfile: string,
  port: number,
  keyId: number,
  timeoutSec: number,
): Promise<{ offsetSec: number | null; output: string }> {
  const r = await runGuarded([
    chronyd,
    "-Q",
    "-t",
    String(timeoutSec),
    "-u",
    "root",
    "-f",
    "/dev/null",
    `server 127.0.0.1 port ${port} iburst maxsamples 3 key ${keyId}`,
    `keyfile ${keyfile}`,
    "cmdport 0",
    "bindcmdaddress /",
    `pidfile ${dir}/q-${port}.pid`,
  ], { timeoutMs: (timeoutSec + 10) * 1000 });
  const m = r.output.match(/System clock wrong by (-?[\d.]+) seconds/);
  return { offsetSec: m ? Number(m[1]) : null, output: r.output };
}

Deno.test(
  "interop: chronyd as a client accepts replies signed by Horae (MD5, SHA1, SHA256, AES128CMAC), and nothing with a wrong key",
  {
    ignore: peer.ignore,
  },
  async () => {
    const chronyd = peer.path("chronyd");
    const dir = await tempDir("auth-client-");
    try {
      const keys = await makeKeys(dir);
      const ids = keys.map((k) => k.id);
      const nodeCrypto = new NodeCrypto();
      const right = new KeyStore(nodeCrypto, keys, ids);
      const wrong = new KeyStore(nodeCrypto, wrongKeys(keys), ids);
      await chronyKeyfile(`${dir}/chrony.keys`, keys);

      const runs = [
        ...ALGORITHMS.map((alg) => ({ alg, verify: right, sign: right, good: true })),
        // chronyd signs with a key Horae does not share: crypto-NAKs, no time.
        { alg: "MD5" as const, verify: wrong, sign: wrong, good: false },
        // Horae signs its replies with another key than chronyd's: chronyd refuses them.
        { alg: "AES128CMAC" as const, verify: right, sign: wrong, good: false },
      ];
      const results = await Promise.all(runs.map(async (run) => {
        const port = freeUdpPort();
        const responder = startResponder(port, run.verify, run.sign);
        try {
          const keyId = firstKeyOf(keys, run.alg).id;
          const r = await chronydQuery(
            chronyd,
            dir,
            `${dir}/chrony.keys`,
            port,
            keyId,
            run.good ? 25 : 8,
          );
          return { run, r, verdicts: responder.verdicts };
        } finally {
          await responder.stop();
        }
      }));
      for (const { run, r, verdicts } of results) {
        const what = `${run.alg} (${run.good ? "same key" : "wrong key"})`;
        assert.ok(verdicts.length > 0, `${what}: chronyd sent nothing\n${r.output}`);
        if (run.good) {
          assert.ok(verdicts.every((v) => v === "ok"), `${what}: ${verdicts}`);
          assert.notEqual(r.offsetSec, null, `${what}: chronyd refused Horae's MACs\n${r.output}`);
          assert.ok(Math.abs(r.offsetSec!) < 0.1, `${what}: offset ${r.offsetSec}`);
        } else {
          assert.equal(r.offsetSec, null, `${what}: chronyd used a reply it should refuse`);
          const want = run.verify === right ? "ok" : "bad_mac";
          assert.ok(verdicts.every((v) => v === want), `${what}: ${verdicts}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

/** Sends `req` to 127.0.0.1:port and returns the first datagram back within `ms`, or null. */
async function exchange(port: number, req: Uint8Array, ms = 2000): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const timer = setTimeout(() => sock.close(), ms);
  try {
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    const [data] = await sock.receive();
    return data;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    try {
      sock.close();
    } catch { /* closed by the timer */ }
  }
}

/** A client request of `version` with a random transmit timestamp, signed with `key`. */
function signedRequest(store: KeyStore, keyId: number, version: number, digestLength: number) {
  const buf = new Uint8Array(48 + 4 + digestLength);
  buf[0] = (version << 3) | 3;
  buf[2] = 6;
  buf[3] = 0xec;
  crypto.getRandomValues(buf.subarray(40, 48));
  const length = signPacket(buf, 48, store.get(keyId)!, digestLength);
  return buf.subarray(0, length);
}

Deno.test(
  "interop: Horae's signed requests get signed replies from a chronyd server, and a reply under another key is refused",
  {
    ignore: peer.ignore,
  },
  async () => {
    const chronyd = peer.path("chronyd");
    const dir = await tempDir("auth-server-");
    const port = freeUdpPort();
    let server: Awaited<ReturnType<typeof startChronydServer>> | null = null;
    try {
      const keys = await makeKeys(dir);
      const ids = keys.map((k) => k.id);
      const nodeCrypto = new NodeCrypto();
      const mine = new KeyStore(nodeCrypto, keys, ids);
      const other = new KeyStore(nodeCrypto, wrongKeys(keys), ids);
      await chronyKeyfile(`${dir}/chrony.keys`, keys);
      server = await startChronydServer(chronyd, { port, extra: [`keyfile ${dir}/chrony.keys`] });
      const verifier = new MacVerifier(mine);

      const cases: { alg: MacAlgorithm; version: number; digest: number }[] = [
        { alg: "MD5", version: 4, digest: 16 },
        { alg: "SHA1", version: 4, digest: 20 },
        { alg: "SHA256", version: 4, digest: 20 },
        { alg: "SHA256", version: 3, digest: 32 },
        { alg: "AES128CMAC", version: 4, digest: 16 },
      ];
      for (const c of cases) {
        const keyId = firstKeyOf(keys, c.alg).id;
        const what = `${c.alg} NTPv${c.version}`;
        const req = signedRequest(mine, keyId, c.version, c.digest);
        const reply = await exchange(port, req);
        assert.ok(reply !== null, `${what}: chronyd did not answer`);
        assert.equal(reply.length, 48 + 4 + c.digest, `${what}: reply length`);
        assert.equal(reply[0]! & 7, 4);
        assert.deepEqual(reply.subarray(24, 32), req.subarray(40, 48), `${what}: origin`);
        assert.equal(verifier.verify(reply, reply.length, 48, null), "ok", what);
        assert.equal(verifier.lastKeyId, keyId);
        // Changed in flight: refused.
        const forged = reply.slice();
        forged[41] = forged[41]! ^ 1;
        assert.equal(verifier.verify(forged, forged.length, 48, null), "bad_mac", `${what} forged`);
      }

      // chronyd signs with its key, which is not the one Horae holds for that id.
      const keyId = firstKeyOf(keys, "SHA1").id;
      const reply = await exchange(port, signedRequest(mine, keyId, 4, 20));
      assert.ok(reply !== null);
      assert.equal(new MacVerifier(other).verify(reply, reply.length, 48, null), "bad_mac");

      // A request under a key chronyd does not share: chronyd 4.3 does not answer at all (it sends
      // no crypto-NAK for a symmetric key).
      const bad = await exchange(port, signedRequest(other, keyId, 4, 20), 1500);
      assert.equal(bad, null, "chronyd answered a request with a bad MAC");
    } finally {
      await server?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
