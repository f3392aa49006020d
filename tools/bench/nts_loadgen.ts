// NTS server throughput load generator (RFC 8915): one NTS-KE exchange per client socket (the
// project's KE client), then NTS-protected mode 3 requests over FFI sendmmsg/recvmmsg with a
// bounded window. Every request carries a fresh cookie, a unique identifier and an authenticator
// under the C2S key; a reply counts only when its unique identifier is one in flight, its origin
// matches and its authenticator opens under the S2C key; the cookie inside goes back to the
// pool, so cookies are never reused (Horae drops reused cookies; chronyd does not check). While a
// socket's pool is below its window, requests carry placeholders to grow it.
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { realtime } from "../../ffi/libc.ts";
import {
  closeSocket,
  encodeSockaddrIn,
  MmsgBatch,
  MSG_DONTWAIT,
  MSG_TRUNC,
  openUdpSocket,
  POLLFD_BYTES,
  POLLIN,
  receiveBatch,
  sendBatch,
  setSocketOption,
  SO_RCVBUF,
  SO_SNDBUF,
  SocketErrno,
  socketLib,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { UNIX_EPOCH_OFFSET_SEC } from "../../lib/proto/ntp_time.ts";
import { OpenSslCrypto } from "../../lib/daemon/crypto_openssl.ts";
import type { AeadContext } from "../../lib/proto/crypto.ts";
import { NtsKeClient } from "../../lib/daemon/nts_ke_client.ts";
import {
  EF_COOKIE,
  EF_COOKIE_PLACEHOLDER,
  EF_UNIQUE_ID,
  readEncryptedCookies,
  readNtsFields,
  UNIQUE_ID_LEN,
  writeAuthenticator,
  writeField,
} from "../../lib/proto/nts/extension_fields.ts";
import { readCpuSec } from "./loadgen.ts";

const BATCH = 64;
const SEQ_SPACE = 65536;
const SEQ_MASK = SEQ_SPACE - 1;
const BUFFER_BYTES = 1280;
/** Placeholders a refill request carries (its reply brings 8 cookies). */
const REFILL_PLACEHOLDERS = 7;

/** Options of one NTS load run. */
export interface NtsLoadOptions {
  port: number;
  kePort: number;
  /** CA file for the KE servers' certificates. */
  ca: string;
  /** The KE server name (SNI and certificate check). */
  host?: string;
  sockets?: number;
  window?: number;
  warmupSec?: number;
  durationSec?: number;
  timeoutMs?: number;
  maxRequests?: number;
}

/** The outcome of one run. */
export interface NtsLoadResult {
  repliesPerSec: number;
  requestsPerSec: number;
  measuredSec: number;
  sent: number;
  valid: number;
  /** Replies refused, by reason. */
  invalid: Record<string, number>;
  lost: number;
  /** Requests that carried placeholders (pool refills), over the whole run and measured. */
  refills: number;
  refillsInWindow: number;
  /** Requests not sent for want of a cookie. */
  starved: number;
  window: number;
  sockets: number;
  generatorCores: number;
  /** NTS-KE exchanges at start, and the time they took. */
  keExchanges: number;
  keMs: number;
}

const FREE = 0;
const OUTSTANDING = 1;

function ntpNow(): [number, number] {
  const [sec, nsec] = realtime();
  return [(sec + UNIX_EPOCH_OFFSET_SEC) >>> 0, Math.floor(nsec * 4.294967296) >>> 0];
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** One client socket with its NTS keys, cookie pool and requests in flight. */
class NtsSocket {
  readonly fd: number;
  readonly batch = new MmsgBatch({ count: BATCH, bufferBytes: BUFFER_BYTES, controlBytes: 0 });
  readonly c2s: AeadContext;
  readonly s2c: AeadContext;
  readonly cookies: Uint8Array[];
  readonly state = new Uint8Array(SEQ_SPACE);
  readonly txLo = new Uint32Array(SEQ_SPACE);
  readonly sentAtMs = new Float64Array(SEQ_SPACE);
  /** Bytes 4..31 of every unique identifier of this socket (bytes 0..3: the sequence). */
  readonly uidTail = crypto.getRandomValues(new Uint8Array(UNIQUE_ID_LEN - 4));
  readonly noncePrefix = crypto.getRandomValues(new Uint8Array(12));
  next = 0;
  head = 0;
  outstanding = 0;

  constructor(
    readonly index: number,
    readonly dest: Uint8Array,
    c2s: AeadContext,
    s2c: AeadContext,
    cookies: Uint8Array[],
  ) {
    this.fd = openUdpSocket(4);
    setSocketOption(this.fd, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024);
    setSocketOption(this.fd, SOL_SOCKET, SO_SNDBUF, 4 * 1024 * 1024);
    this.c2s = c2s;
    this.s2c = s2c;
    this.cookies = cookies;
  }
}

/** Runs NTS load against a server (NTS-KE first); bounded in time and in requests. */
export async function runNtsLoad(o: NtsLoadOptions): Promise<NtsLoadResult> {
  const nSockets = Math.max(1, Math.min(16, Math.floor(o.sockets ?? 4)));
  const window = Math.max(nSockets, Math.floor(o.window ?? 128));
  const perSocket = Math.max(1, Math.floor(window / nSockets));
  const warmupMs = (o.warmupSec ?? 2) * 1000;
  const durationMs = (o.durationSec ?? 5) * 1000;
  const timeoutMs = o.timeoutMs ?? 200;
  const maxRequests = o.maxRequests ?? 20_000_000;
  const dest = new Uint8Array(new ArrayBuffer(16));
  encodeSockaddrIn(dest, [127, 0, 0, 1], o.port);
  const aead = new OpenSslCrypto();
  const ke = new NtsKeClient({ caFile: o.ca, timeoutSec: 10 });
  const sockets: NtsSocket[] = [];
  const keStart = performance.now();
  try {
    for (let k = 0; k < nSockets; k++) {
      const r = await ke.exchange({
        host: o.host ?? "localhost",
        address: "127.0.0.1",
        port: o.kePort,
      });
      if (!r.ok) throw new Error(r.reason);
      const c2s = aead.aeadContext("AEAD_AES_SIV_CMAC_256", r.result.c2sKey);
      const s2c = aead.aeadContext("AEAD_AES_SIV_CMAC_256", r.result.s2cKey);
      if (c2s === null || s2c === null) throw new Error("no AES-SIV in libcrypto");
      sockets.push(new NtsSocket(k, dest, c2s, s2c, [...r.result.cookies]));
    }
  } finally {
    ke.close();
  }
  const keMs = performance.now() - keStart;
  const pollBytes = new Uint8Array(new ArrayBuffer(nSockets * POLLFD_BYTES));
  const pollView = new DataView(pollBytes.buffer);
  sockets.forEach((s, k) => {
    pollView.setInt32(k * POLLFD_BYTES, s.fd, true);
    pollView.setInt16(k * POLLFD_BYTES + 4, POLLIN, true);
  });
  try {
    return { ...drive(), keExchanges: nSockets, keMs: Math.round(keMs) };
  } finally {
    for (const s of sockets) closeSocket(s.fd);
  }

  function drive(): Omit<NtsLoadResult, "keExchanges" | "keMs"> {
    const lib = socketLib();
    const invalid: Record<string, number> = {};
    const bad = (r: string) => void (invalid[r] = (invalid[r] ?? 0) + 1);
    let sent = 0, valid = 0, lost = 0, refills = 0, starved = 0;
    let sentAt0 = 0, validAt0 = 0, refillsAt0 = 0, sentIn = 0, validIn = 0, refillsIn = 0;
    const cpu0 = readCpuSec("self");
    const start = performance.now();
    const measureAt = start + warmupMs, endAt = measureAt + durationMs;
    let measuring = false, m0 = measureAt, m1 = endAt, now = start, lastExpire = start;
    const nonce = new Uint8Array(16);
    const empty = new Uint8Array(0);

    const send = (s: NtsSocket, want: number) => {
      const k = Math.min(want, BATCH, maxRequests - sent);
      if (k <= 0) return;
      const [hi, lo] = ntpNow();
      const b = s.batch;
      let n = 0;
      for (; n < k; n++) {
        const cookie = s.cookies.pop();
        if (cookie === undefined) {
          starved++;
          break;
        }
        if (s.next - s.head >= SEQ_SPACE) break;
        const seq = s.next & SEQ_MASK;
        const buf = b.txBuffer(n);
        buf.fill(0, 0, 48);
        buf[0] = 0x23; // LI 0, version 4, mode 3
        buf[2] = 6;
        buf[3] = 0xec;
        const txLo = ((lo & ~0xfffff) | (s.index << 16) | seq) >>> 0;
        const dv = b.view, off = b.txBufferOffset(n);
        dv.setUint32(off + 40, hi, false);
        dv.setUint32(off + 44, txLo, false);
        // Unique identifier: the sequence, then this socket's random tail.
        const uid = buf.subarray(52, 52 + UNIQUE_ID_LEN);
        let at = writeField(buf, 48, EF_UNIQUE_ID, null, UNIQUE_ID_LEN);
        uid[0] = seq >>> 8;
        uid[1] = seq & 0xff;
        uid[2] = s.index;
        uid[3] = 0;
        uid.set(s.uidTail, 4);
        at = writeField(buf, at, EF_COOKIE, cookie);
        const refill = s.cookies.length + s.outstanding < perSocket + 8;
        if (refill) {
          for (let p = 0; p < REFILL_PLACEHOLDERS; p++) {
            at = writeField(buf, at, EF_COOKIE_PLACEHOLDER, null, cookie.length);
          }
          refills++;
        }
        nonce.set(s.noncePrefix);
        nonce[12] = s.index;
        nonce[13] = (s.next >>> 16) & 0xff;
        nonce[14] = (s.next >>> 8) & 0xff;
        nonce[15] = s.next & 0xff;
        const sealed = s.c2s.seal(nonce, empty, buf.subarray(0, at));
        at = writeAuthenticator(buf, at, nonce, sealed);
        b.setTx(n, n, at, s.dest);
        s.txLo[seq] = txLo;
        s.state[seq] = OUTSTANDING;
        s.sentAtMs[seq] = now;
        s.next++;
      }
      if (n === 0) return;
      const r = sendBatch(s.fd, b, 0, n);
      const done = r > 0 ? r : 0;
      for (let j = n - 1; j >= done; j--) {
        s.next--;
        s.state[s.next & SEQ_MASK] = FREE;
        lost++; // its cookie is gone with it
      }
      if (r < 0 && r !== -SocketErrno.EAGAIN && r !== -SocketErrno.ENOBUFS) {
        throw new Error(`sendmmsg failed: errno ${-r}`);
      }
      s.outstanding += done;
      sent += done;
    };

    const expire = (s: NtsSocket, olderThan: number) => {
      while (s.head < s.next) {
        const slot = s.head & SEQ_MASK;
        if (s.state[slot] === OUTSTANDING) {
          if (s.sentAtMs[slot]! >= olderThan) return;
          s.state[slot] = FREE;
          s.outstanding--;
          lost++;
        }
        s.head++;
      }
    };

    const receive = (s: NtsSocket): number => {
      const b = s.batch;
      const n = receiveBatch(s.fd, b, BATCH, MSG_DONTWAIT);
      if (n <= 0) return 0;
      for (let i = 0; i < n; i++) {
        if ((b.rxFlags(i) & MSG_TRUNC) !== 0) {
          bad("truncated");
          continue;
        }
        const data = b.rxBuffer(i).subarray(0, b.rxLength(i));
        if (data.length < 48 || (data[0]! & 7) !== 4 || (data[0]! >>> 6) === 3) {
          bad(data.length >= 48 && data[1] === 0 ? "nak" : "header");
          continue;
        }
        const f = readNtsFields(data, false);
        if (!f.ok) {
          bad(f.reason);
          continue;
        }
        const uid = f.fields.uniqueId;
        const seq = (uid[0]! << 8) | uid[1]!;
        if (uid[2] !== s.index || s.state[seq] !== OUTSTANDING || u32(data, 28) !== s.txLo[seq]) {
          bad("unexpected");
          continue;
        }
        const plain = s.s2c.open(
          f.fields.nonce,
          f.fields.ciphertext,
          data.subarray(0, f.fields.authStart),
        );
        if (plain === null) {
          bad("auth");
          continue;
        }
        const cookies = readEncryptedCookies(plain);
        if (cookies === null || cookies.length === 0) {
          bad("no_cookie");
          continue;
        }
        for (const c of cookies) s.cookies.push(c);
        s.state[seq] = FREE;
        s.outstanding--;
        valid++;
      }
      b.resetReceive(n);
      return n;
    };

    for (const s of sockets) send(s, perSocket);
    while (true) {
      now = performance.now();
      if (!measuring && now >= measureAt) {
        measuring = true;
        m0 = now;
        sentAt0 = sent;
        validAt0 = valid;
        refillsAt0 = refills;
      }
      if (now >= endAt) {
        m1 = now;
        sentIn = sent - sentAt0;
        validIn = valid - validAt0;
        refillsIn = refills - refillsAt0;
        break;
      }
      let got = 0;
      for (const s of sockets) {
        got += receive(s);
        const free = perSocket - s.outstanding;
        if (free > 0) send(s, free);
      }
      if (now - lastExpire >= 10) {
        lastExpire = now;
        for (const s of sockets) expire(s, now - timeoutMs);
      }
      if (got === 0) lib.poll_now(pollBytes, BigInt(nSockets), 1);
    }
    const cpu1 = readCpuSec("self");
    const measuredSec = (m1 - m0) / 1000;
    const totalSec = (performance.now() - start) / 1000;
    return {
      repliesPerSec: validIn / measuredSec,
      requestsPerSec: sentIn / measuredSec,
      measuredSec,
      sent,
      valid,
      invalid,
      lost,
      refills,
      refillsInWindow: refillsIn,
      starved,
      window: perSocket * nSockets,
      sockets: nSockets,
      generatorCores: cpu0 === null || cpu1 === null ? 0 : (cpu1 - cpu0) / totalSec,
    };
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      "ke-port": { type: "string" },
      ca: { type: "string" },
      host: { type: "string", default: "localhost" },
      sockets: { type: "string", default: "4" },
      window: { type: "string", default: "128" },
      warmup: { type: "string", default: "2" },
      duration: { type: "string", default: "5" },
      json: { type: "boolean", default: false },
    },
  });
  if (values.port === undefined || values["ke-port"] === undefined || values.ca === undefined) {
    console.error(
      "usage: nts_loadgen.ts --port N --ke-port N --ca FILE [--sockets N] [--window N]",
    );
    Deno.exit(2);
  }
  const r = await runNtsLoad({
    port: Number(values.port),
    kePort: Number(values["ke-port"]),
    ca: values.ca,
    host: values.host,
    sockets: Number(values.sockets),
    window: Number(values.window),
    warmupSec: Number(values.warmup),
    durationSec: Number(values.duration),
  });
  console.log(values.json ? JSON.stringify(r) : r);
}
