// Server throughput load generator: valid mode 3 requests over FFI sendmmsg/recvmmsg with a
// bounded window of outstanding requests, every reply checked (RFC 5905 §7.3, §8 origin check).
// With `--key ID:TYPE:HEX` every request is signed with that symmetric key after its transmit
// timestamp is written, and a reply counts only when it carries a MAC with the same key that
// verifies (RFC 8573).
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
  PollSet,
  receiveBatch,
  sendBatch,
  setSocketOption,
  SO_RCVBUF,
  SO_SNDBUF,
  SocketErrno,
  socketLib,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { decodePacket } from "../../lib/proto/packet.ts";
import { UNIX_EPOCH_OFFSET_SEC } from "../../lib/proto/ntp_time.ts";
import { OpenSslCrypto } from "../../lib/daemon/crypto_openssl.ts";
import { keyTypeFromText } from "../../lib/config/keys_file.ts";
import {
  constantTimeEqual,
  MAC_OUTPUT_LEN,
  type MacAlgorithm,
  type MacContext,
} from "../../lib/proto/crypto.ts";

/** Most sockets a generator opens (the socket index lives in 4 bits of each transmit stamp). */
export const MAX_SOCKETS = 16;
/** Requests per sendmmsg/recvmmsg call. */
const BATCH = 64;
/** Per-socket sequence space (the low 16 bits of each transmit stamp). */
const SEQ_SPACE = 65536;
const SEQ_MASK = SEQ_SPACE - 1;
/** The low 20 bits of the transmit fraction carry socket index and sequence (≈244 µs). */
const TAG_MASK = 0xfffff;
/** How far a reply's timestamps may sit outside the expected order (the tag shifts ours). */
const TOLERANCE_SEC = 0.002;

const FREE = 0;
const OUTSTANDING = 1;
const ANSWERED = 2;
const LOST = 3;

/** Options of one load run. */
export interface LoadOptions {
  /** Server IPv4 address bytes (default 127.0.0.1). */
  address?: readonly [number, number, number, number];
  /** Server UDP port. */
  port: number;
  /** Client sockets, 1–16 (several source ports spread load over SO_REUSEPORT workers). */
  sockets?: number;
  /** Outstanding requests in total, shared evenly between sockets (default 256). */
  window?: number;
  /** Seconds of load before measuring (default 1). */
  warmupSec?: number;
  /** Seconds measured (default 5). */
  durationSec?: number;
  /** A request unanswered for this long is lost and frees its window slot (default 200 ms). */
  timeoutMs?: number;
  /** Hard cap on requests sent (default 50 million). */
  maxRequests?: number;
  /** Sample this process's VmRSS just before the measured window ends. */
  rssPid?: number;
  /** Send SIGUSR2 to this process when measuring starts and again when it ends. */
  signalPid?: number;
  /** Stratum a valid reply must carry (default: any of 1–15). */
  expectStratum?: number;
  /** Sign requests with this key and require replies signed with it. */
  key?: LoadKey;
}

/** A symmetric key for authenticated load (`--key ID:TYPE:HEX`). */
export interface LoadKey {
  id: number;
  algorithm: MacAlgorithm;
  key: Uint8Array;
}

/** Parses `ID:TYPE:HEX` (TYPE as in a keys file: MD5, SHA1, SHA256, AES128CMAC). */
export function parseLoadKey(text: string): LoadKey {
  const m = /^(\d+):([A-Za-z0-9-]+):([0-9a-fA-F]{2,64})$/.exec(text);
  const algorithm = m === null ? null : keyTypeFromText(m[2]!);
  if (m === null || algorithm === null || m[3]!.length % 2 !== 0) {
    throw new RangeError(`--key ${text}: not ID:TYPE:HEX`);
  }
  const key = Uint8Array.from(m[3]!.match(/../g)!, (h) => parseInt(h, 16));
  return { id: Number(m[1]), algorithm, key };
}

/** A key prepared for signing requests and checking replies (digest cut to 20 bytes, as NTPv4). */
export class LoadMac {
  readonly keyId: number;
  readonly digestLength: number;
  readonly #mac: MacContext;
  readonly #scratch = new Uint8Array(32);

  constructor(k: LoadKey) {
    this.keyId = k.id;
    this.digestLength = Math.min(20, MAC_OUTPUT_LEN[k.algorithm]);
    this.#mac = new OpenSslCrypto().macContext(k.algorithm, k.key);
  }

  /** Length of a signed packet. */
  get packetLength(): number {
    return 48 + 4 + this.digestLength;
  }

  /** Writes the key id and the MAC of `buf[0, 48)` after the header. */
  sign(buf: Uint8Array): void {
    const id = this.keyId;
    buf[48] = id >>> 24;
    buf[49] = (id >>> 16) & 0xff;
    buf[50] = (id >>> 8) & 0xff;
    buf[51] = id & 0xff;
    this.#mac.compute(buf, 0, 48, buf, 52, this.digestLength);
  }

  /** True when `data` is a header plus a MAC with this key that verifies. */
  verify(data: Uint8Array): boolean {
    if (data.length !== this.packetLength || u32(data, 48) !== this.keyId) return false;
    this.#mac.compute(data, 0, 48, this.#scratch, 0, this.digestLength);
    return constantTimeEqual(this.#scratch, 0, data, 52, this.digestLength);
  }
}

/** Why a reply was not counted as valid. */
export type ReplyProblem =
  | "truncated"
  | "decode"
  | "length"
  | "version"
  | "mode"
  | "leap"
  | "stratum"
  | "precision"
  | "root"
  | "order"
  | "future"
  | "origin"
  | "duplicate"
  | "mac";

/** The outcome of one load run. */
export interface LoadResult {
  /** Valid replies per second in the measured window. */
  repliesPerSec: number;
  /** Requests sent per second in the measured window. */
  requestsPerSec: number;
  /** Length of the measured window in seconds. */
  measuredSec: number;
  /** Requests sent over the whole run (warm-up included). */
  sent: number;
  /** Valid replies over the whole run. */
  valid: number;
  /** Replies that failed a check, by reason. */
  invalid: Partial<Record<ReplyProblem, number>>;
  /** Total of `invalid`. */
  invalidTotal: number;
  /** Valid replies that came after their request had been given up as lost. */
  late: number;
  /** Requests that never got a valid reply in time. */
  lost: number;
  /** recvmmsg errors other than "no data" (ECONNREFUSED when the server is gone). */
  receiveErrors: number;
  /** `lost / sent`. */
  lossFraction: number;
  /** Configured window and sockets. */
  window: number;
  sockets: number;
  /** Generator CPU use over the run, in cores (1.0 = one core busy). */
  generatorCores: number;
  /** VmRSS of `rssPid` near the end of the load, kB (null when not asked or unreadable). */
  rssKb: number | null;
  /** Median round-trip time of valid replies in the measured window, µs (sampled). */
  rttMedianUs: number;
}

/** Result of `checkReply`: the reply's origin timestamp words, or the problem found. */
export type ReplyCheck =
  | { ok: true; originHi: number; originLo: number }
  | { ok: false; reason: ReplyProblem };

/** What a valid reply must look like besides its origin. */
export interface ReplyExpectations {
  /** Current time as NTP seconds (high word) and fraction (low word). */
  nowHi: number;
  nowLo: number;
  /** Version the request carried (default 4). */
  version?: number;
  /** Exact stratum to require (default: any of 1–15). */
  stratum?: number;
  /** The key replies must be signed with (default: none, 48-byte replies). */
  mac?: LoadMac;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** a − b in seconds for timestamps given as high/low words (exact before the subtraction). */
function diffWords(aHi: number, aLo: number, bHi: number, bLo: number): number {
  // Wrap the seconds difference into a signed 32-bit range (era-safe for nearby times).
  return ((aHi - bHi) | 0) + (aLo - bLo) / 4294967296;
}

/**
 * Checks one reply to a mode 3 request with `decodePacket` and sanity rules: 48 bytes (or a MAC
 * with the expected key that verifies), same version, mode 4, synchronised (leap ≠ 3), stratum
 * 1–15, precision −30..0, root delay and dispersion under 16 s, origin ≤ receive ≤ transmit, and
 * nothing later than `now`. The origin (our transmit timestamp) is returned for the caller to
 * match. Never throws.
 */
export function checkReply(data: Uint8Array, expect: ReplyExpectations): ReplyCheck {
  const r = decodePacket(data);
  if (!r.ok) return { ok: false, reason: "decode" };
  const p = r.packet;
  const mac = expect.mac;
  if (
    data.length !== (mac?.packetLength ?? 48) || p.extensions.length > 0 ||
    (mac === undefined && p.mac !== null)
  ) {
    return { ok: false, reason: "length" };
  }
  if (mac !== undefined && !mac.verify(data)) return { ok: false, reason: "mac" };
  if (p.version !== (expect.version ?? 4)) return { ok: false, reason: "version" };
  if (p.mode !== 4) return { ok: false, reason: "mode" };
  if (p.leap === 3) return { ok: false, reason: "leap" };
  if (
    p.stratum < 1 || p.stratum > 15 ||
    (expect.stratum !== undefined && p.stratum !== expect.stratum)
  ) {
    return { ok: false, reason: "stratum" };
  }
  if (p.precisionLog2 < -30 || p.precisionLog2 > 0) return { ok: false, reason: "precision" };
  if (p.rootDelayShort >= 16 * 65536 || p.rootDispersionShort >= 16 * 65536) {
    return { ok: false, reason: "root" };
  }
  const orgHi = u32(data, 24), orgLo = u32(data, 28);
  const rxHi = u32(data, 32), rxLo = u32(data, 36);
  const txHi = u32(data, 40), txLo = u32(data, 44);
  if (
    diffWords(rxHi, rxLo, orgHi, orgLo) < -TOLERANCE_SEC ||
    diffWords(txHi, txLo, rxHi, rxLo) < 0 ||
    diffWords(rxHi, rxLo, orgHi, orgLo) > 10
  ) {
    return { ok: false, reason: "order" };
  }
  if (diffWords(txHi, txLo, expect.nowHi, expect.nowLo) > TOLERANCE_SEC) {
    return { ok: false, reason: "future" };
  }
  return { ok: true, originHi: orgHi, originLo: orgLo };
}

/** The request transmit stamp words for socket `socketIndex`, sequence `seq`, at `now`. */
export function tagTransmit(
  nowHi: number,
  nowLo: number,
  socketIndex: number,
  seq: number,
): [hi: number, lo: number] {
  return [nowHi >>> 0, ((nowLo & ~TAG_MASK) | (socketIndex << 16) | (seq & SEQ_MASK)) >>> 0];
}

function ntpNow(): [number, number] {
  const [sec, nsec] = realtime();
  return [(sec + UNIX_EPOCH_OFFSET_SEC) >>> 0, Math.floor(nsec * 4.294967296) >>> 0];
}

/** One client socket with its batch buffers and the table of requests in flight. */
class ClientSocket {
  readonly fd: number;
  readonly index: number;
  readonly batch: MmsgBatch;
  readonly txHi = new Uint32Array(SEQ_SPACE);
  readonly txLo = new Uint32Array(SEQ_SPACE);
  readonly state = new Uint8Array(SEQ_SPACE);
  readonly sentAtMs = new Float64Array(SEQ_SPACE);
  next = 0;
  head = 0;
  outstanding = 0;

  constructor(index: number, dest: Uint8Array, mac: LoadMac | null) {
    this.index = index;
    this.fd = openUdpSocket(4);
    setSocketOption(this.fd, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024);
    setSocketOption(this.fd, SOL_SOCKET, SO_SNDBUF, 4 * 1024 * 1024);
    this.batch = new MmsgBatch({ count: BATCH, bufferBytes: 128, controlBytes: 0 });
    for (let j = 0; j < BATCH; j++) {
      const b = this.batch.txBuffer(j);
      b.fill(0, 0, 48);
      b[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
      b[2] = 6; // poll 64 s
      b[3] = 0xec; // precision −20
      this.batch.setTx(j, j, mac?.packetLength ?? 48, dest);
    }
  }
}

/** Reads VmRSS of a process in kB (null when unreadable). */
export function readRssKb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) used so far by a process (null when unreadable). */
export function readCpuSec(pid: number | "self"): number | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * Runs load against a server for `warmupSec + durationSec` seconds (bounded in time and in
 * requests), then waits up to `timeoutMs` for stragglers. Synchronous: it owns the thread.
 */
export function runLoad(options: LoadOptions): LoadResult {
  const nSockets = Math.max(1, Math.min(MAX_SOCKETS, Math.floor(options.sockets ?? 8)));
  const window = Math.max(nSockets, Math.floor(options.window ?? 256));
  const perSocket = Math.max(1, Math.floor(window / nSockets));
  const warmupMs = (options.warmupSec ?? 1) * 1000;
  const durationMs = (options.durationSec ?? 5) * 1000;
  const timeoutMs = options.timeoutMs ?? 200;
  const maxRequests = options.maxRequests ?? 50_000_000;
  const addr = options.address ?? [127, 0, 0, 1];
  const dest = new Uint8Array(new ArrayBuffer(16));
  encodeSockaddrIn(dest, addr, options.port);

  const mac = options.key === undefined ? null : new LoadMac(options.key);
  const sockets: ClientSocket[] = [];
  const pollBytes = new Uint8Array(new ArrayBuffer(nSockets * POLLFD_BYTES));
  const pollView = new DataView(pollBytes.buffer);
  try {
    for (let k = 0; k < nSockets; k++) {
      const s = new ClientSocket(k, dest, mac);
      sockets.push(s);
      pollView.setInt32(k * POLLFD_BYTES, s.fd, true);
      pollView.setInt16(k * POLLFD_BYTES + 4, POLLIN, true);
    }
    return drive();
  } finally {
    for (const s of sockets) closeSocket(s.fd);
  }

  function drive(): LoadResult {
    const lib = socketLib();
    const invalid: Partial<Record<ReplyProblem, number>> = {};
    const expect: ReplyExpectations = {
      nowHi: 0,
      nowLo: 0,
      ...(options.expectStratum === undefined ? {} : { stratum: options.expectStratum }),
      ...(mac === null ? {} : { mac }),
    };
    let invalidTotal = 0;
    let receiveErrors = 0;
    let sent = 0;
    let valid = 0;
    let late = 0;
    let lost = 0;
    let sentAtStart = 0;
    let validAtStart = 0;
    let sentInWindow = 0;
    let validInWindow = 0;
    let rssKb: number | null = null;
    const rttSamples: number[] = [];
    const bad = (reason: ReplyProblem) => {
      invalid[reason] = (invalid[reason] ?? 0) + 1;
      invalidTotal++;
    };

    const cpuStart = readCpuSec("self");
    const startMs = performance.now();
    const measureAt = startMs + warmupMs;
    const endAt = measureAt + durationMs;
    let measuring = false;
    let measureStartMs = measureAt;
    let measureEndMs = endAt;
    let lastExpireMs = startMs;
    let nowMs = startMs;

    const send = (s: ClientSocket, want: number) => {
      const k = Math.min(want, BATCH, maxRequests - sent);
      if (k <= 0) return;
      const [hi, lo] = ntpNow();
      const b = s.batch;
      const view = b.view;
      for (let j = 0; j < k; j++) {
        if (s.next - s.head >= SEQ_SPACE) expireHead(s, Infinity);
        const seq = s.next;
        const slot = seq & SEQ_MASK;
        const [tHi, tLo] = tagTransmit(hi, lo, s.index, seq);
        const at = b.txBufferOffset(j) + 40;
        view.setUint32(at, tHi, false);
        view.setUint32(at + 4, tLo, false);
        mac?.sign(b.txBuffer(j));
        s.txHi[slot] = tHi;
        s.txLo[slot] = tLo;
        s.state[slot] = OUTSTANDING;
        s.sentAtMs[slot] = nowMs;
        s.next++;
      }
      const r = sendBatch(s.fd, b, 0, k);
      const done = r > 0 ? r : 0;
      // Whatever the kernel did not take was never sent: take those sequence numbers back.
      for (let j = k - 1; j >= done; j--) {
        s.next--;
        s.state[s.next & SEQ_MASK] = FREE;
      }
      if (r < 0 && r !== -SocketErrno.EAGAIN && r !== -SocketErrno.ENOBUFS) {
        throw new Error(`sendmmsg failed: errno ${-r}`);
      }
      s.outstanding += done;
      sent += done;
    };

    // Gives up on requests older than the timeout (or, with Infinity, on the oldest one).
    function expireHead(s: ClientSocket, olderThanMs: number): void {
      while (s.head < s.next) {
        const slot = s.head & SEQ_MASK;
        const st = s.state[slot]!;
        if (st === OUTSTANDING) {
          if (olderThanMs !== Infinity && s.sentAtMs[slot]! >= olderThanMs) return;
          s.state[slot] = LOST;
          s.outstanding--;
          lost++;
          s.head++;
          if (olderThanMs === Infinity) return;
          continue;
        }
        s.head++;
      }
    }

    const receive = (s: ClientSocket): number => {
      const b = s.batch;
      const n = receiveBatch(s.fd, b, BATCH, MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && n !== -SocketErrno.EAGAIN && n !== -SocketErrno.EINTR) {
          // ECONNREFUSED and the like: the server is not there (any more); count and go on.
          receiveErrors++;
        }
        return 0;
      }
      const [nowHi, nowLo] = ntpNow();
      expect.nowHi = nowHi;
      expect.nowLo = nowLo;
      for (let i = 0; i < n; i++) {
        if ((b.rxFlags(i) & MSG_TRUNC) !== 0) {
          bad("truncated");
          continue;
        }
        const c = checkReply(b.rxBuffer(i).subarray(0, b.rxLength(i)), expect);
        if (!c.ok) {
          bad(c.reason);
          continue;
        }
        const lo = c.originLo;
        const slot = lo & SEQ_MASK;
        if (((lo >>> 16) & 0xf) !== s.index || s.txHi[slot] !== c.originHi || s.txLo[slot] !== lo) {
          bad("origin");
          continue;
        }
        const st = s.state[slot];
        if (st === OUTSTANDING) {
          s.state[slot] = ANSWERED;
          s.outstanding--;
          valid++;
          if (measuring && (valid & 255) === 0) rttSamples.push(nowMs - s.sentAtMs[slot]!);
        } else if (st === LOST) {
          s.state[slot] = ANSWERED;
          late++;
        } else {
          bad("duplicate");
        }
      }
      b.resetReceive(n);
      return n;
    };

    // Main loop: bounded by the clock and by maxRequests.
    for (const s of sockets) send(s, perSocket);
    while (true) {
      nowMs = performance.now();
      if (!measuring && nowMs >= measureAt) {
        measuring = true;
        measureStartMs = nowMs;
        sentAtStart = sent;
        validAtStart = valid;
        if (options.signalPid !== undefined) signal(options.signalPid, "SIGUSR2");
      }
      if (nowMs >= endAt) {
        if (options.rssPid !== undefined) rssKb = readRssKb(options.rssPid);
        measureEndMs = nowMs;
        sentInWindow = sent - sentAtStart;
        validInWindow = valid - validAtStart;
        if (options.signalPid !== undefined) signal(options.signalPid, "SIGUSR2");
        break;
      }
      let got = 0;
      for (const s of sockets) {
        got += receive(s);
        const free = perSocket - s.outstanding;
        if (free > 0) send(s, free);
      }
      if (nowMs - lastExpireMs >= 10) {
        lastExpireMs = nowMs;
        for (const s of sockets) expireHead(s, nowMs - timeoutMs);
      }
      if (got === 0) lib.poll_now(pollBytes, BigInt(nSockets), 1);
    }
    // Drain: no new requests, collect replies still on their way.
    const drainEnd = performance.now() + timeoutMs;
    while (sockets.some((s) => s.outstanding > 0)) {
      nowMs = performance.now();
      if (nowMs >= drainEnd) break;
      let got = 0;
      for (const s of sockets) got += receive(s);
      if (got === 0) lib.poll_now(pollBytes, BigInt(nSockets), 1);
    }
    for (const s of sockets) {
      while (s.outstanding > 0 && s.head < s.next) expireHead(s, Infinity);
    }
    const cpuEnd = readCpuSec("self");
    const totalSec = (performance.now() - startMs) / 1000;
    const measuredSec = (measureEndMs - measureStartMs) / 1000;
    rttSamples.sort((a, b) => a - b);
    return {
      repliesPerSec: validInWindow / measuredSec,
      requestsPerSec: sentInWindow / measuredSec,
      measuredSec,
      sent,
      valid,
      invalid,
      invalidTotal,
      late,
      lost,
      receiveErrors,
      lossFraction: sent === 0 ? 0 : lost / sent,
      window: perSocket * nSockets,
      sockets: nSockets,
      generatorCores: cpuStart === null || cpuEnd === null ? NaN : (cpuEnd - cpuStart) / totalSec,
      rssKb,
      rttMedianUs: rttSamples.length === 0
        ? NaN
        : rttSamples[Math.floor(rttSamples.length / 2)]! * 1000,
    };
  }
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // The process is gone: the caller notices when it collects the results.
  }
}

/**
 * Waits until a server at 127.0.0.1:`port` answers a request with a valid, synchronised reply
 * (one request every 100 ms). Resolves to the reply's stratum, or null after `timeoutMs`.
 */
export async function probeServer(port: number, timeoutMs: number): Promise<number | null> {
  const fd = openUdpSocket(4);
  const dest = new Uint8Array(new ArrayBuffer(16));
  encodeSockaddrIn(dest, [127, 0, 0, 1], port);
  const batch = new MmsgBatch({ count: 1, bufferBytes: 128, controlBytes: 0 });
  const poll = new PollSet([fd]);
  const deadline = performance.now() + timeoutMs;
  try {
    let seq = 0;
    while (performance.now() < deadline) {
      const [hi, lo] = ntpNow();
      const [tHi, tLo] = tagTransmit(hi, lo, 0, seq++);
      const b = batch.txBuffer(0);
      b.fill(0, 0, 48);
      b[0] = 0x23;
      batch.view.setUint32(batch.txBufferOffset(0) + 40, tHi, false);
      batch.view.setUint32(batch.txBufferOffset(0) + 44, tLo, false);
      batch.setTx(0, 0, 48, dest);
      sendBatch(fd, batch, 0, 1);
      const waitUntil = performance.now() + 100;
      while (performance.now() < waitUntil) {
        await poll.wait(Math.max(1, Math.ceil(waitUntil - performance.now())));
        const n = receiveBatch(fd, batch, 1, MSG_DONTWAIT);
        if (n <= 0) continue;
        const [nowHi, nowLo] = ntpNow();
        const data = batch.rxBuffer(0).subarray(0, batch.rxLength(0));
        batch.resetReceive(1);
        const c = checkReply(data, { nowHi, nowLo });
        if (c.ok && c.originHi === tHi && c.originLo === tLo) return data[1]!;
      }
    }
    return null;
  } finally {
    closeSocket(fd);
  }
}

const HELP = `usage: deno run --allow-all tools/bench/loadgen.ts --port N [options]
  --duration S    seconds measured (default 5)
  --warmup S      seconds of load before measuring (default 1)
  --window N      outstanding requests in total (default 256)
  --sockets N     client sockets, 1-16 (default 8)
  --timeout-ms N  a request unanswered this long is lost (default 200)
  --rss-pid P     sample VmRSS of P at the end of the measured window
  --signal-pid P  SIGUSR2 to P when measuring starts and when it ends (the daemon's
                  --loop-lag-ms window marks)
  --stratum N     require this stratum in replies
  --key ID:TYPE:HEX  sign requests with this key; replies must be signed with it
  --json          print the result as one JSON line`;

/** Command line: runs one load and prints the result (a JSON line with --json). */
export function loadgenMain(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      window: { type: "string", default: "256" },
      sockets: { type: "string", default: "8" },
      "timeout-ms": { type: "string", default: "200" },
      "rss-pid": { type: "string" },
      "signal-pid": { type: "string" },
      stratum: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const port = Number(values.port);
  if (values.help || !Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(HELP);
    return 2;
  }
  const num = (v: string, name: string, min: number, max: number): number => {
    const x = Number(v);
    if (!(x >= min && x <= max)) throw new RangeError(`--${name} ${v} is not in ${min}..${max}`);
    return x;
  };
  const result = runLoad({
    port,
    durationSec: num(values.duration, "duration", 0.1, 60),
    warmupSec: num(values.warmup, "warmup", 0, 30),
    window: num(values.window, "window", 1, 16384),
    sockets: num(values.sockets, "sockets", 1, MAX_SOCKETS),
    timeoutMs: num(values["timeout-ms"], "timeout-ms", 1, 10000),
    ...(values["rss-pid"] === undefined ? {} : { rssPid: Number(values["rss-pid"]) }),
    ...(values["signal-pid"] === undefined ? {} : { signalPid: Number(values["signal-pid"]) }),
    ...(values.stratum === undefined ? {} : { expectStratum: Number(values.stratum) }),
    ...(values.key === undefined ? {} : { key: parseLoadKey(values.key) }),
  });
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `${Math.round(result.repliesPerSec)} valid replies/s over ${
        result.measuredSec.toFixed(2)
      } s; sent ${result.sent}, valid ${result.valid}, invalid ${result.invalidTotal} ${
        JSON.stringify(result.invalid)
      }, late ${result.late}, lost ${result.lost} (${(result.lossFraction * 100).toFixed(3)}%), ` +
        `generator ${(result.generatorCores * 100).toFixed(0)}% of a core, rtt median ${
          result.rttMedianUs.toFixed(0)
        } µs`,
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(loadgenMain(Deno.args));
