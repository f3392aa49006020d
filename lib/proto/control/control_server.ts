// The daemon's side of mode 6 (RFC 9327; ntpd 4.2.x ntp_control behaviour, NTPsec's nonce and
// MRU protocol): answers READSTAT, READVAR, READCLOCK, REQ_NONCE and READ_MRU from a read-only
// {@link ControlView}; WRITEVAR, CONFIGURE and SAVECONFIG only with the controlkey; keeps the
// system and peer event counters of the status words; sends asynchronous trap messages to the
// `trap` receivers and to authenticated clients that set a trap.
//
// Amplification. Mode 6 answers are larger than the questions (12 bytes ask for all system
// variables), so, following RFC 9327 §6 and the issue's bounds:
// - the packet path already dropped every request from a `noquery` source;
// - an unauthenticated answer that did not pass the nonce check is at most
//   `maxUnauthAnswerBytes`, and larger ones are refused with a 12-byte error;
// - every unauthenticated answer spends a per-source byte budget (a token bucket) and a global
//   one; a source over budget gets nothing, so a spoofed source can draw only the budget;
// - the MRU list, the one large answer, goes only to a source that echoed a nonce sent to its
//   own address (a spoofed source never sees one), and costs it 1/16 of its size in budget;
// - an error answer is never longer than the request it answers.
// No I/O: requests and events go in, datagrams to send come out.

import type { MruEntry } from "../access/mru.ts";
import { RES_LOWPRIOTRAP, RES_NOMODIFY, RES_NOMRULIST, RES_NOTRAP } from "../access/restrict.ts";
import { KEY_ID_LEN } from "../constants.ts";
import type { Crypto } from "../crypto.ts";
import { IpWords } from "../ip.ts";
import { fromUnix, type NtpTime } from "../ntp_time.ts";
import type { Rng } from "../rng.ts";
import type { ControlClock, ControlPeer, ControlSystem, ControlView } from "./control_view.ts";
import { peerStatusByte } from "./control_view.ts";
import {
  CLOCK_VARS,
  clockStatusWord,
  findVar,
  IO_VARS,
  KERNEL_VARS,
  PEER_VARS,
  peerStatusWord,
  SYSSTATS_VARS,
  SYSTEM_VARS,
  systemStatusWord,
  type SystemVarSource,
  type VarDef,
} from "./control_vars.ts";
import {
  type AnswerTo,
  type ControlMessage,
  CtlErr,
  CtlOp,
  decodeControl,
  errorAnswer,
  fragmentAnswer,
} from "./mode6.ts";
import { NonceMaker } from "./nonce.ts";
import { ByteBudget, type ByteBudgetLimits } from "./byte_budget.ts";
import {
  asciiBytes,
  bytesText,
  hex,
  hexTimestamp,
  hexWireTimestamp,
  parseHexTimestamp,
  parseVarList,
  quote,
  unquote,
  type VarItem,
  VarListWriter,
} from "./var_list.ts";

/** The UDP port trap receivers listen on unless told otherwise (ntpd's TRAPPORT). */
export const TRAP_PORT = 18447;
/** Traps at most (configured and set by clients). */
export const CTL_MAXTRAPS = 3;
/** A trap set by a client lapses after this long without being set again, seconds. */
export const CTL_TRAPTIME_SEC = 3600;
/** Nonce-checked answers spend this many times fewer bytes of the sender's budget. */
export const NONCE_CHECKED_DISCOUNT = 16;
/** Largest `limit` (entries) a READ_MRU may ask for (NTPsec's row limit). */
export const MRU_ROW_LIMIT = 256;
/** Largest `frags` a READ_MRU may ask for. */
export const MRU_MAX_FRAGS = 32;

/** Amplification and rate bounds; see the file comment. */
export interface ControlLimits extends ByteBudgetLimits {
  /** Bytes an unauthenticated answer without a nonce check may take, all fragments together. */
  maxUnauthAnswerBytes: number;
}

/** Default bounds: 3 fragments per answer; 16 KiB burst and 2 KiB/s per source; 64 KiB/s in all. */
export const DEFAULT_CONTROL_LIMITS: Readonly<ControlLimits> = {
  maxUnauthAnswerBytes: 3 * (12 + 468),
  sourceBurstBytes: 16 * 1024,
  sourceBytesPerSec: 2 * 1024,
  globalBurstBytes: 64 * 1024,
  globalBytesPerSec: 64 * 1024,
  maxSources: 1024,
};

/**
 * The MAC check for control messages (the keys issue supplies it). `verify` returns the key id
 * when the MAC at `macOffset` verifies with a trusted key, null otherwise; `sign` writes the key
 * id and a `digestLength`-byte MAC of `buf[0, macOffset)` at `macOffset` and returns the end.
 */
export interface ControlAuth {
  verify(data: Uint8Array, macOffset: number, from: IpWords): number | null;
  sign(buf: Uint8Array, macOffset: number, keyId: number, digestLength: number): number;
}

/** Nothing authenticates (no keys). */
export const NO_CONTROL_AUTH: ControlAuth = {
  verify: () => null,
  sign: () => {
    throw new Error("no keys to sign with");
  },
};

/** A `trap` line. */
export interface TrapSetting {
  address: string;
  port?: number | null;
  interface?: string | null;
}

/** A `setvar` line. */
export interface SetvarSetting {
  name: string;
  value: string;
  isDefault: boolean;
}

/** What CONFIGURE and SAVECONFIG hand to the daemon, which carries them out (or not). */
export interface ControlConfigHandlers {
  /**
   * Applies configuration text from `from` (the sender's address); the answer text is shown by
   * ntpq ("Config Succeeded", or errors starting `column N syntax error`). A promise: the answer
   * is sent when the change is applied (see {@link ControlAnswer.later}).
   */
  configure?: (text: string, from: string) => string | Promise<string>;
  /**
   * Saves the configuration as `fileName` in the configuration's directory (already checked:
   * a plain file name); returns the answer text, or a promise of it (the answer is then sent
   * when the file is written: see {@link ControlAnswer.later}).
   */
  saveConfig?: (fileName: string) => string | Promise<string>;
}

/** Options of a {@link ControlServer}. */
export interface ControlServerOptions {
  view: ControlView;
  /** For the nonce secret (the daemon passes its cryptographic generator). */
  rng: Rng;
  crypto: Crypto;
  auth?: ControlAuth;
  /** `controlkey`: the key that authorises changes (null: nothing may change). */
  controlKey?: number | null;
  traps?: readonly TrapSetting[];
  setvar?: readonly SetvarSetting[];
  limits?: Partial<ControlLimits>;
  config?: ControlConfigHandlers;
}

/** One control datagram arriving (the packet path's PacketIn has this shape). */
export interface ControlRequestIn {
  readonly data: Uint8Array;
  readonly src: IpWords;
  readonly srcPort: number;
  /** RES_* flags of the sender's restrict entry. */
  readonly restrictFlags: number;
}

/** Why a request got no answer, or what it got. */
export type ControlOutcome =
  | "answered"
  | "error"
  | "bad_format"
  | "rate_limited"
  | "bad_nonce"
  | "bad_auth";

/** The answer to one request. */
export interface ControlAnswer {
  /** Datagrams to send back to the sender, in order (empty: nothing). */
  replies: Uint8Array[];
  outcome: ControlOutcome;
  /** The error code sent, or −1. */
  errorCode: number;
  /** An answer that follows once work the request started is done (SAVECONFIG's write). */
  later?: Promise<ControlAnswer>;
}

/** A trap message to send. */
export interface TrapMessage {
  address: string;
  port: number;
  /** Local address to send from, or null. */
  from: string | null;
  data: Uint8Array[];
}

/** Counters of the control server. */
export interface ControlCounters {
  requests: number;
  answered: number;
  errors: number;
  badFormat: number;
  rateLimited: number;
  badNonce: number;
  badAuth: number;
  authenticated: number;
  noncesIssued: number;
  mruAnswers: number;
  trapsSent: number;
  bytesSent: number;
}

interface Trap {
  address: string;
  port: number;
  from: string | null;
  configured: boolean;
  lowPriority: boolean;
  setAtSec: number;
  sequence: number;
  /** The sender as IpWords (null for a configured host name). */
  words: IpWords | null;
}

interface ExtVar {
  name: string;
  value: string;
  isDefault: boolean;
}

interface EventCount {
  count: number;
  last: number;
}

/** A request after decoding and the auth check. */
interface Req {
  msg: ControlMessage;
  to: AnswerTo;
  src: IpWords;
  srcPort: number;
  flags: number;
  /** Verified trusted key id, or null. */
  keyId: number | null;
  /** Digest length of the request's MAC (0 without one). */
  digestLength: number;
  nowSec: number;
  now: NtpTime;
}

const ALL_PEER_NAMES = new Set(PEER_VARS.map((v) => v.name));

/**
 * The control protocol server.
 *
 * @example
 * ```ts
 * const control = new ControlServer({ view, rng, crypto });
 * const answer = control.handle(packetIn, now);
 * for (const d of answer.replies) socket.send(d, sender);
 * ```
 */
export class ControlServer {
  readonly #view: ControlView;
  #auth: ControlAuth;
  #controlKey: number | null;
  readonly #limits: ControlLimits;
  readonly #nonces: NonceMaker;
  readonly #config: ControlConfigHandlers;
  readonly #ext: ExtVar[] = [];
  readonly #traps: Trap[] = [];
  readonly #budget: ByteBudget;
  readonly #sys: EventCount = { count: 0, last: 0 };
  readonly #peerEvents = new Map<number, EventCount>();
  readonly #counters: ControlCounters = {
    requests: 0,
    answered: 0,
    errors: 0,
    badFormat: 0,
    rateLimited: 0,
    badNonce: 0,
    badAuth: 0,
    authenticated: 0,
    noncesIssued: 0,
    mruAnswers: 0,
    trapsSent: 0,
    bytesSent: 0,
  };

  /** A server over `o.view`. */
  constructor(o: ControlServerOptions) {
    this.#view = o.view;
    this.#auth = o.auth ?? NO_CONTROL_AUTH;
    this.#controlKey = o.controlKey ?? null;
    this.#limits = { ...DEFAULT_CONTROL_LIMITS, ...o.limits };
    this.#nonces = new NonceMaker(o.crypto, o.rng);
    this.#config = o.config ?? {};
    this.#budget = new ByteBudget(this.#limits);
    for (const v of o.setvar ?? []) this.#setExt(v.name, v.value, v.isDefault);
    for (const t of o.traps ?? []) {
      const words = new IpWords();
      this.#traps.push({
        address: t.address,
        port: t.port ?? TRAP_PORT,
        from: t.interface ?? null,
        configured: true,
        lowPriority: false,
        setAtSec: 0,
        sequence: 0,
        words: words.parse(t.address) ? words : null,
      });
    }
  }

  /** Uses new keys (a reload) and controlkey. */
  setAuth(auth: ControlAuth, controlKey: number | null): void {
    this.#auth = auth;
    this.#controlKey = controlKey;
  }

  /** The counters. */
  counters(): ControlCounters {
    return { ...this.#counters };
  }

  /** The trap receivers now (configured first). */
  traps(): { address: string; port: number; configured: boolean; lowPriority: boolean }[] {
    return this.#traps.map((t) => ({
      address: t.address,
      port: t.port,
      configured: t.configured,
      lowPriority: t.lowPriority,
    }));
  }

  /** The system status word now (leap, source, event counter and last event). */
  systemStatus(sys: ControlSystem): number {
    return systemStatusWord(sys.leap, sys.source, this.#sys.count, this.#sys.last);
  }

  /** The status word of association `p`. */
  peerStatus(p: ControlPeer): number {
    const e = this.#peerEvents.get(p.id);
    return peerStatusWord(peerStatusByte(p), e?.count ?? 0, e?.last ?? 0);
  }

  /**
   * Records an event of the core (an `event` action) for the status words, and returns the trap
   * messages to send about it (none without trap receivers).
   */
  noteEvent(scope: "system" | "peer", assocId: number, code: number, now: NtpTime): TrapMessage[] {
    let e: EventCount;
    if (scope === "system") e = this.#sys;
    else {
      e = this.#peerEvents.get(assocId) ?? { count: 0, last: 0 };
      this.#peerEvents.set(assocId, e);
    }
    if (e.count < 15) e.count++;
    e.last = code & 0xf;
    return this.#trapMessages(scope, assocId, now);
  }

  /** Forgets the event counters of an association that went away. */
  forgetPeer(assocId: number): void {
    this.#peerEvents.delete(assocId);
  }

  /**
   * Answers one control datagram that the packet path let through (not `noquery`). `now` is
   * the served clock.
   */
  handle(p: ControlRequestIn, now: NtpTime): ControlAnswer {
    const c = this.#counters;
    c.requests++;
    const nowSec = Number(now >> 32n) + Number(now & 0xffffffffn) / 2 ** 32;
    const d = decodeControl(p.data);
    if (!d.ok || d.message.response) return this.#none("bad_format");
    const msg = d.message;
    const to: AnswerTo = {
      version: msg.version,
      opcode: msg.opcode,
      sequence: msg.sequence,
      associd: msg.associd,
    };
    let keyId: number | null = null;
    let digestLength = 0;
    if (msg.macOffset >= 0) {
      keyId = this.#auth.verify(p.data, msg.macOffset, p.src);
      if (keyId === null) {
        // ntpd answers a bad MAC as if there were none; an answer to it would say nothing the
        // unauthenticated request could not ask, so it is simply treated as unauthenticated.
        c.badAuth++;
      } else {
        c.authenticated++;
        digestLength = p.data.length - msg.macOffset - KEY_ID_LEN;
      }
    }
    const req: Req = {
      msg,
      to,
      src: p.src,
      srcPort: p.srcPort,
      flags: p.restrictFlags,
      keyId,
      digestLength,
      nowSec,
      now,
    };
    return this.#dispatch(req);
  }

  #dispatch(r: Req): ControlAnswer {
    switch (r.msg.opcode) {
      case CtlOp.READSTAT:
        return this.#readStat(r);
      case CtlOp.READVAR:
        return this.#readVar(r);
      case CtlOp.READCLOCK:
        return this.#readClock(r);
      case CtlOp.WRITEVAR:
        return this.#writeVar(r);
      case CtlOp.WRITECLOCK:
        return this.#changeAllowed(r) ?? this.#error(r, CtlErr.BADOP);
      case CtlOp.SETTRAP:
        return this.#setTrap(r);
      case CtlOp.UNSETTRAP:
        return this.#unsetTrap(r);
      case CtlOp.CONFIGURE:
        return this.#configure(r);
      case CtlOp.SAVECONFIG:
        return this.#saveConfig(r);
      case CtlOp.REQ_NONCE:
        return this.#reqNonce(r);
      case CtlOp.READ_MRU:
        return this.#readMru(r);
      default:
        return this.#error(r, CtlErr.BADOP);
    }
  }

  // --- reading ---

  #sysSource(now: NtpTime): SystemVarSource {
    const id = this.#view.identity;
    const sys = this.#view.system(now);
    const peer = sys.systemPeer === 0
      ? undefined
      : this.#view.peers(now).find((p) => p.id === sys.systemPeer);
    return {
      sys,
      controlRequests: this.#counters.requests,
      peerAddress: peer === undefined
        ? null
        : peer.srcAddress.includes(":")
        ? `[${peer.srcAddress}]:${peer.srcPort}`
        : `${peer.srcAddress}:${peer.srcPort}`,
      version: id.version,
      processor: id.processor,
      system: id.system,
    };
  }

  #readStat(r: Req): ControlAnswer {
    const peers = this.#view.peers(r.now);
    if (r.msg.associd === 0) {
      const data = new Uint8Array(4 * peers.length);
      peers.forEach((p, i) => {
        put16(data, 4 * i, p.id);
        put16(data, 4 * i + 2, this.peerStatus(p));
      });
      const status = this.systemStatus(this.#view.system(r.now));
      return this.#answer(r, status, data, false);
    }
    const p = peers.find((x) => x.id === r.msg.associd);
    if (p === undefined) return this.#error(r, CtlErr.BADASSOC);
    const status = this.peerStatus(p);
    // COMPAT: an authenticated status read clears the peer's event counter, as in ntpd.
    if (r.keyId !== null) this.#peerEvents.delete(p.id);
    return this.#answer(r, status, new Uint8Array(0), false);
  }

  #names(r: Req): VarItem[] {
    const text = bytesText(r.msg.data);
    const items = parseVarList(text);
    // Each variable once: a request naming one variable many times gets it once.
    const seen = new Set<string>();
    const out: VarItem[] = [];
    for (const it of items) {
      if (it.name === "" || seen.has(it.name)) continue;
      seen.add(it.name);
      out.push(it);
    }
    return out;
  }

  #readVar(r: Req): ControlAnswer {
    const names = this.#names(r);
    const w = new VarListWriter();
    if (r.msg.associd === 0) {
      const src = this.#sysSource(r.now);
      const status = this.systemStatus(src.sys);
      if (names.length === 0) {
        for (const v of SYSTEM_VARS) if (v.default) addVar(w, v, src);
        for (const x of this.#ext) if (x.isDefault) w.add(x.name, x.value);
      } else {
        const stats = this.#view.sysstats();
        for (const { name } of names) {
          const sv = findVar(SYSTEM_VARS, name);
          if (sv !== undefined) {
            addVar(w, sv, src);
            continue;
          }
          const ss = findVar(SYSSTATS_VARS, name);
          if (ss !== undefined && stats !== null) {
            addVar(w, ss, stats);
            continue;
          }
          const x = this.#ext.find((e) => e.name === name);
          if (x !== undefined) {
            w.add(x.name, x.value);
            continue;
          }
          const kv = findVar(KERNEL_VARS, name);
          const kernel = kv === undefined ? null : this.#view.kernel?.() ?? null;
          if (kv !== undefined && kernel !== null) {
            addVar(w, kv, kernel);
            continue;
          }
          const iv = findVar(IO_VARS, name);
          const io = iv === undefined ? null : this.#view.io?.() ?? null;
          if (iv !== undefined && io !== null) {
            addVar(w, iv, io);
            continue;
          }
          return this.#error(r, CtlErr.UNKNOWNVAR);
        }
      }
      return this.#answer(r, status, w.bytes(), false);
    }
    const p = this.#view.peers(r.now).find((x) => x.id === r.msg.associd);
    if (p === undefined) return this.#error(r, CtlErr.BADASSOC);
    if (names.length === 0) {
      for (const v of PEER_VARS) if (v.default) addVar(w, v, p);
    } else {
      for (const { name } of names) {
        if (!ALL_PEER_NAMES.has(name)) return this.#error(r, CtlErr.UNKNOWNVAR);
        addVar(w, findVar(PEER_VARS, name)!, p);
      }
    }
    return this.#answer(r, this.peerStatus(p), w.bytes(), false);
  }

  #readClock(r: Req): ControlAnswer {
    const peers = this.#view.peers(r.now);
    let p: ControlPeer | undefined;
    if (r.msg.associd === 0) {
      const sysPeer = this.#view.system(r.now).systemPeer;
      p = peers.find((x) => x.id === sysPeer && x.clock) ?? peers.find((x) => x.clock);
    } else p = peers.find((x) => x.id === r.msg.associd);
    const clock: ControlClock | null | undefined = p?.clock;
    if (p === undefined || clock === null || clock === undefined) {
      return this.#error(r, CtlErr.BADASSOC);
    }
    const names = this.#names(r);
    const w = new VarListWriter();
    if (names.length === 0) { for (const v of CLOCK_VARS) addVar(w, v, clock); }
    else {
      for (const { name } of names) {
        const v = findVar(CLOCK_VARS, name);
        if (v === undefined) return this.#error(r, CtlErr.UNKNOWNVAR);
        addVar(w, v, clock);
      }
    }
    const status = clockStatusWord(clock.status, clock.lastEvent);
    return this.#answer({ ...r, to: { ...r.to, associd: p.id } }, status, w.bytes(), false);
  }

  // --- changes: the controlkey, and not nomodify ---

  /** An error answer when `r` may not change anything, else null. */
  #changeAllowed(r: Req): ControlAnswer | null {
    if ((r.flags & RES_NOMODIFY) !== 0) return this.#error(r, CtlErr.PERMISSION);
    if (this.#controlKey === null || r.keyId !== this.#controlKey) {
      return this.#error(r, CtlErr.PERMISSION);
    }
    return null;
  }

  #writeVar(r: Req): ControlAnswer {
    const refused = this.#changeAllowed(r);
    if (refused !== null) return refused;
    if (r.msg.associd !== 0) {
      const p = this.#view.peers(r.now).find((x) => x.id === r.msg.associd);
      // Peer variables are the core's measurements: none can be written.
      return this.#error(r, p === undefined ? CtlErr.BADASSOC : CtlErr.PERMISSION);
    }
    const items = parseVarList(bytesText(r.msg.data));
    if (items.length === 0) return this.#error(r, CtlErr.BADFMT);
    // Check everything first: a write is all or nothing.
    for (const it of items) {
      if (it.value === null) return this.#error(r, CtlErr.BADFMT);
      const x = this.#ext.find((e) => e.name === it.name);
      if (x === undefined) {
        const builtIn = findVar(SYSTEM_VARS, it.name) ?? findVar(SYSSTATS_VARS, it.name);
        return this.#error(r, builtIn !== undefined ? CtlErr.PERMISSION : CtlErr.UNKNOWNVAR);
      }
      if (!validExtValue(unquote(it.value))) return this.#error(r, CtlErr.BADVALUE);
    }
    for (const it of items) this.#setExt(it.name, it.value!, null);
    const status = this.systemStatus(this.#view.system(r.now));
    return this.#answer(r, status, new Uint8Array(0), false);
  }

  #configure(r: Req): ControlAnswer {
    const refused = this.#changeAllowed(r);
    if (refused !== null) return refused;
    const handler = this.#config.configure;
    if (handler === undefined) return this.#error(r, CtlErr.BADOP);
    const text = bytesText(r.msg.data).replace(/\0+$/, "");
    const host = r.src.toString();
    const reply = handler(text, `${host.includes(":") ? `[${host}]` : host}:${r.srcPort}`);
    return this.#textAnswer(r, reply, "Config failed");
  }

  /** Answers with `reply`'s text, now or (a promise) once it settles. */
  #textAnswer(r: Req, reply: string | Promise<string>, failed: string): ControlAnswer {
    if (typeof reply === "string") {
      return this.#answer(r, this.systemStatus(this.#view.system(r.now)), asciiBytes(reply), false);
    }
    const later = reply.then(
      (text) => text,
      (e) => `${failed}: ${(e as Error)?.message ?? e}`,
    ).then((text) =>
      this.#answer(r, this.systemStatus(this.#view.system(r.now)), asciiBytes(text), false)
    );
    return { replies: [], outcome: "answered", errorCode: -1, later };
  }

  #saveConfig(r: Req): ControlAnswer {
    const refused = this.#changeAllowed(r);
    if (refused !== null) return refused;
    const handler = this.#config.saveConfig;
    if (handler === undefined) return this.#error(r, CtlErr.BADOP);
    const name = bytesText(r.msg.data).replace(/\0+$/, "").trim();
    if (!isPlainFileName(name)) return this.#error(r, CtlErr.BADVALUE);
    return this.#textAnswer(r, handler(name), "Configuration not saved");
  }

  // --- traps ---

  #trapAllowed(r: Req): ControlAnswer | null {
    if ((r.flags & RES_NOTRAP) !== 0) return this.#error(r, CtlErr.PERMISSION);
    // COMPAT: ntpd lets any query-allowed client set a trap; Horae wants the controlkey (a trap
    // makes the server send to an address that need not have asked).
    if (this.#controlKey === null || r.keyId !== this.#controlKey) {
      return this.#error(r, CtlErr.PERMISSION);
    }
    return null;
  }

  #setTrap(r: Req): ControlAnswer {
    const refused = this.#trapAllowed(r);
    if (refused !== null) return refused;
    this.#expireTraps(r.nowSec);
    const low = (r.flags & RES_LOWPRIOTRAP) !== 0;
    const mine = this.#traps.find((t) =>
      t.words !== null && t.words.equals(r.src) && t.port === r.srcPort
    );
    if (mine !== undefined) {
      mine.setAtSec = r.nowSec;
      if (!mine.configured) mine.lowPriority = low;
    } else {
      if (this.#traps.length >= CTL_MAXTRAPS) {
        // A normal trap may take the place of a low-priority one set by a client.
        const k = low ? -1 : this.#traps.findIndex((t) => !t.configured && t.lowPriority);
        if (k < 0) return this.#error(r, CtlErr.PERMISSION);
        this.#traps.splice(k, 1);
      }
      this.#traps.push({
        address: r.src.toString(),
        port: r.srcPort,
        from: null,
        configured: false,
        lowPriority: low,
        setAtSec: r.nowSec,
        sequence: 0,
        words: new IpWords().copy(r.src),
      });
    }
    const status = this.systemStatus(this.#view.system(r.now));
    return this.#answer(r, status, new Uint8Array(0), false);
  }

  #unsetTrap(r: Req): ControlAnswer {
    const refused = this.#trapAllowed(r);
    if (refused !== null) return refused;
    const k = this.#traps.findIndex((t) =>
      !t.configured && t.words !== null && t.words.equals(r.src) && t.port === r.srcPort
    );
    if (k < 0) return this.#error(r, CtlErr.BADASSOC);
    this.#traps.splice(k, 1);
    const status = this.systemStatus(this.#view.system(r.now));
    return this.#answer(r, status, new Uint8Array(0), false);
  }

  #expireTraps(nowSec: number): void {
    for (let i = this.#traps.length - 1; i >= 0; i--) {
      const t = this.#traps[i]!;
      if (!t.configured && nowSec - t.setAtSec > CTL_TRAPTIME_SEC) this.#traps.splice(i, 1);
    }
  }

  #trapMessages(scope: "system" | "peer", assocId: number, now: NtpTime): TrapMessage[] {
    const nowSec = Number(now >> 32n);
    this.#expireTraps(nowSec);
    if (this.#traps.length === 0) return [];
    const w = new VarListWriter();
    let status: number;
    const src = this.#sysSource(now);
    if (scope === "peer") {
      const p = this.#view.peers(now).find((x) => x.id === assocId);
      if (p === undefined) return [];
      status = this.peerStatus(p);
      for (const v of PEER_VARS) if (v.default && !v.name.startsWith("filt")) addVar(w, v, p);
    } else {
      status = this.systemStatus(src.sys);
      for (const v of SYSTEM_VARS) if (v.default) addVar(w, v, src);
    }
    const data = w.bytes();
    const out: TrapMessage[] = [];
    for (const t of this.#traps) {
      t.sequence = (t.sequence + 1) & 0xffff;
      const frags = fragmentAnswer(
        {
          version: 4,
          opcode: CtlOp.ASYNCMSG,
          sequence: t.sequence,
          associd: scope === "peer" ? assocId : 0,
        },
        status,
        data,
      );
      out.push({ address: t.address, port: t.port, from: t.from, data: frags });
      this.#counters.trapsSent++;
    }
    return out;
  }

  // --- nonce and MRU list ---

  #reqNonce(r: Req): ControlAnswer {
    if ((r.flags & RES_NOMRULIST) !== 0) return this.#error(r, CtlErr.PERMISSION);
    const nonce = this.#nonces.make(r.src, r.nowSec);
    this.#counters.noncesIssued++;
    const status = this.systemStatus(this.#view.system(r.now));
    return this.#answer(r, status, asciiBytes(`nonce=${nonce}\r\n`), false);
  }

  #readMru(r: Req): ControlAnswer {
    if ((r.flags & RES_NOMRULIST) !== 0) return this.#error(r, CtlErr.PERMISSION);
    const items = parseVarList(bytesText(r.msg.data));
    const nonce = items.find((i) => i.name === "nonce")?.value ?? null;
    if (nonce === null || !this.#nonces.check(unquote(nonce), r.src, r.nowSec)) {
      // As ntpd: nothing at all until the nonce checks (a spoofed source gets no answer).
      return this.#none("bad_nonce");
    }
    const q = parseMruQuery(items);
    if (q === null) return this.#error(r, CtlErr.BADVALUE);
    const all = this.#view.mru();
    if (all === null) return this.#error(r, CtlErr.PERMISSION);
    // The view gives the most recent first; the protocol walks from the oldest up.
    const oldestFirst = all.slice().reverse();
    let start = 0;
    if (q.prior.length > 0) {
      start = -1;
      for (const pr of q.prior) {
        const k = oldestFirst.findIndex((e) =>
          mruAddress(e) === pr.addr && hexTimestamp(unixToNtp(e.lastSec)) === pr.last
        );
        if (k >= 0) {
          start = k + 1;
          break;
        }
      }
      // None of the entries the client holds is unchanged: it has to start over.
      if (start < 0) return this.#error(r, CtlErr.UNKNOWNVAR);
    } else if (q.recent !== null) start = Math.max(0, oldestFirst.length - q.recent);
    const nowSec = r.nowSec;
    const w = new VarListWriter();
    w.add("nonce", this.#nonces.make(r.src, nowSec));
    const byteLimit = q.frags * 468;
    let n = 0;
    let k = start;
    for (; k < oldestFirst.length && n < q.limit; k++) {
      const e = oldestFirst[k]!;
      if (!mruSelected(e, q, nowSec)) continue;
      const before = w.length;
      const entry = mruEntryItems(e, n);
      // Stop before an entry that would not fit (each entry is sent whole).
      if (before + entry.reduce((s, [a, b]) => s + a.length + b.length + 3, 0) > byteLimit - 80) {
        break;
      }
      for (const [name, value] of entry) w.add(name, value);
      n++;
    }
    if (k >= oldestFirst.length) {
      // The end of the list: the client's walk is complete.
      w.add("now", hexTimestamp(r.now));
      const newest = oldestFirst[oldestFirst.length - 1];
      if (newest !== undefined) w.add("last.newest", hexTimestamp(unixToNtp(newest.lastSec)));
    }
    this.#counters.mruAnswers++;
    const status = this.systemStatus(this.#view.system(r.now));
    return this.#answer(r, status, w.bytes(), true);
  }

  // --- answers and budgets ---

  /**
   * Sends `data` as the answer: fragmented, signed when the request was authenticated, within
   * the unauthenticated size bound unless `nonceChecked`, and within the byte budgets.
   */
  #answer(r: Req, status: number, data: Uint8Array, nonceChecked: boolean): ControlAnswer {
    const signed = r.keyId !== null;
    const macRoom = signed ? KEY_ID_LEN + r.digestLength : 0;
    const frags = fragmentAnswer(r.to, status, data, undefined, macRoom);
    if (signed) { for (const f of frags) this.#sign(f, r); }
    const bytes = frags.reduce((s, f) => s + f.length, 0);
    if (!signed && !nonceChecked && bytes > this.#limits.maxUnauthAnswerBytes) {
      // COMPAT: ntpd would send it all; Horae asks for authentication first.
      return this.#error(r, CtlErr.PERMISSION);
    }
    // A nonce-checked answer goes to an address that proved it asked: it costs a fraction of
    // its size, so that walking a long MRU list is not starved, yet still has a bound.
    const cost = nonceChecked ? Math.ceil(bytes / NONCE_CHECKED_DISCOUNT) : bytes;
    if (!signed && !this.#spend(r, cost)) return this.#none("rate_limited");
    this.#counters.answered++;
    this.#counters.bytesSent += bytes;
    return { replies: frags, outcome: "answered", errorCode: -1 };
  }

  #sign(frag: Uint8Array, r: Req): void {
    const count = (frag[10]! << 8) | frag[11]!;
    const macOffset = Math.ceil((12 + count) / 8) * 8;
    this.#auth.sign(frag, macOffset, r.keyId!, r.digestLength);
  }

  #error(r: Req, code: number): ControlAnswer {
    const reply = errorAnswer(r.to, code);
    // Never longer than the request (12 bytes, the shortest request there is).
    if (r.keyId === null && !this.#spend(r, reply.length)) return this.#none("rate_limited");
    this.#counters.errors++;
    this.#counters.bytesSent += reply.length;
    return { replies: [reply], outcome: "error", errorCode: code };
  }

  #none(outcome: ControlOutcome): ControlAnswer {
    const c = this.#counters;
    if (outcome === "bad_format") c.badFormat++;
    else if (outcome === "rate_limited") c.rateLimited++;
    else if (outcome === "bad_nonce") c.badNonce++;
    return { replies: [], outcome, errorCode: -1 };
  }

  /** Takes `bytes` from the sender's and the global budget; false (nothing taken) when short. */
  #spend(r: Req, bytes: number): boolean {
    return this.#budget.spend(r.src, bytes, r.nowSec);
  }

  #setExt(name: string, rawValue: string, isDefault: boolean | null): void {
    // A value that would break the list (spaces, commas, quotes) goes in double quotes.
    const value = /^"[^"]*"$/.test(rawValue) || /^[A-Za-z0-9._:+\-\/]*$/.test(rawValue)
      ? rawValue
      : quote(rawValue);
    const x = this.#ext.find((e) => e.name === name);
    if (x !== undefined) {
      x.value = value;
      if (isDefault !== null) x.isDefault = isDefault;
    } else this.#ext.push({ name, value, isDefault: isDefault ?? false });
  }
}

function addVar<T>(w: VarListWriter, v: VarDef<T>, src: T): void {
  const value = v.get(src);
  if (value !== null) w.add(v.name, value);
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** A setvar value a client may write: printable, no quote or comma (they would break lists). */
function validExtValue(v: string): boolean {
  return v.length <= 256 && /^[\x20-\x7e]*$/.test(v) && !/[",]/.test(v);
}

/** A file name with no directory part that names nothing hidden or special. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name) &&
    !name.includes("..");
}

/** What a READ_MRU asks for. */
interface MruQuery {
  frags: number;
  limit: number;
  mincount: number;
  resall: number;
  resany: number;
  maxlstint: number | null;
  minlstint: number | null;
  laddr: string | null;
  recent: number | null;
  /** The client's newest entries (index 0 the newest): where to continue. */
  prior: { addr: string; last: string }[];
}

function parseMruQuery(items: VarItem[]): MruQuery | null {
  const q: MruQuery = {
    frags: 0,
    limit: 0,
    mincount: 0,
    resall: 0,
    resany: 0,
    maxlstint: null,
    minlstint: null,
    laddr: null,
    recent: null,
    prior: [],
  };
  const addrs = new Map<number, string>();
  const lasts = new Map<number, string>();
  for (const { name, value } of items) {
    if (name === "nonce") continue;
    const v = value === null ? "" : unquote(value);
    const num = Number(v.startsWith("0x") ? parseInt(v, 16) : Number(v));
    const m = /^(addr|last)\.(\d{1,2})$/.exec(name);
    if (m !== null) {
      const k = Number(m[2]);
      if (m[1] === "addr") addrs.set(k, v);
      else {
        const ts = parseHexTimestamp(v);
        if (ts === null) return null;
        lasts.set(k, hexWireTimestamp(ts));
      }
      continue;
    }
    switch (name) {
      case "frags":
      case "limit":
      case "mincount":
      case "maxlstint":
      case "minlstint":
      case "recent":
        if (!Number.isInteger(num) || num < 0) return null;
        if (name === "frags") q.frags = num;
        else if (name === "limit") q.limit = num;
        else if (name === "mincount") q.mincount = num;
        else if (name === "maxlstint") q.maxlstint = num;
        else if (name === "minlstint") q.minlstint = num;
        else q.recent = num;
        break;
      case "resall":
      case "resany":
        if (!Number.isInteger(num) || num < 0) return null;
        if (name === "resall") q.resall = num;
        else q.resany = num;
        break;
      case "laddr":
        q.laddr = v;
        break;
      default:
        // Unknown parameters are ignored, as ntpd does (a newer ntpq may send more).
        break;
    }
  }
  for (const [k, addr] of [...addrs].sort((a, b) => a[0] - b[0])) {
    const last = lasts.get(k);
    if (last !== undefined) q.prior.push({ addr, last });
  }
  if (q.frags === 0 && q.limit === 0) q.frags = 4;
  q.frags = q.frags === 0 ? MRU_MAX_FRAGS : Math.min(q.frags, MRU_MAX_FRAGS);
  q.limit = q.limit === 0 ? MRU_ROW_LIMIT : Math.min(q.limit, MRU_ROW_LIMIT);
  return q;
}

/** Unix seconds (a float, as the MRU list keeps them) as an NTP time. */
function unixToNtp(sec: number): NtpTime {
  const whole = Math.floor(sec);
  return fromUnix(whole, Math.round((sec - whole) * 1e9));
}

/** `address:port` as ntpd writes it (`[v6]:port` for IPv6). */
function mruAddress(e: MruEntry): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

// COMPAT: NTPsec's ntpq reads the restrict bits of `rs.N` by NTPsec's values (K for kod, L for
// limited); Horae's internal bits differ, so they are mapped.
const WIRE_RES: readonly [number, number][] = [
  [1 << 0, 0x0001], // ignore
  [1 << 8, 0x0002], // noserve
  [1 << 10, 0x0004], // notrust
  [1 << 13, 0x0008], // version
  [1 << 6, 0x0010], // nopeer
  [1 << 2, 0x0020], // limited
  [1 << 5, 0x0040], // noquery
  [1 << 4, 0x0080], // nomodify
  [1 << 9, 0x0100], // notrap
  [1 << 3, 0x0200], // lowpriotrap
  [1 << 1, 0x0400], // kod
  [1 << 12, 0x0800], // mssntp
  [1 << 11, 0x2000], // nomrulist
];

/** Horae's RES_* bits as the wire's. */
export function wireRestrictFlags(flags: number): number {
  let out = 0;
  for (const [ours, wire] of WIRE_RES) if ((flags & ours) !== 0) out |= wire;
  return out;
}

function mruSelected(e: MruEntry, q: MruQuery, nowSec: number): boolean {
  if (e.count < q.mincount) return false;
  const rs = wireRestrictFlags(e.restrictFlags);
  if (q.resall !== 0 && (rs & q.resall) !== q.resall) return false;
  if (q.resany !== 0 && (rs & q.resany) === 0) return false;
  const lstint = nowSec - (e.lastSec + 2_208_988_800);
  if (q.maxlstint !== null && lstint > q.maxlstint) return false;
  if (q.minlstint !== null && lstint < q.minlstint) return false;
  return true;
}

function mruEntryItems(e: MruEntry, i: number): [string, string][] {
  return [
    [`addr.${i}`, mruAddress(e)],
    [`last.${i}`, hexTimestamp(unixToNtp(e.lastSec))],
    [`first.${i}`, hexTimestamp(unixToNtp(e.firstSec))],
    [`ct.${i}`, String(e.count)],
    [`mv.${i}`, String(((e.version & 7) << 3) | (e.mode & 7))],
    [`rs.${i}`, hex(wireRestrictFlags(e.restrictFlags))],
  ];
}
