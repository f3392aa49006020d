// Shared by the symmetric-key interop tests: one key of each type written both as a Horae (ntpd)
// keys file and as a chrony keyfile, signed requests, a UDP exchange, and chronyd -Q with a key.

import { KeyStore, type SymmetricKey } from "../../lib/proto/auth/key_store.ts";
import { signPacket } from "../../lib/proto/auth/mac.ts";
import { PureCrypto } from "../../lib/proto/auth/pure_crypto.ts";
import type { MacAlgorithm } from "../../lib/proto/crypto.ts";
import { runGuarded } from "../support/peers.ts";

/** The four types, and the key id each gets (1–4). */
export const ALGORITHMS: MacAlgorithm[] = ["MD5", "SHA1", "SHA256", "AES128CMAC"];

/** chrony's names of the types. */
export const CHRONY_TYPE: Record<MacAlgorithm, string> = {
  MD5: "MD5",
  SHA1: "SHA1",
  SHA256: "SHA256",
  AES128CMAC: "AES128",
};

const KEY_BYTES: Record<MacAlgorithm, number> = { MD5: 20, SHA1: 20, SHA256: 32, AES128CMAC: 16 };

export const toHex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Random keys, id k+1 for ALGORITHMS[k], then `extra` more (ids 5…) of the given types. */
export function randomKeys(
  extra: { algorithm: MacAlgorithm; allowed?: string[] }[] = [],
): TestKey[] {
  const all: { algorithm: MacAlgorithm; allowed?: string[] }[] = [
    ...ALGORITHMS.map((algorithm) => ({ algorithm })),
    ...extra,
  ];
  return all.map((e, k) => ({
    id: k + 1,
    algorithm: e.algorithm,
    key: crypto.getRandomValues(new Uint8Array(KEY_BYTES[e.algorithm])),
    allowed: null,
    text: e.allowed ? e.allowed.join(",") : null,
  }));
}

/** A key as randomKeys() makes it: a SymmetricKey plus the keys file's fourth field as text. */
export interface TestKey extends SymmetricKey {
  /** The keys file's fourth field (the test's own store ignores it), or null. */
  text: string | null;
}

/** The same keys with every byte changed: right ids and types, wrong secrets. */
export function wrongKeys<T extends { key: Uint8Array }>(keys: T[]): T[] {
  return keys.map((k) => ({ ...k, key: k.key.map((b) => b ^ 0x5a) }));
}

/** Writes an ntpd-format keys file (hex keys, the fourth field when given), mode 0600. */
export async function writeNtpKeys(path: string, keys: TestKey[]): Promise<void> {
  const lines = keys.map((k) =>
    `${k.id} ${k.algorithm} ${toHex(k.key)}${k.text !== null ? ` ${k.text}` : ""}`
  );
  await Deno.writeTextFile(path, `# test keys\n${lines.join("\n")}\n`, { mode: 0o600 });
}

/** Writes a chrony keyfile (hex), mode 0600. */
export async function writeChronyKeys(path: string, keys: TestKey[]): Promise<void> {
  const lines = keys.map((k) => `${k.id} ${CHRONY_TYPE[k.algorithm]} HEX:${toHex(k.key)}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n", { mode: 0o600 });
}

/** A key store over `keys` with every key trusted (PureCrypto: the reference, not the daemon's). */
export function storeOf(keys: SymmetricKey[]): KeyStore {
  return new KeyStore(new PureCrypto(), keys, keys.map((k) => k.id));
}

/** A client request of `version`, random transmit timestamp, signed with key `keyId`. */
export function signedRequest(
  store: KeyStore,
  keyId: number,
  version = 4,
  digestLength?: number,
): Uint8Array {
  const key = store.get(keyId)!;
  const d = digestLength ?? Math.min(key.outputLength, 20);
  const buf = new Uint8Array(48 + 4 + d);
  buf[0] = (version << 3) | 3;
  buf[2] = 6;
  buf[3] = 0xec;
  crypto.getRandomValues(buf.subarray(40, 48));
  return buf.subarray(0, signPacket(buf, 48, key, d));
}

/** Sends `req` to host:port from a new socket; the first datagram back within `ms`, or null. */
export async function exchange(
  port: number,
  req: Uint8Array,
  ms = 2000,
  host = "127.0.0.1",
): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 });
  const timer = setTimeout(() => sock.close(), ms);
  try {
    await sock.send(req, { transport: "udp", hostname: host, port });
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

/** chronyd -Q against host:port with key `keyId` from `keyfile`: the offset it measured, or null. */
export async function chronydQueryWithKey(
  chronyd: string,
  dir: string,
  keyfile: string,
  port: number,
  keyId: number,
  timeoutSec: number,
  host = "127.0.0.1",
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
    `server ${host} port ${port} iburst maxsamples 3 key ${keyId}`,
    `keyfile ${keyfile}`,
    "cmdport 0",
    "bindcmdaddress /",
    `pidfile ${dir}/q-${port}-${keyId}-${crypto.randomUUID()}.pid`,
  ], { timeoutMs: (timeoutSec + 10) * 1000 });
  const m = r.output.match(/System clock wrong by (-?[\d.]+) seconds/);
  return { offsetSec: m ? Number(m[1]) : null, output: r.output };
}
